#!/bin/bash
# The inits' runtime store (DATA/db/run/<boot id>, t/0105) on a full disk:
# its lock file, mapped MAP_SHARED by every worker, holds a block for each
# of its pages (as DATA/db/lock.mdb: t/0101); made anew after a reboot on a
# disk with no room left, the service still starts and answers, its
# sandboxes show stopped, a start that cannot record its init answers 507
# (no worker dies, no 500, no init left running), and once there is room
# again they start.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

small_fs_setup 320M stat
BOOT=$(cat /proc/sys/kernel/random/boot_id)
OPTS=(--spare-disks 0 --disk-mb 48 --disk-reserve-mb 0)
T_TRAP=fs_cleanup T_DATA=$FS/mnt/data T_WORKERS=3 sbd_start "${OPTS[@]}"
hole() {	# FILE: "allocated/size" when it has a hole, else "" ("none": no file)
	[ -f "$1" ] || { echo none; return; }
	set -- $(stat -c '%b %B %s' "$1")
	[ $(($1 * $2)) -lt "$3" ] && echo "$(($1 * $2))/$3"
}

api POST /sandboxes/f1
is "$STATUS" 200 "create f1"
ok $([ -f "$DATA/db/run/$BOOT/lock.mdb" ]; echo $?) "  the runtime store is there"
is "$(hole "$DATA/db/run/$BOOT/lock.mdb")" "" "  every page of its lock file is allocated"

# a reboot (inits gone) onto a full disk, with no runtime store to reuse
# (an older build's data dir; one of another boot goes first, and what it
# gives back is room for the new one: the other boot's is left empty
# here, as a directory, which has no blocks to give)
PRE='
	for p in $(sandbox_pids f1); do kill -KILL "$p" 2>/dev/null; done
	for _ in $(seq 1 600); do [ -z "$(inits f1)" ] && break; sleep 0.1; done
	rm -rf "$DATA/db/run"
	mkdir -p "$DATA/db/run/00000000-0000-0000-0000-000000000000"
	small_fs_fill "$FS"' sbd_again
api GET /sandboxes/f1
is "$STATUS:$(jqr .data.status)" "200:stopped" "on a full disk after a reboot the service answers: f1 stopped"
grep -q "the inits' runtime store is unavailable for now: .*No space left" "$T_DIR/sandboxd.log"
ok $? "  its new runtime store could not be made (no space), and the log says so"
WORKERS=$(sbd_workers)
exec_in f1 'echo hi'
is "$STATUS" 507 "  an exec that would start it answers 507"
diag "  it said: $(jqr .error)"
is "$(inits f1)" "" "  and leaves no init running"
is "$(sbd_workers)" "$WORKERS" "  no worker died"
api GET /sandboxes/f1
is "$STATUS:$(jqr .data.status)" "200:stopped" "  f1 still stopped"
small_fs_free "$FS"
exec_in f1 'echo hi'
is "$STATUS:$(jqr .data.stdout)" "200:hi" "with room again an exec starts it"
is "$(wc -w <<<"$(inits f1)")" 1 "  one init"
api GET /sandboxes/f1
is "$(jqr .data.status)" running "  status: running"
ok $([ ! -e "$DATA/db/run/00000000-0000-0000-0000-000000000000" ]; echo $?) \
	"  the other boot's store is gone"
is "$(hole "$DATA/db/run/$BOOT/lock.mdb")" "" "  and every page of the new one's lock file is allocated"
api POST /sandboxes/f1/destroy
is "$STATUS" 200 "destroy f1"
done_testing
