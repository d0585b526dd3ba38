#!/bin/bash
# Background processes: start, list, get, logs (whole, streamed, resumed),
# signals to the whole tree with escalation, exits recorded with nobody
# watching, and what a worker crash or a service stop does to them.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
sbd_start

ID=bg
api POST /sandboxes/$ID
is "$STATUS" 200 "sandbox created"
start() { api POST /sandboxes/$ID/processes "$1"; }
# wait_status PID: bounded poll until the process is no longer running
wait_status() {
	for _ in $(seq 1 400); do
		api GET /sandboxes/$ID/processes/$1
		[ "$(jqr .data.status)" != running ] && return 0
		sleep 0.05
	done
}
alive() {	# alive PATTERN: "alive" or "gone" (the [x]yz trick keeps the check out of it)
	exec_in $ID "pgrep -f \"$1\" >/dev/null && echo alive || echo gone"
	jqr .data.stdout
}

# --- start, shape, duplicates ----------------------------------------------------------
start '{"command": "echo hello; echo oops >&2; sleep 1000", "processId": "srv"}'
is "$STATUS" 200 "POST /processes answers 200"
is "$(jqr '.data | keys | join(",")')" "id,pid,status" "it answers exactly id, pid, status"
is "$(jqr .data.id)" srv "with the processId asked"
is "$(jqr .data.status)" running "running"
like "$(jqr .data.pid)" '^[0-9]+$' "and a pid (in the sandbox)"
start '{"command": "true", "processId": "srv"}'
is "$STATUS" 409 "a second process with the id of a running one is 409"
start '{"command": "true"}'
like "$(jqr .data.id)" '^proc-' "without processId one is made up ($(jqr .data.id))"

api GET /sandboxes/$ID/processes/srv
is "$(jqr '.data | keys | join(",")')" "command,endedAt,exitCode,id,pid,startedAt,status" \
	"GET /processes/:id has id, pid, command, status, exitCode, startedAt, endedAt"
is "$(jqr .data.command)" "echo hello; echo oops >&2; sleep 1000" "the command as started"
api GET /sandboxes/$ID/processes
like "$(jqr '[.data.processes[].id] | join(",")')" 'srv' "the list has it"

# --- exit recorded with nobody watching ------------------------------------------------
start '{"command": "echo done; exit 3", "processId": "quick"}'
# nobody asks; the init writes the exit when it reaps the process
for _ in $(seq 1 1200); do
	exec_in $ID 'cat /.sandboxd/processes/quick/exit 2>/dev/null'
	[ -n "$(jqr .data.stdout)" ] && break
	sleep 0.05
done
is "$(jqr .data.stdout | tr -d '\n')" "768" "the init recorded the exit (wait status 3<<8) with no request watching"
wait_status quick
is "$(jqr .data.status)" failed "status failed"
is "$(jqr .data.exitCode)" 3 "exitCode 3"
like "$(jqr .data.endedAt)" '^20[0-9][0-9]-' "endedAt is set"
start '{"command": "true", "processId": "ok"}'
wait_status ok
is "$(jqr .data.status)" completed "exit 0 is completed"
ok $([ ! -d "$(cg_dir freezer "$ID/p-ok")" ]; echo $?) "an ended process's cgroup is removed"

# --- logs --------------------------------------------------------------------------------
api GET /sandboxes/$ID/processes/srv/logs
is "$(jqr '.data | keys | join(",")')" "id,stderr,stdout" "logs answer id, stdout, stderr"
is "$(jqr .data.stdout)" hello "stdout is logged"
is "$(jqr .data.stderr)" oops "stderr is logged"

# logs survive the worker that started the process
for w in $(sbd_workers); do kill -9 "$w"; done
for _ in $(seq 1 1200); do [ "$(sbd_workers | wc -w)" -eq 3 ] && break; sleep 0.05; done
api GET /sandboxes/$ID/processes/srv/logs
is "$(jqr .data.stdout)" hello "after every worker was killed and respawned, the logs are there"
api GET /sandboxes/$ID/processes/srv
is "$(jqr .data.status)" running "and the process still runs"

# streamed: replay, then follow, each frame with id: offsets, ending with exit
GO=/tmp/go-$RANDOM
start "$(jq -cn --arg go "$GO" '{processId: "follow", command: ("echo one; while [ ! -e " + $go + " ]; do sleep 0.02; done; echo two")}')"
curl -s -N "$BASE/sandboxes/$ID/processes/follow/logs?stream=1" >"$T_DIR/follow" &
C=$!
for _ in $(seq 1 400); do grep -q '"one' "$T_DIR/follow" && break; sleep 0.05; done
like "$(cat "$T_DIR/follow")" '"data":"one\\n"' "the stream replays what was logged"
unlike "$(cat "$T_DIR/follow")" '"two|"exit"' "and waits for more"
exec_in $ID "touch $GO"
wait $C
is "$(sed -n 's/^data: //p' "$T_DIR/follow" | jq -r .type | tr '\n' ' ')" "stdout stdout exit " \
	"it follows: one, two, then an exit event"
is "$(sed -n 's/^data: //p' "$T_DIR/follow" | tail -n 1 | jq -r .exitCode)" 0 "the exit event carries the exit code"
is "$(grep '^id: ' "$T_DIR/follow" | tr '\n' ' ')" "id: 4,0 id: 8,0 " "each output frame has id: stdout,stderr byte offsets"
curl -s -N -H 'Last-Event-ID: 4,0' "$BASE/sandboxes/$ID/processes/follow/logs?stream=1" >"$T_DIR/resume"
is "$(sed -n 's/^data: //p' "$T_DIR/resume" | jq -r 'select(.type == "stdout") | .data')" "two" \
	"Last-Event-ID resumes after what the client had"

# --- signals to the whole tree -----------------------------------------------------------
start '{"processId": "tree", "command": "setsid sleep 7771 & sleep 7772"}'
for _ in $(seq 1 1200); do [ "$(alive 'sleep [7]771')" = alive ] && break; sleep 0.05; done
api DELETE "/sandboxes/$ID/processes/tree?signal=TERM"
is "$STATUS" 200 "DELETE /processes/:id?signal=TERM answers 200"
is "$(jqr .data.endedBy)" TERM "TERM ended it"
is "$(jqr .data.status)" killed "status killed"
for _ in $(seq 1 1200); do [ "$(alive 'sleep [7]771')" = gone ] && break; sleep 0.05; done
is "$(alive 'sleep [7]771')" gone "its setsid child got the signal too"
is "$(alive 'sleep [7]772')" gone "and the process itself"

start '{"processId": "polite", "command": "trap \"echo got TERM; exit 0\" TERM; echo ready; while :; do sleep 0.05; done"}'
for _ in $(seq 1 1200); do api GET /sandboxes/$ID/processes/polite/logs; [ "$(jqr .data.stdout)" = ready ] && break; sleep 0.05; done
api DELETE "/sandboxes/$ID/processes/polite?signal=TERM"
is "$(jqr .data.endedBy)" TERM "a process that traps TERM gets it and ends"
is "$(jqr .data.status)" completed "on its own terms (exit 0)"
api GET /sandboxes/$ID/processes/polite/logs
is "$(jqr .data.stdout)" "$(printf 'ready\ngot TERM')" "its handler ran"

start '{"processId": "stubborn", "command": "trap \"\" TERM; while :; do sleep 0.1; done"}'
api DELETE "/sandboxes/$ID/processes/stubborn?signal=TERM"
is "$(jqr .data.endedBy)" KILL "a process ignoring TERM is ended by KILL after the grace period"
is "$(jqr .data.exitCode)" 137 "exitCode 137"

api DELETE "/sandboxes/$ID/processes/stubborn?signal=BOGUS"
is "$STATUS" 400 "an unknown signal is 400"
api GET /sandboxes/$ID/processes/nope
is "$STATUS" 404 "an unknown process is 404"
api POST /sandboxes/$ID/processes '{"command": "true", "processId": "../x"}'
is "$STATUS" 400 "a bad processId is 400"
api POST /sandboxes/$ID/processes '{"processId": "nocmd"}'
is "$STATUS" 400 "a missing command is 400"

# --- many started back to back: each into a fresh slot of the init's table ----------------
codes=
for i in $(seq 1 12); do start "{\"processId\": \"burst$i\", \"command\": \"true\"}"; codes="$codes$STATUS "; done
is "$codes" "$(printf '200 %.0s' $(seq 1 12))" "12 processes started back to back all answer 200 (a fresh slot once closed fd 0: the init's connection)"

# --- DELETE of the sandbox kills them all and says how many ------------------------------
start '{"processId": "a1", "command": "sleep 1001"}'
start '{"processId": "a2", "command": "sleep 1002"}'
api DELETE /sandboxes/$ID
ok $([ "$(jqr .data.killed)" -ge 3 ]; echo $?) "DELETE /sandboxes/:id kills every process ($(jqr .data.killed), srv a1 a2 among them)"
wait_status a1
is "$(jqr .data.status)" killed "the processes read as killed"
api GET /sandboxes/$ID/processes/srv
is "$(jqr .data.status)" killed "srv too"

# --- a service stop: a running process ended with its sandbox ----------------------------
start '{"processId": "last", "command": "sleep 1003"}'
kill -TERM "$(cat "$T_DIR/sandboxd.pid")"
for _ in $(seq 1 300); do kill -0 "$(cat "$T_DIR/sandboxd.pid")" 2>/dev/null || break; sleep 0.1; done
"$SANDBOXD" --data "$DATA" --instance "$INSTANCE" --workers 3 --uid-base "$UID_BASE" --uid-slots 64 \
	--pidfile "$T_DIR/sandboxd.pid" >>"$T_DIR/sandboxd.log" 2>&1 &
for _ in $(seq 1 1200); do curl -s -o /dev/null "$BASE/sandboxes/$ID" && [ -S "$DATA/run/fcgi.sock" ] && break; sleep 0.05; done
api GET /sandboxes/$ID/processes/last
is "$(jqr .data.status)" killed "after a service stop the process reads as killed"
is "$(jqr .data.endedBy)" "sandbox stopped" "ended by the sandbox's stop"
api GET /sandboxes/$ID/processes/quick
is "$(jqr .data.exitCode)" 3 "what had ended keeps its record"

done_testing
