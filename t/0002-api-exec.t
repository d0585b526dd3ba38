#!/bin/bash
# Exact JSON shapes of status, exec and cleanup, and what exec does: exit
# codes, stderr, signals, cwd, env, timeout, the output cap, lossy UTF-8,
# and the headers every answer carries (Content-Type, X-Request-Id, CORS:
# no tokens here, so no wildcard origin, only an allowed one echoed).
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
APP=https://app.example
sbd_start --allowed-origins "$APP"

HDRS=$T_DIR/headers
NREQ=0
NO_CT=	# answers without Content-Type: application/json
NO_RID=	# answers without X-Request-Id
ACAO=	# answers to no Origin that carried an Access-Control-Allow-Origin
NO_VARY=	# answers without Vary: Origin

# hdr NAME: the value of a header of the last answer (empty when absent).
hdr() {
	tr -d '\r' <"$HDRS" | awk -v n="$(printf '%s' "$1" | tr 'A-Z' 'a-z')" \
		'{ k = tolower(substr($0, 1, index($0, ":") - 1)) } k == n { sub(/^[^:]*:[ \t]*/, ""); print; exit }'
}

# req METHOD PATH [JSON [curl options...]]: api with the headers kept;
# notes which answers lack the headers every answer must carry.
req() {
	api "$1" "$2" "${3-}" -D "$HDRS" "${@:4}"
	NREQ=$((NREQ + 1))
	[ "$STATUS" = 204 ] || [ "$(hdr Content-Type)" = application/json ] || NO_CT="$NO_CT [$1 $2 -> $STATUS]"
	[ -n "$(hdr X-Request-Id)" ] || NO_RID="$NO_RID [$1 $2]"
	[ $# -gt 3 ] || [ -z "$(hdr Access-Control-Allow-Origin)" ] || ACAO="$ACAO [$1 $2]"
	printf '%s' "$(hdr Vary)" | grep -Eq '(^|[ ,])Origin($|[ ,])' || NO_VARY="$NO_VARY [$1 $2]"
}

# run ID JSON: POST /sandboxes/ID/exec with that body.
run() { req POST "/sandboxes/$1/exec" "$2"; }
# cmd ID COMMAND: exec a command given as a plain string.
cmd() { run "$1" "$(jq -cn --arg c "$2" '{command: $c}')"; }

ISO_RE='^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{3}Z$'
EXEC_KEYS='["cpuTimeMs","durationMs","exitCode","oomKilled","peakMemoryKb","stderr","stdout","timedOut","truncated"]'

# --- GET status after a create ---------------------------------------------

req POST /sandboxes/shape
is "$STATUS" 200 "create answers 200"
req GET /sandboxes/shape
is "$STATUS" 200 "GET /sandboxes/:id after a create answers 200"
is "$(jqr '.success')" true "status: success is true"
is "$(jqr '[keys[]] | join(",")')" "data,success" "status: envelope has exactly success and data"
is "$(jqr '.data | keys | join(",")')" "createdAt,diskHealthy,image,lastActiveAt,limits,network,projectId,status,usage" \
	"status: data has exactly projectId, status, image, createdAt, lastActiveAt, limits, network, diskHealthy, usage"
is "$(jqr '.data.diskHealthy')" true "status: diskHealthy is true for a new sandbox's disk"
is "$(jqr '.data.limits | keys | join(",")')" "cpus,diskMb,egressMbps,ingressMbps,memoryMb,pids" \
	"status: limits has cpus, diskMb, egressMbps, ingressMbps, memoryMb, pids"
is "$(jqr '.data.network | keys | join(",")')" "allowOut,denyOut,egress" \
	"status: network has egress, allowOut, denyOut (no address: networking is off)"
is "$(jqr '.data.usage | keys | join(",")')" \
	"cpuTimeMs,diskTotalBytes,diskUsedBytes,inodesTotal,inodesUsed,memoryBytes,memoryPeakBytes,oomKills,pids" \
	"status: usage has CPU, disk, inode, memory, OOM and pids figures"
is "$(jqr '[.data.usage[]] | map(type) | unique | join(",")')" "number" "status: usage values are numbers"
is "$(jqr .data.projectId)" shape "status: projectId is the id asked"
is "$(jqr .data.status)" running "status: a created sandbox is running"
is "$(jqr .data.image)" host "status: image is host"
CREATED=$(jqr .data.createdAt)
ACTIVE=$(jqr .data.lastActiveAt)
like "$CREATED" "$ISO_RE" "status: createdAt is ISO-8601 UTC with milliseconds"
like "$ACTIVE" "$ISO_RE" "status: lastActiveAt is ISO-8601 UTC with milliseconds"
[[ ! "$ACTIVE" < "$CREATED" ]]
ok $? "status: lastActiveAt ($ACTIVE) >= createdAt ($CREATED)"
# a clock sanity check, not a timing one: the service's clock is the host's
c_s=$(date -u -d "$CREATED" +%s 2>/dev/null || echo 0)
now_s=$(date -u +%s)
[ $((now_s - c_s)) -lt 3600 ] && [ $((c_s - now_s)) -lt 3600 ]
ok $? "status: createdAt is today's time, not a garbage epoch ($CREATED)"

# --- exec on an id that has no sandbox creates it ----------------------------

req GET /sandboxes/fresh-exec
is "$STATUS" 404 "GET of an id never seen answers 404"
is "$(jqr .success)" false "the 404 is a JSON error"
[ ! -e "$DATA/sandboxes/fresh-exec" ]
ok $? "GET of an unknown id creates no directory"
cmd fresh-exec 'echo made'
is "$STATUS" 200 "exec on an id without a sandbox answers 200"
is "$(jqr .data.stdout)" made "and runs the command"
req GET /sandboxes/fresh-exec
is "$STATUS" 200 "GET after that exec answers 200"
is "$(jqr .data.status)" running "and the sandbox is running"
[ -d "$DATA/sandboxes/fresh-exec" ]
ok $? "the sandbox directory exists after the exec"

# --- exec result shape and exit codes ----------------------------------------

cmd shape 'echo out'
is "$(jqr '[keys[]] | join(",")')" "data,success" "exec: envelope has exactly success and data"
is "$(jqr ".data | keys == $EXEC_KEYS")" true \
	"exec: data has exactly stdout, stderr, exitCode, durationMs, timedOut, truncated, oomKilled, cpuTimeMs, peakMemoryKb"
is "$(jqr '[.data.stdout, .data.stderr] | map(type) | join(",")')" "string,string" "exec: stdout and stderr are strings"
is "$(jqr '[.data.exitCode, .data.durationMs] | map(type) | join(",")')" "number,number" "exec: exitCode and durationMs are numbers"
is "$(jqr '[.data.timedOut, .data.truncated] | map(type) | join(",")')" "boolean,boolean" "exec: timedOut and truncated are booleans"
is "$(jqr '.data.durationMs >= 0 and (.data.durationMs | floor) == .data.durationMs')" true "exec: durationMs is a non-negative integer"

cmd shape 'exit 3'
is "$STATUS" 200 "a failing command still answers 200"
is "$(jqr .success)" true "a failing command is still success: true"
is "$(jqr .data.exitCode)" 3 "exit 3 -> exitCode 3"
cmd shape 'exit 255'
is "$(jqr .data.exitCode)" 255 "exit 255 -> exitCode 255"

cmd shape 'echo to-out; echo to-err >&2'
is "$(printf '%s' "$BODY" | jq -c .data.stdout)" '"to-out\n"' "stdout holds what went to fd 1 only"
is "$(printf '%s' "$BODY" | jq -c .data.stderr)" '"to-err\n"' "stderr is captured apart"

cmd shape 'echo -n before; kill -9 $$'
is "$STATUS" 200 "a command killed by a signal answers 200"
is "$(jqr .data.exitCode)" 137 "killed by SIGKILL -> exitCode 137 (128 + 9)"
is "$(jqr .data.timedOut)" false "a command that killed itself did not time out"
is "$(jqr .data.stdout)" before "output written before the signal is kept"
cmd shape 'kill -TERM $$'
is "$(jqr .data.exitCode)" 143 "killed by SIGTERM -> exitCode 143"

# --- cwd ----------------------------------------------------------------------

cmd shape 'pwd'
is "$(jqr .data.stdout)" /workspace "the default cwd is /workspace"
run shape '{"command":"pwd","cwd":"/tmp"}'
is "$(jqr .data.stdout)" /tmp "an absolute cwd is used as is"
cmd shape 'mkdir -p /workspace/sub/dir'
is "$(jqr .data.exitCode)" 0 "mkdir in /workspace works"
run shape '{"command":"pwd","cwd":"sub/dir"}'
is "$(jqr .data.stdout)" /workspace/sub/dir "a relative cwd is relative to /workspace"
run shape '{"command":"pwd","cwd":""}'
is "$(jqr .data.stdout)" /workspace "an empty cwd means /workspace"
run shape '{"command":"pwd","cwd":"/no/such/dir"}'
is "$STATUS" 400 "a cwd that does not exist answers 400"
is "$(jqr '.success == false and (.error | type == "string" and length > 0)')" true "and a JSON error"
run shape '{"command":"pwd","cwd":"no-such-rel"}'
is "$STATUS" 400 "a relative cwd that does not exist answers 400"
run shape '{"command":"pwd","cwd":"/etc/hostname"}'
is "$STATUS" 400 "a cwd that is a file answers 400"

# --- env ----------------------------------------------------------------------

cmd shape 'echo "$PATH"'
DEFAULT_PATH=$(jqr .data.stdout)
like "$DEFAULT_PATH" '(^|:)/usr/bin(:|$)' "the default PATH has /usr/bin ($DEFAULT_PATH)"
run shape '{"command":"echo \"$FOO|$BAR\"","env":{"FOO":"bar baz","BAR":"x=y"}}'
is "$(jqr .data.stdout)" "bar baz|x=y" "env passes variables, spaces and = kept"
run shape '{"command":"echo \"$PATH\"","env":{"FOO":"1"}}'
is "$(jqr .data.stdout)" "$DEFAULT_PATH" "env without PATH leaves the default PATH"
run shape '{"command":"echo \"$PATH\"","env":{"PATH":"/custom/bin:/bin"}}'
is "$(jqr .data.stdout)" /custom/bin:/bin "env PATH overrides the default when asked"
run shape '{"command":"echo \"[$EMPTY]\"; env | grep -c ^EMPTY=","env":{"EMPTY":""}}'
is "$(printf '%s' "$BODY" | jq -c .data.stdout)" '"[]\n1\n"' "an empty env value is set, empty"
run shape '{"command":"echo \"$FOO\"","env":null}'
is "$STATUS" 200 "env: null is accepted as no env"
cmd shape 'echo "[$FOO]"'
is "$(jqr .data.stdout)" "[]" "env does not leak from one exec into the next"

# --- timeout ------------------------------------------------------------------

run shape '{"command":"sleep 5","timeout":300}'
is "$STATUS" 200 "a timed-out exec answers 200"
is "$(jqr .data.timedOut)" true "sleep 5 with timeout 300 ms: timedOut is true"
is "$(jqr .data.exitCode)" 137 "a timed-out command was killed: exitCode 137"
run shape '{"command":"echo quick","timeout":1000000000}'
is "$STATUS" 200 "a timeout above the maximum is clamped, not refused"
is "$(jqr .data.timedOut)" false "a quick command with a huge timeout does not time out"
run shape '{"command":"echo quick","timeout":2500.5}'
is "$STATUS" 200 "a fractional timeout is accepted"
run shape '{"command":"echo quick","stream":false}'
is "$STATUS" 200 "stream: false is accepted"
is "$(jqr .data.stdout)" quick "and runs the command"

# --- output cap and lossy UTF-8 -----------------------------------------------

cmd shape "head -c 3000000 /dev/zero | tr '\\0' a"
is "$STATUS" 200 "a 3 MB flood answers 200"
is "$(jqr .data.truncated)" true "the flood is truncated: true"
is "$(jqr '.data.stdout | length')" 1048576 "stdout is cut at exactly 1 MiB"
is "$(jqr '.data.stdout | test("^a+$")')" true "what is kept is the flood's beginning"
is "$(jqr .data.exitCode)" 0 "the flooding command was drained and exited 0"
cmd shape "head -c 1048576 /dev/zero | tr '\\0' b"
is "$(jqr .data.truncated)" false "exactly 1 MiB of output is not truncated"
is "$(jqr '.data.stdout | length')" 1048576 "and is kept whole"
cmd shape "head -c 2000000 /dev/zero | tr '\\0' e >&2"
is "$(jqr .data.truncated)" true "a stderr flood is truncated: true"
is "$(jqr '.data.stderr | length')" 1048576 "stderr is cut at exactly 1 MiB"

cmd shape "printf '\\377'"
is "$STATUS" 200 "invalid UTF-8 output answers 200"
printf '%s' "$BODY" | iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1 && printf '%s' "$BODY" | jq -e . >/dev/null 2>&1
ok $? "the answer is valid UTF-8 and valid JSON"
is "$(printf '%s' "$BODY" | jq -ac .data.stdout)" '"\ufffd"' "a lone 0xFF byte becomes U+FFFD"
cmd shape "printf 'a\\377b\\303\\251\\355\\240\\200' >&2"
printf '%s' "$BODY" | iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1
ok $? "stderr with bad bytes gives valid UTF-8 too"
is "$(printf '%s' "$BODY" | jq -ac .data.stderr)" '"a\ufffdb\u00e9\ufffd\ufffd\ufffd"' \
	"valid characters are kept, each bad byte (surrogate too) becomes U+FFFD"

# --- headers ------------------------------------------------------------------

req GET /sandboxes/shape
RID1=$(hdr X-Request-Id)
req GET /sandboxes/shape
RID2=$(hdr X-Request-Id)
like "$RID1" '^[0-9A-Za-z-]+$' "X-Request-Id is a token ($RID1)"
isnt "$RID1" "$RID2" "two requests get two request ids"
like "$(hdr Access-Control-Expose-Headers)" '(^|[ ,])X-Request-Id($|[ ,])' "X-Request-Id is exposed to browsers"

req OPTIONS /sandboxes/x/exec "" -H "Origin: $APP" -H 'Access-Control-Request-Method: POST'
is "$STATUS" 204 "OPTIONS /sandboxes/x/exec answers 204"
is "$BODY" "" "the preflight has no body"
is "$(hdr Access-Control-Allow-Origin)" "$APP" "the preflight allows the allowed origin, by name"
like "$(hdr Access-Control-Allow-Methods)" '(^|[ ,])POST($|[ ,])' "Allow-Methods lists POST"
like "$(hdr Access-Control-Allow-Headers)" '(^|[ ,])Content-Type($|[ ,])' "Allow-Headers lists Content-Type"
[ ! -e "$DATA/sandboxes/x" ]
ok $? "a preflight creates no sandbox"
req OPTIONS /sandboxes/x
is "$STATUS" 204 "OPTIONS /sandboxes/x answers 204"
is "$(hdr Access-Control-Allow-Origin)" "" "a preflight without an Origin grants no origin"
like "$(hdr Access-Control-Allow-Methods)" '(^|[ ,])DELETE($|[ ,])' "its Allow-Methods lists DELETE"

req POST /sandboxes/shape/exec '{"command": "echo cors"}' -H "Origin: $APP"
is "$(jqr .data.stdout)" cors "an exec from the allowed origin runs"
is "$(hdr Access-Control-Allow-Origin)" "$APP" "its answer carries Access-Control-Allow-Origin: $APP"
req GET /sandboxes/no-such-box "" -H "Origin: $APP"
is "$(hdr Access-Control-Allow-Origin)" "$APP" "an error answer carries the CORS header too"
req POST /sandboxes/shape/exec '{"command": "echo cors"}' -H 'Origin: https://other.example'
is "$STATUS" 403 "an exec from another origin is refused (403)"
is "$(hdr Access-Control-Allow-Origin)" "" "and its answer grants no origin"

# --- DELETE -------------------------------------------------------------------

cmd shape 'sleep 300 >/dev/null 2>&1 </dev/null & echo started'
is "$(jqr .data.stdout)" started "a background process is left running"
req DELETE /sandboxes/shape
is "$STATUS" 200 "DELETE answers 200"
is "$(jqr '[keys[]] | join(",")')" "data,success" "DELETE: envelope has exactly success and data"
is "$(jqr '.data | keys | join(",")')" "killed,message,projectId,status" \
	"DELETE: data has exactly projectId, status, message, killed"
is "$(jqr .data.projectId)" shape "DELETE: projectId"
is "$(jqr .data.status)" cleaned "DELETE: status is cleaned"
is "$(jqr .data.message)" "All processes terminated" "DELETE: message is the seed's"
is "$(jqr '.data.killed | type')" number "DELETE: killed is a number"
is "$(jqr '.data.killed >= 1')" true "DELETE: the background sleep was killed (killed=$(jqr .data.killed))"
cmd shape 'ps -e -o comm= 2>/dev/null | grep -c "^sleep$" || true'
is "$(jqr .data.stdout)" 0 "no sleep is left in the sandbox after DELETE"
req DELETE /sandboxes/never-made
is "$STATUS" 404 "DELETE of an unknown id answers 404"
is "$(jqr '.success == false and (.error | type == "string" and length > 0)')" true "and a JSON error"
[ ! -e "$DATA/sandboxes/never-made" ]
ok $? "DELETE of an unknown id creates no directory"

# --- headers of every answer above ---------------------------------------------

is "${NO_CT:-none}" none "every JSON answer ($NREQ requests) had Content-Type: application/json"
is "${NO_RID:-none}" none "every answer had an X-Request-Id"
is "${ACAO:-none}" none "no answer to a request without an Origin had an Access-Control-Allow-Origin (no wildcard)"
is "${NO_VARY:-none}" none "every answer had Vary: Origin"

# the host image carries the host's /etc/alternatives and linker cache
S=alt-$$
api POST /sandboxes/$S/exec '{"command": "echo a b | awk \"{print \\$2}\"; test -s /etc/ld.so.cache && echo cache"}'
is "$(jqr .data.stdout)" "$(printf 'b\ncache')" "awk (a Debian alternative) runs; ld.so.cache is there"

done_testing
