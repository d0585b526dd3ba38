#!/bin/bash
# Review of the launcher exec'd ahead (sandbox_prepare): what a killed
# launcher, worker or master leaves, what reaches a sandbox of it, and
# whether a disk ever serves two sandboxes.  (The spare disk it held
# mounted was removed: a race gave a sandbox another spare's file.)
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
cg_need pids
T_WORKERS=1
sbd_start --max-workers 1 --spare-disks 2 --disk-mb 64

loops() { losetup -a 2>/dev/null | grep -c "$DATA/" ; }

api POST /sandboxes/a
is "$STATUS" 200 "a is created"
W=$(sbd_workers)
for _ in $(seq 1 600); do L1=$(launchers "$W"); [ -n "$L1" ] && break; sleep 0.1; done
ok $([ -n "$L1" ]; echo $?) "a launcher waits for the worker's next start ($L1)"
INIT=$(init_of a)
FDS=$(for f in /proc/"$INIT"/fd/*; do readlink "$f"; done | tr '\n' ' ')
diag "a's init fds: $FDS"
unlike "$FDS" "socket:.*socket:.*socket:" "a's init holds no socket of its launcher's past"
exec_in a 'ls -l /proc/1/fd 2>&1 | wc -l; cat /proc/net/netlink | wc -l'
diag "inside: $(jqr .data.stdout | tr '\n' ' ')"

# a waiting launcher killed: the next create forks a fresh one
# (a's exec, past a second on a loaded host, may have taken W out of the
# pool and L1 with it: W read again, a start made if none waits)
spare_ready a-spare
L1=$L
kill -KILL "$L1"
api POST /sandboxes/b
is "$STATUS" 200 "after its waiting launcher was killed, b is created"
exec_in b 'echo hi > /workspace/x && cat /workspace/x && hostname'
is "$(echo $(jqr .data.stdout))" "hi b" "  and b works"
# (and b's exec may have too)
spare_ready b-spare
L2=$L
diag "loop devices on DATA: $(losetup -a | grep "$DATA/" | tr '\n' ' ')"

# a worker killed: its launcher ends
kill -KILL "$W"
for _ in $(seq 1 600); do [ -d "/proc/$L2" ] || break; sleep 0.1; done
ok $([ ! -d "/proc/$L2" ]; echo $?) "the launcher of a killed worker ends"
# --spare-disks 2 is what the pool holds (with held spares, a spare given
# back by an ended launcher was one too many)
# (made again by the filler: a loaded machine takes a while)
for _ in $(seq 1 600); do
	[ "$(ls -A "$DATA/spares" | grep -c '^[0-9].*\.img$')" -ge 2 ] && break
	sleep 0.1
done
sleep 1
is "$(ls -A "$DATA/spares" | grep -c '^[0-9].*\.img$')" 2 "  the pool holds --spare-disks (2) spares ($(ls -A "$DATA/spares" | tr '\n' ' '))"
for _ in $(seq 1 600); do W2=$(sbd_workers); [ -n "$W2" ] && [ "$W2" != "$W" ] && break; sleep 0.1; done

# a disk's data never reaches another sandbox: a writes, its disk is
# destroyed; c and d are created, none sees a's data
exec_in a 'echo secret-of-a > /workspace/s; sync; cat /workspace/s'
is "$(jqr .data.stdout)" secret-of-a "a writes its secret"
for n in c d e f; do
	api POST /sandboxes/$n
	is "$STATUS" 200 "$n is created"
	exec_in $n 'cat /workspace/s 2>/dev/null; ls /workspace | wc -l; hostname'
	is "$(echo $(jqr .data.stdout))" "0 $n" "  $n's disk is empty"
done
# each disk a file of its own
INOS=$(for n in a b c d e f; do stat -c %i "$DATA/sandboxes/$n/disk.img"; done | sort | uniq -d)
is "$INOS" "" "every sandbox has a disk image of its own"
# a sandbox with another disk size gets its own size
api POST /sandboxes/g '{"limits":{"diskMb":128}}'
diag "g: $STATUS $BODY"
exec_in g 'df -k /workspace | awk "NR==2{print \$2}"'
diag "g's disk: $(jqr .data.stdout)"
ok $([ "$(jqr .data.stdout)" -gt 100000 ] 2>/dev/null; echo $?) "  g's disk is 128 MiB, not a 64 MiB spare"

# the master killed: nothing of the pool stays (launchers, loop devices of
# the data dir beyond the sandboxes' inits)
W3=$(sbd_workers)
L3=$(for w in $W3; do launchers "$w"; done)
kill -KILL "$(cat "$T_DIR/sandboxd.pid")"
for _ in $(seq 1 600); do [ -z "$(for l in $L3; do [ -d /proc/$l ] && echo $l; done)" ] && break; sleep 0.1; done
is "$(for l in $L3; do [ -d /proc/$l ] && echo $l; done)" "" "the launchers end with a killed master"
diag "loops after master kill: $(losetup -a | grep "$DATA/" | tr '\n' ' ')"
diag "spares: $(ls -A "$DATA/spares" | tr '\n' ' ')"
# the sandboxes' inits outlive a killed master (by design): ours, ended
for f in $(find "$CG_ROOT"/pids/sandboxd-"$INSTANCE" -name cgroup.procs 2>/dev/null); do
	for p in $(cat "$f"); do kill -KILL "$p"; done
done
for _ in $(seq 1 600); do [ -z "$(find "$CG_ROOT"/pids/sandboxd-"$INSTANCE" -name cgroup.procs -exec cat {} + 2>/dev/null)" ] && break; sleep 0.1; done
for d in "$CG_ROOT"/*/sandboxd-"$INSTANCE"; do find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
rm -f "$T_DIR/sandboxd.pid"
done_testing
