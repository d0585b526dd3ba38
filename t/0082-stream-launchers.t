#!/bin/bash
# How much the launchers exec'd ahead hold at once: every worker that
# started a sandbox keeps one, with a spare disk (loop device, mount), a
# network namespace and a process; a stream's worker too, for as long as
# its stream runs (up to --max-streams, 512 by default): outside
# --spare-disks and outside any sandbox's limits.  With 100 streams on a
# 2-core host (32768 pids) 28 started before the pids capacity said no
# room: 28 spares held, 28 loop devices, 28 mounts and network namespaces.
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
for i in $(seq 1 "$N"); do
	curl -s -N -X POST -H 'Content-Type: application/json' --data-binary '{"stream":true,"command":"sleep 40"}' \
		"$BASE/sandboxes/s$i/exec" >/dev/null &
	PIDS="$PIDS $!"
done
for _ in $(seq 1 60); do [ "$(ls -A "$DATA/spares" | grep -c "^\.held-")" -ge "$N" ] && break; sleep 0.5; done
HELD=$(ls -A "$DATA/spares" | grep -c '^\.held-')
LAUNCH=$(pgrep -x sandbox-launch | while read -r p; do grep -q "$INSTANCE" /proc/$p/cgroup 2>/dev/null && echo $p; done | wc -l)
diag "with $N streams: held spares $HELD, pool $(ls -A "$DATA/spares" | grep -c '^[0-9]'), loop devices on spares $(losetup -a | grep -c "$DATA/spares/") (before $base_loops), workers $(sbd_workers | wc -w)"
ok $([ "$HELD" -le 3 ]; echo $?) "  the held spares stay bounded ($HELD held with $N streams, --spare-disks 2)"
wait $PIDS
done_testing
