#!/bin/bash
# Limits and restart semantics: limits given at create are echoed by GET
# and written to the sandbox's cgroups, clamped to the server's maximum,
# refused when malformed (and then nothing is created); a later POST changes
# memory, pids and CPU of a sandbox but never its disk; exec reports CPU
# time and peak memory per exec; SIGHUP replaces the workers and keeps the
# sandboxes; a full restart finds sandboxes stopped, restarts them on the
# next exec with their files and limits, and a stop leaves no loop device
# or mount of the data dir behind.
# Deterministic: bounded polls for conditions, no sleeps as synchronisation.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
cg_need memory pids cpu cpuacct freezer
# the server's defaults and maxima (a create may ask up to the maxima)
SBD_OPTS=(--memory-mb 256 --pids-max 128 --cpus 1 --disk-mb 64
	--max-memory-mb 512 --max-pids 256 --max-cpus 1.5 --max-disk-mb 128
	--max-workers "${T_WORKERS:-3}")	# a pool of that many: the workers counted at SIGHUP
sbd_start "${SBD_OPTS[@]}"

MASTER=$(cat "$T_DIR/sandboxd.pid")
NWORKERS=${T_WORKERS:-3}
MAXT=(--max-time 120)

# run ID COMMAND [TIMEOUT_MS]: exec; sets STATUS BODY OUT ERR RC.
run() {
	local id=$1 cmd=$2 tmo=${3-}
	api POST "/sandboxes/$id/exec" "$(jq -cn --arg c "$cmd" --arg t "$tmo" \
		'{command: $c} + (if $t == "" then {} else {timeout: ($t | tonumber)} end)')" "${MAXT[@]}"
	OUT=$(jqr .data.stdout)
	ERR=$(jqr .data.stderr)
	RC=$(jqr .data.exitCode)
}
# cgroup knobs of a sandbox as "mem memsw pids quota period" (memsw: - when
# the kernel has no swap accounting, or on cgroup v2: see cg_knob)
knobs() {
	local id=$1 memsw=-
	[ -e "$(cg_dir memory "$id")/memory.memsw.limit_in_bytes" ] &&
		memsw=$(cg_knob memory "$id" memory.memsw.limit_in_bytes)
	printf '%s %s %s %s %s\n' "$(cg_knob memory "$id" memory.limit_in_bytes)" "$memsw" \
		"$(cg_knob pids "$id" pids.max)" \
		"$(cg_knob cpu "$id" cpu.cfs_quota_us)" "$(cg_knob cpu "$id" cpu.cfs_period_us)"
}
# want_knobs MEMORY_MB PIDS QUOTA_US: what knobs should print
want_knobs() {
	local memsw=-
	[ -e "$(cg_dir memory)/memory.memsw.limit_in_bytes" ] && memsw=$(($1 << 20))
	echo "$(($1 << 20)) $memsw $2 $3 100000"
}
limits() { api GET "/sandboxes/$1" "" "${MAXT[@]}"; jqr '.data.limits | "\(.memoryMb) \(.pids) \(.cpus) \(.diskMb)"'; }
img_size() { stat -c %s "$DATA/sandboxes/$1/disk.img" 2>/dev/null; }
# start_again: a second sandboxd on the same data dir, with sbd_start's arguments
start_again() {
	rm -f "$T_DIR/sandboxd.pid"
	"$SANDBOXD" --data "$DATA" --instance "$INSTANCE" --workers "$NWORKERS" \
		--uid-base "$UID_BASE" --uid-slots 64 --pidfile "$T_DIR/sandboxd.pid" "${SBD_OPTS[@]}" \
		>>"$T_DIR/sandboxd.log" 2>&1 &
	SBD_PID=$!
	for _ in $(seq 1 1200); do
		[ -S "$DATA/run/fcgi.sock" ] && [ "$(cat "$T_DIR/sandboxd.pid" 2>/dev/null)" = "$SBD_PID" ] && break
		sleep 0.05
	done
	MASTER=$SBD_PID
}
# stop_service: SIGTERM the master and wait for it
stop_service() {
	kill -TERM "$MASTER"
	for _ in $(seq 1 400); do kill -0 "$MASTER" 2>/dev/null || break; sleep 0.05; done
	! kill -0 "$MASTER" 2>/dev/null
}

# --- limits at create --------------------------------------------------------------

api POST /sandboxes/lim '{"limits":{"memoryMb":100,"pids":50,"cpus":0.5,"diskMb":40}}' "${MAXT[@]}"
is "$STATUS" 200 "create with limits {memoryMb 100, pids 50, cpus 0.5, diskMb 40} answers 200"
is "$(limits lim)" "100 50 0.5 40" "GET echoes the limits"
is "$(knobs lim)" "$(want_knobs 100 50 50000)" \
	"cgroups: memory.limit_in_bytes (and memsw) 100 MiB, pids.max 50, cfs_quota_us 50000 of 100000"
is "$(img_size lim)" $((40 << 20)) "disk.img is 40 MiB"
api GET /sandboxes/lim "" "${MAXT[@]}"
T0=$(jqr .data.usage.diskTotalBytes)
ok $([ "${T0:-0}" -gt $((20 << 20)) ] && [ "${T0:-0}" -le $((40 << 20)) ]; echo $?) \
	"usage.diskTotalBytes is the 40 MiB file system's size ($T0)"
run lim 'df -Pk / | sed -n 2p'
ok $([ "$(printf '%s' "$OUT" | awk '{print $2}')" -le 40960 ] 2>/dev/null; echo $?) "inside, df / shows at most 40 MiB ($OUT)"

api POST /sandboxes/dflt "" "${MAXT[@]}"
is "$STATUS" 200 "create without a body answers 200"
is "$(limits dflt)" "256 128 1 64" "GET shows the server's defaults (--memory-mb 256 --pids-max 128 --cpus 1 --disk-mb 64)"
is "$(knobs dflt)" "$(want_knobs 256 128 100000)" "cgroups carry the defaults"
is "$(img_size dflt)" $((64 << 20)) "disk.img is 64 MiB"

api POST /sandboxes/some '{"limits":{"pids":77}}' "${MAXT[@]}"
is "$(limits some)" "256 77 1 64" "a create with only limits.pids takes the defaults for the rest"
is "$(knobs some)" "$(want_knobs 256 77 100000)" "and its cgroups say so"

api POST /sandboxes/big '{"limits":{"memoryMb":100000,"pids":100000,"cpus":64,"diskMb":100000}}' "${MAXT[@]}"
is "$STATUS" 200 "a create asking more than the maxima answers 200"
is "$(limits big)" "512 256 1.5 128" "the limits are clamped to --max-memory-mb 512 --max-pids 256 --max-cpus 1.5 --max-disk-mb 128"
is "$(knobs big)" "$(want_knobs 512 256 150000)" "cgroups carry the clamped limits"
is "$(img_size big)" $((128 << 20)) "disk.img is the clamped 128 MiB"

# --- malformed limits: 400, nothing created ----------------------------------------------

N=0
for body in \
	'{"limits":{"memoryMb":-1}}' '{"limits":{"memoryMb":"64"}}' '{"limits":{"memoryMb":0}}' \
	'{"limits":{"pids":-5}}' '{"limits":{"pids":"many"}}' '{"limits":{"pids":0}}' \
	'{"limits":{"cpus":-0.5}}' '{"limits":{"cpus":"1"}}' '{"limits":{"cpus":0}}' \
	'{"limits":{"diskMb":-32}}' '{"limits":{"diskMb":"32"}}' '{"limits":{"diskMb":0}}' \
	'{"limits":{"memoryMb":true}}' '{"limits":{"pids":[64]}}' '{"limits":{"cpus":{"n":1}}}' \
	'{"limits":"big"}' '{"limits":[64]}' '{"limits":{"memoryMb":64,"pids":-1}}'; do
	N=$((N + 1))
	api POST /sandboxes/bad-$N "$body" "${MAXT[@]}"
	is "$STATUS" 400 "create with $body answers 400"
	is "$(jqr '.success == false and (.error | type == "string" and length > 0)')" true "  with a JSON error ($(jqr .error))"
	api GET /sandboxes/bad-$N "" "${MAXT[@]}"
	ok $([ "$STATUS" = 404 ] && [ ! -e "$DATA/sandboxes/bad-$N" ] &&
		[ ! -e "$(cg_dir pids "bad-$N")" ]; echo $?) \
		"  and nothing was created (GET 404 ($STATUS), no directory, no cgroup)"
done
api POST /sandboxes/lim '{"limits":{"memoryMb":-1,"pids":60}}' "${MAXT[@]}"
is "$STATUS" 400 "malformed limits on an existing sandbox answer 400"
is "$(limits lim) | $(knobs lim)" "100 50 0.5 40 | $(want_knobs 100 50 50000)" "and change nothing (not even the valid pids)"

# --- new limits on an existing sandbox ---------------------------------------------------

run lim 'echo keep > /workspace/keep.txt && cat /workspace/keep.txt'
is "$OUT" keep "lim writes a file before its limits change"
INIT=$(init_of lim)
api POST /sandboxes/lim '{"limits":{"memoryMb":200,"pids":70,"cpus":0.25,"diskMb":80}}' "${MAXT[@]}"
is "$STATUS" 200 "POST raising memory to 200, pids to 70, cpus 0.25, diskMb 80 on the running sandbox answers 200"
[ "$STATUS" = 200 ] || diag "answer: $BODY"
is "$(limits lim)" "200 70 0.25 40" "GET shows the new memory, pids and cpus, and the old diskMb 40"
is "$(knobs lim)" "$(want_knobs 200 70 25000)" "the cgroup files change: 200 MiB, pids.max 70, cfs_quota_us 25000"
is "$(img_size lim)" $((40 << 20)) "disk.img stays 40 MiB"
api POST /sandboxes/lim '{"limits":{"memoryMb":80,"pids":40,"cpus":0.75}}' "${MAXT[@]}"
is "$STATUS" 200 "POST lowering memory to 80, pids to 40, cpus 0.75 answers 200"
is "$(limits lim)" "80 40 0.75 40" "GET shows them"
is "$(knobs lim)" "$(want_knobs 80 40 75000)" "the cgroup files change: 80 MiB, pids.max 40, cfs_quota_us 75000"
is "$(init_of lim)" "$INIT" "the sandbox kept running through the changes (same init)"
run lim 'cat /workspace/keep.txt; df -Pk / | sed -n 2p'
is "$(printf '%s\n' "$OUT" | head -n 1)" keep "its files are untouched"
ok $([ "$(printf '%s\n' "$OUT" | tail -n 1 | awk '{print $2}')" -le 40960 ] 2>/dev/null; echo $?) \
	"and its file system is still at most 40 MiB"
# the new pids limit holds for the running sandbox: children block on a pipe
run lim 'python3 -c "
import os
r, w = os.pipe()
n = 0
for i in range(60):
    try:
        p = os.fork()
    except OSError:
        break
    if p == 0:
        os.close(w)
        os.read(r, 1)
        os._exit(0)
    n += 1
os.close(w)
print(n)
while n:
    os.wait()
    n -= 1
"' 60000
ok $([ -n "$OUT" ] && [ "$OUT" -lt 40 ] 2>/dev/null; echo $?) "with pids 40, a process forks only $OUT of 60 children"

# --- CPU time and peak memory per exec ---------------------------------------------------

api GET /sandboxes/dflt "" "${MAXT[@]}"
CPU0=$(jqr .data.usage.cpuTimeMs)
run dflt 'python3 -c "
n = 0
for i in range(3000000):
    n += i
print(n)"' 60000
is "$OUT" 4499998500000 "a CPU-bound loop runs"
CPUT=$(jqr .data.cpuTimeMs)
ok $([ "${CPUT:-0}" -gt 0 ] 2>/dev/null; echo $?) "exec reports cpuTimeMs > 0 for it ($CPUT)"
api GET /sandboxes/dflt "" "${MAXT[@]}"
CPU1=$(jqr .data.usage.cpuTimeMs)
ok $([ "$CPU1" -ge $((CPU0 + CPUT - 1)) ] 2>/dev/null; echo $?) \
	"the sandbox's usage.cpuTimeMs grew by at least that ($CPU0 -> $CPU1)"
run dflt 'python3 -c "b = bytearray(64 * 1024 * 1024); b[::4096] = b\"x\" * len(b[::4096]); print(len(b))"' 60000
is "$OUT" 67108864 "a 64 MiB allocation runs"
PEAK=$(jqr .data.peakMemoryKb)
ok $([ "${PEAK:-0}" -gt 50000 ] 2>/dev/null; echo $?) "exec reports peakMemoryKb > 50000 for it ($PEAK)"
is "$(jqr .data.oomKilled)" false "and oomKilled false"
run dflt 'echo small'
PEAK2=$(jqr .data.peakMemoryKb)
ok $([ "${PEAK2:-999999}" -lt 50000 ] && [ "${PEAK2:-0}" -gt 0 ] 2>/dev/null; echo $?) \
	"the next, small exec reports its own peak, not the sandbox's ($PEAK2 kB)"

# --- SIGHUP: new workers, same sandboxes ---------------------------------------------------

INIT=$(init_of lim)
W0=$(sbd_workers)
is "$(echo $W0 | wc -w)" "$NWORKERS" "$NWORKERS workers before SIGHUP ($W0)"
sbd_reload
ok $? "SIGHUP: the log says the reload is done"
W1=$(sbd_workers)
is "$(echo $W1 | wc -w)" "$NWORKERS" "after SIGHUP there are $NWORKERS workers again ($W1)"
SAME=
for w in $W0; do case " $W1 " in *" $w "*) SAME="$SAME $w" ;; esac; done
is "$SAME" "" "none of them is an old worker"
ok $(kill -0 "$MASTER" 2>/dev/null; echo $?) "the master is the same process ($MASTER)"
is "$(init_of lim)" "$INIT" "the sandbox's init kept its host pid ($INIT)"
run lim 'cat /workspace/keep.txt'
is "$OUT" keep "exec works after SIGHUP"
is "$(knobs lim)" "$(want_knobs 80 40 75000)" "and the sandbox's cgroup limits are unchanged"

# --- a full restart ---------------------------------------------------------------------

stop_service
ok $? "SIGTERM stops the master"
wait "$SBD_PID" 2>/dev/null
start_again
is "$(cat "$T_DIR/sandboxd.pid" 2>/dev/null)" "$SBD_PID" "a second sandboxd starts on the same data dir (pid $SBD_PID)"
api GET /sandboxes/lim "" "${MAXT[@]}"
is "$STATUS" 200 "after the restart, GET lim answers 200"
is "$(jqr .data.status)" stopped "and says stopped"
is "$(limits lim)" "80 40 0.75 40" "its limits survived the restart"
run lim 'cat /workspace/keep.txt'
is "$STATUS" 200 "the next exec answers 200"
is "$OUT" keep "and starts the sandbox transparently: its files are still there"
api GET /sandboxes/lim "" "${MAXT[@]}"
is "$(jqr .data.status)" running "GET says running again"
is "$(knobs lim)" "$(want_knobs 80 40 75000)" "the restarted sandbox's cgroups carry its limits"
is "$(img_size lim)" $((40 << 20)) "its disk.img is still 40 MiB"
run big 'echo big-ok'
is "$OUT" big-ok "another sandbox starts again too"
is "$(knobs big)" "$(want_knobs 512 256 150000)" "with its own limits"

# --- the final stop leaves no loop device and no mount ---------------------------------------

stop_service
ok $? "SIGTERM stops the second master"
wait "$SBD_PID" 2>/dev/null
rm -f "$T_DIR/sandboxd.pid"
LOOPS=
for _ in $(seq 1 1200); do
	LOOPS=$(losetup -a 2>/dev/null | grep -F "$DATA/")
	[ -z "$LOOPS" ] && break
	sleep 0.05
done
is "$LOOPS" "" "no loop device (losetup -a) references $DATA"
is "$(grep -l -F "$DATA" /proc/[0-9]*/mountinfo 2>/dev/null | tr '\n' ' ')" "" "no mount of any process references $DATA"
ok $([ -s "$DATA/sandboxes/lim/disk.img" ] && [ -s "$DATA/sandboxes/big/disk.img" ]; echo $?) "the disk images stay"

done_testing
