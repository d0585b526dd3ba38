#!/bin/bash
# An init that does not answer (stopped from the host): every request that
# waits on it ends as the same 504 after its named timeout, whichever call
# waited (an exec's start, a file operation), and each 5xx is logged with
# its request id (a file write's 507 too).
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
sbd_start --disk-mb 64 --max-disk-mb 128

# logged_with_rid PATH STATUS: the error line behind the request's 5xx
logged_with_rid() {
	local rid
	# the request's line is written as its answer goes: wait for it (bounded)
	for _ in $(seq 1 1200); do
		grep -q " path=$1 .* status=$2 " "$T_DIR/sandboxd.log" && break
		sleep 0.05
	done
	rid=$(grep " path=$1 .* status=$2 " "$T_DIR/sandboxd.log" | tail -n 1 | sed 's/.* rid=\([0-9a-f]*\) .*/\1/')
	[ -n "$rid" ] && grep " level=error rid=$rid " "$T_DIR/sandboxd.log"
}

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
like "$(logged_with_rid /sandboxes/quiet/exec 504)" "did not answer" \
	"the 504 is logged with its request id"

kill -CONT "$INIT"
exec_in quiet 'echo again'
is "$(jqr .data.stdout)" again "after SIGCONT the sandbox answers again"

# a full sandbox disk: the file write's 507 is logged like any 5xx
api POST /sandboxes/full '{"limits":{"diskMb":16}}'
is "$STATUS" 200 "a sandbox with a 16 MiB disk"
exec_in full 'dd if=/dev/zero of=/workspace/fill bs=1M count=64 2>/dev/null; echo filled'
is "$(jqr .data.stdout)" filled "its disk is filled from inside"
head -c 4194304 /dev/zero | tr '\0' x | jq -Rsc '{content: .}' >"$T_DIR/more.json"
api PUT /sandboxes/full/files/workspace/more "@$T_DIR/more.json"
is "$STATUS" 507 "a file write on the full disk: 507"
like "$(logged_with_rid /sandboxes/full/files/workspace/more 507)" "level=error" \
	"the 507 is logged with its request id"

done_testing
