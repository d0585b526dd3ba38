#!/bin/bash
# An init that does not answer (stopped from the host) while a background
# process runs: the process routes wait for its table (sandbox_plist, 10 s)
# like any other request to it, and its silence is the 504 of every other
# route (issue 14: "init silence is 504 everywhere").  It is not a stopped
# sandbox: the process must not be recorded as killed ("sandbox stopped",
# exit 137) while it runs on, which leaves it running for good with a record
# that says it ended, and that DELETE then no longer kills.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
cg_need pids
sbd_start

api POST /sandboxes/hush
is "$STATUS" 200 "sandbox created"
api POST /sandboxes/hush/processes '{"command": "sleep 600", "processId": "bg"}'
is "$STATUS:$(jqr .data.status)" "200:running" "a background process runs"
INIT=$(init_of hush)
ok $([ -n "$INIT" ]; echo $?) "its init is found on the host ($INIT)"
kill -STOP "$INIT"
trap 'kill -CONT '"$INIT"' 2>/dev/null; sbd_cleanup' EXIT

api GET /sandboxes/hush/processes/bg
isnt "$(jqr .data.status)" killed "while the init is silent, the process is not reported killed ($STATUS: $BODY)"
is "$STATUS" 504 "the process's GET is the init's silence: 504"
api GET /sandboxes/hush/processes
is "$STATUS" 504 "so is the list"

kill -CONT "$INIT"
exec_in hush 'pgrep -x sleep >/dev/null && echo running'
is "$(jqr .data.stdout)" running "after SIGCONT the process still runs in the sandbox"
api GET /sandboxes/hush/processes/bg
is "$(jqr .data.status)" running "and its record says it runs ($BODY)"
api DELETE '/sandboxes/hush/processes/bg?signal=KILL'
exec_in hush 'pgrep -x sleep >/dev/null && echo running || echo gone'
is "$(jqr .data.stdout)" gone "DELETE of the process ends it"

done_testing
