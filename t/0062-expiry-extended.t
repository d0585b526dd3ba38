#!/bin/bash
# Review of expiry (issue 17 item 3): a ttl changed by a POST that answered
# 200 holds.  destroy_expired (fcgi-app/destroy.c) collects the expired ids
# at the start of a sweep and then destroys them one by one by id, never
# looking at the record again: a sandbox whose ttl was extended (or that
# was destroyed and made again, without a ttl) while the sweep destroyed
# the ones before it is destroyed all the same, "reason=ttl".  Here the
# sweep has sixteen sandboxes to destroy before z (each ~25 ms: 300
# processes killed); z's ttl is extended once the sweep has destroyed the
# first: fifteen destroys of margin for that POST (seven were thin for
# a slow POST on a loaded, sanitized run).
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
cg_need freezer pids
# --destroy-after-idle: a sweep a second (every sandbox here runs
# processes, so none is idle)
sbd_start --uid-slots 20 --destroy-after-idle 2

busy='for j in $(seq 300); do setsid sleep 1000 >/dev/null 2>&1 </dev/null & done; echo ok'
# e01..e16 sort (and so are swept) before z
ES=$(seq -f 'e%02g' 1 16)
for s in $ES z; do
	api POST "/sandboxes/$s"
	exec_in "$s" "$busy"
	[ "$(jqr .data.stdout)" = ok ] || diag "setup of $s: $STATUS $BODY"
done
# one time for all (not a ttl of 1 s each, due one after the other as the
# POSTs go: a sweep could take the first ones without z): one sweep takes
# them all, z last; 6 s ahead, room for the 17 POSTs
AT=$(date -u -d "@$(( $(date +%s) + 6 ))" +%Y-%m-%dT%H:%M:%SZ)
n=0
for s in $ES z; do
	api POST "/sandboxes/$s" "{\"expiresAt\":\"$AT\"}"
	[ "$STATUS" = 200 ] && n=$((n + 1))
done
is "$n" 17 "e01..e16 and z get the same expiry, $AT"
for _ in $(seq 1 6000); do grep -q 'event=sandbox.expired id=e01 ' "$T_DIR/sandboxd.log" && break; sleep 0.01; done
api POST /sandboxes/z '{"ttl":3600}'
is "$STATUS" 200 "z's ttl is extended to an hour while the sweep destroys e01..e16"
diag "z extended after $(grep -c 'event=sandbox.expired id=e' "$T_DIR/sandboxd.log") of the 16 were destroyed"
for _ in $(seq 1 6000); do grep -q 'event=sandbox.expired id=e16 ' "$T_DIR/sandboxd.log" && break; sleep 0.01; done
grep -q 'event=sandbox.expired id=e16 ' "$T_DIR/sandboxd.log"
ok $? "  the sweep destroyed e16"
sleep 2	# a sweep more
api GET /sandboxes/z
is "$STATUS" 200 "  z, whose ttl is an hour away, is not destroyed"
grep 'id=z ' "$T_DIR/sandboxd.log" | grep -E 'expired|destroyed' | sed 's/^/# /'
done_testing
