#!/bin/bash
# The files every worker maps MAP_SHARED (DATA/run/quota, the LMDB lock
# files DATA/db/lock.mdb and DATA/db/history/lock.mdb) hold a block for
# each of their pages: a store into a hole of such a mapping needs a block,
# and on a full file system that store is a SIGBUS (a worker dead at its
# request's first step, nginx's 502/503 for everyone; t/0096 part 3 shows
# it with streams).  So:
#  - after a start, every byte of each of them is allocated;
#  - a data dir an older build left them sparse in gets them allocated at
#    the next start; on a full file system that start is refused, saying
#    so (never a start whose workers die later);
# (Workers on a full disk past the first page's slots: t/0096, part 3.)
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

small_fs_setup 256M stat
fill_host() { small_fs_fill "$FS"; }
free_host() { small_fs_free "$FS"; }
MAPPED="run/quota db/lock.mdb db/history/lock.mdb"
# the files of MAPPED with a hole: "NAME:allocated/size" each
holes() {
	local f out=
	for f in $MAPPED; do
		set -- $(stat -c '%b %B %s' "$DATA/$f")
		[ $(($1 * $2)) -lt "$3" ] && out="$out $f:$(($1 * $2))/$3"
	done
	echo "${out# }"
}
stop_service() {
	local pid
	pid=$(cat "$T_DIR/sandboxd.pid")
	kill -TERM "$pid"
	for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	[ -f "$T_DIR/nginx.pid" ] && kill -QUIT "$(cat "$T_DIR/nginx.pid")" 2>/dev/null
	rm -f "$T_DIR/sandboxd.pid" "$T_DIR/nginx.pid"
}

T_TRAP=fs_cleanup T_DATA=$FS/mnt/data T_WORKERS=3 sbd_start --spare-disks 0
api GET /sandboxes/nosuch
is "$STATUS" 404 "the service answers"
is "$(holes)" "" "every page of the shared-mapped files is allocated after a start"
stop_service
T1=$T_DIR

# an older build's files: all but the first page a hole
for f in $MAPPED; do fallocate -p -o 4096 -l $(($(stat -c %s "$DATA/$f") - 4096)) "$DATA/$f"; done
ok $([ -n "$(holes)" ]; echo $?) "  holes punched as an older build left them ($(holes))"
fill_host
"$SANDBOXD" --data "$DATA" --instance "t$$y" --workers 3 --spare-disks 0 --uid-base "$UID_BASE" \
	--uid-slots 64 >"$T1/refused.log" 2>&1 &
P=$!
for _ in $(seq 1 600); do kill -0 "$P" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$P" 2>/dev/null; then
	kill -TERM "$P"
	wait "$P"
	rc=running
else
	wait "$P"
	rc=$?
fi
is "$rc" 1 "on a full disk, a start that cannot allocate them is refused (exit 1, not running)"
diag "  it said: $(grep -m1 'sandboxd: ' "$T1/refused.log")"
grep -q 'sandboxd: data dir: .*No space left on device' "$T1/refused.log"
ok $? "  and says why (no space)"
free_host

# a start with room allocates them
T_TRAP=fs_cleanup T_DATA=$FS/mnt/data T_WORKERS=3 sbd_start --spare-disks 0
is "$(holes)" "" "a start with room allocates what an older build left sparse"
api GET /sandboxes/nosuch
is "$STATUS" 404 "  and answers"
rm -rf "$T1"
done_testing
