#!/bin/bash
# How much the launchers exec'd ahead hold at once: every pool worker that
# started a sandbox keeps one (a process and a network namespace); a
# stream's worker used to keep one too, for as long as its stream ran (up
# to --max-streams, 512 by default), with a held spare disk (removed): with
# 100 streams on a 2-core host 28 started before the pids capacity said no
# room.  A worker that leaves the pool ends its launcher
# (sandbox_prepare_drop) and starts its stream's sandbox with a fresh one.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
cg_need pids
N=${STREAMS:-12}
sbd_start --spare-disks 2 --disk-mb 64 --max-workers 64 --uid-slots 128 --max-running 200
for i in $(seq 1 "$N"); do
	api POST /sandboxes/s$i
	[ "$STATUS" = 200 ] || break
done
is "$STATUS" 200 "$N sandboxes created"
# all stopped: each stream's worker starts its sandbox
for i in $(seq 1 "$N"); do p=$(init_of s$i); [ -n "$p" ] && kill -KILL "$p"; done
sleep 1
base_loops=$(losetup -a | grep -c "$DATA/spares/")
PIDS=
# (sleep 600: the streams must all still run when counted, and starting 12
# stopped sandboxes under a sanitizer takes long; the clients are killed
# below, their commands with them: nothing waits for the sleep)
for i in $(seq 1 "$N"); do
	curl -s -N -X POST -H 'Content-Type: application/json' --data-binary '{"stream":true,"command":"sleep 600"}' \
		"$BASE/sandboxes/s$i/exec" >/dev/null &
	PIDS="$PIDS $!"
done
# every stream started: its sandbox's init runs
for _ in $(seq 1 120); do
	up=0; for i in $(seq 1 "$N"); do [ -n "$(init_of s$i)" ] && up=$((up + 1)); done
	[ "$up" -ge "$N" ] && break; sleep 0.5
done
is "$up" "$N" "$N streams started their sandboxes"
sleep 1
launchers_of() {	# the sandbox-launch children of the workers $@
	local w p
	for w in "$@"; do
		for p in $(cat /proc/"$w"/task/*/children 2>/dev/null); do
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" = sandbox-launch ] && echo "$p"
		done
	done
}
# a stream's worker is out of the pool at nice 10 (worker.c STREAM_NICE)
STREAMW=$(for w in $(sbd_workers); do [ "$(ps -o ni= -p "$w" | tr -d ' ')" = 10 ] && echo "$w"; done)
HELD=$(ls -A "$DATA/spares" | grep -c '^\.held-')
LAUNCH=$(pgrep -x sandbox-launch | while read -r p; do grep -q "$INSTANCE" /proc/$p/cgroup 2>/dev/null && echo $p; done | wc -l)
diag "with $N streams: held spares $HELD, pool $(ls -A "$DATA/spares" | grep -c '^[0-9]'), loop devices on spares $(losetup -a | grep -c "$DATA/spares/") (before $base_loops), workers $(sbd_workers | wc -w), stream workers $(echo $STREAMW | wc -w), launchers $LAUNCH"
ok $([ "$HELD" -le 3 ]; echo $?) "  the held spares stay bounded ($HELD held with $N streams, --spare-disks 2)"
is "$(echo $STREAMW | wc -w)" "$N" "  $N workers serve the streams"
is "$(launchers_of $STREAMW | wc -l)" 0 "  no stream's worker keeps a waiting launcher (bounded by the pool, not the streams)"
# the clients go (their commands are killed with them): no wait for the 600 s
kill $PIDS 2>/dev/null
wait $PIDS 2>/dev/null
done_testing
