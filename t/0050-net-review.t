#!/bin/bash
# Outside review of issue 15's networking (regression tests of defects
# found; they fail on 3bffba7):
#  1. the resolver (dnsmasq on the pool's last address, on the host's lo)
#     answers anyone who can route to it, not only sandboxes: an open
#     recursive resolver for the host's network (the input chain filters
#     only what comes in from a sandbox link);
#  2. the service turns IPv4 forwarding on for the whole host namespace and
#     its forward hook accepts everything that is not a sandbox's: a host on
#     the uplink's network routes through the host into any other network
#     the host is attached to (a LAN, a VPN, a management network);
#  3. a restart of the service after its master was killed loads the table
#     afresh (empty policy sets) and puts the stored policies back in later
#     transactions, one per sandbox: a running sandbox whose policy is
#     "none" opens a connection in between, and nothing cuts it afterwards
#     (six sandboxes with long policies sorted before it widen the window);
#  4. the table removed by hand (or by `nft flush ruleset`, which a reload of
#     Debian's nftables.service does) is never noticed nor put back: every
#     sandbox then reaches its neighbours and the host, whatever its policy.
# All inside namespaces this test makes (t/netlib.sh): nothing leaves the
# machine.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
. "$TOP_SRCDIR/t/netlib.sh"
net_topology "$@"

LAN_NS=sbdl$$	# a private network of the host's other than the sandboxes'
T_TRAP='ip netns del "$LAN_NS" 2>/dev/null; sbd_cleanup' sbd_start "${NET_OPTS[@]}"
TBL=sandboxd_${INSTANCE//-/_}
RESOLVER=10.89.255.254	# the default pool's last /31

addr_of() { api GET "/sandboxes/$1"; jqr .data.network.address; }
# an A query for public.test to $1 over UDP: "answered ADDR" or "no answer"
DNSQ='import socket, struct, sys
q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in "public.test".split(".")) + b"\0" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(4)	# (an answer on these namespaces takes ms)
s.sendto(q, (sys.argv[1], 53))
try:
    d = s.recv(4096)
    print("answered", socket.inet_ntoa(d[-4:]) if len(d) >= 4 else "")
except OSError:
    print("no answer")'

# --- 1. the resolver is the sandboxes' only -----------------------------------------
api POST /sandboxes/a '{"network": {"egress": "none"}}'
is "$STATUS" 200 "a created with egress none"
A_ADDR=$(addr_of a)
api PUT /sandboxes/a/files/workspace/dnsq.py "" -H 'Content-Type: application/octet-stream' --data-binary "$DNSQ"
# (a is egress none, which has no DNS since rev19-sec: a public one asks)
api POST /sandboxes/r
api PUT /sandboxes/r/files/workspace/dnsq.py "" -H 'Content-Type: application/octet-stream' --data-binary "$DNSQ"
exec_in r "python3 /workspace/dnsq.py $RESOLVER"
is "$(jqr .data.stdout)" "answered $NET_PUBLIC" "a sandbox's DNS query is answered by the resolver"
exec_in a "python3 /workspace/dnsq.py $RESOLVER"
is "$(jqr .data.stdout)" "no answer" "but not an egress none one's (a)"
# the stand-in internet (any host on the uplink's network) routes the pool
# to the host, as a neighbour on a LAN or a VPC could
ip -n "$NET_INET" route add 10.89.0.0/16 via "$NET_UPLINK"
got=$(nsenter --net="/run/netns/$NET_INET" python3 -c "$DNSQ" "$RESOLVER")
is "$got" "no answer" "the resolver does not answer a host of the uplink's network (not an open resolver)"
got=$(nsenter --net="/run/netns/$NET_INET" timeout 30 python3 -c "
import socket
try:
    socket.create_connection(('$A_ADDR', 22), timeout=4); print('connected')
except OSError as e:
    print('refused', e.__class__.__name__)")
like "$got" "^refused" "(control) a host of the uplink's network reaches no sandbox"
ip -n "$NET_INET" route del 10.89.0.0/16 via "$NET_UPLINK"

# --- 2. the host does not become a router for what is not a sandbox's ----------------
ip netns add "$LAN_NS" &&
ip link add lan0 type veth peer name lanp netns "$LAN_NS" &&
ip addr add 10.250.9.1/24 dev lan0 && ip link set lan0 up &&
ip -n "$LAN_NS" link set lo up && ip -n "$LAN_NS" addr add 10.250.9.2/24 dev lanp &&
ip -n "$LAN_NS" link set lanp up && ip -n "$LAN_NS" route add default via 10.250.9.1
ok $? "a private network of the host's (10.250.9.0/24, on lan0)"
nsenter --net="/run/netns/$LAN_NS" timeout 15 python3 -c "
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('10.250.9.2', 7000))
s.listen()
print('listening', flush=True)
c, a = s.accept()
print('accepted from', a[0], flush=True)" >"$T_DIR/lan.log" 2>&1 &
# (python's start on a loaded host: 60 s at most, a pass goes on at once)
for _ in $(seq 1 600); do grep -q listening "$T_DIR/lan.log" && break; sleep 0.1; done
grep -q listening "$T_DIR/lan.log"
ok $? "(control) the private network's host listens on 10.250.9.2:7000"
ip -n "$NET_INET" route add 10.250.9.0/24 via "$NET_UPLINK"
got=$(nsenter --net="/run/netns/$NET_INET" python3 -c "
import socket
try:
    socket.create_connection(('10.250.9.2', 7000), timeout=4); print('connected')
except OSError as e:
    print('refused', e.__class__.__name__)")
like "$got" "^refused" "a host of the uplink's network does not reach the host's private network through it"
ip -n "$NET_INET" route del 10.250.9.0/24 via "$NET_UPLINK"
# lan0 is deleted here, at once: left to go with its namespace, it goes when
# the kernel's namespace clean-up gets to it, seconds later on a loaded host,
# and its route would take part 5's traffic into a dead link
ip link del lan0
ip netns del "$LAN_NS"

# --- 3. a restart after a kill -9 of the master keeps the policies in force -------------
# Policies stored for a few sandboxes sorting before z: they are put back
# one transaction each, before z's (store order), as after any restart.
deny=$(for i in $(seq 1 60); do printf '"198.19.%d.0/24",' "$i"; done)
for i in 0 1 2 3 4 5; do
	api POST "/sandboxes/p$i" "{\"network\": {\"egress\": \"public\", \"denyOut\": [${deny%,}]}}"
done
is "$STATUS" 200 "six sandboxes with a policy of 60 denyOut entries each"
api POST /sandboxes/z '{"network": {"egress": "none"}}'
is "$STATUS" 200 "z created with egress none"
Z_ADDR=$(addr_of z)
# z tries to connect out every half millisecond, and holds what it gets
api PUT /sandboxes/z/files/workspace/knock.py "" -H 'Content-Type: application/octet-stream' --data-binary "import socket, time
while True:
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(('$NET_PUBLIC', 5001))
    except OSError:
        s.close()
        time.sleep(0.0005)
        continue
    open('/tmp/got', 'a').write('connected\n')
    while True:
        try:
            s.send(b'x')
        except OSError:
            open('/tmp/got', 'a').write('cut\n')
            break
        time.sleep(0.1)
"
api POST /sandboxes/z/processes '{"command": "python3 /workspace/knock.py", "processId": "knock"}'
is "$STATUS" 200 "z knocks at $NET_PUBLIC:5001 in a loop"
sleep 1
before=$(grep -c -- "^$NET_PUBLIC:5001 " "$NET_DIR/conn.log")
is "$before" 0 "(control) nothing of z's reached the stand-in before the restart"

pid=$(cat "$T_DIR/sandboxd.pid")
kill -KILL "$pid"
for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
rm -f "$DATA/run/fcgi.sock"
"$SANDBOXD" --data "$DATA" --instance "$INSTANCE" --workers "${T_WORKERS:-3}" \
	--uid-base "$UID_BASE" --uid-slots 64 --pidfile "$T_DIR/sandboxd.pid" "${NET_OPTS[@]}" \
	>>"$T_DIR/sandboxd.log" 2>&1 &
for _ in $(seq 1 1200); do	# 60 s at most (ASan, a loaded host)
	[ -S "$DATA/run/fcgi.sock" ] && curl -s -o /dev/null "$BASE/" && break
	sleep 0.05
done
sleep 2
api GET /sandboxes/z/network
is "$(jqr .data.egress)" none "after the restart z's policy shows none"
is "$(grep -c -- "^$NET_PUBLIC:5001 " "$NET_DIR/conn.log")" 0 \
	"z (egress none) got no connection out while the service restarted"
exec_in z "cat /tmp/got 2>/dev/null; true"
is "$(jqr .data.stdout)" "" "z's knocker never connected"
api DELETE /sandboxes/z
is "$STATUS" 200 "z's knocker ended"

# --- 4. the table removed by hand -------------------------------------------------------
api POST /sandboxes/b
is "$STATUS" 200 "b created (public)"
B_ADDR=$(addr_of b)
api POST /sandboxes/b/processes '{"command": "python3 -m http.server 8080 --bind 0.0.0.0", "processId": "web"}'
reach_b() {	# from a (egress none) to b's server: "200 rc=0", or "000 rc=7" when refused
	exec_in a "curl -s -m 10 -o /dev/null -w %{http_code} http://$B_ADDR:8080/; echo \" rc=\$?\""
	jqr .data.stdout
}
for _ in $(seq 1 600); do
	exec_in b "curl -s -m 2 -o /dev/null -w %{http_code} http://127.0.0.1:8080/"
	[ "$(jqr .data.stdout)" = 200 ] && break
	sleep 0.1
done
is "$(reach_b)" "000 rc=7" "(control) a cannot reach its neighbour b with the table in place"
nft delete table inet "$TBL"
ok $? "the table removed by hand (as nft flush ruleset would)"
# whatever the service does about it (put it back, stop the sandboxes'
# forwarding), a few seconds later a's policy and the platform's hold again
for _ in $(seq 1 60); do
	nft list table inet "$TBL" >/dev/null 2>&1 && break
	sleep 1
done
ok "$(nft list table inet "$TBL" >/dev/null 2>&1; echo $?)" "the service put its table back"
is "$(reach_b)" "000 rc=7" "a (egress none) still cannot reach its neighbour b"
before=$(grep -c -- "^udp:9999 " "$NET_DIR/conn.log")
exec_in a "python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b\"x\", (\"$NET_PUBLIC\", 9999))'"
sleep 0.5
is "$(grep -c -- "^udp:9999 " "$NET_DIR/conn.log")" "$before" "a (egress none) sends nothing to the stand-in"
api PUT /sandboxes/b/network '{"egress": "none"}'
is "$STATUS" 200 "a policy can still be set (not a 500: the table is gone)"

# --- 5. a host that forwarded already keeps its own forwarding -------------------------
for _ in $(seq 1 300); do grep -q "nft table was gone" "$T_DIR/sandboxd.log" && break; sleep 0.1; done
grep -q "nft table was gone" "$T_DIR/sandboxd.log"
ok $? "the service logged that it put its table back"
# a restart that finds forwarding on and not of its doing (as on a host
# running Docker, or a router): the host's other forwarding is not its to
# stop; the sandboxes' policies hold as before
pid=$(cat "$T_DIR/sandboxd.pid")
kill -KILL "$pid"
for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
rm -f "$DATA/run/fcgi.sock" "$DATA/run/forward-ours"
"$SANDBOXD" --data "$DATA" --instance "$INSTANCE" --workers "${T_WORKERS:-3}" \
	--uid-base "$UID_BASE" --uid-slots 64 --pidfile "$T_DIR/sandboxd.pid" "${NET_OPTS[@]}" \
	>>"$T_DIR/sandboxd.log" 2>&1 &
for _ in $(seq 1 1200); do	# 60 s at most (ASan, a loaded host)
	[ -S "$DATA/run/fcgi.sock" ] && curl -s -o /dev/null "$BASE/" && break
	sleep 0.05
done
ip netns add "$LAN_NS" &&
ip link add lan1 type veth peer name lanp netns "$LAN_NS" &&
ip addr add 10.250.10.1/24 dev lan1 && ip link set lan1 up &&
ip -n "$LAN_NS" link set lo up && ip -n "$LAN_NS" addr add 10.250.10.2/24 dev lanp &&
ip -n "$LAN_NS" link set lanp up && ip -n "$LAN_NS" route add default via 10.250.10.1
ok $? "the host's private network again (10.250.10.0/24, on lan1)"
nsenter --net="/run/netns/$LAN_NS" timeout 15 python3 -c "
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('10.250.10.2', 7000))
s.listen()
print('listening', flush=True)
c, a = s.accept()
print('accepted from', a[0], flush=True)" >"$T_DIR/lan2.log" 2>&1 &
for _ in $(seq 1 600); do grep -q listening "$T_DIR/lan2.log" && break; sleep 0.1; done
grep -q listening "$T_DIR/lan2.log"
ok $? "(control) the private network's host listens on 10.250.10.2:7000"
ip -n "$NET_INET" route add 10.250.10.0/24 via "$NET_UPLINK"
got=$(nsenter --net="/run/netns/$NET_INET" python3 -c "
import socket
try:
    socket.create_connection(('10.250.10.2', 7000), timeout=30); print('connected')
except OSError as e:
    print('refused', e.__class__.__name__)")
is "$got" connected "forwarding that was on before the service: the host still routes its other networks"
ip -n "$NET_INET" route del 10.250.10.0/24 via "$NET_UPLINK"
ip netns del "$LAN_NS"
is "$(reach_b)" "000 rc=7" "a (egress none) still cannot reach its neighbour b"

done_testing
