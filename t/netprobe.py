#!/usr/bin/env python3
"""Probes the network policy tests (t/0032) run inside a sandbox or on the
test's host namespace.

  netprobe.py hold HOST LOG      GET /hold from the stand-in: a line a
                                 tenth of a second; log how many lines came
                                 and, when the connection breaks, "cut ..."
  netprobe.py burst HOST PORT N  N connects at once (0.8 s each): how many
                                 got through
  netprobe.py send HOST PORT MB  send MB megabytes, wait until the peer has
                                 read them all: "<bytes> <seconds>"
  netprobe.py sink PORT          accept one connection, read it to its end,
                                 close: what a sender to us measures
"""
import select
import socket
import sys
import time


def hold(host, logpath):
    s = socket.create_connection((host, 80), timeout=10)
    s.sendall(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
    s.settimeout(0.3)
    lines = 0
    with open(logpath, "a", buffering=1) as log:
        while True:
            try:
                data = s.recv(4096)
                if not data:
                    log.write("cut eof after %d\n" % lines)
                    return
                lines += data.count(b"\n")
                log.write("lines %d\n" % lines)
            except socket.timeout:
                pass
            except OSError as e:
                log.write("cut %s after %d\n" % (e.__class__.__name__, lines))
                return
            try:
                # our side speaks too: a packet of ours meets the policy
                s.send(b"x")
            except OSError as e:
                log.write("cut %s after %d\n" % (e.__class__.__name__, lines))
                return


def burst(host, port, n):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect((host, port))
        except BlockingIOError:
            pass
        socks.append(s)
    deadline = time.monotonic() + 0.8
    done = set()
    while time.monotonic() < deadline and len(done) < n:
        _, w, _ = select.select([], [s for s in socks if s not in done], [], 0.05)
        for s in w:
            done.add(s)
    good = sum(1 for s in done if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0)
    print(good)


def send(host, port, mb):
    s = socket.create_connection((host, port), timeout=60)
    chunk = b"x" * (1 << 16)
    total = mb << 20
    t0 = time.monotonic()
    sent = 0
    while sent < total:
        sent += s.send(chunk[: min(len(chunk), total - sent)])
    s.shutdown(socket.SHUT_WR)
    while s.recv(1 << 16):
        pass
    print(sent, "%.3f" % (time.monotonic() - t0))


def sink(port):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(1)
    print("listening", flush=True)
    conn, _ = srv.accept()
    while conn.recv(1 << 16):
        pass
    conn.close()


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "hold":
        hold(sys.argv[2], sys.argv[3])
    elif cmd == "burst":
        burst(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "send":
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "sink":
        sink(int(sys.argv[2]))
