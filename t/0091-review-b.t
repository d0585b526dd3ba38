#!/bin/bash
# Review of the h18-reload merge (b40327e), attacked from its claims: a
# reload cuts no request in progress; a process on the FastCGI socket
# (root or the socket's group) holds no worker and no reload for ever; a
# short upload (client gone, worker killed) changes nothing; a shutdown
# waits at most its drain bound and leaks nothing.
# At b40327e (13:24 UTC run) these fail: 3 (half a JSON body on the socket
# holds a worker and the reload until the client leaves: http_read_body()
# reads with no timeout, the stops blocked), 5 and 10 (a dripped raw
# upload, on the socket or through nginx, is not bounded by --max-timeout:
# feed() checks its deadline between FCGX_GetStr() calls of 64 KiB, and
# FCGX_GetStr() loops until it has them; the reload waits, 86 s and
# counting with --max-timeout 8 s), 9 (a trickle reader of a raw download:
# 47 s against --max-timeout 8 s), 24 and the "no 500" line (an upload
# racing POST /destroy is answered 500 "the sandbox's init went away").
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

# small bounds, so that "for ever" is told from "bounded" in a test's time
T_WORKERS=3 sbd_start --max-timeout 8000 --send-timeout 3
BG=
HOLD=
trap '[ -n "$BG" ] && kill $BG 2>/dev/null; [ -n "$HOLD" ] && kill $HOLD 2>/dev/null; sbd_cleanup' EXIT
MASTER=$(cat "$T_DIR/sandboxd.pid")
SOCK=$DATA/run/fcgi.sock
sha() { sha256sum | cut -d' ' -f1; }
run() {
	api POST "/sandboxes/$1/exec" "$(jq -cn --arg c "$2" '{command: $c, timeout: 60000}')" --max-time 60
	OUT=$(jqr .data.stdout)
}
# reload: sbd_reload, done within 25 s: the old workers' requests are cut
# at --max-timeout (8 s here); unbounded they held it 47 s and more (a
# trickle reader), or until the client left (sbd_reload waits 60 s)
reload() {
	local t0=$SECONDS rc
	sbd_reload; rc=$?
	RELOAD_S=$((SECONDS - t0))
	[ "$rc" -eq 0 ] && [ "$RELOAD_S" -lt 25 ]
}
# the log's status of the last request of this method and path, waiting for it
status_of() {
	local st=
	for _ in $(seq 1 "${3:-200}"); do
		st=$(grep " method=$1 path=$2 " "$T_DIR/sandboxd.log" | grep -o ' status=[0-9]*' | tail -n 1)
		[ -n "$st" ] && break
		sleep 0.1
	done
	echo "${st# status=}"
}
# a raw FastCGI client (as any process of the socket's group may be)
cat >"$T_DIR/fcgi.py" <<'PY'
import socket, struct
def rec(t, body, rid=1):
    return struct.pack("!BBHHBx", 1, t, rid, len(body), 0) + body
def nv(n, v):
    def ln(x):
        return bytes([len(x)]) if len(x) < 128 else struct.pack("!I", len(x) | 0x80000000)
    return ln(n) + ln(v) + n + v
def begin(sock, method, path, query=b"", ctype=b"application/json", clen=0, rid=b"0091", accept=b""):
    uri = path + (b"?" + query if query else b"")
    p = nv(b"REQUEST_METHOD", method) + nv(b"REQUEST_URI", uri) + nv(b"DOCUMENT_URI", path) + \
        nv(b"QUERY_STRING", query) + nv(b"CONTENT_TYPE", ctype) + nv(b"CONTENT_LENGTH", str(clen).encode()) + \
        nv(b"REQUEST_ID", rid) + nv(b"REMOTE_ADDR", b"127.0.0.1") + nv(b"SERVER_ADDR", b"127.0.0.1") + \
        nv(b"HTTP_HOST", b"localhost") + nv(b"SANDBOXD_HOST", b"localhost")
    if accept:
        p += nv(b"HTTP_ACCEPT", accept)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    s.sendall(rec(1, struct.pack("!HB5x", 1, 0)) + rec(4, p) + rec(4, b""))
    return s
def stdin(s, data):
    for i in range(0, len(data), 32768):
        s.sendall(rec(5, data[i:i + 32768]))
PY
export PYTHONPATH=$T_DIR

api POST /sandboxes/rv '{}'
is "$STATUS" 200 "a sandbox"
F=/sandboxes/rv/files

# --- claim 6: half a JSON body on the FastCGI socket --------------------------
# The parameters are whole (the accept alarm is over); the body announces
# 200 bytes and sends 20, then nothing.  The stops are blocked while a
# request is served: what bounds that read?
python3 - "$SOCK" "$T_DIR/half.sent" <<'PY' &
import sys, time, fcgi
s = fcgi.begin(sys.argv[1], b"PUT", b"/sandboxes/rv/files/workspace/half.txt", clen=200, rid=b"0091half")
fcgi.stdin(s, b'{"content": "abcdefg')
open(sys.argv[2], "w").write("sent\n")
time.sleep(600)
PY
HOLD=$!
for _ in $(seq 1 600); do [ -s "$T_DIR/half.sent" ] && break; sleep 0.1; done
sleep 1
api GET /healthz
is "$STATUS" 200 "the other workers serve beside a half JSON body"
reload; ok $? "a reload is done while a local client holds half a JSON body (claim 6; ${RELOAD_S} s)"
api GET /healthz
is "$STATUS" 200 "the service answers"
kill "$HOLD" 2>/dev/null; wait "$HOLD" 2>/dev/null; HOLD=
for _ in $(seq 1 600); do [ "$(grep -c 'reload: done' "$T_DIR/sandboxd.log")" -ge 1 ] && break; sleep 0.1; done
is "$(status_of PUT $F/workspace/half.txt)" 400 "half a JSON body is a 400 (--max-timeout, or the client gone)"

# --- claim 6: a raw upload dripped on the FastCGI socket ----------------------
# (bounded by --max-timeout, 8 s here: a reload waits no longer)
python3 - "$SOCK" <<'PY' &
import sys, time, fcgi
s = fcgi.begin(sys.argv[1], b"PUT", b"/sandboxes/rv/files/workspace/drip.bin",
               ctype=b"application/octet-stream", clen=1 << 20, rid=b"0091drip")
for _ in range(300):
    try:
        fcgi.stdin(s, b"x")
    except OSError:
        break
    time.sleep(1)
PY
HOLD=$!
sleep 1
reload; ok $? "a reload is done (within --max-timeout) while a client drips an upload on the socket (${RELOAD_S} s)"
kill "$HOLD" 2>/dev/null; wait "$HOLD" 2>/dev/null; HOLD=
is "$(status_of PUT $F/workspace/drip.bin)" 400 "the dripped upload is a 400"
api GET "$F/workspace/drip.bin"
is "$STATUS" 404 "the dripped upload left no file"

# --- claim 6: a large answer read a trickle at a time -------------------------
run rv 'head -c 40M /dev/urandom >/workspace/big.bin && echo made'
is "$OUT" made "a 40 MiB file"
python3 - "$SOCK" <<'PY' &
import sys, time, fcgi
s = fcgi.begin(sys.argv[1], b"GET", b"/sandboxes/rv/files/workspace/big.bin", rid=b"0091trickle",
               accept=b"application/octet-stream")
for _ in range(300):
    try:
        if not s.recv(4096):
            break
    except OSError:
        break
    time.sleep(1)
PY
HOLD=$!
sleep 1
T0=$(date +%s)
reload; ok $? "a reload is done (within --max-timeout) while a client reads a large answer a trickle at a time (${RELOAD_S} s)"
for _ in $(seq 1 600); do [ "$(grep -c 'reload: done' "$T_DIR/sandboxd.log")" -ge 3 ] && break; sleep 0.1; done
diag "the trickle read held the reload $(( $(date +%s) - T0 )) s (--max-timeout 8 s)"
# cut by the deadline: logged so, not as a whole 200
for _ in $(seq 1 300); do
	CUT=$(grep " method=GET path=$F/workspace/big.bin " "$T_DIR/sandboxd.log" | grep -o ' cut=[a-z-]*' | tail -n 1)
	[ -n "$CUT" ] && break
	sleep 0.1
done
is "${CUT# }" cut=max-timeout "the trickle read is logged cut by --max-timeout"
kill "$HOLD" 2>/dev/null; wait "$HOLD" 2>/dev/null; HOLD=

# --- claim 6 through nginx: an upload dripped by an HTTP client ---------------
python3 - "$BASE" <<'PY' &
import socket, sys, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
s = socket.create_connection((u.hostname, u.port))
s.sendall(b"PUT /sandboxes/rv/files/workspace/ndrip.bin HTTP/1.1\r\nHost: localhost\r\n"
          b"Content-Type: application/octet-stream\r\nContent-Length: 1048576\r\n\r\n")
for _ in range(300):
    try:
        s.sendall(b"x")
    except OSError:
        break
    time.sleep(1)
PY
HOLD=$!
sleep 2
n=$(grep -c 'reload: done' "$T_DIR/sandboxd.log")
T0=$(date +%s)
reload; ok $? "a reload is done (within --max-timeout) while an HTTP client drips an upload through nginx (${RELOAD_S} s)"
for _ in $(seq 1 600); do [ "$(grep -c 'reload: done' "$T_DIR/sandboxd.log")" -gt "$n" ] && break; sleep 0.1; done
diag "the HTTP drip held the reload $(( $(date +%s) - T0 )) s (--max-timeout 8 s, --send-timeout 3 s)"
kill "$HOLD" 2>/dev/null; wait "$HOLD" 2>/dev/null; HOLD=
api GET "$F/workspace/ndrip.bin"
is "$STATUS" 404 "the dripped upload left no file"

# --- claim 4: the worker killed in the middle of a raw upload -----------------
api PUT "$F/workspace/keep.bin" "" -H 'Content-Type: application/octet-stream' --data-binary 'the old content'
is "$STATUS" 200 "a file to keep"
head -c $((4 << 20)) /dev/urandom >"$T_DIR/k.bin"
curl -s -o /dev/null -w '%{http_code}' --max-time 60 --limit-rate 512K -X PUT \
	-H 'Content-Type: application/octet-stream' -T "$T_DIR/k.bin" "$BASE$F/workspace/keep.bin" >"$T_DIR/k.status" &
BG=$!
# the worker that holds the upload's connection
W=
for _ in $(seq 1 600); do
	W=$(ss -xHp state established 2>/dev/null | grep -F "$SOCK" | grep -o 'sandboxd-worker",pid=[0-9]*' | grep -o '[0-9]*$' | head -n 1)
	[ -n "$W" ] && break
	sleep 0.1
done
sleep 2
diag "the upload's worker: ${W:-none found}"
[ -n "$W" ] && [ "$(cat /proc/$W/comm 2>/dev/null)" = sandboxd-worker ] && kill -KILL "$W"
wait "$BG"; BG=
diag "the client got $(cat "$T_DIR/k.status")"
api GET "$F/workspace/keep.bin" "" -H 'Accept: application/octet-stream'
is "$STATUS:$(printf %s "$BODY" | head -c 40)" "200:the old content" "an upload whose worker was killed left the file's old content"
run rv 'ls -a /workspace | grep -c sandboxd-'
is "$OUT" 0 "and no temporary"

# --- claim 4: the worker killed in the middle of an archive upload ------------
mkdir -p "$T_DIR/arc/d"
printf 'small\n' >"$T_DIR/arc/d/a.txt"
head -c $((4 << 20)) /dev/urandom >"$T_DIR/arc/d/big.bin"
tar -C "$T_DIR/arc" -cf "$T_DIR/arc.tar" d
run rv 'mkdir -p /workspace/arc/d && echo "the old member" >/workspace/arc/d/big.bin && echo made'
is "$OUT" made "a file where the archive's large member goes"
python3 - "$SOCK" "$T_DIR/arc.tar" "$T_DIR/arc.sent" <<'PY' &
import os, sys, time, fcgi
tar = open(sys.argv[2], "rb").read()
s = fcgi.begin(sys.argv[1], b"PUT", b"/sandboxes/rv/archive", query=b"path=/workspace/arc",
               ctype=b"application/octet-stream", clen=len(tar), rid=b"0091arc")
fcgi.stdin(s, tar[:len(tar) // 2])
open(sys.argv[3], "w").write("sent\n")
time.sleep(60)
PY
HOLD=$!
for _ in $(seq 1 600); do [ -s "$T_DIR/arc.sent" ] && break; sleep 0.1; done
sleep 1
W=$(ss -xHp state established 2>/dev/null | grep -F "$SOCK" | grep -o 'sandboxd-worker",pid=[0-9]*' | grep -o '[0-9]*$' | head -n 1)
diag "the archive's worker: ${W:-none found}"
[ -n "$W" ] && [ "$(cat /proc/$W/comm 2>/dev/null)" = sandboxd-worker ] && kill -KILL "$W"
sleep 1
kill "$HOLD" 2>/dev/null; wait "$HOLD" 2>/dev/null; HOLD=
sleep 1
run rv 'cd /workspace/arc/d && { [ "$(cat big.bin)" = "the old member" ] && echo kept || echo changed; } 2>&1; find /workspace -name ".sandboxd-*" | wc -l'
is "$OUT" "kept
0" "an archive upload whose worker was killed: the member keeps what was there, no temporary"

# --- many reloads in a row during parallel uploads ----------------------------
for i in 1 2 3; do head -c $((3 << 20)) /dev/urandom >"$T_DIR/p$i.bin"; done
PIDS=
for i in 1 2 3; do
	curl -s -o "$T_DIR/p$i.out" -w '%{http_code}' --max-time 120 --limit-rate 1M -X PUT \
		-H 'Content-Type: application/octet-stream' -T "$T_DIR/p$i.bin" "$BASE$F/workspace/p$i.bin" \
		>"$T_DIR/p$i.status" &
	PIDS="$PIDS $!"
done
BG=$PIDS
for _ in $(seq 1 8); do sleep 0.4; kill -HUP "$MASTER"; done
wait $PIDS; BG=
is "$(cat "$T_DIR/p1.status") $(cat "$T_DIR/p2.status") $(cat "$T_DIR/p3.status")" "200 200 200" \
	"3 parallel uploads across 8 reloads: every answer 200"
run rv 'cd /workspace && sha256sum p1.bin p2.bin p3.bin | cut -d" " -f1'
is "$OUT" "$(for i in 1 2 3; do sha <"$T_DIR/p$i.bin"; done)" "and each file is its client's bytes (sha256)"

# --- a large JSON write while the sandbox stops every process but its own -----
# (the file-op child is forked inside the sandbox: may its processes stop it?)
api POST "/sandboxes/rv/exec" "$(jq -cn --arg c '
end=$(( $(date +%s) + 12 )); n=0
while [ "$(date +%s)" -lt "$end" ]; do
	for d in /proc/[0-9]*; do
		p=${d#/proc/}
		[ "$p" = 1 ] || [ "$p" = $$ ] || [ "$p" = "$PPID" ] || { kill -STOP "$p" 2>/dev/null && read c <"$d/comm" && echo "$p $c"; }
	done
done >/tmp/stopped' '{command: $c, timeout: 30000}')" --max-time 60 >/dev/null &
BG=$!
sleep 2
head -c $((2 << 20)) /dev/zero | tr '\0' a >"$T_DIR/big.txt"
jq -Rn --rawfile c "$T_DIR/big.txt" '{content: $c}' >"$T_DIR/big.json"
T0=$(date +%s)
ST=$(curl -s -o "$T_DIR/js.out" -w '%{http_code}' --max-time 120 -X PUT -H 'Content-Type: application/json' \
	--data-binary @"$T_DIR/big.json" "$BASE$F/workspace/js.txt")
diag "a 2 MiB JSON write while the sandbox stops processes: $ST after $(( $(date +%s) - T0 )) s: $(head -c 200 "$T_DIR/js.out")"
isnt "$ST" 000 "the JSON write is answered"
wait "$BG"; BG=
run rv 'sort -u /tmp/stopped | head; for d in /proc/[0-9]*; do read s1 s2 st rest <"$d/stat"; [ "$st" = T ] && kill -CONT "${d#/proc/}"; done; echo conted'
diag "stopped in the sandbox: $(printf %s "$OUT" | tr '\n' ',')"
reload; ok $? "a reload is done after the stopped file-op child (${RELOAD_S} s)"

# --- an upload racing a destroy ---------------------------------------------
api POST /sandboxes/rd '{}'
is "$STATUS" 200 "a sandbox to destroy"
curl -s -o "$T_DIR/rd.out" -w '%{http_code}' --max-time 60 --limit-rate 1M -X PUT \
	-H 'Content-Type: application/octet-stream' -T "$T_DIR/k.bin" "$BASE/sandboxes/rd/files/workspace/x.bin" \
	>"$T_DIR/rd.status" &
BG=$!
sleep 1.5
api POST /sandboxes/rd/destroy "" --max-time 60
DST=$STATUS
wait "$BG"; BG=
diag "destroy: $DST; the upload: $(cat "$T_DIR/rd.status") $(head -c 200 "$T_DIR/rd.out")"
like "$DST" '^(200|204|409)$' "a destroy racing an upload is answered"
api GET /sandboxes/rd
[ "$DST" = 409 ] || is "$STATUS" 404 "the destroyed sandbox is gone"
like "$(cat "$T_DIR/rd.status")" '^(200|4[0-9][0-9])$' "the upload racing a destroy is a 200 or a 4xx"
for _ in $(seq 1 600); do [ -z "$(sandbox_pids rd)" ] && break; sleep 0.1; done
for p in $(sandbox_pids rd); do
	diag "left in rd's cgroup: $p $(cat /proc/$p/comm 2>/dev/null) $(grep -E '^(State|NSpid|PPid)' /proc/$p/status 2>/dev/null | tr '\n\t' '  ')"
done
[ "$DST" = 409 ] || is "$(sandbox_pids rd | wc -w)" 0 "no process of the destroyed sandbox is left"

# --- claim 3: a shutdown with a worker held (half a JSON body) --------------
python3 - "$SOCK" "$T_DIR/half2.sent" <<'PY' &
import sys, time, fcgi
s = fcgi.begin(sys.argv[1], b"PUT", b"/sandboxes/rv/files/workspace/half.txt", clen=200, rid=b"0091half2")
fcgi.stdin(s, b'{"content": "abcdefg')
open(sys.argv[2], "w").write("sent\n")
time.sleep(600)
PY
HOLD=$!
for _ in $(seq 1 600); do [ -s "$T_DIR/half2.sent" ] && break; sleep 0.1; done
sleep 1
WORKERS=$(sbd_workers)
INITS=$(sandbox_pids rv)
T0=$(date +%s)
kill -TERM "$MASTER"
for _ in $(seq 1 600); do kill -0 "$MASTER" 2>/dev/null || break; sleep 0.1; done
T1=$(date +%s)
! kill -0 "$MASTER" 2>/dev/null; ok $? "the master stopped (after $((T1 - T0)) s; drain bound 30 s)"
ok $(( T1 - T0 <= 40 ? 0 : 1 )) "within the drain bound and a little"
for _ in $(seq 1 600); do
	left=
	for p in $WORKERS $INITS; do kill -0 "$p" 2>/dev/null && left=1; done
	[ -z "$left" ] && break
	sleep 0.1
done
left=
for p in $WORKERS $INITS; do kill -0 "$p" 2>/dev/null && left="$left $p($(cat /proc/$p/comm 2>/dev/null) $(grep State /proc/$p/status 2>/dev/null))"; done
is "${left# }" "" "no worker or sandbox process is left"
is "$(grep -cF "$DATA" /proc/mounts)" 0 "no mount under the data dir is left"
is "$(find "$(cg_dir pids)" -mindepth 1 -type d 2>/dev/null | wc -l)" 0 "no cgroup of the instance is left"
kill "$HOLD" 2>/dev/null; wait "$HOLD" 2>/dev/null; HOLD=
done_testing
