#!/bin/bash
# Every sandbox's user namespace is owned by its own host base uid, not by
# host root.  The kernel charges a user namespace's per-user counts
# (inotify instances and watches, pending signals, mqueue bytes, nested
# namespaces...) up the chain to the uid that owns it, against the parent
# namespace's limits: owned by root, every sandbox shared root's budget with
# the others and with the host's own root processes (t/0095, section 4).
# Owned by its base uid, a sandbox spends its own, as an ordinary host user
# would.  Checked: the owner (NS_GET_OWNER_UID) of cold, warm and restarted
# sandboxes; what a sandbox sees of its namespace is as before (maps,
# setgroups, ids, capabilities, the idmapped image); its pending signals and
# inotify instances are counted to its base uid (a host process of that uid
# sees them) and to no other sandbox's or root's.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
[ -x /usr/bin/python3 ] || skip_all "needs /usr/bin/python3 (the host image's /usr)"
command -v setpriv >/dev/null || skip_all "needs setpriv (util-linux)"

CONF=$(mktemp /tmp/sbd-userns-conf.XXXXXX)
WARM=0
# warm sandboxes need cgroup v1 (t/0022)
[ "$(cg_version)" = 1 ] && WARM=1
printf 'warm-sandboxes = %s\nmax-running = 10\n' "$WARM" >"$CONF"
T_TRAP='sbd_cleanup; rm -f "$CONF"'
sbd_start --config "$CONF"

# owner_of PID: the host uid that owns PID's user namespace
owner_of() {
	/usr/bin/python3 -c '
import fcntl, os, struct, sys
fd = os.open("/proc/%s/ns/user" % sys.argv[1], os.O_RDONLY)
b = bytearray(4)
fcntl.ioctl(fd, 0xb704, b)	# NS_GET_OWNER_UID
print(struct.unpack("I", b)[0])' "$1" 2>&1
}
# base_of PID: the first host uid of PID's uid map
base_of() { awk '{print $2}' "/proc/$1/uid_map" 2>/dev/null; }
# as_uid UID CMD...: run CMD on the host (our namespaces) as UID, no groups
as_uid() { setpriv --reuid="$1" --regid="$1" --clear-groups -- "${@:2}"; }
# hog ID NAME COMMAND / unhog ID NAME: a background process of the sandbox
hog() {
	api POST "/sandboxes/$1/processes" "$(jq -cn --arg c "$3" --arg n "$2" '{command: $c, processId: $n}')"
	is "$STATUS" 200 "the background process $2 starts in $1"
}
unhog() { api DELETE "/sandboxes/$1/processes/$2?signal=KILL"; }
# wait_file ID PATH: until the sandbox has the file
wait_file() {
	for _ in $(seq 1 300); do
		api GET "/sandboxes/$1/files$2"
		[ "$STATUS" = 200 ] && return 0
		sleep 0.1
	done
	return 1
}

# --- the owner: the sandbox's own base uid, another for each sandbox --------------------------
if [ "$WARM" = 1 ]; then
	for _ in $(seq 1 300); do
		W=$(for d in "$DATA"/sandboxes/.w*; do [ -d "$d" ] && echo "${d##*/}"; done | head -n 1)
		[ -n "$W" ] && [ -n "$(init_of "$W")" ] && break
		sleep 0.1
	done
	WI=$(init_of "$W")
	ok $([ -n "$WI" ]; echo $?) "a warm sandbox runs ahead ($W, init $WI)"
	is "$(owner_of "$WI")" "$(base_of "$WI")" "the warm sandbox's user namespace is owned by its base uid"
fi

api POST /sandboxes/alpha
is "$STATUS" 200 "alpha created${WARM:+ (from a warm one when there is one)}"
api POST /sandboxes/beta '{"limits": {"memoryMb": 200}}'
is "$STATUS" 200 "beta created (cold: limits of its own)"
A_INIT=$(init_of alpha)
B_INIT=$(init_of beta)
A_BASE=$(base_of "$A_INIT")
B_BASE=$(base_of "$B_INIT")
A_OWNER=$(owner_of "$A_INIT")
B_OWNER=$(owner_of "$B_INIT")
diag "alpha: base $A_BASE, owner $A_OWNER; beta: base $B_BASE, owner $B_OWNER"
like "$A_BASE $B_BASE" '^[1-9][0-9]* [1-9][0-9]*$' "both have a non-zero host base uid"
is "$A_OWNER" "$A_BASE" "alpha's user namespace is owned by its own base uid, not host root"
is "$B_OWNER" "$B_BASE" "beta's by its own"
isnt "$A_OWNER" "$B_OWNER" "two sandboxes, two owners"

# host root still holds every capability over it (the init's setns and the
# image's idmapped mount need CAP_SYS_ADMIN there): it enters it, as root
if command -v nsenter >/dev/null; then
	is "$(nsenter --user --target "$A_INIT" sh -c 'id -u; cat /proc/self/uid_map' 2>&1 | awk '{print $1, $2}' | tr '\n' ' ')" \
		"0  0 $A_BASE " "host root enters alpha's user namespace and is its root there"
fi

# --- what the sandbox sees of its namespace is as before ---------------------------------
exec_in alpha 'cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; id -u; id -g; id -G
grep -E "^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):" /proc/self/status
stat -c "%u:%g" / /etc/passwd /workspace'
OUT=$(jqr .data.stdout)
is "$(printf '%s\n' "$OUT" | sed -n '1,2p' | awk '{print $1, $2, $3}' | sort -u)" "0 $A_BASE 65536" \
	"inside, uid_map and gid_map are 0 $A_BASE 65536"
is "$(printf '%s\n' "$OUT" | sed -n '3,6p' | tr '\n' ' ')" "allow 0 0 0 " "setgroups is allowed, the shell is 0:0 with no other group"
is "$(printf '%s\n' "$OUT" | awk '/^(Uid|Gid):/ {print $2 $3 $4 $5}' | tr '\n' ' ')" "0000 0000 " "its uids and gids are all 0"
CAPS=$(printf '%s\n' "$OUT" | awk '/^Cap/ {print $1 $2}' | tr '\n' ' ')
diag "alpha's shell: $CAPS"
ok $(printf '%s\n' "$OUT" | awk '/^CapEff:/ {e=$2} /^CapPrm:/ {p=$2} /^CapBnd:/ {b=$2} /^CapAmb:/ {a=$2}
	END {exit !(e == p && p == b && e != "0000000000000000" && a == "0000000000000000")}'; echo $?) \
	"its root holds its whole bounding set, effective and permitted, none ambient"
is "$(printf '%s\n' "$OUT" | awk '/^NoNewPrivs:/ {n=$2} /^Seccomp:/ {s=$2} END {print n, s}')" "1 2" \
	"no_new_privs and its seccomp filter"
is "$(printf '%s\n' "$OUT" | tail -n 3 | tr '\n' ' ')" "0:0 0:0 0:0 " \
	"the idmapped image's files and its own are its root's"
# the owner as the sandbox sees it: its own root (kuid base maps to 0
# inside), where it was the overflow uid (host root is not mapped)
exec_in alpha "python3 -c '
import fcntl, os, struct
b = bytearray(4)
fcntl.ioctl(os.open(\"/proc/self/ns/user\", os.O_RDONLY), 0xb704, b)
print(struct.unpack(\"I\", b)[0])'"
is "$(jqr .data.stdout)" 0 "inside, its user namespace's owner is its own root"

# on the host: the init runs as the sandbox's base uid, no host groups
is "$(awk '/^(Uid|Gid):/ {print $2, $3, $4, $5}' /proc/"$A_INIT"/status | tr '\n' ' ')" \
	"$A_BASE $A_BASE $A_BASE $A_BASE $A_BASE $A_BASE $A_BASE $A_BASE " \
	"on the host, alpha's init runs as $A_BASE:$A_BASE"
is "$(awk '/^Groups:/ {print $2}' /proc/"$A_INIT"/status)" "" "with no supplementary group"

# --- pending signals: counted to the sandbox's own uid, not to root's or a neighbour's -------
api PUT /sandboxes/alpha/files/workspace/sigq.py "$(jq -cn --rawfile c /dev/stdin '{content: $c}' <<'EOF'
import os, signal, sys, time
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGRTMIN])
for _ in range(int(sys.argv[1])):
    os.kill(os.getpid(), signal.SIGRTMIN)
print([l.split()[1] for l in open("/proc/self/status") if l.startswith("SigQ")][0], flush=True)
if len(sys.argv) > 2:
    open(sys.argv[2], "w").close()
    time.sleep(120)
EOF
)"
is "$STATUS" 200 "sigq.py written"
SIGQ='print([l.split()[1] for l in open("/proc/self/status") if l.startswith("SigQ")][0])'
hog alpha sigq 'exec python3 /workspace/sigq.py 37 /workspace/sigheld'
wait_file alpha /workspace/sigheld
ok $? "a process of alpha holds 37 queued signals"
A_SIGQ=$(as_uid "$A_BASE" /usr/bin/python3 -c "$SIGQ" 2>&1)
B_SIGQ=$(as_uid "$B_BASE" /usr/bin/python3 -c "$SIGQ" 2>&1)
unhog alpha sigq
like "$A_SIGQ" '^37/' "a host process of alpha's base uid counts them as its own (SigQ $A_SIGQ)"
like "$B_SIGQ" '^0/' "one of beta's base uid counts none of them (SigQ $B_SIGQ)"

# --- inotify instances: alpha's budget is the host's per-user one, and its own ---------------
MAXI=$(cat /proc/sys/fs/inotify/max_user_instances)
api PUT /sandboxes/alpha/files/workspace/inohog.py "$(jq -cn --rawfile c /dev/stdin '{content: $c}' <<'EOF'
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
n = 0
while n < 100000 and libc.inotify_init() >= 0:
    n += 1
print(n, os.strerror(ctypes.get_errno()), flush=True)
open("/workspace/inoheld", "w").close()
time.sleep(120)
EOF
)"
printf '%s\n' 'import ctypes, os' 'libc = ctypes.CDLL(None, use_errno=True)' \
	'print("inotify ok" if libc.inotify_init() >= 0 else "inotify_init: " + os.strerror(ctypes.get_errno()))' \
	>"$T_DIR/ino.py"
chmod 0644 "$T_DIR/ino.py"
hog alpha inohog 'exec python3 /workspace/inohog.py >/workspace/inohog.out 2>&1'
wait_file alpha /workspace/inoheld
ok $? "a process of alpha opens every inotify instance it can"
exec_in beta "python3 -c '$(cat "$T_DIR/ino.py")'"
B_INO=$(jqr .data.stdout)
AS_A_INO=$(as_uid "$A_BASE" /usr/bin/python3 "$T_DIR/ino.py" 2>&1)
AS_B_INO=$(as_uid "$B_BASE" /usr/bin/python3 "$T_DIR/ino.py" 2>&1)
ROOT_INO=$(/usr/bin/python3 "$T_DIR/ino.py" 2>&1)
api GET /sandboxes/alpha/files/workspace/inohog.out
HELD=$(jqr .data.content)
unhog alpha inohog
is "$HELD" "$MAXI Too many open files" "alpha's process opened fs.inotify.max_user_instances ($MAXI), all of its own budget"
is "$B_INO" "inotify ok" "beta still opens one"
is "$ROOT_INO" "inotify ok" "and so does the host's root"
is "$AS_B_INO" "inotify ok" "and a host process of beta's base uid"
is "$AS_A_INO" "inotify_init: Too many open files" "a host process of alpha's base uid is the one that shares alpha's budget"

# --- a restart of the service: the namespaces are made again, owned the same -------------
PID=$(cat "$T_DIR/sandboxd.pid")
kill -TERM "$PID"
for _ in $(seq 1 300); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
ok $(! kill -0 "$PID" 2>/dev/null; echo $?) "the service stops (and its sandboxes with it)"
rm -f "$DATA/run/fcgi.sock"
CGOPT=()
[ "$CG_ROOT" = /sys/fs/cgroup ] || CGOPT=(--cgroup-root "$CG_ROOT")
"$SANDBOXD" --data "$DATA" --instance "$INSTANCE" --workers "${T_WORKERS:-3}" --config "$CONF" \
	--uid-base "$UID_BASE" --uid-slots 64 --pidfile "$T_DIR/sandboxd.pid" "${CGOPT[@]}" >>"$T_DIR/sandboxd.log" 2>&1 &
for _ in $(seq 1 1200); do
	[ -S "$DATA/run/fcgi.sock" ] && curl -s -o /dev/null "$BASE/" && break
	sleep 0.05
done
exec_in alpha 'id -u'
is "$STATUS $(jqr .data.stdout)" "200 0" "after a restart of the service, alpha starts again on an exec"
A2_INIT=$(init_of alpha)
isnt "$A2_INIT" "$A_INIT" "with a new init ($A2_INIT)"
is "$(owner_of "$A2_INIT")" "$A_BASE" "whose user namespace is owned by alpha's base uid again"
is "$(base_of "$A2_INIT")" "$A_BASE" "and mapped as before"
if [ "$WARM" = 1 ]; then
	api POST /sandboxes/delta
	D_INIT=$(init_of delta)
	is "$(owner_of "$D_INIT")" "$(base_of "$D_INIT")" "delta, made after the restart (warm when one is ready), owned by its base uid"
fi

done_testing
