#!/bin/bash
# The host-wide kernel pools a sandbox could empty for its neighbours and
# the host (t/0095 attacks them; this checks the bounds that answer it):
#  - Linux AIO (fs.aio-max-nr, one pool for the host): every call of it is
#    ENOSYS in a sandbox, as on a kernel without AIO; io_uring stays EPERM;
#  - ptys: each sandbox's devpts is mounted with max=256, and kernel.pty.max
#    leaves that many to every sandbox that may run, past the host's share;
#  - the open-file table: fs.file-max is raised to LONG_MAX, so a sandbox's
#    files are bounded by its memory cgroup (struct file is charged there):
#    measured here, a 64 MiB sandbox cannot hold the files a 1M table gives;
#  - the file API on a unix socket is 400 (as a FIFO), never 500;
#  - a JSON read (and a process's logs) of control characters is escaped as
#    it is written: the same JSON as before, byte for byte, and the worker
#    holds the file, not its escaped text.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

command -v python3 >/dev/null || skip_all "needs python3"
[ -x /usr/bin/python3 ] || skip_all "needs /usr/bin/python3 (the host image's /usr)"
cg_need memory pids
CONF=$(mktemp /tmp/sbd-0098.XXXXXX)
T_TRAP='sbd_cleanup; rm -f "$CONF"'
printf 'max-running = 6\n' >"$CONF"
sbd_start --config "$CONF"

put() {
	api PUT "/sandboxes/$1/files$2" "$(jq -cn --arg c "$3" '{content: $c}')"
	[ "$STATUS" = 200 ] || diag "put $1 $2: $STATUS $BODY"
}
run() {
	exec_in "$1" "$2"
	OUT=$(jqr .data.stdout)
}

api POST /sandboxes/pools ''
is "$STATUS" 200 "pools created"

# --- Linux AIO ----------------------------------------------------------------------
AIO_NR0=$(cat /proc/sys/fs/aio-nr)
put pools /workspace/aio.py '
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
ctx = ctypes.c_ulong(0)
out = []
# io_setup, io_destroy, io_getevents, io_submit, io_cancel, io_pgetevents; io_uring_setup
for name, nr, args in (("io_setup", 206, (1024, ctypes.byref(ctx))), ("io_destroy", 207, (0,)),
		       ("io_getevents", 208, (0, 0, 1, 0, 0)), ("io_submit", 209, (0, 0, 0)),
		       ("io_cancel", 210, (0, 0, 0)), ("io_pgetevents", 333, (0, 0, 1, 0, 0, 0)),
		       ("io_setup|1<<32", 206, ((1 << 32) | 8, ctypes.byref(ctx))),
		       ("io_uring_setup", 425, (8, 0))):
	r = libc.syscall(nr, *args)
	out.append("%s=%s" % (name, "ok" if r >= 0 else os.strerror(ctypes.get_errno())))
print(" ".join(out))
'
run pools 'python3 /workspace/aio.py'
N="Function not implemented"
is "$OUT" "io_setup=$N io_destroy=$N io_getevents=$N io_submit=$N io_cancel=$N io_pgetevents=$N io_setup|1<<32=$N io_uring_setup=Operation not permitted" \
	"Linux AIO is ENOSYS in a sandbox, every call of it and whatever the argument; io_uring EPERM"
is "$(cat /proc/sys/fs/aio-nr)" "$AIO_NR0" "the host's fs.aio-nr did not move ($AIO_NR0)"

# --- ptys ---------------------------------------------------------------------------
run pools 'grep " /dev/pts " /proc/self/mountinfo'
like "$OUT" '(^|,)max=256(,|$)' "the sandbox's devpts is mounted with max=256"
PTY_MAX=$(cat /proc/sys/kernel/pty/max)
PTY_RES=$(cat /proc/sys/kernel/pty/reserve)
ok $([ "$PTY_MAX" -ge $((PTY_RES + 3072 + 256 * 6)) ]; echo $?) \
	"kernel.pty.max ($PTY_MAX) leaves 256 ptys to each of --max-running 6 past the host's 3072 (reserve $PTY_RES)"
put pools /workspace/pty.py '
import os
fds, why = [], ""
while len(fds) < 1000:
    try:
        fds.append(os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY))
    except OSError as e:
        why = e.strerror
        break
print(len(fds), why)
'
run pools 'python3 /workspace/pty.py'
is "$OUT" "256 No space left on device" "a sandbox opens 256 ptys, then ENOSPC"

# a reload that lets more sandboxes run raises the pool for them
printf 'max-running = 300\n' >"$CONF"
sbd_reload
ok $? "reloaded with max-running 300"
PTY_MAX=$(cat /proc/sys/kernel/pty/max)
ok $([ "$PTY_MAX" -ge $((PTY_RES + 3072 + 256 * 300)) ]; echo $?) \
	"kernel.pty.max ($PTY_MAX) is raised at the reload for 300 sandboxes"

# --- the open-file table ------------------------------------------------------------
is "$(cat /proc/sys/fs/file-max)" 9223372036854775807 "fs.file-max is raised to LONG_MAX at start"
# struct file is charged to the sandbox's memory cgroup: a process of it
# that opens 19000 files grows the sandbox's slab by their size (~200 bytes
# each; uncharged, ~0).  Measured in one process, before and after it opens
# them: the noise of starting one (the init's page tables, caches freed
# late: up to ~1 MB under ASan) stays out of the figure
slab() {	# the kernel memory charged to the sandbox: v2 slab, v1 kmem
	local d
	d=$(cg_dir memory pools)
	if [ -e "$d/memory.kmem.usage_in_bytes" ]; then
		cat "$d/memory.kmem.usage_in_bytes"
	else
		awk '$1 == "slab" { print $2 }' "$d/memory.stat"
	fi
}
put pools /workspace/hold.py '
import os, sys, time
open("/workspace/held.0", "w").close()
while not os.path.exists("/workspace/go"):
    time.sleep(0.05)
fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(int(sys.argv[1]))]
open("/workspace/held." + sys.argv[1], "w").close()
time.sleep(600)
'
wait_held() {
	for _ in $(seq 1 200); do
		api GET "/sandboxes/pools/files/workspace/held.$1"
		[ "$STATUS" = 200 ] && return 0
		sleep 0.1
	done
	return 1
}
if [ -n "$(slab)" ]; then
	api POST /sandboxes/pools/processes '{"command":"exec python3 /workspace/hold.py 19000","processId":"h1"}'
	wait_held 0
	sleep 0.5
	S1=$(slab)
	put pools /workspace/go ''
	wait_held 19000
	S2=$(slab)
	PER=$(( (S2 - S1) / 19000 ))
	diag "kernel memory: $S1 (python, no files) -> $S2 (the same python, 19000 files): $PER bytes a file"
	ok $([ "$PER" -ge 100 ]; echo $?) "an open file is charged to the sandbox's memory cgroup ($PER bytes)"
	api DELETE /sandboxes/pools/processes/h1?signal=KILL
else
	ok 0 "# SKIP no kernel memory figure in this memory cgroup"
fi
api POST /sandboxes/files64 '{"limits":{"memoryMb":64}}'
is "$STATUS" 200 "files64 created with 64 MiB"
put files64 /workspace/files.py '
import os, resource, sys
s, h = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (h, h))
want = int(sys.argv[1])
hr, hw = os.pipe()
kids = []
while want > 0:
    n = min(want, h - 16)
    want -= n
    r, w = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        os.close(r)
        os.close(hw)
        got, why = 0, "held"
        try:
            while got < n:
                os.open("/dev/null", os.O_RDONLY)
                got += 1
        except OSError as e:
            why = e.strerror
        os.write(w, b"%d %s\n" % (got, why.encode()))
        os.read(hr, 1)
        os._exit(0)
    os.close(w)
    kids.append(r)
print([os.read(r, 64).decode().strip() for r in kids], flush=True)
'
exec_in files64 'python3 /workspace/files.py 1000000'
diag "a 64 MiB sandbox asked 1,000,000 open files: $STATUS, exit $(jqr .data.exitCode), oomKilled $(jqr .data.oomKilled), $(jqr .data.stdout | head -c 300)"
if [ "$STATUS" = 409 ] && ldd "$(dirname "$SANDBOXD")/sandboxd-init" 2>/dev/null | grep -q libasan; then
	# a sanitizer build's init (ASan's shadow memory) has the largest RSS
	# of the sandbox: the memory cgroup's OOM killer takes it, the sandbox
	# stops (409) -- the memory limit stopped it all the same
	ok 0 "its memory limit stops it (the OOM killer took the sanitizer build's init: $(jqr .error))"
else
	is "$(jqr .data.oomKilled)" true "its memory limit stops it (the OOM killer), not the host's file table (ENFILE)"
fi
unlike "$(jqr .data.stdout)" 'Too many open files in system' "no ENFILE anywhere"
HOSTOK=$(setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c 'open("/dev/null"); print("open ok")' 2>&1)
is "$HOSTOK" "open ok" "a host process (nobody) still opens a file"
run pools 'echo alive'
is "$OUT" alive "and a neighbour runs"

# --- a unix socket where the file API opens ---------------------------------------
run pools 'mkdir -p /workspace/d && echo hi >/workspace/d/f && mkfifo /workspace/d/fifo && echo made'
api POST /sandboxes/pools/processes \
	'{"command":"exec python3 -c \"import socket, time; s = socket.socket(socket.AF_UNIX); s.bind(\\\"/workspace/d/app.sock\\\"); s.listen(); open(\\\"/workspace/sockup\\\", \\\"w\\\").close(); time.sleep(600)\"","processId":"sock"}'
for _ in $(seq 1 600); do
	api GET /sandboxes/pools/files/workspace/sockup
	[ "$STATUS" = 200 ] && break
	sleep 0.1
done
api GET /sandboxes/pools/files/workspace/d/app.sock
is "$STATUS" 400 "a JSON read of a socket is 400 ($(jqr .error))"
api GET "/sandboxes/pools/files/workspace/d/fifo"
is "$STATUS" 400 "as a FIFO's"
api GET "/sandboxes/pools/files/workspace/d/app.sock?raw=1"
is "$STATUS" 400 "a raw read of it too"
api HEAD /sandboxes/pools/files/workspace/d/app.sock
is "$STATUS" 400 "a HEAD of it too"
api GET /sandboxes/pools/files/workspace/d/app.sock "" -H 'Range: bytes=0-1'
is "$STATUS" 400 "a ranged read of it too"
api PUT /sandboxes/pools/files/workspace/d/app.sock '{"content":"x"}'
is "$STATUS" 400 "a write over it is 400"
api GET '/sandboxes/pools/ls?path=/workspace/d'
is "$STATUS" 200 "the directory that holds it lists"
is "$(jqr '[.data.entries[] | select(.name == "app.sock") | .type] | join(",")')" other \
	"the socket is listed as other"
STATUS=$(curl -s -o "$T_DIR/d.tar" -w '%{http_code}' "$BASE/sandboxes/pools/archive?path=/workspace/d")
is "$STATUS" 200 "an archive of the directory is made"
is "$(tar -tf "$T_DIR/d.tar" 2>/dev/null | sort | tr '\n' ' ')" "f " "with the file, not the socket or the FIFO" ||
	diag "$(tar -tvf "$T_DIR/d.tar" 2>&1 | head)"
api DELETE /sandboxes/pools/processes/sock?signal=KILL

# --- JSON reads escaped as they are written ---------------------------------------
# every byte but NUL: ASCII with its control characters, quotes and
# backslashes, multi-byte UTF-8, and DEL
/usr/bin/python3 -c '
import sys
b = bytes(range(1, 128)) + "é€😀".encode() + b"\"\\/\x7f"
sys.stdout.buffer.write(b * 4000)' >"$T_DIR/ctl.txt"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
	--data-binary "@$T_DIR/ctl.txt" "$BASE/sandboxes/pools/files/workspace/ctl.txt")
is "$STATUS" 200 "a text file of control characters uploaded"
curl -s -D "$T_DIR/ctl.h" -o "$T_DIR/ctl.json" "$BASE/sandboxes/pools/files/workspace/ctl.txt"
CHECK=$(/usr/bin/python3 - "$T_DIR/ctl.json" "$T_DIR/ctl.txt" "$T_DIR/ctl.h" <<'EOF'
import json, sys
raw = open(sys.argv[1], "rb").read()
d = json.loads(raw)["data"]
want = open(sys.argv[2], "rb").read()
cl = [l.split(b":")[1].strip() for l in open(sys.argv[3], "rb").read().split(b"\r\n") if l.lower().startswith(b"content-length:")]
# json-c's own text of the same string: the answer as it was built whole
ref = json.dumps(want.decode(), ensure_ascii=False, separators=(",", ":"))
print(d["encoding"], d["isBinary"], d["size"] == len(want), d["content"].encode() == want,
      (cl[0].decode() if cl else "none") == str(len(raw)), ("\"content\":" + ref).encode() in raw)
EOF
)
is "$CHECK" "utf-8 False True True True True" \
	"its JSON read: utf-8, the same bytes back, Content-Length exact, escaped as json-c escapes"
api GET "/sandboxes/pools/files/workspace/ctl.txt?encoding=base64"
is "$(jqr .data.encoding)/$(jqr .data.content | base64 -d | cmp - "$T_DIR/ctl.txt" && echo same)" base64/same \
	"its base64 read decodes to the same bytes"
head -c 70000 /dev/urandom >"$T_DIR/bin"
curl -s -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$T_DIR/bin" \
	"$BASE/sandboxes/pools/files/workspace/bin"
api GET /sandboxes/pools/files/workspace/bin
is "$(jqr .data.encoding)/$(jqr .data.isBinary)/$(jqr .data.content | base64 -d | cmp - "$T_DIR/bin" && echo same)" \
	base64/true/same "a binary file reads as base64, the same bytes"
: >"$T_DIR/empty"
curl -s -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$T_DIR/empty" \
	"$BASE/sandboxes/pools/files/workspace/empty"
api GET /sandboxes/pools/files/workspace/empty
is "$(jqr '.data.content + "|" + .data.encoding + "|" + (.data.size|tostring)')" "|utf-8|0" "an empty file reads as an empty string"

# a process's logs: control characters and bytes that are not UTF-8 (U+FFFD)
api POST /sandboxes/pools/processes \
	'{"command":"printf \"a\\001b\\033[31mred\\033[0m\\n\\377\\376x\\\"q\\\\\\\\\"; printf \"e\\002\" >&2","processId":"ctl"}'
is "$STATUS" 200 "a process writes control characters and invalid UTF-8"
for _ in $(seq 1 600); do
	api GET /sandboxes/pools/processes/ctl
	[ "$(jqr .data.status)" != running ] && break
	sleep 0.1
done
api GET /sandboxes/pools/processes/ctl/logs
is "$STATUS" 200 "its logs are answered"
is "$(printf '%s' "$BODY" | jq -c '[.data.id, .data.stdout, .data.stderr]')" \
	'["ctl","a\u0001b\u001b[31mred\u001b[0m\n��x\"q\\","e\u0002"]' \
	"as before: escaped, invalid bytes as U+FFFD"

done_testing
