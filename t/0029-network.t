#!/bin/bash
# Sandbox networking, the datapath and the platform rules (issue 15): a
# routed veth per sandbox, NAT to the host's uplink, a resolver, and the
# platform deny set, all inside namespaces this test makes (t/netlib.sh):
# nothing leaves the machine.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
. "$TOP_SRCDIR/t/netlib.sh"
net_topology "$@"

# a listener of the host's own, on every address of the host namespace
nsenter_host_listener() {
	python3 "$TOP_SRCDIR/t/netserve.py" "$NET_DIR/host-conn.log" 8080 >>"$NET_DIR/host-serve.log" 2>&1 &
	echo $! >"$NET_DIR/host-serve.pid"
	for _ in $(seq 1 100); do grep -q ready "$NET_DIR/host-conn.log" 2>/dev/null && return; sleep 0.05; done
}
nsenter_host_listener

sbd_start "${NET_OPTS[@]}"

api POST /sandboxes/a
is "$STATUS" 200 "sandbox a created with networking on"
api POST /sandboxes/b
is "$STATUS" 200 "sandbox b created"

# what address a sandbox's connections leave from
src_of() {
	exec_in "$1" "python3 -c 'import socket; s=socket.socket(); s.connect((\"$NET_PUBLIC\", 80)); print(s.getsockname()[0])'"
	jqr .data.stdout
}
A_ADDR=$(src_of a)
B_ADDR=$(src_of b)
like "$A_ADDR" '^10\.89\.[0-9]+\.[0-9]*[13579]$' "a has an odd address of the default pool ($A_ADDR)"
like "$B_ADDR" '^10\.89\.[0-9]+\.[0-9]*[13579]$' "b has one too ($B_ADDR)"
isnt "$A_ADDR" "$B_ADDR" "a and b have addresses of their own"

# --- public egress ------------------------------------------------------------------
exec_in a "curl -s -m 10 http://$NET_PUBLIC/ip"
is "$(jqr .data.stdout)" "$NET_UPLINK" "public egress: HTTP from inside works, the server sees the masqueraded source"
is "$(jqr .data.exitCode)" 0 "curl exits 0"

# --- DNS ------------------------------------------------------------------------------
exec_in a "cat /etc/resolv.conf"
is "$(jqr .data.stdout)" "nameserver 10.89.255.254" "resolv.conf names the service's resolver"
exec_in a "getent hosts public.test"
like "$(jqr .data.stdout)" "^$NET_PUBLIC +public.test" "a name resolves through the resolver (dnsmasq -> the host's upstream)"
exec_in a "curl -s -m 10 http://public.test/ip"
is "$(jqr .data.stdout)" "$NET_UPLINK" "and HTTP by name works"
exec_in a "echo x > /etc/resolv.conf"
isnt "$(jqr .data.exitCode)" 0 "the sandbox's root cannot rewrite resolv.conf (read-only bind)"

# --- refusals ------------------------------------------------------------------------------
# refused ID HOST PORT DESCRIPTION: curl fails with "couldn't connect" (a
# reset or ICMP prohibited: exit 7), not a timeout (28), and no connection
# reached the listener
refused() {
	local id=$1 host=$2 port=$3; shift 3
	local before t0 ms log=$NET_DIR/conn.log
	[ "$port" = 8080 ] && log=$NET_DIR/host-conn.log
	before=$(grep -c -- "^$host:$port " "$log")
	t0=$(date +%s%N)
	exec_in "$id" "curl -s -m 20 -o /dev/null http://$host:$port/; echo rc=\$?"
	ms=$((($(date +%s%N) - t0) / 1000000))
	is "$(jqr .data.stdout)" "rc=7" "$*: refused ($host:$port), not a timeout"
	[ "$ms" -lt 5000 ]
	ok $? "$*: at once (${ms} ms for the whole exec)"
	is "$(grep -c -- "^$host:$port " "$log")" "$before" "$*: no connection reached $host:$port"
}
refused a 169.254.169.254 80 "cloud metadata"
refused a 10.250.0.1 80 "a private address"
refused a 100.64.0.1 80 "a CGNAT address"
refused a "$NET_PUBLIC" 25 "SMTP (TCP 25), even where egress is allowed"
refused a "$NET_UPLINK" 8080 "the host's own uplink address"
refused a 127.0.0.1 8080 "the sandbox's own loopback (nothing there: the host's is another)"
refused a 10.89.255.254 8080 "the resolver's address, other than DNS"
GW=$(printf '%s' "$A_ADDR" | awk -F. '{ print $1"."$2"."$3"."($4-1) }')
refused a "$GW" 8080 "the host end of its own link"

# another sandbox: b serves on 8080, a may not reach it
api POST /sandboxes/b/processes '{"command": "python3 -m http.server 8080 --bind 0.0.0.0", "processId": "web"}'
is "$STATUS" 200 "b serves HTTP on 8080"
for _ in $(seq 1 50); do
	exec_in b "curl -s -o /dev/null -w %{http_code} http://127.0.0.1:8080/"
	[ "$(jqr .data.stdout)" = 200 ] && break
	sleep 0.1
done
is "$(jqr .data.stdout)" 200 "b's server answers inside b"
exec_in a "curl -s -m 20 -o /dev/null http://$B_ADDR:8080/; echo rc=\$?"
is "$(jqr .data.stdout)" "rc=7" "another sandbox: a cannot reach b's server ($B_ADDR:8080)"

# the host reaches the sandbox's server (what a preview proxy does)
is "$(curl -s -m 5 "http://$B_ADDR:8080/" -o /dev/null -w '%{http_code}')" 200 \
	"the host reaches b's server at b's address"

# --- no IPv6 ------------------------------------------------------------------------------
exec_in a "grep -v ' lo\$' /proc/net/if_inet6 | wc -l"
is "$(jqr .data.stdout)" 0 "no IPv6 address but loopback's inside"
H6=$(in_sandbox_netns a cat /proc/net/if_inet6 2>/dev/null | grep -vc ' lo$')
is "$H6" 0 "(seen from the host too)"
IF=$(ip -o link | awk -F': ' '{ print $2 }' | grep '^vs' | head -n 1 | cut -d@ -f1)
is "$(ip -6 addr show dev "$IF" 2>/dev/null | grep -c inet6)" 0 "the host end has no IPv6 address either ($IF)"

# --- the sandbox's root cannot change its network -------------------------------------------------------
exec_in a "ip addr add 10.89.0.99/32 dev eth0 2>&1; echo rc=\$?"
like "$(jqr .data.stdout)" 'rc=[1-9]' "the sandbox's root cannot add an address (its netns is the host's user namespace's)"
exec_in a "ip route del default 2>&1; echo rc=\$?"
like "$(jqr .data.stdout)" 'rc=[1-9]' "nor change its routes"

# --- spoofed sources are dropped ---------------------------------------------------------------
# as host root inside a's namespace (what the sandbox cannot do): a second
# address on eth0, another sandbox's, a public one or an unused one of the
# pool, as the source of a UDP datagram to the stand-in (which logs what
# arrives, masqueraded or not)
udp_from() {	# udp_from ID SRC: one datagram to the stand-in's UDP 9999 from SRC
	in_sandbox_netns "$1" python3 -c "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('$2', 0)); s.sendto(b'x', ('$NET_PUBLIC', 9999))"
}
udp_seen() { grep -c "^udp:9999 " "$NET_DIR/conn.log"; }
udp_wait() {	# udp_wait N: until N datagrams were logged (at most 3 s)
	for _ in $(seq 1 60); do [ "$(udp_seen)" -ge "$1" ] && return; sleep 0.05; done
}
n0=$(udp_seen)
udp_from a "$A_ADDR"
udp_wait $((n0 + 1))
is "$(udp_seen)" $((n0 + 1)) "a datagram from a's own address arrives (the control)"
is "$(tail -n 1 "$NET_DIR/conn.log")" "udp:9999 $NET_UPLINK" "masqueraded"
for spoof in "$B_ADDR" 198.19.0.99 10.89.0.200 10.89.0.0; do
	in_sandbox_netns a ip addr add "$spoof/32" dev eth0
	n0=$(udp_seen)
	udp_from a "$spoof"
	udp_from a "$A_ADDR"	# a marker: once it arrived, the spoofed one would have
	udp_wait $((n0 + 1))
	is "$(udp_seen)" $((n0 + 1)) "a datagram from a with the spoofed source $spoof is dropped (only the marker arrived)"
	in_sandbox_netns a ip addr del "$spoof/32" dev eth0
done

# --- the per-sandbox policy sets (filled by the API through net_policy_set;
# set here with nft, as the table's contract) -----------------------------------------
TBL=sandboxd_${INSTANCE//-/_}
get_ok() {	# get_ok ID URL: "200" when the sandbox fetched it
	exec_in "$1" "curl -s -m 20 -o /dev/null -w %{http_code} $2; echo \" rc=\$?\""
	jqr .data.stdout
}
nft add element inet "$TBL" mode_none "{ $A_ADDR }"
refused a "$NET_PUBLIC" 80 "mode none: a public address"
is "$(get_ok b "http://$NET_PUBLIC/")" "200 rc=0" "the neighbour b is untouched by a's none"
nft delete element inet "$TBL" mode_none "{ $A_ADDR }"
nft add element inet "$TBL" mode_allowlist "{ $A_ADDR }"
nft add element inet "$TBL" allow4 "{ $A_ADDR . $NET_PUBLIC/32, $A_ADDR . 169.254.169.254/32 }"
is "$(get_ok a "http://$NET_PUBLIC/")" "200 rc=0" "allowlist: a listed address is reached"
refused a 198.19.0.53 80 "allowlist: an address not listed"
refused a 169.254.169.254 80 "allowlist: a listed metadata address stays refused (the platform set wins)"
is "$(get_ok b "http://198.19.0.53/")" "200 rc=0" "the neighbour b is untouched by a's allowlist"
nft delete element inet "$TBL" mode_allowlist "{ $A_ADDR }"
nft add element inet "$TBL" deny4 "{ $A_ADDR . 198.19.0.0/24 }"
refused a "$NET_PUBLIC" 80 "deny: a denied range, in public mode"
is "$(get_ok b "http://$NET_PUBLIC/")" "200 rc=0" "the neighbour b is untouched by a's deny"
nft delete element inet "$TBL" deny4 "{ $A_ADDR . 198.19.0.0/24 }"
nft delete element inet "$TBL" allow4 "{ $A_ADDR . $NET_PUBLIC/32, $A_ADDR . 169.254.169.254/32 }"
is "$(get_ok a "http://$NET_PUBLIC/")" "200 rc=0" "a is public again once its elements are gone"

# --- an address for life ----------------------------------------------------------------------
api DELETE /sandboxes/a
is "$STATUS" 200 "a stopped"
is "$(src_of a)" "$A_ADDR" "a keeps its address when it starts again"
exec_in a "curl -s -m 10 http://$NET_PUBLIC/ip"
is "$(jqr .data.stdout)" "$NET_UPLINK" "and egress works after the restart (the old pair replaced)"

sbd_restart_net() {	# sbd_restart_net [more options]
	local pid; pid=$(cat "$T_DIR/sandboxd.pid")
	kill -TERM "$pid"
	for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	rm -f "$DATA/run/fcgi.sock"
	is "$(nft list tables 2>/dev/null | grep -c "sandboxd_$INSTANCE")" 0 "a stopped service leaves no nft table"
	"$SANDBOXD" --data "$DATA" --instance "$INSTANCE" --workers "${T_WORKERS:-3}" \
		--uid-base "$UID_BASE" --uid-slots 64 --pidfile "$T_DIR/sandboxd.pid" "${NET_OPTS[@]}" "$@" \
		>>"$T_DIR/sandboxd.log" 2>&1 &
	for _ in $(seq 1 100); do
		[ -S "$DATA/run/fcgi.sock" ] && curl -s -o /dev/null "$BASE/" && break
		sleep 0.05
	done
}
sbd_restart_net
is "$(src_of a)" "$A_ADDR" "a keeps its address across a restart of the service"
is "$(src_of b)" "$B_ADDR" "so does b"
exec_in b "curl -s -m 10 http://public.test/ip"
is "$(jqr .data.stdout)" "$NET_UPLINK" "egress and DNS work after the service restarted"
refused b 169.254.169.254 80 "after the restart, the metadata address is still refused"

# --- a second instance on this host --------------------------------------------------------------
# the same pool: refused at start, saying why; a pool of its own: it runs
# beside, with a table of its own, and its stop leaves ours alone
I2=${INSTANCE}b
D2=$T_DIR/data2
"$SANDBOXD" --data "$D2" --instance "$I2" --workers 1 --uid-base $((UID_BASE + 64 * 65536)) --uid-slots 64 \
	--pidfile "$T_DIR/sbd2.pid" "${NET_OPTS[@]}" >"$T_DIR/sbd2.log" 2>&1
is "$?" 1 "a second instance with the same pool does not start"
like "$(cat "$T_DIR/sbd2.log")" "another instance uses --net-pool 10.89.0.0/16" "it says why"
"$SANDBOXD" --data "$D2" --instance "$I2" --workers 1 --uid-base $((UID_BASE + 64 * 65536)) --uid-slots 64 \
	--pidfile "$T_DIR/sbd2.pid" "${NET_OPTS[@]}" --net-pool 10.90.0.0/16 >>"$T_DIR/sbd2.log" 2>&1 &
for _ in $(seq 1 100); do [ -S "$D2/run/fcgi.sock" ] && break; sleep 0.05; done
ok $([ -S "$D2/run/fcgi.sock" ]; echo $?) "with a pool of its own it starts beside"
is "$(nft list tables | grep -c "sandboxd_${I2//-/_}\$")" 1 "with a table of its own"
kill -TERM "$(cat "$T_DIR/sbd2.pid")"
for _ in $(seq 1 100); do kill -0 "$(cat "$T_DIR/sbd2.pid")" 2>/dev/null || break; sleep 0.1; done
is "$(nft list tables | grep -c "sandboxd_${I2//-/_}\$")" 0 "its stop removes its table"
is "$(nft list tables | grep -c "sandboxd_${INSTANCE//-/_}\$")" 1 "and leaves ours"
exec_in b "curl -s -m 10 http://public.test/ip"
is "$(jqr .data.stdout)" "$NET_UPLINK" "our sandboxes' egress and DNS still work"

# --- a warm sandbox's address goes with it to the id that claims it ------------------------
if [ -d /sys/fs/cgroup/pids ]; then
	sbd_restart_net --warm-sandboxes 1
	warm_init() {	# the init pid of the warm sandbox (from its pids cgroup)
		local d p
		for d in /sys/fs/cgroup/pids/sandboxd-"$INSTANCE"/.w*; do
			for p in $(cat "$d/cgroup.procs" 2>/dev/null); do
				[ "$(cat "/proc/$p/comm" 2>/dev/null)" = sandbox-init ] && echo "$p"
			done
		done
	}
	for _ in $(seq 1 300); do [ -n "$(warm_init)" ] && break; sleep 0.1; done
	W=$(warm_init | head -n 1)
	ok $([ -n "$W" ]; echo $?) "a warm sandbox runs ahead ($W)"
	W_ADDR=$(nsenter --net="/proc/$W/ns/net" ip -4 -o addr show dev eth0 | awk '{ print $4 }')
	like "$W_ADDR" '^10\.89\.[0-9.]+/31$' "it has its /31 already ($W_ADDR)"
	api POST /sandboxes/w
	is "$STATUS" 200 "create w (claims the warm sandbox)"
	is "$(init_of w)" "$W" "w runs on the warm sandbox's init"
	is "$(src_of w)/31" "$W_ADDR" "w has the warm sandbox's address"
	exec_in w "curl -s -m 10 http://$NET_PUBLIC/ip"
	is "$(jqr .data.stdout)" "$NET_UPLINK" "and its egress works"
	api DELETE /sandboxes/w
	is "$(src_of w)/31" "$W_ADDR" "w keeps that address when it starts again"
else
	diag "no cgroup v1 pids hierarchy: warm sandboxes not tried"
fi

done_testing
