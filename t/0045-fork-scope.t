#!/bin/bash
# A fork reads another sandbox's files: the caller's token must cover the
# origin as well as the new sandbox.  A team's token may not fork (or fork a
# snapshot of) a sandbox outside its scope into one inside it: 403, and
# nothing is created.  Snapshot routes are per sandbox (the projectId's
# scope), as every other.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
cg_need pids
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
CONF_DIR=$(mktemp -d /tmp/sbd-forkscope.XXXXXX)
ADMIN=adm-$RANDOM$RANDOM$RANDOM
TEAM=team-$RANDOM$RANDOM$RANDOM
printf 'admin sha256:%s *\nteam-a sha256:%s teama-\n' "$(sha "$ADMIN")" "$(sha "$TEAM")" >"$CONF_DIR/tokens"
printf 'tokens-file = %s\ndisk-mb = 64\n' "$CONF_DIR/tokens" >"$CONF_DIR/sandboxd.conf"
T_TRAP='sbd_cleanup; rm -rf "$CONF_DIR"'
sbd_start --config "$CONF_DIR/sandboxd.conf"
A=(-H "Authorization: Bearer $ADMIN")
T=(-H "Authorization: Bearer $TEAM")

api POST /sandboxes/other '' "${A[@]}"
is "$STATUS" 200 "another team's sandbox"
api POST /sandboxes/other/exec '{"command": "echo secret > /workspace/s"}' "${A[@]}"
api POST /sandboxes/other/snapshots '{"name": "s1"}' "${A[@]}"
is "$STATUS" 201 "and its snapshot"

api POST /sandboxes/teama-x '{"from": "other"}' "${T[@]}"
is "$STATUS" 403 "a team token may not fork a sandbox outside its scope ($BODY)"
api POST /sandboxes/teama-x '{"from": "other", "snapshot": "s1"}' "${T[@]}"
is "$STATUS" 403 "nor one of its snapshots"
api GET /sandboxes/teama-x '' "${A[@]}"
is "$STATUS" 404 "nothing was created"
api GET /sandboxes/other/snapshots '' "${T[@]}"
is "$STATUS" 403 "nor list its snapshots"
api POST /sandboxes/other/snapshots/s1/restore '' "${T[@]}"
is "$STATUS" 403 "nor restore them"

api POST /sandboxes/teama-src '' "${T[@]}"
api POST /sandboxes/teama-y '{"from": "teama-src"}' "${T[@]}"
is "$STATUS" 200 "a fork within its scope works"

done_testing
