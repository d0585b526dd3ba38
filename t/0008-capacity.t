#!/bin/bash
# Capacity: with --max-running 2, starting a third sandbox stops the least
# recently active idle one; when every running sandbox is busy the answer
# is 503 with Retry-After and a JSON error, and nothing busy is stopped; an
# idle sandbox makes room again; the sweeper stops what has been idle for
# --idle-stop seconds and never what is busy; a stopped sandbox keeps its
# files and starts again on its next exec.
# Deterministic: bounded polls for conditions, no sleeps as synchronisation.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
cg_need pids
sbd_start --max-running 2 --idle-stop 2

MAXT=(--max-time 120)
HDRS=$T_DIR/headers
A=cap-a B=cap-b C=cap-c D=cap-d

# run ID COMMAND: exec; sets STATUS BODY OUT RC.
run() {
	api POST "/sandboxes/$1/exec" "$(jq -cn --arg c "$2" '{command: $c, timeout: 30000}')" "${MAXT[@]}" -D "$HDRS"
	OUT=$(jqr .data.stdout)
	RC=$(jqr .data.exitCode)
}
status_of() { api GET "/sandboxes/$1" "" "${MAXT[@]}"; [ "$STATUS" = 200 ] && jqr .data.status || echo "http-$STATUS"; }
# hdr NAME: a header of the last answer
hdr() {
	tr -d '\r' <"$HDRS" | awk -v n="$(printf '%s' "$1" | tr 'A-Z' 'a-z')" \
		'{ k = tolower(substr($0, 1, index($0, ":") - 1)) } k == n { sub(/^[^:]*:[ \t]*/, ""); print; exit }'
}
sleep_of() {	# host pid of the detached "sleep 1000" of a sandbox
	local p
	for p in $(sandbox_pids "$1"); do
		[ "$(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null)" = "sleep 1000 " ] && echo "$p"
	done
}
skip() { T_N=$((T_N + 1)); echo "ok $T_N - $1 # SKIP $2"; }
now_ms() { date +%s%3N; }

# --- the least recently active idle sandbox makes room ----------------------------------

run $A 'echo a-file > /workspace/a.txt && cat /workspace/a.txt'
is "$OUT" a-file "$A runs and writes a file"
T_A=$(now_ms)
api POST /sandboxes/$B "" "${MAXT[@]}"
is "$STATUS" 200 "create $B"
is "$(status_of $A) $(status_of $B)" "running running" "$A and $B run (2 of --max-running 2)"
T_C=$(now_ms)
api POST /sandboxes/$C "" "${MAXT[@]}"
is "$STATUS" 200 "create $C, a third sandbox, answers 200"
is "$(status_of $C)" running "$C runs"
is "$(status_of $A)" stopped "$A, the least recently active idle sandbox, is stopped"
# the sweeper (--idle-stop 2) could stop idle sandboxes too, but only once
# they have been idle 2 s: if C came that fast, the choice was the LRU's
if [ $((T_C - T_A)) -lt 1500 ]; then
	is "$(status_of $B)" running "$B, more recently active, is not the one stopped"
	grep -q "event=sandbox.stopped id=$A rid=[^ ]* reason=capacity for=$C\$" "$T_DIR/sandboxd.log"
	ok $? "the log says $A was stopped to make room for $C"
else
	skip "$B, more recently active, is not the one stopped" "the creates took $((T_C - T_A)) ms: the sweeper may have acted"
	skip "the log says $A was stopped to make room for $C" "(same)"
fi
ok $([ -z "$(sandbox_pids $A)" ]; echo $?) "no process is left in $A's cgroup"

# --- everything busy: 503 ------------------------------------------------------------------

run $B 'setsid sleep 1000 >/dev/null 2>&1 </dev/null & echo started'
is "$OUT" started "$B starts a detached sleep"
run $C 'setsid sleep 1000 >/dev/null 2>&1 </dev/null & echo started'
is "$OUT" started "$C starts a detached sleep"
SB=$(sleep_of $B)
SC=$(sleep_of $C)
like "$SB $SC" '^[0-9]+ [0-9]+$' "both sleeps run (host pids $SB, $SC): $B and $C are busy"
is "$(status_of $B) $(status_of $C)" "running running" "$B and $C run"

api POST /sandboxes/$D "" "${MAXT[@]}" -D "$HDRS"
is "$STATUS" 503 "creating $D with both running sandboxes busy answers 503"
like "$(hdr Retry-After)" '^[0-9]+$' "with a Retry-After header ($(hdr Retry-After))"
is "$(hdr Content-Type)" application/json "and a JSON body"
is "$(jqr '.success == false and (.error | type == "string" and length > 0)')" true "which is an error ($(jqr .error))"
run $A 'cat /workspace/a.txt'
is "$STATUS" 503 "an exec on the stopped $A answers 503 too"
like "$(hdr Retry-After)" '^[0-9]+$' "with Retry-After"
is "$(status_of $A)" stopped "$A stays stopped"
ST_D=$(status_of $D)
ok $([ "$ST_D" = http-404 ] || [ "$ST_D" = stopped ]; echo $?) "$D does not run (GET: $ST_D)"
is "$(status_of $B) $(status_of $C)" "running running" "the busy $B and $C were not stopped for it"
is "$(sleep_of $B) $(sleep_of $C)" "$SB $SC" "their sleeps live on"

# --- an idle sandbox makes room again ---------------------------------------------------------

api DELETE /sandboxes/$B "" "${MAXT[@]}"
is "$STATUS" 200 "DELETE $B kills its sleep"
is "$(jqr .data.killed)" 1 "(killed 1)"
api POST /sandboxes/$D "" "${MAXT[@]}"
is "$STATUS" 200 "now creating $D answers 200"
is "$(status_of $D)" running "$D runs"
is "$(status_of $B)" stopped "$B, idle since the DELETE, was stopped (for $D, or by the sweeper)"
is "$(status_of $C)" running "the busy $C still runs"
is "$(sleep_of $C)" "$SC" "and its sleep lives on"

# --- the sweeper: idle stops, busy stays ------------------------------------------------------

ST=
for _ in $(seq 1 300); do
	ST=$(status_of $D)
	[ "$ST" = stopped ] && break
	sleep 0.1
done
is "$ST" stopped "the sweeper stops the idle $D (--idle-stop 2; polled up to 30 s)"
grep -q "event=sandbox.stopped id=$D reason=idle idle_since_ms=[0-9]*\$" "$T_DIR/sandboxd.log"
ok $? "the log says the sweeper stopped $D"
# C's last activity is older than D's: the sweep that stopped D saw C too
is "$(status_of $C)" running "the same sweeps left the busy $C running"
is "$(sleep_of $C)" "$SC" "with its sleep"

# --- a stopped sandbox starts again with its files ---------------------------------------------

run $A 'cat /workspace/a.txt'
is "$STATUS" 200 "an exec on the stopped $A answers 200 now that there is room"
is "$OUT" a-file "its file survived the stop"
is "$(status_of $A)" running "$A runs again"
run $D 'echo d-again'
is "$OUT" d-again "$D, stopped by the sweeper, starts again on its next exec (the idle $A makes room)"
is "$(status_of $C)" running "and the busy $C still runs"
api DELETE /sandboxes/$C "" "${MAXT[@]}"
is "$(jqr .data.killed)" 1 "DELETE $C ends its sleep"

done_testing
