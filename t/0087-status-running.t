#!/bin/bash
# A status read's "running" (the recorded init runs: read through a pidfd
# each worker keeps of the inits it read) answers as the init's /proc stat
# does: running while it runs, stopped once it was killed (reaped, and as
# a zombie its reaper has not reaped yet), running again once the sandbox
# is started again (a new init), in every worker.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

T_WORKERS=3 sbd_start

# statuses ID: the status of 12 reads (over the workers), sorted and counted
statuses() {
	local i
	for i in $(seq 1 12); do
		api GET "/sandboxes/$1"
		echo "$(jqr .data.status) $(jqr '.data.usage != null')"
	done | sort | uniq -c | awk '{ printf "%s:%s:%s ", $2, $3, $1 }'
}
# init_state PID: its state letter in /proc/PID/stat, or "gone"
init_state() { awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null || echo gone; }

api POST /sandboxes/a
is "$STATUS" 200 "a created"
INIT=$(init_of a)
like "$INIT" '^[0-9]+$' "a's init runs ($INIT)"
is "$(statuses a)" "running:true:12 " "every read: running, with usage"

# a zombie: the master (its reaper) held still, the init killed
kill -STOP "$SBD_PID"
kill -KILL "$INIT"
for _ in $(seq 1 1200); do [ "$(init_state "$INIT")" = Z ] && break; sleep 0.05; done
is "$(init_state "$INIT")" Z "a's init is a zombie, not reaped yet"
is "$(statuses a)" "stopped:false:12 " "every read: stopped, without usage (a zombie does not run)"
kill -CONT "$SBD_PID"
for _ in $(seq 1 1200); do [ "$(init_state "$INIT")" = gone ] && break; sleep 0.05; done
is "$(init_state "$INIT")" gone "a's init reaped"
is "$(statuses a)" "stopped:false:12 " "every read: stopped"

# started again by an exec: a new init
exec_in a "echo hi"
is "$(jqr .data.stdout)" "hi" "an exec starts a again"
INIT2=$(init_of a)
like "$INIT2" '^[0-9]+$' "a's new init runs ($INIT2)"
isnt "$INIT2" "$INIT" "a new pid"
is "$(statuses a)" "running:true:12 " "every read: running again"

# killed and reaped at once
kill -KILL "$INIT2"
for _ in $(seq 1 1200); do [ "$(init_state "$INIT2")" = gone ] && break; sleep 0.05; done
is "$(statuses a)" "stopped:false:12 " "killed again: every read says stopped"

# more sandboxes than a worker keeps pidfds of (8): each answers its own
for i in $(seq 1 10); do api POST "/sandboxes/m$i" >/dev/null; done
bad=0
for i in $(seq 1 10); do
	[ "$(statuses "m$i")" = "running:true:12 " ] || bad=$((bad + 1))
done
is "$bad" 0 "10 sandboxes, read in turn: every read says running"
kill -KILL "$(init_of m3)"
for _ in $(seq 1 1200); do [ -z "$(init_of m3)" ] && break; sleep 0.05; done
is "$(statuses m3)" "stopped:false:12 " "m3 killed: stopped"
is "$(statuses m4)" "running:true:12 " "m4 still running"

done_testing
