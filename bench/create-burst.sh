#!/bin/bash
# bench/create-burst.sh OLD/sandboxd NEW/sandboxd: two builds side by side
# (--warm-sandboxes 4), 1000 creates back to back on each, in chunks of
# 100 alternating between the two; creates/s, warm hits against cold
# creates, then 1000 destroys each.  As root, with nginx.
# docs/ARCHITECTURE.md ("Speed") has figures.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
[ $# = 2 ] || { echo "usage: $0 OLD/sandboxd NEW/sandboxd" >&2; exit 2; }
W=$(mktemp -d /tmp/sbd-burst.XXXXXX); chmod 0711 "$W"
. "$TOP/bench/lib.sh"
BURST="--uid-slots 1200 --warm-sandboxes 4 --disk-overcommit 5000"
# shellcheck disable=SC2086
A=$(bench_start old "$1" --uid-base 268435456 $BURST)
# shellcheck disable=SC2086
B=$(bench_start new "$2" --uid-base 402653184 $BURST)
sleep 3
python3 - "$A" "$B" <<'PY'
import http.client, statistics, sys, time, urllib.parse
bases = {"old": sys.argv[1], "new": sys.argv[2]}
conns = {}
def req(n, m, p):
    u = urllib.parse.urlparse(bases[n]); c = conns.get(n) or http.client.HTTPConnection(u.hostname, u.port, timeout=120); conns[n] = c
    t = time.perf_counter(); c.request(m, p); r = c.getresponse(); r.read(); return (time.perf_counter() - t) * 1000, r.status
spent = {"old": 0.0, "new": 0.0}; lat = {"old": [], "new": []}; rates = {"old": [], "new": []}; bad = {"old": 0, "new": 0}
for chunk in range(10):
    for n in (("old", "new") if chunk % 2 == 0 else ("new", "old")):
        t = time.perf_counter()
        for i in range(chunk * 100, chunk * 100 + 100):
            ms, st = req(n, "POST", "/sandboxes/b%d" % i); lat[n].append(ms); bad[n] += st != 200
        dt = time.perf_counter() - t; spent[n] += dt; rates[n].append(100 / dt)
for n in ("old", "new"):
    s = sorted(lat[n])
    print("%s: 1000 creates, %.1f creates/s (per 100: %s), latency median %.2f p90 %.2f ms, non-200 %d" % (n, 1000 / spent[n], " ".join("%.0f" % r for r in rates[n]), statistics.median(s), s[900], bad[n]))
for n in ("old", "new"):
    t = time.perf_counter(); b = 0
    for i in range(1000):
        ms, st = req(n, "POST", "/sandboxes/b%d/destroy" % i); b += st != 200
    print("%s: 1000 destroys, %.1f/s, failed %d" % (n, 1000 / (time.perf_counter() - t), b))
PY
for n in old new; do
	L=$W/$n/sandboxd.log
	echo "$n: warm hits $(grep 'event=sandbox.created' "$L" | grep -v ' id=\.w' | grep -c 'warm=') of $(grep 'event=sandbox.created' "$L" | grep -vc ' id=\.w'), idle stopped $(grep -c 'event=sandbox.stopped' "$L"), status=500: $(grep -c ' status=500 ' "$L")"
	bench_stop $n
done
rm -rf "$W"
