#!/bin/bash
# A ttl is kept to the second, not to the sweep's period (every 30 s with
# the default --idle-stop): a worker that sets an expiry leaves a hint
# (DATA/run/expiry-hint), and the master sweeps when it is due.  A sandbox
# whose ttl is extended before it is due stays; several ttls each go near
# their time; the hint is kept across a restart.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
sbd_start
# the periodic sweep ran at the start, and a sweep puts the next one 30 s
# after it: a sandbox below that goes within 15 s of its create's answer
# (each counted from its own: the five creates are slow under a
# sanitizer) went by the hint; lost, it would wait for that sweep, 30 s
# after the last one before it was due


api POST /sandboxes/a '{"ttl": 2}'
is "$STATUS" 200 "a created with ttl 2"
Ta0=$(date +%s)
api POST /sandboxes/b '{"ttl": 3}'
is "$STATUS" 200 "b created with ttl 3"
api POST /sandboxes/b '{"ttl": 3600}'
is "$STATUS" 200 "b's ttl extended to an hour before it was due"
# (from before c's create for "not before": its ttl counts from the
# service's create, between the two)
Tc_before=$(date +%s)
api POST /sandboxes/c '{"ttl": 5}'
Tc0=$(date +%s)
api POST /sandboxes/d '{"ttl": 1}'
is "$STATUS" 200 "c (ttl 5) and d (ttl 1, later but due first) created"
Td0=$(date +%s)
Ta=$(gone_after a "$Ta0"); Td=$(gone_after d "$Td0"); Tc=$(gone_after c "$Tc0")
Tc_min=$(( Tc + Tc0 - Tc_before ))
diag "gone after: a ${Ta}s, d ${Td}s, c ${Tc}s (each from its create)"
ok $([ "$Ta" -lt 15 ]; echo $?) "a went at its ttl, not at the next periodic sweep (${Ta}s)"
ok $([ "$Td" -lt 15 ]; echo $?) "d went at its ttl (${Td}s)"
ok $([ "$Tc" -lt 15 ]; echo $?) "c went at its ttl after the earlier ones (${Tc}s)"
ok $([ "$Tc_min" -ge 5 ]; echo $?) "and not before it (${Tc_min}s >= 5 from before its create)"
api GET /sandboxes/b
is "$STATUS" 200 "b, extended, is still there"
like "$(grep -c 'event=sandbox.expired' "$T_DIR/sandboxd.log")" '^3$' "three expiries logged"

# across a restart: the hint stays, and a new ttl after it is kept too
sbd_again
T1=$(date +%s)
api POST /sandboxes/e '{"ttl": 2}'
is "$STATUS" 200 "after a restart: e created with ttl 2"
sleep 1
# (the restart's own sweep ran before e: only the hint brings the next)
Te=$(gone_after e "$T1")
ok $([ "$Te" -lt 20 ]; echo $?) "e went at its ttl (${Te}s)"
api POST /sandboxes/f '{"expiresAt": null}'
is "$STATUS" 200 "f with no expiry"
api GET /sandboxes/b
is "$STATUS" 200 "b is still there"

done_testing
