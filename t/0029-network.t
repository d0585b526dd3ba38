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
# address, another sandbox's and a public one, as the source
for spoof in "$B_ADDR" 198.19.0.99 10.89.0.200; do
	in_sandbox_netns a ip addr add "$spoof/32" dev eth0
	before=$(conns " $spoof\$")
	out=$(in_sandbox_netns a curl -s -m 3 --interface "$spoof" "http://$NET_PUBLIC/ip"; echo " rc=$?")
	like "$out" 'rc=(7|28)' "a packet from a with the spoofed source $spoof goes nowhere"
	is "$(conns " $spoof\$")" "$before" "the stand-in saw no connection from $spoof"
	in_sandbox_netns a ip addr del "$spoof/32" dev eth0
done

# --- an address for life ----------------------------------------------------------------------
api DELETE /sandboxes/a
is "$STATUS" 200 "a stopped"
is "$(src_of a)" "$A_ADDR" "a keeps its address when it starts again"
exec_in a "curl -s -m 10 http://$NET_PUBLIC/ip"
is "$(jqr .data.stdout)" "$NET_UPLINK" "and egress works after the restart (the old pair replaced)"

sbd_restart_net() {
	local pid; pid=$(cat "$T_DIR/sandboxd.pid")
	kill -TERM "$pid"
	for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	rm -f "$DATA/run/fcgi.sock"
	is "$(nft list tables 2>/dev/null | grep -c "sandboxd_$INSTANCE")" 0 "a stopped service leaves no nft table"
	"$SANDBOXD" --data "$DATA" --instance "$INSTANCE" --workers "${T_WORKERS:-3}" \
		--uid-base "$UID_BASE" --uid-slots 64 --pidfile "$T_DIR/sandboxd.pid" "${NET_OPTS[@]}" \
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

done_testing
