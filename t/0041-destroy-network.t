#!/bin/bash
# Destroy and the network (issue 17, item 1): a destroyed sandbox's /31
# goes to the next owner of its uid slot with nothing of the old policy (no
# element of its address left in the nft sets, its own4 mark included, so
# the new owner follows --default-egress), and its exposed ports go with it
# (a new sandbox of the same id has none).
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
. "$TOP_SRCDIR/t/netlib.sh"
net_topology "$@"
# one slot: the next sandbox gets the destroyed one's address
sbd_start "${NET_OPTS[@]}" --uid-slots 1 --default-egress none --preview-domain http://preview.test
TBL=sandboxd_${INSTANCE//-/_}

addr_of() { api GET "/sandboxes/$1"; jqr .data.network.address; }
# the nft elements naming address $1, one per line
elements_of() {
	nft list table inet "$TBL" 2>/dev/null | grep -cE "(^|[^0-9.])${1//./\\.}([^0-9/]|\$)"
}

api POST /sandboxes/a '{"network":{"egress":"allowlist","allowOut":["198.19.0.0/16"],"denyOut":["198.19.0.10"]}}'
is "$STATUS" 200 "create a with a policy of its own"
exec_in a 'true'
A_ADDR=$(addr_of a)
like "$A_ADDR" '^[0-9.]+$' "  a has address $A_ADDR"
ok $([ "$(elements_of "$A_ADDR")" -gt 0 ]; echo $?) "  its policy is in the nft sets ($(elements_of "$A_ADDR") elements)"
api POST /sandboxes/a/ports '{"port": 3000}'
is "$STATUS" 201 "  a exposes port 3000"

api POST /sandboxes/a/destroy
is "$STATUS" 200 "destroy a"
is "$(elements_of "$A_ADDR")" 0 "  no element of its address is left in the sets"

api POST /sandboxes/b
is "$STATUS" 200 "create b: the freed slot"
exec_in b 'true'
is "$(addr_of b)" "$A_ADDR" "  b has a's old address"
api GET /sandboxes/b
is "$(jqr .data.network.egress)" none "  and follows --default-egress (none), not a's policy"
is "$(jqr '.data.network.allowOut | length')" 0 "  with no allowOut of a's"
api POST /sandboxes/b/destroy
api POST /sandboxes/a
is "$STATUS" 200 "a again"
api GET /sandboxes/a/ports
is "$(jqr '.data.ports | length')" 0 "  has none of the old a's exposed ports"

done_testing
