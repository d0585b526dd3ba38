#!/bin/bash
# The control socket bound ahead: a waiting launcher binds its sandbox's
# control socket in a directory of its worker's (DATA/sandboxes/.ctl-PID)
# and the start renames it into the sandbox's directory.  It must be the
# socket the start would have bound: the same name (the sandbox reads it in
# its /proc/net/unix), mode and owner (who may connect: host root only);
# a rename that fails binds one as before; and a launcher that dies or is
# dropped, with its worker or not, leaves no socket behind.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
cg_need pids
command -v python3 >/dev/null || skip_all "no python3"
grep -q SANDBOXD_FAULTS "$SANDBOXD" ||
	skip_all "a build without fault injection (configure --enable-fault-injection)"
FAULTS=$(mktemp -d /tmp/sbd-faults.XXXXXX)
export SANDBOXD_FAULTS=$FAULTS
T_TRAP='sbd_cleanup; rm -rf "$FAULTS"'
# one worker: every start below is its, and its launchers are the ones seen
T_WORKERS=1
sbd_start --max-workers 1

launcher_of() {	# the waiting launcher of worker $1, once exec'd and named
	local p _
	for _ in $(seq 1 100); do
		for p in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" = sandbox-launch ] && { echo "$p"; return; }
		done
		sleep 0.05
	done
}
ahead_of() {	# ahead_of WORKER: its launcher's socket, once bound
	for _ in $(seq 1 1200); do [ -S "$DATA/sandboxes/.ctl-$1/ctl" ] && break; sleep 0.05; done
	echo "$DATA/sandboxes/.ctl-$1/ctl"
}
dead() {	# wait until process $1 has exited (a zombie, or reaped)
	local st _
	for _ in $(seq 1 1200); do
		st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)
		{ [ -z "$st" ] || [ "$st" = Z ]; } && break
		sleep 0.05
	done
}
look() { stat -c '%F %a %u:%g' "$1" 2>&1; }	# what decides who may connect
names_inside() {	# the unix sockets' names a sandbox sees (its network namespace's)
	exec_in "$1" 'awk "NR > 1 {print \$NF}" /proc/net/unix | sort | tr "\n" " "'
	jqr .data.stdout
}
stale() {	# the control sockets bound ahead that nothing listens on any more
	python3 - "$DATA"/sandboxes/.ctl-*/ctl <<'EOF'
import errno, os, socket, sys
for p in sys.argv[1:]:
    if not os.path.exists(p):
        continue
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.connect(p)
    except OSError as e:
        if e.errno == errno.ECONNREFUSED:
            print(p)
    s.close()
EOF
}

# --- the reference: bound at the start, as before -----------------------------------------------
touch "$FAULTS/ctl-no-ahead"
api POST /sandboxes/x0
is "$STATUS" 200 "x0 is created (its worker's next launcher binds nothing ahead: fault ctl-no-ahead)"
W=$(sbd_workers)
L=$(launcher_of "$W")
ok $([ -n "$L" ]; echo $?) "  a launcher waits ($L)"
sleep 0.3
ok $([ ! -e "$DATA/sandboxes/.ctl-$W" ]; echo $?) "  with the fault, nothing is bound ahead"
api POST /sandboxes/slow
is "$STATUS" 200 "slow is created: its control socket bound at the start"
rm -f "$FAULTS/ctl-no-ahead"
SLOW=$(look "$DATA/sandboxes/slow/ctl")
is "$SLOW" "socket 600 0:0" "  a socket, 0600, host root's"
SLOW_NAMES=$(names_inside slow)
is "$STATUS" 200 "  an exec in slow works (through it)"
like "$SLOW_NAMES" '^/proc/self/fd/4/ctl $' "  inside, /proc/net/unix names it /proc/self/fd/4/ctl"
api POST /sandboxes/x1
is "$STATUS" 200 "x1 is created (the fault gone: the next launcher binds ahead)"
# (slow's exec, past a second on a loaded host, may have taken W out of the
# pool and its launcher with it: W is the worker that created x1)
worker_one

# --- bound ahead, renamed in ------------------------------------------------------------------
L=$(launcher_of "$W")
AHEAD=$(ahead_of "$W")
is "$(look "$AHEAD")" "socket 600 0:0" "the waiting launcher ($L) bound a socket ahead in .ctl-$W: 0600, host root's"
is "$(stat -c '%a %u:%g' "$DATA/sandboxes/.ctl-$W")" "700 0:0" "  in a directory only host root enters"
NSNAMES=$(nsenter -t "$L" -n cat /proc/net/unix 2>/dev/null | awk 'NR > 1 {print $NF}' | tr '\n' ' ')
like "$NSNAMES" '^/proc/self/fd/4/ctl $' "  named /proc/self/fd/4/ctl in the sandbox's network namespace, as when bound at the start"
INO=$(stat -c %i "$AHEAD")
api POST /sandboxes/fast
is "$STATUS" 200 "fast is created by that launcher"
is "$(stat -c %i "$DATA/sandboxes/fast/ctl" 2>&1)" "$INO" "  its control socket is the one bound ahead, renamed in"
is "$(look "$DATA/sandboxes/fast/ctl")" "$SLOW" "  of the same type, mode and owner as one bound at the start"
is "$(names_inside fast)" "$SLOW_NAMES" "  an exec in fast works, and inside it has the same name"
api PUT /sandboxes/fast/files/workspace/a.txt '{"content": "hello"}'
is "$STATUS" 200 "  a file op in fast works"

# --- a rename that fails: bound at the start, as before -----------------------------------------
# (fast's exec may have taken W out of the pool: W read again, a start
# made if no launcher waits)
spare_ready fb-spare
AHEAD=$(ahead_of "$W")
rm -f "$AHEAD"
api POST /sandboxes/fallback
is "$STATUS" 200 "with the socket bound ahead gone (its rename fails), fallback is created"
is "$(look "$DATA/sandboxes/fallback/ctl")" "$SLOW" "  its control socket bound at the start, the same as slow's"
is "$(names_inside fallback)" "$SLOW_NAMES" "  an exec works, and inside it has the same name"

# --- a launcher that dies or is dropped leaves nothing -------------------------------------------
spare_ready kill-spare
ahead_of "$W" >/dev/null
kill -KILL "$L"
dead "$L"
is "$(stale)" "$DATA/sandboxes/.ctl-$W/ctl" "a launcher killed leaves its socket (nothing listens on it)"
api POST /sandboxes/afterkill
is "$STATUS" 200 "the next create works (a fresh launcher)"
exec_in afterkill true
is "$STATUS" 200 "  and an exec in it"
spare_ready ak-spare
ahead_of "$W" >/dev/null
is "$(stale)" "" "  no socket without a listener is left (the one there is its next launcher's)"

# a launcher killed, then its worker: the master removes what they left
L=$(launcher_of "$W")
ahead_of "$W" >/dev/null
kill -KILL "$L"
dead "$L"
kill -KILL "$W"
for _ in $(seq 1 1200); do [ -e "$DATA/sandboxes/.ctl-$W" ] || break; sleep 0.05; done
ok $([ ! -e "$DATA/sandboxes/.ctl-$W" ]; echo $?) "a killed launcher's socket goes when the master reaps its killed worker"

# a worker killed: its waiting launcher reads EOF, removes its socket and ends
for _ in $(seq 1 1200); do W=$(sbd_workers); [ -n "$W" ] && break; sleep 0.05; done
api POST /sandboxes/y0
is "$STATUS" 200 "y0 is created by the new worker ($W)"
L=$(launcher_of "$W")
AHEAD=$(ahead_of "$W")
ok $([ -S "$AHEAD" ]; echo $?) "  its waiting launcher bound one ahead"
kill -KILL "$W"
for _ in $(seq 1 1200); do [ "$(cat "/proc/$L/comm" 2>/dev/null)" = sandbox-launch ] || break; sleep 0.05; done
ok $([ ! -e "$DATA/sandboxes/.ctl-$W" ]; echo $?) "  a killed worker's waiting launcher ends, and its socket and directory are gone"

# a master's start removes what an earlier master's left (all killed at once)
for _ in $(seq 1 1200); do W=$(sbd_workers); [ -n "$W" ] && break; sleep 0.05; done
mkdir -p "$DATA/sandboxes/.ctl-999999999"
python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.bind(sys.argv[1])' \
	"$DATA/sandboxes/.ctl-999999999/ctl"
MPID=$(cat "$T_DIR/sandboxd.pid")
kill -TERM "$MPID"
for _ in $(seq 1 300); do kill -0 "$MPID" 2>/dev/null || break; sleep 0.1; done
ok $([ -S "$DATA/sandboxes/.ctl-999999999/ctl" ]; echo $?) "a stopped master leaves a socket it does not know of"
for _ in $(seq 1 1200); do [ "$(ls -A "$DATA/sandboxes" | grep -c '^\.ctl-')" = 1 ] && break; sleep 0.05; done
is "$(ls -A "$DATA/sandboxes" | grep -c '^\.ctl-')" 1 "  and nothing of its own launchers"
rm -f "$DATA/run/fcgi.sock"
"$SANDBOXD" --data "$DATA" --instance "$INSTANCE" --workers 1 --max-workers 1 \
	--uid-base "$UID_BASE" --uid-slots 64 --pidfile "$T_DIR/sandboxd.pid" \
	>>"$T_DIR/sandboxd.log" 2>&1 &
for _ in $(seq 1 1200); do [ -S "$DATA/run/fcgi.sock" ] && curl -s -o /dev/null "$BASE/" && break; sleep 0.05; done
ok $([ ! -e "$DATA/sandboxes/.ctl-999999999" ]; echo $?) "  a master's start removes it"
api POST /sandboxes/z0
is "$STATUS" 200 "and creates work after the restart"
exec_in slow true
is "$STATUS" 200 "  as execs in a sandbox started before"

done_testing
