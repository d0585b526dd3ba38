#!/usr/bin/env python3
# t/0092-review-c.t's helper (root):
#   recycle PID SECONDS   a `sleep SECONDS` made with clone3(set_tid=PID):
#                         another process under a dead init's pid; prints it
#   inject WPID FD IFNAME SEQ  on the route socket fd FD of process WPID
#                         (pidfd_getfd: the same socket), an RTM_GETLINK of
#                         IFNAME with sequence SEQ, no ack: its answer waits
#                         on that socket, as one of an interrupted exchange
#   forge PORTID IFNAME RX TX  from a route socket of our own (CAP_NET_ADMIN
#                         in the namespace), a made-up RTM_NEWLINK of IFNAME
#                         with those byte counters, sequence 0, sent to the
#                         socket PORTID: no kernel's answer
import ctypes, os, struct, sys

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def recycle(pid, secs):
    tid = (ctypes.c_int * 1)(pid)
    # struct clone_args: flags pidfd child_tid parent_tid exit_signal stack
    # stack_size tls set_tid set_tid_size cgroup
    args = (ctypes.c_uint64 * 11)(0, 0, 0, 0, 17, 0, 0, 0, ctypes.addressof(tid), 1, 0)
    r = libc.syscall(435, ctypes.byref(args), ctypes.c_size_t(88))
    if r == 0:
        fd = os.open("/dev/null", os.O_RDWR)
        for i in (0, 1, 2):
            os.dup2(fd, i)
        os.setsid()
        os.execv("/bin/sleep", ["sleep", secs])
    if r < 0:
        sys.stderr.write("clone3: %s\n" % os.strerror(ctypes.get_errno()))
        sys.exit(1)
    print(r)


def inject(wpid, fd, ifname, seq):
    pfd = libc.syscall(434, wpid, 0)
    if pfd < 0:
        sys.exit("pidfd_open: " + os.strerror(ctypes.get_errno()))
    sfd = libc.syscall(438, pfd, fd, 0)
    if sfd < 0:
        sys.exit("pidfd_getfd: " + os.strerror(ctypes.get_errno()))
    name = ifname.encode() + b"\0"
    attr = struct.pack("=HH", 4 + len(name), 3) + name
    attr += b"\0" * (-len(attr) % 4)
    attr += struct.pack("=HHI", 8, 29, 0)	# IFLA_EXT_MASK 0
    body = struct.pack("=BxHiII", 0, 0, 0, 0, 0) + attr
    hdr = struct.pack("=IHHII", 16 + len(body), 18, 1, seq, 0)	# RTM_GETLINK, NLM_F_REQUEST
    os.write(sfd, hdr + body)
    os.close(sfd)
    os.close(pfd)


def forge(portid, ifname, rx, tx):
    import socket
    name = ifname.encode() + b"\0"
    attr = struct.pack("=HH", 4 + len(name), 3) + name
    attr += b"\0" * (-len(attr) % 4)
    stats = [0] * 32
    stats[2], stats[3] = rx, tx
    attr += struct.pack("=HH", 4 + 8 * 32, 23) + struct.pack("=32Q", *stats)	# IFLA_STATS64
    body = struct.pack("=BxHiII", 0, 1, 1, 0, 0) + attr
    hdr = struct.pack("=IHHII", 16 + len(body), 16, 0, 0, 0)	# RTM_NEWLINK, seq 0, pid 0
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    s.bind((0, 0))
    s.sendto(hdr + body, (portid, 0))
    s.close()


if sys.argv[1] == "forge":
    forge(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
elif sys.argv[1] == "recycle":
    recycle(int(sys.argv[2]), sys.argv[3])
elif sys.argv[1] == "inject":
    inject(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
