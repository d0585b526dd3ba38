#!/bin/bash
# bench/create-net-peers.sh BEFORE/sandboxd AFTER/sandboxd: bench/create-peers.sh
# with networking on, as `./dev bench` measures create under `./dev up`
# (--network --warm-sandboxes --preview-domain), in namespaces of its own
# (t/netlib.sh: nothing leaves the machine; creates send nothing anyway).
# Four instances, each with --warm-sandboxes 2: BEFORE and AFTER with
# networking on, and (OFF=1, the default) both with networking off, for
# what networking adds.  NC (30) cold creates back to back, each asking
# the default limits by name (a warm sandbox never serves those: bench.py's
# cold row), interleaved; NW (20) warm claims (no body) 400 ms apart,
# interleaved; `bwrap --unshare-all true` and `runc run` in the same rounds.
# As root, with nginx, bwrap, runc (/usr/sbin/runc) and dnsmasq.
set -u
TOP_SRCDIR=$(cd "$(dirname "$0")/.." && pwd); TOP=$TOP_SRCDIR
[ $# = 2 ] || { echo "usage: $0 BEFORE/sandboxd AFTER/sandboxd" >&2; exit 2; }
. "$TOP/t/lib.sh"
. "$TOP/t/netlib.sh"
net_topology "$@"
RUNC=${RUNC:-/usr/sbin/runc}
BEFORE=$1; AFTER=$2; NC=${NC:-30}; NW=${NW:-20}; OFF=${OFF:-1}
W=$(mktemp -d /tmp/sbd-nbench.XXXXXX); chmod 0711 "$W"
. "$TOP/bench/lib.sh"
bench_runc_bundle "$W/runc" || exit 1
common=(--max-running 64 --warm-sandboxes 2)
net() { echo --network --egress-allow 198.18.0.0/15 --net-resolv-conf "$NET_DIR/resolv.conf" \
	--net-pool "$1" --preview-domain "http://preview.test:8080"; }
names="before after"
A=$(bench_start before "$BEFORE" $(bench_uids) "${common[@]}" $(net 10.89.0.0/24))
B=$(bench_start after "$AFTER" $(bench_uids) "${common[@]}" $(net 10.90.0.0/24))
AO=- BO=-
if [ "$OFF" = 1 ]; then
	AO=$(bench_start beforeoff "$BEFORE" $(bench_uids) "${common[@]}")
	BO=$(bench_start afteroff "$AFTER" $(bench_uids) "${common[@]}")
	names="$names beforeoff afteroff"
fi
sleep 3
python3 - "$A" "$B" "$AO" "$BO" "$NC" "$NW" "$W/runc" "$RUNC" <<'PY'
import http.client, json, statistics, sys, time, urllib.parse, subprocess, os
bases = {"before": sys.argv[1], "after": sys.argv[2], "beforeoff": sys.argv[3], "afteroff": sys.argv[4]}
bases = {k: v for k, v in bases.items() if v != "-"}
NC, NW = int(sys.argv[5]), int(sys.argv[6])
BUNDLE, RUNC = sys.argv[7], sys.argv[8]
cold_body = json.dumps({"limits": {"memoryMb": 1024, "pids": 1024, "cpus": 1}})
conns = {}
def req(name, method, path, body=None):
    u = urllib.parse.urlparse(bases[name])
    c = conns.get(name) or http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    conns[name] = c
    h = {"Content-Type": "application/json"} if body else {}
    t = time.perf_counter(); c.request(method, path, body, h); r = c.getresponse(); d = r.read()
    assert r.status == 200, (name, path, r.status, d[:200])
    return (time.perf_counter() - t) * 1000
def cmd(argv, cwd=None):
    t = time.perf_counter(); r = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert r.returncode == 0, r.stderr
    return (time.perf_counter() - t) * 1000
bwrap = ["bwrap", "--unshare-all", "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/lib", "/lib", "--symlink", "usr/bin", "/bin", "/bin/true"]
names = list(bases)
res = {}
for n in names:
    res["cold " + n] = []; res["warm " + n] = []
res["bwrap"] = []; res["runc run"] = []
for i in range(NC):
    order = names if i % 2 == 0 else names[::-1]
    for n in order:
        res["cold " + n].append(req(n, "POST", "/sandboxes/c%d" % i, cold_body))
    res["bwrap"].append(cmd(bwrap))
    res["runc run"].append(cmd([RUNC, "run", "sbd-nbench-%d-%d" % (os.getpid(), i)], cwd=BUNDLE))
# the cold ones gone before the claims
for i in range(NC):
    for n in names:
        req(n, "POST", "/sandboxes/c%d/destroy" % i)
time.sleep(2)
for i in range(NW):
    time.sleep(0.4)
    order = names if i % 2 == 0 else names[::-1]
    for n in order:
        res["warm " + n].append(req(n, "POST", "/sandboxes/w%d" % i))
    res["bwrap"].append(cmd(bwrap))
def q(v, p): v = sorted(v); return v[min(len(v) - 1, int(len(v) * p))]
for k, v in res.items():
    print("%-16s n=%3d median %6.2f ms  p10 %6.2f  p90 %6.2f" % (k, len(v), statistics.median(v), q(v, 0.1), q(v, 0.9)))
m = {k: statistics.median(v) for k, v in res.items()}
for n in names:
    print("%-10s cold/runc %.2f (goal <= 0.25)  warm/bwrap %.2f (goal <= 0.5)" % (n, m["cold " + n] / m["runc run"], m["warm " + n] / m["bwrap"]))
print("load %.1f" % os.getloadavg()[0])
PY
for n in $names; do
	echo "$n: warm hits $(grep 'event=sandbox.created' "$W/$n/sandboxd.log" | grep -c 'warm=')"
	bench_stop $n
done
[ "${KEEP:-0}" = 1 ] && echo "kept $W" || rm -rf "$W"
