#!/bin/bash
# Outside fault-injection review (rev19-fault), from the claims of
# docs/ARCHITECTURE.md "Storage" ("what a failure or a kill between those
# steps leaves heals on the next request") and "Snapshots and forks":
#  1. a fork ({"from": ID}) whose worker is killed while it shifts the
#     copy's ids (after store_create wrote the record, before
#     snapshot_fork_finish renamed disk.img.fork to disk.img) leaves a
#     record whose next start (start_locked -> snapshot_leftovers_clean)
#     drops the copy and makes an empty disk: the sandbox of the fork's name
#     (its retry answers 409 "exists") runs with none of the origin's files.
#  2. a sandbox out of inodes (its own quota): a process start answers 429
#     "too many background processes" (ENOSPC from the log files' creation
#     taken for a full process table), not 507.
#  3. with the data dir's file system full, ~30 open streams (log follows)
#     and every worker forked after them dies at its first request
#     (SIGBUS on a hole of the sparse, shared-mapped DATA/run/quota): short
#     requests and further follows get nginx's 503, not a 507 or 200.
#  4. a warm claim whose worker is killed before the record leaves the
#     claimed init running in the projectId's cgroups while the API answers
#     404 (until that projectId is created or the service stops).
#  5. a warm sandbox whose init dies during its claim: the create is a 500
#     "the sandbox's init is gone" (no fallback to a cold create).
#  6. a snapshot whose sandbox's init dies as it is frozen: a 500 "sync the
#     file system of ID: No such file or directory".
# All fail on e7962d9 (see the report of rev19-fault for the lines).
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

# the data dir on a small ext4 of the test's own (a loop device), which the
# test fills from the host
FP=
fs_cleanup() {
	local p
	for p in $FP; do kill "$p" 2>/dev/null; done
	sbd_cleanup
	small_fs_remove "$FS"
}
small_fs_setup 1G
fill_host() { small_fs_fill "$FS"; }
free_host() { small_fs_free "$FS"; }

T_TRAP=fs_cleanup T_DATA=$FS/mnt/data T_WORKERS=3 sbd_start --disk-mb 512 --spare-disks 0 \
	--disk-reserve-mb 8 --max-workers 100

# --- 1. a fork killed while its copy's ids are shifted ---------------------

api POST /sandboxes/origin
is "$STATUS" 200 "create the origin"
# many inodes: the id shift (a chown of each) takes long enough to be seen
exec_in origin 'mkdir -p /workspace/many && cd /workspace/many && seq 1 30000 | xargs touch && echo marker > /workspace/marker && ls | wc -l'
is "$(jqr .data.stdout)" "30000" "the origin holds 30000 files and a marker"

KILLED=
for try in 1 2 3 4 5 6; do
	NEW=fk$try
	curl -s -o "$T_DIR/fork.$try" -X POST -H 'Content-Type: application/json' \
		--data-binary '{"from": "origin"}' "$BASE/sandboxes/$NEW" &
	CURL=$!
	# the shift mounts disk.img.fork on a loop device: the record is written
	for _ in $(seq 1 12000); do
		[ -n "$(losetup -j "$DATA/sandboxes/$NEW/disk.img.fork" 2>/dev/null)" ] && break
		kill -0 "$CURL" 2>/dev/null || break
		sleep 0.005
	done
	if [ -n "$(losetup -j "$DATA/sandboxes/$NEW/disk.img.fork" 2>/dev/null)" ]; then
		for w in $(sbd_workers); do kill -KILL "$w"; done
		KILLED=$NEW
		wait "$CURL"
		break
	fi
	wait "$CURL"
	api POST "/sandboxes/$NEW/destroy"
done
ok $([ -n "$KILLED" ]; echo $?) "the fork's workers were killed while it shifted the ids ($KILLED)"
if [ -n "$KILLED" ]; then
	# the client saw its fork fail (the worker died): it retries
	for _ in $(seq 1 1200); do [ -n "$(sbd_workers)" ] && break; sleep 0.05; done
	# the shift's child (it outlives its worker) ends: its loop device goes
	for _ in $(seq 1 300); do
		[ -z "$(losetup -j "$DATA/sandboxes/$KILLED/disk.img.fork" 2>/dev/null)" ] && break
		sleep 0.1
	done
	api POST "/sandboxes/$KILLED" '{"from": "origin"}'
	diag "the retried fork: $STATUS $BODY"
	api GET "/sandboxes/$KILLED"
	diag "the fork's status: $STATUS $(jqr .data.status)"
	if [ "$STATUS" = 200 ]; then
		# it exists (listed, 200): a sandbox made by a fork is the fork
		exec_in "$KILLED" 'cat /workspace/marker 2>&1; ls /workspace/many 2>/dev/null | wc -l'
		is "$STATUS:$(jqr .data.stdout)" "200:$(printf 'marker\n30000')" \
			"  the fork left by the killed worker, used, holds the origin's files (not an empty disk)"
	fi
	api POST "/sandboxes/$KILLED/destroy"
	api POST "/sandboxes/$KILLED" '{"from": "origin"}'
	is "$STATUS" 200 "  after a destroy the fork is made again"
	exec_in "$KILLED" 'cat /workspace/marker'
	is "$(jqr .data.stdout)" "marker" "  and holds the origin's files"
	# (a loop device is freed asynchronously: polled, 60 s at most)
	fork_loops() { losetup -j "$DATA/sandboxes/$KILLED/disk.img.fork" 2>/dev/null; losetup -a 2>/dev/null | grep -F "$DATA/" | grep -v '(deleted)' | grep -vF '/disk.img)'; }
	for _ in $(seq 1 600); do [ -z "$(fork_loops)" ] && break; sleep 0.1; done
	is "$(fork_loops)" "" "  no loop device is left on the killed fork's copy"
fi

# --- 2. a process started in a sandbox out of inodes ------------------------

# The init answers a SPAWN whose log files cannot be made with their errno;
# ENOSPC (no inode, no block: the sandbox's own disk quota) is taken by
# start_answer (container/exec.c) for the init's table being full: 429 "too
# many background processes in this sandbox", an answer that says retry
# later, for a sandbox that has one process.  openapi.yaml: 507 when "its
# logs cannot be made"; a write, mkdir into the same full disk is a 507.
api POST /sandboxes/ino '{"limits": {"diskMb": 16}}'
is "$STATUS" 200 "create ino (diskMb 16)"
exec_in ino 'mkdir /workspace/i && cd /workspace/i && i=0; while touch f$i 2>&-; do i=$((i+1)); done; df -i / | tail -n 1 | tr -s " " | cut -d" " -f4'
is "$(jqr .data.stdout)" 0 "the sandbox used all its inodes (touch until ENOSPC)"
api POST /sandboxes/ino/mkdir '{"path": "/workspace/nd"}'
is "$STATUS" 507 "a mkdir there is a 507"
api POST /sandboxes/ino/processes '{"command": "echo hi", "processId": "p1"}'
is "$STATUS" 507 "a process start whose logs cannot be made is a 507 (not 429 'too many background processes')"
diag "  it said: $STATUS $BODY"
exec_in ino 'rm -rf /workspace/i && echo freed'
api POST /sandboxes/ino/processes '{"command": "echo hi", "processId": "p1"}'
is "$STATUS" 200 "  once inodes are free again it starts"

# --- 3. streams on a full host disk ----------------------------------------

# Every request writes its worker's slot of DATA/run/quota (router_admit),
# a file of 4096 slots made sparse (ftruncate in quota_open) and mapped
# MAP_SHARED: a worker whose slot lies on a page never written before
# (pool slot 29 and up: 30 slots of 136 bytes a page) stores into a hole,
# and with no free block on the data dir's file system that store is a
# SIGBUS.  Streams move their workers out of the pool, so with ~30 streams
# open every new worker dies at its first request: nginx answers 502/503.
# What a full disk must cost is a 507 on what writes, never the service.
api POST /sandboxes/fol
is "$STATUS" 200 "create fol"
api POST /sandboxes/fol/processes '{"command": "while :; do echo tick; sleep 1; done", "processId": "t"}'
is "$STATUS" 200 "a background process to follow"
DIED0=$(curl -s "$BASE/metrics" | sed -n 's/^sandboxd_pool_workers_ended_total{reason="died"} //p')
# part 1 killed workers mid-request on purpose: nginx logged those
CLOSED0=$(grep -c 'upstream prematurely closed' "$T_DIR/nginx-error.log")
fill_host
diag "host free after the filler: $(df -B1 --output=avail "$FS/mnt" | tail -n 1) bytes"
exec_in fol 'echo hi'
is "$STATUS" 507 "with the host full an exec is a 507 (the reserve)"
for i in $(seq 1 45); do
	curl -s -N --max-time 30 -o "$T_DIR/follow.$i" -D "$T_DIR/follow.$i.h" \
		"$BASE/sandboxes/fol/processes/t/logs?stream=1" &
	FP="$FP $!"
done
# every follow has its first event (or its answer) before the short requests
for i in $(seq 1 45); do
	for _ in $(seq 1 300); do
		grep -q 'tick\|success' "$T_DIR/follow.$i" 2>/dev/null && break
		sleep 0.1
	done
done
SHORT=
for i in $(seq 1 30); do
	curl -s --max-time 30 -o /dev/null -w '%{http_code}\n' "$BASE/sandboxes/fol" >"$T_DIR/short.$i" &
	SHORT="$SHORT $!"
done
wait $SHORT
is "$(cat "$T_DIR"/short.* | sort | uniq -c | sed 's/^ *//' | tr '\n' ' ')" "30 200 " \
	"30 status reads with 45 follows open on a full host disk all answer 200"
api GET /healthz
is "$STATUS" 200 "/healthz answers 200 meanwhile"
for p in $FP; do kill "$p" 2>/dev/null; done
wait $FP 2>/dev/null
FP=
is "$(for f in "$T_DIR"/follow.*.h; do head -n 1 "$f" | cut -d" " -f2; done | sort | uniq -c | sed 's/^ *//' | tr '\n' ' ')" "45 200 " \
	"the 45 follows on a full host disk all answered 200"
is "$(($(grep -c 'upstream prematurely closed' "$T_DIR/nginx-error.log") - CLOSED0))" 0 \
	"nginx met no worker that closed its connection without an answer"
free_host
# read once the disk has room (a /metrics on the full disk may meet a dying worker too)
DIED=$(curl -s "$BASE/metrics" | sed -n 's/^sandboxd_pool_workers_ended_total{reason="died"} //p')
is "$((DIED - DIED0))" 0 "no worker died (sandboxd_pool_workers_ended_total{reason=\"died\"}: $DIED0 -> $DIED)"
api GET /sandboxes/fol
is "$STATUS" 200 "once the disk has room again the status answers 200"

! grep -qE ' status=500 ' "$T_DIR/sandboxd.log"
ok $? "no request of the first instance was answered 500"
free_host
sbd_cleanup

# --- 4. a warm claim killed before its record ------------------------------

# warm_claim (fcgi-app/warm.c) renames the warm sandbox's directory to the
# projectId, then its cgroups, then its hostname, and writes the record
# last.  A worker killed before store_claim leaves the record under the
# warm name, the directory and the cgroups (its init running) under the
# projectId.  The filler discards the warm record (discard: a kill of the
# cgroups of the warm name, which are gone) and starts another: the old
# init runs on in the projectId's cgroup, with its disk, while the API
# says 404 and lists nothing; the sweep leaves it, until the service stops
# or someone creates that projectId.  The kill is made at the record's
# write by gdb (a breakpoint on store_claim in the only worker).
# gdb_running PID: gdb has attached PID and let it go on ("Continuing."
# sits in gdb's buffer until it exits: its output cannot say so)
gdb_running() {
	local st
	for _ in $(seq 1 400); do
		st=$(awk '$1 == "State:" { s = $2 } $1 == "TracerPid:" { t = $2 } END { print t ":" s }' "/proc/$1/status" 2>/dev/null)
		case $st in 0:*|:*|*:t) ;; *) return 0 ;; esac
		sleep 0.05
	done
	return 1
}
if [ "$(cg_version)" != 1 ]; then
	ok 0 "# SKIP warm sandboxes need cgroup v1"
elif ! command -v gdb >/dev/null; then
	ok 0 "# SKIP needs gdb"
else
	T_TRAP=fs_cleanup T_WORKERS=1 sbd_start --max-workers 1 --warm-sandboxes 1 --spare-disks 0
	for _ in $(seq 1 200); do grep -q "event=sandbox.warm" "$T_DIR/sandboxd.log" && break; sleep 0.1; done
	W=$(sbd_workers)
	gdb -p "$W" -batch -ex 'break store_claim' -ex 'continue' -ex 'signal SIGKILL' >"$T_DIR/gdb.out" 2>&1 &
	GDB=$!
	gdb_running "$W"
	api POST /sandboxes/victim
	wait "$GDB"
	grep -q "^Breakpoint 1, store_claim" "$T_DIR/gdb.out"
	ok $? "the claiming worker was killed at store_claim (the create: $STATUS)"
	# the filler sorts the warm sandboxes out and starts a new one
	for _ in $(seq 1 300); do grep -q "event=sandbox.discarded" "$T_DIR/sandboxd.log" && break; sleep 0.1; done
	for _ in $(seq 1 300); do [ "$(grep -c "event=sandbox.warm" "$T_DIR/sandboxd.log")" -ge 2 ] && break; sleep 0.1; done
	api GET /sandboxes/victim
	is "$STATUS" 404 "victim has no record (the claim never finished)"
	is "$(for p in $(sandbox_pids victim); do cat "/proc/$p/comm" 2>/dev/null; done | tr '\n' ' ')" "" \
		"  and no process runs in its cgroups once the filler sorted the warm ones out (the claimed init is not left running)"
	api POST /sandboxes/victim
	is "$STATUS" 200 "  a create of victim answers 200"
	exec_in victim 'hostname; ls /workspace | wc -l'
	is "$(jqr .data.stdout)" "$(printf 'victim\n0')" "  and it runs under its name, on an empty disk"

	# --- 5. a warm sandbox whose init dies during its claim ----------------
	# take() (fcgi-app/warm.c) renames everything back when a step fails
	# and hands the step's error to the create: an init gone between the
	# check (sandbox_alive) and sandbox_set_hostname (killed by the OOM
	# killer, an operator) makes the create a 500 "the sandbox's init is
	# gone", where a cold create (or another warm one) would do.
	warm_ready() {	# a warm sandbox runs (its init in its cgroup)
		local d
		for d in "$DATA"/sandboxes/.w*; do
			[ -n "$(init_of "$(basename "$d")")" ] && return 0
		done
		return 1
	}
	for _ in $(seq 1 300); do warm_ready && break; sleep 0.1; done
	warm_ready
	ok $? "a warm sandbox runs again"
	W=$(sbd_workers)
	cat >"$T_DIR/gdb2.cmd" <<GDB
break sandbox_set_hostname
continue
shell for p in \$(cat $(cg_dir pids)/claimed/cgroup.procs); do kill -KILL \$p; done; sleep 0.5
delete
detach
GDB
	gdb -p "$W" -batch -x "$T_DIR/gdb2.cmd" >"$T_DIR/gdb2.out" 2>&1 &
	GDB=$!
	gdb_running "$W"
	api POST /sandboxes/claimed
	wait "$GDB"
	grep -q "^Breakpoint 1, sandbox_set_hostname" "$T_DIR/gdb2.out"
	ok $? "the claimed warm sandbox's init was killed at its hostname step"
	is "$STATUS" 200 "  the create answers 200 all the same (made cold, or from another warm one), not $STATUS"
	diag "  it said: $STATUS $BODY"
	api POST /sandboxes/claimed
	is "$STATUS" 200 "  a create of it again answers 200"

	# --- 6. a snapshot whose sandbox's init dies as it freezes it ----------
	# take() (fcgi-app/api_snapshot.c) decides "running" first, freezes,
	# then syncs through /proc/<init pid>/root: an init gone in between (an
	# OOM kill, a stop) makes the snapshot a 500 "sync the file system of
	# ID: No such file or directory".  A stopped sandbox's image is whole
	# (its file system unmounted with its namespace): a 201, or a 409/503
	# that says retry, never a 500.
	api POST /sandboxes/snap
	is "$STATUS" 200 "create snap"
	exec_in snap 'echo kept > /workspace/a; sleep 1000 >/dev/null 2>&1 & echo ok'
	# (an exec past a second, on a loaded host, takes its worker out of the
	# pool: it exits after its answer, beside its replacement)
	worker_one
	cat >"$T_DIR/gdb3.cmd" <<GDB
break cg_sandbox_freeze
continue
shell for p in \$(cat $(cg_dir pids)/snap/cgroup.procs); do kill -KILL \$p; done; sleep 0.5
delete
detach
GDB
	gdb -p "$W" -batch -x "$T_DIR/gdb3.cmd" >"$T_DIR/gdb3.out" 2>&1 &
	GDB=$!
	gdb_running "$W"
	api POST /sandboxes/snap/snapshots '{"name": "s1"}'
	wait "$GDB"
	grep -q "^Breakpoint 1, cg_sandbox_freeze" "$T_DIR/gdb3.out"
	ok $? "snap's init was killed as the snapshot froze it"
	like "$STATUS" '^(201|409|503)$' "  the snapshot answers 201 (or a retry), not $STATUS"
	diag "  it said: $STATUS $BODY"
	exec_in snap 'cat /workspace/a'
	is "$STATUS:$(jqr .data.stdout)" "200:kept" "  the sandbox starts again with its files"
fi

done_testing
