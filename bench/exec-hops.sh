#!/bin/bash
# bench/exec-hops.sh BEFORE/sandboxd AFTER/sandboxd ROUNDS: two builds side
# by side (bench/lib.sh), each round 150 sequential exec `true` and 150
# exec `ls /` per build, their requests interleaved, then 1,000 exec `true`
# at concurrency 4 per build; the per-round medians and their medians.  As
# root, with nginx; docs/ARCHITECTURE.md "### Exec" has figures.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
[ $# = 3 ] || { echo "usage: $0 BEFORE/sandboxd AFTER/sandboxd ROUNDS" >&2; exit 2; }
W=$(mktemp -d /tmp/sbd-bench.XXXXXX); chmod 0711 $W
. $TOP/bench/lib.sh
A=$(bench_start before "$1" $(bench_uids) --max-running 64)
B=$(bench_start after "$2" $(bench_uids) --max-running 64)
python3 - "$A" "$B" "$3" <<'PY'
import http.client, json, statistics, sys, time, urllib.parse, threading
bases = {"before": sys.argv[1], "after": sys.argv[2]}; rounds = int(sys.argv[3])
def conn(n):
    u = urllib.parse.urlparse(bases[n]); return http.client.HTTPConnection(u.hostname, u.port, timeout=120)
conns = {n: conn(n) for n in bases}
def req(n, path, body=None, c=None):
    c = c or conns[n]
    t = time.perf_counter(); c.request("POST", path, body=body); r = c.getresponse(); d = r.read()
    assert r.status == 200, (n, path, r.status, d[:200]); return (time.perf_counter() - t) * 1e3
for n in bases: req(n, "/sandboxes/s1")
bt = json.dumps({"command": "true"}); bl = json.dumps({"command": "ls /"})
res = {n: {"true": [], "ls": [], "c4": []} for n in bases}
order = ["before", "after"]
def c4(n, total=1000):
    cs = [conn(n) for _ in range(4)]; cnt = [0]; lock = threading.Lock()
    def run(c):
        while True:
            with lock:
                if cnt[0] >= total: return
                cnt[0] += 1
            req(n, "/sandboxes/s1/exec", bt, c)
    ts = [threading.Thread(target=run, args=(c,)) for c in cs]
    t = time.perf_counter(); [x.start() for x in ts]; [x.join() for x in ts]
    return total / (time.perf_counter() - t)
for r in range(rounds):
    o = order if r % 2 == 0 else order[::-1]
    med = {}
    for kind, body in (("true", bt), ("ls", bl)):
        v = {n: [] for n in o}
        for i in range(150):
            for n in (o if i % 2 == 0 else o[::-1]):
                v[n].append(req(n, "/sandboxes/s1/exec", body))
        for n in o: res[n][kind].append(statistics.median(v[n]))
    for n in o: res[n]["c4"].append(c4(n))
    print("round %d: " % r + "  ".join("%s true %.3f ls %.3f c4 %.0f/s" % (n, res[n]["true"][-1], res[n]["ls"][-1], res[n]["c4"][-1]) for n in order), flush=True)
for k in ("true", "ls", "c4"):
    print("%-4s " % k + "  ".join("%s median %.3f [%s]" % (n, statistics.median(res[n][k]), " ".join("%.3f" % x if k != "c4" else "%.0f" % x for x in res[n][k])) for n in order))
PY
bench_stop before; bench_stop after
rm -rf "$W"
