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
	for _ in $(seq 1 1200); do grep -q ready "$NET_DIR/host-conn.log" 2>/dev/null && return; sleep 0.05; done
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
GW=$(printf '%s' "$A_ADDR" | awk -F. '{ print $1"."$2"."$3"."($4-1) }')	# the host end of a's link

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
exec_in a "awk '\$5 == \"/etc/resolv.conf\" { print \$6 }' /proc/self/mountinfo"
like "$(jqr .data.stdout)" '^ro(,|$)' "resolv.conf is a read-only mount (not only a file the sandbox's root does not own)"

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
	# (12 s for an exec starting curl, slow on a loaded, sanitized run;
	# a dropped connection waits out curl's -m 20)
	[ "$ms" -lt 12000 ]
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
refused a "$GW" 8080 "the host end of its own link"

# another sandbox: b serves on 8080, a may not reach it
api POST /sandboxes/b/processes '{"command": "python3 -m http.server 8080 --bind 0.0.0.0", "processId": "web"}'
is "$STATUS" 200 "b serves HTTP on 8080"
for _ in $(seq 1 300); do
	exec_in b "curl -s -o /dev/null -w %{http_code} http://127.0.0.1:8080/"
	[ "$(jqr .data.stdout)" = 200 ] && break
	sleep 0.1
done
is "$(jqr .data.stdout)" 200 "b's server answers inside b"
exec_in a "curl -s -m 20 -o /dev/null http://$B_ADDR:8080/; echo rc=\$?"
is "$(jqr .data.stdout)" "rc=7" "another sandbox: a cannot reach b's server ($B_ADDR:8080)"

# ping (an ICMP echo socket: the sandbox's ping_group_range allows it) and UDP
PING='import socket, sys
try:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP); s.settimeout(5)
    s.setsockopt(socket.IPPROTO_IP, 11, 1)	# IP_RECVERR: an ICMP error fails the recv
except PermissionError:
    print("no-ping-socket"); sys.exit(0)
s.sendto(b"\x08\x00\x00\x00\x00\x01\x00\x01sbd", (sys.argv[1], 0))
try:
    print("reply" if s.recv(64)[0] == 0 else "other")
except socket.timeout:
    print("timeout")
except OSError as e:
    print("refused" if e.errno else "error")'
ping_from() { exec_in "$1" "python3 -c '$PING' $2"; jqr .data.stdout; [ -n "$(jqr .data.stderr)" ] && diag "$(jqr .data.stderr)"; }
if [ "$(ping_from a "$NET_PUBLIC")" = no-ping-socket ]; then
	# ping_group_range holds host gids up to 2^31-1 only; this run's uid
	# window (t/lib.sh picks one at random) lies above
	diag "no ICMP echo socket for host gid $UID_BASE (above ping_group_range's 2^31-1): ping not tried"
else
	is "$(ping_from a "$NET_PUBLIC")" reply "ping of a public address works"
	is "$(ping_from a "$B_ADDR")" refused "ping of another sandbox is refused (ICMP prohibited)"
	is "$(ping_from a 169.254.169.254)" refused "ping of the metadata address is refused"
	is "$(ping_from a "$GW")" refused "ping of the host end is refused"
fi
udp_seen() { grep -c "^udp:9999 " "$NET_DIR/conn.log"; }
udp_wait() {	# udp_wait N: until N datagrams were logged (at most 30 s: a loaded host)
	for _ in $(seq 1 600); do [ "$(udp_seen)" -ge "$1" ] && return; sleep 0.05; done
}
UDP_TO='import socket, sys; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); [s.sendto(b"x", (h, 9999)) for h in sys.argv[1:]]'
n0=$(udp_seen)
exec_in a "python3 -c '$UDP_TO' 10.250.0.1 100.64.0.1 169.254.169.254 $NET_PUBLIC"
udp_wait $((n0 + 1))
is "$(udp_seen)" $((n0 + 1)) "UDP: only the datagram to the public address arrived (not those to the private, CGNAT, metadata ones)"
is "$(tail -n 1 "$NET_DIR/conn.log")" "udp:9999 $NET_UPLINK" "(masqueraded)"

# the host reaches the sandbox's server (what a preview proxy does)
is "$(curl -s -m 20 "http://$B_ADDR:8080/" -o /dev/null -w '%{http_code}')" 200 \
	"the host reaches b's server at b's address"
# nothing from outside does, even with a route to the pool: toward a
# sandbox only answers pass (the stand-in is given a route for the try)
ip -n "$NET_INET" route add 10.89.0.0/16 via "$NET_UPLINK"
out=$(nsenter --net="/run/netns/$NET_INET" curl -s -m 3 -o /dev/null -w '%{http_code}' "http://$B_ADDR:8080/"; echo " rc=$?")
like "$out" 'rc=(7|28)' "the stand-in internet cannot open a connection to b's server ($out)"
ip -n "$NET_INET" route del 10.89.0.0/16 via "$NET_UPLINK"

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

# --- npm: a package from a registry stand-in (by name, through the resolver), and a tarball ----
REG=$NET_DIR/registry
mkdir -p "$REG" "$T_DIR/pkg/sbd-hello"
printf '{"name": "sbd-hello", "version": "1.0.0", "main": "index.js"}\n' >"$T_DIR/pkg/sbd-hello/package.json"
printf 'module.exports = () => "hello from the stand-in registry";\n' >"$T_DIR/pkg/sbd-hello/index.js"
(cd "$T_DIR/pkg/sbd-hello" && npm pack --silent --pack-destination "$REG" >/dev/null 2>&1)
TGZ=$REG/sbd-hello-1.0.0.tgz
if [ -f "$TGZ" ]; then
	SHA1=$(sha1sum "$TGZ" | cut -d' ' -f1)
	INTEGRITY=sha512-$(openssl dgst -sha512 -binary "$TGZ" | base64 -w0)
	jq -n --arg s "$SHA1" --arg i "$INTEGRITY" '{name: "sbd-hello", "dist-tags": {latest: "1.0.0"},
		versions: {"1.0.0": {name: "sbd-hello", version: "1.0.0", main: "index.js",
		dist: {tarball: "http://public.test:8081/sbd-hello-1.0.0.tgz", shasum: $s, integrity: $i}}}}' >"$REG/sbd-hello"
	chmod -R a+rX "$REG"
	nsenter --net="/run/netns/$NET_INET" python3 -m http.server 8081 --bind "$NET_PUBLIC" --directory "$REG" \
		>>"$NET_DIR/registry.log" 2>&1 &
	echo $! >"$NET_DIR/registry.pid"
	for _ in $(seq 1 1200); do curl -s -o /dev/null "http://$NET_PUBLIC:8081/sbd-hello" && break; sleep 0.05; done
	NPM='npm --no-audit --no-fund --no-update-notifier --registry http://public.test:8081/'
	exec_in a "mkdir -p /workspace/app && cd /workspace/app && npm init -y >/dev/null && $NPM install sbd-hello 2>&1 | tail -n 3 && node -e 'console.log(require(\"sbd-hello\")())'"
	like "$(jqr .data.stdout)" "hello from the stand-in registry" "npm install of a package by name from a registry stand-in works (DNS, egress, node)"
	is "$(jqr .data.exitCode)" 0 "(exit 0)"
	api PUT "/sandboxes/a/files/tmp/sbd-hello-1.0.0.tgz" "" --data-binary "@$TGZ" -H 'Content-Type: application/octet-stream'
	is "$STATUS" 200 "a package tarball uploaded"
	exec_in a "mkdir -p /workspace/app2 && cd /workspace/app2 && npm init -y >/dev/null && $NPM install /tmp/sbd-hello-1.0.0.tgz >/dev/null 2>&1 && node -e 'console.log(require(\"sbd-hello\")())'"
	like "$(jqr .data.stdout)" "hello from the stand-in registry" "npm install of a local tarball works"
	exec_in a "node --version"
	diag "node in the host image: $(jqr .data.stdout)"
else
	diag "npm pack failed: npm not tried"
fi

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
	is "$(ip route show type unreachable | grep -c '^unreachable 10\.89\.0\.0/16')" 0 "nor its pool's unreachable route"
	"$SANDBOXD" --data "$DATA" --instance "$INSTANCE" --workers "${T_WORKERS:-3}" \
		--uid-base "$UID_BASE" --uid-slots 64 --pidfile "$T_DIR/sandboxd.pid" "${NET_OPTS[@]}" "$@" \
		>>"$T_DIR/sandboxd.log" 2>&1 &
	for _ in $(seq 1 1200); do	# 60 s at most (ASan, a loaded host)
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

# --- the resolver is supervised; a master killed with -9 is taken over ----------------------
dns_pid() { cat "$DATA/run/dnsmasq.pid" 2>/dev/null; }
D1=$(dns_pid)
kill -KILL "$D1"
for _ in $(seq 1 1200); do [ -n "$(dns_pid)" ] && [ "$(dns_pid)" != "$D1" ] && kill -0 "$(dns_pid)" 2>/dev/null && break; sleep 0.05; done
isnt "$(dns_pid)" "$D1" "a killed resolver is started again by the master"
exec_in b "getent hosts public.test"
like "$(jqr .data.stdout)" "^$NET_PUBLIC " "and names resolve again"
OLD_MASTER=$(cat "$T_DIR/sandboxd.pid")
D2=$(dns_pid)
kill -KILL "$OLD_MASTER"
for _ in $(seq 1 1200); do kill -0 "$OLD_MASTER" 2>/dev/null || break; sleep 0.05; done
B_INIT=$(init_of b)
rm -f "$DATA/run/fcgi.sock"
"$SANDBOXD" --data "$DATA" --instance "$INSTANCE" --workers "${T_WORKERS:-3}" \
	--uid-base "$UID_BASE" --uid-slots 64 --pidfile "$T_DIR/sandboxd.pid" "${NET_OPTS[@]}" \
	>>"$T_DIR/sandboxd.log" 2>&1 &
for _ in $(seq 1 1200); do [ -S "$DATA/run/fcgi.sock" ] && curl -s -o /dev/null "$BASE/" && break; sleep 0.05; done
ok $([ -S "$DATA/run/fcgi.sock" ]; echo $?) "after kill -9 of the master a new one starts over its table and address"
for _ in $(seq 1 1200); do kill -0 "$D2" 2>/dev/null || break; sleep 0.05; done
ok $(! kill -0 "$D2" 2>/dev/null; echo $?) "the old master's resolver was ended by the new master"
is "$(pgrep -xc dnsmasq -P "$(cat "$T_DIR/sandboxd.pid")")" 1 "one resolver runs, the new master's"
is "$(init_of b)" "$B_INIT" "b's init ran on through it"
exec_in b "curl -s -m 10 http://public.test/ip"
is "$(jqr .data.stdout)" "$NET_UPLINK" "and b's egress and DNS work without a restart of b"
refused b 169.254.169.254 80 "the reloaded table refuses the metadata address to b"

# --- a second instance on this host --------------------------------------------------------------
# the same pool: refused at start, saying why; a pool of its own: it runs
# beside, with a table of its own, and its stop leaves ours alone
I2=${INSTANCE}b
D2=$T_DIR/data2
"$SANDBOXD" --data "$D2" --instance "$I2" --workers 1 --uid-base $((UID_BASE + 64 * 65536)) --uid-slots 64 \
	--pidfile "$T_DIR/sbd2.pid" "${NET_OPTS[@]}" >"$T_DIR/sbd2.log" 2>&1
is "$?" 1 "a second instance with the same pool does not start"
like "$(cat "$T_DIR/sbd2.log")" "another instance uses --net-pool 10.89.0.0/16" "it says why"
is "$(ip route show type unreachable | grep -c '^unreachable 10\.89\.0\.0/16')" 1 "and leaves our pool's unreachable route"
"$SANDBOXD" --data "$D2" --instance "$I2" --workers 1 --uid-base $((UID_BASE + 64 * 65536)) --uid-slots 64 \
	--pidfile "$T_DIR/sbd2.pid" "${NET_OPTS[@]}" --net-pool 10.90.0.0/16 >>"$T_DIR/sbd2.log" 2>&1 &
for _ in $(seq 1 1200); do [ -S "$D2/run/fcgi.sock" ] && break; sleep 0.05; done
ok $([ -S "$D2/run/fcgi.sock" ]; echo $?) "with a pool of its own it starts beside"
is "$(nft list tables | grep -c "sandboxd_${I2//-/_}\$")" 1 "with a table of its own"
is "$(ip route show type unreachable | grep -cE '^unreachable 10\.(89|90)\.0\.0/16')" 2 "and an unreachable route for its pool beside ours"
kill -TERM "$(cat "$T_DIR/sbd2.pid")"
for _ in $(seq 1 600); do kill -0 "$(cat "$T_DIR/sbd2.pid")" 2>/dev/null || break; sleep 0.1; done
is "$(nft list tables | grep -c "sandboxd_${I2//-/_}\$")" 0 "its stop removes its table"
is "$(nft list tables | grep -c "sandboxd_${INSTANCE//-/_}\$")" 1 "and leaves ours"
is "$(ip route show type unreachable | grep -E '^unreachable 10\.(89|90)\.0\.0/16' | cut -d' ' -f2 | tr '\n' ' ')" "10.89.0.0/16 " "its pool's route goes, ours stays"
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
