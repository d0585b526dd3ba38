#!/bin/bash
# rev21 outside review: a launcher killed after it forked the init but
# before its word (the init's pid).  The init then runs, unrecorded.
# With REV21_NET=1 (t/0114-rev21-launcher-net.t), networking on.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
NET_OPTS=()
if [ "${REV21_NET:-}" ]; then
	. "$TOP_SRCDIR/t/netlib.sh"
	net_topology "$@"
fi
command -v strace >/dev/null || skip_all "strace is not installed"
cg_need pids
T_WORKERS=1
sbd_start --max-workers 1 "${NET_OPTS[@]}"

ctls() { ls -A "$DATA/sandboxes" | grep -c '^\.ctl-'; }

api POST /sandboxes/a
is "$STATUS" 200 "a is created"
W=$(sbd_workers)
[ "${REV21_NET:-}" ] && TAG=$(links | sed -n 's/^vs\([0-9a-f]\{6\}\).*/\1/p' | head -n 1)

# --- 1. killed after the init's fork, before the pid word ---------------------------------
# the launcher's second clone (the init's fork) held 3 s at its exit by
# strace; SIGKILL'd meanwhile: the init is forked, the word never comes
launcher_waiting
before_ctl=$(ctls)
launcher_trace d -p "$L" -e trace=clone,clone3 -e inject=clone,clone3:delay_exit=3000000:when=2
ok $? "d: the waiting launcher traced ($L)"
( api POST /sandboxes/d; echo "$STATUS" > "$T_DIR/d.status"; printf '%s' "$BODY" > "$T_DIR/d.body" ) &
A=$!
for _ in $(seq 1 100); do
	grep -q 'clone.*= [0-9]' "$T_DIR/strace.d" 2>/dev/null && break
	grep -c 'clone' "$T_DIR/strace.d" 2>/dev/null | grep -q 2 && break
	sleep 0.05
done
sleep 0.5
diag "strace so far: $(tr '\n' '|' < "$T_DIR/strace.d")"
kill -KILL "$L"
wait "$A"
wait "$S"
D=$(cat "$T_DIR/d.status"); BODY=$(cat "$T_DIR/d.body")
diag "d: $D $BODY"
isnt "$D" 500 "d: not 500"
api GET /sandboxes/d
ST=$(jqr .data.status)
N=$(inits d | wc -w)
diag "d: status $ST, inits $N, pids $(sandbox_pids d | tr '\n' ' ')"
if [ "$D" = 200 ]; then
	is "$ST:$N" "running:1" "d: 200, and it runs with one init"
else
	is "$ST:$N" "stopped:0" "d: $D (failed), so nothing of it runs (status $ST, $N inits)"
fi
api POST /sandboxes/d
is "$STATUS" 200 "d: the next start works"
exec_in d 'hostname'
is "$(jqr .data.stdout)" d "d: runs"
is "$(inits d | wc -w)" 1 "d: one init"
api GET /sandboxes/d
is "$(jqr .data.status)" running "d: reads running"
if [ "${REV21_NET:-}" ]; then
	# the adopted init's network: as a's (its launcher never finished the pair made ahead)
	netsum() { exec_in "$1" 'for i in /sys/class/net/*; do printf "%s=%s " "${i##*/}" "$(cat $i/operstate)"; done; grep -c . /proc/net/route'; echo "$(jqr .data.stdout)"; }
	diag "d: $(netsum d) a: $(netsum a)"
	is "$(netsum d | sed 's/eth[^=]*=/eth=/')" "$(netsum a | sed 's/eth[^=]*=/eth=/')" "d: the adopted sandbox has a's network (links up, routes)"
fi
# (an exec past a second, as one may be on a loaded host, takes the only
# worker out of the pool and its launcher with it: W is read again, and a
# start makes a launcher again if none waits; its socket dir comes a
# moment after it runs)
spare_ready d-spare
for _ in $(seq 1 1200); do [ "$(ctls)" = "$before_ctl" ] && break; sleep 0.05; done
is "$(ctls)" "$before_ctl" "d: no control socket dir left"

# --- 2. every launcher killed, by a loop, while creates come ------------------------------
# (a kill -9 of each sandbox-launch child of the worker, as an OOM killer
# that picks launchers would): no 500; afterwards every sandbox that reads
# running has one init and works, the rest have no process; a start works
killer() {
	while :; do
		for p in $(launchers "$W"); do kill -KILL "$p" 2>/dev/null; done
		sleep 0.00$((RANDOM % 10))
	done
}
killer &
K=$!
codes=
for i in $(seq 1 12); do
	api POST "/sandboxes/k$i"
	codes="$codes $STATUS"
done
kill "$K"; wait "$K" 2>/dev/null
diag "codes under the killer:$codes"
unlike "$codes" '500' "no create answered 500 while launchers died"
bad=
for i in $(seq 1 12); do
	api GET "/sandboxes/k$i"
	st=$(jqr .data.status); n=$(inits "k$i" | wc -w); np=$(sandbox_pids "k$i" | wc -l)
	case "$st:$n" in
	running:1) ;;
	stopped:0) [ "$np" = 0 ] || bad="$bad k$i:stopped-with-$np-procs" ;;
	*) bad="$bad k$i:$st:$n" ;;
	esac
done
is "$bad" "" "after the killer: running means one init, stopped means no process"
for i in $(seq 1 12); do
	api POST "/sandboxes/k$i"
	[ "$STATUS" = 200 ] || bad="$bad k$i:$STATUS"
	exec_in "k$i" hostname
	[ "$(jqr .data.stdout)" = "k$i" ] || bad="$bad k$i:exec"
	[ "$(inits "k$i" | wc -w)" = 1 ] || bad="$bad k$i:inits=$(inits "k$i" | wc -w)"
done
is "$bad" "" "then every one starts, works and has one init"
# the killer may have ended the spare last (no start since reaped it): a
# create does, and leaves a spare waiting
api POST /sandboxes/after
is "$STATUS" 200 "a create after the killer"
# (the execs above may have taken W out of the pool: the one that served
# the create is the one left)
worker_one
launcher_waiting
ok $? "one launcher waits again ($W: $L)"
# (found as soon as it runs: its socket dir and its pair ahead come a moment
# later; what is waited for is the count the claim names, not fewer)
for _ in $(seq 1 1200); do
	[ "$(ctls)" = "$before_ctl" ] &&
		{ [ -z "${REV21_NET:-}" ] || [ "$(ahead_links | wc -l)" = 1 ]; } && break
	sleep 0.05
done
is "$(ctls)" "$before_ctl" "no control socket dir left by the killed launchers"
if [ "${REV21_NET:-}" ]; then
	diag "ahead links: $(ahead_links | tr '\n' ' ')"
	is "$(ahead_links | wc -l)" 1 "one pair made ahead (the waiting launcher's), none leaked"
fi

done_testing
