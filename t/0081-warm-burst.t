#!/bin/bash
# A burst of creates from parallel clients with warm sandboxes and spare
# disks (the filler woken by every claim, the launchers exec'd ahead):
# every create answers 200, each sandbox runs under its own
# hostname on an empty disk of its own, no warm sandbox is discarded.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
[ "$(cg_version)" = 1 ] ||
	skip_all "warm sandboxes need cgroup v1 (cgroup2 cannot rename a cgroup)"
CLIENTS=${BURST_CLIENTS:-8} ROUNDS=${BURST_ROUNDS:-25}
sbd_start --warm-sandboxes 2 --spare-disks 2 --disk-mb 64 --max-workers 16 --max-running 40

client() {	# client N: ROUNDS creates, each checked and destroyed
	local n=$1 i id out st
	for i in $(seq 1 "$ROUNDS"); do
		id=c$n-$i
		st=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE/sandboxes/$id")
		[ "$st" = 200 ] || { echo "$id create $st"; continue; }
		out=$(curl -s -X POST -H 'Content-Type: application/json' --data-binary \
			'{"command":"hostname; ls -A /workspace | wc -l; echo mine > /workspace/m; cat /workspace/m"}' \
			"$BASE/sandboxes/$id/exec" | jq -r .data.stdout | tr '\n' ' ' | sed 's/ *$//')
		[ "$out" = "$id 0 mine" ] || echo "$id exec '$out'"
		st=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE/sandboxes/$id/destroy")
		[ "$st" = 200 ] || echo "$id destroy $st"
	done
}
PIDS=
for n in $(seq 1 "$CLIENTS"); do client "$n" >"$T_DIR/client.$n" 2>&1 & PIDS="$PIDS $!"; done
wait $PIDS
BAD=$(cat "$T_DIR"/client.*)
is "$BAD" "" "$CLIENTS clients x $ROUNDS creates: each 200, its own hostname, an empty disk, destroyed"
is "$(grep -c 'event=sandbox.discarded' "$T_DIR/sandboxd.log")" 0 "no warm sandbox was discarded"
is "$(grep -c 'status=5' "$T_DIR/sandboxd.log")" 0 "no 5xx"
# the filler makes again the spares the burst took (a loaded machine takes
# a while: a CI pass beside another met none made 3 s after), no more
for _ in $(seq 1 600); do
	[ "$(ls -A "$DATA/spares" | grep -c '^[0-9].*\.img$')" -ge 2 ] && break
	sleep 0.1
done
sleep 1
is "$(ls -A "$DATA/spares" | grep -c '^[0-9].*\.img$')" 2 "  the pool holds --spare-disks (2) spares"
diag "loops of DATA: $(losetup -a | grep -c "$DATA/"), spares: $(ls -A "$DATA/spares" | tr '\n' ' ')"
done_testing
