#!/usr/bin/python3
# A stand-in dev server for the preview tests (t/0029), and the clients that
# talk to it through nginx.  Standard library only: it runs inside a sandbox
# on the host image's python3.
#
#   preview-stub.py serve ADDR PORT      GET /: JSON of the request as seen;
#                                        POST /echo: the body back;
#                                        GET /sse: an event at once, then more;
#                                        GET /ws: WebSocket echo (RFC 6455)
#   preview-stub.py sse ADDR PORT HOST PATH   print the first event's data
#   preview-stub.py ws ADDR PORT HOST PATH MSG   print the 101 and the echo
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    return buf


def ws_read(s):
    """One frame: (opcode, payload), unmasking a client's frame."""
    b0, b1 = recv_exact(s, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", recv_exact(s, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", recv_exact(s, 8))[0]
    mask = recv_exact(s, 4) if b1 & 0x80 else None
    data = recv_exact(s, n)
    if mask:
        data = bytes(c ^ mask[i % 4] for i, c in enumerate(data))
    return b0 & 0x0F, data


def ws_frame(opcode, data, masked):
    head = bytes([0x80 | opcode])
    n = len(data)
    mbit = 0x80 if masked else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + data
    mask = os.urandom(4)
    return head + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(data))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/sse"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            try:
                for i in range(600):
                    self.wfile.write(b"data: event %d\n\n" % i)
                    self.wfile.flush()
                    time.sleep(1)
            except OSError:
                pass
            self.close_connection = True
            return
        if self.path.startswith("/ws"):
            key = self.headers.get("Sec-WebSocket-Key", "")
            accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept", accept)
            self.end_headers()
            self.wfile.flush()
            s = self.connection
            try:
                while True:
                    op, data = ws_read(s)
                    if op == 8:
                        s.sendall(ws_frame(8, b"", False))
                        break
                    if op in (1, 2):
                        s.sendall(ws_frame(op, b"echo: " + data, False))
            except (EOFError, OSError):
                pass
            self.close_connection = True
            return
        if self.path.startswith("/rp"):
            # an app asking browsers to send its full URL everywhere
            body = b"<a href='https://elsewhere.example/'>out</a>\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Referrer-Policy", "unsafe-url")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        seen = {
            "path": self.path,
            "host": self.headers.get("Host"),
            "xForwardedHost": self.headers.get("X-Forwarded-Host"),
            "xForwardedProto": self.headers.get("X-Forwarded-Proto"),
            "xForwardedPrefix": self.headers.get("X-Forwarded-Prefix"),
            "peer": self.client_address[0],
            "local": self.connection.getsockname()[0],
        }
        self.reply(200, json.dumps(seen).encode() + b"\n")

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        self.reply(200, b"posted: " + body, "text/plain")


def serve(addr, port):
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer((addr, int(port)), Handler).serve_forever()


def connect(addr, port, host, path, extra=""):
    s = socket.create_connection((addr, int(port)), timeout=20)
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (path, host, extra)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            break
        head += chunk
    return s, head.decode("latin-1")


def sse(addr, port, host, path):
    s, head = connect(addr, port, host, path, "Accept: text/event-stream\r\n")
    print(head.split("\r\n")[0])
    buf = b""
    while b"\n\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    # a chunked body: the event is the line that starts with data:
    for line in buf.decode("latin-1").split("\n"):
        if line.startswith("data:"):
            print(line)
            break


def ws(addr, port, host, path, msg):
    key = base64.b64encode(os.urandom(16)).decode()
    s, head = connect(addr, port, host, path,
                      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                      "Sec-WebSocket-Key: %s\r\n" % key)
    print(head.split("\r\n")[0])
    if " 101 " not in head.split("\r\n")[0] + " ":
        return
    s.sendall(ws_frame(1, msg.encode(), True))
    op, data = ws_read(s)
    print(data.decode())
    s.sendall(ws_frame(8, b"", True))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "serve":
        serve(sys.argv[2], sys.argv[3])
    elif mode == "sse":
        sse(*sys.argv[2:6])
    elif mode == "ws":
        ws(*sys.argv[2:7])
    else:
        sys.exit("usage: preview-stub.py serve|sse|ws ...")
