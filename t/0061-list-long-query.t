#!/bin/bash
# Review of GET /sandboxes (issue 17 item 2): a query value longer than
# api_list.c's buffer (prefix and cursor 63 bytes, status and limit 15) is
# dropped by http_query (NULL, as if absent), so the filter is silently
# ignored: "prefix=<70 characters>" lists every sandbox of the scope
# (a cleanup script destroying what a prefix lists destroys them all), a
# too long cursor restarts at the first page (a client paging loops for
# ever), a long status filters nothing.  Each must be a 400 (or, for a
# prefix no id can have, an empty list).
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
sbd_start --uid-slots 4

api POST /sandboxes/a
is "$STATUS" 200 "create a"
api POST /sandboxes/b
is "$STATUS" 200 "create b"
long=$(printf 'c%.0s' $(seq 1 70))

api GET "/sandboxes?prefix=$long"
ok $([ "$STATUS" = 400 ] || [ "$STATUS/$(jqr '.data.sandboxes | length')" = 200/0 ]; echo $?) \
	"a 70-character prefix lists nothing (or is a 400), not every sandbox" ||
	diag "got: $STATUS $(jqr '[.data.sandboxes[]?.projectId] | join(",")')"
api GET "/sandboxes?cursor=$long"
is "$STATUS" 400 "a 70-character cursor is not the nextCursor of any page: 400"
api GET "/sandboxes?status=runningrunningrunning"
is "$STATUS" 400 "a long status that is neither running nor stopped: 400"
api GET "/sandboxes?limit=00000000000000000001"
ok $([ "$STATUS" = 400 ] || [ "$(jqr '.data.sandboxes | length')" = 1 ]; echo $?) \
	"limit=00000000000000000001 is 1 (or a 400), not the default" ||
	diag "got: $STATUS $(jqr '.data.sandboxes | length') sandboxes"
done_testing
