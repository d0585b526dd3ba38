#!/bin/bash
# Review (issue 16): SIGHUP lets a stream run to its end (up to
# --log-follow-max, an hour by default).  A token the operator revokes
# (removed from the tokens file, then SIGHUP) keeps its open log follow:
# the sandbox's output goes on reaching the revoked holder, and the reload
# never says "done" while it is open.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

CONF_DIR=$(mktemp -d /tmp/sbd-conf.XXXXXX)
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
TOKEN=tok-$RANDOM$RANDOM$RANDOM
ADMIN=tok-$RANDOM$RANDOM$RANDOM
printf 'up sha256:%s up-\nadmin sha256:%s *\n' "$(sha "$TOKEN")" "$(sha "$ADMIN")" >"$CONF_DIR/tokens"
sbd_start --tokens-file "$CONF_DIR/tokens" --stream-heartbeat 1
FOLLOW=
trap '[ -n "$FOLLOW" ] && kill "$FOLLOW" 2>/dev/null; sbd_cleanup; rm -rf "$CONF_DIR"' EXIT

api POST /sandboxes/up-a '{}' -H "Authorization: Bearer $TOKEN"
is "$STATUS" 200 "the tenant's sandbox is created"
api POST /sandboxes/up-a/processes '{"command":"while :; do echo tick; sleep 0.5; done"}' \
	-H "Authorization: Bearer $TOKEN"
is "$STATUS" 200 "a chatty background process starts"
PID_ID=$(jqr .data.id)

# (-m 300: the follow must end by the reload, within sbd_reload's 60 s,
# not by curl's own end)
curl -s -N -m 300 -o "$CONF_DIR/follow.out" -H "Authorization: Bearer $TOKEN" \
	"$BASE/sandboxes/up-a/processes/$PID_ID/logs?stream=1" &
FOLLOW=$!
# (polled: a tick every 0.5 s, but the follow's start may be slow)
for _ in $(seq 1 300); do grep -q tick "$CONF_DIR/follow.out" && break; sleep 0.1; done
like "$(grep -c tick "$CONF_DIR/follow.out")" '^[1-9]' "the follow receives the process's output"

# the operator revokes the token
printf 'admin sha256:%s *\n' "$(sha "$ADMIN")" >"$CONF_DIR/tokens"
sbd_reload
ok $? "the reload is done (the old workers gone) while the revoked token's follow was open"
api GET /sandboxes/up-a '' -H "Authorization: Bearer $TOKEN"
is "$STATUS" 401 "the revoked token is refused on a new request"
n1=$(wc -c <"$CONF_DIR/follow.out")
sleep 3
n2=$(wc -c <"$CONF_DIR/follow.out")
is "$n2" "$n1" "the revoked token's follow gets nothing more after the reload"
kill -0 "$FOLLOW" 2>/dev/null
ok $((! $?)) "the revoked token's follow has ended"

kill "$FOLLOW" 2>/dev/null
wait "$FOLLOW" 2>/dev/null
FOLLOW=
done_testing
