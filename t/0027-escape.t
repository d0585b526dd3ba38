#!/bin/bash
# Escapes that earlier tests caught only by chance, each checked on purpose:
#  - the old root after pivot_root: /.., /workspace/.., /proc/.., /proc/1/root
#    and friends all show the sandbox's own root, exactly one mount sits at
#    /, and a host canary file is unreachable by every such path;
#  - the /proc masks, table-driven from the sandbox's own mountinfo: every
#    masked path that exists on the host is a mask mount inside, every
#    read-only path a read-only mount; a path absent on the host is reported
#    as skipped, not passed;
#  - /sys: a read-only tmpfs holding clones of a fresh sysfs (the CPUs, the
#    network devices), what the allowlist leaves out absent; the mount
#    options of every sandbox mount; the host's /usr bound without an idmap
#    (host root's files are the overflow id's inside);
#  - the seccomp deny list, probed with arguments the kernel would accept:
#    the same prober runs on the host without the filter (as nobody), so a
#    call the kernel refuses by itself is told apart from one the filter
#    refuses (t/unit-seccomp checks the loaded program for every name).
# Deterministic: no sleeps, no timing.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
command -v gcc >/dev/null || skip_all "needs gcc (the syscall prober)"
sbd_start

MAXT=(--max-time 120)
skip() { T_N=$((T_N + 1)); echo "ok $T_N # SKIP $*"; }
run() {	# run ID COMMAND: sets OUT ERR RC
	api POST "/sandboxes/$1/exec" "$(jq -cn --arg c "$2" '{command: $c, timeout: 60000}')" "${MAXT[@]}"
	OUT=$(jqr .data.stdout)
	ERR=$(jqr .data.stderr)
	RC=$(jqr .data.exitCode)
}

ID=escape
api POST /sandboxes/$ID "" "${MAXT[@]}"
is "$STATUS" 200 "create $ID"

# --- the old root ---------------------------------------------------------------------

TOKEN=canary-$$-$RANDOM
CANARY=$T_DIR/$TOKEN		# on the host, under /tmp (a tmpfs of its own inside)
echo "host secret $TOKEN" >"$CANARY"
chmod 0644 "$CANARY"
REL=${CANARY#/}
MARK=.sbd-mark-$RANDOM$RANDOM	# written inside, at the sandbox's /
run $ID "echo inside >/$MARK && echo ok"
is "$OUT" ok "a marker file written at the sandbox's /"
PATHS="/ /.. /../.. /workspace/.. /workspace/../.. /proc/.. /proc/self/root /proc/self/cwd/.. /dev/.. /tmp/.. /sys/.."
run $ID "cd /workspace 2>/dev/null || cd /; for p in $PATHS ..; do
	printf '%s %s %s %s\n' \"\$p\" \"\$(stat -L -c %d:%i \"\$p\" 2>&1)\" \
		\"\$(test -e \"\$p/$MARK\" && echo marker || echo no-marker)\" \
		\"\$(cat \"\$p/$REL\" 2>/dev/null || echo no-canary)\"
done"
ROOTID=$(printf '%s\n' "$OUT" | awk '$1 == "/" { print $2 }')
ok $([ -n "$ROOTID" ]; echo $?) "the sandbox's / has an identity ($ROOTID)"
for p in $PATHS ..; do
	line=$(printf '%s\n' "$OUT" | awk -v p="$p" '$1 == p')
	set -- $line
	is "${2:-}" "$ROOTID" "$p is the sandbox's own root (same device:inode as /)"
	is "${3:-}" marker "$p holds the sandbox's marker file"
	is "${4:-}" no-canary "the host canary is unreachable through $p"
done
run $ID "awk '\$5 == \"/\"' /proc/self/mountinfo | wc -l"
is "$OUT" 1 "exactly one mount at / in the sandbox's mountinfo"
run $ID "ls -a /; cat /proc/1/mountinfo"
unlike "$OUT" "$TOKEN" "the canary's name shows nowhere in / or the init's mountinfo"
run $ID "find / -xdev -name '$TOKEN' 2>/dev/null | head -n 1; echo done"
is "$OUT" done "find / finds no host canary"

# --- /proc masks ----------------------------------------------------------------------
# runc's MaskedPaths and ReadonlyPaths and more, as container/rootfs.c has
# them: the kernel command line and the host's device lists are masked, fs
# is masked where runc makes it read-only.

MASKED_FILES="kcore keys latency_stats timer_list timer_stats sched_debug sysrq-trigger kallsyms kmsg"
MASKED_FILES="$MASKED_FILES interrupts cmdline partitions diskstats swaps"
MASKED_DIRS="acpi scsi asound driver fs"
READONLY="bus irq sys"
run $ID "cat /proc/self/mountinfo"
MI=$OUT
# mount fields: point (5), options (6); after " - ": fstype, source, super options
mnt_of() { printf '%s\n' "$MI" | awk -v p="$1" '$5 == p' | tail -n 1; }
for f in $MASKED_FILES; do
	if [ ! -e "/proc/$f" ]; then
		skip "/proc/$f does not exist on this host: its mask is not tested here"
		continue
	fi
	m=$(mnt_of "/proc/$f")
	ok $([ -n "$m" ]; echo $?) "/proc/$f is a mount point inside (masked)"
	# a bind of /dev/null: its root is /null of a devtmpfs (or the host's /dev)
	like "$m" '(/null |/dev/null )' "/proc/$f is /dev/null"
done
run $ID "for f in $MASKED_FILES; do [ -e /proc/\$f ] && printf '%s=%s\n' \$f \$(head -c 4096 /proc/\$f 2>/dev/null | wc -c); done; true"
for f in $MASKED_FILES; do
	[ -e "/proc/$f" ] || continue
	is "$(printf '%s\n' "$OUT" | sed -n "s/^$f=//p")" 0 "/proc/$f reads nothing inside"
done
for d in $MASKED_DIRS; do
	if [ ! -e "/proc/$d" ]; then
		skip "/proc/$d does not exist on this host: its mask is not tested here"
		continue
	fi
	m=$(mnt_of "/proc/$d")
	ok $([ -n "$m" ]; echo $?) "/proc/$d is a mount point inside (masked)"
	like "$m" ' - tmpfs ' "/proc/$d is an empty tmpfs"
	like "$(printf '%s' "$m" | awk '{ print $6 }')" '(^|,)ro(,|$)' "/proc/$d is mounted read-only"
done
for d in $READONLY; do
	if [ ! -e "/proc/$d" ]; then
		skip "/proc/$d does not exist on this host: its read-only mount is not tested here"
		continue
	fi
	m=$(mnt_of "/proc/$d")
	ok $([ -n "$m" ]; echo $?) "/proc/$d is a mount point inside"
	like "$(printf '%s' "$m" | awk '{ print $6 }')" '(^|,)ro(,|$)' "/proc/$d is mounted read-only"
done
# --- mount options: what each mount of the sandbox must carry -----------------------------
# mount point, then the per-mount options it must have (mountinfo field 6)
while read -r point want; do
	m=$(mnt_of "$point")
	if [ -z "$m" ]; then
		ok 1 "$point is mounted in the sandbox"
		continue
	fi
	have=$(printf '%s' "$m" | awk '{ print $6 }')
	for o in ${want//,/ }; do
		like "$have" "(^|,)$o(,|\$)" "$point is mounted $o ($have)"
	done
done <<'MOUNTS'
/ rw,nosuid,nodev
/usr ro,nosuid,nodev
/proc nosuid,nodev,noexec
/dev nosuid,noexec
/dev/null nosuid,noexec
/dev/pts nosuid,noexec
/dev/shm nosuid,nodev,noexec
/tmp nosuid,nodev
/sys ro,nosuid,nodev,noexec
/sys/devices/system/cpu ro,nosuid,nodev,noexec
/sys/devices/virtual/net ro,nosuid,nodev,noexec
/sys/class/net ro,nosuid,nodev,noexec
MOUNTS

# --- /sys: a read-only tmpfs holding an allowlist of a fresh sysfs -------------------------
like "$(mnt_of /sys)" ' - tmpfs ' "/sys is a tmpfs (the allowlist's holder), not a sysfs"
for p in devices/system/cpu devices/virtual/net class/net; do
	like "$(mnt_of "/sys/$p")" ' - sysfs ' "/sys/$p is a clone of a sysfs"
done
# what the allowlist leaves out, where the host has it: absent inside
SYS_OUT="kernel block firmware module bus dev power hypervisor class/block devices/virtual/block"
SYS_OUT="$SYS_OUT devices/system/memory devices/platform devices/virtual/misc fs/ext4 fs/cgroup/cgroup.procs"
run $ID "for p in $SYS_OUT; do [ -e /sys/\$p ] || [ -L /sys/\$p ] && echo \"present \$p\"; done; ls -A /sys | tr '\\n' ' '; echo"
SYS_IN=$OUT
for p in $SYS_OUT; do
	if [ ! -e "/sys/$p" ]; then
		skip "/sys/$p does not exist on this host: its absence is not tested here"
		continue
	fi
	unlike "$SYS_IN" "present $p\$" "/sys/$p (on the host) is out of the sandbox's /sys"
done
like "$(printf '%s\n' "$SYS_IN" | tail -n 1)" '^(class|devices|fs| )+$' "the top of /sys holds class, devices and fs only"
# Docker's mask of the CPUs' thermal throttle counters
if [ -e /sys/devices/system/cpu/cpu0/thermal_throttle ]; then
	m=$(mnt_of /sys/devices/system/cpu/cpu0/thermal_throttle)
	like "$m" ' - tmpfs ' "cpu0's thermal_throttle is an empty tmpfs"
else
	skip "no thermal_throttle on this host: its mask is not tested here"
fi

# --- the host's /usr: bound without an idmap ------------------------------------------------
if [ -d /usr/bin ] && [ "$(stat -c %u /usr/bin)" = 0 ]; then
	m=$(mnt_of /usr)
	unlike "$(printf '%s' "$m" | awk '{ print $6 }')" 'idmapped' "/usr is not an idmapped mount"
	run $ID 'stat -c %u:%g /usr/bin; touch /usr/bin/.sbd-probe 2>&1; echo "rc=$?"'
	like "$OUT" '^65534:65534' "host root's /usr/bin is the overflow id's inside, not the sandbox root's ($(printf '%s' "$OUT" | head -n 1))"
	like "$OUT" 'rc=[1-9]' "and the sandbox's root cannot write there"
else
	skip "the host's /usr/bin is not root's: the idmap check needs it"
fi

run $ID 'echo 0 > /proc/sys/kernel/printk_ratelimit 2>&1; echo "rc=$?"'
like "$OUT" 'rc=[1-9]' "a write to /proc/sys fails"
like "$OUT$ERR" 'Read-only file system' "with EROFS"

# --- seccomp, with arguments the kernel would accept ------------------------------------

PROBE_SRC=$T_DIR/probe.c
cat >"$PROBE_SRC" <<'EOF'
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <linux/io_uring.h>
#include <linux/kcmp.h>
#include <linux/keyctl.h>
#include <linux/mount.h>
#include <linux/perf_event.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/quota.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <unistd.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

static void report(const char *name, long r)
{
	if (r < 0)
		printf("%s=%s\n", name, strerrorname_np(errno) ?: "?");
	else
		printf("%s=OK\n", name);
	if (r > 2)
		close((int)r);	/* a descriptor the call made */
}
#define T(name, ...) (errno = 0, report(name, syscall(__VA_ARGS__)))

int main(void)
{
	struct perf_event_attr pe = { .type = PERF_TYPE_SOFTWARE, .size = sizeof pe,
				      .config = PERF_COUNT_SW_TASK_CLOCK, .disabled = 1,
				      .exclude_kernel = 1, .exclude_hv = 1 };
	struct io_uring_params up = { 0 };
	struct { unsigned int bytes; int type; unsigned char h[128]; } fh = { .bytes = 128 };
	struct mount_attr ma = { 0 };
	struct timex tx = { .modes = 0 };
	char buf[64];
	int mnt_id;

	/* each with arguments the kernel takes from anyone (or that fail only
	 * on a bad fd, after the filter): EPERM here is the filter's */
	T("userfaultfd", SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	T("keyctl", SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 1);
	T("add_key", SYS_add_key, "user", "sbd-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING);
	T("request_key", SYS_request_key, "user", "sbd-probe-none", NULL, 0);
	T("io_uring_setup", SYS_io_uring_setup, 2, &up);
	T("io_uring_enter", SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0);
	T("io_uring_register", SYS_io_uring_register, -1, 0, NULL, 0);
	T("perf_event_open", SYS_perf_event_open, &pe, 0, -1, -1, 0);
	T("name_to_handle_at", SYS_name_to_handle_at, AT_FDCWD, "/", &fh, &mnt_id, 0);
	T("kcmp", SYS_kcmp, getpid(), getpid(), KCMP_FILE, 1, 1);
	T("sysfs", SYS_sysfs, 3);
	T("get_mempolicy", SYS_get_mempolicy, NULL, NULL, 0, NULL, 0);
	T("set_mempolicy", SYS_set_mempolicy, 0 /* MPOL_DEFAULT */, NULL, 0);
	T("mbind", SYS_mbind, NULL, 0, 0, NULL, 0, 0);
	T("move_pages", SYS_move_pages, 0, 0, NULL, NULL, NULL, 0);
	T("migrate_pages", SYS_migrate_pages, 0, 0, NULL, NULL);
	T("clock_adjtime", SYS_clock_adjtime, 0 /* CLOCK_REALTIME */, &tx);
	T("settimeofday", SYS_settimeofday, NULL, NULL);
	T("iopl", SYS_iopl, 0);
	T("ioperm", SYS_ioperm, 0, 0, 0);
	T("syslog", SYS_syslog, 10 /* SYSLOG_ACTION_SIZE_BUFFER */, buf, 0);
	T("fanotify_init", SYS_fanotify_init, FAN_CLASS_NOTIF | FAN_REPORT_FID, O_RDONLY);
	T("open_tree", SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_CLOEXEC);
	T("fsconfig", SYS_fsconfig, -1, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
	T("mount_setattr", SYS_mount_setattr, -1, "", AT_EMPTY_PATH, &ma, sizeof ma);
	T("umount2", SYS_umount2, "/sbd-no-such-dir", 0);
	T("setns", SYS_setns, -1, 0);
	T("quotactl_fd", SYS_quotactl_fd, -1, QCMD(Q_SYNC, USRQUOTA), 0, NULL);
	T("open_by_handle_at", SYS_open_by_handle_at, -1, &fh, O_RDONLY);
	T("getpid", SYS_getpid);	/* the control */
	return 0;
}
EOF
PROBE=$T_DIR/probe
gcc -O1 -Wall -o "$PROBE" "$PROBE_SRC" 2>"$T_DIR/probe.err"
ok $? "the syscall prober compiles on the host" || diag "$(head -n 5 "$T_DIR/probe.err")"
chmod 0755 "$PROBE"
# unfiltered: as nobody, no capability, no seccomp
HOST=$(setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all "$PROBE" 2>&1)
api PUT /sandboxes/$ID/files/workspace/probe "" -H 'Content-Type: application/octet-stream' \
	--data-binary @"$PROBE" "${MAXT[@]}"
is "$STATUS" 200 "the prober uploaded into the sandbox"
run $ID 'chmod 0755 /workspace/probe && /workspace/probe'
is "$RC" 0 "the prober ran to its end in the sandbox"
got() { printf '%s\n' "$1" | sed -n "s/^$2=//p"; }
PROVED=0
UNPROVED=
for s in userfaultfd keyctl add_key request_key io_uring_setup io_uring_enter io_uring_register \
	perf_event_open name_to_handle_at kcmp sysfs get_mempolicy set_mempolicy mbind move_pages \
	migrate_pages clock_adjtime settimeofday iopl ioperm syslog fanotify_init open_tree fsconfig \
	mount_setattr umount2 setns quotactl_fd open_by_handle_at; do
	h=$(got "$HOST" $s)
	is "$(got "$OUT" $s)" EPERM "$s is denied with EPERM in the sandbox (unfiltered on the host: ${h:-?})"
	if [ -n "$h" ] && [ "$h" != EPERM ]; then
		PROVED=$((PROVED + 1))
	else
		UNPROVED="$UNPROVED $s"
	fi
done
is "$(got "$OUT" getpid)" OK "the control call (getpid) works in the sandbox"
is "$(got "$HOST" getpid)" OK "and on the host"
if [ "$(got "$HOST" userfaultfd)" = OK ]; then
	ok 0 "userfaultfd(UFFD_USER_MODE_ONLY) works on the host without the filter: its EPERM inside is the filter's"
else
	skip "this kernel refuses userfaultfd(UFFD_USER_MODE_ONLY) by itself ($(got "$HOST" userfaultfd))"
fi
diag "$PROVED probes answered otherwise without the filter; the kernel refuses these by itself here" \
	"(only t/unit-seccomp's check of the loaded program covers them):${UNPROVED:- none}"

done_testing
