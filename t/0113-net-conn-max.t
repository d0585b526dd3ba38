#!/bin/bash
# --net-conn-max: the connections a sandbox has open at once, out and to
# the sandboxes' resolver.  Each is an entry of the host's one conntrack
# table (nf_conntrack_max for every sandbox and the host): without a cap a
# sandbox holding it all stops everyone's new connections.  With a cap of
# 20: a sandbox holding 20 open gets the 21st refused at once (TCP out, a
# DNS query), its neighbour opens its own 20, and a closed connection
# frees its place; 30 UDP flows out: 20 get through.  All inside the
# namespaces this test makes (t/netlib.sh): nothing leaves the machine.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
. "$TOP_SRCDIR/t/netlib.sh"
net_topology "$@"

MAX=20
# the rate cap well above what this test opens, so the count is what stops
sbd_start "${NET_OPTS[@]}" --net-conn-max $MAX --net-conn-rate 1000
TBL=sandboxd_${INSTANCE//-/_}

# dns ID: a query to the sandbox's resolver for public.test, from a
# connected socket as the C library's (an ICMP error fails it at once); its
# flow stays tracked (and counted) 30 s
DNS="import errno, socket, struct
q = struct.pack('>HHHHHH', 0x1234, 0x0100, 1, 0, 0, 0) + b'\x06public\x04test\x00' + struct.pack('>HH', 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
r = open('/etc/resolv.conf').read().split('nameserver')[1].split()[0]
try:
    s.connect((r, 53)); s.send(q); s.recv(512); print('answered')
except OSError as e:
    print('refused', errno.errorcode.get(e.errno or 0, e.__class__.__name__))"

dns() { exec_in "$1" "python3 -c \"$DNS\""; jqr .data.stdout; }

for id in a b c; do
	api POST "/sandboxes/$id"
	is "$STATUS" 200 "$id created (egress public)"
done
# --- a holds all its places ------------------------------------------------------------
is "$(conn_hold a 1 $MAX)" "$MAX 0" "a holds $MAX connections out, all connected"
is "$(conn_one a)" "refused ConnectionRefusedError" "one more is refused at once (a reset, not a hang)"
is "$(dns a)" "refused EHOSTUNREACH" "a DNS query to the resolver too (a new flow: it counts), at once (ICMP prohibited)"
like "$(nft list chain inet "$TBL" egress)" "conncount4 .* ct count over $MAX .*counter packets [1-9]" \
	"the egress chain's count refused it"

# --- the neighbour is not touched ------------------------------------------------------
is "$(dns b)" answered "b's resolver answers b meanwhile"
is "$(conn_hold b 1 $((MAX - 1)))" "$((MAX - 1)) 0" "b holds its own $((MAX - 1)) at the same time (its DNS flow is the ${MAX}th)"
# b's DNS flow is tracked 30 s, which a slow conn_hold (a sanitizer, a
# loaded host) may outlast: a query again, so that b surely has its $MAX
# (if the first flow is still there this one is refused, making none)
diag "b's DNS query again: $(dns b)"
is "$(conn_one b)" "refused ConnectionRefusedError" "and b's next is refused as a's was"

# --- closed ones free their places -----------------------------------------------------
exec_in a 'touch /tmp/release-1; for i in $(seq 1 200); do grep -q closed /tmp/hold-1.out && break; sleep 0.05; done; tail -n 1 /tmp/hold-1.out'
is "$(jqr .data.stdout)" closed "a closed its $MAX"
wait_until '[ "$(conn_one a)" = connected ]'
is "$(conn_one a)" connected "a connects again once they closed"
is "$(dns a)" answered "and its resolver answers it again"
api DELETE /sandboxes/a/processes/hold1
api DELETE /sandboxes/b/processes/hold1

# --- UDP flows count as well -----------------------------------------------------------
before=$(grep -c -- "^udp:9999 " "$NET_DIR/conn.log")
exec_in c "python3 -c \"
import socket
ss = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for i in range(30)]
for i, s in enumerate(ss):
    s.sendto(b'x%d' % i, ('$NET_PUBLIC', 9999))
\""
wait_until "[ \$((\$(grep -c -- '^udp:9999 ' '$NET_DIR/conn.log') - before)) -ge $MAX ]"
sleep 1	# what gets through arrives within milliseconds: a 21st would be here by now
is "$(($(grep -c -- "^udp:9999 " "$NET_DIR/conn.log") - before))" "$MAX" \
	"30 UDP flows out of c (a source port each): $MAX reach the stand-in"

done_testing
