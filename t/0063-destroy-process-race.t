#!/bin/bash
# Review of destroy (issue 17): POST /sandboxes/:id/processes racing a
# destroy of the sandbox answers 500 ("send exec request: Connection reset
# by peer", "the sandbox's init went away: Connection reset by peer"): the
# exec route maps an init killed by a destroy to 404
# (app_sandbox_destroyed), the processes route does not.  Found failing in
# 1-2 of 8 rounds.  Worse, in about one round a run a sandbox s made fresh
# after the destroy (and a second destroy) lists the old one's process
# record, e.g. {"id":"proc-6b150db3074c6","command":"sleep 1000","status":
# "killed","endedBy":"sandbox stopped"}: the record is written (its end
# recorded) after the destroy's mark dropped the id's records
# (store_destroy_mark's del_prefix), and survives into the next owner of
# the id, command line and all.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
cg_need freezer pids
sbd_start --uid-slots 4

busy='for j in $(seq 300); do setsid sleep 1000 >/dev/null 2>&1 </dev/null & done; echo ok'
for d in 000 002 005 010 015 020 030 040; do
	api POST /sandboxes/s
	exec_in s "$busy"
	[ "$(jqr .data.stdout)" = ok ] || diag "setup of s: $STATUS $BODY"
	( api POST /sandboxes/s/processes '{"command":"sleep 1000"}'; echo "$STATUS $BODY" >"$T_DIR/proc.status" ) &
	pp=$!
	sleep "0.$d"
	api POST /sandboxes/s/destroy
	is "$STATUS" 200 "destroy 0.${d}s after a POST /processes"
	wait "$pp"
	unlike "$(cat "$T_DIR/proc.status")" '^5' "  the POST /processes answers no 5xx"
	api POST /sandboxes/s/destroy	# in case the POST made s again
	api POST /sandboxes/s
	api GET /sandboxes/s/processes
	n=$(jqr '.data.processes | length')
	is "$n" 0 "  a new s has no process record of the old one"
	[ "$n" = 0 ] || diag "POST /processes: $(head -c 160 "$T_DIR/proc.status")" "GET /processes: $(printf '%s' "$BODY" | head -c 300)"
	api POST /sandboxes/s/destroy
done
done_testing
