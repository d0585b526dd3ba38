#!/bin/bash
# Review of the expiry hint (t/0118): a hint that is due but not yet swept
# for must not be replaced by a later one.  The master reads the hint only
# between sweeps; a worker that sets a ttl replaces any hint already past
# ("unless an earlier one still to come is there").  So a ttl set while a
# sweep runs (after the sweep read the store), that falls due before the
# sweep ends, is lost when another ttl is set meanwhile: the sweep keeps the
# later hint (it is after the sweep's start) and the sandbox waits for the
# periodic sweep (30 s) instead of going at its time.  A fault pause holds
# the sweep in its destroy of an expired sandbox.  And a FIFO at the hint
# path hangs the master (below).
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
grep -q SANDBOXD_FAULTS "$SANDBOXD" || skip_all "not a fault-injection build"
FAULTS=$(mktemp -d /tmp/sbd-faults.XXXXXX) || bail "mktemp"
export SANDBOXD_FAULTS=$FAULTS
sbd_start
T_TRAP='rm -f "$FAULTS"/*; sbd_cleanup; rm -rf "$FAULTS"'
trap "$T_TRAP" EXIT

wait_for() {	# FILE: until it exists, at most 20 s
	for _ in $(seq 1 200); do [ -e "$1" ] && return 0; sleep 0.1; done
	return 1
}

# x's ttl brings a sweep by the hint; it pauses in x's destroy (no lock held)
touch "$FAULTS/destroy-removed-pause"
Tx0=$(date +%s)
api POST /sandboxes/x '{"ttl": 1}'
is "$STATUS" 200 "x created with ttl 1"
wait_for "$FAULTS/destroy-removed-pause.paused"
ok $? "the sweep for x's ttl destroys x and waits (a slow sweep)"

# a's ttl is set after the sweep read the store, and is due while it runs
api POST /sandboxes/a '{"ttl": 1}'
is "$STATUS" 200 "a created with ttl 1 while the sweep runs"
sleep 2
# a ttl set later (another tenant's, say) replaces a's hint, already past
api POST /sandboxes/b '{"ttl": 3600}'
is "$STATUS" 200 "b created with ttl 3600 after a's ttl passed"
diag "hint: $(cat "$DATA/run/expiry-hint" 2>&1)"
Ta0=$(date +%s)
rm -f "$FAULTS/destroy-removed-pause.paused"

# a is past due once the sweep goes on: counted from here (not from a's
# create, which adds the 2 s, b's create and x's destroy: slow under a
# sanitizer), it goes within 15 s by the hint; lost, it waits for the
# periodic sweep, due 30 s after the paused one began (x's), over 20 s
# from here
Ta=$(gone_after a "$Ta0")
diag "a gone ${Ta}s after the sweep went on (ttl 1; the periodic sweep due in ~$((Tx0 + 30 - Ta0))s)"
ok $([ "$Ta" -lt 15 ]; echo $?) "a went near its ttl, not at the next periodic sweep (${Ta}s)"
api GET /sandboxes/b
is "$STATUS" 200 "b is still there"

# The master opens the hint each tick (O_RDONLY, blocking): a FIFO there
# (DATA is root's: an operator's or a broken tool's doing, not a tenant's)
# blocks it in open() for good, its signals blocked: no worker replaced,
# no SIGTERM obeyed.  It should skip anything but a regular file.
rm -f "$DATA/run/expiry-hint"
mkfifo "$DATA/run/expiry-hint"
sleep 1
kill -TERM "$(cat "$T_DIR/sandboxd.pid")"
# (30 s: stopping takes b's destroy too, slow under a sanitizer; a master
# blocked in open() never stops)
for _ in $(seq 1 300); do kill -0 "$(cat "$T_DIR/sandboxd.pid")" 2>/dev/null || break; sleep 0.1; done
ok $(! kill -0 "$(cat "$T_DIR/sandboxd.pid")" 2>/dev/null; echo $?) \
	"with a FIFO for the hint, the master still stops on SIGTERM (within 30 s)"
# unblock a master stuck in open(), for the cleanup
timeout 2 sh -c "echo 0 > '$DATA/run/expiry-hint'" 2>/dev/null
rm -f "$DATA/run/expiry-hint"

done_testing
