#!/bin/bash
# bench/snapshots.sh [BUILD_DIR]: the time and host bytes of a snapshot, a
# restore (with a process running) and a fork of a sandbox holding 1 GiB of
# random data in /workspace (--disk-mb 4096), through nginx, with t/lib.sh's
# throwaway service.  As root, with nginx; docs/ARCHITECTURE.md has figures.
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$TOP/build}
TOP_SRCDIR=$TOP SANDBOXD=$BUILD/sandboxd NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
. "$TOP/t/lib.sh"
sbd_start --disk-mb 4096
api POST /sandboxes/big; echo "create $STATUS"
exec_in big 'head -c 1073741824 /dev/urandom > /workspace/big; sync; du -sh /workspace/big'
echo "write: $(jqr .data.stdout) $(jqr .data.durationMs)ms"
for i in 1 2 3; do
	t0=$(date +%s%N); api POST /sandboxes/big/snapshots "{\"name\": \"s$i\"}"; t1=$(date +%s%N)
	echo "snapshot s$i: status=$STATUS client_ms=$(( (t1-t0)/1000000 )) server=$(jqr .data.durationMs)ms stored=$(jqr .data.storedBytes) size=$(jqr .data.sizeBytes) reflink=$(jqr .data.reflinked)"
	api DELETE /sandboxes/big/snapshots/s$i
done
api POST /sandboxes/big/snapshots '{"name": "keep"}'
api POST /sandboxes/big/processes '{"command": "sleep 600", "processId": "sl"}'
for i in 1 2 3; do
	t0=$(date +%s%N); api POST /sandboxes/big/snapshots/keep/restore; t1=$(date +%s%N)
	echo "restore: status=$STATUS client_ms=$(( (t1-t0)/1000000 )) server=$(jqr .data.durationMs)ms stopped=$(jqr .data.stopped)"
	t0=$(date +%s%N); exec_in big 'md5sum /workspace/big | cut -c1-8'; t1=$(date +%s%N)
	echo "  first exec after (start+md5 of 1 GiB): $(( (t1-t0)/1000000 ))ms $(jqr .data.stdout)"
done
t0=$(date +%s%N); api POST /sandboxes/bigfork '{"from": "big"}'; t1=$(date +%s%N)
echo "fork: status=$STATUS client_ms=$(( (t1-t0)/1000000 ))"
grep -E "sandbox\.(snapshot|restored|fork)" "$T_DIR/sandboxd.log" | sed 's/^/log: /'
du -k --apparent-size "$DATA/sandboxes/big/disk.img"; du -k "$DATA/sandboxes/big/disk.img" "$DATA/sandboxes/big/snapshots/"*
done_testing
