#!/bin/bash
# The service on cgroup v2, end to end: cgroup2 mounted in a private mount
# namespace (gone with the test) and given as --cgroup-root; limits land in
# v2's files, an exec's timeout kills what it left (setsid'd too), a stop
# and the service's own stop leave no cgroup.  Runs where cgroup2 has the
# memory, pids and cpu controllers to give (a v2-only host, or a hybrid one
# whose v1 hierarchies leave them free); elsewhere it skips and says why
# (t/unit-cgroup2 runs the controller-less part there, on the same kernel).
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (mounts cgroup2)"
if [ -z "${T_CG2_NS:-}" ]; then
	T_CG2_NS=1 exec unshare --mount --propagation private -- "$BASH" "$0" "$@"
	skip_all "no private mount namespace (unshare)"
fi
MNT=$(mktemp -d /tmp/sbd-cg2.XXXXXX)
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$MNT" 2>/dev/null ||
	{ rmdir "$MNT"; skip_all "this kernel mounts no cgroup2"; }
for c in memory pids cpu; do
	grep -qw "$c" "$MNT/cgroup.controllers" && continue
	umount "$MNT"; rmdir "$MNT"
	skip_all "cgroup2 here has no $c controller to give (a v1 hierarchy holds it; t/unit-cgroup2 checks the rest)"
done
cg2_cleanup() { sbd_cleanup; umount -l "$MNT" 2>/dev/null; rmdir "$MNT" 2>/dev/null; }
T_TRAP=cg2_cleanup
CG_ROOT=$MNT
is "$(cg_version)" 2 "the tests' helpers see cgroup v2 at $MNT"
sbd_start --memory-mb 256 --pids-max 128 --cpus 1 --max-memory-mb 512 --max-pids 256 --max-cpus 2
like "$(cat "$MNT/sandboxd-$INSTANCE/cgroup.subtree_control")" 'memory.*pids|pids.*memory' \
	"the instance's cgroup gives memory and pids (and cpu) to its sandboxes"

api POST /sandboxes/v2 '{"limits": {"memoryMb": 100, "pids": 50, "cpus": 0.5}}'
is "$STATUS" 200 "create with limits on cgroup2"
D=$(cg_dir memory v2)
is "$(cat "$D/memory.max") $(cat "$D/memory.swap.max") $(cat "$D/pids.max") $(cat "$D/cpu.max")" \
	"$((100 << 20)) 0 50 50000 100000" "memory.max, memory.swap.max, pids.max and cpu.max carry them"
is "$(cg_knob memory v2 memory.limit_in_bytes) $(cg_knob cpu v2 cpu.cfs_quota_us)" "$((100 << 20)) 50000" \
	"and t/lib.sh's cg_knob reads them as the v1 tests do"
like "$(init_of v2)" '^[0-9]+$' "the init is in the sandbox's cgroup ($(init_of v2))"
exec_in v2 'echo hi'
is "$(jqr .data.stdout)" hi "exec works"
api POST /sandboxes/v2 '{"limits": {"memoryMb": 80, "pids": 40, "cpus": 0.75}}'
is "$(cat "$D/memory.max") $(cat "$D/pids.max") $(cat "$D/cpu.max")" "$((80 << 20)) 40 75000 100000" \
	"new limits on the running sandbox are written"

# an exec's timeout kills what it left, a setsid'd daemon too (cgroup.kill)
api POST /sandboxes/v2/exec '{"command": "setsid nohup sleep 1000 >/dev/null 2>&1 & sleep 30", "timeout": 1000}'
is "$(jqr .data.timedOut)" true "an exec past its timeout is cut"
HS=
for p in $(sandbox_pids v2); do [ "$(cat /proc/$p/comm 2>/dev/null)" = sleep ] && HS="$HS $p"; done
is "$HS" "" "no sleep is left in the sandbox's cgroups, the setsid'd one neither"
is "$(find "$D" -mindepth 1 -maxdepth 1 -type d -name 'e*' | wc -l)" 0 "and no exec cgroup is left"

api DELETE /sandboxes/v2
is "$STATUS" 200 "DELETE answers 200"
ok $([ ! -e "$D" ]; echo $?) "the sandbox's cgroup is gone"
api POST /sandboxes/w2 '{}'
exec_in w2 'echo again'
is "$(jqr .data.stdout)" again "a second sandbox runs"
kill -TERM "$(cat "$T_DIR/sandboxd.pid")"
for _ in $(seq 1 300); do kill -0 "$(cat "$T_DIR/sandboxd.pid")" 2>/dev/null || break; sleep 0.1; done
ok $([ ! -e "$MNT/sandboxd-$INSTANCE" ]; echo $?) "the service's stop removes the instance's cgroup"

done_testing
