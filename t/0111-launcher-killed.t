#!/bin/bash
# A sandbox's launcher killed by someone else (the OOM killer, a host
# admin's kill) while it starts the sandbox, before it said a word (the
# init's pid): nothing of the sandbox runs yet, so the start tries once
# more with a new launcher; when that one is killed too the answer is 503
# "try again", never 500, and the next start works.  The kills are
# strace's fault injection, at the launcher's own system calls.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
command -v strace >/dev/null || skip_all "strace is not installed"
cg_need pids
T_WORKERS=1
sbd_start --max-workers 1

killed() { grep -c '+++ killed by SIGKILL' "$T_DIR/strace.$1"; }
ctls() { ls -A "$DATA/sandboxes" | grep -c '^\.ctl-'; }

api POST /sandboxes/a
is "$STATUS" 200 "a is created"
W=$(sbd_workers)
launcher_waiting
ok $? "a launcher waits for the worker's next start ($L)"

# --- 1. the waiting launcher killed before the init's fork, at each clone --------------
# its first clone makes the sandbox's user namespace (a helper), its
# second forks the init; killed at either, no process of the sandbox is left
for when in 1 2; do
	id=b$when
	# (b1's exec, past a second on a loaded host, may have taken W out of
	# the pool and its launcher with it: W read again, a start if none waits)
	spare_ready "spare$when"
	launcher_trace "$id" -p "$L" -e trace=clone,clone3 -e inject=clone,clone3:signal=SIGKILL:when=$when
	ok $? "$id: the waiting launcher traced ($L)"
	api POST "/sandboxes/$id"
	is "$STATUS" 200 "$id: created all the same, by a new launcher (killed at clone $when)"
	wait "$S"
	is "$(killed "$id")" 1 "$id: (control) the fault killed the launcher"
	exec_in "$id" 'echo hi > /workspace/x && cat /workspace/x && hostname'
	is "$(echo $(jqr .data.stdout))" "hi $id" "$id: works"
	api GET "/sandboxes/$id"
	is "$(jqr .data.status)" running "$id: reads running"
done

# --- 2. every launcher killed: 503, and nothing kept ------------------------------------
# the waiting one and the worker's new ones, each at its first unshare (the
# waiting one's pid namespace, before its fork; a new one's network
# namespace, before it reads its settings)
spare_ready spare3
before_ctl=$(ctls)
launcher_trace all -f -p "$W" -p "$L" -e trace=unshare -e inject=unshare:signal=SIGKILL:when=1
ok $? "the worker and its waiting launcher traced"
api POST /sandboxes/c
is "$STATUS" 503 "c: every launcher killed -> 503, not 500"
is "$(jqr .success)" false "c: a JSON error"
like "$(jqr .error)" "launcher was killed.*try again" "c: which says so: $(jqr .error)"
kill -TERM "$S" 2>/dev/null
wait "$S"
ok "$([ "$(killed all)" -ge 2 ]; echo $?)" "(control) the faults killed both launchers ($(killed all))"
grep -E 'unshare|killed' "$T_DIR/strace.all" | head -n 8 | sed 's/^/# strace: /'
api GET /sandboxes/c
is "$STATUS:$(jqr .data.status)" "200:stopped" "c: stopped (its record stays, as after any failed start)"
is "$(sandbox_pids c | wc -l)" 0 "c: no process in its cgroup"

# --- 3. the next start works; nothing left over -----------------------------------------
api POST /sandboxes/c
is "$STATUS" 200 "c: the next start works"
# (before any exec: one past a second, on a loaded host, takes W out of
# the pool and its launcher with it)
launcher_waiting
ok $? "one launcher waits again, no more ($L)"
# (its socket dir comes a moment after it runs: waited for, not fewer)
for _ in $(seq 1 1200); do [ "$(ctls)" = "$before_ctl" ] && break; sleep 0.05; done
is "$(ctls)" "$before_ctl" "no control socket dir left by the killed launchers"
exec_in c 'hostname'
is "$(jqr .data.stdout)" c "c: runs"
for id in a b1 b2 c; do
	is "$(inits "$id" | wc -w)" 1 "$id: one init (none more from a retried start)"
done
# (done_testing adds: no request answered 500, no sanitizer report)
done_testing
