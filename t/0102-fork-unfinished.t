#!/bin/bash
# A fork whose worker dies after its record and before the copy is its disk
# (fcgi-app/app.c create_new; t/0096 section 1 kills one mid-shift): the
# record is marked "forking" until the copy is in place, so
#  - the sandbox is never started (on an empty disk, or on a copy half given
#    its ids): a request that would start it answers 409, no disk is made;
#  - a fork to the same id replaces it, and has the origin's files;
#  - the master's sweep removes one nobody forks to again;
#  - a fork killed after its copy became its disk but before the mark was
#    cleared is treated the same (never started: whether the copy is whole
#    is not known without the mark).
# (the fault hooks exist only in a fault-injection build, as ./dev builds)
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
cg_need pids
grep -q SANDBOXD_FAULTS "$SANDBOXD" || skip_all "not a fault-injection build"
export SANDBOXD_FAULTS=$(mktemp -d /tmp/sbd-faults.XXXXXX)
T_TRAP='sbd_cleanup; rm -rf "$SANDBOXD_FAULTS"'
# --idle-stop 4: the sweep runs every 2 s
sbd_start --disk-mb 64 --idle-stop 4

api POST /sandboxes/origin
is "$STATUS" 200 "origin created"
exec_in origin 'echo marker > /workspace/marker && cat /workspace/marker'
is "$(jqr .data.stdout)" marker "origin holds a marker"

# --- killed after the record, before the shift -------------------------------
touch "$SANDBOXD_FAULTS/fork-recorded"
api POST /sandboxes/f1 '{"from": "origin"}'
ok $([ ! -e "$SANDBOXD_FAULTS/fork-recorded" ]; echo $?) "a fork's worker killed after its record ($STATUS)"
api GET /sandboxes/f1
is "$STATUS" 200 "  its record is there"
exec_in f1 'ls /workspace'
is "$STATUS" 409 "  a request that would start it answers 409, not an empty sandbox"
like "$(jqr .error)" 'fork that did not finish' "  the message says why"
ok $([ ! -e "$DATA/sandboxes/f1/disk.img" ]; echo $?) "  no disk was made for it"
api POST /sandboxes/f1
is "$STATUS" 409 "  a plain create of the id answers 409 too"
api POST /sandboxes/f1 '{"from": "origin"}'
is "$STATUS" 200 "a fork to the id again answers 200 ($BODY)"
exec_in f1 'cat /workspace/marker'
is "$STATUS:$(jqr .data.stdout)" "200:marker" "  and has the origin's files"
grep -q 'event=sandbox.fork_unfinished id=f1' "$T_DIR/sandboxd.log"
ok $? "  the unfinished one was destroyed first (sandbox.fork_unfinished)"

# --- killed after the copy became its disk, before the mark was cleared ------
touch "$SANDBOXD_FAULTS/fork-placed"
api POST /sandboxes/f2 '{"from": "origin"}'
ok $([ ! -e "$SANDBOXD_FAULTS/fork-placed" ]; echo $?) "a fork's worker killed before its mark was cleared ($STATUS)"
ok $([ -e "$DATA/sandboxes/f2/disk.img" ]; echo $?) "  its copy is its disk.img"
exec_in f2 'ls /workspace'
is "$STATUS" 409 "  it is not started all the same"
# nobody forks to f2 again: the sweep removes it
for _ in $(seq 1 100); do
	api GET /sandboxes/f2
	[ "$STATUS" = 404 ] && break
	sleep 0.2
done
is "$STATUS" 404 "the sweep removed the unfinished fork f2"
ok $([ ! -e "$DATA/sandboxes/f2" ]; echo $?) "  and its directory"
api POST /sandboxes/f2
is "$STATUS" 200 "a plain create of f2 then answers 200"
exec_in f2 'ls /workspace | wc -l'
is "$STATUS:$(jqr .data.stdout)" "200:0" "  a new, empty sandbox"

# --- a finished fork is untouched by the sweep ------------------------------
api POST /sandboxes/f3 '{"from": "origin"}'
is "$STATUS" 200 "a fork that finishes"
sleep 5
exec_in f3 'cat /workspace/marker'
is "$STATUS:$(jqr .data.stdout)" "200:marker" "  is kept by the sweeps and has the origin's files"

done_testing
