#!/bin/bash
# Fair shares between tenants (tokens): a token over its sandbox cap gets
# 429, and so does a request or a stream past its tenant's (or its
# sandbox's) concurrency caps, the others' go on; a tenant that fills its
# share of the history store or of the process records gets its own 507,
# while another tenant's exec, history and processes go on; the stores'
# use shows in /metrics.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

CONF_DIR=$(mktemp -d /tmp/sbd-conf.XXXXXX)
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
TA=ta-$RANDOM$RANDOM TB=tb-$RANDOM$RANDOM TC=tc-$RANDOM$RANDOM ADMIN=adm-$RANDOM$RANDOM
cat >"$CONF_DIR/tokens" <<EOT
admin sha256:$(sha "$ADMIN") *
tenant-a sha256:$(sha "$TA") ta-
tenant-b sha256:$(sha "$TB") tb-
tenant-c sha256:$(sha "$TC") tc-
EOT
# small stores, so that a share fills in a few hundred requests
cat >"$CONF_DIR/sandboxd.conf" <<EOT
tokens-file = $CONF_DIR/tokens
history-max = 100000
history-map-mb = 4
store-map-mb = 2
max-sandboxes-per-token = 2
max-requests-per-token = 2
max-streams-per-token = 1
max-streams-per-sandbox = 1
EOT
T_WORKERS=4 sbd_start --config "$CONF_DIR/sandboxd.conf"
trap 'sbd_cleanup; rm -rf "$CONF_DIR"' EXIT
auth() { printf 'Authorization: Bearer %s' "$1"; }

# --- sandboxes per token ----------------------------------------------------------------------
api POST /sandboxes/ta-1 '{}' -H "$(auth "$TA")"
is "$STATUS" 200 "tenant a creates its first sandbox"
api POST /sandboxes/ta-2 '{}' -H "$(auth "$TA")"
is "$STATUS" 200 "and its second"
api POST /sandboxes/ta-3 '{}' -H "$(auth "$TA")"
is "$STATUS" 429 "a third is over max-sandboxes-per-token: 429"
like "$(jqr .error)" "max-sandboxes-per-token" "which the error names"
exec_in_as() { api POST "/sandboxes/$2/exec" "$(jq -cn --arg c "$3" '{command: $c}')" -H "$(auth "$1")"; }
exec_in_as "$TA" ta-4 true
is "$STATUS" 429 "nor does an exec create one past the cap"
exec_in_as "$TB" tb-1 true
is "$STATUS" 200 "tenant b's sandboxes are not counted against a's"
api POST /sandboxes/ta-9 '{}' -H "$(auth "$ADMIN")"
is "$STATUS" 200 "a token of scope * (the operator's) has no cap"

# --- the history store: a's share fills, b goes on -------------------------------------------
# commands of control characters: each escapes to six bytes in JSON, so an
# entry would be ~6 KiB without the cap on an entry's escaped size
BIG=$(head -c 1000 /dev/zero | tr '\0' '\001')
n=0
while [ $n -lt 400 ]; do
	exec_in_as "$TA" ta-1 ": '$BIG'"
	[ "$STATUS" = 200 ] || break
	n=$((n + 1))
done
is "$STATUS" 507 "tenant a, filling its share of the history store, gets 507 (after $n execs)"
like "$(jqr .error)" "history" "which says it is the history's share"
ok $([ "$n" -ge 20 ]; echo $?) "only once it kept its share ($n execs went through first)"
exec_in_as "$TB" tb-1 "echo still here"
is "$STATUS:$(jqr .data.stdout)" "200:still here" "tenant b's exec answers 200 meanwhile"
api GET /sandboxes/tb-1/history "" -H "$(auth "$TB")"
is "$STATUS:$(jqr '.data.entries[-1].command')" "200:echo still here" "and b's history records it"
api GET /sandboxes/ta-1/history?limit=1 "" -H "$(auth "$TA")"
is "$STATUS" 200 "a's history still reads"
is "$(jqr '.data.entries[0].truncated')" true "an entry is capped by its escaped size: its command cut, and it says so"
ok $([ "$(jqr '.data.entries[0].command | length')" -lt 1000 ]; echo $?) "(the command kept is shorter than sent)"
exec_in_as "$TA" ta-1 "true"
is "$STATUS" 507 "a stays refused while it keeps its share"

# --- the process records: c's share fills, b goes on -----------------------------------------
api POST /sandboxes/tc-1 '{}' -H "$(auth "$TC")"
is "$STATUS" 200 "tenant c creates a sandbox"
proc_as() { api POST "/sandboxes/$2/processes" "$(jq -cn --arg c "$3" '{command: $c}')" -H "$(auth "$1")"; }
n=0
while [ $n -lt 400 ]; do
	proc_as "$TC" tc-1 ": '$BIG'"
	[ "$STATUS" = 200 ] || break
	n=$((n + 1))
done
is "$STATUS" 507 "tenant c, filling its share of the process records, gets 507 (after $n processes)"
like "$(jqr .error)" "process" "which says it is the process records' share"
proc_as "$TB" tb-1 "true"
is "$STATUS" 200 "tenant b still starts a process"
api GET /sandboxes/tc-1/processes "" -H "$(auth "$TC")"
is "$STATUS" 200 "c still lists its processes"

# --- requests and streams in flight ----------------------------------------------------------
stream_bg() {	# stream_bg ID COMMAND OUT: a streamed exec of tenant b, in the background
	curl -s -N -o "$3" -X POST -H "$(auth "$TB")" -H 'Content-Type: application/json' \
		--data-binary "$(jq -cn --arg c "$2" '{command: $c, stream: true}')" "$BASE/sandboxes/$1/exec" &
}
exec_bg() {
	curl -s -o "$3" -X POST -H "$(auth "$TB")" -H 'Content-Type: application/json' \
		--data-binary "$(jq -cn --arg c "$2" '{command: $c}')" "$BASE/sandboxes/$1/exec" &
}
# both hold on until the operator's token (no cap) says go
HOLD='i=0; while [ ! -e /workspace/go ] && [ $i -lt 3000 ]; do sleep 0.1; i=$((i + 1)); done'
stream_bg tb-1 "echo started; $HOLD" "$CONF_DIR/s1"
S1=$!
for _ in $(seq 1 1200); do grep -q started "$CONF_DIR/s1" 2>/dev/null && break; sleep 0.05; done
api POST /sandboxes/tb-1/exec '{"command":"true","stream":true}' -H "$(auth "$TB")"
is "$STATUS" 429 "tenant b's second stream is over max-streams-per-token: 429"
like "$(jqr .error)" "max-streams-per-token" "which the error names"
api POST /sandboxes/tb-1/exec '{"command":"true","stream":true}' -H "$(auth "$ADMIN")"
is "$STATUS" 429 "the operator's stream on that sandbox is over max-streams-per-sandbox: 429"
like "$(jqr .error)" "max-streams-per-sandbox" "which the error names"
api POST /sandboxes/tc-1/exec '{"command":"echo s","stream":true}' -H "$(auth "$ADMIN")"
is "$STATUS" 200 "a stream on another sandbox is not"
exec_in_as "$TB" tb-1 "echo short"
is "$STATUS:$(jqr .data.stdout)" "200:short" "a short request of b's still answers (2 in flight, its cap)"
# b's second request: a held exec, in flight once its command runs (under
# a slow, sanitized build its admission can meet the slot of the request
# just answered, not yet let go: then it is sent again)
for _ in $(seq 1 20); do
	exec_bg tb-1 "touch /workspace/e1-runs; $HOLD; echo held" "$CONF_DIR/e1"
	E1=$!
	for _ in $(seq 1 1200); do
		api GET /sandboxes/tb-1/files/workspace/e1-runs "" -H "$(auth "$ADMIN")"
		[ "$STATUS" = 200 ] && break
		kill -0 "$E1" 2>/dev/null || break
		sleep 0.05
	done
	[ "$STATUS" = 200 ] && break
	wait "$E1" 2>/dev/null
done
exec_in_as "$TB" tb-1 true
is "$STATUS" 429 "a third request of b's in flight is over max-requests-per-token: 429"
like "$(jqr .error)" "max-requests-per-token" "which the error names"
exec_in_as "$TC" tc-1 "echo other"
is "$STATUS:$(jqr .data.stdout)" "200:other" "tenant c's request answers meanwhile"
api GET /healthz
is "$STATUS" 200 "and /healthz"
exec_in_as "$ADMIN" tb-1 "touch /workspace/go"
is "$STATUS" 200 "the operator's token is not counted: it lets b's requests end"
wait "$S1" "$E1"
like "$(cat "$CONF_DIR/s1")" '"type":"complete"' "b's stream ran to its end"
exec_in_as "$TB" tb-1 "echo again"
is "$STATUS:$(jqr .data.stdout)" "200:again" "once they are answered, b's requests go through again"

# --- watched ------------------------------------------------------------------------------------
api GET /metrics "" -H "$(auth "$ADMIN")"
like "$BODY" 'sandboxd_store_used_bytes\{store="history"\} [1-9]' "/metrics has the history store's use"
like "$BODY" 'sandboxd_store_budget_bytes\{store="history"\} [1-9]' "and its budget"
like "$BODY" 'sandboxd_store_used_bytes\{store="main"\} [1-9]' "and the main store's use"
like "$BODY" 'sandboxd_store_refusals_total\{store="history"\} [1-9]' "and the refusals it made"
! grep -q MDB_MAP_FULL "$T_DIR/sandboxd.log"
ok $? "no write ever found a map full"

done_testing
