#!/bin/bash
# Review of the h18-reload merge (b40327e), claim 2: a stream notices a
# reload within about a second and ends if the reload revoked its token,
# keeps going if not.  Two reloads: the first keeps the token (the stream
# goes on), the second revokes it: the stream must end then too.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

CONF_DIR=$(mktemp -d /tmp/sbd-conf.XXXXXX)
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
TOKEN=tok-$RANDOM$RANDOM$RANDOM
ADMIN=tok-$RANDOM$RANDOM$RANDOM
printf 'up sha256:%s up-\nadmin sha256:%s *\n' "$(sha "$TOKEN")" "$(sha "$ADMIN")" >"$CONF_DIR/tokens"
sbd_start --tokens-file "$CONF_DIR/tokens" --stream-heartbeat 1
FOLLOW=
EXEC=
trap '[ -n "$FOLLOW" ] && kill "$FOLLOW" 2>/dev/null; [ -n "$EXEC" ] && kill "$EXEC" 2>/dev/null; sbd_cleanup; rm -rf "$CONF_DIR"' EXIT

api POST /sandboxes/up-a '{}' -H "Authorization: Bearer $TOKEN"
is "$STATUS" 200 "the tenant's sandbox is created"
api POST /sandboxes/up-a/processes '{"command":"while :; do echo tick; sleep 0.5; done"}' \
	-H "Authorization: Bearer $TOKEN"
is "$STATUS" 200 "a chatty background process starts"
PID_ID=$(jqr .data.id)

curl -s -N -m 60 -o "$CONF_DIR/follow.out" -H "Authorization: Bearer $TOKEN" \
	"$BASE/sandboxes/up-a/processes/$PID_ID/logs?stream=1" &
FOLLOW=$!
# and a long silent buffered exec of the same token
curl -s -m 60 -o "$CONF_DIR/exec.out" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
	-H 'Content-Type: application/json' --data-binary '{"command":"sleep 40; echo done","timeout":60000}' \
	"$BASE/sandboxes/up-a/exec" >"$CONF_DIR/exec.status" &
EXEC=$!
# (polled: a tick every 0.5 s, but the follow's start may be slow)
for _ in $(seq 1 300); do grep -q tick "$CONF_DIR/follow.out" && break; sleep 0.1; done
like "$(grep -c tick "$CONF_DIR/follow.out")" '^[1-9]' "the follow receives the process's output"

# a first reload, the token kept
sbd_reload
ok $? "a reload that keeps the token is done"
n1=$(wc -c <"$CONF_DIR/follow.out")
for _ in $(seq 1 300); do [ "$(wc -c <"$CONF_DIR/follow.out")" -gt "$n1" ] && break; sleep 0.1; done
n2=$(wc -c <"$CONF_DIR/follow.out")
ok $(( n2 > n1 ? 0 : 1 )) "the follow goes on across a reload that kept its token"

# then the operator revokes the token
printf 'admin sha256:%s *\n' "$(sha "$ADMIN")" >"$CONF_DIR/tokens"
T0=$(date +%s)
kill -HUP "$(cat "$T_DIR/sandboxd.pid")"
for _ in $(seq 1 600); do kill -0 "$FOLLOW" 2>/dev/null || break; sleep 0.1; done
kill -0 "$FOLLOW" 2>/dev/null
ok $((! $?)) "the follow ends at the second reload, that revoked its token (after $(( $(date +%s) - T0 )) s)"
for _ in $(seq 1 600); do kill -0 "$EXEC" 2>/dev/null || break; sleep 0.1; done
kill -0 "$EXEC" 2>/dev/null
ok $((! $?)) "the long buffered exec ends at the second reload, that revoked its token"
diag "exec: $(cat "$CONF_DIR/exec.status") $(head -c 200 "$CONF_DIR/exec.out")"
api GET /sandboxes/up-a '' -H "Authorization: Bearer $TOKEN"
is "$STATUS" 401 "the revoked token is refused on a new request"
n1=$(wc -c <"$CONF_DIR/follow.out")
sleep 2
n2=$(wc -c <"$CONF_DIR/follow.out")
is "$n2" "$n1" "the revoked token's follow gets nothing more"
kill "$FOLLOW" "$EXEC" 2>/dev/null
wait "$FOLLOW" "$EXEC" 2>/dev/null
FOLLOW= EXEC=
done_testing
