#!/bin/bash
# A reload (SIGHUP: the master SIGTERMs its old workers) cuts no transfer in
# progress: a raw upload, a large download and a buffered exec finish on
# their old worker, whole.  A stop used to reach a worker while it served a
# request: a socket read or write with a timeout (SO_RCVTIMEO of a raw
# upload's reads, SO_SNDTIMEO of every answer) is never restarted after a
# signal (signal(7)), libfcgi takes the EINTR for an error, and the review
# saw an upload answered 400 "request body shorter than its Content-Length"
# that left 2 MiB of it in the file, and a 100 MB download cut at 73 MB.
# And an upload that ends before its Content-Length (the client gone) is a
# 4xx that changes nothing: the file keeps its old bytes, no temporary is
# left (the child used to rename the short content over the file).
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

T_WORKERS=3 sbd_start
BG=
trap '[ -n "$BG" ] && kill $BG 2>/dev/null; sbd_cleanup' EXIT
MASTER=$(cat "$T_DIR/sandboxd.pid")
sha() { sha256sum | cut -d' ' -f1; }
# reloads N: N reloads, a second apart (a transfer in progress holds each
# one's "done": not waited for)
reloads() {
	for _ in $(seq 1 "$1"); do
		sleep 1
		kill -HUP "$MASTER"
	done
}
run() {
	api POST "/sandboxes/$1/exec" "$(jq -cn --arg c "$2" '{command: $c, timeout: 60000}')" --max-time 60
	OUT=$(jqr .data.stdout)
}

api POST /sandboxes/rt '{}'
is "$STATUS" 200 "a sandbox"
F=/sandboxes/rt/files

# --- a raw upload of 6 MiB at 1 MiB/s across 4 reloads ----------------------
head -c $((6 << 20)) /dev/urandom >"$T_DIR/up.bin"
UP_SHA=$(sha <"$T_DIR/up.bin")
curl -s -o "$T_DIR/up.out" -w '%{http_code}' --max-time 120 --limit-rate 1M -X PUT \
	-H 'Content-Type: application/octet-stream' -T "$T_DIR/up.bin" "$BASE$F/workspace/up.bin" \
	>"$T_DIR/up.status" &
BG=$!
reloads 4
wait "$BG"; BG=
is "$(cat "$T_DIR/up.status")" 200 "a slow raw upload across 4 reloads is answered 200" ||
	diag "body: $(head -c 300 "$T_DIR/up.out")"
run rt 'sha256sum /workspace/up.bin | cut -d" " -f1; ls -a /workspace | grep -c sandboxd-write'
is "$OUT" "$UP_SHA
0" "the uploaded file is the client's bytes, whole (sha256), and no temporary is left"

# --- a 96 MiB download at 16 MiB/s across 4 reloads --------------------------
# (nginx spools up to 64 MiB of an answer: past that the worker still sends
# when the reloads come)
run rt 'head -c 96M /dev/urandom >/workspace/down.bin && sha256sum /workspace/down.bin | cut -d" " -f1'
DOWN_SHA=$OUT
like "$DOWN_SHA" '^[0-9a-f]{64}$' "a 96 MiB file in the sandbox"
curl -s -o "$T_DIR/down.bin" -w '%{http_code} %{size_download}' --max-time 120 --limit-rate 16M \
	-H 'Accept: application/octet-stream' "$BASE$F/workspace/down.bin" >"$T_DIR/down.status" &
BG=$!
reloads 4
wait "$BG"; BG=
is "$(cat "$T_DIR/down.status")" "200 $((96 << 20))" "a download across 4 reloads has every byte"
is "$(sha <"$T_DIR/down.bin")" "$DOWN_SHA" "the download is the file (sha256)"
rm -f "$T_DIR/down.bin"

# --- a buffered exec across a reload ---------------------------------------
curl -s -o "$T_DIR/exec.out" -w '%{http_code}' --max-time 60 -X POST -H 'Content-Type: application/json' \
	--data-binary '{"command":"sleep 2; echo slept"}' "$BASE/sandboxes/rt/exec" >"$T_DIR/exec.status" &
BG=$!
wait_comm rt sleep
ok $? "the exec runs"
kill -HUP "$MASTER"
wait "$BG"; BG=
BODY=$(cat "$T_DIR/exec.out")
is "$(cat "$T_DIR/exec.status") $(jqr .data.exitCode) $(jqr .data.stdout)" "200 0 slept" \
	"a buffered exec across a reload: 200, exit 0, its output"

# every reload is done once the transfers ended
sbd_reload; ok $? "a reload is done after the transfers"

# --- a short upload over an existing file ----------------------------------
api PUT "$F/workspace/keep.bin" "" -H 'Content-Type: application/octet-stream' --data-binary 'the old content'
is "$STATUS" 200 "a file to keep"
# announce 2 MiB, send 1 MiB, close
python3 - "$BASE" <<'PY'
import socket, sys, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
s = socket.create_connection((u.hostname, u.port))
s.sendall(b"PUT /sandboxes/rt/files/workspace/keep.bin HTTP/1.1\r\nHost: localhost\r\n"
          b"Content-Type: application/octet-stream\r\nContent-Length: 2097152\r\n"
          b"Connection: close\r\n\r\n" + b"x" * (1 << 20))
time.sleep(0.5)
s.close()
PY
LOG_RE='method=PUT path=/sandboxes/rt/files/workspace/keep.bin .* status='
for _ in $(seq 1 200); do [ "$(grep -c "$LOG_RE" "$T_DIR/sandboxd.log")" -ge 2 ] && break; sleep 0.1; done
ST=$(grep "$LOG_RE" "$T_DIR/sandboxd.log" | tail -n 1 | sed 's/.* status=\([0-9]*\).*/\1/')
is "$ST" 400 "the short upload is logged a 400 (the client is gone: nobody sees it)"
api GET "$F/workspace/keep.bin" "" -H 'Accept: application/octet-stream'
is "$STATUS:$(printf %s "$BODY" | head -c 40)" "200:the old content" "the short upload left the file's old content"
run rt 'ls -a /workspace | grep -c sandboxd-write'
is "$OUT" 0 "no temporary is left"

# the same over a file that was not there: it stays absent
python3 - "$BASE" <<'PY'
import socket, sys, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
s = socket.create_connection((u.hostname, u.port))
s.sendall(b"PUT /sandboxes/rt/files/workspace/never.bin HTTP/1.1\r\nHost: localhost\r\n"
          b"Content-Type: application/octet-stream\r\nContent-Length: 65536\r\n"
          b"Connection: close\r\n\r\n" + b"x" * 1000)
time.sleep(0.5)
s.close()
PY
LOG_RE='method=PUT path=/sandboxes/rt/files/workspace/never.bin .* status='
for _ in $(seq 1 200); do grep -q "$LOG_RE" "$T_DIR/sandboxd.log" && break; sleep 0.1; done
is "$(grep "$LOG_RE" "$T_DIR/sandboxd.log" | sed 's/.* status=\([0-9]*\).*/\1/')" 400 \
	"a short upload of a new file is logged a 400"
api GET "$F/workspace/never.bin"
is "$STATUS" 404 "a short upload of a new file leaves no file"

# an archive cut inside a member: that member keeps what was there (its
# bytes are written under a temporary name, renamed at the last), and no
# temporary is left; the members before the cut stay.  nginx reads a
# JSON or archive body whole before it passes it on (only /files/ streams):
# sent on the FastCGI socket itself, as any process of its group may
mkdir -p "$T_DIR/arc/d"
printf 'small\n' >"$T_DIR/arc/d/a.txt"
head -c $((2 << 20)) /dev/urandom >"$T_DIR/arc/d/big.bin"
tar -C "$T_DIR/arc" -cf "$T_DIR/arc.tar" d
run rt 'mkdir -p /workspace/arc/d && echo "the old member" >/workspace/arc/d/big.bin && echo made'
is "$OUT" made "a file where the archive's large member goes"
python3 - "$DATA/run/fcgi.sock" "$T_DIR/arc.tar" <<'PY'
import socket, struct, sys, time
def rec(t, body):
    return struct.pack("!BBHHBx", 1, t, 1, len(body), 0) + body
def nv(n, v):
    return bytes([len(n), len(v)]) + n + v
tar = open(sys.argv[2], "rb").read()
uri = b"/sandboxes/rt/archive?path=/workspace/arc"
params = nv(b"REQUEST_METHOD", b"PUT") + nv(b"REQUEST_URI", uri) + \
         nv(b"DOCUMENT_URI", b"/sandboxes/rt/archive") + nv(b"QUERY_STRING", b"path=/workspace/arc") + \
         nv(b"CONTENT_TYPE", b"application/octet-stream") + \
         nv(b"CONTENT_LENGTH", str(len(tar)).encode()) + nv(b"REQUEST_ID", b"0084arc") + \
         nv(b"REMOTE_ADDR", b"127.0.0.1") + nv(b"SERVER_ADDR", b"127.0.0.1") + nv(b"HTTP_HOST", b"localhost") + \
         nv(b"SANDBOXD_HOST", b"localhost")
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(rec(1, struct.pack("!HB5x", 1, 0)) + rec(4, params) + rec(4, b""))
half = tar[:len(tar) // 2]
for i in range(0, len(half), 32768):
    s.sendall(rec(5, half[i:i + 32768]))
time.sleep(0.5)
s.close()
PY
LOG_RE='method=PUT path=/sandboxes/rt/archive .* status='
for _ in $(seq 1 200); do grep -q "$LOG_RE" "$T_DIR/sandboxd.log" && break; sleep 0.1; done
is "$(grep "$LOG_RE" "$T_DIR/sandboxd.log" | sed 's/.* status=\([0-9]*\).*/\1/')" 400 \
	"an archive upload cut short is logged a 400"
run rt 'cd /workspace/arc/d && { [ "$(cat big.bin)" = "the old member" ] && echo kept || echo changed; } 2>&1; ls -a | grep -c sandboxd-'
is "$OUT" "kept
0" "the member it was cut in keeps what was there, and no temporary is left"

api GET /healthz
is "$STATUS" 200 "the service answers"
done_testing
