#!/bin/bash
# GET /sandboxes/:id reads the disk figures of its usage (the writable
# layer, as statfs("/") in the sandbox says) without a round trip to the
# sandbox's init (issue 18): they must be what the sandbox itself sees,
# exactly, before and after it writes, and gone with the sandbox stopped.
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

# stopped: no usage (nothing to read, and no init to read it through)
pid=$(init_of fp)
[ -n "$pid" ] && kill -KILL "$pid"
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
api GET /sandboxes/fp
is "$STATUS" 200 "status of a sandbox whose init was killed answers 200"
is "$(jqr .data.status)" stopped "status: stopped"
is "$(jqr '.data | has("usage")')" false "status: no usage when stopped"

done_testing
