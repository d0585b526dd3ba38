#!/bin/bash
# The smallest limits a create may ask are those the options accept
# (--memory-mb 16, --pids-max 8, --cpus 0.01, --disk-mb 16): a smaller ask is
# raised to that floor, as a larger one is clamped to the maximum, and the
# sandbox starts and runs a command.  (The request's copy of the rules once
# took anything above 0: cpus 0.001 became a CFS quota of 100 us, which the
# kernel refuses, so the create failed with a 500.)
# Deterministic: no sleeps, no timing.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
for h in memory pids cpu cpuacct freezer; do
	[ -d /sys/fs/cgroup/$h ] || skip_all "needs the cgroup v1 $h hierarchy"
done
sbd_start --memory-mb 256 --pids-max 128 --cpus 1 --disk-mb 64
CG=/sys/fs/cgroup
MAXT=(--max-time 120)
limits() { api GET "/sandboxes/$1" "" "${MAXT[@]}"; jqr '.data.limits | "\(.memoryMb) \(.pids) \(.cpus) \(.diskMb)"'; }

api POST /sandboxes/tiny-cpu '{"limits":{"cpus":0.001}}' "${MAXT[@]}"
is "$STATUS" 200 "create with cpus 0.001 answers 200 ($(jqr .error))"
is "$(limits tiny-cpu)" "256 128 0.01 64" "its cpus are raised to 0.01, the floor of --cpus"
is "$(cat $CG/cpu/sandboxd-$INSTANCE/tiny-cpu/cpu.cfs_quota_us 2>/dev/null)" 1000 \
	"its CFS quota is 1000 us of 100000"

api POST /sandboxes/tiny-pids '{"limits":{"pids":1}}' "${MAXT[@]}"
is "$STATUS" 200 "create with pids 1 answers 200 ($(jqr .error))"
is "$(limits tiny-pids)" "256 8 1 64" "its pids are raised to 8, the floor of --pids-max"

api POST /sandboxes/tiny-mem '{"limits":{"memoryMb":1,"diskMb":1}}' "${MAXT[@]}"
is "$STATUS" 200 "create with memoryMb 1, diskMb 1 answers 200 ($(jqr .error))"
is "$(limits tiny-mem)" "16 128 1 16" "its memory and disk are raised to 16 MiB, the floors of --memory-mb and --disk-mb"

api POST /sandboxes/tiny-pids/exec '{"command":"echo hi"}' "${MAXT[@]}"
is "$STATUS $(jqr .data.stdout)" "200 hi" "the sandbox of the smallest pids runs a command"

done_testing
