#!/bin/bash
# Process lifecycle: concurrent creates make one sandbox, unknown ids are
# 404, a timeout kills a whole exec tree, DELETE kills detached daemons, a
# worker killed mid-exec takes its exec along and is respawned, and a stop
# of the service leaves no sandbox process, cgroup or mount behind.
# Deterministic: bounded polls for conditions, no sleeps as synchronisation.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
cg_need freezer pids
# more workers than the usual 3: more requests race for the same new id;
# a pool of that many and no more (max-workers: no spare forked past them,
# so the workers below are the ones counted)
T_WORKERS=${T_WORKERS:-8}
sbd_start --max-workers "$T_WORKERS"

MASTER=$(cat "$T_DIR/sandboxd.pid")
NWORKERS=${T_WORKERS:-3}
FRZ=$(cg_dir freezer)
PIDS_CG=$(cg_dir pids)

# run ID JSON: exec with a raw JSON body; sets STATUS BODY OUT RC.
run() {
	api POST "/sandboxes/$1/exec" "$2"
	OUT=$(jqr .data.stdout)
	RC=$(jqr .data.exitCode)
}
cmd_json() { jq -cn --arg c "$1" '{command: $c}'; }
# comm of every host process in a sandbox's cgroup, sorted, one line
sandbox_comms() {
	local p
	for p in $(sandbox_pids "$1"); do cat "/proc/$p/comm" 2>/dev/null; done | sort | tr '\n' ' ' | sed 's/ $//'
}
workers() { sbd_workers; }
# host processes (not zombies) whose real uid is in the harness's window
uid_window_procs() {
	local f u s
	for f in /proc/[0-9]*/status; do
		u=$(awk '/^Uid:/{print $2}' "$f" 2>/dev/null)
		s=$(awk '/^State:/{print $2}' "$f" 2>/dev/null)
		[ -n "$u" ] && [ "$s" != Z ] && [ "$u" -ge "$UID_BASE" ] &&
			[ "$u" -lt $((UID_BASE + 64 * 65536)) ] && echo "${f//[!0-9]/}"
	done
}

# --- 20 concurrent creates of one new id ---------------------------------------
# (first: the data dir must hold no other sandbox yet)

ID=race
CURLS=
for i in $(seq 1 20); do
	curl -s --max-time 60 -o "$T_DIR/race.$i.body" -w '%{http_code}\n' -X POST \
		"$BASE/sandboxes/$ID" >"$T_DIR/race.$i.code" &
	CURLS="$CURLS $!"
done
for c in $CURLS; do wait "$c"; done
CODES=$(cat "$T_DIR"/race.*.code | sort | uniq -c | sed 's/^ *//' | tr '\n' ' ' | sed 's/ $//')
is "$CODES" "20 200" "20 concurrent POST /sandboxes/$ID all answer 200"
BODIES=$(cat "$T_DIR"/race.*.body | sort -u)
is "$BODIES" '{"success":true,"data":{"projectId":"race","status":"ready","message":"Sandbox ready"}}' \
	"all 20 answers are the create answer"
is "$(sandbox_comms $ID)" "sandbox-init" "exactly one process, one sandbox init, in the sandbox's cgroup"
is "$(ls "$DATA/sandboxes" | tr '\n' ' ' | sed 's/ $//')" "$ID" "exactly one sandbox directory: $DATA/sandboxes/$ID"
is "$(cd "$PIDS_CG" && ls -d */ 2>/dev/null | tr '\n' ' ' | sed 's/ $//')" "$ID/" "exactly one sandbox cgroup"
INIT=$(init_of $ID)
is "$(uid_window_procs | tr '\n' ' ' | sed 's/ $//')" "$INIT" \
	"on the whole host exactly one process runs in the harness's uid window: that init"
is "$(awk '/^Uid:/{print $2}' /proc/$INIT/status 2>/dev/null)" "$UID_BASE" \
	"the init has the first uid range (no slot was taken by a racing create)"
api GET /sandboxes/$ID
is "$(jqr .data.status)" running "GET says the sandbox is running"
run $ID "$(cmd_json 'echo ok')"
is "$OUT" ok "and it runs commands"

# --- unknown ids -------------------------------------------------------------------

api GET /sandboxes/no-such-sandbox
is "$STATUS" 404 "GET of an unknown id is 404"
is "$(jqr .success)" false "GET of an unknown id: JSON, success false"
like "$(jqr '.error | type')" '^string$' "GET of an unknown id: an error message"
api DELETE /sandboxes/no-such-sandbox
is "$STATUS" 404 "DELETE of an unknown id is 404"
is "$(jqr .success)" false "DELETE of an unknown id: JSON, success false"
like "$(jqr '.error | type')" '^string$' "DELETE of an unknown id: an error message"
ok $([ ! -e "$DATA/sandboxes/no-such-sandbox" ]; echo $?) "neither made a sandbox directory"
api GET /sandboxes/no-such-sandbox
is "$STATUS" 404 "the unknown id is still unknown afterwards"

# --- a timeout kills the whole tree ----------------------------------------------------

ID=tmo
run $ID '{"command":"sleep 100 & sleep 100; wait","timeout":500}'
is "$STATUS" 200 "exec of 'sleep 100 & sleep 100; wait' with timeout 500 answers 200"
is "$(jqr .data.timedOut)" true "timedOut is true"
isnt "$RC" 0 "exitCode is not 0"
is "$(sandbox_comms $ID)" "sandbox-init" "on the host, only the init is left in the sandbox's cgroup"
for w in "$FRZ/$ID"/e*; do
	[ -d "$w" ] && [ -n "$(cat "$w/cgroup.procs")" ] && diag "left in $w: $(cat "$w/cgroup.procs")"
done
run $ID "$(cmd_json 'ps -e -o comm=')"
unlike "$OUT" 'sleep' "inside, ps shows no sleep"
is "$(sandbox_comms $ID)" "sandbox-init" "after that exec too, only the init is left"

# --- DELETE kills a detached daemon ---------------------------------------------------

ID=del
run $ID '{"command":"setsid sleep 1000 >/dev/null 2>&1 </dev/null &","timeout":30000}'
is "$STATUS" 200 "exec of a setsid-detached sleep answers 200"
is "$RC" 0 "exitCode 0"
is "$(jqr .data.timedOut)" false "it returned without waiting for the sleep (timedOut false)"
run $ID "$(cmd_json 'ps -e -o args=')"
like "$OUT" '^sleep 1000$' "the detached sleep is visible in ps"
is "$(sandbox_comms $ID)" "sandbox-init sleep" "on the host, the sandbox holds the init and the sleep"
api DELETE /sandboxes/$ID
is "$STATUS" 200 "DELETE answers 200"
is "$(jqr '.data | [.projectId, .status, .message] | join("|")')" "del|cleaned|All processes terminated" \
	"DELETE answers projectId, status cleaned, message"
K=$(jqr .data.killed)
ok $([ "${K:-0}" -ge 1 ] 2>/dev/null; echo $?) "DELETE answers killed >= 1 (got $K)"
is "$(sandbox_comms $ID)" "sandbox-init" "afterwards only the init is left on the host"
run $ID "$(cmd_json 'ps -e -o args=')"
unlike "$OUT" 'sleep' "inside, the sleep is gone"
run $ID "$(cmd_json 'echo ok')"
is "$STATUS" 200 "the sandbox still works after DELETE: 200"
is "$OUT" ok "the sandbox still works after DELETE: stdout ok"
api DELETE /sandboxes/$ID
is "$(jqr .data.killed)" 0 "a second DELETE kills nothing"

# --- kill -9 of a worker in the middle of an exec ---------------------------------------

ID=crash
api POST /sandboxes/$ID
is "$STATUS" 200 "create $ID"
INIT=$(init_of $ID)
W0=$(workers)
is "$(echo $W0 | wc -w)" "$NWORKERS" "the master has $NWORKERS workers"
curl -s --max-time 60 -o "$T_DIR/crash.body" -w '%{http_code}' -X POST \
	-H 'Content-Type: application/json' --data-binary '{"command":"sleep 30"}' \
	"$BASE/sandboxes/$ID/exec" >"$T_DIR/crash.code" &
CURL=$!
CG=
for _ in $(seq 1 1200); do
	for w in "$FRZ/$ID"/e*; do
		# (cgroup files have no size: read them)
		[ -n "$(cat "$w/cgroup.procs" 2>/dev/null)" ] && CG=$w
	done
	[ -n "$CG" ] && break
	sleep 0.05
done
# exec cgroups are named by the worker's serial, which its process title shows
WPID=
for p in $W0; do
	[ "$(tr -d '\0' </proc/$p/cmdline 2>/dev/null)" = "sandboxd: worker ${CG##*/}" ] && WPID=$p
done
like "${CG##*/}" '^e[0-9]+$' "the exec's freezer cgroup appears: ${CG#$FRZ/}"
like " $W0 " " $WPID " "it belongs to one of the master's workers (pid $WPID)"
SLEEP=
for _ in $(seq 1 1200); do
	for p in $(cat "$CG/cgroup.procs" 2>/dev/null); do
		[ "$(cat /proc/$p/comm 2>/dev/null)" = sleep ] && SLEEP=$p
	done
	[ -n "$SLEEP" ] && break
	sleep 0.05
done
is "$(cat /proc/$SLEEP/comm 2>/dev/null)" sleep "the exec's sleep runs in that cgroup (host pid $SLEEP)"
if [ -n "$WPID" ]; then
	kill -9 "$WPID"
else
	kill "$CURL"	# no worker found: do not wait out the sleep
fi
wait "$CURL"
CODE=$(cat "$T_DIR/crash.code")
ok $([ -n "$CODE" ] && [ "$CODE" != 200 ]; echo $?) \
	"the request whose worker was killed completes with a non-200 status ($CODE)"
like "$CODE" '^[1-9][0-9][0-9]$' "it does complete (an HTTP status, no client timeout)"
for _ in $(seq 1 1200); do
	W1=$(workers)
	[ "$(echo $W1 | wc -w)" -eq "$NWORKERS" ] && ! echo " $W1 " | grep -q " $WPID " && break
	sleep 0.05
done
is "$(echo $W1 | wc -w)" "$NWORKERS" "the pool respawns: $NWORKERS workers again ($W1)"
unlike " $W1 " " $WPID " "the killed worker is not among them"
for _ in $(seq 1 1200); do
	[ "$(sandbox_comms $ID)" = sandbox-init ] && break
	sleep 0.05
done
is "$(sandbox_comms $ID)" "sandbox-init" "the exec's sleep is gone from the sandbox; only the init is left"
ok $([ ! -e "/proc/$SLEEP" ] || [ "$(cat /proc/$SLEEP/comm 2>/dev/null)" != sleep ]; echo $?) \
	"the sleep's host pid $SLEEP is gone"
for _ in $(seq 1 1200); do [ -d "$CG" ] || break; sleep 0.05; done
ok $([ ! -d "$CG" ]; echo $?) "the dead worker's exec cgroup ${CG#$FRZ/} is removed"
is "$(init_of $ID)" "$INIT" "the sandbox's init survived the worker (same host pid)"
run $ID "$(cmd_json 'echo ok')"
is "$STATUS" 200 "the sandbox still works: 200"
is "$OUT" ok "the sandbox still works: stdout ok"
run $ID "$(cmd_json 'ps -e -o comm=')"
unlike "$OUT" 'sleep' "inside, ps shows no sleep"

# --- a stop of the service leaves nothing behind --------------------------------------

run del '{"command":"setsid sleep 1000 >/dev/null 2>&1 </dev/null &","timeout":30000}'
is "$RC" 0 "a detached sleep runs in del before the stop"
# every sandbox process, as pid:starttime (field 22 of stat)
starttime() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $20}'; }
BEFORE=
for d in "$PIDS_CG"/*/; do
	for p in $(cat "$d/cgroup.procs"); do BEFORE="$BEFORE $p:$(starttime $p)"; done
done
NB=$(echo $BEFORE | wc -w)
is "$NB" 5 "before the stop: 4 inits and 1 sleep in the sandboxes' cgroups"
W1=$(workers)
kill -TERM "$MASTER"
for _ in $(seq 1 400); do kill -0 "$MASTER" 2>/dev/null || break; sleep 0.05; done
ok $(! kill -0 "$MASTER" 2>/dev/null; echo $?) "the master exits on SIGTERM"
wait "$SBD_PID"
is "$?" 0 "with status 0"
rm -f "$T_DIR/sandboxd.pid"
LEFT=
for pw in $BEFORE; do
	p=${pw%%:*}
	[ "$(starttime $p)" = "${pw#*:}" ] || continue
	st=$(awk '/^State:/{print $2}' /proc/$p/status 2>/dev/null)
	# a zombie has exited; its parent (the host's pid 1: inits are
	# reparented there) has yet to reap it
	[ "$st" = Z ] && { diag "sandbox process $p exited, not yet reaped (zombie)"; continue; }
	LEFT="$LEFT $p($(cat /proc/$p/comm 2>/dev/null),$st)"
done
is "$LEFT" "" "no sandbox process is left running"
LEFTW=
for p in $W1; do [ -d /proc/$p ] && [ "$(awk '/^State:/{print $2}' /proc/$p/status)" != Z ] && LEFTW="$LEFTW $p"; done
is "$LEFTW" "" "no worker is left"
is "$(uid_window_procs | tr '\n' ' ')" "" "no process of the harness's uid window is left on the host"
ok $([ ! -e "$FRZ" ]; echo $?) "the freezer cgroup $FRZ is gone"
ok $([ ! -e "$PIDS_CG" ]; echo $?) "the pids cgroup $PIDS_CG is gone"
is "$(grep -c -F "$DATA" /proc/self/mountinfo)" 0 "no mount referencing $DATA is left in /proc/self/mountinfo"
MNT_LEFT=$(grep -l -F "$DATA" /proc/[0-9]*/mountinfo 2>/dev/null | tr '\n' ' ')
is "$MNT_LEFT" "" "no process on the host has a mount referencing $DATA"
# a sandbox's files may live on a loop device: it goes with the last mount
loops() { grep -l -F "$DATA/" /sys/block/loop*/loop/backing_file 2>/dev/null | tr '\n' ' '; }
for _ in $(seq 1 1200); do [ -z "$(loops)" ] && break; sleep 0.05; done
is "$(loops)" "" "no loop device backed by a file under $DATA is left"
ok $([ ! -S "$DATA/run/fcgi.sock" ]; echo $?) "the FastCGI socket is removed"
api GET /sandboxes/race
is "$STATUS" 503 "nginx answers 503 once the service is stopped"
ok $([ -d "$DATA/sandboxes/race/upper" ] && [ -d "$DATA/sandboxes/del/upper" ]; echo $?) \
	"the sandboxes' files stay"

done_testing
