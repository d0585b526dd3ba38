#!/bin/bash
# The spare a waiting launcher holds is moved into the next sandbox's
# directory by the worker (sandbox_take_held) while the launcher may still
# be taking it (disk_spare_hold: a rename, then an open).  If the worker's
# rename falls between the two, the launcher's open fails and it holds the
# next spare the filler makes under the same name; the settings then say
# "the spare you held is this sandbox's disk" and the init mounts that other
# spare: the sandbox writes to a file in DATA/spares that is not its
# disk.img (the filler deletes it once the launcher is gone), and its data
# is gone at its next start.  The window (microseconds) is widened here with
# strace's syscall delay on renameat2, nothing else is changed.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
cg_need pids
command -v strace >/dev/null || skip_all "no strace"
T_WORKERS=1
sbd_start --max-workers 1 --spare-disks 2 --disk-mb 64

launchers() {
	local p
	for p in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = sandbox-launch ] && echo "$p"
	done
}

api POST /sandboxes/a
is "$STATUS" 200 "a is created"
W=$(sbd_workers)
for _ in $(seq 1 50); do [ "$(ls -A "$DATA/spares" | grep -c '^[0-9].*\.img$')" -ge 2 ] && break; sleep 0.1; done
# from here the 1st and 4th renameat2 of each of the worker and what it
# forks return 2 s late (the counts are per process): the worker's
# ".new-a2" rename and its take of the next launcher's spare for b; the
# next launcher's rename of the spare it holds (then its open waits)
strace -f -qq -o "$T_DIR/strace.log" -e trace=renameat2 -e inject=renameat2:delay_exit=2000000:when=1..4+3 -p "$W" &
ST=$!
sleep 1
api POST /sandboxes/a2
is "$STATUS" 200 "a2 is created (traced)"
# the next launcher (exec'd under strace: slow) renames a spare to hold it
L=
for _ in $(seq 1 200); do
	L=$(ls -A "$DATA/spares" | sed -n 's/^\.held-\([0-9]*\)\.img$/\1/p' | head -n 1)
	[ -n "$L" ] && break
	sleep 0.02
done
ok $([ -e "$DATA/spares/.held-$L.img" ]; echo $?) "the next launcher $L renamed a spare to hold it (its open is 2 s away)"
INO1=$(stat -c %i "$DATA/spares/.held-$L.img")
# the filler refills the pool meanwhile (its rename in wakes the launcher)
# the worker takes it meanwhile for b
api POST /sandboxes/b
is "$STATUS" 200 "b is created"
kill "$ST"; wait "$ST" 2>/dev/null
is "$(stat -c %i "$DATA/sandboxes/b/disk.img")" "$INO1" "  b's disk.img is the spare that launcher renamed"
INIT=$(init_of b)
BACK=$(losetup -a | grep -v "/sandboxes/[^b]" | grep -v "/sandboxes/a" | grep "$DATA/")
diag "loop devices not a's: $BACK"
exec_in b 'echo data-of-b > /workspace/keep; sync; cat /workspace/keep'
is "$(jqr .data.stdout)" data-of-b "  b writes a file"
ok $(losetup -a | grep -q "$DATA/sandboxes/b/disk.img"; echo $?) "  b's disk.img is the one attached to a loop device (the one b writes)"
like "$(losetup -a | grep "$DATA/" | grep -v '/sandboxes/a')" "sandboxes/b/disk.img" "  (loop devices)"
# b stopped (its init killed) and started again by the next exec
kill -KILL "$INIT"
for _ in $(seq 1 50); do [ -d "/proc/$INIT" ] || break; sleep 0.1; done
exec_in b 'cat /workspace/keep 2>&1'
is "$(jqr .data.stdout)" data-of-b "  after a restart b still has its file"
done_testing
