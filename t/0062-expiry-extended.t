#!/bin/bash
# Review of expiry (issue 17 item 3): a ttl changed by a POST that answered
# 200 holds.  destroy_expired (fcgi-app/destroy.c) collects the expired ids
# at the start of a sweep and then destroys them one by one by id, never
# looking at the record again: a sandbox whose ttl was extended (or that
# was destroyed and made again, without a ttl) while the sweep destroyed
# the ones before it is destroyed all the same, "reason=ttl".  Here the
# sweep has eight sandboxes to destroy before z (each ~25 ms: 300 processes
# killed); z's ttl is extended once the sweep has destroyed the first.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
cg_need freezer pids
# --destroy-after-idle: a sweep a second (every sandbox here runs
# processes, so none is idle)
sbd_start --uid-slots 12 --destroy-after-idle 2

busy='for j in $(seq 300); do setsid sleep 1000 >/dev/null 2>&1 </dev/null & done; echo ok'
for s in e1 e2 e3 e4 e5 e6 e7 e8 z; do
	api POST "/sandboxes/$s"
	exec_in "$s" "$busy"
	[ "$(jqr .data.stdout)" = ok ] || diag "setup of $s: $STATUS $BODY"
done
for s in e1 e2 e3 e4 e5 e6 e7 e8 z; do
	api POST "/sandboxes/$s" '{"ttl":1}'
done
is "$STATUS" 200 "e1..e8 and z get a ttl of 1 s"
for _ in $(seq 1 6000); do grep -q 'event=sandbox.expired id=e1 ' "$T_DIR/sandboxd.log" && break; sleep 0.01; done
api POST /sandboxes/z '{"ttl":3600}'
is "$STATUS" 200 "z's ttl is extended to an hour while the sweep destroys e1..e8"
for _ in $(seq 1 6000); do grep -q 'event=sandbox.expired id=e8 ' "$T_DIR/sandboxd.log" && break; sleep 0.01; done
grep -q 'event=sandbox.expired id=e8 ' "$T_DIR/sandboxd.log"
ok $? "  the sweep destroyed e8"
sleep 2	# a sweep more
api GET /sandboxes/z
is "$STATUS" 200 "  z, whose ttl is an hour away, is not destroyed"
grep 'id=z ' "$T_DIR/sandboxd.log" | grep -E 'expired|destroyed' | sed 's/^/# /'
done_testing
