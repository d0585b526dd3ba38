#!/bin/bash
# What a sandbox can learn about its host (issue 12, item 5): the loop
# devices' backing files (every sandbox's data path, all instances), the
# kernel command line, the firmware, the kernel's own tree, the host's block
# devices, and the files of the host's /usr that the host keeps from its
# users.  Each must be out of reach, and what programs need of /proc and
# /sys must still work (CPU count, network interfaces, the process's own
# status).  A path the host does not have is a SKIP point, never a pass.
#
# The service runs in a mount namespace of its own, where a tmpfs over an
# empty directory of the host's /usr holds host-root-only canaries: a
# deterministic host file the host's users cannot read, without writing
# into the real /usr (the tmpfs goes with the namespace).
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

skip() { T_N=$((T_N + 1)); echo "ok $T_N # SKIP $*"; }

# run ID COMMAND: exec; sets STATUS BODY OUT ERR RC.
run() {
	api POST "/sandboxes/$1/exec" "$(jq -cn --arg c "$2" '{command: $c}')" --max-time 120
	OUT=$(jqr .data.stdout)
	ERR=$(jqr .data.stderr)
	RC=$(jqr .data.exitCode)
}
words() { tr -s ' \n' '\n\n' | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//'; }

# --- the canaries: a tmpfs over an empty directory of the host's /usr ---------

[ "$(id -u)" = 0 ] || skip_all "needs root (namespaces, cgroups)"
TOKEN=hostleak$RANDOM$RANDOM$$
CANARY=
for d in /usr/local/src /usr/local/games /usr/src /usr/games; do
	[ -d "$d" ] && [ ! -L "$d" ] && [ -z "$(ls -A "$d" 2>/dev/null)" ] && { CANARY=$d; break; }
done
if [ -n "$CANARY" ] && unshare -m --propagation private true 2>/dev/null; then
	# sbd_start runs "$SANDBOXD" OPTIONS...: a one-off script in front of the
	# real binary; unshare without --fork execs, so the service keeps the pid
	# sbd_start saw
	WRAP=$(mktemp /tmp/sbd-t-wrap.XXXXXX)
	{
		echo '#!/bin/bash'
		printf 'real=%q dir=%q token=%q\n' "$SANDBOXD" "$CANARY" "$TOKEN"
		cat <<'EOF'
exec unshare -m --propagation private sh -c '
	dir=$1 token=$2
	mount -t tmpfs -o mode=0755,size=64k sbd-canary "$dir" || exit 1
	umask 022
	echo "public $token" >"$dir/public"
	mkdir -m 0700 "$dir/root-dir" && echo "root-dir $token" >"$dir/root-dir/secret"
	echo "root-file $token" >"$dir/root-file" && chmod 0600 "$dir/root-file"
	mkdir -m 0700 "$dir/user-dir" && echo "user-dir $token" >"$dir/user-dir/secret" &&
		chown -R 12345:12345 "$dir/user-dir"
	shift 2
	exec "$@"' sh "$dir" "$token" "$real" "$@"
EOF
	} >"$WRAP"
	chmod 0755 "$WRAP"
	SANDBOXD=$WRAP
fi
sbd_start
[ -n "${WRAP:-}" ] && rm -f "$WRAP"

ID=leaks
api POST /sandboxes/$ID "" --max-time 120
is "$STATUS" 200 "create $ID (the host image)"

# --- loop devices: their backing files name every sandbox's data dir ---------

HOST_BACKING=$(cat /sys/block/loop*/loop/backing_file 2>/dev/null)
if printf '%s\n' "$HOST_BACKING" | grep -qF "$DATA/"; then
	diag "on the host, a loop device's backing file is under $DATA (this service's disk images)"
else
	diag "no loop device of this service on the host (sandboxes without a disk image)"
fi
run $ID 'find /sys -name backing_file 2>/dev/null; echo find-done'
is "$OUT" find-done "no file named backing_file anywhere under /sys inside"
run $ID 'cat /sys/block/loop0/loop/backing_file /sys/devices/virtual/block/loop0/loop/backing_file 2>/dev/null; echo rc=$?'
is "$OUT" "rc=1" "cat /sys/block/loop0/loop/backing_file fails inside"
run $ID 'grep -rlsF -- "'"$T_DIR"'" /sys /proc/partitions /proc/diskstats /proc/swaps /proc/fs 2>/dev/null | head -n 3; echo grep-done'
is "$OUT" grep-done "no file of /sys or the /proc device lists names this service's data dir"

# --- /proc/cmdline -------------------------------------------------------------

HOST_CMDLINE=$(cat /proc/cmdline)
run $ID 'cat /proc/cmdline 2>/dev/null; echo "rc=$?"'
INSIDE_CMDLINE=$(printf '%s\n' "$OUT" | sed '$d')
if [ -n "$HOST_CMDLINE" ]; then
	! printf '%s' "$INSIDE_CMDLINE" | grep -qF -- "$HOST_CMDLINE"
	ok $? "/proc/cmdline inside does not show the host's kernel command line" ||
		diag "inside: '$INSIDE_CMDLINE'"
else
	skip "the host's /proc/cmdline is empty"
fi

# --- /sys: what names the host's firmware, kernel, devices --------------------
# Inside each is absent or empty; on the host it must exist for a pass.

SYS_HIDDEN="firmware kernel kernel/debug block dev/block class/block devices/virtual/block
	devices/virtual/powercap devices/virtual/dmi class/dmi module fs/ext4 fs/btrfs fs/xfs
	devices/virtual/bdi class/bdi bus"
LIST=$(for p in $SYS_HIDDEN; do printf '/sys/%s ' "$p"; done)
run $ID 'for p in '"$LIST"'; do echo "$p $(ls -A "$p" 2>/dev/null | wc -l)"; done'
for p in $SYS_HIDDEN; do
	n=$(printf '%s\n' "$OUT" | awk -v p="/sys/$p" '$1 == p {print $2}')
	if [ -z "$(ls -A "/sys/$p" 2>/dev/null)" ]; then
		skip "/sys/$p is absent or empty on the host"
		continue
	fi
	is "${n:-missing}" 0 "/sys/$p is absent or empty inside"
done
# Docker's mask: the CPUs' thermal throttle counters (Intel hosts)
THERMAL=$(ls -d /sys/devices/system/cpu/cpu[0-9]*/thermal_throttle 2>/dev/null | head -n 4)
if [ -n "$THERMAL" ]; then
	run $ID 'for p in '"$(echo $THERMAL)"'; do echo "$p $(ls -A "$p" 2>/dev/null | wc -l)"; done'
	is "$(printf '%s\n' "$OUT" | awk '{print $2}' | sort -u)" 0 "the CPUs' thermal_throttle directories are empty inside"
else
	skip "no thermal_throttle directory under the host's /sys/devices/system/cpu"
fi
run $ID 'umount /sys 2>/dev/null && echo umount=ok || echo umount=fail
	umount -l /sys/devices/system/cpu 2>/dev/null && echo umount-cpu=ok || echo umount-cpu=fail'
is "$(printf '%s\n' "$OUT" | words)" "umount-cpu=fail umount=fail" "/sys and its parts cannot be unmounted from inside"
run $ID 'ls -A /sys/fs/cgroup; echo "rc=$?"'
like "$OUT" 'rc=0$' "/sys/fs/cgroup is there inside"
unlike "$OUT" "sandboxd-$INSTANCE" "and shows none of the host's cgroups of this service"

# --- /proc: runc's masked and read-only paths, and the host's device lists ---

PROC_FILES="kcore keys latency_stats timer_list timer_stats sched_debug sysrq-trigger kallsyms kmsg
	interrupts cmdline partitions diskstats swaps"
PROC_DIRS="acpi scsi asound driver fs"
PROC_RO="bus irq sys"
run $ID 'cat /proc/self/mountinfo'
MI=$OUT
mounted_at() { printf '%s\n' "$MI" | awk -v m="$1" '$5 == m {f = 1} END {exit !f}'; }
mount_opts() { printf '%s\n' "$MI" | awk -v m="$1" '$5 == m {o = $6} END {print o}'; }
# shellcheck disable=SC2116,SC2086
run $ID 'for f in '"$(echo $PROC_FILES)"'; do echo "$f $(head -c 4096 /proc/$f 2>/dev/null | wc -c)"; done
	for d in '"$(echo $PROC_DIRS)"'; do echo "$d $(ls -A /proc/$d 2>/dev/null | wc -l)"; done'
SIZES=$OUT
for f in $PROC_FILES $PROC_DIRS; do
	if [ ! -e "/proc/$f" ]; then
		skip "/proc/$f does not exist on the host"
		continue
	fi
	mounted_at "/proc/$f"
	ok $? "/proc/$f is masked by a mount (mountinfo)"
	is "$(printf '%s\n' "$SIZES" | awk -v f="$f" '$1 == f {print $2}')" 0 "/proc/$f reads empty inside"
done
for d in $PROC_RO; do
	if [ ! -e "/proc/$d" ]; then
		skip "/proc/$d does not exist on the host"
		continue
	fi
	like "$(mount_opts "/proc/$d")" '^ro(,|$)' "/proc/$d is a read-only mount"
done

# --- files of the host's /usr its users cannot read -------------------------

if [ -n "$CANARY" ] && [ -n "${WRAP:-}" ]; then
	run $ID "cat $CANARY/public"
	is "$OUT" "public $TOKEN" "the control: a world-readable canary under $CANARY reads inside"
	run $ID "ls $CANARY/root-dir 2>/dev/null; echo ls=\$?; cat $CANARY/root-dir/secret 2>/dev/null; echo cat=\$?"
	is "$(printf '%s\n' "$OUT" | words)" "cat=1 ls=2" "a 0700 host-root directory under /usr: not listable, its file not readable"
	run $ID "cat $CANARY/root-file 2>/dev/null; echo cat=\$?"
	is "$OUT" "cat=1" "a 0600 host-root file under /usr is not readable"
	run $ID "ls $CANARY/user-dir 2>/dev/null; echo ls=\$?; cat $CANARY/user-dir/secret 2>/dev/null; echo cat=\$?"
	is "$(printf '%s\n' "$OUT" | words)" "cat=1 ls=2" "a 0700 directory of host uid 12345 under /usr: not listable, its file not readable"
	run $ID "cat $CANARY/root-dir/secret $CANARY/root-file $CANARY/user-dir/secret 2>&1; ls -la $CANARY 2>&1"
	unlike "$OUT" "(root-dir|root-file|user-dir) $TOKEN" "no canary's content is printed"
else
	skip "no empty directory in the host's /usr for a canary tmpfs, or no unshare -m"
fi

# the host's own: paths under the dirs the host image binds that other users cannot read
HOST_DIRS=/usr
for d in /bin /sbin /lib /lib32 /lib64 /libx32; do [ -d "$d" ] && [ ! -L "$d" ] && HOST_DIRS="$HOST_DIRS $d"; done
# shellcheck disable=SC2086
SECRET_PATHS=$(find $HOST_DIRS -xdev -maxdepth 5 ! -perm -o=r \( -type d -o -type f \) 2>/dev/null | head -n 8)
if [ -n "$SECRET_PATHS" ]; then
	run $ID 'for p in '"$(printf '%s ' $SECRET_PATHS)"'; do
		if [ -d "$p" ]; then ls "$p" >/dev/null 2>&1 && echo "listed $p"; else head -c 1 "$p" >/dev/null 2>&1 && echo "read $p"; fi
	done; echo done'
	is "$OUT" done "none of the host's non-world-readable paths under the bound dirs is listable or readable: $(printf '%s ' $SECRET_PATHS)"
else
	skip "the host has no non-world-readable path under $HOST_DIRS"
fi

# --- what programs need still works -------------------------------------------

HOST_ONLINE=$(cat /sys/devices/system/cpu/online)
HOST_NPROC=$(getconf _NPROCESSORS_ONLN)
run $ID 'cat /sys/devices/system/cpu/online'
is "$OUT" "$HOST_ONLINE" "/sys/devices/system/cpu/online inside is the host's ($HOST_ONLINE)"
run $ID 'getconf _NPROCESSORS_ONLN; python3 -c "import os; print(os.cpu_count())"'
is "$(printf '%s\n' "$OUT" | words)" "$HOST_NPROC $HOST_NPROC" "getconf and python3's os.cpu_count() count $HOST_NPROC CPUs"
run $ID 'nproc'
ok $([ "${OUT:-0}" -ge 1 ] && [ "$OUT" -le "$HOST_NPROC" ] 2>/dev/null; echo $?) "nproc works ($OUT)"
run $ID 'ls /sys/class/net'
is "$(printf '%s\n' "$OUT" | words)" lo "/sys/class/net lists lo"
run $ID 'cat /sys/class/net/lo/address /sys/class/net/lo/mtu'
is "$(printf '%s\n' "$OUT" | words)" "00:00:00:00:00:00 65536" "lo's attributes read through /sys/class/net"
if command -v ip >/dev/null; then
	run $ID 'ip addr show lo'
	like "$OUT" 'inet 127\.0\.0\.1' "ip addr shows lo with 127.0.0.1"
else
	skip "no ip on the host"
fi
run $ID 'grep -cE "^(Name|Pid):" /proc/self/status'
is "$OUT" 2 "/proc/self/status reads (Name and Pid lines)"
if command -v lscpu >/dev/null; then
	run $ID 'lscpu >/dev/null; echo rc=$?'
	is "$OUT" rc=0 "lscpu works"
else
	skip "no lscpu on the host"
fi
if command -v node >/dev/null; then
	run $ID 'node -e "console.log(require(\"os\").cpus().length > 0)"'
	is "$OUT" true "node's os.cpus() lists CPUs"
else
	skip "no node on the host"
fi
run $ID 'git --version >/dev/null && gcc --version >/dev/null && python3 -c "import ssl, sqlite3, json" && echo tools-ok'
is "$OUT" tools-ok "git, gcc and python3 (ssl, sqlite3) run from the host's /usr"

done_testing
