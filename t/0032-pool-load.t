#!/bin/bash
# Long-lived requests do not hold the pool (issue 16): 200 open log follows
# and 50 open streamed execs, and meanwhile short requests (healthz, status,
# exec true) all answer 200; the request past max-streams gets a JSON 503
# with Retry-After, never a hang; the pool is shown in /metrics and shrinks
# back when the streams end.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
# a small pool to start with: it must grow for the streams, not be big
T_WORKERS=2
sbd_start --max-streams 250 --min-spare-workers 2 --max-spare-workers 4

HOLD=$TOP_SRCDIR/bench/streams.py
# five sandboxes, each with a background process to follow
FOLLOW=() EXECS=()
for i in 0 1 2 3 4; do
	api POST /sandboxes/p$i
	is "$STATUS" 200 "sandbox p$i created"
	api POST /sandboxes/p$i/processes '{"command": "sleep 3600", "processId": "bg"}'
	is "$STATUS" 200 "p$i: a background process to follow"
	FOLLOW+=(--follow p$i/bg:40)
	EXECS+=(--exec p$i:10)
done

# wait_line FILE REGEX: bounded poll (not a timing assertion)
wait_line() {
	for _ in $(seq 1 1200); do grep -Eq -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}

python3 "$HOLD" --base "$BASE" "${FOLLOW[@]}" "${EXECS[@]}" --hold 600 --wait 100 >"$T_DIR/hold" 2>&1 &
HOLDER=$!
wait_line "$T_DIR/hold" '^open '
ok $? "the holder got an answer to each of its requests"
like "$(cat "$T_DIR/hold")" '^open 250 statuses \{"200": 250\}' "200 log follows and 50 streamed execs are open"

# meanwhile: short requests answer, each within curl's bound
short() {	# short METHOD PATH [BODY]: the status, or 000 when no answer in 10 s
	if [ -n "${3-}" ]; then
		curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X "$1" \
			-H 'Content-Type: application/json' --data-binary "$3" "$BASE$2"
	else
		curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X "$1" "$BASE$2"
	fi
}
codes=
for round in 1 2 3 4 5; do
	codes+="$(short GET /healthz) $(short GET /sandboxes/p$((round % 5))) "
	codes+="$(short POST /sandboxes/p$((round % 5))/exec '{"command": "true"}') "
done
is "$codes" "$(printf '200 %.0s' $(seq 1 15))" "with 250 streams open, healthz, status and exec true all answer 200"

# the stream past the cap: refused at once, in JSON, with Retry-After
api GET "/sandboxes/p0/processes/bg/logs?stream=1" "" -D "$T_DIR/cap.headers" --max-time 10
is "$STATUS" 503 "the 251st stream (max-streams 250) is refused with 503"
is "$(jqr .success)" false "in the JSON envelope"
like "$(jqr .error)" 'max-streams' "saying which cap is full"
like "$(cat "$T_DIR/cap.headers")" 'Retry-After: [0-9]+' "with Retry-After"
is "$(short GET /healthz)" 200 "healthz still answers"

api GET /metrics
like "$BODY" $'\nsandboxd_pool_streams 250\n' "/metrics: 250 streams open"
like "$BODY" $'\nsandboxd_pool_max_streams 250\n' "/metrics: the cap"
like "$BODY" $'\nsandboxd_pool_min_spare_workers 2\n' "/metrics: min spare"
like "$BODY" $'\nsandboxd_pool_max_spare_workers 4\n' "/metrics: max spare"
like "$BODY" 'sandboxd_pool_streams_refused_total [1-9]' "/metrics: the refusal is counted"
workers_open=$(printf '%s\n' "$BODY" | sed -n 's/^sandboxd_workers \([0-9]*\)$/\1/p')
[ "${workers_open:-0}" -gt 250 ]
ok $? "the pool grew past the streams ($workers_open workers)"

# the streams end: each stream's worker leaves, the pool is back to its spares
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null
back=
for _ in $(seq 1 600); do
	api GET /metrics
	s=$(printf '%s\n' "$BODY" | sed -n 's/^sandboxd_pool_streams \([0-9]*\)$/\1/p')
	w=$(printf '%s\n' "$BODY" | sed -n 's/^sandboxd_workers \([0-9]*\)$/\1/p')
	[ "$s" = 0 ] && [ "${w:-99}" -le 5 ] && back=1 && break
	sleep 0.1
done
[ -n "$back" ]
ok $? "streams closed: none open, the pool back to its spares (streams $s, workers $w)"
is "$(short POST /sandboxes/p1/exec '{"command": "true"}')" 200 "and it serves"
api GET /metrics
like "$BODY" 'sandboxd_pool_workers_ended_total\{reason="stream"\} (2[5-9][0-9]|[3-9][0-9][0-9])' \
	"each stream's worker left after it (250 or more)"
like "$BODY" 'sandboxd_pool_workers_ended_total\{reason="died"\} 0' "and no worker died"

done_testing
