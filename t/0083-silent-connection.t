#!/bin/bash
# A connection to the FastCGI socket that sends nothing (or a request's
# first records and then nothing) holds the worker that took it inside
# libfcgi's FCGX_Accept_r(), reading the parameters, with the stop signals
# blocked (fcgi-app/accept.c: SA_RESTART, unblocked only in epoll_pwait).  The master's SIGTERM, said again at every tick, never
# reaches it: a reload is never done (any_old_serving), and a shutdown
# waits DRAIN_MS for its SIGKILL.  Who may connect: root and the socket's
# group (www-data by default, 0660): any process of the web server's user,
# not only nginx.  Before a028866 the SIGTERM broke that read (no
# SA_RESTART) and the worker left.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

T_WORKERS=3 sbd_start
HOLD=
trap '[ -n "$HOLD" ] && kill "$HOLD" 2>/dev/null; sbd_cleanup' EXIT
SOCK=$DATA/run/fcgi.sock
diag "socket: $(stat -c '%a %U:%G' "$SOCK")"

# a local client: connects, sends half a FastCGI request (BEGIN_REQUEST, no
# PARAMS), and waits
python3 - "$SOCK" "$T_DIR/connected" <<'PY' &
import socket, struct, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(struct.pack("!BBHHBx", 1, 1, 1, 8, 0) + struct.pack("!HB5x", 1, 0))
open(sys.argv[2], "w").write("connected\n")
time.sleep(600)
PY
HOLD=$!
# until it connected and a worker took it: the listening socket's queue is empty
for _ in $(seq 1 600); do
	q=$(ss -xlH "src $SOCK" 2>/dev/null | awk '{print $3}')
	[ -s "$T_DIR/connected" ] && [ "${q:-1}" = 0 ] && break
	sleep 0.1
done
diag "the silent connection's peer: $(ss -xpH 2>/dev/null | grep -F "$SOCK" | grep -v python | grep -o 'pid=[0-9]*' | sort -u | tr '\n' ' ')"
is "$q" 0 "a worker accepted the silent connection"

api GET /healthz
is "$STATUS" 200 "the other workers serve"

sbd_reload; ok $? "a reload is done while a local client holds a connection it sends nothing on"
api GET /healthz
is "$STATUS" 200 "the service answers after the reload"
W=$(sbd_workers | wc -w)
diag "workers after the reload: $W ($(sbd_workers))"
kill "$HOLD" 2>/dev/null; wait "$HOLD" 2>/dev/null; HOLD=
# (the first reload ends once its client left: said before the next one)
for _ in $(seq 1 600); do [ "$(grep -c 'reload: done' "$T_DIR/sandboxd.log")" -ge 1 ] && break; sleep 0.1; done

# The same after the answer: libfcgi's FCGX_Finish_r() shuts the socket's
# write side and reads what the client still sends until it is quiet for
# 2 s (OS_Close), with the stops blocked (its last write has a send timeout,
# never restarted).  A client that sent a byte a second after its answer
# kept the worker there for as long as it liked, and a reload waited: the
# close is bounded now (fcgi-app/accept.c, CLOSE_S), after the answer.
python3 - "$SOCK" "$T_DIR/dripped" <<'PY' &
import socket, struct, sys, time
def rec(t, body):
    return struct.pack("!BBHHBx", 1, t, 1, len(body), 0) + body
def nv(n, v):
    return bytes([len(n), len(v)]) + n + v
params = nv(b"REQUEST_METHOD", b"GET") + nv(b"REQUEST_URI", b"/healthz") + \
         nv(b"DOCUMENT_URI", b"/healthz") + nv(b"REQUEST_ID", b"0083drip")
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(rec(1, struct.pack("!HB5x", 1, 0)) + rec(4, params) + rec(4, b"") + rec(5, b""))
got = b""
while b"\x01\x03\x00\x01" not in got:	# FCGI_END_REQUEST
    d = s.recv(65536)
    if not d:
        break
    got += d
open(sys.argv[2], "w").write("answered\n")
for _ in range(600):
    try:
        s.send(b"x")
    except OSError:
        break
    time.sleep(1)
PY
HOLD=$!
for _ in $(seq 1 600); do [ -s "$T_DIR/dripped" ] && break; sleep 0.1; done
is "$(cat "$T_DIR/dripped" 2>/dev/null)" answered "the dripping client had its answer"
sbd_reload; ok $? "a reload is done while a client drips bytes after its answer"
api GET /healthz
is "$STATUS" 200 "the service answers after the reload"
kill "$HOLD" 2>/dev/null; wait "$HOLD" 2>/dev/null; HOLD=
done_testing
