#!/bin/bash
# The attack suite: what a hostile sandbox tries, and must fail to break
# out of.  Resource exhaustion (fork bomb, memory bomb, disk and inode fill,
# an output flood, 10k orphaned zombies, a daemon that outlives its exec's
# timeout) stays inside the sandbox's limits while the host, the API and a
# neighbour stay responsive; the kernel attack surface (nested user
# namespaces, the seccomp deny list, socket families beyond unix, IP and
# rtnetlink, foreign ABIs, TIOCSTI, /proc and /sys knobs, setuid binaries,
# capabilities) is closed, every seccomp rule with the high 32 bits of its
# argument set too; nothing of the host (its paths, nginx, the FastCGI
# socket, abstract sockets) is reachable; two sandboxes share no /dev/shm,
# SysV IPC, uid or process.
# Deterministic: bounded polls for conditions, no sleeps as synchronisation.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
cg_need pids memory
sbd_start

PIDS_CG=$(cg_dir pids)
MAXT=(--max-time 120)	# no request of ours may hang the test

# run ID COMMAND [TIMEOUT_MS]: exec; sets STATUS BODY OUT ERR RC.
run() {
	local id=$1 cmd=$2 tmo=${3-}
	api POST "/sandboxes/$id/exec" "$(jq -cn --arg c "$cmd" --arg t "$tmo" \
		'{command: $c} + (if $t == "" then {} else {timeout: ($t | tonumber)} end)')" "${MAXT[@]}"
	OUT=$(jqr .data.stdout)
	ERR=$(jqr .data.stderr)
	RC=$(jqr .data.exitCode)
}
# compile ID NAME: compile the C source on stdin inside the sandbox, as
# /workspace/bin/NAME, with the sandbox's own gcc (the host's /usr).
compile() {
	local id=$1 name=$2 src
	src=$(cat)
	run "$id" "mkdir -p /workspace/src /workspace/bin && cat > /workspace/src/$name.c <<'__SRC_EOF__'
$src
__SRC_EOF__
gcc -O1 -Wall -o /workspace/bin/$name /workspace/src/$name.c && echo compiled" 120000
	[ "$OUT" = compiled ] || diag "compile $name in $id: $ERR"
	is "$OUT" compiled "$name.c compiles inside $id with the sandbox's gcc"
}
words() { tr -s ' \n' '\n\n' | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//'; }
# state letters of the host processes of a sandbox, sorted and counted
host_states() {
	local p
	for p in $(sandbox_pids "$1"); do awk '/^State:/{print $2}' "/proc/$p/status" 2>/dev/null; done |
		sort | uniq -c | sed 's/^ *//' | tr '\n' ' ' | sed 's/ $//'
}

NB=neighbour
api POST /sandboxes/$NB "" "${MAXT[@]}"
is "$STATUS" 200 "create the neighbour sandbox $NB"

# --- fork bomb --------------------------------------------------------------------
# Every process forks forever and retries when fork fails: the bomb keeps
# the sandbox at its pids limit until the exec's timeout kills the tree.

ID=forkbomb
api POST /sandboxes/$ID '{"limits":{"pids":64}}' "${MAXT[@]}"
is "$STATUS" 200 "create $ID with limits.pids 64"
is "$(cat $PIDS_CG/$ID/pids.max 2>/dev/null)" 64 "its pids.max on the host is 64"
INIT=$(init_of $ID)
BOMB='import os
while True:
    try:
        os.fork()
    except OSError:
        pass'
curl -s --max-time 120 -o "$T_DIR/bomb.body" -X POST -H 'Content-Type: application/json' \
	--data-binary "$(jq -cn --arg c "python3 -c '$BOMB'" '{command: $c, timeout: 15000}')" \
	"$BASE/sandboxes/$ID/exec" &
BOMB_CURL=$!
HIT=
for _ in $(seq 1 1200); do
	# pids.events counts the forks the limit refused
	HIT=$(awk '$1 == "max" {print $2}' $PIDS_CG/$ID/pids.events 2>/dev/null)
	[ "${HIT:-0}" -gt 100 ] && break
	sleep 0.05
done
ok $([ "${HIT:-0}" -gt 100 ]; echo $?) "the bomb runs into the pids limit (pids.events max = $HIT refused forks)"
CUR=$(cat $PIDS_CG/$ID/pids.current 2>/dev/null)
ok $([ "${CUR:-999}" -le 64 ]; echo $?) "the sandbox holds at most 64 processes (pids.current $CUR)"
# meanwhile: the host, the API, a neighbour
( : ) && /bin/true
ok $? "the host still forks and execs"
api GET /sandboxes/$NB "" "${MAXT[@]}"
is "$STATUS" 200 "during the bomb, GET of another sandbox answers 200"
run $NB 'echo still-here'
is "$OUT" still-here "during the bomb, the neighbour runs echo"
api POST /sandboxes/new-during-bomb "" "${MAXT[@]}"
is "$STATUS" 200 "during the bomb, a new sandbox can be created"
kill -0 $BOMB_CURL 2>/dev/null
ok $? "the bomb was still running during these checks (its exec has not ended)"
wait $BOMB_CURL
BODY=$(cat "$T_DIR/bomb.body")
is "$(jqr .data.timedOut)" true "the bomb's exec ends at its timeout: timedOut true"
is "$(jqr .data.exitCode)" 137 "and exitCode 137"
for _ in $(seq 1 1200); do
	[ "$(cat $PIDS_CG/$ID/pids.current 2>/dev/null)" = 1 ] && break
	sleep 0.05
done
is "$(cat $PIDS_CG/$ID/pids.current 2>/dev/null)" 1 "after the timeout only the init is left (pids.current 1)"
is "$(init_of $ID)" "$INIT" "the sandbox's init survived the bomb (host pid $INIT)"
api DELETE /sandboxes/$ID "" "${MAXT[@]}"
is "$STATUS" 200 "DELETE of the bombed sandbox answers 200"
run $ID 'echo recovered; ps -e -o comm= | wc -l'
is "$(printf '%s\n' "$OUT" | head -n 1)" recovered "after DELETE, the sandbox runs commands again"
ok $([ "$(printf '%s\n' "$OUT" | tail -n 1)" -le 4 ]; echo $?) "and holds only init, sh, ps and wc"

# --- memory bomb ---------------------------------------------------------------------

ID=membomb
api POST /sandboxes/$ID '{"limits":{"memoryMb":64}}' "${MAXT[@]}"
is "$STATUS" 200 "create $ID with limits.memoryMb 64"
INIT=$(init_of $ID)
run $ID 'python3 -c "b = bytearray(256 * 1024 * 1024); print(len(b))"' 60000
is "$STATUS" 200 "a 256 MB bytearray in 64 MB: exec answers 200"
is "$(jqr .data.oomKilled)" true "oomKilled is true"
is "$RC" 137 "exitCode is 137 (SIGKILL by the OOM killer)"
is "$(jqr .data.timedOut)" false "it did not time out"
unlike "$OUT" '268435456' "the allocation never succeeded"
api GET /sandboxes/$ID "" "${MAXT[@]}"
is "$STATUS" 200 "GET of the OOM-killed sandbox answers 200"
OOMS=$(jqr .data.usage.oomKills)
ok $([ "${OOMS:-0}" -ge 1 ] 2>/dev/null; echo $?) "usage.oomKills >= 1 (got $OOMS)"
PEAK=$(jqr .data.usage.memoryPeakBytes)
ok $([ "${PEAK:-999999999}" -le $((64 << 20)) ] 2>/dev/null; echo $?) "usage.memoryPeakBytes <= 64 MiB (got $PEAK)"
is "$(init_of $ID)" "$INIT" "the OOM killer took the bomb, not the sandbox's init"
run $ID 'echo alive'
is "$OUT" alive "the OOM-killed sandbox runs the next command"
is "$(jqr .data.oomKilled)" false "and that exec is not reported oomKilled"
run $NB 'python3 -c "b = bytearray(128 * 1024 * 1024); print(len(b))"' 60000
is "$OUT" 134217728 "the neighbour (default memory limit) still allocates 128 MB"
api GET /sandboxes/$NB "" "${MAXT[@]}"
is "$STATUS" 200 "the service answers GET after the OOM"

# --- disk and inode fill ------------------------------------------------------------------

ID=diskfill
api POST /sandboxes/$ID '{"limits":{"diskMb":32}}' "${MAXT[@]}"
is "$STATUS" 200 "create $ID with limits.diskMb 32"
run $ID 'fallocate -l 64M /workspace/big; echo "rc=$?"'
is "$OUT" rc=1 "fallocate -l 64M in a 32 MB sandbox fails"
like "$ERR" 'No space left on device' "with ENOSPC ($ERR)"
run $ID 'rm -f /workspace/big; head -c 40000000 /dev/zero > /workspace/big; echo "rc=$?"'
is "$OUT" rc=1 "writing 40 MB with head fails too"
like "$ERR" 'No space left on device' "with ENOSPC"
run $NB 'head -c 8388608 /dev/zero > /workspace/w8 && stat -c %s /workspace/w8'
is "$OUT" 8388608 "meanwhile another sandbox still writes 8 MiB"
run $ID 'rm -f /workspace/big && head -c 1048576 /dev/zero > /workspace/small && stat -c %s /workspace/small'
is "$OUT" 1048576 "after rm the full sandbox writes again"
# inodes: many empty files until the file system has none left
run $ID 'python3 - <<"EOF"
import errno, os
os.makedirs("/workspace/inodes", exist_ok=True)
n = 0
try:
    while True:
        open("/workspace/inodes/%d" % n, "w").close()
        n += 1
except OSError as e:
    print("files=%d errno=%s" % (n, errno.errorcode[e.errno]))
EOF
echo "dfi=$(df -Pi /workspace | sed -n 2p)"
echo "dfk=$(df -Pk /workspace | sed -n 2p)"
touch /workspace/one-more 2>&1; mkdir /workspace/dir-more 2>&1' 60000
IFREE=$(printf '%s\n' "$OUT" | sed -n 's/^dfi=//p' | awk '{print $4}')
BFREE=$(printf '%s\n' "$OUT" | sed -n 's/^dfk=//p' | awk '{print $4}')
like "$OUT" 'files=[0-9]+ errno=ENOSPC' "creating empty files ends with ENOSPC"
is "$IFREE" 0 "with no inode left (df -i)"
ok $([ "${BFREE:-0}" -gt 1024 ]; echo $?) "while blocks are left ($BFREE kB free): the inode limit stopped it"
like "$OUT" "cannot touch '/workspace/one-more': No space left on device" "touch of one more file fails with ENOSPC"
like "$OUT" "cannot create directory .*No space left on device" "mkdir fails with ENOSPC"
api GET /sandboxes/$ID "" "${MAXT[@]}"
is "$(jqr '.data.usage.inodesUsed == .data.usage.inodesTotal')" true \
	"GET: usage.inodesUsed == inodesTotal ($(jqr .data.usage.inodesUsed))"
ok $([ "$(jqr .data.usage.diskTotalBytes)" -le $((32 << 20)) ] 2>/dev/null; echo $?) \
	"GET: usage.diskTotalBytes <= 32 MiB ($(jqr .data.usage.diskTotalBytes))"
run $NB 'mkdir -p /workspace/many && cd /workspace/many && for i in $(seq 1 200); do : > f$i || exit 1; done && ls | wc -l'
is "$OUT" 200 "meanwhile another sandbox still creates 200 files"
is "$(stat -c %s "$DATA/sandboxes/$ID/disk.img" 2>/dev/null)" 33554432 \
	"on the host, $ID's disk.img has an apparent size of exactly 32 MiB"
ALLOC=$(( $(stat -c '%b * %B' "$DATA/sandboxes/$ID/disk.img" 2>/dev/null || echo 0) ))
ok $([ "$ALLOC" -le $((33 << 20)) ]; echo $?) "and occupies no more than that on the host's disk ($ALLOC bytes)"
run $ID 'rm -rf /workspace/inodes && touch /workspace/after && echo ok'
is "$OUT" ok "after removing the files the sandbox creates files again"

# --- an output flood without a newline --------------------------------------------------------

# (api, not run: the NUL bytes stay JSON-escaped, never in a shell variable)
api POST /sandboxes/$NB/exec '{"command":"head -c 100000000 /dev/zero","timeout":120000}' "${MAXT[@]}"
is "$STATUS" 200 "100 MB of NUL bytes without a newline: exec answers 200"
is "$(jqr .data.truncated)" true "truncated is true"
is "$(jqr '.data.stdout | length')" 1048576 "stdout is exactly 1048576 bytes"
is "$(jqr .data.exitCode)" 0 "the flooding head was drained to its end and exited 0"
printf '%s' "$BODY" | jq -e . >/dev/null 2>&1
ok $? "the answer is valid JSON"
BIG=
for p in $(sbd_workers); do
	rss=$(awk '/^VmRSS:/{print $2}' /proc/$p/status)
	hwm=$(awk '/^VmHWM:/{print $2}' /proc/$p/status)
	diag "worker $p: VmRSS $rss kB, VmHWM $hwm kB"
	[ "${rss:-999999}" -lt 65536 ] || BIG="$BIG $p(rss=$rss)"
	[ "${hwm:-999999}" -lt 65536 ] || BIG="$BIG $p(hwm=$hwm)"
done
is "$BIG" "" "every worker's RSS, now and at its peak (VmHWM), is below 64 MB"

# --- 10k orphaned zombies ---------------------------------------------------------------------
# Each child forks a grandchild and exits; the grandchild waits until it is
# an orphan, then exits: its zombie is the sandbox's init's to reap.

ID=zombies
compile $ID orphans <<'EOF'
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int n = atoi(argv[1]), made = 0, fails = 0;

	while (made < n) {
		pid_t c = fork();
		int st;

		if (c < 0) {
			fails++;
			sched_yield();
			continue;
		}
		if (c == 0) {
			pid_t me = getpid(), g = fork();

			if (g == 0) {
				while (getppid() == me)	/* until reparented */
					sched_yield();
				_exit(0);
			}
			_exit(g < 0 ? 1 : 0);
		}
		if (waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			made++;
		else
			fails++;
	}
	printf("orphans=%d\n", made);
	return 0;
}
EOF
INIT=$(init_of $ID)
run $ID '/workspace/bin/orphans 10000' 120000
is "$OUT" orphans=10000 "10000 double-forked children exited as orphans"
ZS=
for _ in $(seq 1 50); do
	run $ID 'ps -e -o stat= | grep -c "^Z" || true'
	ZS=$OUT
	[ "$ZS" = 0 ] && break
done
is "$ZS" 0 "inside, no process in state Z remains (ps -e -o stat=)"
unlike "$(host_states $ID)" '[0-9]+ Z' "on the host, no zombie in the sandbox's cgroup ($(host_states $ID))"
is "$(init_of $ID)" "$INIT" "the init that reaped them is the same (host pid $INIT)"
run $ID 'echo fine'
is "$OUT" fine "and the sandbox still runs commands"

# --- a daemon that outlives its exec's timeout ------------------------------------------------------

run $ID 'setsid nohup sleep 1000 >/dev/null 2>&1 & sleep 30' 1000
is "$(jqr .data.timedOut)" true "'setsid nohup sleep 1000 & sleep 30' with timeout 1000: timedOut"
run $ID 'ps -e -o comm= | grep -c "^sleep$" || true'
is "$OUT" 0 "after the timeout no sleep remains inside, the setsid+nohup one neither"
HS=
for p in $(sandbox_pids $ID); do [ "$(cat /proc/$p/comm 2>/dev/null)" = sleep ] && HS="$HS $p"; done
is "$HS" "" "nor in the sandbox's cgroup on the host"

# --- nested user namespaces and the seccomp deny list --------------------------------------------

run $ID 'unshare -Ur true; echo "rc=$?"'
is "$OUT" rc=1 "unshare -Ur true fails"
like "$ERR" 'Operation not permitted' "with EPERM"
run $ID 'unshare -U true; echo "rc=$?"'
is "$OUT" rc=1 "unshare -U true fails"

compile $ID syscalls <<'EOF'
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/sched.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef AF_BLUETOOTH
#define AF_BLUETOOTH 31
#endif
#define NL_ROUTE 0		/* <linux/netlink.h> */
#define NL_SOCK_DIAG 4
#define NL_AUDIT 9
#define NL_KOBJECT_UEVENT 15
#define HI (1UL << 32)		/* bits the kernel drops from an int argument */

static void report(const char *name, long r)
{
	const char *e = strerrorname_np(errno);

	if (r == -1)
		printf("%s=%s\n", name, e ? e : "?");
	else
		printf("%s=OK\n", name);
}
#define T(name, ...) (errno = 0, report(name, syscall(__VA_ARGS__)))

/* a socket that is made is closed at once: only the answer counts */
static void sock(const char *name, unsigned long domain, unsigned long type, unsigned long protocol)
{
	long r;

	errno = 0;
	r = syscall(SYS_socket, domain, type, protocol);
	report(name, r);
	if (r >= 0)
		close((int)r);
}

static void pair(const char *name, unsigned long domain, unsigned long type)
{
	int sv[2];
	long r;

	errno = 0;
	r = syscall(SYS_socketpair, domain, type, 0UL, sv);
	report(name, r);
	if (r == 0) {
		close(sv[0]);
		close(sv[1]);
	}
}

/* a clone that goes through makes a child: it exits at once */
static long reaped(long r)
{
	if (r == 0)
		_exit(0);
	if (r > 0)
		waitpid(r, NULL, 0);
	return r > 0 ? 0 : r;
}

int main(void)
{
	struct clone_args ca;
	char c = 'x';
	long r;

	T("keyctl", SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0);
	T("add_key", SYS_add_key, "user", "sbd-test", "x", 1, -3);
	T("request_key", SYS_request_key, "user", "sbd-test", NULL, 0);
	T("bpf", SYS_bpf, 0, NULL, 0);
	T("perf_event_open", SYS_perf_event_open, NULL, 0, -1, -1, 0);
	T("userfaultfd", SYS_userfaultfd, 0);
	T("io_uring_setup", SYS_io_uring_setup, 1, NULL);
	T("io_uring_enter", SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0);
	T("io_uring_register", SYS_io_uring_register, -1, 0, NULL, 0);
	T("kexec_load", SYS_kexec_load, 0, 0, NULL, 0);
	T("kexec_file_load", SYS_kexec_file_load, -1, -1, 0, "", 0);
	T("init_module", SYS_init_module, NULL, 0, "");
	T("finit_module", SYS_finit_module, -1, "", 0);
	T("delete_module", SYS_delete_module, "sbd_no_such_module", 0);
	T("open_by_handle_at", SYS_open_by_handle_at, -1, NULL, 0);
	T("mount", SYS_mount, "none", "/mnt", "tmpfs", 0, NULL);
	T("umount2", SYS_umount2, "/proc/kallsyms", 2 /* MNT_DETACH */);
	T("setns", SYS_setns, -1, 0);
	T("pivot_root", SYS_pivot_root, "/mnt", "/mnt");
	T("unshare", SYS_unshare, CLONE_NEWUSER);
	T("unshare_hi", SYS_unshare, CLONE_NEWUSER | HI);
	errno = 0;
	r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
	report("clone", reaped(r));
	errno = 0;
	r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD | HI, NULL, NULL, NULL, NULL);
	report("clone_hi", reaped(r));
	memset(&ca, 0, sizeof ca);
	ca.exit_signal = SIGCHLD;
	errno = 0;
	r = syscall(SYS_clone3, &ca, sizeof ca);
	report("clone3", reaped(r));
	T("ioctl_tiocsti", SYS_ioctl, 0, TIOCSTI | (1UL << 32), &c);
	T("ioctl_tiocsti_low", SYS_ioctl, 0, TIOCSTI, &c);
	T("ioctl_tioclinux", SYS_ioctl, 0, TIOCLINUX | (1UL << 32), &c);
	/* socket and socketpair: the families a program needs, no other */
	sock("socket_vsock", AF_VSOCK, SOCK_STREAM, 0);
	sock("socket_vsock_hi", AF_VSOCK | HI, SOCK_STREAM, 0);
	sock("socket_uevent", AF_NETLINK, SOCK_DGRAM, NL_KOBJECT_UEVENT);
	sock("socket_uevent_hi", AF_NETLINK | HI, SOCK_DGRAM, NL_KOBJECT_UEVENT);
	sock("socket_uevent_proto_hi", AF_NETLINK, SOCK_DGRAM, NL_KOBJECT_UEVENT | HI);
	sock("socket_sock_diag", AF_NETLINK, SOCK_DGRAM, NL_SOCK_DIAG);
	sock("socket_audit", AF_NETLINK, SOCK_DGRAM, NL_AUDIT);
	sock("socket_packet", AF_PACKET, SOCK_RAW, 0);
	sock("socket_packet_hi", AF_PACKET | HI, SOCK_RAW, 0);
	sock("socket_alg", AF_ALG, SOCK_SEQPACKET, 0);
	sock("socket_alg_hi", AF_ALG | HI, SOCK_SEQPACKET, 0);
	sock("socket_bluetooth", AF_BLUETOOTH, SOCK_STREAM, 0);
	sock("socket_inet_hi", AF_INET | HI, SOCK_STREAM, 0);	/* fails closed */
	sock("socket_route_hi", AF_NETLINK, SOCK_DGRAM, NL_ROUTE | HI);
	/* the kernel turns (AF_INET, SOCK_PACKET) into AF_PACKET after the
	 * filter saw AF_INET; the type is an int whose low 4 bits are the type,
	 * the rest SOCK_NONBLOCK and SOCK_CLOEXEC */
	sock("socket_inet_packet", AF_INET, SOCK_PACKET, htons(ETH_P_ALL));
	sock("socket_inet_packet_hi", AF_INET | HI, SOCK_PACKET, htons(ETH_P_ALL));
	sock("socket_inet_packet_type_hi", AF_INET, SOCK_PACKET | HI, htons(ETH_P_ALL));
	sock("socket_inet_packet_flags", AF_INET, SOCK_PACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
	pair("socketpair_inet_packet", AF_INET, SOCK_PACKET);
	sock("socket_unix", AF_UNIX, SOCK_STREAM, 0);
	sock("socket_inet", AF_INET, SOCK_STREAM, 0);
	sock("socket_inet_dgram_flags", AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	sock("socket_inet6", AF_INET6, SOCK_DGRAM, 0);
	sock("socket_route", AF_NETLINK, SOCK_DGRAM, NL_ROUTE);
	pair("socketpair_vsock", AF_VSOCK, SOCK_STREAM);
	pair("socketpair_vsock_hi", AF_VSOCK | HI, SOCK_STREAM);
	pair("socketpair_alg_hi", AF_ALG | HI, SOCK_SEQPACKET);
	pair("socketpair_unix_hi", AF_UNIX | HI, SOCK_STREAM);	/* fails closed */
	pair("socketpair_unix", AF_UNIX, SOCK_STREAM);
	T("getpid", SYS_getpid);	/* the control: an allowed call */
	/* an unshare without CLONE_NEWUSER is up to the kernel, not the filter */
	return 0;
}
EOF
run $ID '/workspace/bin/syscalls'
is "$RC" 0 "the syscall prober ran to its end"
got() { printf '%s\n' "$OUT" | sed -n "s/^$1=//p"; }
for s in keyctl add_key request_key bpf perf_event_open userfaultfd io_uring_setup io_uring_enter \
	io_uring_register kexec_load kexec_file_load init_module finit_module delete_module \
	open_by_handle_at mount umount2 setns pivot_root; do
	is "$(got $s)" EPERM "$s is denied with EPERM"
done
is "$(got unshare)" EPERM "unshare(CLONE_NEWUSER) is denied with EPERM"
is "$(got unshare_hi)" EPERM "unshare(CLONE_NEWUSER | 1UL<<32) is denied with EPERM"
is "$(got clone)" EPERM "clone(CLONE_NEWUSER) is denied with EPERM"
is "$(got clone_hi)" EPERM "clone(CLONE_NEWUSER | 1UL<<32) is denied with EPERM (the kernel drops the high bits)"
is "$(got clone3)" ENOSYS "clone3 answers ENOSYS"
is "$(got ioctl_tiocsti)" EPERM "ioctl(0, TIOCSTI | 1UL<<32) is denied with EPERM (low 32 bits compared)"
is "$(got ioctl_tiocsti_low)" EPERM "ioctl(0, TIOCSTI) is denied with EPERM"
is "$(got ioctl_tioclinux)" EPERM "ioctl(0, TIOCLINUX | 1UL<<32) is denied with EPERM"
# every family but AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK/NETLINK_ROUTE is
# refused, whatever the high 32 bits of an argument hold (the kernel reads an
# int); a value with high bits set is refused even where its low bits name an
# allowed family: no program passes one
for s in socket_vsock socket_vsock_hi socket_uevent socket_uevent_hi socket_uevent_proto_hi \
	socket_sock_diag socket_audit socket_packet socket_packet_hi socket_alg socket_alg_hi \
	socket_bluetooth socket_inet_hi socket_route_hi \
	socket_inet_packet socket_inet_packet_hi socket_inet_packet_type_hi socket_inet_packet_flags \
	socketpair_inet_packet socketpair_vsock socketpair_vsock_hi socketpair_alg_hi socketpair_unix_hi; do
	is "$(got $s)" EAFNOSUPPORT "$s answers EAFNOSUPPORT"
done
for s in socket_unix socket_inet socket_inet_dgram_flags socket_route socketpair_unix; do
	is "$(got $s)" OK "$s still works"
done
# (a kernel booted with ipv6.disable=1 has no AF_INET6 anywhere)
if python3 -c 'import socket; socket.socket(socket.AF_INET6)' 2>/dev/null; then
	is "$(got socket_inet6)" OK "socket_inet6 still works"
else
	diag "(this host's kernel has no IPv6: socket_inet6 answered $(got socket_inet6))"
fi
is "$(got getpid)" OK "an allowed call (getpid) still works in the same program"

compile $ID abi <<'EOF'
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	long r;

	printf("before\n");
	fflush(stdout);
	if (argc > 1 && strcmp(argv[1], "x32") == 0)	/* x32 getpid: 39 | __X32_SYSCALL_BIT */
		__asm__ volatile("syscall" : "=a"(r) : "a"(0x40000000L | 39L) : "rcx", "r11", "memory");
	else						/* i386 getpid (20) by int 0x80 */
		__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
	printf("survived r=%ld\n", r);
	return 0;
}
EOF
run $ID '/workspace/bin/abi int80; echo "status=$?"'
is "$(printf '%s\n' "$OUT" | words)" "before status=159" "an i386 int \$0x80 syscall kills the process by SIGSYS (status 159)"
run $ID '/workspace/bin/abi x32; echo "status=$?"'
is "$(printf '%s\n' "$OUT" | words)" "before status=159" "an x32 syscall kills the process by SIGSYS (status 159)"

# --- /proc and /sys -----------------------------------------------------------------------------

# (masked by a /dev/null bind where the kernel has them; absent where not)
run $ID 'echo "kcore=$(head -c 64 /proc/kcore 2>/dev/null | wc -c)"
if echo h 2>/dev/null > /proc/sysrq-trigger; then stat -c "sysrq=wrote-to-%t:%T" /proc/sysrq-trigger; else echo sysrq=fail; fi'
is "$(printf '%s\n' "$OUT" | head -n 1)" kcore=0 "/proc/kcore reads nothing"
like "$(printf '%s\n' "$OUT" | tail -n 1)" '^sysrq=(fail|wrote-to-1:3)$' \
	"writing /proc/sysrq-trigger fails (or goes to a /dev/null mask)"
[ -e /proc/kcore ] || diag "(this host's kernel has no /proc/kcore)"
[ -e /proc/sysrq-trigger ] || diag "(this host's kernel has no /proc/sysrq-trigger)"
run $ID 'touch /sys/x; echo "rc=$?"'
is "$OUT" rc=1 "touch /sys/x fails"
like "$ERR" 'Read-only file system' "/sys is read-only"
# a knob written with its current value, so that a broken lock-down changes nothing;
# the kernel's own knobs are not in the sandbox's /sys at all (t/0024)
KNOB=
for k in /sys/kernel/mm/transparent_hugepage/enabled /sys/kernel/mm/transparent_hugepage/defrag /sys/kernel/profiling; do
	[ -e "$k" ] && { KNOB=$k; break; }
done
if [ -n "$KNOB" ]; then
	V=$(sed -n 's/.*\[\([a-z+]*\)\].*/\1/p' "$KNOB")
	V=${V:-$(cat "$KNOB")}
	run $ID "echo $V > $KNOB; echo \"rc=\$?\""
	is "$OUT" rc=2 "echo $V > $KNOB fails"
	like "$ERR" 'Read-only file system|Directory nonexistent' "(read-only file system, or no such knob inside)"
fi
# the knobs of what the sandbox's /sys does show: its lo, the CPUs
run $ID 'cat /sys/class/net/lo/tx_queue_len'
V=$OUT
run $ID "echo $V > /sys/class/net/lo/tx_queue_len; echo \"rc=\$?\""
is "$OUT" rc=2 "echo $V > /sys/class/net/lo/tx_queue_len fails"
like "$ERR" 'Read-only file system' "(read-only file system)"
if [ -e /sys/devices/system/cpu/cpu1/online ]; then
	run $ID 'echo 1 > /sys/devices/system/cpu/cpu1/online; echo "rc=$?"'
	is "$OUT" rc=2 "echo 1 > /sys/devices/system/cpu/cpu1/online fails"
	like "$ERR" 'Read-only file system' "(read-only file system)"
fi
run $ID 'echo 1 > /sys/fs/cgroup/pids.max 2>/dev/null; echo "rc=$?"; ls /sys/fs/cgroup 2>/dev/null | wc -l'
is "$(printf '%s\n' "$OUT" | head -n 1)" rc=2 "no cgroup knob is writable through /sys/fs/cgroup"

# --- host paths, nginx, the FastCGI socket ---------------------------------------------------------

run $ID 'cat /proc/self/mountinfo'
MI=$OUT
like "$MI" ' / / ' "mountinfo is readable inside (it has the root mount)"
for p in "$DATA" "$T_DIR" /tmp/sbd-t "$TOP_SRCDIR"; do
	ok $(printf '%s' "$MI" | grep -qF -- "$p"; [ $? -ne 0 ]; echo $?) "mountinfo inside shows no host path $p"
done
run $ID "curl -s -o /dev/null --max-time 10 http://127.0.0.1:$PORT/sandboxes/$ID; echo \"rc=\$?\""
like "$OUT" '^rc=[1-9]' "curl to the host's nginx at 127.0.0.1:$PORT fails ($OUT)"
run $ID "timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$PORT'; echo \"rc=\$?\""
like "$OUT" '^rc=[1-9]' "bash /dev/tcp to 127.0.0.1:$PORT fails"
run $ID "test -e '$DATA/run/fcgi.sock'; echo \"rc=\$?\"; python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.connect(\"$DATA/run/fcgi.sock\")' 2>&1 | tail -n 1"
is "$(printf '%s\n' "$OUT" | head -n 1)" rc=1 "the FastCGI socket path $DATA/run/fcgi.sock does not exist inside"
like "$(printf '%s\n' "$OUT" | tail -n 1)" 'FileNotFoundError' "connecting to it fails: no such file"
# abstract unix sockets are per network namespace: a host listener is unreachable
ABS=sbd-t-abstract-$$-$RANDOM
python3 -c "
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind('\0$ABS')
s.listen(1)
s.accept()
sys.exit(1)" &
ABS_PID=$!
for _ in $(seq 1 1200); do grep -q "@$ABS\$" /proc/net/unix && break; sleep 0.05; done
ok $(grep -q "@$ABS\$" /proc/net/unix; echo $?) "a host process listens on the abstract socket @$ABS"
run $ID "python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.connect(\"\\0$ABS\")' 2>&1 | tail -n 1"
like "$OUT" 'ConnectionRefusedError' "the sandbox cannot connect to the host's abstract socket"
kill -0 $ABS_PID 2>/dev/null
ok $? "and the host listener accepted nothing"
kill $ABS_PID 2>/dev/null
wait $ABS_PID 2>/dev/null

# --- two sandboxes share no /dev/shm, IPC, uid or process ---------------------------------------------

A=share-a
B=share-b
SHM=shm$RANDOM$RANDOM
run $A "echo $SHM > /dev/shm/$SHM && cat /dev/shm/$SHM"
is "$OUT" "$SHM" "A writes /dev/shm/$SHM"
run $B "test -e /dev/shm/$SHM; echo \"rc=\$?\"; ls -A /dev/shm | wc -l"
is "$(printf '%s\n' "$OUT" | words)" "0 rc=1" "B's /dev/shm is empty: no $SHM"
ok $([ ! -e /dev/shm/$SHM ]; echo $?) "nor is it in the host's /dev/shm"
run $A 'ipcmk -M 4096 >/dev/null && ipcmk -Q >/dev/null && ipcs -m | grep -c "^0x"; ipcs -q | grep -c "^0x"'
is "$(printf '%s\n' "$OUT" | words)" "1 1" "A makes a SysV shared memory segment and a message queue"
run $B 'ipcs -m | grep -c "^0x"; ipcs -q | grep -c "^0x"'
is "$(printf '%s\n' "$OUT" | words)" "0 0" "B sees no SysV segment or queue of A's"
run $A 'cat /proc/self/uid_map'
MAP_A=$(printf '%s' "$OUT" | awk '{print $2}')
run $B 'cat /proc/self/uid_map'
MAP_B=$(printf '%s' "$OUT" | awk '{print $2}')
like "$MAP_A $MAP_B" '^[0-9]+ [0-9]+$' "both sandboxes read their uid_map ($MAP_A, $MAP_B)"
ok $([ -n "$MAP_A" ] && [ -n "$MAP_B" ] && { [ $((MAP_A - MAP_B)) -ge 65536 ] || [ $((MAP_B - MAP_A)) -ge 65536 ]; }; echo $?) \
	"their uid ranges of 65536 ids do not overlap"
UA=$(awk '/^Uid:/{print $2}' /proc/$(init_of $A)/status 2>/dev/null)
UB=$(awk '/^Uid:/{print $2}' /proc/$(init_of $B)/status 2>/dev/null)
is "$UA $UB" "$MAP_A $MAP_B" "on the host their inits run as those distinct uids"
run $A 'setsid sleep 2718 >/dev/null 2>&1 </dev/null & echo $!'
INNER_A=$OUT
HS=
for p in $(sandbox_pids $A); do [ "$(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null)" = "sleep 2718 " ] && HS=$p; done
like "$HS" '^[0-9]+$' "A's detached sleep runs (pid $INNER_A inside, $HS on the host)"
run $B "pgrep -x sleep || echo none; kill -0 $HS 2>/dev/null; echo \"host-pid=\$?\""
is "$(printf '%s\n' "$OUT" | words)" "host-pid=1 none" "B can neither see A's sleep nor signal it by its host pid"
ok $([ "$(cat /proc/$HS/comm 2>/dev/null)" = sleep ]; echo $?) "A's sleep is still alive"

# --- setuid root gives no root ------------------------------------------------------------------------

compile $A euid <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	FILE *f = fopen(argv[1], "w");

	if (!f)
		return 1;
	fprintf(f, "uid=%d euid=%d\n", (int)getuid(), (int)geteuid());
	fclose(f);
	if (setuid(0) == 0)
		printf("setuid0=ok\n");
	else
		printf("setuid0=fail\n");
	fflush(stdout);
	if (argc > 2)
		for (;;)
			pause();	/* for the host to look at */
	return 0;
}
EOF
run $A 'cd /workspace/bin && chown 0:0 euid && chmod 4755 euid && stat -c "%a %u" euid'
is "$OUT" "4755 0" "the program is setuid, owned by the sandbox's root"
run $A 'setpriv --reuid 1000 --regid 1000 --clear-groups /workspace/bin/euid /tmp/euid.out; cat /tmp/euid.out'
is "$(printf '%s\n' "$OUT" | words)" "euid=1000 setuid0=fail uid=1000" \
	"run as uid 1000 it stays euid 1000 and cannot setuid(0)"
run $A 'setpriv --reuid 1000 --regid 1000 --clear-groups sh -c "grep -E \"^(NoNewPrivs|CapEff|CapPrm):\" /proc/self/status"'
is "$(printf '%s\n' "$OUT" | tr -s '\t ' ' ' | words)" "0000000000000000 0000000000000000 1 CapEff: CapPrm: NoNewPrivs:" \
	"uid 1000 inside holds no capability, with no_new_privs"
# kept running detached, for the host to see its ids
run $A 'setsid setpriv --reuid 1000 --regid 1000 --clear-groups /workspace/bin/euid /tmp/euid2.out wait >/dev/null 2>&1 </dev/null & for i in $(seq 1 2000); do test -s /tmp/euid2.out && break; sleep 0.01; done; cat /tmp/euid2.out'
is "$OUT" "uid=1000 euid=1000" "a detached run of it is euid 1000 too"
SU=
for p in $(sandbox_pids $A); do [ "$(cat /proc/$p/comm 2>/dev/null)" = euid ] && SU=$p; done
like "$SU" '^[0-9]+$' "the host finds it in A's cgroup (host pid $SU)"
is "$(awk '/^Uid:/{print $2, $3, $4, $5}' /proc/$SU/status 2>/dev/null)" \
	"$((MAP_A + 1000)) $((MAP_A + 1000)) $((MAP_A + 1000)) $((MAP_A + 1000))" \
	"on the host its real, effective, saved and fs uids are all $((MAP_A + 1000))"
ROOTS=
for p in $(find "$PIDS_CG" -mindepth 2 -name cgroup.procs -exec cat {} + 2>/dev/null); do
	for u in $(awk '/^Uid:/{print $2, $3, $4, $5}' /proc/$p/status 2>/dev/null); do
		[ "$u" -ge "$UID_BASE" ] || ROOTS="$ROOTS $p($(cat /proc/$p/comm 2>/dev/null):$u)"
	done
done
is "$ROOTS" "" "no process of any sandbox has uid 0 (or any uid below the sandboxes' window) on the host"

# --- capabilities of an exec'd process ------------------------------------------------------------------

run $B 'grep -E "^(CapBnd|CapEff|CapPrm|CapInh|CapAmb|NoNewPrivs|Seccomp):" /proc/self/status | tr -d "\t "'
is "$(printf '%s\n' "$OUT" | grep '^CapBnd:')" "CapBnd:00000000a80425fb" "CapBnd is Docker's default set, 00000000a80425fb"
is "$(printf '%s\n' "$OUT" | grep '^CapEff:')" "CapEff:00000000a80425fb" "CapEff is no more than that"
is "$(printf '%s\n' "$OUT" | grep -E '^Cap(Inh|Amb):' | words)" "CapAmb:0000000000000000 CapInh:0000000000000000" \
	"no inheritable or ambient capability"
is "$(printf '%s\n' "$OUT" | grep '^NoNewPrivs:')" "NoNewPrivs:1" "NoNewPrivs is 1"
is "$(printf '%s\n' "$OUT" | grep '^Seccomp:')" "Seccomp:2" "Seccomp is 2 (filter)"

api DELETE /sandboxes/$A "" "${MAXT[@]}"
is "$STATUS" 200 "DELETE A ends its detached processes"

done_testing
