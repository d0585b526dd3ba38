# The network tests' topology: nothing they send can leave the machine.
#
# A test sources t/lib.sh, then this, then calls net_topology "$@" first
# thing.  The first run of the script (outside) makes two namespaces and
# runs the script again inside the first one, then removes both whatever
# happened:
#   host (sbdhPID)  the service, nginx and the sandboxes' host ends live
#                   here; its only uplink is up0 198.18.0.2/24, default
#                   route via the other end
#   inet (sbdiPID)  the stand-in internet: 198.18.0.1 on the link, and on
#                   its loopback a "public" 198.19.0.10, a DNS server
#                   198.19.0.53 (public.test -> 198.19.0.10), and fakes of
#                   the cloud metadata 169.254.169.254, a private 10.250.0.1
#                   and a CGNAT 100.64.0.1.  t/netserve.py answers on all
#                   of them on TCP ports 80, 25, 5001 and 5002 and UDP 9999, and
#                   logs every connection or datagram to $NET_DIR/conn.log.
# Inside, start the service with "${NET_OPTS[@]}" (networking on, the
# stand-in range allowed, the stand-in DNS as the upstream resolver).
# nsenter, not `ip netns exec`: that one mounts a new /sys over cgroupfs.

NET_PUBLIC=198.19.0.10
NET_UPLINK=198.18.0.2	# the host's address, what the stand-in sees after NAT
NET_FAKES="169.254.169.254 10.250.0.1 100.64.0.1"

net_down() {
	local p
	for p in "$NET_DIR"/*.pid; do
		[ -f "$p" ] && kill -TERM "$(cat "$p")" 2>/dev/null
	done
	ip netns del "$NET_HOST" 2>/dev/null
	ip netns del "$NET_INET" 2>/dev/null
	if [ "${T_KEEP:-0}" = 1 ]; then echo "# kept $NET_DIR" >&2; else rm -rf "$NET_DIR"; fi
}

net_up() {
	local a
	ip netns add "$NET_HOST" && ip netns add "$NET_INET" || return 1
	ip -n "$NET_HOST" link set lo up && ip -n "$NET_INET" link set lo up &&
	# a host that does not forward, as a fresh one (a new namespace copies
	# the machine's ip_forward): the service turns it on, for its own
	nsenter --net="/run/netns/$NET_HOST" sh -c 'echo 0 >/proc/sys/net/ipv4/ip_forward' &&
	ip -n "$NET_HOST" link add up0 type veth peer name dn0 netns "$NET_INET" &&
	ip -n "$NET_HOST" addr add "$NET_UPLINK/24" dev up0 && ip -n "$NET_HOST" link set up0 up &&
	ip -n "$NET_HOST" route add default via 198.18.0.1 &&
	ip -n "$NET_INET" addr add 198.18.0.1/24 dev dn0 && ip -n "$NET_INET" link set dn0 up || return 1
	for a in $NET_PUBLIC 198.19.0.53 $NET_FAKES; do
		ip -n "$NET_INET" addr add "$a/32" dev lo || return 1
	done
	nsenter --net="/run/netns/$NET_INET" python3 "$TOP_SRCDIR/t/netserve.py" "$NET_DIR/conn.log" \
		80 25 5001 5002 u9999 >>"$NET_DIR/netserve.log" 2>&1 &
	echo $! >"$NET_DIR/netserve.pid"
	nsenter --net="/run/netns/$NET_INET" /usr/sbin/dnsmasq --keep-in-foreground --conf-file=/dev/null \
		--no-resolv --no-hosts --bind-interfaces --listen-address=198.19.0.53 \
		--address=/public.test/$NET_PUBLIC --pid-file= --log-facility=- \
		>>"$NET_DIR/dns.log" 2>&1 &
	echo $! >"$NET_DIR/dns.pid"
	echo "nameserver 198.19.0.53" >"$NET_DIR/resolv.conf"
	chmod 0644 "$NET_DIR/resolv.conf"
	# (python's start on a loaded host: 60 s at most, a pass goes on at once);
	# the stand-in's DNS too, bound before the first name is asked
	for _ in $(seq 1 1200); do
		grep -q ready "$NET_DIR/conn.log" 2>/dev/null &&
			nsenter --net="/run/netns/$NET_INET" ss -Hlnu 'sport = 53' 2>/dev/null | grep -q '198\.19\.0\.53:53' && return 0
		sleep 0.05
	done
	return 1
}

# net_topology "$@": outside, make the namespaces and run this script inside
# (exits with its status); inside, set NET_OPTS and return.
net_topology() {
	local rc
	[ "$(id -u)" = 0 ] || skip_all "needs root (namespaces)"
	for c in ip nsenter python3; do command -v "$c" >/dev/null || skip_all "no $c"; done
	[ -x /usr/sbin/dnsmasq ] || skip_all "no /usr/sbin/dnsmasq (dnsmasq-base)"
	if [ -n "${SBD_NET_INSIDE:-}" ]; then
		NET_OPTS=(--network --egress-allow 198.18.0.0/15 --net-resolv-conf "$NET_DIR/resolv.conf")
		return 0
	fi
	NET_DIR=$(mktemp -d /tmp/sbd-net.XXXXXX) || bail "mktemp"
	chmod 0755 "$NET_DIR"
	NET_HOST=sbdh$$ NET_INET=sbdi$$
	trap net_down EXIT
	net_up || bail "cannot make the test's network namespaces: $(cat "$NET_DIR"/*.log 2>/dev/null | tail -n 3)"
	SBD_NET_INSIDE=1 NET_DIR=$NET_DIR NET_HOST=$NET_HOST NET_INET=$NET_INET \
		nsenter --net="/run/netns/$NET_HOST" bash "$0" "$@"
	rc=$?
	exit $rc
}

# conns PATTERN: how many connections the stand-in logged matching PATTERN
conns() { grep -c -- "$1" "$NET_DIR/conn.log"; }

# in_sandbox_netns ID COMMAND...: run a host command inside the sandbox's
# network namespace, as host root (what the sandbox's own root cannot do)
in_sandbox_netns() {
	local id=$1; shift
	nsenter --net="/proc/$(init_of "$id")/ns/net" "$@"
}

# --- a sandbox's network, as the tests of the pair made ahead see it --------

# TAG: the instance's link tag (the test finds it): vs<tag><slot> are the
# sandboxes' host ends, vt<tag><pid> the pairs made ahead
TAG=
links() { ip -o link | awk -F': ' '{ print $2 }' | cut -d@ -f1; }
ahead_links() { links | grep "^vt${TAG:-______}"; }
# live_ahead: those whose launcher is alive (a sandbox-launch, not a
# zombie), 1 if none: a dropped launcher's pair (an exec past a second, a
# stream: its worker leaves the pool) lingers until the kernel tears its
# namespace down, seconds on a loaded host
live_ahead() {
	local v p rc=1
	for v in $(ahead_links); do
		p=$((16#${v#vt$TAG}))
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = sandbox-launch ] &&
			[ "$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)" != Z ] && { echo "$v"; rc=0; }
	done
	return $rc
}

# host_if ID: the host end's name of a sandbox's link, from its address
host_if() {
	local a o3 o4
	api GET "/sandboxes/$1"
	a=$(jqr .data.network.address)
	o3=$(printf '%s' "$a" | cut -d. -f3)
	o4=$(printf '%s' "$a" | cut -d. -f4)
	# the pool's (10.89.0.0/16) slot i: .2i the host end, .2i+1 the sandbox
	[ -n "$o4" ] && printf 'vs%s%x' "$TAG" $(( (o3 * 256 + o4 - 1) / 2 ))
}

# nonames CMD...: CMD with an empty /run/netns of its own.  ip shows a
# link's peer namespace by its name, and to find it opens every name in
# /run/netns and asks the kernel its id: a name another process (another
# test, another suite beside) is adding or deleting at that moment, the file
# there but no namespace mounted on it, makes ip print "Error: Peer netns
# reference is invalid." (a load made that window wide enough for t/0085
# point 35 to read it into a state).  With no names, ip shows the peer by
# its id, which net_state replaces as it replaces the name.
nonames() {
	unshare --mount --propagation private sh -c \
		'mount -t tmpfs -o size=4k,mode=0755 sbd-nonames /run/netns && exec "$@"' sh "$@"
}

# net_state ID: the sandbox's links, addresses and routes, seen from the
# host (its host end) and from inside, with what is its own (the host end's
# name, its addresses, MACs, indexes, the peer's netns id) replaced by names;
# NET_STATE_ROUTE6=1: the host end's IPv6 routes too (ip without names:
# nonames)
net_state() {
	local pid addr gw hif ns re_a re_g
	pid=$(init_of "$1")
	ns=/proc/$pid/ns/net
	addr=$(nsenter --net="$ns" ip -4 -o addr show dev eth0 | awk '{ print $4 }' | cut -d/ -f1)
	gw=$(printf '%s' "$addr" | awk -F. '{ print $1"."$2"."$3"."($4-1) }')
	hif=$(ip -4 -o addr show | awk -v a="$gw/31" '$4 == a { print $2 }')
	re_a="\\b${addr//./\\.}\\b"
	re_g="\\b${gw//./\\.}\\b"
	{
		echo "host end:"
		nonames ip -d -o link show dev "$hif"
		nonames ip -o addr show dev "$hif"
		ip route show dev "$hif"
		[ "${NET_STATE_ROUTE6:-0}" = 1 ] && ip -6 route show dev "$hif"
		cat "/proc/sys/net/ipv6/conf/$hif/addr_gen_mode" "/proc/sys/net/ipv4/conf/$hif/rp_filter" \
			"/proc/sys/net/ipv4/conf/$hif/forwarding" "/proc/sys/net/ipv4/conf/$hif/route_localnet"
		echo "inside:"
		nonames nsenter --net="$ns" ip -d -o link show
		nonames nsenter --net="$ns" ip -o addr show
		nsenter --net="$ns" ip route show table all
		nsenter --net="$ns" cat /proc/sys/net/ipv6/conf/eth0/addr_gen_mode /proc/net/if_inet6
	} 2>&1 | sed -E -e "s/$hif/HOSTEND/g" -e "s/$re_a/ADDR/g" -e "s/$re_g/GW/g" \
		-e 's/^[0-9]+: /N: /' -e 's/@if[0-9]+/@ifN/g' -e 's/link-netns(id)? [^ ]+/link-netns X/g' \
		-e 's/(link\/ether|brd) [0-9a-f:]+/\1 X/g' -e 's/ifindex [0-9]+//g' -e 's/ \\ +/ /g'
}

# wait_for CMD...: until it succeeds (60 s at most: what it waits for, a
# namespace's clean-up, a launcher's exit, takes seconds on a loaded 2-core
# host under ASan; a pass returns at once, only a failure waits it all)
wait_for() { for _ in $(seq 1 1200); do "$@" && return 0; sleep 0.05; done; return 1; }
# wait_until 'SHELL CONDITION': wait_for, the condition evaluated again at
# every try (wait_for test "$(...)" would test one value 1200 times)
wait_until() { for _ in $(seq 1 1200); do eval "$1" && return 0; sleep 0.05; done; return 1; }

# conn_hold ID TAG N: a background process of ID's (processId holdTAG,
# t/connhold.py) holding N connections to the stand-in's $NET_PUBLIC:5001;
# "HELD REFUSED" once it tried them all.  touch /tmp/release-TAG inside
# closes them (then /tmp/hold-TAG.out ends with "closed").
conn_hold() {
	api PUT "/sandboxes/$1/files/workspace/connhold.py" "" -H 'Content-Type: application/octet-stream' \
		-T "$TOP_SRCDIR/t/connhold.py"
	exec_in "$1" "rm -f /tmp/hold-$2.out /tmp/release-$2"
	api POST "/sandboxes/$1/processes" "{\"command\": \"exec python3 /workspace/connhold.py $2 $3 $NET_PUBLIC 5001\", \"processId\": \"hold$2\"}"
	exec_in "$1" "for i in \$(seq 1 600); do [ -s /tmp/hold-$2.out ] && break; sleep 0.05; done; head -n 1 /tmp/hold-$2.out"
	jqr .data.stdout
}
# conn_one ID: one more connection of ID's to $NET_PUBLIC:5001: "connected",
# or "refused" and the error's class
conn_one() {
	exec_in "$1" "python3 -c \"import socket
try:
    socket.create_connection(('$NET_PUBLIC', 5001), timeout=10); print('connected')
except OSError as e:
    print('refused', e.__class__.__name__)\""
	jqr .data.stdout
}
