#!/bin/bash
# A status read's network counters (networkInBytes/networkOutBytes: the
# host end of the sandbox's link, read through a route socket each worker
# keeps) are the kernel's counters of that interface at that moment, as a
# new socket (ip -s link) reads them: in every worker, after traffic, and
# after the sandbox is destroyed and made again under its name (a new
# interface, maybe of the same name).  All inside namespaces this test
# makes (t/netlib.sh): nothing leaves the machine.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
. "$TOP_SRCDIR/t/netlib.sh"
net_topology "$@"

T_WORKERS=3 sbd_start "${NET_OPTS[@]}"

# host_if ID: the host end of ID's link (the /31's even address)
host_if() {
	local addr gw
	api GET "/sandboxes/$1"
	addr=$(jqr .data.network.address)
	gw=$(printf '%s' "$addr" | awk -F. '{ print $1"."$2"."$3"."($4-1) }')
	ip -o -4 addr show | awk -v a="$gw/31" '$4 == a { print $2 }'
}
# ip_counters IF: "in/out" as the sandbox sees them (the host end's tx/rx)
ip_counters() {
	ip -s -j link show dev "$1" | jq -r '.[0].stats64 | "\(.tx.bytes)/\(.rx.bytes)"'
}
# same_counters ID IF LABEL: 12 status reads (over the workers) answer the
# interface's counters; a read is compared when the counters did not move
# around it (nothing runs in the sandbox: they do not)
same_counters() {
	local id=$1 ifn=$2 label=$3 before after got bad=0 n=0
	for _ in $(seq 1 12); do
		before=$(ip_counters "$ifn")
		api GET "/sandboxes/$id"
		after=$(ip_counters "$ifn")
		got="$(jqr .data.usage.networkInBytes)/$(jqr .data.usage.networkOutBytes)"
		[ "$before" = "$after" ] || continue
		n=$((n + 1))
		[ "$got" = "$before" ] || { bad=1; diag "status $got, ip -s link $before"; }
	done
	ok $([ "$bad" = 0 ] && [ "$n" -ge 6 ]; echo $?) "$label: status answers $ifn's counters ($before; $n reads compared)"
}

api POST /sandboxes/a
is "$STATUS" 200 "a created with networking on"
IF=$(host_if a)
like "$IF" '^vs' "a's host end found ($IF)"
same_counters a "$IF" "a new sandbox"

exec_in a "curl -s -m 10 -o /dev/null -w %{http_code} http://$NET_PUBLIC/"
is "$(jqr .data.stdout)" 200 "a fetches from the stand-in"
same_counters a "$IF" "after a's traffic"
exec_in a "curl -s -m 10 -o /dev/null -w %{http_code} http://$NET_PUBLIC/ip; curl -s -m 10 -o /dev/null http://$NET_PUBLIC/"
same_counters a "$IF" "after more of a's traffic"

# a neighbour's counters are its own, read through the same kept sockets
api POST /sandboxes/b
is "$STATUS" 200 "b created"
IFB=$(host_if b)
isnt "$IFB" "$IF" "b has a host end of its own ($IFB)"
same_counters b "$IFB" "b, read after a"
same_counters a "$IF" "a, read after b"

# the same name, a new interface: its counters start again
api POST /sandboxes/a/destroy
is "$STATUS" 200 "a destroyed"
api POST /sandboxes/a
is "$STATUS" 200 "a made again"
IF2=$(host_if a)
like "$IF2" '^vs' "a's new host end found ($IF2)"
same_counters a "$IF2" "a made again"
exec_in a "curl -s -m 10 -o /dev/null -w %{http_code} http://$NET_PUBLIC/"
is "$(jqr .data.stdout)" 200 "the new a fetches from the stand-in"
same_counters a "$IF2" "after the new a's traffic"

done_testing
