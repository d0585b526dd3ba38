#!/bin/bash
# Warm sandboxes (--warm-sandboxes): started ahead under names no request can
# give; a create of the defaults takes one (renamed: directory, record,
# cgroups, hostname), another is made in the background; a create that asks
# for anything else is made cold; they survive a restart of the service.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
[ "$(cg_version)" = 1 ] ||
	skip_all "warm sandboxes need cgroup v1 (cgroup2 cannot rename a cgroup)"
CONF=$(mktemp /tmp/sbd-warm-conf.XXXXXX)
printf 'warm-sandboxes = 2\nmax-running = 10\n' >"$CONF"
sbd_start --config "$CONF"
trap 'sbd_cleanup; rm -f "$CONF"' EXIT

# warm_ids: the warm sandboxes whose init runs (their directories under DATA)
warm_ids() {
	local d
	for d in "$DATA"/sandboxes/.w*; do
		[ -d "$d" ] || continue
		d=${d##*/}
		[ -n "$(warm_init "$d")" ] && echo "$d"
	done
}
warm_init() {	# the init pid of warm sandbox $1 (from its pids cgroup)
	local p
	for p in $(cat "$(cg_dir pids "$1")/cgroup.procs" 2>/dev/null); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = sandbox-init ] && echo "$p"
	done
}
wait_warm() {	# wait_warm N: bounded wait until N warm sandboxes run
	for _ in $(seq 1 300); do [ "$(warm_ids | wc -l)" -ge "$1" ] && return 0; sleep 0.1; done
	return 1
}

wait_warm 2
ok $? "two warm sandboxes run ahead of any request ($(warm_ids | tr '\n' ' '))"
W_INITS=$(for w in $(warm_ids); do warm_init "$w"; done | sort)

api POST /sandboxes/alpha
is "$STATUS" 200 "create alpha answers 200"
A_INIT=$(init_of alpha)
ok $(printf '%s\n' $W_INITS | grep -qx "$A_INIT"; echo $?) "alpha runs on a warm sandbox's init ($A_INIT)"
ok $([ -d "$DATA/sandboxes/alpha" ] && [ -S "$DATA/sandboxes/alpha/ctl" ]; echo $?) "its directory is alpha's now"
ok $([ -d "$(cg_dir pids alpha)" ] && [ -d "$(cg_dir memory alpha)" ]; echo $?) \
	"and its cgroups"
exec_in alpha 'hostname; echo $HOSTNAME; cat /proc/sys/kernel/hostname'
is "$(echo $(jqr .data.stdout))" "alpha alpha alpha" "inside, the hostname is alpha"
exec_in alpha 'echo hi >/workspace/a.txt && cat /workspace/a.txt && id -u'
is "$(echo $(jqr .data.stdout))" "hi 0" "exec and files work"
api GET /sandboxes/alpha
is "$(jqr .data.status)" running "GET status: running"
api GET /sandboxes/alpha/history
is "$(jqr '.data.entries | length')" 2 "its history holds its own commands only"

wait_warm 2
W_INITS=$(for w in $(warm_ids); do warm_init "$w"; done | sort)
api POST /sandboxes/beta
B_INIT=$(init_of beta)
ok $(printf '%s\n' $W_INITS | grep -qx "$B_INIT"; echo $?) "beta takes a warm sandbox too"
isnt "$B_INIT" "$A_INIT" "another init than alpha's"
exec_in beta 'ls /workspace; hostname'
is "$(jqr .data.stdout)" beta "beta sees none of alpha's files, and its own hostname"
A_UID=$(stat -c %u "$DATA/sandboxes/alpha/upper" 2>/dev/null || stat -c %u "$DATA/sandboxes/alpha")
exec_in alpha 'stat -c %u /workspace/a.txt'
HOST_A=$(cat /proc/"$A_INIT"/uid_map | awk '{print $2}')
HOST_B=$(cat /proc/"$B_INIT"/uid_map | awk '{print $2}')
isnt "$HOST_A" "$HOST_B" "alpha and beta have their own uid ranges ($HOST_A, $HOST_B)"

wait_warm 2
ok $? "two warm sandboxes again, made in the background"
NEW=$(for w in $(warm_ids); do warm_init "$w"; done | sort)
ok $(! printf '%s\n' $NEW | grep -qx "$A_INIT\|$B_INIT"; echo $?) "new ones, not alpha's or beta's"

api POST /sandboxes/gamma '{"limits": {"memoryMb": 200}}'
is "$STATUS" 200 "a create with limits answers 200"
ok $(! printf '%s\n' $NEW | grep -qx "$(init_of gamma)"; echo $?) "and is made cold (a warm one has the default limits)"
is "$(warm_ids | wc -l | tr -d ' ')" 2 "the warm ones stay"

api GET "/sandboxes/$(warm_ids | head -n 1)"
is "$STATUS" 400 "a warm sandbox cannot be named by a request (400)"
api GET /metrics
like "$BODY" 'sandboxd_sandboxes\{state="warm"\} 2' "/metrics counts them apart"
like "$BODY" 'sandboxd_sandboxes\{state="running"\} 3' "and running: alpha, beta, gamma"


# ten requests at once to a new id (create on demand): one sandbox, and the
# warm ones taken afterwards carry nothing of it
api POST /sandboxes/alpha
CURLS=
for i in $(seq 1 10); do
	curl -s -o /dev/null --max-time 60 -X POST -H 'Content-Type: application/json' \
		-d "{\"command\": \"touch /workspace/mark-$i\"}" "$BASE/sandboxes/race/exec" &
	CURLS="$CURLS $!"
done
wait $CURLS
exec_in race 'ls /workspace | wc -l; hostname'
is "$(echo $(jqr .data.stdout))" "10 race" "ten concurrent first requests to race: one sandbox with all ten files"
wait_warm 2
for n in after1 after2; do
	api POST /sandboxes/$n
	exec_in $n 'ls -A /workspace | wc -l; hostname'
	is "$(echo $(jqr .data.stdout))" "0 $n" "$n, taken from the warm ones after the race, is empty and named $n"
done

# back to back: the filler, woken by each claim's rename, starts the next
# warm sandbox beside the next claim; it never takes the one being claimed
# (its directory renamed, its record not yet) for a leftover to discard
for i in $(seq 1 16); do
	api POST /sandboxes/burst$i
	[ "$STATUS" = 200 ] || break
done
is "$STATUS" 200 "16 creates back to back answer 200"
is "$(grep -c 'event=sandbox.discarded' "$T_DIR/sandboxd.log")" 0 \
	"  and the filler discarded no warm sandbox meanwhile"
exec_in burst16 'hostname'
is "$(jqr .data.stdout)" "burst16" "  the last one runs, named burst16"
wait_warm 2

# a warm sandbox whose directory is gone (what a crash in the middle of a
# claim leaves): creates go on, and the filler discards it
GONE=$(warm_ids | head -n 1)
GONE_INIT=$(warm_init "$GONE")
mv "$DATA/sandboxes/$GONE" "$DATA/sandboxes/.moved-away"
api POST /sandboxes/zeta "" --max-time 20
is "$STATUS" 200 "a create answers while a warm sandbox has lost its directory (no lock is held twice)"
for _ in $(seq 1 600); do [ -r "/proc/$GONE_INIT/status" ] || break; sleep 0.1; done
ok $([ ! -r "/proc/$GONE_INIT/status" ]; echo $?) "the filler stops that warm sandbox's init"
wait_warm 2
ok $(! warm_ids | grep -qx "$GONE"; echo $?) "and two others run in its place"

# new default limits at SIGHUP: the warm ones started with the old ones go
OLD=$(warm_ids | sort)
printf 'warm-sandboxes = 2\nmax-running = 10\nmemory-mb = 300\n' >"$CONF"
kill -HUP "$(cat "$T_DIR/sandboxd.pid")"
for _ in $(seq 1 300); do
	NOW=$(warm_ids | sort)
	[ "$(printf '%s\n' $NOW | wc -l)" -ge 2 ] && [ -z "$(comm -12 <(printf '%s\n' $OLD) <(printf '%s\n' $NOW))" ] && break
	sleep 0.1
done
is "$(comm -12 <(printf '%s\n' $OLD) <(printf '%s\n' $NOW) | wc -l | tr -d ' ')" 0 \
	"after a reload with another memory-mb, the warm sandboxes started before are replaced"
api POST /sandboxes/eta
api GET /sandboxes/eta
is "$(jqr .data.limits.memoryMb)" 300 "a create then has the new default (300 MiB)"
is "$(cg_knob memory eta memory.limit_in_bytes)" $((300 << 20)) \
	"and so has its cgroup"

# a restart: the warm ones start again, the claimed ones keep their files
kill -TERM "$(cat "$T_DIR/sandboxd.pid")"
for _ in $(seq 1 300); do kill -0 "$(cat "$T_DIR/sandboxd.pid")" 2>/dev/null || break; sleep 0.1; done
ok $([ "$(warm_ids | wc -l)" -eq 0 ]; echo $?) "the service's stop stops the warm sandboxes too" ||
	diag "left: $(warm_ids) $(ls "$(cg_dir pids)"/ 2>&1 | tr '\n' ' ')"
"$SANDBOXD" --config "$CONF" --data "$DATA" --instance "$INSTANCE" --workers 3 --uid-base "$UID_BASE" --uid-slots 64 \
	--pidfile "$T_DIR/sandboxd.pid" >>"$T_DIR/sandboxd.log" 2>&1 &
wait_warm 2
ok $? "after a restart two warm sandboxes run again"
exec_in alpha 'cat /workspace/a.txt; hostname'
is "$(echo $(jqr .data.stdout))" "hi alpha" "alpha keeps its files and name when it starts again"

done_testing
