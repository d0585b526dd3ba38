#!/bin/bash
# Outside review (rev19-b) of this session's merges (e7962d9..cfafa61),
# attacked from their claims.  Each section names the claim; a failing
# assertion is a defect of that claim.
#  1. the sandbox's user namespace owned by its base host uid
#  2. the control socket bound ahead (DATA/sandboxes/.ctl-PID/ctl)
#  4. seccomp: Linux AIO ENOSYS (native), io_uring EPERM, other ABIs killed;
#     devpts max=256
#  6. JSON file/log answers encoded as written (http_reply_data_blobs):
#     byte-for-byte json-c's text of json_string_lossy(), Content-Length
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

T_WORKERS=3 sbd_start
H="$TOP_SRCDIR/t/rev19-b"
MASTER=$(cat "$T_DIR/sandboxd.pid")
F() { echo "/sandboxes/$1/files"; }
put_file() {	# put_file ID PATH LOCALFILE
	STATUS=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
		--data-binary @"$3" "$BASE$(F "$1")/$2")
}
run() {
	api POST "/sandboxes/$1/exec" "$(jq -cn --arg c "$2" '{command: $c, timeout: 60000}')" --max-time 90
	OUT=$(jqr .data.stdout)
}

api POST /sandboxes/ra '{}'
is "$STATUS" 200 "ra created"
api POST /sandboxes/rb '{}'
is "$STATUS" 200 "rb created"
run ra true
run rb true
put_file ra workspace/gen.py "$H/gen.py"
is "$STATUS" 200 "gen.py uploaded"
put_file rb workspace/gen.py "$H/gen.py"

# ==========================================================================
# 1. user namespace owner
# ==========================================================================
INIT=$(init_of ra)
ok $([ -n "$INIT" ]; echo $?) "ra's init ($INIT)"
BASE_UID=$(awk '$1 == 0 { print $2 }' "/proc/$INIT/uid_map")
OWNER=$(python3 -c '
import fcntl, os, struct, sys
fd = os.open("/proc/%s/ns/user" % sys.argv[1], os.O_RDONLY)
b = bytearray(4); fcntl.ioctl(fd, 0xb704, b); print(struct.unpack("I", bytes(b))[0])' "$INIT")
is "$OWNER" "$BASE_UID" "ra's user namespace is owned by its base uid"
# the launcher/init's parent on the host side: root again, and not dumpable
# (its /proc files stay root's)
host_base=0
for p in /proc/[0-9]*; do
	u=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "$p/status" 2>/dev/null) || continue
	case " $u " in *" $BASE_UID "*) ;; *) continue ;; esac
	# a process of the sandbox is in its pid namespace
	[ "$(readlink "$p/ns/pid")" = "$(readlink "/proc/$INIT/ns/pid_for_children" 2>/dev/null || readlink "/proc/$INIT/ns/pid")" ] && continue
	[ "$(readlink "$p/ns/user")" = "$(readlink "/proc/$INIT/ns/user")" ] && continue
	host_base=$((host_base + 1)); diag "a host process of the base uid: $p $(cat "$p/comm") $u"
done
is "$host_base" 0 "no process outside the sandbox runs as its base uid (the owner has every cap in it)"
LAUNCHER=$(awk '/^PPid:/ { print $2 }' "/proc/$INIT/status")
is "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$LAUNCHER/status")" "0 0 0 0" "the init's parent ($LAUNCHER, $(cat /proc/$LAUNCHER/comm)) runs as root again"
is "$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "/proc/$LAUNCHER/status")" "0 0 0 0" "... and as root's group"
# a host process of the base uid (none runs, above) would own the user
# namespace, but nothing else: the sandbox's other namespaces are owned by
# the host's user namespace (CAP_SYS_ADMIN there is needed to enter them)
NSX=$(python3 - "$INIT" "$BASE_UID" <<'PY'
import ctypes, os, sys
pid, base = sys.argv[1], int(sys.argv[2])
l = ctypes.CDLL(None, use_errno=True)
fds = {n: os.open("/proc/%s/ns/%s" % (pid, n), os.O_RDONLY) for n in ("user", "net", "mnt", "pid", "ipc", "uts")}
os.setgroups([]); os.setresgid(base, base, base); os.setresuid(base, base, base)
out = ["user:%d" % (0 if l.setns(fds["user"], 0) == 0 else ctypes.get_errno())]
for n in ("net", "mnt", "pid", "ipc", "uts"):
    out.append("%s:%d" % (n, 0 if l.setns(fds[n], 0) == 0 else ctypes.get_errno()))
print(" ".join(out))
PY
)
diag "a host process of the base uid, setns into ra's namespaces: $NSX"
is "${NSX#user:* }" "net:1 mnt:1 pid:1 ipc:1 uts:1" "a host process of the base uid enters none of ra's other namespaces (owned by the host's user namespace)"
# the sandbox itself gains nothing: a setns from inside stays refused
run ra 'python3 -c "
import ctypes, os
l = ctypes.CDLL(None, use_errno=True)
fd = os.open(\"/proc/self/ns/user\", os.O_RDONLY)
print(l.setns(fd, 0), ctypes.get_errno())"'
is "$OUT" "-1 1" "setns inside the sandbox: EPERM" || diag "$BODY"

# ==========================================================================
# 2. control socket bound ahead
# ==========================================================================
SBDIR="$DATA/sandboxes"
aheads=$(find "$SBDIR" -maxdepth 1 -name '.ctl-*' | wc -l)
diag "control sockets bound ahead: $aheads ($(ls -a "$SBDIR" | tr '\n' ' '))"
bad=0
for d in "$SBDIR"/.ctl-*; do
	[ -e "$d" ] || continue
	[ "$(stat -c '%a %u' "$d")" = "700 0" ] || { bad=$((bad + 1)); diag "$d: $(stat -c '%a %u' "$d")"; }
	[ ! -e "$d/ctl" ] || [ "$(stat -c '%a %u' "$d/ctl")" = "600 0" ] || { bad=$((bad + 1)); diag "$d/ctl: $(stat -c '%a %u' "$d/ctl")"; }
done
is "$bad" 0 "every .ctl-PID dir is root's 0700, its socket 0600"
api GET /sandboxes
unlike "$(jqr '[.data[]?, .data.sandboxes[]?] | map(.projectId? // .id? // .) | tostring')" '\.ctl' "the list shows no .ctl- entry"
for d in "$SBDIR"/.ctl-*; do
	[ -e "$d" ] || continue
	api GET "/sandboxes/$(basename "$d")"
	is "$STATUS" 400 "GET /sandboxes/$(basename "$d"): 400 (no such id)"
	api POST "/sandboxes/$(basename "$d")" '{}'
	is "$STATUS" 400 "POST /sandboxes/$(basename "$d"): 400"
	break
done
# the sandbox sees no socket bound ahead in its network namespace
run ra 'grep -c "\.ctl-" /proc/net/unix || true'
is "$OUT" 0 "no .ctl- name in the sandbox's /proc/net/unix"

# ==========================================================================
# 4. seccomp and devpts
# ==========================================================================
run ra 'python3 -c "
import ctypes, os
l = ctypes.CDLL(None, use_errno=True)
l.syscall.restype = ctypes.c_long
def sc(*a):
    r = l.syscall(*[ctypes.c_long(x) for x in a]); return (r, ctypes.get_errno())
ctx = ctypes.c_ulong(0)
print(sc(206, 32, ctypes.addressof(ctx))[1], sc(207, 0)[1], sc(209, 0, 1, 0)[1], sc(208, 0, 0, 0, 0, 0)[1], sc(210, 0, 0, 0)[1], sc(333, 0, 0, 0, 0, 0, 0)[1], sc(425, 1, 0)[1], sc(426, 0, 0, 0, 0, 0, 0)[1], sc(427, 0, 0, 0, 0)[1])"'
is "$OUT" "38 38 38 38 38 38 1 1 1" "io_setup/destroy/submit/getevents/cancel/pgetevents ENOSYS; io_uring_setup/enter/register EPERM"
# the x32 numbers of io_setup/io_submit: the ABI is killed, not answered
run ra 'python3 -c "
import ctypes
l = ctypes.CDLL(None, use_errno=True)
l.syscall.restype = ctypes.c_long
print(l.syscall(ctypes.c_long(0x40000000 | 543), 32, 0), ctypes.get_errno())"; echo rc=$?'
like "$OUT" 'rc=(159|137)' "x32 io_setup: the process is killed ($OUT)"
# i386 (int 0x80) io_setup (245) from a 64-bit process: killed
run ra 'python3 -c "
import ctypes, mmap
code = bytes([0xb8, 245, 0, 0, 0, 0x31, 0xdb, 0x31, 0xc9, 0xcd, 0x80, 0xc3])
m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
m.write(code)
f = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(m)))
print(f())"; echo rc=$?'
like "$OUT" 'rc=(159|137)' "i386 io_setup: the process is killed ($OUT)"
# ptys: at most 256 in ra, its neighbour still gets one meanwhile
run ra 'python3 -c "
import os, time, sys
n = 0; fds = []
try:
    while n < 400:
        fds += os.openpty(); n += 1
except OSError as e:
    err = e.errno
print(n, err)
sys.stdout.flush()
time.sleep(3)" & sleep 1.5; python3 -c "import os; os.openpty(); print(\"other ok\")" ; wait' 
diag "ra ptys: $OUT"
like "$OUT" '^25[0-6] 28' "ra's ptys end at max=256 (ENOSPC)"
run rb 'python3 -c "import os; os.openpty(); print(\"ok\")"'
is "$OUT" ok "rb still opens a pty"

# ==========================================================================
# 3. a stopped service child: every other file operation (t/0094 did the
#    writes, uploads, downloads, archives): ls -R, mkdir -p, rename,
#    delete -r, HEAD, a range: each answered inside 20 s, never a 500
# ==========================================================================
api POST /sandboxes/rc '{}'
is "$STATUS" 200 "rc created"
run rc 'mkdir -p /workspace/t && cd /workspace/t && for d in $(seq 1 40); do mkdir $d; for f in $(seq 1 50); do echo x > $d/$f; done; done; head -c 3000000 /dev/zero > /workspace/z.bin; echo made'
is "$OUT" made "rc's tree of 2000 files"
api POST /sandboxes/rc/processes "$(jq -cn --arg c '
while :; do
	read -r kids </proc/1/task/1/children
	for p in $kids; do
		read -r c <"/proc/$p/comm" || continue
		[ "$c" = sandbox-init ] && kill -STOP "$p" || continue
	done
done' '{command: $c, processId: "stopper"}')"
is "$STATUS" 200 "rc's stopper started"
sleep 1
ST3=
for i in 1 2 3 4 5 6; do
	ST3="$ST3 ls:$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$BASE/sandboxes/rc/ls?path=/workspace/t&recursive=1")"
	ST3="$ST3 mkdir:$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -X POST -H 'Content-Type: application/json' -d "{\"path\":\"/workspace/m$i/a/b\",\"recursive\":true}" "$BASE/sandboxes/rc/mkdir")"
	ST3="$ST3 mv:$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -X POST -H 'Content-Type: application/json' -d "{\"from\":\"/workspace/t/$i\",\"to\":\"/workspace/t/r$i\"}" "$BASE/sandboxes/rc/rename")"
	ST3="$ST3 rm:$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -X DELETE "$BASE$(F rc)/workspace/t/$((i + 10))?recursive=1")"
	ST3="$ST3 head:$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -I "$BASE$(F rc)/workspace/z.bin")"
	ST3="$ST3 range:$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -r 1000-2999999 "$BASE$(F rc)/workspace/z.bin")"
	ST3="$ST3 json:$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$BASE$(F rc)/workspace/z.bin")"
done
diag "answers with the stopper:$ST3"
unlike "$ST3" ':(000|5[0-9][0-9])' "every file operation whose child was stopped is answered inside 20 s, never a 5xx"
like "$ST3" ':409' "the stopper caught some (409)"
api DELETE /sandboxes/rc/processes/stopper
run rc 'grep -l "^State:.*T (stopped)" /proc/[0-9]*/status 2>/dev/null | wc -l'
is "$OUT" 0 "no stopped process is left in rc"

# ==========================================================================
# 6. JSON answers encoded as written
# ==========================================================================
# process logs: json_string_lossy() then json-c, byte for byte; 64 KiB
# chunk edges crossed many times (escapes change the output's offsets)
bad=0
for seed in 1 2 3; do
	size=$((200000 + seed * 12345))
	api POST /sandboxes/ra/processes "$(jq -cn --arg c "python3 /workspace/gen.py $seed $size; python3 /workspace/gen.py $((seed + 10)) 70000 >&2" '{command: $c}')"
	PID=$(jqr '.data.id // .data.processId')
	for _ in $(seq 1 200); do
		api GET /sandboxes/ra/processes
		[ "$(jqr "[(.data | if type == \"array\" then . else .processes end)[]? | select(.id == \"$PID\")][0].status")" = running ] || break
		sleep 0.1
	done
	curl -s -D "$T_DIR/h" -o "$T_DIR/log.json" "$BASE/sandboxes/ra/processes/$PID/logs"
	len=$(tr -d '\r' <"$T_DIR/h" | awk -F': ' 'tolower($1) == "content-length" { print $2 }')
	[ "$len" = "$(stat -c %s "$T_DIR/log.json")" ] || { bad=$((bad + 1)); diag "seed $seed: Content-Length $len, body $(stat -c %s "$T_DIR/log.json")"; }
	python3 "$H/gen.py" "$seed" "$size" | python3 "$H/expect.py" >"$T_DIR/want.out"
	python3 "$H/gen.py" $((seed + 10)) 70000 | python3 "$H/expect.py" >"$T_DIR/want.err"
	for w in out err; do
		python3 - "$T_DIR/log.json" "$T_DIR/want.$w" "std$w" <<'PY' || { bad=$((bad + 1)); diag "seed $seed: std$w differs"; }
import sys
body = open(sys.argv[1], "rb").read(); want = open(sys.argv[2], "rb").read()
key = b'"' + sys.argv[3].encode() + b'":'
i = body.find(key)
if i < 0: print("# no", key); sys.exit(1)
got = body[i + len(key):i + len(key) + len(want)]
if got != want:
    k = next(j for j in range(len(want)) if j >= len(got) or got[j] != want[j])
    print("# first difference at byte %d of %d: got %r want %r" % (k, len(want), got[k-20:k+20], want[k-20:k+20]))
    sys.exit(1)
PY
	done
	jq -e . "$T_DIR/log.json" >/dev/null || { bad=$((bad + 1)); diag "seed $seed: not JSON"; }
done
is "$bad" 0 "process logs of invalid UTF-8, NUL, U+2028, surrogates, controls: json-c's text exactly, Content-Length exact"

# a file read as JSON: valid UTF-8 is the text as it is (U+2028, 4-byte
# sequences across 48/64 KiB edges), else base64 of the bytes
python3 - "$T_DIR/u.txt" "$T_DIR/b.bin" <<'PY'
import sys
s = ("a\u2028\u2029\U0001f600\u00e9\"\\/\t" * 30000)[:300001]
open(sys.argv[1], "w", encoding="utf-8").write(s)
open(sys.argv[2], "wb").write(bytes(range(256)) * 777 + b"\xf0\x9f")
PY
put_file ra workspace/u.txt "$T_DIR/u.txt"
put_file ra workspace/b.bin "$T_DIR/b.bin"
bad=0
curl -s -D "$T_DIR/h" -o "$T_DIR/f.json" "$BASE$(F ra)/workspace/u.txt"
len=$(tr -d '\r' <"$T_DIR/h" | awk -F': ' 'tolower($1) == "content-length" { print $2 }')
[ "$len" = "$(stat -c %s "$T_DIR/f.json")" ] || { bad=$((bad + 1)); diag "u.txt: Content-Length $len, body $(stat -c %s "$T_DIR/f.json")"; }
jq -j .data.content "$T_DIR/f.json" | cmp -s - "$T_DIR/u.txt" || { bad=$((bad + 1)); diag "u.txt content differs"; }
curl -s -D "$T_DIR/h" -o "$T_DIR/f.json" "$BASE$(F ra)/workspace/b.bin?encoding=base64"
len=$(tr -d '\r' <"$T_DIR/h" | awk -F': ' 'tolower($1) == "content-length" { print $2 }')
[ "$len" = "$(stat -c %s "$T_DIR/f.json")" ] || { bad=$((bad + 1)); diag "b.bin: Content-Length $len, body $(stat -c %s "$T_DIR/f.json")"; }
jq -r .data.content "$T_DIR/f.json" | base64 -d | cmp -s - "$T_DIR/b.bin" || { bad=$((bad + 1)); diag "b.bin content differs"; }
is "$bad" 0 "file reads as JSON (text, base64): content exact, Content-Length exact"

# a file of control characters (6 bytes each as JSON: 192 MiB for 32 MiB):
# its Content-Length exact; clients that hang up mid-answer leave the
# workers serving, and no 500
run ra 'head -c $((32 << 20)) /dev/zero | tr "\0" "\1" > /workspace/ctl.txt; echo ok'
is "$OUT" ok "a 32 MiB file of U+0001"
curl -s -D "$T_DIR/h" "$BASE$(F ra)/workspace/ctl.txt" | python3 -c '
import sys
n = 0; head = b""
while True:
    b = sys.stdin.buffer.read(1 << 20)
    if not b: break
    if n < 200: head += b[:200]
    n += len(b)
print(n)' >"$T_DIR/ctl.n"
len=$(tr -d '\r' <"$T_DIR/h" | awk -F': ' 'tolower($1) == "content-length" { print $2 }')
is "$(cat "$T_DIR/ctl.n")" "$len" "32 MiB of U+0001 as JSON: the body is its Content-Length ($len)"
CUT=
for i in 1 2 3 4 5 6; do
	curl -s -o /dev/null --max-time 1 --limit-rate 2M "$BASE$(F ra)/workspace/ctl.txt" &
	CUT="$CUT $!"
	curl -s -o /dev/null --max-time 1 "$BASE/sandboxes/ra/processes/$PID/logs" --limit-rate 100k &
	CUT="$CUT $!"
done
wait $CUT	# (a bare wait would wait for the service too)
sleep 1
api POST /sandboxes/ra/exec '{"command":"echo alive"}' --max-time 60
is "$(jqr .data.stdout)" alive "after 12 clients hung up mid-answer, the service answers"

done_testing
