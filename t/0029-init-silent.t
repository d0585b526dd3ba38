#!/bin/bash
# An init that does not answer (stopped from the host): every request that
# waits on it ends as the same 504 after its named timeout, whichever call
# waited (an exec's start, a file operation), and each 5xx is logged with
# its request id.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
sbd_start

api POST /sandboxes/quiet
is "$STATUS" 200 "sandbox created"
exec_in quiet 'echo up'
is "$(jqr .data.stdout)" up "it runs commands"
INIT=$(init_of quiet)
ok $([ -n "$INIT" ]; echo $?) "its init is found on the host ($INIT)"
kill -STOP "$INIT"
trap 'kill -CONT '"$INIT"' 2>/dev/null; sbd_cleanup' EXIT

api POST /sandboxes/quiet/exec '{"command": "echo never"}'
is "$STATUS" 504 "an exec the stopped init never starts: 504, as a file operation's silence"
like "$(jqr .error)" "did not answer" "it says the sandbox did not answer"
# the request's line is written as its answer goes: wait for it (bounded)
for _ in $(seq 1 100); do
	grep -q ' path=/sandboxes/quiet/exec .* status=504 ' "$T_DIR/sandboxd.log" && break
	sleep 0.05
done
RID=$(grep ' path=/sandboxes/quiet/exec .* status=504 ' "$T_DIR/sandboxd.log" | sed 's/.* rid=\([0-9a-f]*\) .*/\1/')
ok $([ -n "$RID" ]; echo $?) "the 504 is in the access log ($RID)"
like "$(grep " level=error rid=$RID " "$T_DIR/sandboxd.log")" "did not answer" \
	"the 504 is logged with its request id"

kill -CONT "$INIT"
exec_in quiet 'echo again'
is "$(jqr .data.stdout)" again "after SIGCONT the sandbox answers again"

done_testing
