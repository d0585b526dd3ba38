#!/bin/bash
# Streaming exec (stream: true): server-sent events through the real nginx,
# output before the command ends, exactly one final event whatever happens,
# binary-safe frames, and a client that leaves takes the command with it.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
sbd_start

ID=st
api POST /sandboxes/$ID
is "$STATUS" 200 "sandbox created"

# stream CMD-JSON OUTFILE: POST with curl -N in the background; sets SPID
stream() {
	curl -s -N -X POST -H 'Content-Type: application/json' --data-binary "$1" \
		-D "$2.headers" "$BASE/sandboxes/$ID/exec" >"$2" &
	SPID=$!
}
frames() { sed -n 's/^data: //p' "$1"; }
# wait_for FILE EXTENDED-REGEX: bounded poll for a condition, not a timing
wait_for() {
	for _ in $(seq 1 400); do grep -Eq -- "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
	return 1
}
finals() { frames "$1" | jq -r 'select(.type == "complete" or .type == "error") | .type'; }

# --- output arrives before the command ends ------------------------------------------
GO=/tmp/go-$RANDOM$RANDOM
stream "$(jq -cn --arg go "$GO" '{stream: true, command: ("echo a; while [ ! -e " + $go + " ]; do sleep 0.02; done; echo b; exit 3")}')" "$T_DIR/s1"
wait_for "$T_DIR/s1" '"data":"a\\n"'
ok $? "stdout 'a' arrives while the command still waits"
unlike "$(cat "$T_DIR/s1")" '"b\\n"|complete' "nothing after it yet: no 'b', no complete"
exec_in $ID "touch $GO"
wait "$SPID"
like "$(head -n 1 "$T_DIR/s1.headers")" ' 200' "the stream answers 200"
like "$(cat "$T_DIR/s1.headers")" 'Content-Type: text/event-stream' "Content-Type is text/event-stream"
is "$(frames "$T_DIR/s1" | jq -r .type | tr '\n' ' ')" "start stdout stdout complete " \
	"frames: start, stdout a, stdout b, complete"
is "$(frames "$T_DIR/s1" | jq -r 'select(.type == "stdout") | .data' | tr -d '\n')" "ab" "stdout frames carry a then b"
is "$(frames "$T_DIR/s1" | tail -n 1 | jq -r .exitCode)" 3 "complete carries exitCode 3"
like "$(frames "$T_DIR/s1" | head -n 1 | jq -r .command)" '^echo a;' "start carries the command"
is "$(frames "$T_DIR/s1" | jq -r .timestamp | grep -cv '^20[0-9][0-9]-')" 0 "every frame has an ISO timestamp"

# --- stderr, binary, UTF-8 ---------------------------------------------------------
stream '{"stream": true, "command": "echo out; echo err >&2"}' "$T_DIR/s2"
wait "$SPID"
is "$(frames "$T_DIR/s2" | jq -r 'select(.type == "stderr") | .data')" "err" "stderr arrives as stderr frames"
is "$(finals "$T_DIR/s2")" complete "one complete"

stream '{"stream": true, "command": "printf \"\\377\\000\\001\""}' "$T_DIR/s3"
wait "$SPID"
is "$(frames "$T_DIR/s3" | jq -r 'select(.type == "stdout") | .encoding')" base64 "bytes that are not UTF-8 come as base64"
is "$(frames "$T_DIR/s3" | jq -r 'select(.type == "stdout") | .data' | base64 -d | od -An -tx1 | tr -d ' \n')" "ff0001" \
	"and decode to exactly the bytes written (ff 00 01)"

stream '{"stream": true, "command": "printf \"caf\\303\"; sleep 0.2; printf \"\\251\\n\""}' "$T_DIR/s4"
wait "$SPID"
is "$(frames "$T_DIR/s4" | jq -r 'select(.type == "stdout") | .encoding // "utf-8"' | sort -u)" "utf-8" \
	"a UTF-8 character cut between two writes is not taken for binary"
is "$(frames "$T_DIR/s4" | jq -j 'select(.type == "stdout") | .data')" "$(printf 'caf\303\251\n')" \
	"its bytes reach the client whole: café"

# 5 MB in many small writes: all of it, in order
stream '{"stream": true, "command": "i=0; while [ $i -lt 50000 ]; do printf \"%099d\\n\" $i; i=$((i+1)); done"}' "$T_DIR/s9"
wait "$SPID"
frames "$T_DIR/s9" | jq -j 'select(.type == "stdout") | .data' >"$T_DIR/s9.out"
is "$(wc -c <"$T_DIR/s9.out" | tr -d ' ')" 5000000 "5 MB of output in 50,000 writes arrives whole"
is "$(seq 0 49999 | awk '{ printf "%099d\n", $1 }' | cmp - "$T_DIR/s9.out" && echo same)" same "and in order"
is "$(finals "$T_DIR/s9")" complete "then one complete"

# --- exactly one final event, whatever ends the command ------------------------------
stream '{"stream": true, "command": "sleep 100 & sleep 100; wait", "timeout": 300}' "$T_DIR/s5"
wait "$SPID"
is "$(finals "$T_DIR/s5")" error "a timeout ends with one error event"
like "$(frames "$T_DIR/s5" | tail -n 1 | jq -r .error)" 'timed out' "which says it timed out"
is "$(frames "$T_DIR/s5" | tail -n 1 | jq -r .type)" error "and it is the last frame"
exec_in $ID 'ps -e -o comm= | grep -c "^sleep$"'
is "$(jqr .data.stdout | tr -d '\n')" 0 "nothing of the timed-out command is left"

# the sandbox killed under the stream: its init dies
stream '{"stream": true, "command": "echo started; sleep 1000"}' "$T_DIR/s6"
wait_for "$T_DIR/s6" '"started\\n"'
ok $? "the command runs"
INIT=$(for p in $(sandbox_pids $ID); do [ "$(cat /proc/$p/comm)" = sandbox-init ] && echo $p; done)
kill -KILL "$INIT"
wait "$SPID"
is "$(finals "$T_DIR/s6")" error "the sandbox dying under a stream ends it with one error event"
is "$(frames "$T_DIR/s6" | tail -n 1 | jq -r .type)" error "as its last frame (no fake complete)"
exec_in $ID 'echo back'
is "$(jqr .data.stdout)" back "the next request starts the sandbox again"

# DELETE under a stream: the command is killed, the stream still ends properly
stream '{"stream": true, "command": "echo started; sleep 1000"}' "$T_DIR/s7"
wait_for "$T_DIR/s7" '"started\\n"'
api DELETE /sandboxes/$ID
wait "$SPID"
is "$(finals "$T_DIR/s7" | wc -l | tr -d ' ')" 1 "DELETE under a stream: exactly one final event"
is "$(frames "$T_DIR/s7" | tail -n 1 | jq -r .exitCode)" 137 "reporting the kill (137)"

# --- a client that leaves takes its command with it -----------------------------------
gone_check() {	# gone_check MARK DESCRIPTION
	for _ in $(seq 1 1200); do
		# [x]yz: the pattern does not match the command line of this very check
		exec_in $ID "pgrep -f \"sleep [${1:0:1}]${1:1}\" >/dev/null && echo alive || echo gone"
		[ "$(jqr .data.stdout)" = gone ] && break
		sleep 0.05
	done
	is "$(jqr .data.stdout)" gone "$2"
}
stream '{"stream": true, "command": "echo started; setsid sleep 4242 & sleep 4243"}' "$T_DIR/s8"
wait_for "$T_DIR/s8" '"started\\n"'
kill "$SPID"
wait "$SPID" 2>/dev/null
gone_check 4243 "a stream's client leaving kills the command"
gone_check 4242 "and what it detached with setsid"

curl -s -o /dev/null --max-time 1 -X POST -d '{"command": "setsid sleep 4244 & sleep 4245"}' \
	"$BASE/sandboxes/$ID/exec"
gone_check 4245 "a buffered exec's client leaving kills the command too"
gone_check 4244 "with its setsid child"

# errors before the command runs are ordinary JSON answers
api POST /sandboxes/$ID/exec '{"stream": true, "command": "true", "cwd": "/nope"}'
is "$STATUS" 400 "a bad cwd with stream: true is a JSON 400 before any event"
is "$(jqr .success)" false "with the error envelope"

done_testing
