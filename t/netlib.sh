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
	for _ in $(seq 1 100); do grep -q ready "$NET_DIR/conn.log" 2>/dev/null && return 0; sleep 0.05; done
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
