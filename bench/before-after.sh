#!/bin/bash
# bench/before-after.sh BEFORE/sandboxd AFTER/sandboxd: two builds of the
# service side by side (own data dirs, instances and nginx ports), their
# 30 cold creates, 300 execs and 100 file writes interleaved so that the
# machine's load hits both alike; then RSS/PSS of their idle inits
# (smaps_rollup).  As root, with nginx; docs/ARCHITECTURE.md has figures.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
[ $# = 2 ] || { echo "usage: $0 BEFORE/sandboxd AFTER/sandboxd" >&2; exit 2; }
BEFORE=$1
AFTER=$2
W=$(mktemp -d /tmp/sbd-bench.XXXXXX)
chmod 0711 "$W"
. "$TOP/bench/lib.sh"
# shellcheck disable=SC2046
A=$(bench_start before "$BEFORE" $(bench_uids) --max-running 64)
# shellcheck disable=SC2046
B=$(bench_start after "$AFTER" $(bench_uids) --max-running 64)
python3 - "$A" "$B" "$W" <<'PY'
import http.client, json, statistics, sys, time, urllib.parse, os, subprocess
bases = {"before": sys.argv[1], "after": sys.argv[2]}
W = sys.argv[3]
conns = {}
def req(name, method, path, body=None):
    u = urllib.parse.urlparse(bases[name])
    c = conns.get(name) or http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    conns[name] = c
    t = time.perf_counter()
    c.request(method, path, body=body)
    r = c.getresponse(); d = r.read()
    ms = (time.perf_counter() - t) * 1000
    assert r.status == 200, (name, path, r.status, d[:200])
    return ms, d
res = {k: {"create": [], "exec": [], "write": []} for k in bases}
order = ["before", "after"]
for i in range(30):
    for n in (order if i % 2 == 0 else order[::-1]):
        res[n]["create"].append(req(n, "POST", "/sandboxes/c%d" % i)[0])
body = json.dumps({"command": "true"})
for i in range(300):
    for n in (order if i % 2 == 0 else order[::-1]):
        res[n]["exec"].append(req(n, "POST", "/sandboxes/c0/exec", body)[0])
wb = json.dumps({"content": "hello"})
for i in range(100):
    for n in (order if i % 2 == 0 else order[::-1]):
        res[n]["write"].append(req(n, "PUT", "/sandboxes/c1/files/workspace/f", wb)[0])
def q(v, p): v = sorted(v); return v[min(len(v) - 1, int(len(v) * p))]
# what the API reports per idle sandbox (its cgroup's memory), as ./dev bench does
for n in order:
    mem = []
    for i in range(2, 30):
        u = json.loads(req(n, "GET", "/sandboxes/c%d" % i)[1])["data"].get("usage", {})
        if "memoryBytes" in u:
            mem.append(u["memoryBytes"] / 1024)
    if mem:
        print("idle sandbox %-6s n=%d  cgroup memory median %d KiB" % (n, len(mem), statistics.median(mem)))
for k in ("create", "exec", "write"):
    for n in order:
        v = res[n][k]
        print("%-6s %-6s n=%3d median %6.2f ms  p90 %6.2f ms" % (k, n, len(v), statistics.median(v), q(v, 0.9)))
# idle inits: RSS, PSS, private memory (smaps_rollup), over every sandbox
for n in order:
    d = os.path.join(W, n, "data", "sandboxes")
    rss, pss, priv = [], [], []
    for sb in [x for x in os.listdir(d) if not x.startswith(".")]:
        ctl = os.path.join(d, sb)
        # the init: the process holding the sandbox's control socket is found via the cgroup
        try:
            inst = [x for x in os.listdir("/sys/fs/cgroup/pids") if x.startswith("sandboxd-ba" + n)][0]
        except IndexError:
            continue
        try: procs = open("/sys/fs/cgroup/pids/%s/%s/cgroup.procs" % (inst, sb)).read().split()
        except OSError: continue
        for p in procs:
            if open("/proc/%s/comm" % p).read().strip() != "sandbox-init":
                continue
            m = {}
            for line in open("/proc/%s/smaps_rollup" % p):
                f = line.split()
                if len(f) == 3 and f[2] == "kB":
                    m[f[0].rstrip(":")] = int(f[1])
            rss.append(m["Rss"]); pss.append(m["Pss"])
            priv.append(m["Private_Clean"] + m["Private_Dirty"])
    print("idle init %-6s n=%d  RSS median %d KiB  PSS median %d KiB  private median %d KiB" %
          (n, len(rss), statistics.median(rss), statistics.median(pss), statistics.median(priv)))
PY
bench_stop before; bench_stop after
rm -rf "$W"
