#!/bin/bash
# Traps a sandbox can lay for the service itself (found by review): FIFOs
# where the service reads or writes inside the sandbox, a full control
# socket backlog, a clone's sibling removed under its timeout.  Each must
# cost the sandbox its own request at most, never a worker or the pool.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
# a pool of two for the short requests (max-workers: no spare forked past
# them); the clone, a long-lived request, leaves the pool and its worker
# exits after it
T_WORKERS=2
sbd_start --clone-allow 127.0.0.0/8 --clone-timeout 3 --max-workers 2
W0=$(sbd_workers)

api POST /sandboxes/a
is "$STATUS" 200 "sandbox created"

# a FIFO where ls reads owner names
exec_in a 'touch /workspace/f; rm -f /etc/passwd /etc/group && mkfifo /etc/passwd /etc/group && echo planted'
is "$(jqr .data.stdout)" planted "inside: /etc/passwd and /etc/group are FIFOs"
for i in 1 2 3; do
	api GET "/sandboxes/a/ls?path=/workspace" '' --max-time 20
	is "$STATUS" 200 "ls $i answers (owner names fall back to numbers)"
done
is "$(jqr '.data.entries[0].user')" 0 "the owner is shown by number"
api GET /sandboxes/a '' --max-time 20
is "$STATUS" 200 "the pool still answers"

# a FIFO where the init records a background process's exit
GO=/tmp/go-$RANDOM
api POST /sandboxes/a/processes "$(jq -cn --arg go "$GO" '{processId: "p1", command: ("while [ ! -e " + $go + " ]; do sleep 0.02; done")}')"
is "$STATUS" 200 "process p1 started"
exec_in a "rm -f /.sandboxd/processes/p1/exit; mkfifo /.sandboxd/processes/p1/exit; touch $GO; echo planted"
is "$(jqr .data.stdout)" planted "inside: its exit file is a FIFO, and p1 is let go"
for _ in $(seq 1 1200); do
	api GET /sandboxes/a/processes/p1 '' --max-time 20
	[ "$(jqr .data.status)" != running ] && break
	sleep 0.05
done
is "$(jqr .data.status)" completed "the init reaped p1 (and did not block on the FIFO)"
exec_in a 'echo hi'
is "$(jqr .data.stdout)" hi "the sandbox's init still serves"

# a FIFO where a background process's log goes
exec_in a 'mkdir -p /.sandboxd/processes/p2 && mkfifo /.sandboxd/processes/p2/stdout && echo planted'
api POST /sandboxes/a/processes '{"processId": "p2", "command": "echo x"}' --max-time 20
is "$STATUS" 409 "a process whose log is a FIFO is refused with 409, not hung (and not a 500)"
exec_in a 'echo keep >/workspace/target && mkdir -p /.sandboxd/processes/p3 && ln -s /workspace/target /.sandboxd/processes/p3/stderr && echo planted'
api POST /sandboxes/a/processes '{"processId": "p3", "command": "echo x"}' --max-time 20
is "$STATUS" 409 "a process whose log is a symlink is refused with 409"
exec_in a 'cat /workspace/target'
is "$(jqr .data.stdout)" "keep" "and the symlink's target is not truncated"
exec_in a 'echo hi'
is "$(jqr .data.stdout)" hi "and the init still serves"

# a listing made huge on purpose: 5000 symlinks with 2000-byte targets
exec_in a 'mkdir -p /workspace/huge && cd /workspace/huge && t=$(head -c 2000 /dev/zero | tr "\0" x) && i=0 && while [ $i -lt 5000 ]; do ln -s "/$t" "l$i"; i=$((i+1)); done && echo made'
is "$(jqr .data.stdout)" made "inside: 5000 long symlinks"
api GET "/sandboxes/a/ls?path=/workspace/huge" '' --max-time 60
is "$STATUS" 200 "ls of it answers"
is "$(jqr .data.truncated)" true "cut short and saying so (the child's 8 MiB budget)"
HWM=0
for w in $(sbd_workers); do
	h=$(awk '/VmHWM/ { print $2 }' /proc/$w/status)
	[ "$h" -gt "$HWM" ] && HWM=$h
done
diag "workers' peak RSS after the huge listing: $HWM kB"
ok $([ "$HWM" -lt 262144 ]; echo $?) "no worker grew past 256 MiB for it"

# a clone killed at its deadline whose sibling directory the sandbox removed:
# the removal starts once the clone is connected and waiting (the server
# says when it accepted), so it is the deadline that ends the clone
python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True)
c = []
while True:
    c.append(s.accept())
    print("accepted", flush=True)' >"$T_DIR/silent.port" &
SRV=$!
for _ in $(seq 1 1200); do [ -s "$T_DIR/silent.port" ] && break; sleep 0.05; done
SPORT=$(head -n 1 "$T_DIR/silent.port")
curl -s -o /dev/null -w '%{http_code}' --max-time 60 -X POST -H 'Content-Type: application/json' \
	-d "{\"repoUrl\":\"http://127.0.0.1:$SPORT/x.git\",\"directory\":\"x\"}" \
	"$BASE/sandboxes/a/clone" >"$T_DIR/clone.status" &
CLONE=$!
for _ in $(seq 1 1200); do grep -q accepted "$T_DIR/silent.port" && break; sleep 0.05; done
api POST /sandboxes/a/processes '{"processId": "rm", "command": "while :; do rm -rf /workspace/*.sandboxd-clone-*; sleep 0.01; done"}'
wait "$CLONE"
is "$(cat "$T_DIR/clone.status")" 504 "the clone times out (504)"
kill "$SRV" 2>/dev/null
# the master sees every worker's exit status: none died; the workers of W0
# gone are those that left after a stream (the clone's, the huge listing's)
# or that the pool retired.  The workers gone are counted first: one that
# exits (the clone's, after its answer) is counted by the master once it has
# reaped it, so the metrics read after see it (a sanitized run read them
# first and met one leaving between the two)
GONE=$(for w in $W0; do [ -d "/proc/$w" ] || echo "$w"; done | wc -l)
api GET /metrics
like "$BODY" 'sandboxd_pool_workers_ended_total\{reason="died"\} 0' "no worker died on any of it"
LEFT=$(printf '%s\n' "$BODY" | sed -n 's/^sandboxd_pool_workers_ended_total{reason="stream"} //p')
RETIRED=$(printf '%s\n' "$BODY" | sed -n 's/^sandboxd_pool_workers_ended_total{reason="retired"} //p')
ok $([ "$GONE" -le $((${LEFT:-0} + ${RETIRED:-0})) ]; echo $?) \
	"the workers gone ($GONE) left after a stream ($LEFT) or were retired ($RETIRED)"
unlike "$(cat "$T_DIR/sandboxd.log")" 'died' "the log has no dead worker"

done_testing
