#!/bin/bash
# A destroy whose files could not go (the slot stays dying) is finished by
# the master's sweep, and a sweep that could not finish it tries again in
# seconds, not at the next regular sweep (every 30 s): the slot and the
# disk space come back as soon as what held them is gone.  (CI once found
# t/0040's "the next start finished the killed destroy" still undone after
# its wait; a sweep that failed once then waited 30 s.)
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
cg_need freezer pids
command -v chattr >/dev/null || skip_all "needs chattr (e2fsprogs)"
sbd_start --uid-slots 2
touch "$DATA/.t-attr" && chattr +i "$DATA/.t-attr" 2>/dev/null ||
	{ rm -f "$DATA/.t-attr"; skip_all "the data dir's file system has no immutable flag"; }
chattr -i "$DATA/.t-attr"; rm -f "$DATA/.t-attr"

gone_dirs() { ls -A "$DATA/sandboxes" | grep -E '^\.gone' | tr '\n' ' '; }
unpin() { find "$DATA/sandboxes" -maxdepth 2 -name stuck -exec chattr -i {} + 2>/dev/null; }
T_TRAP='unpin; sbd_cleanup'
trap "$T_TRAP" EXIT

api POST /sandboxes/d1
is "$STATUS" 200 "create d1"
api POST /sandboxes/d2
is "$STATUS" 200 "create d2: both slots taken"
# a file in the sandbox's directory on the host that nobody can remove
touch "$DATA/sandboxes/d1/stuck" && chattr +i "$DATA/sandboxes/d1/stuck"
api POST /sandboxes/d1/destroy
is "$STATUS" 200 "destroy d1 answers 200 (its files that cannot go stay for the sweep)"
api GET /sandboxes/d1
is "$STATUS" 404 "  d1 is gone for the API"
isnt "$(gone_dirs)" "" "  its directory waits, set aside"
api POST /sandboxes/d3
is "$STATUS" 503 "  its slot is not reused while it is dying (503)"

# the next start's first sweep finds it still stuck, and says so
sbd_again
for _ in $(seq 1 600); do
	grep -q 'destroy sweep: d1' "$T_DIR/sandboxd.log" && break
	sleep 0.1
done
grep -q 'destroy sweep: d1' "$T_DIR/sandboxd.log"
ok $? "the start's sweep could not finish it and logs why"
isnt "$(gone_dirs)" "" "  the directory is still there"

# what held it goes: the sweep after, seconds later, finishes it
unpin
t0=$(date +%s)
for _ in $(seq 1 600); do
	[ -z "$(gone_dirs)" ] && break
	sleep 0.1
done
is "$(gone_dirs)" "" "within 15 s (the regular sweep: 30 s) the destroy is finished ($(($(date +%s) - t0)) s)"
grep -q 'event=sandbox.destroy_finished id=d1 ' "$T_DIR/sandboxd.log"
ok $? "  the log says so"
api POST /sandboxes/d3
is "$STATUS" 200 "  and its slot is free again: create d3"
api POST /sandboxes/d3/destroy
api POST /sandboxes/d2/destroy
is "$STATUS" 200 "destroy d2"
done_testing
