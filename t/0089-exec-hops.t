#!/bin/bash
# An exec's hand-offs (docs/ARCHITECTURE.md "### Exec"): a buffered exec's
# start is told late (a STARTED once it has run SB_LATE_START_MS, or its
# EXITED), and the init holds the output pipes until it has sent EXITED.
# The answers are those of a start told at once and of pipes the child's
# exit hangs up: output larger than a pipe (read while the start is not
# told yet) and than the buffered limit, timeouts above and below the late
# start's wait, a cwd that is not there, signals, a background process
# that keeps the pipes, a stream's start event at once, an init that does
# not answer.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
sbd_start --max-output 100000

ID=hops
api POST /sandboxes/$ID
is "$STATUS" 200 "sandbox created"

# exec_json JSON: POST /exec with a body as given
exec_json() { api POST "/sandboxes/$ID/exec" "$1"; }

# --- output larger than a pipe, at once and after the late start ------------------
exec_in $ID 'head -c 90000 /dev/zero | tr "\0" x; echo; head -c 70000 /dev/zero | tr "\0" y >&2'
is "$STATUS" 200 "a quick command writing 90 kB and 70 kB answers 200"
is "$(jqr '.data.stdout | length')" 90001 "its stdout comes whole (more than a pipe holds, read before its start is told)"
is "$(jqr '.data.stderr | length')" 70000 "its stderr too"
is "$(jqr '.data.truncated')" false "not truncated"
exec_in $ID 'sleep 0.1; head -c 80000 /dev/zero | tr "\0" z'
is "$(jqr '.data.stdout | length')" 80000 "80 kB written after the start was told come whole"
is "$(jqr '.data.exitCode')" 0 "and it exited 0"

# --- beyond the buffered limit (--max-output 100000) ------------------------------
exec_in $ID 'head -c 300000 /dev/zero | tr "\0" q'
is "$(jqr '.data.truncated')" true "300 kB with a 100 kB limit: truncated"
is "$(jqr '.data.stdout | length')" 100000 "cut at exactly the limit"
is "$(jqr '.data.exitCode')" 0 "the writer was drained and exited 0"
exec_in $ID 'sleep 0.1; head -c 300000 /dev/zero | tr "\0" q >&2; exit 4'
is "$(jqr '.data.stderr | length')" 100000 "after the late start too: stderr cut at the limit"
is "$(jqr '.data.exitCode')" 4 "and its exit code kept"

# --- output around a late start -----------------------------------------------------
exec_in $ID 'echo a; sleep 0.1; echo b; echo c >&2; exit 3'
is "$(jqr '.data.stdout')" "$(printf 'a\nb')" "output before and after the late start, in order"
is "$(jqr '.data.stderr')" c "stderr kept"
is "$(jqr '.data.exitCode')" 3 "exit code 3"
is "$(jqr '.data.timedOut')" false "no timeout"

# --- timeouts: above the late start's wait, and below it (told at once) ------------
exec_json '{"command": "echo before; sleep 5; echo after", "timeout": 300}'
is "$STATUS" 200 "a timed-out exec answers 200"
is "$(jqr '.data.timedOut')" true "sleep 5 with timeout 300 ms: timedOut"
is "$(jqr '.data.exitCode')" 137 "killed: 137"
is "$(jqr '.data.stdout')" before "what it wrote before is kept"
exec_json '{"command": "sleep 5", "timeout": 10}'
is "$(jqr '.data.timedOut')" true "timeout 10 ms (shorter than a late start's wait): timedOut"
is "$(jqr '.data.exitCode')" 137 "killed: 137"
exec_json '{"command": "sleep 0.05; echo done", "timeout": 30000}'
is "$(jqr '.data.stdout')" done "a command longer than the late start's wait, within its timeout, runs to its end"
is "$(jqr '.data.timedOut')" false "without a timeout"

# --- a cwd that is not there, signals -------------------------------------------------
exec_json '{"command": "true", "cwd": "/nonexistent"}'
is "$STATUS" 400 "a cwd that does not exist: 400"
like "$(jqr .error)" "cwd" "which says cwd"
exec_json '{"command": "true", "cwd": "/etc/hostname"}'
is "$STATUS" 400 "a cwd that is a file: 400"
exec_in $ID 'echo x; kill -9 $$'
is "$(jqr '.data.exitCode')" 137 "killed by SIGKILL at once: 137"
is "$(jqr '.data.stdout')" x "its output kept"
exec_in $ID 'sleep 0.1; kill -TERM $$'
is "$(jqr '.data.exitCode')" 143 "killed by SIGTERM after the late start: 143"
is "$(jqr '.data.timedOut')" false "not a timeout"

# --- a background process keeps the pipes: the answer does not wait for it --------
exec_in $ID '(sleep 2; echo late) & echo now'
is "$STATUS" 200 "a command leaving a writer behind answers 200"
is "$(jqr '.data.stdout')" now "with what was written before it exited"
is "$(jqr '.data.exitCode')" 0 "exit 0"

# --- concurrent execs: no exec's pipes reach another's command ------------------------
# (curl itself in the background: a subshell would run the EXIT trap)
curl -s -o "$T_DIR/slow" -X POST -H 'Content-Type: application/json' \
	--data-binary '{"command": "sleep 1; echo slow"}' "$BASE/sandboxes/$ID/exec" &
SLOW=$!
wait_comm $ID sleep
ok $? "the slow exec runs"
exec_in $ID 'ls /proc/self/fd | wc -l'
is "$(jqr '.data.stdout')" 4 "a command beside a running exec has fds 0-2 and ls's own only"
wait "$SLOW"
is "$(jq -r .data.stdout "$T_DIR/slow")" slow "and the running exec's answer is its own"

# --- a stream's start comes at once ---------------------------------------------------
GO=/tmp/go-$RANDOM$RANDOM
curl -s -N -X POST -H 'Content-Type: application/json' \
	--data-binary "$(jq -cn --arg go "$GO" '{stream: true, command: ("while [ ! -e " + $go + " ]; do sleep 0.02; done; echo b")}')" \
	"$BASE/sandboxes/$ID/exec" >"$T_DIR/s1" &
SPID=$!
for _ in $(seq 1 400); do grep -q '"type":"start"' "$T_DIR/s1" 2>/dev/null && break; sleep 0.05; done
like "$(cat "$T_DIR/s1")" '"type":"start"' "a stream's start event comes while the command waits, before any output"
exec_in $ID "touch $GO"
wait "$SPID"
is "$(sed -n 's/^data: //p' "$T_DIR/s1" | jq -r .type | tr '\n' ' ')" "start stdout complete " \
	"then its output and one complete"

# --- an init that does not answer: 504 whatever the timeout ---------------------------
INIT=$(init_of $ID)
ok $([ -n "$INIT" ]; echo $?) "the init is found on the host ($INIT)"
kill -STOP "$INIT"
trap 'kill -CONT '"$INIT"' 2>/dev/null; sbd_cleanup' EXIT
exec_json '{"command": "echo never", "timeout": 1000}'
is "$STATUS" 504 "a stopped init, a buffered exec with a 1 s timeout: 504 (not a timeout of a command never started)"
like "$(jqr .error)" "did not answer" "it says the sandbox did not answer"
kill -CONT "$INIT"
exec_in $ID 'echo again'
is "$(jqr .data.stdout)" again "after SIGCONT the sandbox answers again"

done_testing
