#!/bin/bash
# The network policy's costs, in namespaces of their own (t/netlib.sh:
# nothing leaves the machine), through nginx on a running sandbox:
#  - PUT .../network to a 3-entry allowlist (elements changed, its refused
#    connections cut) and back to public (elements removed, nothing to cut),
#    interleaved
#  - a create that names a policy vs a plain one, interleaved (networking on)
#  - egress and ingress through a 100 Mbit/s cap (limits.egressMbps and
#    ingressMbps): what one TCP stream of 20 MiB gets
# Prints one line per figure (median, p90, n).
#   bench/netpolicy.sh [requests per figure (default 40)]
set -u
TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
SANDBOXD=${SANDBOXD:-$TOP_SRCDIR/build/sandboxd}
N=${1:-40}
. "$TOP_SRCDIR/t/lib.sh"
. "$TOP_SRCDIR/t/netlib.sh"
net_topology "$@"
sbd_start "${NET_OPTS[@]}" --max-running 100

med() { sort -n | awk '{ a[NR] = $1 } END { printf "median %.2f ms, p90 %.2f ms (n=%d)\n", a[int((NR + 1) / 2)] * 1000, a[int(NR * 0.9)] * 1000, NR }'; }
put() {
	curl -s -o /dev/null -w '%{time_total}\n' -X PUT -H 'Content-Type: application/json' \
		--data-binary "$1" "$BASE/sandboxes/a/network"
}
api POST /sandboxes/a
exec_in a true
ALLOW='{"egress":"allowlist","allowOut":["198.19.0.0/24","203.0.113.0/24"],"denyOut":["198.19.0.10"]}'
: >"$T_DIR/cut" && : >"$T_DIR/pub"
for _ in $(seq 1 "$N"); do
	put "$ALLOW" >>"$T_DIR/cut"
	put '{"egress":"public"}' >>"$T_DIR/pub"
done
echo "PUT .../network, allowlist (cut): $(med <"$T_DIR/cut")"
echo "PUT .../network, public: $(med <"$T_DIR/pub")"

: >"$T_DIR/c1" && : >"$T_DIR/c2"
for i in $(seq 1 $((N / 2))); do
	curl -s -o /dev/null -w '%{time_total}\n' -X POST "$BASE/sandboxes/p$i" >>"$T_DIR/c1"
	curl -s -o /dev/null -w '%{time_total}\n' -X POST -H 'Content-Type: application/json' \
		--data-binary '{"network":{"egress":"allowlist","allowOut":["198.19.0.0/24"]}}' \
		"$BASE/sandboxes/q$i" >>"$T_DIR/c2"
	curl -s -o /dev/null -X DELETE "$BASE/sandboxes/p$i"
	curl -s -o /dev/null -X DELETE "$BASE/sandboxes/q$i"
done
echo "create, no policy: $(med <"$T_DIR/c1")"
echo "create, allowlist policy: $(med <"$T_DIR/c2")"

api POST /sandboxes/c '{"limits": {"egressMbps": 100, "ingressMbps": 100}}'
api PUT /sandboxes/c/files/workspace/netprobe.py "" -H 'Content-Type: application/octet-stream' \
	-T "$TOP_SRCDIR/t/netprobe.py"
exec_in c "python3 /workspace/netprobe.py send $NET_PUBLIC 5001 20"
echo "egress through a 100 Mbit/s cap: $(jqr .data.stdout | head -n 1 | awk '{ printf "%.1f Mbit/s", $1 * 8 / $2 / 1e6 }')"
api POST /sandboxes/c/processes '{"command": "python3 /workspace/netprobe.py sink 9000 > /tmp/sink.log", "processId": "sink"}'
for _ in $(seq 1 50); do exec_in c "cat /tmp/sink.log"; [ "$(jqr .data.stdout)" = listening ] && break; sleep 0.1; done
api GET /sandboxes/c
echo "ingress through a 100 Mbit/s cap: $(python3 "$TOP_SRCDIR/t/netprobe.py" send "$(jqr .data.network.address)" 9000 20 |
	awk '{ printf "%.1f Mbit/s", $1 * 8 / $2 / 1e6 }')"
T_FAILED=0
