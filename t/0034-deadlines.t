#!/bin/bash
# Deadlines hold against any client (issue 16 item 2): a streamed exec whose
# client stops reading is killed at its timeout all the same, a client that
# takes nothing for --send-timeout is deemed gone (its command killed), a
# client that vanishes while stalled takes its command with it, and a log
# follow ends at --log-follow-max with heartbeats meanwhile, whether or not
# its client reads.  Every check of "killed" is made from inside the sandbox;
# the polls are bounded, far below what nginx's own send_timeout (60 s)
# would give the old behaviour.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
command -v python3 >/dev/null || skip_all "no python3 (the stalled client)"
sbd_start --send-timeout 4 --log-follow-max 8 --stream-heartbeat 1

ID=dl
api POST /sandboxes/$ID
is "$STATUS" 200 "sandbox created"

# stalled PATH JSON-BODY: an HTTP client that sends its request and never
# reads a byte of the answer (a small receive window, so everything backs up
# into nginx and the worker's socket at once); sets STALLED (its pid)
stalled() {
	python3 - "$PORT" "$1" "$2" <<'EOF' &
import socket, sys, time
port, path, body = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
s.connect(("127.0.0.1", port))
req = ("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
       "Content-Length: %d\r\nConnection: close\r\n\r\n%s"
       % ("POST" if body else "GET", path, len(body), body))
s.sendall(req.encode())
time.sleep(120)
EOF
	STALLED=$!
}
# state PATTERN: "alive" or "gone", seen from inside the sandbox (the
# [x]yz trick keeps the check's own command line out of it)
state() {
	exec_in $ID "pgrep -f \"$1\" >/dev/null && echo alive || echo gone"
	jqr .data.stdout
}
# until_state PATTERN WANT TRIES: bounded poll (0.1 s apart); sets STATE
# and WAITED (seconds)
until_state() {
	local t0=$SECONDS i
	for i in $(seq 1 "$3"); do
		STATE=$(state "$1")
		[ "$STATE" = "$2" ] && break
		sleep 0.1
	done
	WAITED=$((SECONDS - t0))
}
# access PATH-REGEX: how many access log lines of requests that took a
# second or more (not the quick checks) the path has so far: one is written
# when a worker is done with a request
access() { grep -Ec "method=[A-Z]+ path=$1 .* ms=[0-9]{4,}" "$T_DIR/sandboxd.log"; }
# access_all PATH-REGEX: how many access log lines the path has, however
# long their requests took
access_all() { grep -Ec "method=[A-Z]+ path=$1 .* ms=[0-9]+" "$T_DIR/sandboxd.log"; }
# logged PATH-REGEX TRIES [COUNT]: bounded poll for one more line than MARK
# (COUNT: access, or access_all)
logged() {
	local i
	for i in $(seq 1 "$2"); do
		[ "$("${3:-access}" "$1")" -gt "$MARK" ] && return 0
		sleep 0.1
	done
	return 1
}

# --- a stalled reader does not stretch an exec's timeout -----------------------------------
MARK=$(access "/sandboxes/$ID/exec")
stalled /sandboxes/$ID/exec \
	'{"stream": true, "command": "yes yes-4301", "timeout": 2000}'
until_state "yes-[4]301" alive 600
is "$STATE" alive "the stalled client's command (yes) runs"
# the timeout is 2 s; give it 20 (the old worker blocked in write() until
# nginx dropped the client after 60 s)
until_state "yes-[4]301" gone 200
is "$STATE" gone \
	"a streamed exec whose client never reads is killed at its timeout (gone after ${WAITED}s)"
# recorded when the request is done: the output left in the pipes gets
# --send-timeout to reach the client first
for _ in $(seq 1 600); do
	api GET /sandboxes/$ID/history
	[ "$(jqr '[.data.entries[] | select(.command | test("yes-4301"))][0].exitCode')" != null ] && break
	sleep 0.1
done
is "$(jqr '[.data.entries[] | select(.command | test("yes-4301"))][0].exitCode')" 137 \
	"its history entry says it was killed (137)"
logged "/sandboxes/$ID/exec" 150
ok $? "and the worker lets go of the stalled request (after --send-timeout without progress)"
kill "$STALLED" 2>/dev/null
wait "$STALLED" 2>/dev/null

# --- a client that takes nothing for --send-timeout is gone ---------------------------------
stalled /sandboxes/$ID/exec \
	'{"stream": true, "command": "yes yes-4302", "timeout": 600000}'
until_state "yes-[4]302" alive 600
is "$STATE" alive "a 10-minute streamed exec runs for a stalled client"
until_state "yes-[4]302" gone 200
is "$STATE" gone \
	"the client took nothing for --send-timeout (4 s): the command is killed (after ${WAITED}s)"
kill "$STALLED" 2>/dev/null
wait "$STALLED" 2>/dev/null

# --- a stalled client that vanishes takes its command with it -------------------------------
stalled /sandboxes/$ID/exec \
	'{"stream": true, "command": "yes yes-4303", "timeout": 600000}'
until_state "yes-[4]303" alive 600
is "$STATE" alive "a streamed exec runs for a stalled client"
sleep 1.5	# (access counts requests of a second or more)
MARK=$(access "/sandboxes/$ID/exec")
kill "$STALLED"
wait "$STALLED" 2>/dev/null
until_state "yes-[4]303" gone 30
is "$STATE" gone "the client vanishes: its command is killed (after ${WAITED}s)"
logged "/sandboxes/$ID/exec" 50
ok $? "and its worker is free again"

# --- log follows: a maximum duration, heartbeats, whether or not the client reads -----------
api POST /sandboxes/$ID/processes '{"command": "echo hi; sleep 600", "processId": "quiet"}'
is "$STATUS" 200 "a quiet background process"
t0=$SECONDS
curl -s -N --max-time 30 "$BASE/sandboxes/$ID/processes/quiet/logs?stream=1" >"$T_DIR/follow"
rc=$?
is "$rc" 0 "a follow of a process that never ends ends by itself (curl did not time out; $((SECONDS - t0))s)"
like "$(cat "$T_DIR/follow")" '"data":"hi\\n"' "after the output so far"
ok "$(grep -c '^: keep-alive' "$T_DIR/follow" | awk '{ exit !($1 >= 1) }'; echo $?)" \
	"with heartbeats (: keep-alive) while the process is quiet"
last=$(sed -n 's/^data: //p' "$T_DIR/follow" | tail -n 1)
is "$(printf '%s' "$last" | jq -r .type)" end "its last event is an end event"
like "$(printf '%s' "$last" | jq -r .message)" 'Last-Event-ID' "which says how to resume"
api GET /sandboxes/$ID/processes/quiet
is "$(jqr .data.status)" running "the process itself runs on"

api POST /sandboxes/$ID/processes \
	'{"command": "yes yes-4304", "processId": "loud"}'
MARK=$(access "/sandboxes/$ID/processes/loud/logs")
stalled "/sandboxes/$ID/processes/loud/logs?stream=1" ""
logged "/sandboxes/$ID/processes/loud/logs" 200
ok $? "a stalled client's follow ends too (its worker is free: max duration, then --send-timeout)"
kill "$STALLED" 2>/dev/null
wait "$STALLED" 2>/dev/null

# every line of the path counts here: the worker's clock starts after
# curl's, so a follow that ends when curl leaves (1 s) may log 991 ms
MARK=$(access_all "/sandboxes/$ID/processes/quiet/logs")
curl -s -N --max-time 1 "$BASE/sandboxes/$ID/processes/quiet/logs?stream=1" >/dev/null
# waited for generously (a loaded machine), then judged by its duration: it
# ended when the client left (1 s), before --log-follow-max (8 s: room for a slow, sanitized build to notice) would
logged "/sandboxes/$ID/processes/quiet/logs" 200 access_all
FOLLOW_MS=$(grep -E "method=GET path=/sandboxes/$ID/processes/quiet/logs .* ms=[0-9]+" "$T_DIR/sandboxd.log" |
	sed -n "$((MARK + 1))p" | sed -n 's/.* ms=\([0-9]*\).*/\1/p')
ok "$([ -n "$FOLLOW_MS" ] && [ "$FOLLOW_MS" -lt 7500 ]; echo $?)" \
	"a follow whose client leaves just ends (after ${FOLLOW_MS:-?} ms, before its 8 s maximum)"
api GET /sandboxes/$ID/processes/quiet
is "$(jqr .data.status)" running "and leaves the process running"

api GET /healthz
is "$STATUS" 200 "the service answers afterwards"

done_testing
