#!/bin/bash
# A slot is returned only while nothing waits in its .gone-SLOT.  The remove
# step of a destroy (or of the sweep) runs with no lock, on a slot it found
# dying; meanwhile a destroy of a new sandbox of the same id moves that
# one's directory to the .gone-SLOT of the first dying slot of the id, the
# same one.  A remover that had emptied .gone-SLOT before, and returned the
# slot after that move, left the new directory there for good, with the
# slot free and nobody to remove it (CI: t/0040's "the next start finished
# the killed destroy" found a .gone-0 holding the new sandbox's files, the
# sweep having returned slot 0 while the destroy moved them).  Fault pauses
# make the two steps happen in that order.  And a remover that waited
# never returns a slot given out and marked dying again since.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
cg_need freezer pids
grep -q SANDBOXD_FAULTS "$SANDBOXD" || skip_all "not a fault-injection build"
FAULTS=$(mktemp -d /tmp/sbd-faults.XXXXXX) || bail "mktemp"
export SANDBOXD_FAULTS=$FAULTS
sbd_start --uid-slots 2
T_TRAP='rm -f "$FAULTS"/*; sbd_cleanup; rm -rf "$FAULTS"'
trap "$T_TRAP" EXIT

cmd_json() { jq -cn --arg c "$1" '{command: $c}'; }
traces() {	# the sandbox's directory, cgroups, and any set-aside directory
	local id=$1 c
	[ -e "$DATA/sandboxes/$id" ] && echo "dir"
	for c in pids freezer memory; do
		[ -e "$(cg_dir $c "$id")" ] && echo "cgroup:$c"
	done
	ls -A "$DATA/sandboxes" | grep -E '^\.(gone|q)' | sed 's/^/aside:/'
}
# wait_for FILE: until it exists (a paused process got there), at most 20 s
wait_for() {
	for _ in $(seq 1 200); do [ -e "$1" ] && return 0; sleep 0.1; done
	return 1
}
destroy_bg() {	# POST .../destroy in the background, its status in $T_DIR/$2
	curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE/sandboxes/$1/destroy" >"$T_DIR/$2" &
	BG="$BG $!"
}
BG=

api POST /sandboxes/k
is "$STATUS" 200 "create k (slot 0)"
exec_in k 'echo old > /workspace/f; echo ok'
is "$(jqr .data.stdout)" "ok" "  it writes a file"

# destroy 1 pauses after it emptied .gone-0, before it returns slot 0
touch "$FAULTS/destroy-removed-pause"
destroy_bg k first
wait_for "$FAULTS/destroy-removed-pause.paused"
ok $? "the first destroy emptied .gone-0 and waits before returning slot 0"
api POST /sandboxes/k
is "$STATUS" 200 "a new k is created meanwhile (slot 1: slot 0 is still dying)"
exec_in k 'cat /workspace/f 2>/dev/null || echo none'
is "$(jqr .data.stdout)" "none" "  with none of the old files"

# destroy 2 moves the new k into .gone-0 (slot 0 is a dying slot of k) and
# pauses, the create lock held, before it lists the slots it removes
touch "$FAULTS/destroy-moved-pause"
destroy_bg k second
wait_for "$FAULTS/destroy-moved-pause.paused"
ok $? "the second destroy moved the new k aside and waits"
# destroy 1 goes on: it returns slot 0 at once, or waits for the lock
rm -f "$FAULTS/destroy-removed-pause.paused"
for _ in $(seq 1 30); do
	grep -q "event=sandbox.destroyed id=k .*slot=0 " "$T_DIR/sandboxd.log" && break
	sleep 0.1
done
rm -f "$FAULTS/destroy-moved-pause.paused"
wait $BG
is "$(cat "$T_DIR/first"):$(cat "$T_DIR/second")" "200:200" "both destroys answer 200"
api GET /sandboxes/k
is "$STATUS" 404 "k is gone"
is "$(traces k | tr '\n' ' ')" "" "  and nothing of either k is left (no set-aside copy of the new one)"
api POST /sandboxes/s1
is "$STATUS" 200 "both slots are free: create s1"
api POST /sandboxes/s2
is "$STATUS" 200 "  and s2"
api POST /sandboxes/s1/destroy
api POST /sandboxes/s2/destroy
is "$(traces s1 | tr '\n' ' ')$(traces s2 | tr '\n' ' ')" "" "  their destroys leave nothing either"

# --- a remover that waited never returns a slot given out and marked since --
# (the slot's next owner's destroy killed after its mark: its sandbox still
# runs in that uid range until a create of the id or the sweep finishes it;
# a file nobody can remove keeps it dying whatever a sweep does meanwhile)
init_uid() { local p; p=$(init_of "$1"); [ -n "$p" ] && awk '/^Uid:/{print $2}' "/proc/$p/status"; }
unpin() { find "$DATA/sandboxes" -maxdepth 2 -name stuck -exec chattr -i {} + 2>/dev/null; }
T_TRAP="unpin; $T_TRAP"
trap "$T_TRAP" EXIT
if touch "$DATA/.t-attr" && chattr +i "$DATA/.t-attr" 2>/dev/null; then
	chattr -i "$DATA/.t-attr"; rm -f "$DATA/.t-attr"
	api POST /sandboxes/hold
	is "$STATUS" 200 "create hold: one slot is left"
	api POST /sandboxes/k
	is "$STATUS" 200 "create k in the other"
	touch "$FAULTS/destroy-removed-pause"
	destroy_bg k third
	wait_for "$FAULTS/destroy-removed-pause.paused"
	ok $? "a destroy of k emptied its .gone and waits before returning the slot"
	api POST /sandboxes/k/destroy
	is "$STATUS" 200 "  another destroy of k finishes that slot meanwhile"
	api POST /sandboxes/k
	is "$STATUS" 200 "  a new k takes it"
	KUID=$(init_uid k)
	touch "$DATA/sandboxes/k/stuck" && chattr +i "$DATA/sandboxes/k/stuck"
	touch "$FAULTS/destroy-marked"
	api POST /sandboxes/k/destroy
	ok $([ ! -e "$FAULTS/destroy-marked" ]; echo $?) "  whose destroy is killed after its mark (its sandbox runs on)"
	rm -f "$FAULTS/destroy-removed-pause.paused"
	wait $BG
	is "$(cat "$T_DIR/third")" 200 "the waiting destroy goes on and answers 200"
	api POST /sandboxes/x
	is "$STATUS" 503 "  it did not return the slot: no new sandbox gets the uid range ($KUID) k's sandbox is dying in (503)"
	unpin
	api POST /sandboxes/k/destroy
	is "$STATUS" 200 "a destroy of k finishes the killed one"
	is "$(traces k | tr '\n' ' ')" "" "  nothing of k is left"
	api POST /sandboxes/x
	is "$STATUS" 200 "  and the slot is free: create x"
	api POST /sandboxes/x/destroy
	api POST /sandboxes/hold/destroy
else
	rm -f "$DATA/.t-attr"
	diag "the data dir's file system has no immutable flag: no slot given out again is pinned dying"
fi

# --- CI's order: the start's sweep is the remover -----------------------------
# t/0040's destroy-marked iteration: a destroy killed after its mark; the
# next start's sweep finishes it and, before it returns the slot, the next
# destroy of a new sandbox of the id moves that one's directory to the
# same .gone-SLOT
api POST /sandboxes/m
is "$STATUS" 200 "create m"
exec_in m 'echo old > /workspace/f; setsid sleep 1000 >/dev/null 2>&1 </dev/null & echo ok'
touch "$FAULTS/destroy-marked"
api POST /sandboxes/m/destroy
ok $([ ! -e "$FAULTS/destroy-marked" ]; echo $?) "  its destroy is killed after its mark"
touch "$FAULTS/destroy-removed-pause"
sbd_again
wait_for "$FAULTS/destroy-removed-pause.paused"
ok $? "the start's sweep finished it but for returning the slot, and waits"
api POST /sandboxes/m
is "$STATUS" 200 "  a new m is created"
touch "$FAULTS/destroy-moved-pause"
destroy_bg m fourth
wait_for "$FAULTS/destroy-moved-pause.paused"
ok $? "  its destroy moved it aside and waits"
rm -f "$FAULTS/destroy-removed-pause.paused"
for _ in $(seq 1 30); do
	grep -q "event=sandbox.destroy_finished id=m " "$T_DIR/sandboxd.log" && break
	sleep 0.1
done
rm -f "$FAULTS/destroy-moved-pause.paused"
wait $BG
is "$(cat "$T_DIR/fourth")" 200 "  and answers 200"
sbd_again
for _ in $(seq 1 600); do [ -z "$(traces m)" ] && break; sleep 0.1; done
is "$(traces m | tr '\n' ' ')" "" "the next start finds nothing of either m left"
api POST /sandboxes/s1
is "$STATUS" 200 "  both slots are free: create s1"
api POST /sandboxes/s2
is "$STATUS" 200 "  and s2"
api POST /sandboxes/s1/destroy
api POST /sandboxes/s2/destroy
done_testing
