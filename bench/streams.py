#!/usr/bin/env python3
"""Hold long-lived requests open against sandboxd through nginx, from one
process (a few hundred curls would cost more than the service under test).

    streams.py --base http://127.0.0.1:PORT --follow ID/PROC:N --exec ID:N

--follow ID/PROC:N opens N `GET /sandboxes/ID/processes/PROC/logs?stream=1`,
--exec ID:N opens N streamed execs (`sleep 3600`, stream: true); both may be
repeated.  Once every request has its answer's status line, it prints one
line, "open N statuses {CODE: COUNT,...}", and holds them until its stdin
closes (or --hold SEC pass), then closes them all and prints "closed".  A
request refused (its status is not 200) is counted and closed at once.
"""
import argparse, collections, json, select, socket, sys, time, urllib.parse


def request(host, port, method, path, body=None):
    s = socket.create_connection((host, port), timeout=60)
    head = "%s %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n" % (method, path, host, port)
    data = b""
    if body is not None:
        data = json.dumps(body).encode()
        head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(data)
    s.sendall((head + "\r\n").encode() + data)
    return s


def status_of(s, deadline):
    buf = b""
    while b"\r\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            return 0
        s.settimeout(left)
        try:
            chunk = s.recv(4096)
        except OSError:
            return 0
        if not chunk:
            return 0
        buf += chunk
    try:
        return int(buf.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--follow", action="append", default=[])
    ap.add_argument("--exec", action="append", default=[], dest="execs")
    ap.add_argument("--hold", type=float, default=0, help="seconds (0: until stdin closes)")
    ap.add_argument("--wait", type=float, default=60, help="seconds to wait for the status lines")
    a = ap.parse_args()
    u = urllib.parse.urlparse(a.base)
    host, port = u.hostname, u.port or 80
    socks = []
    for f in a.follow:
        where, n = f.rsplit(":", 1)
        sid, proc = where.split("/", 1)
        for _ in range(int(n)):
            socks.append(request(host, port, "GET", "/sandboxes/%s/processes/%s/logs?stream=1" % (sid, proc)))
    for e in a.execs:
        sid, n = e.rsplit(":", 1)
        for _ in range(int(n)):
            socks.append(request(host, port, "POST", "/sandboxes/%s/exec" % sid,
                                 {"command": "sleep 3600", "stream": True, "timeout": 600000}))
    deadline = time.monotonic() + a.wait
    codes = collections.Counter()
    held = []
    for s in socks:
        c = status_of(s, deadline)
        codes[c] += 1
        if c == 200:
            held.append(s)
        else:
            s.close()
    print("open %d statuses %s" % (len(held), json.dumps(dict(sorted(codes.items())))), flush=True)
    end = time.monotonic() + a.hold if a.hold else None
    # drain what the streams send (heartbeats) so no buffer fills; stop
    # when stdin closes or the hold is over
    while True:
        left = None if end is None else end - time.monotonic()
        if left is not None and left <= 0:
            break
        watch = held + ([] if end is not None else [sys.stdin])
        r, _, _ = select.select(watch, [], [], 1.0 if left is None else min(left, 1.0))
        if sys.stdin in r and not sys.stdin.buffer.read1(4096):
            break
        for s in r:
            if s is sys.stdin:
                continue
            try:
                if not s.recv(65536):
                    held.remove(s)
                    s.close()
            except OSError:
                held.remove(s)
                s.close()
    for s in held:
        s.close()
    print("closed", flush=True)


if __name__ == "__main__":
    main()
