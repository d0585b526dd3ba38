#!/bin/bash
# Review (issue 16): buffered (non-stream) execs stay in the short-request
# pool for up to max-timeout (10 minutes), and the per-token request cap
# (max-requests-per-token, default 64) is not below max-workers (default 64):
# one token's slow buffered execs take every pool worker, and /healthz and
# every other tenant hang until they end.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

CONF_DIR=$(mktemp -d /tmp/sbd-conf.XXXXXX)
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
TOKEN=tok-$RANDOM$RANDOM$RANDOM
OTHER=tok-$RANDOM$RANDOM$RANDOM
printf 'up sha256:%s up-\nother sha256:%s ot-\n' "$(sha "$TOKEN")" "$(sha "$OTHER")" >"$CONF_DIR/tokens"
T_WORKERS=2
# the defaults but a small pool (max-requests-per-token stays its default)
sbd_start --tokens-file "$CONF_DIR/tokens" --max-workers 4 --min-spare-workers 1 --max-spare-workers 2
trap 'sbd_cleanup; rm -rf "$CONF_DIR"' EXIT

api POST /sandboxes/up-a '{}' -H "Authorization: Bearer $TOKEN"
is "$STATUS" 200 "the first tenant's sandbox is created"
api POST /sandboxes/ot-a '{}' -H "Authorization: Bearer $OTHER"
is "$STATUS" 200 "the other tenant's sandbox is created"

CURLS=
for i in 1 2 3 4 5 6; do
	curl -s -o /dev/null -m 40 -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
		--data-binary '{"command":"sleep 20","timeout":30000}' "$BASE/sandboxes/up-a/exec" &
	CURLS="$CURLS $!"
done
sleep 4

code=$(curl -s -m 8 -o /dev/null -w '%{http_code}' "$BASE/healthz")
is "$code" 200 "/healthz answers while one token runs slow buffered execs (within 8 s)"
code=$(curl -s -m 8 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $OTHER" "$BASE/sandboxes/ot-a")
is "$code" 200 "another tenant's status answers meanwhile (within 8 s)"

# the clients go (their execs are killed with them): no wait for the 20 s
kill $CURLS 2>/dev/null
wait $CURLS 2>/dev/null
done_testing
