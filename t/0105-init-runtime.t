#!/bin/bash
# The init's pid and start time are runtime state (issue 18, fourth round):
# kept in an LMDB environment of their own, never synced, under
# DATA/db/run/<boot id> (what an fdatasync of them would protect dies with
# the host anyway).  What every reader sees is what it saw when they were
# in the record: status, exec, a restart of the service, a stop found by
# the capacity scan, a warm claim, a destroy and a new sandbox in the same
# slot.  An environment of another boot (after a reboot nothing in it is
# true, and after a crash it may be torn) is removed whole at the next
# start, never read: its sandboxes show stopped and start again cleanly.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
cg_need pids

BOOT=$(cat /proc/sys/kernel/random/boot_id)
status_of() { api GET "/sandboxes/$1"; jqr .data.status; }

sbd_start --uid-slots 4 --max-running 2 --warm-sandboxes 1
api POST /sandboxes/r1
is "$STATUS" 200 "create r1"
is "$(status_of r1)" running "  status: running"
ok $([ -f "$DATA/db/run/$BOOT/data.mdb" ]; echo $?) "  the runtime store is DATA/db/run/<boot id>"
INIT=$(inits r1)
exec_in r1 'echo hi'
is "$STATUS:$(jqr .data.stdout)" "200:hi" "  exec works"
is "$(inits r1)" "$INIT" "  one init, the one started"

# a restart of the service: the status says what runs (an init the
# service's stop left running is the one recorded, and used)
sbd_again
INIT=$(inits r1)
is "$(status_of r1)" "$([ -n "$INIT" ] && echo running || echo stopped)" \
	"after a restart of the service r1's status says what runs (init: ${INIT:-none})"
exec_in r1 'echo again'
is "$(jqr .data.stdout)" again "  exec works"
[ -n "$INIT" ] && is "$(inits r1)" "$INIT" "  with the init it had (none started again)"
is "$(wc -w <<<"$(inits r1)")" 1 "  one init"

# a warm claim: the warm sandbox's init becomes r2's
warm() { ls -A "$DATA/sandboxes" | grep '^\.w' | head -1; }
for _ in $(seq 1 300); do
	[ -n "$(warm)" ] && [ -n "$(inits "$(warm)")" ] && api GET "/sandboxes/$(warm)" &&
		[ "$(jqr .data.status)" = running ] && break
	sleep 0.1
done
WARM=$(warm)
WINIT=$(inits "$WARM")
isnt "$WINIT" "" "a warm sandbox runs ($WARM)"
api POST /sandboxes/r2
is "$STATUS" 200 "create r2"
is "$(status_of r2)" running "  status: running"
is "$(inits r2)" "$WINIT" "  it is the warm one, claimed (its init kept)"
exec_in r2 'hostname'
is "$(jqr .data.stdout)" r2 "  its hostname is r2"

# --max-running 2: a third stops the least recently active idle one
sleep 1.1
exec_in r2 'true'
api POST /sandboxes/r3
is "$STATUS" 200 "create r3 (max-running 2: r1, idle longest, is stopped)"
is "$(status_of r1)" stopped "  r1: stopped"
is "$(inits r1)" "" "  and its init gone"
is "$(status_of r3)" running "  r3: running"
exec_in r1 'echo back'
is "$STATUS:$(jqr .data.stdout)" "200:back" "  an exec starts r1 again"
is "$(status_of r1)" running "  r1: running"
is "$(wc -w <<<"$(inits r1)")" 1 "  one init"

# a destroy, and a new sandbox in its slot: never the old init's
api POST /sandboxes/r3/destroy
is "$STATUS" 200 "destroy r3"
api GET /sandboxes/r3
is "$STATUS" 404 "  gone"
for _ in $(seq 1 600); do ls -A "$DATA/sandboxes" | grep -q '^\.gone' || break; sleep 0.1; done
api POST /sandboxes/r3
is "$STATUS" 200 "  r3 again (its slot returned)"
is "$(status_of r3)" running "  running"
is "$(wc -w <<<"$(inits r3)")" 1 "  one init"

# a reboot: the inits are gone, the runtime store is of another boot (and
# torn: garbage where its pages were).  Removed, never read.
PRE='
	for id in r1 r2 r3 $(ls -A "$DATA/sandboxes" | grep "^\.w"); do
		for p in $(sandbox_pids "$id"); do kill -KILL "$p" 2>/dev/null; done
	done
	for _ in $(seq 1 600); do [ -z "$(inits r1)$(inits r2)$(inits r3)" ] && break; sleep 0.1; done
	mv "$DATA/db/run/$BOOT" "$DATA/db/run/00000000-0000-0000-0000-000000000000"
	head -c 65536 /dev/urandom >"$DATA/db/run/00000000-0000-0000-0000-000000000000/data.mdb"' sbd_again
is "$(ls "$DATA/db/run" | tr '\n' ' ')" "$BOOT " "after a reboot the runtime store of the other boot is gone"
for id in r1 r2 r3; do
	is "$(status_of "$id")" stopped "  $id: stopped"
done
exec_in r2 'hostname'
is "$STATUS:$(jqr .data.stdout)" "200:r2" "  an exec starts r2 again"
is "$(status_of r2)" running "  r2: running"
is "$(wc -w <<<"$(inits r2)")" 1 "  one init"
api GET /sandboxes
is "$(jqr '[.data.sandboxes[] | select(.status == "running") | .projectId] | sort | join(" ")')" r2 \
	"  the list says r2 alone runs"

done_testing
