#!/bin/bash
# How long output takes from a sandbox to a curl client through nginx: the
# command prints its clock every 50 ms; the client stamps each frame on
# arrival (same machine, same clock).  Median, p90, p99 over N lines.
#   bench/stream-latency.sh [BASE-URL] [N]
set -euo pipefail
BASE=${1:-http://127.0.0.1:8787}
N=${2:-200}
curl -s -N -X POST "$BASE/sandboxes/bench-stream/exec" \
	-d "{\"stream\": true, \"command\": \"i=0; while [ \$i -lt $N ]; do date +%s%N; sleep 0.05; i=\$((i+1)); done\"}" |
python3 -c '
import json, sys, time
lat = []
for line in sys.stdin:
    now = time.time_ns()
    if not line.startswith("data: "):
        continue
    ev = json.loads(line[6:])
    if ev.get("type") != "stdout":
        continue
    for sent in ev["data"].split():
        lat.append((now - int(sent)) / 1e6)
lat.sort()
n = len(lat)
print("stream output latency, sandbox -> curl through nginx: median %.2f ms  p90 %.2f ms  p99 %.2f ms  (n=%d)"
      % (lat[n // 2], lat[int(n * 0.9)], lat[int(n * 0.99)], n))
'
