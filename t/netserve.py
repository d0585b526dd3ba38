#!/usr/bin/env python3
"""The stand-in internet of the network tests (t/netlib.sh): one threaded
TCP server on every address of its namespace, on the ports given.

Each accepted connection is logged as "LOCAL_IP:PORT PEER_IP" to LOG
(flushed at once), so a test can tell that a refused connection never got
here. Port 25 answers an SMTP greeting; port 5001 discards what it reads,
port 5002 sends zeros until the client goes (throughput up and down); uPORT is a UDP port whose datagrams are logged as
"udp:PORT PEER_IP" (a spoofed source shows there); any other TCP port
speaks just enough HTTP:
  GET /ip     -> the peer's address (what NAT made of the sandbox's)
  GET /hold   -> a line every 100 ms until the client goes (open connections)
  anything    -> "hello"
usage: netserve.py LOG PORT...
"""
import socket
import sys
import threading
import time

log_lock = threading.Lock()


def log(path, line):
    with log_lock, open(path, "a") as f:
        f.write(line + "\n")


def http(conn, peer):
    req = b""
    while b"\r\n\r\n" not in req and len(req) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            return
        req += chunk
    target = req.split(b" ", 2)[1] if req.count(b" ") >= 2 else b"/"
    if target == b"/hold":
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n")
        n = 0
        while True:
            conn.sendall(b"tick %d\n" % n)
            n += 1
            time.sleep(0.1)
    body = peer.encode() + b"\n" if target == b"/ip" else b"hello\n"
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                 b"Connection: close\r\n\r\n%s" % (len(body), body))


def serve(conn, port, logpath):
    peer = conn.getpeername()[0]
    local = conn.getsockname()[0]
    log(logpath, "%s:%d %s" % (local, port, peer))
    try:
        if port == 25:
            conn.sendall(b"220 stand-in ESMTP\r\n")
        elif port == 5001:
            while conn.recv(1 << 20):
                pass
        elif port == 5002:
            buf = bytes(1 << 20)
            while True:
                conn.sendall(buf)
        else:
            http(conn, peer)
    except OSError:
        pass
    finally:
        conn.close()


def listen(port, logpath):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(128)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve, args=(conn, port, logpath), daemon=True).start()


def listen_udp(port, logpath):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    while True:
        _, (peer, _) = s.recvfrom(2048)
        log(logpath, "udp:%d %s" % (port, peer))


def main():
    logpath = sys.argv[1]
    for p in sys.argv[2:]:
        target = listen_udp if p.startswith("u") else listen
        threading.Thread(target=target, args=(int(p.lstrip("u")), logpath), daemon=True).start()
    time.sleep(0.2)
    log(logpath, "ready")
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
