#!/bin/bash
# The fast path's moving parts (their speed is measured by ./dev bench, not
# here): spare disk images made ahead by the master, claimed by creates (a
# rename, so a spare serves one sandbox only) and refilled, other sizes
# still working; cgroup2 in favordynmods mode; the exec child joining its
# cgroup through an fd that never reaches the command.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
sbd_start --disk-mb 64 --spare-disks 2
BYTES=$((64 << 20))
spares() { ls "$DATA/spares" | grep -c "^$BYTES-.*\.img$"; }
wait_spares() {	# wait_spares N: until N spares are there (at most 10 s)
	for _ in $(seq 1 600); do [ "$(spares)" -ge "$1" ] && return 0; sleep 0.1; done
	return 1
}
ok "$(wait_spares 2; echo $?)" "the master makes 2 spare disk images of the default size"
is "$(stat -c %a "$DATA/spares")" 700 "in a directory only root reads"
before=$(ls "$DATA/spares" | grep '\.img$' | sort)
api POST /sandboxes/sp1
is "$STATUS" 200 "create"
after=$(ls "$DATA/spares" | grep '\.img$' | sort)
used=$(comm -23 <(echo "$before") <(echo "$after"))
is "$(echo "$used" | grep -c .)" 1 "the create took one spare"
is "$(stat -c %s "$DATA/sandboxes/sp1/disk.img")" "$BYTES" "as its disk image (its size)"
exec_in sp1 'set -- $(df -k / | tail -n 1); echo $2; echo data > /workspace/f && cat /workspace/f; stat -c %u /'
like "$(jqr .data.stdout | head -n 1)" '^(5[0-9]|6[0-9])[0-9]{3}$' "the sandbox's / is the 64 MiB file system"
is "$(jqr .data.stdout | sed -n 2,3p)" "$(printf 'data\n0')" "writable, and its / is the sandbox root's"
ok "$(wait_spares 2; echo $?)" "the master makes another spare"
api POST /sandboxes/sp2
api POST /sandboxes/sp3 '{"limits": {"diskMb": 32}}'
is "$STATUS" 200 "a create with another disk size (no spare of it) works"
is "$(stat -c %s "$DATA/sandboxes/sp3/disk.img")" $((32 << 20)) "with its own size"
exec_in sp2 'ls /workspace'
is "$(jqr .data.stdout)" "" "a sandbox made from a spare starts empty (nothing of sp1)"
ino1=$(stat -c %i "$DATA/sandboxes/sp1/disk.img"); ino2=$(stat -c %i "$DATA/sandboxes/sp2/disk.img")
isnt "$ino1" "$ino2" "two sandboxes never share an image"
ok "$(wait_spares 2; echo $?)" "refilled again"
is "$(ls "$DATA/spares" | grep -c '\.new$')" 0 "no half-made spare is left"
# cgroup2 (where mounted) favours cgroup moves over forks once we run
c2=$(awk '$0 ~ / - cgroup2 / { print $NF; exit }' /proc/self/mountinfo)
if [ -n "$c2" ]; then
	like "$c2" '(^|,)favordynmods(,|$)' "cgroup2 is mounted with favordynmods ($c2)"
else
	ok 0 "no cgroup2 mounted here: nothing to tune"
fi

# the exec child joined its cgroup through a host-opened cgroup.procs fd:
# the command holds no fd but its three, and runs in the exec's freezer cgroup
exec_in sp1 'ls /proc/self/fd | sort -n | tr "\n" " "; grep freezer /proc/self/cgroup'
like "$(jqr .data.stdout)" '^0 1 2 3 ' "the command holds fds 0-2 only (3 is ls's own directory)"
unlike "$(jqr .data.stdout)" '^0 1 2 3 4' "no cgroup.procs fd reached it"
like "$(jqr .data.stdout)" 'freezer:/e[0-9]+' "it runs in its exec cgroup (freezer:/e<worker>)"
api POST /sandboxes/sp1/processes '{"command": "sleep 30", "processId": "bg1"}'
pid=$(jqr .data.pid)
exec_in sp1 "grep freezer /proc/$pid/cgroup"
like "$(jqr .data.stdout)" 'freezer:/p-bg1' "a background process runs in its own cgroup (p-<id>)"

# a sandbox process stopping everything it can (exec children before their
# exec among them) must not freeze the init: it keeps serving
api POST /sandboxes/sp2/processes '{"command": "while :; do kill -STOP -1; done", "processId": "stopper"}'
is "$STATUS" 200 "a process that SIGSTOPs every process it can, in a loop"
api POST /sandboxes/sp2/exec '{"command": "echo hi", "timeout": 2000}'
is "$STATUS" 200 "an exec meanwhile answers (stopped or not, within its timeout)"
api GET /sandboxes/sp2/processes
is "$STATUS" 200 "the init still answers a process list"
api DELETE /sandboxes/sp2/processes/stopper
api DELETE /sandboxes/sp2
exec_in sp2 'echo alive'
is "$(jqr .data.stdout)" alive "after the stopper is gone the sandbox runs commands"

done_testing
