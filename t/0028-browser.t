#!/bin/bash
# Browser-borne requests (issue 12, items 3 and 4).  Without tokens any page
# a person on this host opens could otherwise drive the API: a cross-site
# "simple" POST (Content-Type: text/plain, no preflight) runs a command, a
# DNS-rebound name reaches the loopback listener, a wildcard
# Access-Control-Allow-Origin lets the page read the answer.  In the
# no-token mode a request whose Host is not an allowed name, or that a
# browser sent from another site (an Origin, or Sec-Fetch-Site cross-site or
# same-site, not in allowed-origins) is refused with a JSON 403 naming the
# setting; plain curl keeps working; an allowed origin is echoed, never *.
# A page of the API's own origin (Origin = the scheme nginx passes :// the
# Host as sent) is served; a Host is strictly name[:port], as sent and as
# nginx's $host.
# With a tokens file the old behaviour holds.  Raw downloads of sandbox
# files are attachments that no browser renders on the API's origin.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

# the settings, rewritten and re-read at SIGHUP (sbd_start makes T_DIR)
T_CONF=$(mktemp /tmp/sbd-t28-conf.XXXXXX) || bail "mktemp"
printf '# no settings: the defaults, no tokens\n' >"$T_CONF"
sbd_start --config "$T_CONF"
trap 'rm -f "$T_CONF"; sbd_cleanup' EXIT

HDRS=$T_DIR/headers
MAXT=(--max-time 60)
WILDCARD=	# answers carrying Access-Control-Allow-Origin: *

# hdr NAME: a header of the last answer (empty when absent).
hdr() {
	tr -d '\r' <"$HDRS" | awk -v n="$(printf '%s' "$1" | tr 'A-Z' 'a-z')" \
		'{ k = tolower(substr($0, 1, index($0, ":") - 1)) } k == n { sub(/^[^:]*:[ \t]*/, ""); print; exit }'
}
# B METHOD PATH [curl options...]: a request as a browser (or curl) sends
# it, headers kept; sets STATUS and BODY, notes a wildcard CORS origin.
B() {
	local m=$1 p=$2; shift 2
	STATUS=$(curl -s -o "$T_DIR/body" -D "$HDRS" -w '%{http_code}' -X "$m" "${MAXT[@]}" "$@" "$BASE$p")
	BODY=$(cat "$T_DIR/body")
	[ "$(hdr Access-Control-Allow-Origin)" = '*' ] && WILDCARD="$WILDCARD [$m $p -> $STATUS]"
	return 0
}
# run COMMAND [curl options...]: exec in the sandbox `web` as curl does;
# OUT is its stdout.
run() {
	local c=$1; shift
	B POST /sandboxes/web/exec -H 'Content-Type: application/json' \
		--data-binary "$(jq -cn --arg c "$c" '{command: $c}')" "$@"
	OUT=$(jqr .data.stdout)
}
# absent FILE DESCRIPTION [curl options...]: the file is not in the
# sandbox's /workspace.
absent() {
	local f=$1 what=$2; shift 2
	run "test -e /workspace/$f && echo present || echo absent" "$@"
	is "$OUT" absent "$what: the command did not run (/workspace/$f absent)"
}
# refused DESCRIPTION SETTING: a JSON 403 whose error names SETTING, and no
# CORS grant in it.
refused() {
	local what=$1 setting=$2
	is "$STATUS" 403 "$what -> 403"
	is "$(jqr '.success == false and (.error | type == "string")')" true "$what: a JSON error"
	like "$(jqr .error)" "$setting" "$what: the error says how to allow it ($setting)"
	is "$(hdr Access-Control-Allow-Origin)" "" "$what: no Access-Control-Allow-Origin"
}
# touch_as NAME [curl options...]: a POST that would create /workspace/NAME.
touch_as() {
	local f=$1; shift
	B POST /sandboxes/web/exec --data-binary "{\"command\": \"touch /workspace/$f\"}" "$@"
}
reload() {	# reload: SIGHUP, and wait until the workers of the old settings are gone
	sbd_reload
}

B POST /sandboxes/web -H 'Content-Type: application/json' --data-binary '{}'
is "$STATUS" 200 "sandbox created with plain curl"

# --- no tokens: cross-site requests ------------------------------------------------------------
touch_as pwned-origin -H 'Origin: https://evil.example' -H 'Content-Type: text/plain'
refused "a cross-site simple POST (Origin: https://evil.example, text/plain)" allowed-origins
absent pwned-origin "the cross-site POST"
touch_as pwned-origin-json -H 'Origin: https://evil.example' -H 'Content-Type: application/json'
refused "a cross-site POST with a JSON body" allowed-origins
absent pwned-origin-json "the cross-site JSON POST"
touch_as pwned-null -H 'Origin: null' -H 'Content-Type: text/plain'
refused "a POST from an opaque origin (Origin: null, a sandboxed frame)" allowed-origins
absent pwned-null "the Origin: null POST"
touch_as pwned-sfs -H 'Sec-Fetch-Site: cross-site' -H 'Content-Type: text/plain'
refused "Sec-Fetch-Site: cross-site without an Origin" allowed-origins
absent pwned-sfs "the Sec-Fetch-Site: cross-site POST"
touch_as pwned-same-site -H 'Sec-Fetch-Site: same-site' -H 'Content-Type: text/plain'
refused "Sec-Fetch-Site: same-site (another port of this host) without an Origin" allowed-origins
absent pwned-same-site "the Sec-Fetch-Site: same-site POST"
touch_as pwned-port -H 'Origin: http://127.0.0.1:1' -H 'Content-Type: text/plain'
refused "a page of another port of this host (Origin: http://127.0.0.1:1)" allowed-origins
absent pwned-port "the other port's POST"
B GET /sandboxes/web -H 'Origin: https://evil.example'
refused "a cross-site GET of the status (its answer would be readable)" allowed-origins
B GET /sandboxes/web -H 'Sec-Fetch-Site: cross-site' -H 'Sec-Fetch-Mode: navigate'
refused "a link from another site (Sec-Fetch-Site: cross-site, navigate)" allowed-origins
B OPTIONS /sandboxes/web/exec -H 'Origin: https://evil.example' \
	-H 'Access-Control-Request-Method: POST' -H 'Access-Control-Request-Headers: content-type'
refused "a preflight from a disallowed origin" allowed-origins
is "$(hdr Access-Control-Allow-Methods)" "" "the refused preflight grants no method"
is "$(hdr Access-Control-Allow-Headers)" "" "the refused preflight grants no header"
B GET /sandboxes/web -H 'Sec-Fetch-Site: none' -H 'Sec-Fetch-Mode: navigate'
is "$STATUS" 200 "an address typed into the browser (Sec-Fetch-Site: none) is served"
B GET /sandboxes/web -H 'Sec-Fetch-Site: same-origin'
is "$STATUS" 200 "Sec-Fetch-Site: same-origin without an Origin is served"

# --- no tokens: the Host header (DNS rebinding) -------------------------------------------------
touch_as pwned-host -H "Host: evil.example:${BASE##*:}" -H 'Content-Type: text/plain'
refused "Host: evil.example:PORT (a DNS-rebound name)" allowed-hosts
absent pwned-host "the rebound POST"
touch_as pwned-host2 -H "Host: localhost.evil.example:${BASE##*:}"
refused "Host: localhost.evil.example" allowed-hosts
absent pwned-host2 "the localhost.evil.example POST"
touch_as pwned-host3 -H "Host: 127.0.0.1.nip.io"
refused "Host: 127.0.0.1.nip.io" allowed-hosts
B GET /healthz -H "Host: evil.example"
refused "GET /healthz with Host: evil.example" allowed-hosts
B GET /no-such-route -H "Host: evil.example"
refused "an unknown route with Host: evil.example" allowed-hosts
for h in "localhost:${BASE##*:}" "LocalHost" "127.0.0.1" "127.0.0.1:${BASE##*:}" "[::1]:${BASE##*:}" "[::1]"; do
	B GET /sandboxes/web -H "Host: $h"
	is "$STATUS" 200 "Host: $h is a default listen name: served"
done
i=0
# a Host is a name, an IPv4 address or a bracketed IPv6 address, then
# optionally ':' and 1 to 5 digits, nothing else (nginx's $host, which
# Debian's fastcgi_params pass as HTTP_HOST, cuts these down to an allowed
# name: the Host as sent is checked too)
for h in "localhost:80:80" "[::1]x" "[::1]:" "localhost:" "localhost:123456" "localhost:80x" \
	"[::1]]:80" "localhost:+80" "[]" "[::1"; do
	i=$((i + 1))
	touch_as pwned-strict-$i -H "Host: $h" -H 'Content-Type: text/plain'
	if [ "$STATUS" = 400 ]; then
		is "$STATUS" 400 "Host: $h: refused by nginx itself (400)"
	else
		refused "Host: $h (not strictly name[:port])" allowed-hosts
	fi
	absent pwned-strict-$i "the POST with Host: $h"
done
# an absolute-form target names the host nginx serves: it is checked too
STATUS=$(curl -s "${MAXT[@]}" -o /dev/null -w '%{http_code}' --request-target 'http://evil.example/sandboxes/web' \
	-H 'Host: localhost' "$BASE/sandboxes/web")
is "$STATUS" 403 "GET http://evil.example/... with Host: localhost (absolute form) -> 403"

# --- no tokens: a page of the API's own origin -------------------------------------------------
# (nginx passes the scheme as REQUEST_SCHEME; this nginx listens on http)
PORT=${BASE##*:}
B POST /sandboxes/web/exec -H "Origin: http://localhost:$PORT" -H "Host: localhost:$PORT" \
	-H 'Content-Type: application/json' --data-binary '{"command": "echo same"}'
is "$STATUS:$(jqr .data.stdout)" "200:same" "Origin: http://localhost:PORT with Host: localhost:PORT (same origin): served"
is "$(hdr Access-Control-Allow-Origin)" "http://localhost:$PORT" "and the origin is echoed, never *"
B GET /sandboxes/web -H "Origin: http://127.0.0.1:$PORT" -H "Host: 127.0.0.1:$PORT"
is "$STATUS" 200 "Origin: http://127.0.0.1:PORT with Host: 127.0.0.1:PORT: served"
B GET /sandboxes/web -H "Origin: http://[::1]:$PORT" -H "Host: [::1]:$PORT"
is "$STATUS" 200 "Origin: http://[::1]:PORT with Host: [::1]:PORT: served"
touch_as pwned-same-port -H "Origin: http://localhost:$((PORT == 1 ? 2 : PORT - 1))" -H "Host: localhost:$PORT" \
	-H 'Content-Type: text/plain'
refused "an Origin of another port of the same host (another origin)" allowed-origins
absent pwned-same-port "the other port's POST"
touch_as pwned-same-noport -H "Origin: http://localhost" -H "Host: localhost:$PORT" -H 'Content-Type: text/plain'
refused "Origin: http://localhost (port 80) with Host: localhost:PORT" allowed-origins
absent pwned-same-noport "the port 80 page's POST"
touch_as pwned-same-https -H "Origin: https://localhost:$PORT" -H "Host: localhost:$PORT" -H 'Content-Type: text/plain'
refused "Origin: https://localhost:PORT while nginx says the request came over http" allowed-origins
absent pwned-same-https "the https origin's POST"
touch_as pwned-same-host -H "Origin: http://127.0.0.1:$PORT" -H "Host: localhost:$PORT" -H 'Content-Type: text/plain'
refused "Origin: http://127.0.0.1:PORT with Host: localhost:PORT (another origin)" allowed-origins
absent pwned-same-host "the other name's POST"
touch_as pwned-same-null -H "Origin: null" -H "Host: localhost:$PORT" -H 'Content-Type: text/plain'
refused "Origin: null (a raw download's sandboxed page) with Host: localhost:PORT" allowed-origins
absent pwned-same-null "the null origin's POST"
touch_as pwned-same-rebound -H "Origin: http://evil.example:$PORT" -H "Host: evil.example:$PORT" \
	-H 'Content-Type: text/plain'
refused "a DNS-rebound page of its own origin (Origin = http://Host, Host not allowed)" allowed-hosts
absent pwned-same-rebound "the rebound same-origin POST"
touch_as pwned-same-path -H "Origin: http://localhost:$PORT/" -H "Host: localhost:$PORT" -H 'Content-Type: text/plain'
refused "Origin: http://localhost:PORT/ (not an origin)" allowed-origins
absent pwned-same-path "the Origin with a path's POST"

# --- no tokens: plain curl keeps working -----------------------------------------------------------
run 'echo json'
is "$STATUS:$OUT" "200:json" "curl, Content-Type: application/json: served"
B POST /sandboxes/web/exec -H 'Content-Type:' --data-binary '{"command": "echo none"}'
is "$STATUS:$(jqr .data.stdout)" "200:none" "curl without a Content-Type: served"
B POST /sandboxes/web/exec -H 'Content-Type: text/plain' --data-binary '{"command": "echo plain"}'
is "$STATUS:$(jqr .data.stdout)" "200:plain" "curl with Content-Type: text/plain and no Origin: served"
B OPTIONS /sandboxes/web/exec
is "$STATUS" 204 "OPTIONS without an Origin: 204"
is "$(hdr Access-Control-Allow-Origin)" "" "and no Access-Control-Allow-Origin (no origin is allowed)"
B GET /sandboxes/web
like "$(hdr Vary)" '(^|[ ,])Origin($|[ ,])' "answers say Vary: Origin"
B GET /sandboxes/nope
is "$STATUS" 404 "an error answer (404)"

# --- raw downloads: attachments no browser renders here ----------------------------------------
NAME='a "b" ü;.html'
run "printf '<script>alert(document.domain)</script>' >'/workspace/$NAME' &&
	printf '<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>' >/workspace/x.svg &&
	printf '<b>hi</b>' >\"/workspace/\$(printf 'crlf\\r\\nX-Injected: 1.html')\" && echo ok"
is "$OUT" ok "the sandbox wrote HTML and SVG files"
B GET '/sandboxes/web/files/workspace/a%20%22b%22%20%C3%BC%3B.html?raw=1'
is "$STATUS" 200 "GET ?raw=1 of $NAME"
is "$BODY" '<script>alert(document.domain)</script>' "the raw bytes"
is "$(hdr Content-Disposition)" "attachment; filename=\"a _b_ __.html\"; filename*=UTF-8''a%20%22b%22%20%C3%BC%3B.html" \
	".html: Content-Disposition: attachment, an ASCII filename and the exact UTF-8 filename*"
is "$(hdr X-Content-Type-Options)" nosniff ".html: X-Content-Type-Options: nosniff"
is "$(hdr Content-Security-Policy)" sandbox ".html: Content-Security-Policy: sandbox"
B GET /sandboxes/web/files/workspace/x.svg -H 'Accept: application/octet-stream'
is "$STATUS" 200 "GET x.svg with Accept: application/octet-stream"
is "$(hdr Content-Disposition)" "attachment; filename=\"x.svg\"; filename*=UTF-8''x.svg" ".svg: an attachment"
is "$(hdr X-Content-Type-Options)" nosniff ".svg: nosniff"
is "$(hdr Content-Security-Policy)" sandbox ".svg: Content-Security-Policy: sandbox"
B GET '/sandboxes/web/files/workspace/crlf%0D%0AX-Injected%3A%201.html?raw=1'
is "$STATUS" 200 "GET ?raw=1 of a file named with CR LF in it"
is "$(hdr X-Injected)" "" "the name injects no header"
is "$(hdr Content-Disposition)" "attachment; filename=\"crlf__X-Injected_ 1.html\"; filename*=UTF-8''crlf%0D%0AX-Injected%3A%201.html" \
	"CR and LF are percent-encoded in filename*, gone from filename"
is "$(hdr Content-Security-Policy)" sandbox "and the CSP header is still there"

# --- allowed-hosts and allowed-origins ----------------------------------------------------------
printf 'allowed-origins = https://app.example, http://localhost:3000\nallowed-hosts = localhost 127.0.0.1 [::1] sandbox.test\n' >"$T_CONF"
reload
B POST /sandboxes/web/exec -H 'Origin: https://app.example' -H 'Content-Type: text/plain' \
	--data-binary '{"command": "echo allowed"}'
is "$STATUS:$(jqr .data.stdout)" "200:allowed" "an origin in allowed-origins is served"
is "$(hdr Access-Control-Allow-Origin)" https://app.example "and echoed in Access-Control-Allow-Origin"
like "$(hdr Vary)" '(^|[ ,])Origin($|[ ,])' "with Vary: Origin"
B OPTIONS /sandboxes/web/exec -H 'Origin: http://localhost:3000' -H 'Access-Control-Request-Method: POST'
is "$STATUS" 204 "a preflight from the second allowed origin: 204"
is "$(hdr Access-Control-Allow-Origin)" http://localhost:3000 "it echoes that origin"
like "$(hdr Access-Control-Allow-Methods)" '(^|[ ,])POST($|[ ,])' "and grants POST"
touch_as pwned-prefix -H 'Origin: https://app.example.evil.example'
refused "an origin that only begins with an allowed one" allowed-origins
absent pwned-prefix "the prefix origin's POST"
touch_as pwned-after -H 'Origin: https://evil.example'
refused "another origin, once some are allowed" allowed-origins
B GET /sandboxes/web -H "Host: sandbox.test:${BASE##*:}"
is "$STATUS" 200 "Host: sandbox.test (in allowed-hosts) is served"
B GET /sandboxes/web -H "Host: evil.example"
refused "Host: evil.example, not in allowed-hosts" allowed-hosts

is "${WILDCARD:-none}" none "no answer without tokens carried Access-Control-Allow-Origin: *"

# --- with tokens: the old behaviour ------------------------------------------------------------
TOKEN=tok-$RANDOM$RANDOM
printf 'admin sha256:%s *\n' "$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)" >"$T_DIR/tokens"
printf 'tokens-file = %s\n' "$T_DIR/tokens" >"$T_CONF"
reload
B POST /sandboxes/web/exec -H "Authorization: Bearer $TOKEN" -H 'Origin: https://evil.example' \
	-H "Host: evil.example" -H 'Content-Type: text/plain' --data-binary '{"command": "echo token"}'
is "$STATUS:$(jqr .data.stdout)" "200:token" "with tokens: a bearer token is enough, whatever Origin and Host"
is "$(hdr Access-Control-Allow-Origin)" '*' "with tokens: the cors-origin (default *) as before"
touch_as pwned-tok -H 'Origin: https://evil.example' -H 'Content-Type: text/plain'
is "$STATUS" 401 "with tokens: a cross-site POST without a token is 401"
absent pwned-tok "the tokenless cross-site POST" -H "Authorization: Bearer $TOKEN"

done_testing
