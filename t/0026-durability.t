#!/bin/bash
# Durability under faults (issue 13): the data dir lives on a small ext4 of
# the test's own (a loop device), filled from the host.  A write the files
# API acknowledged survives a full host disk and a restart, or is refused
# with 507; the sandbox's file system takes no error; a create with no room
# answers 507 and leaves the projectId usable; a create killed between its
# steps (fault injection, a test build) heals on the next request; after a
# kill -9 of the master its workers exit by themselves and a new master
# removes the old exec cgroups (and their processes) before serving.
. "$(dirname "$0")/lib.sh"

OLD_WORKERS=
SLEEPER=
HOLDER=
fs_cleanup() {
	local p
	[ -n "$SLEEPER" ] && kill "$SLEEPER" 2>/dev/null
	[ -n "$HOLDER" ] && kill -KILL "$HOLDER" 2>/dev/null
	sbd_cleanup
	# workers a crashed master left (today's code): ours, by pid
	for p in $OLD_WORKERS; do kill -KILL "$p" 2>/dev/null; done
	mountpoint -q "$FS/snap" && umount "$FS/snap"
	small_fs_remove "$FS"
}
small_fs_setup 320M dumpe2fs debugfs
mkdir -p "$FS/faults"

# 48 MiB sandbox disks on a 320 MiB host; preallocated, 8 MiB kept free
OPTS=(--disk-mb 48 --spare-disks 0 --disk-prealloc --disk-reserve-mb 8)
[ -n "${T26_OLD:-}" ] && OPTS=(--disk-mb 48 --spare-disks 0)	# today's code: no such options
export SANDBOXD_FAULTS=$FS/faults
T_TRAP=fs_cleanup T_DATA=$FS/mnt/data sbd_start "${OPTS[@]}"

# the master again, as sbd_start starts it (same data, instance, socket)
sbd_restart() {
	"$SANDBOXD" --data "$DATA" --instance "$INSTANCE" --workers "${T_WORKERS:-3}" \
		--uid-base "$UID_BASE" --uid-slots 64 --pidfile "$T_DIR/sandboxd.pid" "${OPTS[@]}" \
		>>"$T_DIR/sandboxd.log" 2>&1 &
	for _ in $(seq 1 1200); do
		[ -S "$DATA/run/fcgi.sock" ] && curl -s -o /dev/null "$BASE/" && break
		sleep 0.05
	done
}
sbd_stop() {
	local pid; pid=$(cat "$T_DIR/sandboxd.pid")
	kill -TERM "$pid"
	for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	rm -f "$DATA/run/fcgi.sock"
}
fill_host() { small_fs_fill "$FS" 64k; }	# (nearly) no free block
free_host() { small_fs_free "$FS"; }
leave_host() {	# leave_host KIB: fill the host file system up to KIB free
	local avail
	avail=$(df -B1 --output=avail "$FS/mnt" | tail -n 1)
	fallocate -l $((avail - $1 * 1024)) "$FS/mnt/filler"
	sync -f "$FS/mnt"
}
fs_state() { dumpe2fs -h "$DATA/sandboxes/$1/disk.img" 2>/dev/null | sed -n 's/^Filesystem state: *//p'; }
put() { api PUT "/sandboxes/$1/files/workspace/$2" "" -H "Content-Type: application/octet-stream" --data-binary "$3"; }
get() { api GET "/sandboxes/$1/files/workspace/$2?raw=1"; }
# on_image ID NAME: the file's content in a copy of the sandbox's disk.img
# taken now, mounted (its journal replayed): what a power cut at this point
# would leave of what the files API acknowledged
on_image() {
	local copy=$FS/snap.img
	mkdir -p "$FS/snap"
	cp --sparse=always "$DATA/sandboxes/$1/disk.img" "$copy" || { echo "(no copy)"; return; }
	if ! mount -o loop "$copy" "$FS/snap" 2>/dev/null; then
		echo "(no mount)"
		rm -f "$copy"
		return
	fi
	cat "$FS/snap/upper/workspace/$2" 2>&1
	umount "$FS/snap"
	rm -f "$copy"
}

# --- a full host disk ----------------------------------------------------

api POST /sandboxes/d1
is "$STATUS" 200 "create d1"
put d1 keep.txt "kept before the disk filled"
is "$STATUS" 200 "PUT keep.txt"
# the data, then the name, reach the image before the answer: a copy of
# disk.img taken right after the 200 holds the file, whole, under its name
put d1 acked.txt "on the disk image when the 200 came"
is "$STATUS" 200 "PUT acked.txt"
is "$(on_image d1 acked.txt)" "on the disk image when the 200 came" \
	"  a copy of the disk image taken at the 200 holds it (fsync of the file and of its directory)"
api PUT "/sandboxes/d1/files/workspace/new/deeper/acked.txt" "" \
	-H "Content-Type: application/octet-stream" --data-binary "made with its parents"
is "$STATUS" 200 "PUT new/deeper/acked.txt (its parents made on the way)"
is "$(on_image d1 new/deeper/acked.txt)" "made with its parents" \
	"  a copy of the disk image taken at the 200 holds it and the directories made on the way"

fill_host
diag "host free after the filler: $(df -B1 --output=avail "$FS/mnt" | tail -n 1) bytes"
put d1 during.txt "written while the host disk is full"
DURING=$STATUS
like "$STATUS" '^(200|507)$' "PUT during.txt with the host full: 200 or 507 ($STATUS)"
[ "$STATUS" = 507 ] && like "$(jqr .error)" 'space|disk' "  the 507 says why: $(jqr .error)"
exec_in d1 'sync; touch /workspace/after-sync && echo ok'
is "$(jqr .data.stdout)" "ok" "sync then touch inside the sandbox work (no read-only file system)"
is "$(fs_state d1)" "clean" "the sandbox's file system took no error"
api POST /sandboxes/d2
is "$STATUS" 507 "a create with no room on the host answers 507"
like "$(jqr .error)" 'space|disk' "  with an error that says so: $(jqr .error)"

free_host
put d1 after.txt "written once the disk had room"
is "$STATUS" 200 "after space is freed a write works, without a restart"
api POST /sandboxes/d2
is "$STATUS" 200 "after space is freed the same projectId is created"
exec_in d2 'echo hi > /workspace/x && cat /workspace/x'
is "$(jqr .data.stdout)" "hi" "  and works"

# acknowledged writes survive a restart of the service (sandboxes stopped)
sbd_stop
sbd_restart
get d1 keep.txt
is "$BODY" "kept before the disk filled" "keep.txt survives a restart"
if [ "$DURING" = 200 ]; then
	get d1 during.txt
	is "$BODY" "written while the host disk is full" "during.txt (answered 200) survives a restart"
fi
get d1 after.txt
is "$STATUS" 200 "after.txt survives a restart"
is "$(fs_state d1)" "clean" "the sandbox's file system is clean after the restart"
api GET /sandboxes/d1
is "$(jqr .data.diskHealthy)" "true" "GET status reports the disk healthy"

# --- a file system that took an error is repaired at its next start ------

sbd_stop
IMG=$DATA/sandboxes/d1/disk.img
for _ in $(seq 1 600); do [ -z "$(losetup -j "$IMG")" ] && break; sleep 0.1; done
debugfs -w -R "ssv state 3" "$IMG" >/dev/null 2>&1	# valid, with errors
is "$(fs_state d1)" "clean with errors" "(the test marks d1's file system as having had errors)"
sbd_restart
api GET /sandboxes/d1
is "$(jqr .data.diskHealthy)" "false" "GET status reports the disk unhealthy"
exec_in d1 'cat /workspace/keep.txt && touch /workspace/y && echo ok'
is "$(jqr .data.stdout)" "kept before the disk filledok" "its next start repairs it: files there, writable"
is "$(fs_state d1)" "clean" "  the file system is clean again (e2fsck)"
grep -q "event=sandbox.disk_errors id=d1 .*action=e2fsck" "$T_DIR/sandboxd.log" &&
	grep -q "event=sandbox.disk_repaired id=d1 .*healthy=1" "$T_DIR/sandboxd.log"
ok $? "  the log says so (sandbox.disk_errors, sandbox.disk_repaired)"
api GET /metrics
like "$BODY" 'sandboxd_disk_errors_total 1' "  /metrics counts it"
api GET /sandboxes/d1
is "$(jqr .data.diskHealthy)" "true" "  GET status reports it healthy"

# --- a create killed between its steps -----------------------------------

# the hooks exist only in a test build (configure --enable-fault-injection,
# as ./dev builds); a release build (distcheck's) has none: skipped there
# start-recorded: the init's pid is recorded while it builds its root, and
# the worker is killed before the init says it is ready
POINTS="create-staged create-published disk-made start-recorded"
if ! grep -q SANDBOXD_FAULTS "$SANDBOXD"; then
	diag "not a fault-injection build (configure --enable-fault-injection): no create is killed"
	POINTS=
fi
for point in $POINTS; do
	touch "$FS/faults/$point"
	api POST "/sandboxes/f-$point"
	ok $([ ! -e "$FS/faults/$point" ]; echo $?) "fault $point fired (the create's worker was killed: $STATUS)"
	api POST "/sandboxes/f-$point"
	is "$STATUS" 200 "  the next create of that projectId answers 200"
	exec_in "f-$point" 'echo fine'
	is "$(jqr .data.stdout)" "fine" "  and the sandbox works"
	is "$(for p in $(sandbox_pids "f-$point"); do cat "/proc/$p/comm" 2>/dev/null; done | tr "\n" " ")" "sandbox-init " \
		"  with one init in its cgroup (none leaked, none started twice)"
	api GET "/sandboxes/f-$point"
	is "$(jqr .data.status)" running "  and its status says running (the recorded init is the one that runs)"
	# its disk's room back for the next point's (a small host)
	api POST "/sandboxes/f-$point/destroy"
	is "$STATUS" 200 "  and it is destroyed"
done
rm -f "$FS/faults/"*
is "$(ls -A "$DATA/sandboxes" | grep -c '^\.new')" 0 "no staged create is left behind"

# --- sparse disks (the default): the reserve guards the host -------------

sbd_stop
# a clone is admitted for its byte cap (at most the disk's size): 1 MiB
# here, so that one still fits the host after its sandboxes' disks grew
OPTS=(--disk-mb 48 --spare-disks 0 --disk-reserve-mb 8 --clone-max-mb 1)
sbd_restart
api POST /sandboxes/s1
is "$STATUS" 200 "create s1 with a sparse disk"
put s1 keep "kept"
fill_host
put s1 during.txt "x"
is "$STATUS" 507 "with sparse disks a write with the host full answers 507"
like "$(jqr .error)" 'short of disk space' "  before anything is written: $(jqr .error)"
api POST /sandboxes/s2
is "$STATUS" 507 "  and so does a create"
# every operation that may write into the sandbox's disk is admitted
# against the reserve first: 507 before anything is written, no damage
api POST /sandboxes/s1/mkdir '{"path":"dir1"}'
is "$STATUS" 507 "  a mkdir answers 507"
like "$(jqr .error)" 'short of disk space' "    $(jqr .error)"
api POST /sandboxes/s1/rename '{"from":"keep","to":"kept"}'
is "$STATUS" 507 "  a rename answers 507"
api DELETE /sandboxes/s1/files/workspace/gone.txt
is "$STATUS" 507 "  a delete answers 507 (its journal commit needs host blocks too)"
exec_in s1 'echo hi > /workspace/exec.txt'
is "$STATUS" 507 "  an exec answers 507"
like "$(jqr .error)" 'short of disk space' "    $(jqr .error)"
api POST /sandboxes/s1/processes '{"command":"echo hi > /workspace/proc.txt"}'
is "$STATUS" 507 "  a process start answers 507"
api POST /sandboxes/s1/clone '{"repoUrl":"https://example.invalid/r.git"}'
is "$STATUS" 507 "  a clone answers 507"
like "$(jqr .error)" 'short of disk space' "    $(jqr .error)"
free_host
# a create is charged what making its disk writes at once (mke2fs's
# metadata, about 2 MiB for 48 MiB of disk), not nothing: with the reserve
# plus 1 MiB free it would go below the reserve
leave_host $(( (8 + 1) * 1024 ))
api POST /sandboxes/s2
is "$STATUS" 507 "  a create with the reserve + 1 MiB free answers 507 (its disk's metadata would eat into the reserve)"
like "$(jqr .error)" 'a create needs [1-9]' "    $(jqr .error)"
free_host
fill_host
api GET "/sandboxes/s1/files/workspace/keep?raw=1"
is "$STATUS:$BODY" "200:kept" "  a read still works"
free_host
put s1 during.txt "x"
is "$STATUS" 200 "  once space is freed, writes work again"
api POST /sandboxes/s1/mkdir '{"path":"dir1"}'
is "$STATUS" 200 "  and a mkdir"
exec_in s1 'touch /workspace/dir1/t && echo ok'
is "$(jqr .data.stdout)" "ok" "  and an exec that writes"
is "$(fs_state s1)" "clean" "  s1's file system took no error"

# concurrent writes are admitted against free space minus what the others
# are writing: a write held (its sandbox frozen) after its admission counts
freeze_sb() {	# freeze_sb ID 1|0
	local v1=/sys/fs/cgroup/freezer/sandboxd-$INSTANCE/$1/freezer.state
	if [ -e "$v1" ]; then
		[ "$2" = 1 ] && echo FROZEN >"$v1" || echo THAWED >"$v1"
	else
		find /sys/fs/cgroup -maxdepth 4 -type d -path "*/sandboxd-$INSTANCE/$1" -exec sh -c "echo $2 >\"\$1/cgroup.freeze\"" _ {} \;
	fi
}
api POST /sandboxes/s3
head -c $((10 << 20)) /dev/urandom >"$FS/ten"
avail=$(df -B1 --output=avail "$FS/mnt" | tail -n 1)
# room for one 10 MiB write beyond the 8 MiB reserve, not two
fallocate -l $((avail - (8 << 20) - (15 << 20))) "$FS/mnt/filler"
diag "host free: $(( $(df -B1 --output=avail "$FS/mnt" | tail -n 1) >> 20 )) MiB"
freeze_sb s1 1
curl -s -o "$FS/a.out" -w '%{http_code}' -X PUT -H "Content-Type: application/octet-stream" \
	--data-binary @"$FS/ten" "$BASE/sandboxes/s1/files/workspace/a.bin" >"$FS/a.code" &
APID=$!
# A is in flight (admitted) once a worker waits in poll(2) to feed s1's
# frozen init; the others wait in accept(2)
inflight=
for _ in $(seq 1 300); do
	for w in $(sbd_workers); do
		case $(cat "/proc/$w/wchan" 2>/dev/null) in *poll*) inflight=$w ;; esac
	done
	[ -n "$inflight" ] && break
	sleep 0.1
done
diag "workers: $(for w in $(sbd_workers); do printf '%s:%s ' "$w" "$(cat /proc/$w/wchan)"; done)"
ok $([ -n "$inflight" ]; echo $?) "a 10 MiB write to s1 (frozen) is in flight in worker $inflight"
api PUT /sandboxes/s3/files/workspace/b.bin "" -H "Content-Type: application/octet-stream" --data-binary @"$FS/ten"
is "$STATUS" 507 "a second 10 MiB write while the first is in flight answers 507 (together they overrun the reserve)"
like "$(jqr .error)" 'being written by other requests' "  $(jqr .error)"
freeze_sb s1 0
wait "$APID"
is "$(cat "$FS/a.code")" 200 "  the first write (thawed) completes: 200"
rm -f "$FS/mnt/filler" "$FS/ten"
is "$(fs_state s1):$(fs_state s3)" "clean:clean" "  no sandbox file system took an error"
exec_in s1 'ls -a /workspace | grep -c sandboxd-write'
is "$(jqr .data.stdout)" "0" "  no temporary file is left in /workspace"

# --- a file that changes while it is read; a directory we may not read ---

api POST /sandboxes/s3/processes '{"processId":"flip","command":"while :; do head -c 300000 /dev/zero > /workspace/flip; : > /workspace/flip; done"}'
codes=
for i in $(seq 1 30); do
	api GET /sandboxes/s3/files/workspace/flip
	codes="$codes $STATUS"
	codes="$codes $(curl -s -o /dev/null -w '%{http_code}' "$BASE/sandboxes/s3/files/workspace/flip?raw=1")"
done
api DELETE /sandboxes/s3/processes/flip
diag "reads of a file the sandbox keeps truncating: $(echo $codes | tr ' ' '\n' | sort | uniq -c | tr -s ' \n' ' ')"
unlike "$codes" '500' "reads of a file that changes under them never answer 500 (200 or 409)"
like "$(echo $codes | tr ' ' '\n' | sort -u | tr '\n' ' ')" '^(200 |409 )+$' "  only 200 and 409"
UNREAD=$(find /usr -maxdepth 5 -type d ! -perm -o=r 2>/dev/null | head -n 1)
if [ -n "$UNREAD" ]; then
	api GET "/sandboxes/s3/ls?path=$UNREAD"
	is "$STATUS" 403 "ls of a directory the sandbox may not read ($UNREAD, host-owned) answers 403"
	like "$(jqr .error)" 'ermission denied' "  $(jqr .error)"
else
	ok 0 "# SKIP no host directory under /usr unreadable by others"
fi

# --- a sandbox file system that failed under a full host ----------------

# what no admission can stop: a command started before the host filled
# writes on; the sandbox's ext4 takes an error and goes read-only.  The
# API's own writes then answer 507 and say why, and status says unhealthy.
api POST /sandboxes/s4
api POST /sandboxes/s4/processes '{"processId":"writer","command":"while :; do head -c 4194304 /dev/urandom > /workspace/w$((i = (i + 1) % 4)); sync; done"}'
is "$STATUS" 200 "a process writing in a loop runs in s4"
fill_host
for _ in $(seq 1 600); do
	[ "$(fs_state s4)" != clean ] && break
	sleep 0.1
done
diag "s4's file system: $(fs_state s4)"
api DELETE /sandboxes/s4/processes/writer
free_host
api GET /sandboxes/s4
is "$(jqr .data.diskHealthy)" "false" "status says s4's disk is unhealthy at once (before a restart)"
api POST /sandboxes/s4/mkdir '{"path":"dir2"}'
is "$STATUS" 507 "a mkdir on the failed disk answers 507, not 500/403"
like "$(jqr .error)" "sandbox's disk failed" "  $(jqr .error)"
put s4 x.txt "x"
is "$STATUS" 507 "a write answers 507"
api POST /sandboxes/s4/processes '{"command":"true"}'
is "$STATUS" 507 "a process start answers 507"
like "$(jqr .error)" "sandbox's disk failed" "  $(jqr .error)"
api POST /sandboxes/s4/clone '{"repoUrl":"https://example.invalid/r.git"}'
is "$STATUS" 507 "a clone answers 507 (its directory cannot be made on the failed disk), not 502"
like "$(jqr .error)" "sandbox's disk failed" "  $(jqr .error)"

# --- kill -9 of the master ------------------------------------------------

# an exec in flight, in the old generation's exec cgroup
curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
	--data-binary '{"command":"sleep 300","timeout":300000}' "$BASE/sandboxes/d1/exec" &
SLEEPER=$!
EXEC_CG=
for _ in $(seq 1 600); do
	EXEC_CG=$(find /sys/fs/cgroup -maxdepth 4 -type d -path "*/sandboxd-$INSTANCE/d1/e*" 2>/dev/null | head -n 1)
	[ -n "$EXEC_CG" ] && grep -q . "$EXEC_CG/cgroup.procs" 2>/dev/null && break
	sleep 0.1
done
ok $([ -n "$EXEC_CG" ]; echo $?) "an exec in flight has its exec cgroup ($EXEC_CG)"
SLEEP_PIDS=$(cat "$EXEC_CG/cgroup.procs" 2>/dev/null)
OLD_WORKERS=$(sbd_workers)
kill -KILL "$(cat "$T_DIR/sandboxd.pid")"
for _ in $(seq 1 600); do
	left=
	for p in $OLD_WORKERS; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
	[ -z "$left" ] && break
	sleep 0.1
done
is "${left# }" "" "after kill -9 of the master its workers exit by themselves"
kill "$SLEEPER" 2>/dev/null; wait "$SLEEPER" 2>/dev/null; SLEEPER=
# a worker of the old generation that did not die (as a master from before
# PDEATHSIG left them): a process holding the workers' lock as they do
python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "r+"); fcntl.lockf(f, fcntl.LOCK_SH); print("held", flush=True); time.sleep(300)' \
	"$DATA/run/workers.lock" >"$FS/holder.out" 2>&1 &
HOLDER=$!
for _ in $(seq 1 1200); do grep -q held "$FS/holder.out" && break; sleep 0.05; done
sbd_restart
exec_in d1 'echo served'
is "$(jqr .data.stdout)" "served" "a restarted master serves"
ok $([ ! -d "$EXEC_CG" ]; echo $?) "the restarted master removed the old exec cgroup"
left=
for p in $SLEEP_PIDS; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
is "${left# }" "" "  and ended the processes in it"
wait "$HOLDER" 2>/dev/null
ok $([ "$(grep -c held "$FS/holder.out")" = 1 ] && ! kill -0 "$HOLDER" 2>/dev/null; echo $?) \
	"  and a leftover holding the workers' lock was ended before serving"
HOLDER=
like "$(grep 'a previous master left' "$T_DIR/sandboxd.log")" 'ended [1-9][0-9]* processes and [1-9][0-9]* exec cgroups' \
	"  the log says what it ended"
NEW_CG=$(find /sys/fs/cgroup -maxdepth 4 -type d -path "*/sandboxd-$INSTANCE/*/e*" 2>/dev/null | sed 's|.*/||' | sort -u)
for w in $(sbd_workers); do
	n=$(tr '\0' ' ' <"/proc/$w/cmdline" | sed -n 's/.*worker \(e[0-9]*\).*/\1/p')
	[ -n "$n" ] && [ "$n" = "${EXEC_CG##*/}" ] && ok 1 "new worker $w reuses the old exec cgroup name $n"
done
diag "exec cgroups now: $(echo $NEW_CG)"

done_testing
