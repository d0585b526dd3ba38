#!/usr/bin/env python3
import socket, sys, time, os
# connhold.py TAG N HOST PORT: connect N times, say how many connected and how
# many were refused, hold them until /tmp/release-TAG exists, then close
tag, n, host, port = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
held, refused = [], 0
for i in range(n):
    s = socket.socket()
    s.settimeout(10)
    try:
        s.connect((host, port))
        held.append(s)
    except ConnectionRefusedError:
        refused += 1
open("/tmp/hold-%s.out" % tag, "w").write("%d %d\n" % (len(held), refused))
while not os.path.exists("/tmp/release-%s" % tag):
    time.sleep(0.05)
for s in held:
    s.close()
open("/tmp/hold-%s.out" % tag, "a").write("closed\n")
time.sleep(3600)
