#!/bin/bash
# bench/create-peers.sh BEFORE/sandboxd AFTER/sandboxd: two builds side by
# side, each twice (without and with --warm-sandboxes 2): NC (30) cold
# creates back to back, interleaved, and NW (20) warm claims 400 ms apart,
# interleaved, with `bwrap --unshare-all true` and `runc run` (a new
# container with memory, pids and cpu limits, /usr bound read-only, runs
# `true`, deleted) measured in the same rounds.  As root, with nginx, bwrap
# and runc (/usr/sbin/runc).  docs/ARCHITECTURE.md ("Speed") has figures.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
[ $# = 2 ] || { echo "usage: $0 BEFORE/sandboxd AFTER/sandboxd" >&2; exit 2; }
RUNC=${RUNC:-/usr/sbin/runc}
BEFORE=$1; AFTER=$2; NC=${NC:-30}; NW=${NW:-20}
W=$(mktemp -d /tmp/sbd-bench.XXXXXX); chmod 0711 "$W"
. "$TOP/bench/lib.sh"
bench_runc_bundle "$W/runc" || exit 1
A=$(bench_start before "$BEFORE" $(bench_uids) --max-running 64)
B=$(bench_start after "$AFTER" $(bench_uids) --max-running 64)
AW=$(bench_start beforew "$BEFORE" $(bench_uids) --max-running 64 --warm-sandboxes 2)
BW=$(bench_start afterw "$AFTER" $(bench_uids) --max-running 64 --warm-sandboxes 2)
sleep 2
python3 - "$A" "$B" "$AW" "$BW" "$NC" "$NW" "$W/runc" "$RUNC" <<'PY'
import http.client, statistics, sys, time, urllib.parse, subprocess, os
bases = {"before": sys.argv[1], "after": sys.argv[2], "beforew": sys.argv[3], "afterw": sys.argv[4]}
NC, NW = int(sys.argv[5]), int(sys.argv[6])
BUNDLE, RUNC = sys.argv[7], sys.argv[8]
conns = {}
def req(name, method, path):
    u = urllib.parse.urlparse(bases[name])
    c = conns.get(name) or http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    conns[name] = c
    t = time.perf_counter(); c.request(method, path); r = c.getresponse(); d = r.read()
    assert r.status == 200, (name, path, r.status, d[:200])
    return (time.perf_counter() - t) * 1000
def cmd(argv, cwd=None):
    t = time.perf_counter(); r = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert r.returncode == 0, r.stderr
    return (time.perf_counter() - t) * 1000
bwrap = ["bwrap", "--unshare-all", "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/lib", "/lib", "--symlink", "usr/bin", "/bin", "/bin/true"]
res = {k: [] for k in ("cold before", "cold after", "warm before", "warm after", "bwrap", "runc run")}
# cold, back to back, interleaved by pairs (as bench/before-after.sh), with a bwrap and a runc run each round
for i in range(NC):
    for n in (("before", "after") if i % 2 == 0 else ("after", "before")):
        res["cold " + n].append(req(n, "POST", "/sandboxes/c%d" % i))
    res["bwrap"].append(cmd(bwrap))
    res["runc run"].append(cmd([RUNC, "run", "sbd-bench-%d-%d" % (os.getpid(), i)], cwd=BUNDLE))
# warm claims: 400 ms apart (the filler starts the next), interleaved
for i in range(NW):
    time.sleep(0.4)
    for n in (("beforew", "afterw") if i % 2 == 0 else ("afterw", "beforew")):
        res["warm " + n[:-1]].append(req(n, "POST", "/sandboxes/w%d" % i))
    res["bwrap"].append(cmd(bwrap))
def q(v, p): v = sorted(v); return v[min(len(v) - 1, int(len(v) * p))]
for k, v in res.items():
    print("%-12s n=%3d median %6.2f ms  p10 %6.2f  p90 %6.2f" % (k, len(v), statistics.median(v), q(v, 0.1), q(v, 0.9)))
m = {k: statistics.median(v) for k, v in res.items()}
print("cold after / runc run = %.2f (goal <= 0.25); cold after / bwrap = %.2f" % (m["cold after"] / m["runc run"], m["cold after"] / m["bwrap"]))
print("warm after / bwrap = %.2f (goal <= 0.5); cold before/after = %.2f" % (m["warm after"] / m["bwrap"], m["cold before"] / m["cold after"]))
PY
for n in before after beforew afterw; do
	echo "$n: warm hits $(grep 'event=sandbox.created' "$W/$n/sandboxd.log" | grep -c 'warm=')"
	bench_stop $n
done
rm -rf "$W"
