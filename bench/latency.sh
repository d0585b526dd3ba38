#!/bin/bash
# Latency through nginx against a running service (./dev up), with the
# machine's fork/setns/exec floor measured in the same run.
#   bench/latency.sh [BASE-URL] [N]
set -euo pipefail
BASE=${1:-http://127.0.0.1:8787}
N=${2:-100}
cd "$(dirname "$0")/.."

stats() {	# seconds on stdin -> "median X ms  p90 Y ms  p99 Z ms"
	sort -n | awk '{ a[NR] = $1 } END {
		printf "median %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  (n=%d)\n",
			a[int(NR * 0.5) + 1] * 1000, a[int(NR * 0.9) + 1] * 1000, a[int(NR * 0.99) + 1] * 1000, NR }'
}
req() { curl -s -o /dev/null -w '%{time_total}\n' "$@"; }

tag=b$$x$RANDOM
echo "create (new sandbox: record, dirs, disk image, namespaces, mounts):"
for i in $(seq 1 "$N"); do req -X POST "$BASE/sandboxes/$tag-$i"; done | stats
echo "exec true (warm sandbox):"
req -X POST "$BASE/sandboxes/$tag-1" >/dev/null
for i in $(seq 1 "$N"); do req -X POST -d '{"command":"true"}' "$BASE/sandboxes/$tag-1/exec"; done | stats
echo "GET status (HTTP + FastCGI + LMDB, no process):"
for i in $(seq 1 "$N"); do req "$BASE/sandboxes/$tag-1"; done | stats

floor=../shared/tools/spawnlimit.c
if [ -f "$floor" ] && command -v cc >/dev/null; then
	cc -O2 -o /tmp/spawnlimit.$$ "$floor" && /tmp/spawnlimit.$$ 200 && rm -f /tmp/spawnlimit.$$
fi
# the sandboxes made here stay (files persist); DELETE only kills processes
