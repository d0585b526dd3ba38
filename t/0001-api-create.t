#!/bin/bash
# The seed's quick start: create a sandbox, run a command, in the seed's shapes.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
sbd_start

api POST /sandboxes/test-project
is "$STATUS" 200 "POST /sandboxes/:id answers 200"
is "$BODY" '{"success":true,"data":{"projectId":"test-project","status":"ready","message":"Sandbox ready"}}' \
	"create answers the seed's response exactly"

api POST /sandboxes/test-project/exec '{"command": "echo Hello"}'
is "$STATUS" 200 "exec answers 200"
is "$(jqr .success)" true "success is true"
is "$(jqr .data.stdout)" "Hello" "stdout is Hello"
is "$(printf '%s' "$BODY" | jq -c '.data.stdout')" '"Hello\n"' "stdout carries the newline"
is "$(jqr .data.stderr)" "" "stderr is empty"
is "$(jqr .data.exitCode)" 0 "exitCode is 0"
is "$(jqr '.data.timedOut')" false "timedOut is false"
is "$(jqr '.data.truncated')" false "truncated is false"
like "$(jqr '.data.durationMs')" '^[0-9]+$' "durationMs is a number"

done_testing
