#!/bin/bash
# The host's own processes and a sandbox's ports; the resolver and egress
# "none" (review rev19-sec, findings 5 and 6; t/0095 holds the reviewer's
# attacks).
#  - New connections from the host to a sandbox (out a vs<tag>* link) come
#    from root (the service) or the web server's group (--socket-group,
#    nginx's workers, which proxy previews straight to the sandbox's
#    address): a local user's TCP is refused at once (a reset: curl's 7, not
#    a timeout) and its UDP reaches nothing; previews keep working, to a
#    sandbox whose egress is none too (its answers pass the input chain).
#  - Egress none refuses DNS to the resolver (the resolver forwards any name
#    the sandbox makes up: a channel out), by a PUT at once, an open UDP flow
#    to the resolver included; public and allowlist resolve (allowlists are
#    addresses: the names are looked up).  --default-egress none does the same
#    for a sandbox without a policy of its own.
#  - The output chain goes with the table at a stop.
# All inside namespaces this test makes (t/netlib.sh): nothing leaves the
# machine.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
. "$TOP_SRCDIR/t/netlib.sh"
net_topology "$@"

command -v setpriv >/dev/null || skip_all "needs setpriv (util-linux)"
WWW_GID=$(getent group www-data | cut -d: -f3)
[ -n "$WWW_GID" ] || skip_all "needs a www-data group (nginx's, --socket-group's default)"

sbd_start "${NET_OPTS[@]}" --preview-domain "http://$PREVIEW_HOST"
TBL=sandboxd_${INSTANCE//-/_}

# put ID PATH CONTENT
put() {
	api PUT "/sandboxes/$1/files$2" "$(jq -cn --arg c "$3" '{content: $c}')"
}
# P LABEL PATH: a preview request through nginx; sets STATUS and BODY
P() {
	STATUS=$(curl -s -o "$T_DIR/pbody" -w '%{http_code}' --max-time 20 -H "Host: $1.$PREVIEW_HOST" "$BASE$2")
	BODY=$(cat "$T_DIR/pbody")
}
as_user() { setpriv --reuid=12345 --regid=12345 --clear-groups "$@"; }
as_www() { setpriv --reuid=12345 --regid="$WWW_GID" --clear-groups "$@"; }
# get: "CODE rc=RC" of a GET from the host (curl's 7: refused at once)
# (the body to a variable: the user may not be allowed to write /dev/null)
get() {
	local out rc
	out=$("$@" curl -s -m 20 -w '\n%{http_code}' "$URL")
	rc=$?
	echo "${out##*$'\n'} rc=$rc"
}

# --- the host's users -------------------------------------------------------------------
api POST /sandboxes/web
is "$STATUS" 200 "web created"
api GET /sandboxes/web/network
ADDR=$(jqr .data.address)
like "$ADDR" '^10\.89\.' "web's address ($ADDR)"
put web /workspace/udp.py '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9000))
while True:
    d, a = s.recvfrom(100)
    with open("/tmp/udp.log", "a") as f:
        f.write(d.decode() + "\n")
'
api POST /sandboxes/web/processes '{"command": "exec python3 -m http.server 8000 --bind 0.0.0.0", "processId": "any", "cwd": "/workspace"}'
is "$STATUS" 200 "a server on 0.0.0.0:8000"
api POST /sandboxes/web/processes '{"command": "exec python3 -m http.server 8001 --bind 127.0.0.1", "processId": "lo", "cwd": "/workspace"}'
is "$STATUS" 200 "a dev server on 127.0.0.1:8001"
api POST /sandboxes/web/processes '{"command": "exec python3 /workspace/udp.py", "processId": "udp"}'
is "$STATUS" 200 "a UDP listener on 9000"
# (a python3 server's start can take seconds on a loaded machine)
exec_in web "for i in \$(seq 300); do grep -q ':2328 ' /proc/net/udp && python3 -c 'import socket; [socket.create_connection((\"127.0.0.1\", p)).close() for p in (8000, 8001)]' 2>/dev/null && exit 0; sleep 0.1; done; exit 1"
is "$(jqr .data.exitCode)" 0 "all three listen" || {
	api GET /sandboxes/web/processes/udp/logs; diag "udp: $BODY"
	api GET /sandboxes/web/processes/udp; diag "udp: $BODY"
	exec_in web "cat /proc/net/udp; cat /workspace/udp.py"; diag "$BODY"
}
api POST /sandboxes/web/ports '{"port": 8001}'
is "$STATUS" 201 "8001 exposed"
TOK=$(jqr .data.token)

URL=http://$ADDR:8000/
is "$(get as_user)" "000 rc=7" "a local user's connection to a sandbox's 0.0.0.0 server is refused at once (a reset)"
URL=http://$ADDR:8001/
is "$(get as_user)" "000 rc=7" "and to an exposed port (the preview DNAT) without the token"
URL=http://$ADDR:8000/
is "$(get as_www)" "200 rc=0" "the web server's group (nginx's workers) reaches it"
is "$(get)" "200 rc=0" "root (the service) reaches it"
P "8001-$TOK" /
is "$STATUS" 200 "the preview, through nginx, reaches the localhost-bound dev server"
as_user /usr/bin/python3 -c "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'from-user', ('$ADDR', 9000))" 2>/dev/null
python3 -c "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'from-root', ('$ADDR', 9000))"
for _ in $(seq 1 600); do exec_in web "cat /tmp/udp.log 2>/dev/null"; [[ "$(jqr .data.stdout)" == *from-root* ]] && break; sleep 0.1; done
is "$(jqr .data.stdout)" "from-root" "a local user's UDP datagram reaches nothing (root's, sent after it, does)"
nft list chain inet "$TBL" host_out >/dev/null 2>&1
ok $? "the table has the host_out chain"

# --- egress none: no DNS; previews still work --------------------------------------------
exec_in web "getent hosts public.test"
like "$(jqr .data.stdout)" "^$NET_PUBLIC " "public: a name resolves"
# a query every 0.1 s from one UDP socket (one conntrack flow to the resolver)
put web /workspace/dnsflow.py '
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 40053))
s.connect(("10.89.255.254", 53))
s.settimeout(0.5)
n = 0
while True:
    n += 1
    q = struct.pack(">HHHHHH", n & 0xFFFF, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l.encode() for l in ("q%d" % n, "flow", "public", "test")) + b"\0\0\1\0\1"
    try:
        s.send(q)
        s.recv(512)
        r = "answered"
    except OSError as e:
        r = "no answer"
    with open("/tmp/dnsflow.log", "a") as f:
        f.write("%d %s\n" % (n, r))
    time.sleep(0.1)
'
api POST /sandboxes/web/processes '{"command": "exec python3 /workspace/dnsflow.py", "processId": "dns"}'
is "$STATUS" 200 "a process that holds a UDP flow to the resolver"
# flow_last WANT: until the flow's last line says WANT (at most 30 s or so)
flow_last() {
	for _ in $(seq 1 300); do
		exec_in web "tail -n 1 /tmp/dnsflow.log 2>/dev/null"
		[[ "$(jqr .data.stdout)" == *" $1" ]] && return 0
		sleep 0.1
	done
	return 1
}
flow_last answered
ok $? "its queries are answered (public)"
api PUT /sandboxes/web/network '{"egress": "none"}'
is "$STATUS" 200 "PUT web none"
flow_last "no answer"
ok $? "none: the open flow's queries are no longer answered"
exec_in web "getent hosts secret-$RANDOM.exfil.public.test; echo rc=\$?"
is "$(jqr .data.stdout)" "rc=2" "none: a made-up name does not resolve (it never leaves)"
exec_in web "python3 -c 'import socket; socket.gethostbyname(\"public.test\")' 2>&1 | tail -n 1"
like "$(jqr .data.stdout)" "gaierror" "none: DNS fails (a refusal, not a hang)"
P "8001-$TOK" /
is "$STATUS" 200 "none: the preview still works (the sandbox's answers to nginx pass)"
URL=http://$ADDR:8000/
is "$(get)" "200 rc=0" "none: root still reaches the sandbox"
is "$(get as_user)" "000 rc=7" "none: a local user still does not"

api PUT /sandboxes/web/network "{\"egress\": \"allowlist\", \"allowOut\": [\"$NET_PUBLIC/32\"]}"
is "$STATUS" 200 "PUT web allowlist"
flow_last answered
ok $? "allowlist: the flow's queries are answered again (an allowlist's names are looked up)"
exec_in web "curl -s -m 10 http://public.test/ip"
is "$(jqr .data.stdout)" "$NET_UPLINK" "allowlist: a listed address is reached by name"
api PUT /sandboxes/web/network '{"egress": "none"}'
flow_last "no answer"
ok $? "none again: no answer"
api PUT /sandboxes/web/network '{"egress": "public"}'
flow_last answered
ok $? "public again: answered"

# --- the neighbour is not touched; the sandbox-to-sandbox rule holds ---------------------
api POST /sandboxes/peer '{"network": {"egress": "none"}}'
is "$STATUS" 200 "peer created with egress none"
exec_in peer "getent hosts public.test; echo rc=\$?"
is "$(jqr .data.stdout)" "rc=2" "peer (created none): no DNS"
exec_in web "getent hosts public.test"
like "$(jqr .data.stdout)" "^$NET_PUBLIC " "web (public) resolves beside it"
exec_in peer "curl -s -m 20 -o /dev/null http://$ADDR:8000/; echo rc=\$?"
is "$(jqr .data.stdout)" "rc=7" "a sandbox still does not reach another"

# --- a stop takes the table (and its output chain) along -------------------------------------
sbd_cleanup	# the master stopped (waited for), nginx too
! nft list table inet "$TBL" >/dev/null 2>&1
ok $? "the table is gone after a stop"
! nft list ruleset 2>/dev/null | grep -q 'skuid'
ok $? "no output rule of ours is left"

# --- --default-egress none: a sandbox without a policy has no DNS ---------------------------------
sbd_start "${NET_OPTS[@]}" --default-egress none
api POST /sandboxes/d
is "$STATUS" 200 "d created (the default: none)"
exec_in d "getent hosts public.test; echo rc=\$?"
is "$(jqr .data.stdout)" "rc=2" "default none: no DNS"
api PUT /sandboxes/d/network '{"egress": "public"}'
exec_in d "getent hosts public.test"
like "$(jqr .data.stdout)" "^$NET_PUBLIC " "public of its own: a name resolves"

done_testing
