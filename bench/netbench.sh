#!/bin/bash
# The network figures of ./dev bench, in namespaces of their own (t/netlib.sh:
# nothing leaves the machine):
#  - what networking adds to a create: two instances side by side in the same
#    run, one with --network, one without; creates alternate between them
#    (POST round trip, and the service's own sandbox_start time from its log)
#  - TCP throughput of one stream to and from the stand-in internet: a
#    sandbox's (veth + nft + NAT) and the host's, the same program both times
# Prints one JSON object per line (name, median, p90, n, ...).
#   bench/netbench.sh [creates per instance (default 30)] [seconds per stream (default 3)]
set -u
TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
SANDBOXD=${SANDBOXD:-$TOP_SRCDIR/build/sandboxd}
N=${1:-30}
SECS=${2:-3}
. "$TOP_SRCDIR/t/lib.sh"
. "$TOP_SRCDIR/t/netlib.sh"
net_topology "$@"

# two instances: sbd_start's globals saved between them
sbd_start "${NET_OPTS[@]}" --max-running 200 --spare-disks 4
ON_BASE=$BASE ON_DIR=$T_DIR
T_TRAP=: sbd_start --max-running 200 --spare-disks 4
OFF_BASE=$BASE OFF_DIR=$T_DIR
both_cleanup() {
	T_DIR=$OFF_DIR; sbd_cleanup
	T_DIR=$ON_DIR; sbd_cleanup
}
trap both_cleanup EXIT

tag=n$RANDOM
create() {	# create BASE ID: the POST round trip in ms
	curl -s -o /dev/null -w '%{time_total}\n' -X POST "$1/sandboxes/$2" | awk '{ printf "%.3f\n", $1 * 1000 }'
}
# a few first, so both have their spare disks and caches warm
for i in 1 2 3; do create "$ON_BASE" "$tag-won$i" >/dev/null; create "$OFF_BASE" "$tag-woff$i" >/dev/null; done
sleep 1
: >"$NET_DIR/on.ms"; : >"$NET_DIR/off.ms"
for i in $(seq 1 "$N"); do
	create "$ON_BASE" "$tag-on$i" >>"$NET_DIR/on.ms"
	create "$OFF_BASE" "$tag-off$i" >>"$NET_DIR/off.ms"
	sleep 0.3	# the spare disk made again between creates, as for creates that come apart
done
started_ms() {	# the service's own start time of the measured sandboxes (log: sandbox.started ms=)
	grep "event=sandbox.started id=$tag-$2[0-9]" "$1/sandboxd.log" | sed -n 's/.* ms=\([0-9]*\).*/\1/p'
}
started_ms "$ON_DIR" on >"$NET_DIR/on.start"
started_ms "$OFF_DIR" off >"$NET_DIR/off.start"

BASE=$ON_BASE T_DIR=$ON_DIR
SEND='import socket, sys, time
s = socket.create_connection((sys.argv[1], 5001))
buf = bytes(1 << 20); n = 0; t = time.time(); end = t + float(sys.argv[2])
while time.time() < end:
    s.sendall(buf); n += len(buf)
s.shutdown(socket.SHUT_WR); s.recv(1)
print("%.3f" % (n * 8 / (time.time() - t) / 1e9))'
RECV='import socket, sys, time
s = socket.create_connection((sys.argv[1], 5002))
n = 0; t = time.time(); end = t + float(sys.argv[2])
while time.time() < end:
    n += len(s.recv(1 << 20))
print("%.3f" % (n * 8 / (time.time() - t) / 1e9))'
: >"$NET_DIR/sbx.gbps"; : >"$NET_DIR/host.gbps"; : >"$NET_DIR/sbx-down.gbps"; : >"$NET_DIR/host-down.gbps"
for _ in 1 2 3; do
	exec_in "$tag-on1" "python3 -c '$SEND' $NET_PUBLIC $SECS"
	jqr .data.stdout >>"$NET_DIR/sbx.gbps"
	python3 -c "$SEND" "$NET_PUBLIC" "$SECS" >>"$NET_DIR/host.gbps"
	exec_in "$tag-on1" "python3 -c '$RECV' $NET_PUBLIC $SECS"
	jqr .data.stdout >>"$NET_DIR/sbx-down.gbps"
	python3 -c "$RECV" "$NET_PUBLIC" "$SECS" >>"$NET_DIR/host-down.gbps"
done

python3 - "$NET_DIR" <<'EOF'
import json, sys
d = sys.argv[1]
def nums(f):
    return sorted(float(x) for x in open("%s/%s" % (d, f)).read().split())
def pct(v, p):
    return v[min(len(v) - 1, int(len(v) * p))] if v else None
def row(name, v, **kw):
    print(json.dumps({"name": name, "median": pct(v, 0.5), "p90": pct(v, 0.9), "p99": pct(v, 0.99),
                      "n": len(v), **kw}))
on, off = nums("on.ms"), nums("off.ms")
row("create, networking on (POST)", on, baseline="create, networking off", baseline_median=pct(off, 0.5),
    ratio=pct(on, 0.5) / pct(off, 0.5))
row("create, networking off (POST)", off)
son, soff = nums("on.start"), nums("off.start")
row("sandbox_start, networking on (log ms)", son, baseline="networking off", baseline_median=pct(soff, 0.5),
    added_ms=pct(son, 0.5) - pct(soff, 0.5))
sb, host = nums("sbx.gbps"), nums("host.gbps")
row("TCP 1 stream sandbox -> stand-in (Gb/s)", sb, baseline="host -> stand-in", baseline_median=pct(host, 0.5),
    ratio=pct(sb, 0.5) / pct(host, 0.5))
sb, host = nums("sbx-down.gbps"), nums("host-down.gbps")
row("TCP 1 stream stand-in -> sandbox (Gb/s)", sb, baseline="stand-in -> host", baseline_median=pct(host, 0.5),
    ratio=pct(sb, 0.5) / pct(host, 0.5))
EOF
