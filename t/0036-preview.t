#!/bin/bash
# Exposed ports as preview URLs (issue 15): POST /sandboxes/ID/ports gives a
# URL whose host carries a token; nginx proxies it straight to the
# sandbox's address once the preview pool (its own socket and workers)
# said yes.  HTTP, POST, SSE and WebSockets pass, a server bound to
# localhost inside is reached, a bad, revoked or expired token is refused,
# previews are answered while every API worker is busy, and preview
# traffic counts as activity.  Everything runs in the namespaces of
# t/netlib.sh: nothing leaves the machine.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
. "$TOP_SRCDIR/t/netlib.sh"
net_topology "$@"

# one API worker: a long exec holds the whole pool (see "saturated" below)
T_WORKERS=1 sbd_start "${NET_OPTS[@]}" --preview-domain "http://$PREVIEW_HOST" --idle-stop 8
STUB=$TOP_SRCDIR/t/preview-stub.py
NGX_PORT=${BASE##*:}

# P LABEL PATH [curl options...]: a request to the preview host LABEL.PREVIEW_HOST
# through nginx; sets STATUS and BODY
P() {
	local label=$1 path=$2; shift 2
	STATUS=$(curl -s -o "$T_DIR/pbody" -w '%{http_code}' --max-time 20 \
		-H "Host: $label.$PREVIEW_HOST" "$@" "$BASE$path")
	BODY=$(cat "$T_DIR/pbody")
}
# expose ID PORT [EXPIRES_IN]: POST .../ports; sets TOK (the token)
expose() {
	local extra=
	[ -n "${3:-}" ] && extra=", \"expiresIn\": $3"
	api POST "/sandboxes/$1/ports" "{\"port\": $2$extra}"
	TOK=$(jqr .data.token)
}

api POST /sandboxes/web
is "$STATUS" 200 "sandbox web created"
api POST /sandboxes/other
is "$STATUS" 200 "sandbox other created"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
	--data-binary "@$STUB" "$BASE/sandboxes/web/files/workspace/stub.py")
is "$STATUS" 200 "the stand-in dev server is in the sandbox"
# one on every address, one on localhost only (as Vite binds by default)
api POST /sandboxes/web/processes '{"command": "exec python3 /workspace/stub.py serve 0.0.0.0 3000", "processId": "any"}'
is "$STATUS" 200 "a dev server on 0.0.0.0:3000 started"
api POST /sandboxes/web/processes '{"command": "exec python3 /workspace/stub.py serve 127.0.0.1 5173", "processId": "lo"}'
is "$STATUS" 200 "a dev server on 127.0.0.1:5173 started"
exec_in web "for i in \$(seq 100); do python3 -c 'import socket; [socket.create_connection((\"127.0.0.1\", p)) for p in (3000, 5173)]' 2>/dev/null && exit 0; sleep 0.1; done; exit 1"
is "$(jqr .data.exitCode)" 0 "both listen"

# --- the API ---------------------------------------------------------------------
expose web 3000
is "$STATUS" 201 "POST /ports -> 201"
like "$TOK" '^[a-z2-7]{26}$' "the token is 26 base32 characters (128 bits)"
is "$(jqr .data.port)" 3000 "the port is answered"
is "$(jqr .data.url)" "http://3000-$TOK.$PREVIEW_HOST/" "the URL's host carries the port and the token, on the preview domain"
is "$(jqr .data.pathUrl)" "http://$PREVIEW_HOST/preview/3000-$TOK/" "and the path form on the preview domain's own name"
like "$(jqr .data.expiresAt)" '^20[0-9-]+T[0-9:.]+Z$' "expiresAt is a time"
T3000=$TOK
! grep -rqa "$TOK" "$DATA/db" 2>/dev/null
ok $? "the token itself is stored nowhere in the database (its SHA-256 is)"

# --- a valid token: HTTP, POST, SSE, WebSocket ----------------------------------------
P "3000-$T3000" /hello
is "$STATUS" 200 "GET through the preview URL -> 200"
is "$(jqr .path)" /hello "the path reaches the dev server"
is "$(jqr .host)" "localhost:3000" "the dev server sees Host localhost:PORT"
is "$(jqr .xForwardedHost)" "3000-$T3000.$PREVIEW_HOST" "and the preview name in X-Forwarded-Host"
P "3000-$T3000" /echo --data-binary 'hello preview'
is "$STATUS" 200 "POST through the preview URL -> 200"
is "$BODY" "posted: hello preview" "the body reaches the dev server"
OUT=$(timeout 20 python3 "$STUB" sse 127.0.0.1 "$NGX_PORT" "3000-$T3000.$PREVIEW_HOST" /sse)
like "$OUT" '^HTTP/1.1 200' "SSE: 200"
like "$OUT" 'data: event 0' "SSE: the first event arrives while the stream stays open (unbuffered)"
OUT=$(timeout 20 python3 "$STUB" ws 127.0.0.1 "$NGX_PORT" "3000-$T3000.$PREVIEW_HOST" /ws hi)
like "$OUT" '^HTTP/1.1 101' "WebSocket: 101 Switching Protocols"
like "$OUT" 'echo: hi' "WebSocket: the message comes back"

# --- a dev server bound to localhost -------------------------------------------------
expose web 5173
T5173=$TOK
P "5173-$T5173" /
is "$STATUS" 200 "a server bound to 127.0.0.1 inside is reached"
is "$(jqr .local)" 127.0.0.1 "on its loopback address"
OUT=$(timeout 20 python3 "$STUB" ws 127.0.0.1 "$NGX_PORT" "5173-$T5173.$PREVIEW_HOST" /ws hmr)
like "$OUT" 'echo: hmr' "WebSocket to the localhost server too (HMR)"
exec_in web "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", 3000)); print(1)'"
is "$(jqr .data.stdout)" 1 "inside, localhost works as before"
# a localhost server of the sandbox's own stays its own: only exposed ports are forwarded
api POST /sandboxes/web/processes '{"command": "exec python3 /workspace/stub.py serve 127.0.0.1 6000", "processId": "private"}'
exec_in web "for i in \$(seq 100); do python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", 6000))' 2>/dev/null && exit 0; sleep 0.1; done; exit 1"
is "$(jqr .data.exitCode)" 0 "a private server listens on 127.0.0.1:6000 inside"
exec_in web "python3 -c \"import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(('198.51.100.1', 9)); print(s.getsockname()[0])\""
WEB_ADDR=$(jqr .data.stdout)
like "$WEB_ADDR" '^10\.' "web's address ($WEB_ADDR)"
python3 -c "import socket, sys; socket.create_connection((sys.argv[1], 5173), timeout=5)" "$WEB_ADDR" 2>/dev/null
ok $? "from the host, the exposed localhost port answers at the sandbox's address"
python3 -c "import socket, sys; socket.create_connection((sys.argv[1], 6000), timeout=5)" "$WEB_ADDR" 2>/dev/null
isnt "$?" 0 "but the private one does not (not exposed, not forwarded)"

# --- the path form --------------------------------------------------------------------
STATUS=$(curl -s -o "$T_DIR/pbody" -w '%{http_code}' -H "Host: $PREVIEW_HOST" "$BASE/preview/3000-$T3000/a/b?q=1")
BODY=$(cat "$T_DIR/pbody")
is "$STATUS" 200 "the path form -> 200"
is "$(jqr .path)" "/a/b?q=1" "the prefix is cut, the query kept"
is "$(jqr .xForwardedPrefix)" "/preview/3000-$T3000" "X-Forwarded-Prefix names the prefix"
OUT=$(timeout 20 python3 "$STUB" ws 127.0.0.1 "$NGX_PORT" "$PREVIEW_HOST" "/preview/3000-$T3000/ws" path)
like "$OUT" 'echo: path' "a WebSocket through the path form"
STATUS=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -H "Host: $PREVIEW_HOST" "$BASE/preview/3000-$T3000")
like "$STATUS" "^308 .*/preview/3000-$T3000/\$" "without the slash: a redirect to it (relative links resolve below it)"

# --- the token stays out of Referer ------------------------------------------------------
# rp HOST PATH [curl options...]: the Referrer-Policy headers of a preview's answer, one line
rp() {
	curl -s -D - -o /dev/null --max-time 20 -H "Host: $1" "${@:3}" "$BASE$2" |
		tr -d '\r' | grep -i '^referrer-policy:' | tr 'A-Z' 'a-z' | tr '\n' ' '
}
is "$(rp "3000-$T3000.$PREVIEW_HOST" /hello)" "referrer-policy: same-origin " \
	"the host form: Referrer-Policy same-origin (the name, and so the token, goes to no other origin)"
is "$(rp "3000-$T3000.$PREVIEW_HOST" /rp)" "referrer-policy: same-origin " \
	"an app's own unsafe-url policy is replaced, not added to"
is "$(rp "3000-$T3000.$PREVIEW_HOST" /hello -X PATCH)" "referrer-policy: same-origin " \
	"on the app's error answers too (501 to PATCH)"
is "$(rp "$PREVIEW_HOST" "/preview/3000-$T3000/rp")" "referrer-policy: strict-origin " \
	"the path form: strict-origin (one origin for every preview: the path, and so the token, goes nowhere)"

# --- refused ----------------------------------------------------------------------------
P "3000-abcdefghijklmnopqrstuvwxyz" /
is "$STATUS" 403 "a made-up token -> 403"
is "$(jqr .success)" false "a JSON error"
P "3001-$T3000" /
is "$STATUS" 403 "a valid token for another port -> 403"
P "5173-$T3000" /
is "$STATUS" 403 "a valid token of one port does not open another exposed one"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: 3000-$T3000.$PREVIEW_HOST.evil" "$BASE/sandboxes/web")
isnt "$STATUS" 200 "the preview name under another domain is not a preview (nor the API's)"
P "3000-$T3000" /sandboxes/web
is "$(jqr .path)" /sandboxes/web "the API is not reachable on a preview host (it is the dev server's path)"

api GET /sandboxes/web/ports
is "$STATUS" 200 "GET /ports -> 200"
is "$(jqr '[.data.ports[].port] | join(",")')" "3000,5173" "lists both ports"
unlike "$BODY" "$T3000|$T5173" "and no token"

api DELETE /sandboxes/web/ports/3000
is "$STATUS" 200 "DELETE /ports/3000 -> 200"
P "3000-$T3000" /
is "$STATUS" 403 "a revoked token -> 403 at once"
api DELETE /sandboxes/web/ports/3000
is "$STATUS" 404 "revoking it again -> 404"
P "5173-$T5173" /
is "$STATUS" 200 "the other port stays exposed"

expose web 3000
T2=$TOK
expose web 3000
P "3000-$T2" /
is "$STATUS" 403 "exposing a port again replaces its token: the old one is refused"
P "3000-$TOK" /
is "$STATUS" 200 "the new one works"

expose web 3000 1
is "$STATUS" 201 "exposed for one second"
sleep 2
P "3000-$TOK" /
is "$STATUS" 403 "an expired token -> 403"
api GET /sandboxes/web/ports
is "$(jqr '[.data.ports[].port] | join(",")')" "5173" "an expired port is not listed"

api GET /metrics
like "$BODY" 'sandboxd_preview_checks_total\{result="allowed"\} [1-9]' "/metrics counts the previews let through"
like "$BODY" 'sandboxd_preview_checks_total\{result="refused"\} [1-9]' "and those refused"

# --- bad input -----------------------------------------------------------------------------
for body in '{}' '{"port": 0}' '{"port": 65536}' '{"port": "3000"}' '{"port": 3000.5}' \
	'{"port": 3000, "expiresIn": 0}' '{"port": 3000, "expiresIn": 99999999}' '[]'; do
	api POST /sandboxes/web/ports "$body"
	is "$STATUS" 400 "POST /ports $body -> 400"
done
api POST /sandboxes/nosuch/ports '{"port": 3000}'
is "$STATUS" 404 "a sandbox that does not exist -> 404"
api DELETE /sandboxes/web/ports/abc
is "$STATUS" 400 "DELETE /ports/abc -> 400"
api DELETE /sandboxes/web/ports/070
is "$STATUS" 400 "DELETE /ports/070 -> 400"

# --- every API worker busy ------------------------------------------------------------------
# the sleep of `other`'s exec, found in its cgroup (not by a scan of the host)
sleeper() {
	local p
	for p in $(sandbox_pids other); do [ "$(cat "/proc/$p/comm" 2>/dev/null)" = sleep ] && echo "$p"; done
}
curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
	-d '{"command": "sleep 120"}' "$BASE/sandboxes/other/exec" &
HOLD=$!
SLEEPER=
for _ in $(seq 1 600); do SLEEPER=$(sleeper); [ -n "$SLEEPER" ] && break; sleep 0.05; done
[ -n "$SLEEPER" ]
ok $? "the only API worker is held by an exec"
P "5173-$T5173" /
is "$STATUS" 200 "a preview is answered meanwhile (the preview pool is its own)"
kill -0 "$HOLD" 2>/dev/null
ok $? "and the exec was still holding the API worker then"
[ -n "$SLEEPER" ] && kill "$SLEEPER"
wait "$HOLD" 2>/dev/null

# --- activity -----------------------------------------------------------------------------------
api GET /sandboxes/web
BEFORE=$(jqr .data.lastActiveAt)
sleep 2.2	# past the throttle (a quarter of --idle-stop)
P "5173-$T5173" /
api GET /sandboxes/web
AFTER=$(jqr .data.lastActiveAt)
[[ "$AFTER" > "$BEFORE" ]]
ok $? "a preview request moves lastActiveAt ($BEFORE -> $AFTER): the idle stop spares the sandbox"

# --- a new start of the sandbox keeps its exposures, localhost forwarding too ----------------
# (a sandbox is idle when nothing but its init runs: the dev servers go first)
api DELETE /sandboxes/web
is "$STATUS" 200 "web's processes killed"
for _ in $(seq 1 80); do
	api GET /sandboxes/web
	[ "$(jqr .data.status)" = stopped ] && break
	sleep 0.5
done
is "$(jqr .data.status)" stopped "web stopped when idle"
# once its link is gone too (the kernel ends a namespace later): the
# address is the pool's, unreachable from the host without the link, not
# sent by the default route (to the stand-in internet, which drops it: the
# proxy would wait its connect timeout)
WEB_ADDR=$(jqr .data.network.address)
WEB_GW=$(printf '%s' "$WEB_ADDR" | awk -F. '{ print $1"."$2"."$3"."($4-1) }')
wait_for sh -c "! ip -o -4 addr show | grep -q ' $WEB_GW/31 '"
ok $? "web's link is gone ($WEB_GW)"
like "$(ip route get "$WEB_ADDR" 2>&1)" 'unreachable|No route' "its address is unreachable from the host, not routed to the uplink"
P "5173-$T5173" /
is "$STATUS" 502 "a preview of a stopped sandbox -> 502 (nothing answers)"
api POST /sandboxes/web/processes '{"command": "exec python3 /workspace/stub.py serve 127.0.0.1 5173", "processId": "lo2"}'
is "$STATUS" 200 "web started again, its localhost server too"
exec_in web "for i in \$(seq 100); do python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", 5173))' 2>/dev/null && exit 0; sleep 0.1; done; exit 1"
P "5173-$T5173" /
is "$STATUS" 200 "the same URL reaches it again (the new namespace has the forwarding)"

# --- a restart of the service: the exposures are in LMDB, the forwarding is made again -------
pid=$(cat "$T_DIR/sandboxd.pid")
kill -TERM "$pid"
for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
rm -f "$DATA/run/fcgi.sock"
"$SANDBOXD" --data "$DATA" --instance "$INSTANCE" --workers 1 --uid-base "$UID_BASE" --uid-slots 64 \
	--pidfile "$T_DIR/sandboxd.pid" "${NET_OPTS[@]}" --preview-domain "http://$PREVIEW_HOST" --idle-stop 8 \
	>>"$T_DIR/sandboxd.log" 2>&1 &
for _ in $(seq 1 1200); do [ -S "$DATA/run/fcgi.sock" ] && curl -s -o /dev/null "$BASE/" && break; sleep 0.05; done
api POST /sandboxes/web/processes '{"command": "exec python3 /workspace/stub.py serve 127.0.0.1 5173", "processId": "lo3"}'
is "$STATUS" 200 "after a restart of the service, web and its localhost server started again"
exec_in web "for i in \$(seq 100); do python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", 5173))' 2>/dev/null && exit 0; sleep 0.1; done; exit 1"
P "5173-$T5173" /
is "$STATUS" 200 "the same preview URL works after the restart"
P "3000-$T2" /
is "$STATUS" 403 "and a token replaced before it stays refused"

done_testing
