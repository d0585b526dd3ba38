#!/bin/bash
# Trust inside sandboxes: the host image carries the host's CA bundle, and
# --ca-bundle FILE makes an operator's bundle the one of every sandbox of
# every image (read-only at /etc/ssl/certs/ca-certificates.crt, and
# NODE_EXTRA_CA_CERTS for node, which keeps its own store otherwise).  A TLS
# server on the stand-in internet (t/netlib.sh) shows a certificate of a CA
# this test makes: nothing leaves the machine.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
. "$TOP_SRCDIR/t/netlib.sh"
net_topology "$@"
command -v openssl >/dev/null || skip_all "no openssl"
BUNDLE=/etc/ssl/certs/ca-certificates.crt

# --- a CA of the test's own, and a server certificate for public.test -------------
PKI=$NET_DIR/pki
mkdir -p "$PKI"
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $ec -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -days 2 -subj "/CN=sandboxd test CA" \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>"$PKI/log" &&
openssl req $ec -keyout "$PKI/srv.key" -out "$PKI/srv.csr" -subj "/CN=public.test" 2>>"$PKI/log" &&
printf 'subjectAltName=DNS:public.test,IP:%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
	"$NET_PUBLIC" >"$PKI/ext" &&
openssl x509 -req -in "$PKI/srv.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
	-out "$PKI/srv.crt" -days 2 -extfile "$PKI/ext" 2>>"$PKI/log" || bail "openssl: $(tail -n 3 "$PKI/log")"
chmod 0644 "$PKI/ca.crt"

# an HTTPS server on the stand-in's public address, port 443
nsenter --net="/run/netns/$NET_INET" python3 -c '
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = b"hello over tls\n"
        self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer((sys.argv[1], 443), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
s.socket = ctx.wrap_socket(s.socket, server_side=True)
print("ready", flush=True)
s.serve_forever()
' "$NET_PUBLIC" "$PKI/srv.crt" "$PKI/srv.key" >"$NET_DIR/tls.log" 2>&1 &
echo $! >"$NET_DIR/tls.pid"
for _ in $(seq 1 1200); do grep -q ready "$NET_DIR/tls.log" && break; sleep 0.05; done
grep -q ready "$NET_DIR/tls.log" || bail "the TLS server did not start: $(cat "$NET_DIR/tls.log")"

IMAGES=${SBD_IMAGES:-/var/lib/sandboxd-dev/images}
BOOKWORM=
[ -n "$(ls "$IMAGES"/bookworm/*/rootfs/usr/bin/node 2>/dev/null)" ] && BOOKWORM=1
[ -n "$BOOKWORM" ] || diag "no bookworm image in $IMAGES (./dev test builds it): its checks are skipped"
IMG_OPTS=()
[ -n "$BOOKWORM" ] && IMG_OPTS=(--images "$IMAGES")

URL=https://public.test/
CURL="curl -sS -m 20 $URL; echo rc=\$?"
# bookworm has no curl: python's urllib (OpenSSL's default paths) in every image
PY="python3 -c 'import ssl, sys, urllib.request
try: print(urllib.request.urlopen(sys.argv[1], timeout=20).read().decode(), end=\"\")
except Exception as e: print(getattr(getattr(e, \"reason\", e), \"reason\", e)); sys.exit(1)' $URL; echo rc=\$?"
NODE="node -e 'require(\"https\").get(\"$URL\", r => r.pipe(process.stdout)).on(\"error\", e => { console.log(e.code); process.exit(1) })'; echo rc=\$?"

# sandboxes ID IMAGE...: create one sandbox per image
sandboxes() {
	local id=$1; shift
	for img in "$@"; do
		api POST "/sandboxes/$id-$img" "{\"image\": \"$img\"}"
		is "$STATUS" 200 "sandbox $id-$img created"
	done
}
IMGS=(host)
[ -n "$BOOKWORM" ] && IMGS+=(bookworm)

# --- without --ca-bundle ------------------------------------------------------------
sbd_start "${NET_OPTS[@]}" "${IMG_OPTS[@]}"
sandboxes plain "${IMGS[@]}"

exec_in plain-host "sha256sum < $BUNDLE"
if [ -f "$BUNDLE" ]; then
	is "$(jqr .data.stdout)" "$(sha256sum <"$BUNDLE")" "the host image carries the host's CA bundle"
else
	diag "the host has no $BUNDLE"
fi
exec_in plain-host "echo \${NODE_EXTRA_CA_CERTS-unset}"
is "$(jqr .data.stdout)" unset "no NODE_EXTRA_CA_CERTS without --ca-bundle"
exec_in plain-host "$CURL"
like "$(jqr .data.stdout)" '^rc=60$' "host without --ca-bundle: curl fails on the certificate (60: unknown CA)"
like "$(jqr .data.stderr)" 'certificate' "host: curl says so ($(jqr .data.stderr | head -n 1))"
for img in "${IMGS[@]}"; do
	exec_in "plain-$img" "$PY"
	is "$(jqr .data.stdout)" $'CERTIFICATE_VERIFY_FAILED\nrc=1' "$img without --ca-bundle: python's urlopen fails on the certificate"
	exec_in "plain-$img" "$NODE"
	like "$(jqr .data.stdout)" '^[A-Z_]*(CERT|SIGNATURE)[A-Z_]*'$'\n''rc=1$' \
		"$img without --ca-bundle: node's https.get fails on the certificate ($(jqr .data.stdout | head -n 1))"
	api DELETE "/sandboxes/plain-$img"
done
kill -TERM "$(cat "$T_DIR/sandboxd.pid")"
for _ in $(seq 1 300); do kill -0 "$(cat "$T_DIR/sandboxd.pid")" 2>/dev/null || break; sleep 0.1; done
sbd_cleanup

# --- with --ca-bundle: the test's CA only ----------------------------------------
cp "$PKI/ca.crt" "$PKI/given.crt"
sbd_start "${NET_OPTS[@]}" "${IMG_OPTS[@]}" --ca-bundle "$PKI/given.crt"
# the service read it at start: what the file says later is not the sandboxes'
echo garbage >"$PKI/given.crt"
sandboxes ca "${IMGS[@]}"
exec_in ca-host "$CURL"
is "$(jqr .data.stdout)" $'hello over tls\nrc=0' "host with --ca-bundle: curl https:// succeeds"
for img in "${IMGS[@]}"; do
	exec_in "ca-$img" "$PY"
	is "$(jqr .data.stdout)" $'hello over tls\nrc=0' "$img with --ca-bundle: python's urlopen succeeds"
	exec_in "ca-$img" "$NODE"
	is "$(jqr .data.stdout)" $'hello over tls\nrc=0' "$img with --ca-bundle: node's https.get succeeds"
	exec_in "ca-$img" "echo \$NODE_EXTRA_CA_CERTS"
	is "$(jqr .data.stdout)" "$BUNDLE" "$img: NODE_EXTRA_CA_CERTS names the bundle"
	exec_in "ca-$img" "openssl x509 -noout -subject -in $BUNDLE 2>/dev/null || head -c 64 $BUNDLE"
	like "$(jqr .data.stdout)" 'sandboxd test CA' "$img: the bundle is the one given (copied at start)"
	exec_in "ca-$img" "echo x >> $BUNDLE; echo rc=\$?; cat /dev/null > $BUNDLE; rm -f $BUNDLE; mv $BUNDLE /tmp/x"
	like "$(jqr .data.stdout)" '^rc=[1-9]' "$img: the sandbox's root cannot write the bundle"
	exec_in "ca-$img" "awk '\$5 == \"$BUNDLE\" { print \$6 }' /proc/self/mountinfo"
	like "$(jqr .data.stdout)" '^ro(,|$)' "$img: the bundle is a read-only mount"
	exec_in "ca-$img" "$PY"
	is "$(jqr .data.stdout)" $'hello over tls\nrc=0' "$img: and it still serves after the tries"
done
# a file without a PEM certificate stops the start, saying why
echo "not a certificate" >"$PKI/bad.crt"
timeout -s KILL 30 "$SANDBOXD" --data "$T_DIR/bad-data" --instance "b$INSTANCE" --uid-base "$UID_BASE" --uid-slots 64 \
	--ca-bundle "$PKI/bad.crt" >"$T_DIR/bad.log" 2>&1
is "$?" 1 "a --ca-bundle that holds no certificate: sandboxd does not start"
like "$(cat "$T_DIR/bad.log")" "--ca-bundle: $PKI/bad.crt: not PEM certificates" "it says why"
timeout -s KILL 30 "$SANDBOXD" --data "$T_DIR/bad-data" --instance "b$INSTANCE" --uid-base "$UID_BASE" --uid-slots 64 \
	--ca-bundle "$PKI/missing.crt" >"$T_DIR/bad.log" 2>&1
like "$(cat "$T_DIR/bad.log")" "--ca-bundle: read $PKI/missing.crt: No such file" "nor one that is missing"

done_testing
