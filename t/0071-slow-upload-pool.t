#!/bin/bash
# Review (issue 16): a raw file PUT body trickled at a byte a second holds a
# short-request pool worker for as long as the client keeps trickling (the
# upload route is unbuffered, nginx's client_body_timeout is per read, and the
# worker reads FastCGI stdin with no deadline of its own).  max-workers such
# uploads from one token starve the pool: /healthz and other tenants hang.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

CONF_DIR=$(mktemp -d /tmp/sbd-conf.XXXXXX)
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
TOKEN=tok-$RANDOM$RANDOM$RANDOM
printf 'up sha256:%s up-\n' "$(sha "$TOKEN")" >"$CONF_DIR/tokens"
T_WORKERS=2
sbd_start --tokens-file "$CONF_DIR/tokens" --max-workers 4 --min-spare-workers 1 --max-spare-workers 2
TRICKLERS=
trap 'for p in $TRICKLERS; do kill "$p" 2>/dev/null; done; sbd_cleanup; rm -rf "$CONF_DIR"' EXIT

api POST /sandboxes/up-a '{}' -H "Authorization: Bearer $TOKEN"
is "$STATUS" 200 "the tenant's sandbox is created"

# one tenant, one token: 6 uploads (more than max-workers), each a byte a second
for i in 1 2 3 4 5 6; do
	(
		exec 3<>"/dev/tcp/127.0.0.1/$PORT"
		printf 'PUT /sandboxes/up-a/files/tmp/f%d HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n' \
			"$i" "$TOKEN" >&3
		for _ in $(seq 1 40); do printf x >&3 || exit; sleep 1; done
	) &
	TRICKLERS="$TRICKLERS $!"
done
sleep 4

code=$(curl -s -m 8 -o /dev/null -w '%{http_code}' "$BASE/healthz")
is "$code" 200 "/healthz answers while one tenant trickles uploads (within 8 s)"
code=$(curl -s -m 8 -o /dev/null -w '%{http_code}' "$BASE/metrics")
like "$code" "^(200|401)$" "/metrics answers (200, or 401 without a token) while one tenant trickles uploads (within 8 s)"

for p in $TRICKLERS; do kill "$p" 2>/dev/null; done
wait $TRICKLERS 2>/dev/null
done_testing
