# Test library for the end-to-end tests: TAP output, and a real nginx + the
# real sandboxd pool on a free port with a temporary data dir, torn down by
# trap.  Source it from a t/NNNN-area-what.t script, then call sbd_start.
#
# Environment: SANDBOXD, NGINX_BIN, TOP_SRCDIR (set by make check); T_KEEP=1
# keeps the temporary directory for a look after a failure; CG_ROOT: where
# cgroupfs is (default /sys/fs/cgroup; another is given to the service as
# --cgroup-root).

set -u
TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
SANDBOXD=${SANDBOXD:-$TOP_SRCDIR/sandboxd}
NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}

T_N=0
T_FAILED=0
# the preview domain of the test's nginx (*.localhost is loopback to browsers)
PREVIEW_HOST=${PREVIEW_HOST:-preview.localhost}

ok() {	# ok COND_EXIT_STATUS DESCRIPTION
	local st=$1; shift
	T_N=$((T_N + 1))
	if [ "$st" -eq 0 ]; then
		echo "ok $T_N - $*"
	else
		echo "not ok $T_N - $*"
		# a known failure (TAP's "# TODO"): reported, not counted
		case "$*" in *"# TODO"*) ;; *) T_FAILED=$((T_FAILED + 1)) ;; esac
	fi
	return "$st"
}
diag() { printf '# %s\n' "$@"; }
is() {	# is GOT WANT DESCRIPTION
	local got=$1 want=$2; shift 2
	[ "$got" = "$want" ]
	ok $? "$@" || diag "got:  '$got'" "want: '$want'"
}
isnt() {
	local got=$1 want=$2; shift 2
	[ "$got" != "$want" ]
	ok $? "$@" || diag "got:  '$got' (must differ)"
}
like() {	# like GOT EXTENDED_REGEX DESCRIPTION
	local got=$1 re=$2; shift 2
	printf '%s' "$got" | grep -Eq -- "$re"
	ok $? "$@" || diag "got:  '$got'" "want match: /$re/"
}
unlike() {
	local got=$1 re=$2; shift 2
	! printf '%s' "$got" | grep -Eq -- "$re"
	ok $? "$@" || diag "got:  '$got'" "must not match: /$re/"
}
done_testing() {
	# a sanitizer build reports into the service's log, not to us: read it
	if [ -n "${T_DIR:-}" ] && [ -f "$T_DIR/sandboxd.log" ]; then
		! grep -qE 'AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:|LeakSanitizer' \
			"$T_DIR/sandboxd.log"
		ok $? "no sanitizer report in the service log" ||
			grep -E -A5 'Sanitizer|runtime error:' "$T_DIR/sandboxd.log" | head -n 20 | sed 's/^/# /'
		# a 500 is a bug even where the test went on: each names its error line
		! grep -qE ' status=500 ' "$T_DIR/sandboxd.log"
		ok $? "no request was answered 500" ||
			grep -E ' status=500 | level=error ' "$T_DIR/sandboxd.log" | head -n 20 | sed 's/^/# /'
	fi
	echo "1..$T_N"
	[ "$T_FAILED" -eq 0 ]
}
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
bail() { echo "Bail out! $*"; exit 1; }

# --- the service under test ----------------------------------------------

# dns_leftover DATADIR: end the resolver a master killed -9 left (dnsmasq
# drops to nobody, which clears its parent-death signal; the next start
# ends it, a test that does not start again must): the process the pid
# file names, only if its command line names that pid file, as the
# service's end_old_dns() checks
dns_leftover() {
	local pf=$1/run/dnsmasq.pid pid
	[ -f "$pf" ] || return 0
	pid=$(cat "$pf" 2>/dev/null)
	[ -n "$pid" ] && tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "--pid-file=$pf" &&
		kill -KILL "$pid" 2>/dev/null
	return 0
}

sbd_cleanup() {
	local pid
	if [ -n "${T_DIR:-}" ]; then
		if [ -f "$T_DIR/sandboxd.pid" ]; then
			pid=$(cat "$T_DIR/sandboxd.pid")
			kill -TERM "$pid" 2>/dev/null
			for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -KILL "$pid" 2>/dev/null
		fi
		[ -f "$T_DIR/data.path" ] && dns_leftover "$(cat "$T_DIR/data.path")"
		[ -f "$T_DIR/nginx.pid" ] && kill -QUIT "$(cat "$T_DIR/nginx.pid")" 2>/dev/null
		if [ "${T_KEEP:-0}" = 1 ] || [ "$T_FAILED" -ne 0 ]; then
			echo "# kept $T_DIR" >&2
			[ "$T_FAILED" -ne 0 ] && grep -E ' level=error |sandboxd: ' "$T_DIR/sandboxd.log" 2>/dev/null |
				tail -n 20 | sed 's/^/# error log: /' >&2
			[ "$T_FAILED" -ne 0 ] && tail -n 30 "$T_DIR/sandboxd.log" 2>/dev/null | sed 's/^/# log: /' >&2
		else
			rm -rf "$T_DIR"
		fi
	fi
}

# sbd_start [sandboxd options...]: start nginx + the pool; sets BASE (URL),
# T_DIR, DATA, INSTANCE, UID_BASE.
sbd_start() {
	[ "$(id -u)" = 0 ] || skip_all "needs root (namespaces, cgroups)"
	[ -x "$SANDBOXD" ] || bail "no sandboxd binary at $SANDBOXD"
	T_DIR=$(mktemp -d /tmp/sbd-t.XXXXXX) || bail "mktemp"
	chmod 0711 "$T_DIR"
	# T_TRAP: a test's own EXIT trap (that calls sbd_cleanup); T_DATA: a data
	# dir the test made elsewhere (e.g. on a small file system of its own)
	trap "${T_TRAP:-sbd_cleanup}" EXIT
	DATA=${T_DATA:-$T_DIR/data}
	echo "$DATA" >"$T_DIR/data.path"	# for sbd_cleanup
	INSTANCE=t$$x$RANDOM
	# a uid window of our own: 64 sandboxes of 65536 ids
	UID_BASE=$((0x40000000 + (RANDOM % 700) * 64 * 65536))
	local cgopt=()
	[ "$CG_ROOT" = /sys/fs/cgroup ] || cgopt=(--cgroup-root "$CG_ROOT")
	# what sbd_again starts it with again
	SBD_ARGS=(--data "$DATA" --instance "$INSTANCE" --workers "${T_WORKERS:-3}"
		--uid-base "$UID_BASE" --uid-slots 64 --pidfile "$T_DIR/sandboxd.pid" "${cgopt[@]}" "$@")
	"$SANDBOXD" "${SBD_ARGS[@]}" >>"$T_DIR/sandboxd.log" 2>&1 &
	SBD_PID=$!
	# 60 s at most (a pass goes on at once): a start under ASan on a loaded
	# 2-core host takes seconds
	for _ in $(seq 1 1200); do [ -S "$DATA/run/fcgi.sock" ] && break; sleep 0.05; done
	[ -S "$DATA/run/fcgi.sock" ] || { cat "$T_DIR/sandboxd.log" >&2; bail "sandboxd did not start"; }
	mkdir -p "$T_DIR/nginx-tmp"
	local try
	for try in 1 2 3 4 5 6 7 8 9 10; do
		PORT=$((20000 + RANDOM % 40000))
		sed -e "s|@STATE@|$T_DIR|g" -e "s|@LISTEN@|127.0.0.1:$PORT|g" \
			-e "s|@SOCKET@|$DATA/run/fcgi.sock|g" \
			-e "s|@PREVIEW_SOCKET@|$DATA/run/preview.sock|g" \
			-e "s|@PREVIEW_HOST@|$PREVIEW_HOST|g" -e "s|@PREVIEW_HOST_RE@|${PREVIEW_HOST//./\\\\.}|g" \
			"$TOP_SRCDIR/nginx/sandboxd-dev.conf.in" >"$T_DIR/nginx.conf"
		"$NGINX_BIN" -c "$T_DIR/nginx.conf" -p "$T_DIR" -e "$T_DIR/nginx-error.log" 2>>"$T_DIR/nginx-start.log" && break
		PORT=
	done
	[ -n "$PORT" ] || bail "nginx did not start: $(tail -n 3 "$T_DIR/nginx-start.log")"
	BASE=http://127.0.0.1:$PORT
	for _ in $(seq 1 1200); do
		curl -s -o /dev/null "$BASE/" && break
		sleep 0.05
	done
}

# sbd_again [sandboxd options...]: the master again on the same data dir,
# as sbd_start started it (its options, then these; in this environment,
# e.g. SANDBOXD_FAULTS): the old one stopped by its pidfile (SIG, TERM by
# default, which stops the inits too) and waited for, its socket removed;
# PRE: a command (eval'd) run between the two; BIN: the binary (default
# $SANDBOXD); WRAP: a command the new one runs under.  Returns once the
# socket is there and nginx answers through it.
sbd_again() {
	local pid; pid=$(cat "$T_DIR/sandboxd.pid")
	kill -"${SIG:-TERM}" "$pid"
	for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	for _ in $(seq 1 300); do [ -z "$(sbd_workers 2>/dev/null)" ] && break; sleep 0.1; done
	rm -f "$DATA/run/fcgi.sock"
	[ -n "${PRE:-}" ] && eval "$PRE"
	${WRAP:-} "${BIN:-$SANDBOXD}" "${SBD_ARGS[@]}" "$@" >>"$T_DIR/sandboxd.log" 2>&1 &
	SBD_PID=$!
	disown $!
	# 60 s at most, as sbd_start
	for _ in $(seq 1 1200); do
		[ -S "$DATA/run/fcgi.sock" ] && curl -s -o /dev/null "$BASE/" && break
		sleep 0.05
	done
}

# launchers W: the sandbox-launch processes of worker W (its launcher
# exec'd ahead, waiting for the next start, and one starting a sandbox)
launchers() {
	local p
	for p in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		# a killed launcher not reaped yet (a zombie keeps its name) is
		# not one: the worker reaps it at its next start
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = sandbox-launch ] &&
			[ "$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)" != Z ] && echo "$p"
	done
}
# launcher_waiting: the one launcher of worker $W, in L (20 s at most)
launcher_waiting() {
	for _ in $(seq 1 400); do
		L=$(launchers "$W")
		[ "$(echo "$L" | wc -w)" = 1 ] && return 0
		sleep 0.05
	done
	return 1
}
# worker_one: W, the one worker of a test that runs one, once it is one (a
# worker a long request took out of the pool exits after its answer,
# beside its replacement): 60 s at most
worker_one() {
	for _ in $(seq 1 1200); do
		W=$(sbd_workers)
		case $W in ''|*' '*) ;; *) return 0 ;; esac
		sleep 0.05
	done
	return 1
}
# spare_ready NAME: W, the one worker of a test that runs one, and L, its
# one launcher waiting (60 s at most).  A request found long (an exec past
# a second, as a quick one is on a loaded host; a stream) takes its worker
# out of the pool: its launcher is killed, it exits after the answer, and
# the master's new worker execs a launcher only after a start.  So W is
# read again, once the leaving one is gone, and NAME (a throwaway sandbox)
# is created when the worker has no launcher a second on.
spare_ready() {
	local n=0 made=
	for _ in $(seq 1 1200); do
		W=$(sbd_workers)
		case $W in
		''|*' '*) n=0 ;;
		*)	L=$(launchers "$W")
			[ "$(echo "$L" | wc -w)" = 1 ] && return 0
			if [ -n "$L" ]; then n=0; else n=$((n + 1)); fi
			if [ "$n" -ge 20 ] && [ -z "$made" ]; then
				made=1
				api POST "/sandboxes/$1"
				diag "worker $W had no launcher waiting: $1 created ($STATUS)"
			fi ;;
		esac
		sleep 0.05
	done
	return 1
}
# launcher_trace NAME STRACE-ARGS...: strace in the background (its pid in
# S, its output in $T_DIR/strace.NAME); returns once $L is traced
launcher_trace() {
	local name=$1
	shift
	strace -o "$T_DIR/strace.$name" "$@" 2>"$T_DIR/strace.$name.err" &
	S=$!
	for _ in $(seq 1 400); do
		grep -q '^TracerPid:[[:space:]]*[1-9]' "/proc/$L/status" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# inits ID: the sandbox-init processes in its cgroup
inits() {
	local p out=
	for p in $(sandbox_pids "$1"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = sandbox-init ] && out="$out $p"
	done
	echo "${out# }"
}

# api METHOD PATH [JSON-BODY] [curl options...]: sets STATUS and BODY.
api() {
	local method=$1 path=$2 data=${3-}
	shift $(( $# >= 3 ? 3 : 2 ))
	local out=$T_DIR/resp.$$
	if [ -n "$data" ]; then
		STATUS=$(curl -s -o "$out" -w '%{http_code}' -X "$method" \
			-H 'Content-Type: application/json' --data-binary "$data" "$@" "$BASE$path")
	elif [ "$method" = HEAD ]; then
		# -I, not -X HEAD: curl would wait for the body the headers
		# announce until the server closes (nginx's keep-alive, 75 s)
		STATUS=$(curl -s -I -o "$out" -w '%{http_code}' "$@" "$BASE$path")
	else
		STATUS=$(curl -s -o "$out" -w '%{http_code}' -X "$method" "$@" "$BASE$path")
	fi
	BODY=$(cat "$out" 2>/dev/null)
	rm -f "$out"
}

# jqr FILTER: apply a jq filter to the last BODY (raw output).
jqr() { printf '%s' "$BODY" | jq -r "$1" 2>/dev/null; }

# exec_in ID COMMAND: POST /exec with a JSON-quoted command; sets STATUS/BODY.
exec_in() {
	local id=$1 cmd=$2
	api POST "/sandboxes/$id/exec" "$(jq -cn --arg c "$cmd" '{command: $c}')"
}

# gone_after ID T0: seconds from T0 until GET ID is 404 (60 s at most; 999 if not)
gone_after() {
	for _ in $(seq 1 600); do
		api GET "/sandboxes/$1"
		[ "$STATUS" = 404 ] && { echo $(( $(date +%s) - $2 )); return; }
		sleep 0.1
	done
	echo 999
}

# wait_comm ID NAME [N]: until N (1) processes named NAME run in sandbox
# ID (60 s at most): a command started in the background has begun
wait_comm() {
	local n=${3:-1}
	for _ in $(seq 1 600); do
		exec_in "$1" "cat /proc/[0-9]*/comm 2>/dev/null | grep -cx '$2'"
		[ "$(jqr .data.stdout)" -ge "$n" ] 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# The master's worker processes, sorted, space-separated (the master's
# other children are sandbox inits it reaps as a subreaper, and a
# short-lived idle sweeper: each names itself).
sbd_workers() {
	local p out=
	for p in $(pgrep -P "$(cat "$T_DIR/sandboxd.pid")" | sort -n); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = sandboxd-worker ] && out="$out $p"
	done
	echo "${out# }"
}

# Host pid of a sandbox's init.
init_of() {
	local p
	for p in $(sandbox_pids "$1"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = sandbox-init ] && echo "$p"
	done
}

# --- cgroups: v1 (a hierarchy per controller) or v2 (one tree) -------------
# Where the service keeps a sandbox's cgroups, found as the service finds
# them (container/cgroup.c, cg_open): under CG_ROOT (its --cgroup-root),
# v2 when CG_ROOT has cgroup.controllers, else one v1 hierarchy per
# controller.  The instance's cgroup is sandboxd-$INSTANCE in each.
CG_ROOT=${CG_ROOT:-/sys/fs/cgroup}
cg_version() { [ -e "$CG_ROOT/cgroup.controllers" ] && echo 2 || echo 1; }

# cg_need CONTROLLER...: skip the test unless the service gets them here
cg_need() {
	local c
	for c in "$@"; do
		if [ "$(cg_version)" = 2 ]; then
			# cpuacct and freezer are built into v2 (cpu.stat, cgroup.freeze)
			case $c in cpuacct|freezer) continue ;; esac
			grep -qw "$c" "$CG_ROOT/cgroup.controllers" 2>/dev/null ||
				skip_all "needs the $c controller in cgroup2 at $CG_ROOT"
		else
			[ -d "$CG_ROOT/$c" ] || skip_all "needs the cgroup v1 $c hierarchy"
		fi
	done
}

# cg_dir CONTROLLER [PATH]: the instance's cgroup directory for CONTROLLER
# (freezer for processes and exec cgroups), or PATH below it ("ID",
# "ID/e3"); on v2 the same directory for every controller.
cg_dir() {
	local d=$CG_ROOT
	[ "$(cg_version)" = 1 ] && d=$d/$1
	echo "$d/sandboxd-$INSTANCE${2:+/$2}"
}

# cg_knob CONTROLLER ID KNOB: a sandbox's cgroup file, by its v1 name
# (memory.limit_in_bytes, pids.max, cpu.cfs_quota_us, ...), read; on v2 the
# same setting in v2's spelling and unit (memory.max, cpu.max's first
# field), "-" for a v1 knob v2 has not (memory.memsw.limit_in_bytes).
cg_knob() {
	local d
	d=$(cg_dir "$1" "$2")
	if [ "$(cg_version)" = 1 ]; then
		cat "$d/$3" 2>/dev/null
		return
	fi
	case $3 in
	memory.limit_in_bytes) sed 's/^max$/-1/' "$d/memory.max" 2>/dev/null ;;
	memory.memsw.limit_in_bytes) echo - ;;
	cpu.cfs_quota_us) awk '{ print $1 == "max" ? -1 : $1 }' "$d/cpu.max" 2>/dev/null ;;
	cpu.cfs_period_us) awk '{ print $2 }' "$d/cpu.max" 2>/dev/null ;;
	*) cat "$d/$3" 2>/dev/null ;;
	esac
}

# Host pids of every process in a sandbox's cgroup (and, on v2, its exec
# cgroups below: on v1 those are in the freezer hierarchy only).
sandbox_pids() {
	local d
	d=$(cg_dir pids "$1")
	if [ "$(cg_version)" = 2 ]; then
		find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
	else
		cat "$d/cgroup.procs" 2>/dev/null
	fi
}

# sbd_reload [LOG]: SIGHUP the master, and wait until its log (default
# $T_DIR/sandboxd.log) says the reload is done: the settings read (or
# refused) and every worker of the old ones gone.  1 when it never says so
# (60 s, as the other waits here: a test that needs a reload done sooner
# times it itself, as t/0091 does).
sbd_reload() {
	local log=${1:-$T_DIR/sandboxd.log} n
	n=$(grep -c 'reload: done' "$log")
	kill -HUP "$(cat "$T_DIR/sandboxd.pid")" || return 1
	for _ in $(seq 1 1200); do
		[ "$(grep -c 'reload: done' "$log")" -gt "$n" ] && return 0
		sleep 0.05
	done
	return 1
}

# port_free PORT: nothing accepts on 127.0.0.1:PORT
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# gitd_start DIR REPO [git-daemon options...]: a git daemon serving DIR on a
# free loopback port, ready once the host's git lists REPO (one logged
# connection); sets GITD_URL (git://127.0.0.1:PORT) and GITD_PID (the caller
# stops it), logs to $T_DIR/git-daemon.log.
gitd_start() {
	local dir=$1 repo=$2 p
	shift 2
	GITD_URL=
	for _ in $(seq 1 10); do
		p=$((20000 + RANDOM % 40000))
		port_free "$p" || continue
		git daemon --reuseaddr --base-path="$dir" --export-all --listen=127.0.0.1 --port="$p" "$@" \
			>>"$T_DIR/git-daemon.log" 2>&1 &
		GITD_PID=$!
		for _ in $(seq 1 1200); do
			git ls-remote "git://127.0.0.1:$p/$repo" >/dev/null 2>&1 && { GITD_URL=git://127.0.0.1:$p; return 0; }
			kill -0 "$GITD_PID" 2>/dev/null || break
			sleep 0.05
		done
		kill "$GITD_PID" 2>/dev/null; wait "$GITD_PID" 2>/dev/null; GITD_PID=
	done
	bail "git daemon did not start: $(tail -n 3 "$T_DIR/git-daemon.log")"
}

# small_fs_setup SIZE [TOOL...]: what a test on a small file system of its
# own needs (root, the tools), then FS (a directory nginx reaches the
# socket below) with that file system on $FS/mnt (small_fs_make), removed
# at exit by fs_cleanup: the test's own if it defined one before (it ends
# with sbd_cleanup and small_fs_remove "$FS"), else just those two.
small_fs_setup() {
	local c size=$1
	shift
	[ "$(id -u)" = 0 ] || skip_all "needs root (loop devices, namespaces, cgroups)"
	for c in losetup mkfs.ext4 fallocate mountpoint "$@"; do
		command -v "$c" >/dev/null || skip_all "needs $c"
	done
	FS=$(mktemp -d /tmp/sbd-fs.XXXXXX) || bail "mktemp"
	chmod 0711 "$FS"
	LOOP=
	declare -F fs_cleanup >/dev/null || fs_cleanup() { sbd_cleanup; small_fs_remove "$FS"; }
	trap fs_cleanup EXIT
	trap "exit 1" INT TERM PIPE HUP
	small_fs_make "$FS" "$size"
}

# A small ext4 file system for a data dir that the test fills (t/0026,
# t/0096, t/0101): small_fs_make DIR SIZE makes DIR/fs.img of SIZE on a
# loop device ($LOOP), mounted on DIR/mnt; small_fs_remove DIR unmounts it
# (retrying while the service's last processes let go), detaches the loop
# device and removes DIR.
small_fs_make() {
	mkdir -p "$1/mnt"
	truncate -s "$2" "$1/fs.img"
	LOOP=$(losetup -f --show "$1/fs.img") || bail "losetup"
	mkfs.ext4 -q -m 0 "$LOOP" || bail "mkfs.ext4"
	mount "$LOOP" "$1/mnt" || bail "mount"
}
small_fs_remove() {
	if mountpoint -q "$1/mnt"; then
		for _ in $(seq 1 600); do umount "$1/mnt" 2>/dev/null && break; sleep 0.1; done
		mountpoint -q "$1/mnt" && umount -l "$1/mnt"
	fi
	[ -n "${LOOP:-}" ] && losetup -d "$LOOP" 2>/dev/null
	rm -rf "$1"
}
# small_fs_fill DIR [BS]: leave DIR/mnt no free block (the last of it
# written BS (4k) at a time); small_fs_free DIR gives it back
small_fs_fill() {
	local avail
	avail=$(df -B1 --output=avail "$1/mnt" | tail -n 1)
	fallocate -l "$avail" "$1/mnt/filler" 2>/dev/null || fallocate -l $((avail - (1 << 20))) "$1/mnt/filler"
	dd if=/dev/zero of="$1/mnt/filler2" bs="${2:-4k}" 2>/dev/null
	sync -f "$1/mnt"
}
small_fs_free() { rm -f "$1/mnt/filler" "$1/mnt/filler2"; sync -f "$1/mnt"; }
