#!/bin/bash
# Review of issue 18's front (r18): the pool and quota scans bounded by the
# slots ever used must still see every worker: concurrency caps hold
# exactly under many requests admitted at once (never one over); the
# worker's kept cgroup files stay in the worker (bounded; none in a
# sandbox's init or its commands); the disk figures stay the sandbox's own
# across a restart.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

CONF_DIR=$(mktemp -d /tmp/sbd-conf.XXXXXX)
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
TB=tb-$RANDOM$RANDOM ADMIN=adm-$RANDOM$RANDOM
cat >"$CONF_DIR/tokens" <<EOT
admin sha256:$(sha "$ADMIN") *
tenant-b sha256:$(sha "$TB") tb-
EOT
cat >"$CONF_DIR/sandboxd.conf" <<EOT
tokens-file = $CONF_DIR/tokens
max-requests-per-token = 2
max-streams-per-token = 1
max-streams = 3
min-spare-workers = 4
max-workers = 16
EOT
T_WORKERS=12 sbd_start --config "$CONF_DIR/sandboxd.conf"
trap 'sbd_cleanup; rm -rf "$CONF_DIR"' EXIT
auth() { printf 'Authorization: Bearer %s' "$1"; }
as() { local t=$1 m=$2 p=$3 d=${4-}; api "$m" "$p" "$d" -H "$(auth "$t")"; }

as "$ADMIN" POST /sandboxes/tb-1 '{}'
is "$STATUS" 200 "a sandbox of tenant b"
# hold PREFIX: a command that waits (at most a minute) for /workspace/PREFIX-go
hold() { echo "i=0; while [ ! -e /workspace/$1-go ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i + 1)); done"; }
# in_count PREFIX: how many of the held commands started (each touches its file)
in_count() {
	as "$ADMIN" POST /sandboxes/tb-1/exec "$(jq -cn --arg p "$1" '{command: ("ls /workspace | grep -c \"^" + $p + "-[0-9]\" || true")}')"
	jqr .data.stdout | tr -d '\n'
}
# burst N PREFIX STREAM TOKEN: N requests of TOKEN at once, each running
# "touch /workspace/PREFIX-i; hold"; waits until each either answered (a
# refusal) or started its command: STARTED, ANSWERED; PIDS the curls
burst() {
	local n=$1 pre=$2 stream=$3 tok=$4 i
	PIDS=()
	for i in $(seq 1 "$n"); do
		curl -s -N -o "$CONF_DIR/$pre-$i.out" -w '%{http_code}' -X POST -H "$(auth "$tok")" \
			-H 'Content-Type: application/json' \
			--data-binary "$(jq -cn --arg c "touch /workspace/$pre-$i; $(hold "$pre")" --argjson s "$stream" '{command: $c, stream: $s}')" \
			"$BASE/sandboxes/tb-1/exec" >"$CONF_DIR/$pre-$i.code" &
		PIDS+=($!)
	done
	for _ in $(seq 1 300); do
		ANSWERED=0
		for i in $(seq 1 "$n"); do kill -0 "${PIDS[$((i - 1))]}" 2>/dev/null || ANSWERED=$((ANSWERED + 1)); done
		STARTED=$(in_count "$pre")
		# (a refused or failed count is "null" or empty: 0, so that a point
		# fails rather than the arithmetic ending the script)
		STARTED=${STARTED//[^0-9]/}
		STARTED=${STARTED:-0}
		[ $((ANSWERED + STARTED)) -ge "$n" ] && break
		sleep 0.1
	done
}
release() {
	as "$ADMIN" POST /sandboxes/tb-1/exec "$(jq -cn --arg c "touch /workspace/$1-go" '{command: $c}')"
	wait "${PIDS[@]}" 2>/dev/null
	codes=$(for f in "$CONF_DIR/$1"-*.code; do cat "$f"; echo; done | sort | uniq -c | tr -s ' \n' ' ')
}

# --- max-requests-per-token = 2: 10 held buffered execs at once ------------------------------
burst 10 rq false "$TB"
release rq
ok $([ "$STARTED" -le 2 ]; echo $?) "max-requests-per-token 2: 10 held requests at once, $STARTED admitted (never more than 2; codes $codes)"
ok $([ "$STARTED" -ge 1 ]; echo $?) "and one at least ran ($STARTED; $ANSWERED answered before)"

# --- max-streams-per-token = 1: 10 held streams at once ---------------------------------------
burst 10 st true "$TB"
release st
ok $([ "$STARTED" -le 1 ]; echo $?) "max-streams-per-token 1: 10 streams at once, $STARTED admitted (never more than 1; codes $codes)"

# --- max-streams = 3: 10 held streams of the operator at once ---------------------------------
for round in 1 2 3; do
	burst 10 ms$round true "$ADMIN"
	release ms$round
	ok $([ "$STARTED" -le 3 ]; echo $?) "max-streams 3, round $round: 10 streams at once, $STARTED admitted (never more than 3; codes $codes)"
done

# --- kept cgroup files: bounded per worker, none in a sandbox -----------------------------------
ids=()
for i in $(seq 1 10); do
	as "$ADMIN" POST "/sandboxes/k$i" '{}'
	ids+=("k$i")
done
for r in 1 2 3; do for id in "${ids[@]}" tb-1; do as "$ADMIN" GET "/sandboxes/$id"; done; done
is "$STATUS:$(jqr .data.usage.pids)" 200:1 "status read (the pool's workers keep files of 11 sandboxes between them)"
cgfds() { ls -l "/proc/$1/fd" 2>/dev/null | grep -c "sandboxd-$INSTANCE/" || true; }
most=0
for w in $(sbd_workers); do n=$(cgfds "$w"); [ "$n" -gt "$most" ] && most=$n; done
ok $([ "$most" -le 40 ]; echo $?) "a worker keeps at most 8 sandboxes' 5 files open ($most)"
init=$(init_of k1)
is "$(ls -l /proc/"$init"/fd 2>/dev/null | grep -c cgroup)" 0 "the init of a sandbox has no cgroup file open"
as "$ADMIN" POST /sandboxes/k1/exec '{"command":"ls -l /proc/self/fd/ | grep -c cgroup || true"}'
is "$(jqr .data.stdout | tr -d '\n')" 0 "nor has a command in it"

# --- disk figures across a restart: the sandbox's own ---------------------------------------------
df_in() {
	as "$ADMIN" POST "/sandboxes/$1/exec" "$(jq -cn '{command: "stat -f -c \u0027%b %f %s %c %d\u0027 /"}')"
	jqr .data.stdout | awk 'NR == 1 { printf "%d %d %d %d\n", $1 * $3, ($1 - $2) * $3, $4, $4 - $5 }'
}
usage_of() {
	as "$ADMIN" GET "/sandboxes/$1"
	jqr '.data.usage | "\(.diskTotalBytes) \(.diskUsedBytes) \(.inodesTotal) \(.inodesUsed)"'
}
as "$ADMIN" POST /sandboxes/dr '{"limits":{"diskMb":48}}'
usage_of dr >/dev/null
pid=$(init_of dr)
kill -KILL "$pid"
for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
want=$(df_in dr)
is "$(usage_of dr)" "$want" "after its init was killed and it started again: its own statfs"

done_testing
