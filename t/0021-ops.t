#!/bin/bash
# Operations: the config file (errors name file, line and key; SIGHUP re-reads
# it), bearer tokens (401, 403, scopes, hashed at rest), the no-token mode
# answering loopback only, /healthz, /metrics, the logfmt access log with the
# request id of the X-Request-Id header, and GET /sandboxes/:id/history.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

CONF_DIR=$(mktemp -d /tmp/sbd-conf.XXXXXX)
HDRS=$CONF_DIR/headers
hdr() {
	tr -d '\r' <"$HDRS" | awk -v n="$(printf '%s' "$1" | tr 'A-Z' 'a-z')" \
		'{ k = tolower(substr($0, 1, index($0, ":") - 1)) } k == n { sub(/^[^:]*:[ \t]*/, ""); print; exit }'
}
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }

# --- a bad config file is an error at start, naming file, line and key --------------------
bad_conf() {	# bad_conf CONTENT EXPECTED-REGEX DESCRIPTION
	printf '%b' "$1" >"$CONF_DIR/bad.conf"
	OUT=$("$SANDBOXD" --config "$CONF_DIR/bad.conf" --data "$CONF_DIR/never" 2>&1)
	RC=$?
	is "$RC" 2 "$3: exit status 2"
	like "$OUT" "$2" "$3: says $2"
}
bad_conf '# ok\nworkers = 2\nmemory-mb = 5\n' "bad.conf:3: memory-mb: must be an integer from 16" "a value out of range"
bad_conf 'workers = 2\nno-such-key = 1\n' "bad.conf:2: no-such-key: unknown key" "an unknown key"
bad_conf 'workers\n' "bad.conf:1: expected \"key = value\"" "a line without ="
bad_conf 'cpus = lots\n' "bad.conf:1: cpus: must be a number of CPUs" "a non-number"
bad_conf 'socket-mode = 0777\n' "bad.conf:1: socket-mode: must be 0600, 0660 or 0666" "a world-writable socket mode"
bad_conf 'no-favordynmods = maybe\n' "bad.conf:1: no-favordynmods: must be yes or no" "a bad boolean"
bad_conf 'tokens-file = /nonexistent/tokens\n' "tokens-file /nonexistent/tokens: No such file" "a missing tokens file"
printf 'ci sha256:%s *\nbroken sha256:abc *\n' "$(sha x)" >"$CONF_DIR/badtokens"
bad_conf "tokens-file = $CONF_DIR/badtokens\n" "badtokens:2: the hash must be sha256: and 64 hex digits" "a bad token line"
OUT=$("$SANDBOXD" --config "$CONF_DIR/none.conf" 2>&1)
like "$OUT" "none.conf: No such file" "a missing config file is named"
ok $([ ! -e "$CONF_DIR/never" ]; echo $?) "and none of them created anything"

# --- tokens ----------------------------------------------------------------------------------
ADMIN=adm-$RANDOM$RANDOM$RANDOM
TEAM=team-$RANDOM$RANDOM$RANDOM
cat >"$CONF_DIR/tokens" <<EOT
# name  hash  scope
admin sha256:$(sha "$ADMIN") *
team-a sha256:$(sha "$TEAM") teama-
EOT
cat >"$CONF_DIR/sandboxd.conf" <<EOT
# settings under test
tokens-file = $CONF_DIR/tokens
history-max = 5
max-timeout = 600000
EOT
sbd_start --config "$CONF_DIR/sandboxd.conf"
trap 'sbd_cleanup; rm -rf "$CONF_DIR"' EXIT

is "$(stat -c '%a %U' "$DATA/run/fcgi.sock")" "660 root" "the socket is mode 0660 (socket-mode's default), owned by root"
ok $(! grep -q "$ADMIN\|$TEAM" -r "$CONF_DIR/tokens" "$DATA" 2>/dev/null; echo $?) \
	"the tokens are nowhere on disk in clear (tokens file, data dir)"
api POST /sandboxes/teama-1 '{}' -D "$HDRS"
is "$STATUS" 401 "no token: 401"
is "$(jqr .success)" false "in the JSON error envelope"
is "$(hdr WWW-Authenticate)" Bearer "with WWW-Authenticate: Bearer"
api POST /sandboxes/teama-1 '{}' -H "Authorization: Bearer wrong-$TEAM"
is "$STATUS" 401 "a wrong token: 401"
api POST /sandboxes/teama-1 '{}' -H "Authorization: Bearer ${TEAM%?}"
is "$STATUS" 401 "a token missing its last character: 401"
# a near miss: a token whose SHA-256 begins with the same two bytes as
# team-a's; only a comparison of the whole hash refuses it
NEAR=$(python3 -c 'import hashlib, sys
want = hashlib.sha256(sys.argv[1].encode()).digest()[:2]
i = 0
while hashlib.sha256(b"near-%d" % i).digest()[:2] != want or b"near-%d" % i == sys.argv[1].encode():
    i += 1
print("near-%d" % i)' "$TEAM")
api POST /sandboxes/teama-1 '{}' -H "Authorization: Bearer $NEAR"
is "$STATUS" 401 "a token whose hash shares team-a's first two bytes: 401"
head -c 3000000 /dev/zero | tr '\0' ' ' >"$CONF_DIR/big.json"
S=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
	--data-binary @"$CONF_DIR/big.json" "$BASE/sandboxes/teama-1/exec")
is "$S" 401 "no token and a body over max-body: 401, not 413 (the token is checked before any body is read)"
api POST /sandboxes/teamb-1 '{}' -H "Authorization: Bearer $TEAM"
is "$STATUS" 403 "a token outside its scope (teama- asks teamb-1): 403"
ok $([ ! -e "$DATA/sandboxes/teamb-1" ]; echo $?) "and nothing was created"
api POST /sandboxes/teama-1 '{}' -H "Authorization: Bearer $TEAM"
is "$STATUS" 200 "a token inside its scope: 200"
api POST /sandboxes/teama-1/exec '{"command": "echo in"}' -H "authorization: bearer $TEAM"
is "$(jqr .data.stdout)" in "the scheme and header name are case-insensitive"
api POST /sandboxes/teamb-1 '{}' -H "Authorization: Bearer $ADMIN"
is "$STATUS" 200 "the * token reaches every project"
api GET /images
is "$STATUS" 401 "GET /images needs a token"
api GET /images "" -H "Authorization: Bearer $TEAM"
is "$STATUS" 200 "any valid token lists images"
api GET /healthz "" -D "$HDRS"
is "$STATUS" 200 "GET /healthz is open"
is "$(jqr '.data.status + " " + .data.lmdb')" "ok ok" "healthz: status ok, lmdb ok"
ok $([ "$(jqr .data.workers)" -ge 1 ]; echo $?) "healthz: workers alive ($(jqr .data.workers))"
RID=$(hdr X-Request-Id)
like "$RID" '^[0-9a-f]{32}$' "every answer carries X-Request-Id ($RID)"
# its line is written after the answer: waited for (30 s at most), not 0.2 s
for _ in $(seq 1 600); do grep -q "rid=$RID " "$T_DIR/sandboxd.log" && break; sleep 0.05; done
like "$(grep "rid=$RID " "$T_DIR/sandboxd.log")" \
	"^ts=[0-9TZ:.-]+ rid=$RID method=GET path=/healthz route=/healthz status=200 ms=[0-9]+\$" \
	"its access log line is logfmt with the same request id"
like "$(grep 'path=/sandboxes/teama-1/exec ' "$T_DIR/sandboxd.log")" 'route=/sandboxes/\{projectId\}/exec status=200 ms=[0-9]+ token=team-a$' \
	"the log line names the token by its name, never the token"
like "$(grep 'event=sandbox.created id=teama-1 ' "$T_DIR/sandboxd.log")" '^ts=[^ ]+ event=sandbox.created id=teama-1 rid=[0-9a-f]{32} image=host$' \
	"a sandbox's creation is a logfmt event line with the request id"
like "$(grep 'event=sandbox.started id=teama-1 ' "$T_DIR/sandboxd.log")" 'image=host ms=[0-9]+$' "and so is its start"
curl -s -o /dev/null -D "$HDRS" "$BASE/sandboxes/teama-1/files/a%00b"
like "$(hdr X-Request-Id)" '^[0-9a-f]{32}$' "an answer nginx makes itself (400 for a %00 in the path) carries X-Request-Id too"
api OPTIONS /sandboxes/teama-1/exec
is "$STATUS" 204 "a CORS preflight needs no token"

# --- history ---------------------------------------------------------------------------------
H=(-H "Authorization: Bearer $TEAM")
api POST /sandboxes/teama-1/exec '{"command": "printf abc; printf de >&2; exit 3", "cwd": "/tmp"}' "${H[@]}"
api GET /sandboxes/teama-1/history "" "${H[@]}"
is "$STATUS" 200 "GET .../history answers"
is "$(jqr '.data.entries[-1] | [.kind, .command, .cwd, .exitCode, .stdoutBytes, .stderrBytes, .tokenId] | map(tostring) | join("|")')" \
	"exec|printf abc; printf de >&2; exit 3|/tmp|3|3|2|team-a" \
	"the last entry: kind, command, cwd, exit code, bytes out and err, token name"
ok $([ "$(jqr '.data.entries[-1].durationMs | type')" = number ]; echo $?) "with durationMs"
like "$(jqr '.data.entries[-1].startedAt')" '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T' "and startedAt"
curl -s -N "${H[@]}" -H 'Content-Type: application/json' -d '{"command": "echo streamed", "stream": true}' \
	"$BASE/sandboxes/teama-1/exec" >/dev/null
api POST /sandboxes/teama-1/processes '{"processId": "bg", "command": "sleep 0.1"}' "${H[@]}"
api GET /sandboxes/teama-1/history "" "${H[@]}"
is "$(jqr '[.data.entries[-2,-1] | .kind + ":" + .command] | join(",")')" "exec:echo streamed,process:sleep 0.1" \
	"streamed execs and background processes are recorded too"
is "$(jqr '.data.entries[-2].stdoutBytes')" 9 "a streamed exec's bytes out are counted"
for i in 1 2 3 4 5 6; do api POST /sandboxes/teama-1/exec "{\"command\": \"echo n$i\"}" "${H[@]}"; done
api GET /sandboxes/teama-1/history "" "${H[@]}"
is "$(jqr '[.data.entries[].command] | join(",")')" "echo n2,echo n3,echo n4,echo n5,echo n6" \
	"history-max = 5 keeps the newest 5, oldest first"
api GET "/sandboxes/teama-1/history?limit=2" "" "${H[@]}"
is "$(jqr '[.data.entries[].command] | join(",")')" "echo n5,echo n6" "?limit=2: the newest two"
api GET "/sandboxes/teama-1/history?limit=0" "" "${H[@]}"
is "$STATUS" 400 "?limit=0 is 400"
api GET "/sandboxes/teama-1/history?limit=x" "" "${H[@]}"
is "$STATUS" 400 "?limit=x is 400"
api GET /sandboxes/teama-none/history "" "${H[@]}"
is "$STATUS" 404 "history of a sandbox that does not exist: 404"
api GET /sandboxes/teamb-1/history "" "${H[@]}"
is "$STATUS" 403 "another scope's history: 403"

api DELETE /sandboxes/teama-1 "" "${H[@]}"
like "$(grep 'event=sandbox.cleaned id=teama-1 ' "$T_DIR/sandboxd.log")" 'rid=[0-9a-f]{32} killed=[0-9]+$' \
	"DELETE (kill everything) is an event line too"

# --- metrics -------------------------------------------------------------------------------
api GET /metrics
is "$STATUS" 401 "GET /metrics needs a token"
curl -s -D "$HDRS" -o "$CONF_DIR/metrics" "${H[@]}" "$BASE/metrics"
M=$(cat "$CONF_DIR/metrics")
like "$(hdr Content-Type)" '^text/plain; version=0.0.4' "metrics: Prometheus text format"
like "$M" 'sandboxd_requests_total\{route="/sandboxes/\{projectId\}/exec",method="POST",code="200"\} [1-9]' \
	"requests by route pattern, method and status"
like "$M" 'sandboxd_requests_total\{route="/sandboxes/\{projectId\}",method="POST",code="401"\} [1-9]' "the 401s too"
like "$M" 'sandboxd_request_duration_seconds_bucket\{route="/sandboxes/\{projectId\}/exec",le="\+Inf"\} [1-9]' \
	"a latency histogram per route"
like "$M" 'sandboxd_execs_total [1-9]' "execs counted"
like "$M" 'sandboxd_sandboxes\{state="running"\} 2' "running sandboxes (teama-1, teamb-1)"
like "$M" 'sandboxd_workers 3' "workers alive"
like "$M" 'sandboxd_workers_busy [0-9]' "busy workers"
like "$M" 'sandboxd_lmdb_bytes [1-9]' "LMDB size"
unlike "$M" "teama|teamb|$TEAM" "no projectId nor token in the metrics"
W1=$(sbd_workers | awk '{print $1}')
I1=$(init_of teamb-1)
is "$(grep -c ' rw-s .*/dev/zero' "/proc/$W1/maps")" 1 "a worker maps the shared counters (rw, shared)"
is "$(grep -c ' rw-s .*/dev/zero' "/proc/$I1/maps")" 0 "a sandbox's init (a worker's descendant) does not"
api POST /sandboxes/teama-1/exec '{"command": "sleep 5", "timeout": 200}' "${H[@]}"
curl -s -o "$CONF_DIR/metrics" "${H[@]}" "$BASE/metrics"
like "$(cat "$CONF_DIR/metrics")" 'sandboxd_exec_timeouts_total [1-9]' "exec timeouts counted"

# --- SIGHUP re-reads the file --------------------------------------------------------------------
printf 'tokens-file = %s\nhistory-max = 5\nmax-timeout = 1000\n' "$CONF_DIR/tokens" >"$CONF_DIR/sandboxd.conf"
sbd_reload
api POST /sandboxes/teama-1/exec '{"command": "sleep 4", "timeout": 8000}' "${H[@]}"
is "$(jqr .data.timedOut)" true "after SIGHUP the new max-timeout (1000 ms) holds: an 8000 ms timeout is cut to it"
printf 'history-max = 5\nmax-timeout = lots\n' >"$CONF_DIR/sandboxd.conf"
sbd_reload
like "$(cat "$T_DIR/sandboxd.log")" 'sandboxd.conf:2: max-timeout: must be an integer' \
	"a bad file at SIGHUP is named in the log (file, line, key)"
like "$(cat "$T_DIR/sandboxd.log")" 'bad settings \(above\); the running ones stay' "and the running settings stay"
api POST /sandboxes/teama-1/exec '{"command": "echo still"}'
is "$STATUS" 401 "the tokens stay too (no token: 401)"
api POST /sandboxes/teama-1/exec '{"command": "echo still"}' "${H[@]}"
is "$(jqr .data.stdout)" still "and the service still serves"

# --- without tokens: loopback only -----------------------------------------------------------
IP=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9]+\.' | grep -v '^127\.' | head -n 1)
if [ -n "$IP" ]; then
	# the machine's address is a name this server answers to (allowed-hosts):
	# what refuses the request below is where nginx took it
	printf 'history-max = 5\nallowed-hosts = localhost, 127.0.0.1, [::1], %s\n' "$IP" >"$CONF_DIR/sandboxd.conf"
	sbd_reload
	N2=$T_DIR/n2
	mkdir -p "$N2/nginx-tmp"
	P2=$((20000 + RANDOM % 40000))
	sed -e "s|@STATE@|$N2|g" -e "s|@LISTEN@|$IP:$P2|g" -e "s|@SOCKET@|$DATA/run/fcgi.sock|g" \
		"$TOP_SRCDIR/nginx/sandboxd-dev.conf.in" >"$N2/nginx.conf"
	"$NGINX_BIN" -c "$N2/nginx.conf" -p "$N2" -e "$N2/nginx-error.log" 2>/dev/null
	for _ in $(seq 1 1200); do curl -s -o /dev/null "http://$IP:$P2/healthz" && break; sleep 0.05; done
	S=$(curl -s -o "$CONF_DIR/remote" -w '%{http_code}' -X POST "http://$IP:$P2/sandboxes/remote-1")
	is "$S" 403 "no tokens configured: a request that reached nginx on $IP (not loopback) is 403"
	like "$(cat "$CONF_DIR/remote")" 'answers only requests made on loopback' "saying why"
	api POST /sandboxes/local-1 '{}'
	is "$STATUS" 200 "on loopback the seed's no-auth mode serves"
	api POST /sandboxes/local-2 '{}' -H 'X-Forwarded-For: 203.0.113.9'
	is "$STATUS" 403 "but not a request a proxy on this host forwarded (X-Forwarded-For)"
	api POST /sandboxes/local-2 '{}' -H 'Forwarded: for=203.0.113.9'
	is "$STATUS" 403 "(Forwarded)"
	ok $([ ! -e "$DATA/sandboxes/remote-1" ]; echo $?) "the remote request created nothing"
	# allow-remote-no-auth: served through $IP, still only by allowed names
	printf 'allow-remote-no-auth = yes\nallowed-hosts = localhost 127.0.0.1 [::1] %s\n' "$IP" >"$CONF_DIR/sandboxd.conf"
	sbd_reload
	S=$(curl -s -o "$CONF_DIR/remote" -w '%{http_code}' -X POST "http://$IP:$P2/sandboxes/remote-2")
	is "$S" 200 "allow-remote-no-auth: a request through $IP, a name in allowed-hosts, is served"
	S=$(curl -s -o "$CONF_DIR/remote" -w '%{http_code}' -X POST -H 'Host: rebound.example' "http://$IP:$P2/sandboxes/remote-3")
	is "$S" 403 "allow-remote-no-auth: Host: rebound.example is still refused"
	like "$(cat "$CONF_DIR/remote")" 'allowed-hosts' "saying which setting allows it"
	ok $([ ! -e "$DATA/sandboxes/remote-3" ]; echo $?) "and it created nothing"
	kill -QUIT "$(cat "$N2/nginx.pid")" 2>/dev/null
else
	ok 0 "# SKIP no non-loopback IPv4 address on this machine"
fi

done_testing
