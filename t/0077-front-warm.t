#!/bin/bash
# Review of issue 18's front (r18): a worker's kept cgroup files follow a
# sandbox made from a warm one (its cgroups renamed at the claim), through
# a destroy and a second claim under the same name: the status's pids is
# what the sandbox's own cgroup says at each read, in every worker.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
[ "$(cg_version)" = 1 ] ||
	skip_all "warm sandboxes need cgroup v1 (cgroup2 cannot rename a cgroup)"
CONF=$(mktemp /tmp/sbd-warm-conf.XXXXXX)
printf 'warm-sandboxes = 2\nmax-running = 10\n' >"$CONF"
T_WORKERS=2 sbd_start --config "$CONF"
trap 'sbd_cleanup; rm -f "$CONF"' EXIT

pids_now() { cat "$(cg_dir pids "$1")/pids.current"; }
warm_count() { ls -d "$DATA"/sandboxes/.w* 2>/dev/null | wc -l; }
for _ in $(seq 1 300); do [ "$(warm_count)" -ge 2 ] && break; sleep 0.1; done

for round in 1 2 3; do
	for _ in $(seq 1 300); do [ "$(warm_count)" -ge 1 ] && break; sleep 0.1; done
	api POST /sandboxes/wa
	is "$STATUS" 200 "round $round: create wa (from a warm one)"
	for i in 1 2 3 4; do
		api GET /sandboxes/wa
		is "$(jqr .data.usage.pids)" "$(pids_now wa)" "round $round, read $i: pids is its cgroup's ($(jqr .data.usage.pids))"
	done
	api POST /sandboxes/wa/processes "{\"command\": \"sleep 1000 & sleep 1000\", \"processId\": \"p$round\"}"
	for _ in $(seq 1 600); do [ "$(pids_now wa)" -ge 3 ] && break; sleep 0.1; done
	for i in 1 2 3 4; do
		api GET /sandboxes/wa
		is "$(jqr .data.usage.pids)" "$(pids_now wa)" "round $round, read $i with processes: pids is its cgroup's ($(jqr .data.usage.pids))"
	done
	api POST /sandboxes/wa/destroy
	is "$STATUS" 200 "round $round: destroy wa"
done

done_testing
