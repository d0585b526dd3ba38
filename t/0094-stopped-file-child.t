#!/bin/bash
# A file operation is done by a child the sandbox's init forks inside the
# sandbox: same pid namespace, same uid as the sandbox's processes, which
# may SIGSTOP it.  The worker then waited for it as for a slow child:
# DATA_IDLE_MS on the data pipe, then FILE_TIMEOUT_MS for the answer
# (30 s each, api_files.c), and as the stop signals stay blocked while a
# request is served (a reload cuts no transfer, t/0084), a reload (SIGHUP)
# and a shutdown waited as long: one tenant held the operator's reload.
# Here a background process of the sandbox stops every child of the init
# that is not a command (a service child keeps the init's name,
# sandbox-init: it never execs) as fast as it can find one, while files
# are written, uploaded, downloaded and unpacked, and a reload comes.
# Every answer must come well inside the service's own 30 s waits on a
# child (20 s here: an answer then is no timeout's), as a JSON error (or
# whole, when the stopper missed the child); a reload meanwhile must be
# done; a file is its old content or the new one whole, never a part; and
# nothing stays behind (no stopped process, no descriptor of the init's).
# At e7962d9 (16:00 run) these fail: the JSON write (curl cut at 20 s; the
# service logged 504 after 30.2 s), the raw upload and the reload (504
# after 60.7 s, the reload done 59.6 s after its SIGHUP), the download
# (cut=sandbox after 30.1 s), the archive upload (held until the test
# continued its child, 26.7 s), a stopped child left in the sandbox once
# the stopper is gone, and the shutdown (30 s: the drain bound, then a
# SIGKILL of the worker).  Now the init kills a service child as soon as
# it is stopped (init.c kill_stopped()): 409 within milliseconds.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

T_WORKERS=3 sbd_start
BG=
trap '[ -n "$BG" ] && kill $BG 2>/dev/null; sbd_cleanup' EXIT
MASTER=$(cat "$T_DIR/sandboxd.pid")
# the service waits 30 s (DATA_IDLE_MS, FILE_TIMEOUT_MS) on a child that is
# silent: an answer within this bound is not one of those timeouts
BOUND=20
sha() { sha256sum | cut -d' ' -f1; }
run() {
	api POST "/sandboxes/$1/exec" "$(jq -cn --arg c "$2" '{command: $c, timeout: 60000}')" --max-time 60
	OUT=$(jqr .data.stdout)
}
# an answer that is not a 200 is a JSON error: "<status> <error>"
json_error() {
	printf '%s' "$(jq -r 'select(.success == false) | .error' "$1" 2>/dev/null | head -c 200)"
}
# state letters of the sandbox's processes, by host pid: "pid:state:comm"
states() {
	local p s
	for p in $(sandbox_pids "$1"); do
		s=$(sed 's/^[0-9]* (.*) \(.\) .*/\1/' "/proc/$p/stat" 2>/dev/null) || continue
		echo "$p:$s:$(cat "/proc/$p/comm" 2>/dev/null)"
	done
}

api POST /sandboxes/sf '{}'
is "$STATUS" 200 "a sandbox"
F=/sandboxes/sf/files
run sf 'cd /workspace && echo "the old content" >js.txt && echo "the old content" >up.bin &&
	head -c 64M /dev/urandom >down.bin && mkdir -p arc/d && echo "the old member" >arc/d/big.bin &&
	sha256sum down.bin | cut -d" " -f1'
DOWN_SHA=$OUT
like "$DOWN_SHA" '^[0-9a-f]{64}$' "files to write over, and a 64 MiB file to download"
INIT=$(init_of sf)
sleep 1
INIT_FDS=$(ls "/proc/$INIT/fd" | wc -l)
NPROCS=$(sandbox_pids sf | wc -w)
diag "the init $INIT: $INIT_FDS fds, $NPROCS processes in the sandbox"

# --- a tracer cannot stop one either -------------------------------------------
# (a ptrace stop is told to the tracer, not to the init: the child is not
# dumpable, as the init is not, and no sandbox process has CAP_SYS_PTRACE)
# 4 MiB at 256K/s: the upload's child lives ~16 s, so that an exec slow to
# start (python under a loaded or sanitizer run) still finds it; the probe
# looks for it for 12 s rather than once
head -c $((4 << 20)) /dev/urandom >"$T_DIR/slow.bin"
curl -s -o /dev/null -w '%{http_code}' --max-time 60 --limit-rate 256K -X PUT \
	-H 'Content-Type: application/octet-stream' -T "$T_DIR/slow.bin" "$BASE$F/workspace/slow.bin" \
	>"$T_DIR/slow.status" &
BG=$!
run sf '[ -x /usr/bin/python3 ] || { echo no-python; exit 0; }; python3 -c "
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
def child():
    for p in open(\"/proc/1/task/1/children\").read().split():
        try:
            if open(\"/proc/%s/comm\" % p).read().strip() == \"sandbox-init\":
                return int(p)
        except OSError:
            pass
end = time.time() + 12
p = child()
while p is None and time.time() < end:
    time.sleep(0.05)
    p = child()
if p is None:
    print(\"no file operation child found\")
else:
    for req in (0x4206, 16):  # PTRACE_SEIZE, PTRACE_ATTACH
        print(libc.ptrace(req, p, 0, 0), os.strerror(ctypes.get_errno()))
"'
# still running after the probe: it ran while the upload's child lived
ok $(kill -0 "$BG" 2>/dev/null; echo $?) "the upload was still running when probed"
wait "$BG"; BG=
if [ "$OUT" = no-python ]; then
	ok 0 "# SKIP no python3 in the image"
else
	is "$OUT" "-1 Operation not permitted
-1 Operation not permitted" "a sandbox process may not ptrace a file operation's child"
fi
is "$(cat "$T_DIR/slow.status")" 200 "that upload is whole"

# --- the stopper ---------------------------------------------------------------
# the init's children are its commands (which exec, and are named by them)
# and its service children (a file operation's, a clone's: named
# sandbox-init); shell builtins only, so that the loop forks nothing
api POST /sandboxes/sf/processes "$(jq -cn --arg c '
while :; do
	# (no newline at its end: read fails, but sets kids; errors go to
	# the process log: /dev/null is not writable in every image)
	read -r kids </proc/1/task/1/children
	for p in $kids; do
		read -r c <"/proc/$p/comm" || continue
		[ "$c" = sandbox-init ] && kill -STOP "$p" || continue
		case " $seen " in *" $p "*) ;; *) seen="$seen $p"; echo "$p" >>/tmp/stopped ;; esac
	done
done' '{command: $c, processId: "stopper"}')"
is "$STATUS" 200 "a process that stops the init's service children" || diag "$BODY"
sleep 1

# --- a 2 MiB JSON write --------------------------------------------------------
head -c $((2 << 20)) /dev/zero | tr '\0' a >"$T_DIR/big.txt"
BIG_SHA=$(sha <"$T_DIR/big.txt")
jq -Rn --rawfile c "$T_DIR/big.txt" '{content: $c}' >"$T_DIR/big.json"
CAUGHT=0 ALL=
for i in 1 2 3 4 5; do
	ST=$(curl -s -o "$T_DIR/js.out" -w '%{http_code}' --max-time $BOUND -X PUT \
		-H 'Content-Type: application/json' --data-binary @"$T_DIR/big.json" "$BASE$F/workspace/js.txt")
	ALL="$ALL $ST"
	[ "$ST" = 200 ] && continue
	CAUGHT=1
	diag "JSON write $i: $ST $(json_error "$T_DIR/js.out")"
	like "$ST" '^(4[0-9][0-9]|50[1-9])$' "a JSON write whose child was stopped is answered within ${BOUND} s (the service waits 30 s on a silent child)"
	isnt "$(json_error "$T_DIR/js.out")" "" "as a JSON error"
	break
done
diag "JSON writes:$ALL"
ok $((1 - CAUGHT)) "the stopper caught a JSON write's child"

# --- a slow raw upload, and a reload meanwhile ---------------------------------
head -c $((2 << 20)) /dev/urandom >"$T_DIR/up.bin"
UP_SHA=$(sha <"$T_DIR/up.bin")
curl -s -o "$T_DIR/up.out" -w '%{http_code}' --max-time 60 --limit-rate 256K -X PUT \
	-H 'Content-Type: application/octet-stream' -T "$T_DIR/up.bin" "$BASE$F/workspace/up.bin" \
	>"$T_DIR/up.status" &
BG=$!
sleep 1
OLD=$(sbd_workers)
# (timed here: sbd_reload waits 60 s, and the old code's reload took 59.6 s)
T0=$SECONDS
sbd_reload; RC=$?
ok $([ "$RC" -eq 0 ] && [ $((SECONDS - T0)) -lt "$BOUND" ]; echo $?) \
	"a reload during an upload whose child is stopped is done (in its ${BOUND} s wait: $((SECONDS - T0)) s)"
api GET /healthz
is "$STATUS" 200 "the new workers serve"
wait "$BG"; BG=
ST=$(cat "$T_DIR/up.status")
diag "the upload: $ST $(json_error "$T_DIR/up.out")"
like "$ST" '^(200|4[0-9][0-9]|50[1-9])$' "the upload is answered"
[ "$ST" = 200 ] || isnt "$(json_error "$T_DIR/up.out")" "" "as a JSON error"
left=
for _ in $(seq 1 600); do
	left=
	for p in $OLD; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
	[ -z "$left" ] && break
	sleep 0.1
done
is "${left# }" "" "every worker of before the reload has exited"

# --- a raw download of 64 MiB, read at 8 MiB/s ---------------------------------
curl -s -o "$T_DIR/down.bin" -w '%{http_code} %{size_download}' --max-time $BOUND --limit-rate 8M \
	-H 'Accept: application/octet-stream' "$BASE$F/workspace/down.bin" >"$T_DIR/down.status"
RC=$?
DST=$(cat "$T_DIR/down.status")
diag "the download: curl exit $RC, $DST"
isnt "$RC" 28 "a download whose child was stopped ends within ${BOUND} s"
if [ "$(sha <"$T_DIR/down.bin")" = "$DOWN_SHA" ]; then
	pass=0
elif [ "${DST%% *}" != 200 ]; then
	# stopped before its first byte: an error, in JSON
	[ -n "$(json_error "$T_DIR/down.bin")" ]
	pass=$?
else
	# cut short: fewer bytes than its Content-Length, the client knows
	# (curl makes no file when it got no byte of the body)
	got=$(stat -c %s "$T_DIR/down.bin" 2>/dev/null || echo 0)
	[ "$got" -lt $((64 << 20)) ] && [ "$RC" != 0 ]
	pass=$?
fi
ok $pass "the download is the file whole, cut short (never whole-looking), or a JSON error"
rm -f "$T_DIR/down.bin"

# --- an archive upload ---------------------------------------------------------
mkdir -p "$T_DIR/arc/d"
head -c $((4 << 20)) /dev/urandom >"$T_DIR/arc/d/big.bin"
ARC_SHA=$(sha <"$T_DIR/arc/d/big.bin")
tar -C "$T_DIR/arc" -cf "$T_DIR/arc.tar" d
ST=$(curl -s -o "$T_DIR/arc.out" -w '%{http_code}' --max-time $BOUND -X PUT \
	-H 'Content-Type: application/octet-stream' --data-binary @"$T_DIR/arc.tar" "$BASE/sandboxes/sf/archive?path=/workspace/arc")
diag "the archive upload: $ST $(json_error "$T_DIR/arc.out")"
like "$ST" '^(200|4[0-9][0-9]|50[1-9])$' "an archive upload whose child was stopped is answered within ${BOUND} s"

# --- a listing and a delete ----------------------------------------------------
ST=$(curl -s -o "$T_DIR/ls.out" -w '%{http_code}' --max-time $BOUND "$BASE/sandboxes/sf/ls?path=/workspace")
like "$ST" '^(200|4[0-9][0-9]|50[1-9])$' "a listing is answered within ${BOUND} s"
ST=$(curl -s -o "$T_DIR/rm.out" -w '%{http_code}' --max-time $BOUND -X DELETE "$BASE$F/workspace/nothing-here")
like "$ST" '^(404|4[0-9][0-9]|50[1-9])$' "a delete is answered within ${BOUND} s"

# --- what is left --------------------------------------------------------------
api DELETE "/sandboxes/sf/processes/stopper?signal=KILL"
is "$STATUS" 200 "the stopper is killed"
for _ in $(seq 1 600); do [ "$(sandbox_pids sf | wc -w)" -le "$NPROCS" ] && break; sleep 0.1; done
is "$(states sf | grep -c ':T:')" 0 "no process of the sandbox is left stopped" ||
	diag "$(states sf | tr '\n' ' ')"
is "$(sandbox_pids sf | wc -w)" "$NPROCS" "the sandbox has the processes it had"
# stopped ones CONTed, so that what follows is not held (on the old code)
for s in $(states sf | grep ':T:'); do kill -CONT "${s%%:*}"; done
run sf 'wc -l </tmp/stopped'
diag "service children stopped in the sandbox: $OUT"
run sf 'cd /workspace && sha256sum js.txt up.bin arc/d/big.bin | cut -d" " -f1; find / -xdev -name ".sandboxd-*" 2>/dev/null | wc -l'
# (an exec that failed, or a file missing, gives fewer words: ${N:-} so
# that it fails a point instead of ending the script under set -u)
set -- $OUT
OLD_SHA=$(echo "the old content" | sha)
ok $([ "${1:-}" = "$OLD_SHA" ] || [ "${1:-}" = "$BIG_SHA" ]; echo $?) "the JSON-written file is its old content or the new whole"
ok $([ "${2:-}" = "$OLD_SHA" ] || [ "${2:-}" = "$UP_SHA" ]; echo $?) "the uploaded file is its old content or the new whole"
ok $([ "${3:-}" = "$(echo "the old member" | sha)" ] || [ "${3:-}" = "$ARC_SHA" ]; echo $?) \
	"the archive's member is its old content or the new whole"
is "${4:-}" 0 "no temporary is left" || diag "sums and count: $OUT"
for _ in $(seq 1 600); do [ "$(ls "/proc/$INIT/fd" | wc -l)" -le "$INIT_FDS" ] && break; sleep 0.1; done
is "$(ls "/proc/$INIT/fd" | wc -l)" "$INIT_FDS" "the init holds the descriptors it held"

# --- a shutdown during an upload whose child is stopped ------------------------
api POST /sandboxes/sf/processes "$(jq -cn --arg c '
while :; do
	# (no newline at its end: read fails, but sets kids; errors go to
	# the process log: /dev/null is not writable in every image)
	read -r kids </proc/1/task/1/children
	for p in $kids; do
		read -r c <"/proc/$p/comm" || continue
		[ "$c" = sandbox-init ] && kill -STOP "$p"
	done
done' '{command: $c, processId: "stopper2"}')"
is "$STATUS" 200 "the stopper again"
sleep 1
curl -s -o /dev/null --max-time 60 --limit-rate 256K -X PUT -H 'Content-Type: application/octet-stream' \
	-T "$T_DIR/up.bin" "$BASE$F/workspace/up2.bin" &
BG=$!
sleep 1
WORKERS=$(sbd_workers)
T0=$(date +%s)
kill -TERM "$MASTER"
for _ in $(seq 1 600); do kill -0 "$MASTER" 2>/dev/null || break; sleep 0.1; done
T1=$(date +%s)
! kill -0 "$MASTER" 2>/dev/null; ok $? "the master stopped"
diag "a shutdown took $((T1 - T0)) s (its drain bound: 30 s)"
ok $((T1 - T0 < BOUND ? 0 : 1)) "within ${BOUND} s: the stopped child held no worker to the drain bound"
wait "$BG"; BG=
left=
for p in $WORKERS $(sandbox_pids sf); do kill -0 "$p" 2>/dev/null && left="$left $p"; done
is "${left# }" "" "no worker or sandbox process is left"
done_testing
