#!/bin/bash
# GET /sandboxes/:id reads the disk figures of its usage (the writable
# layer, as statfs("/") in the sandbox says) without a round trip to the
# sandbox's init, and its cgroup figures from files a worker keeps open
# (issue 18): the disk figures must be what the sandbox itself sees,
# exactly, before and after it writes; the cgroup ones what its cgroup
# says now, through a process started and ended, and for a sandbox
# destroyed and made again under its name (new cgroups); none stopped.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
sbd_start

# df_in ID: what statfs("/") says inside, as the status computes it:
# "totalBytes usedBytes totalInodes usedInodes"
df_in() {
	exec_in "$1" "stat -f -c '%b %f %s %c %d' /"
	jqr .data.stdout | awk 'NR == 1 { printf "%d %d %d %d\n", $1 * $3, ($1 - $2) * $3, $4, $4 - $5 }'
}
usage_of() {
	api GET "/sandboxes/$1"
	jqr '.data.usage | "\(.diskTotalBytes) \(.diskUsedBytes) \(.inodesTotal) \(.inodesUsed)"'
}

api POST /sandboxes/fp '{"limits":{"diskMb":64}}'
is "$STATUS" 200 "create a sandbox with a 64 MiB disk"
want=$(df_in fp)
like "$want" '^[0-9]+ [0-9]+ [0-9]+ [0-9]+$' "statfs inside answers ($want)"
is "$(usage_of fp)" "$want" "status: disk figures are the sandbox's own statfs of /"

# it writes 3 MiB in 40 files: the figures move, and the status follows
exec_in fp 'mkdir -p /var/tmp/w && for i in $(seq 1 40); do head -c 78643 /dev/urandom >/var/tmp/w/f$i; done; sync'
is "$(jqr .data.exitCode)" 0 "the sandbox writes 40 files"
want2=$(df_in fp)
isnt "$want2" "$want" "statfs inside moved ($want2)"
is "$(usage_of fp)" "$want2" "status: disk figures follow, fresh at each read"

# a second sandbox: its own figures, not the first's
api POST /sandboxes/fq '{"limits":{"diskMb":32}}'
wantq=$(df_in fq)
is "$(usage_of fq)" "$wantq" "status of another sandbox: its own disk's figures"
is "$(usage_of fp)" "$want2" "and the first's still its own"

# pids: what the cgroup says at each read (every worker of the pool has
# read the sandbox's usage before: its kept files are read again)
pids_now() { cat "$(cg_dir pids "$1")/pids.current"; }
for _ in 1 2 3 4 5 6; do api GET /sandboxes/fq; done
is "$(jqr .data.usage.pids)" "$(pids_now fq)" "status: pids is the cgroup's pids.current ($(jqr .data.usage.pids))"
api POST /sandboxes/fq/processes '{"command": "sleep 1000", "processId": "sl"}'
is "$STATUS" 200 "a process started in the sandbox"
for i in 1 2 3; do
	api GET /sandboxes/fq
	is "$(jqr .data.usage.pids)" "$(pids_now fq)" "status read $i with it running: pids is pids.current ($(jqr .data.usage.pids))"
done
api DELETE /sandboxes/fq/processes/sl
for _ in $(seq 1 600); do [ "$(pids_now fq)" = 1 ] && break; sleep 0.1; done
for i in 1 2 3; do
	api GET /sandboxes/fq
	is "$(jqr .data.usage.pids)" 1 "status read $i after it ended: pids 1 again"
done

# destroyed and made again under the name: new cgroups, read as such (not
# the old ones' files, not a failure)
api POST /sandboxes/fq/processes '{"command": "sleep 1000", "processId": "sl2"}'
api GET /sandboxes/fq
is "$(jqr .data.usage.pids)" "$(pids_now fq)" "before the destroy: pids is pids.current ($(jqr .data.usage.pids))"
isnt "$(jqr .data.usage.pids)" 1 "and more than the init's 1"
api POST /sandboxes/fq/destroy
is "$STATUS" 200 "destroy it"
api POST /sandboxes/fq '{"limits":{"diskMb":32}}'
is "$STATUS" 200 "make it again"
for i in 1 2 3 4; do
	api GET /sandboxes/fq
	is "$(jqr .data.usage.pids)" "$(pids_now fq)" "status read $i of the new one: its own cgroup's pids ($(jqr .data.usage.pids))"
	is "$(jqr '.data.usage.memoryBytes >= 0 and .data.usage.memoryPeakBytes >= 0 and .data.usage.cpuTimeMs >= 0')" true \
		"status read $i of the new one: memory, peak and CPU figures read"
done

# stopped: no usage (nothing to read, and no init to read it through)
pid=$(init_of fp)
[ -n "$pid" ] && kill -KILL "$pid"
for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
api GET /sandboxes/fp
is "$STATUS" 200 "status of a sandbox whose init was killed answers 200"
is "$(jqr .data.status)" stopped "status: stopped"
is "$(jqr '.data | has("usage")')" false "status: no usage when stopped"

done_testing
