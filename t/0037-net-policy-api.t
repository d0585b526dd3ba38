#!/bin/bash
# A sandbox's network policy through the API: {"network": {"egress",
# "allowOut", "denyOut"}} on a create, GET/PUT .../network, limits
# egressMbps/ingressMbps, shown in status; a bad policy is a 400 that changes
# nothing (a create makes no sandbox, a PUT keeps the old policy);
# --default-egress; policies survive a restart of the service.  What the
# policy does to packets: t/0038-net-policy.t.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
sbd_start --default-egress allowlist

# a sandbox that asks nothing follows the server's default
api POST /sandboxes/dflt
is "$STATUS" 200 "create without a policy"
api GET /sandboxes/dflt
is "$(jqr .data.network.egress)" allowlist "status shows the server's --default-egress"
is "$(jqr .data.limits.egressMbps)/$(jqr .data.limits.ingressMbps)" 0/0 "  and no bandwidth caps (the server's default: none)"
is "$(jqr '.data.network.allowOut | length')" 0 "  with no allowOut entry"

api POST /sandboxes/a '{"network":{"egress":"public","denyOut":["198.19.0.10","203.0.113.0/24"]},"limits":{"egressMbps":50,"ingressMbps":200}}'
is "$STATUS" 200 "create with a policy and bandwidth caps"
api GET /sandboxes/a
is "$(jqr .data.network.egress)" public "status: egress public"
is "$(jqr '.data.network.denyOut | join(",")')" "198.19.0.10/32,203.0.113.0/24" "status: denyOut as CIDRs"
is "$(jqr '.data.network.allowOut | length')" 0 "status: no allowOut"
is "$(jqr .data.limits.egressMbps)" 50 "limits.egressMbps 50"
is "$(jqr .data.limits.ingressMbps)" 200 "limits.ingressMbps 200"
n0=$(grep -c 'sandbox.network' "$T_DIR/sandboxd.log")
api POST /sandboxes/a '{"network":{"egress":"public","denyOut":["198.19.0.10","203.0.113.0/24"]},"limits":{"egressMbps":50,"ingressMbps":200}}'
is "$STATUS" 200 "the same create again (a create-or-get repeated by its client)"
is "$(grep -c 'sandbox.network' "$T_DIR/sandboxd.log")" "$n0" "  changes nothing (no policy written again)"
api GET /sandboxes/a/network
is "$STATUS" 200 "GET .../network"
is "$(jqr .data.egress)/$(jqr '.data.denyOut | length')" public/2 "  answers the policy"

# bad policies: 400 and no sandbox made
n=0
for body in '{"network":{"egress":"open"}}' '{"network":"public"}' '{"network":{"egress":1}}' \
	'{"network":{"allowOut":["10.0.0.1/8"]}}' '{"network":{"allowOut":["::1"]}}' \
	'{"network":{"allowOut":["127.1"]}}' '{"network":{"denyOut":["1.2.3.4/33"]}}' \
	'{"network":{"denyOut":"1.2.3.4"}}' '{"network":{"allowout":[]}}' \
	'{"limits":{"egressMbps":-1}}' '{"limits":{"ingressMbps":"fast"}}' '{"limits":{"egressMbps":0}}'; do
	n=$((n + 1))
	api POST "/sandboxes/bad$n" "$body"
	is "$STATUS" 400 "create with $body -> 400"
	like "$(jqr .error)" 'network|Mbps' "  the error names what is wrong: $(jqr .error)"
	api GET "/sandboxes/bad$n"
	is "$STATUS" 404 "  and no sandbox bad$n was made"
done
many=$(jq -cn '[range(0; 65) | "10.1.\(.).0/24"]')
api POST /sandboxes/bigc "{\"network\":{\"egress\":\"allowlist\",\"allowOut\":$many}}"
is "$STATUS" 400 "65 allowOut entries -> 400"
like "$(jqr .error)" 'more than 64' "  the error says the most ($(jqr .error))"

# a live change: PUT replaces the whole policy; the caps stay
api PUT /sandboxes/a/network '{"egress":"allowlist","allowOut":["198.19.0.0/16"]}'
is "$STATUS" 200 "PUT .../network"
is "$(jqr .data.egress)" allowlist "  answers the new policy"
api GET /sandboxes/a
is "$(jqr .data.network.egress)" allowlist "status: now allowlist"
is "$(jqr '.data.network.allowOut | join(",")')" 198.19.0.0/16 "status: allowOut 198.19.0.0/16"
is "$(jqr '.data.network.denyOut | length')" 0 "status: denyOut left out of the PUT is empty now"
is "$(jqr .data.limits.egressMbps)" 50 "the caps are unchanged by a PUT of the policy"

for body in '{"egress":"everything"}' '{"allowOut":["300.1.1.1"]}' "{\"denyOut\":$many}" '[]' \
	'{"egress":"none","denyOut":["10.0.0.0/8"],"bogus":1}'; do
	api PUT /sandboxes/a/network "$body"
	is "$STATUS" 400 "PUT $(printf '%.60s' "$body") -> 400"
done
api PUT /sandboxes/a/network 'not json'
is "$STATUS" 400 "PUT of a body that is no JSON -> 400"
api GET /sandboxes/a
is "$(jqr .data.network.egress)/$(jqr '.data.network.allowOut | join(",")')" allowlist/198.19.0.0/16 \
	"after the refused PUTs the policy is unchanged"
api PUT /sandboxes/nosuch/network '{"egress":"none"}'
is "$STATUS" 404 "PUT on a sandbox that does not exist -> 404"
api PUT /sandboxes/nosuch/network '{"egress":"bad"}'
is "$STATUS" 400 "  (a bad body there: 400 first)"
api DELETE /sandboxes/a/network
is "$STATUS" 405 "DELETE .../network -> 405"

# a create on an existing sandbox changes what it names, as limits do
api POST /sandboxes/a '{"limits":{"egressMbps":300}}'
is "$STATUS" 200 "a create of the existing sandbox raising the egress cap"
api GET /sandboxes/a
is "$(jqr .data.limits.egressMbps)/$(jqr .data.limits.ingressMbps)" 300/200 "  egress cap 300, ingress kept"
is "$(jqr .data.network.egress)" allowlist "  and the policy kept (no network given)"
api POST /sandboxes/dflt '{"network":{"egress":"none"}}'
api GET /sandboxes/dflt
is "$(jqr .data.network.egress)" none "a create of an existing sandbox with a network sets it"

# a restart keeps every policy (and the default is the server's, as it is now)
kill -TERM "$(cat "$T_DIR/sandboxd.pid")"
for _ in $(seq 1 300); do kill -0 "$(cat "$T_DIR/sandboxd.pid")" 2>/dev/null || break; sleep 0.1; done
"$SANDBOXD" --data "$DATA" --instance "$INSTANCE" --workers 3 --uid-base "$UID_BASE" --uid-slots 64 \
	--pidfile "$T_DIR/sandboxd.pid" >>"$T_DIR/sandboxd.log" 2>&1 &
for _ in $(seq 1 600); do api GET /healthz; [ "$STATUS" = 200 ] && break; sleep 0.1; done
api GET /sandboxes/a
is "$(jqr .data.network.egress)/$(jqr '.data.network.allowOut | join(",")')" allowlist/198.19.0.0/16 \
	"after a restart a's policy is kept"
is "$(jqr .data.limits.ingressMbps)" 200 "  and its ingress cap"
api GET /sandboxes/dflt
is "$(jqr .data.network.egress)" none "  and dflt's"
api POST /sandboxes/fresh
api GET /sandboxes/fresh
is "$(jqr .data.network.egress)" public "a sandbox that never asked follows the new default (public)"

done_testing
