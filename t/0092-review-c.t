#!/bin/bash
# Review (rev18-c) of the status read's fast paths, from their claims:
#  - the init's liveness through pidfds each worker keeps: never running
#    for an init that exited or whose pid another process took (clone3
#    set_tid), running again after a restart, no pidfd leak over many
#    reads of many sandboxes;
#  - the network counters on a route socket each worker keeps: the host
#    end's, as ip -s link reads them, for the right sandbox (many read in
#    turn, an interface name reused), a socket of each worker's own (after
#    a reload too), and no other sandbox's figures when an answer waits on
#    the socket out of order (put there with pidfd_getfd, as root);
#  - the kept cgroup files and the root's fstatfs: the sandbox's own.
# All inside namespaces this test makes (t/netlib.sh).
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
. "$TOP_SRCDIR/t/netlib.sh"
net_topology "$@"

HELPER="python3 $TOP_SRCDIR/t/review-c-helper.py"
# on cgroup v1, two warm sandboxes: a create of the defaults is a warm
# claim (a sandbox made ahead, renamed); the creates that must reuse an
# interface name ask for other limits (cold)
CONF=$(mktemp /tmp/sbd-rev18c-conf.XXXXXX)
[ "$(cg_version)" = 1 ] && printf 'warm-sandboxes = 2\n' >"$CONF"
COLD='{"limits": {"memoryMb": 512}}'
T_WORKERS=3 sbd_start "${NET_OPTS[@]}" --config "$CONF"
MINE=()	# processes this test made (killed by pid at the end)
trap 'for p in "${MINE[@]}"; do kill -KILL "$p" 2>/dev/null; done; sbd_cleanup; rm -f "$CONF"' EXIT

# statuses ID: 12 reads, 6 at a time (so that every worker answers some:
# one at a time, the same idle worker takes most), sorted and counted
statuses() {
	local urls=() i
	for i in $(seq 1 12); do urls+=("$BASE/sandboxes/$1"); done
	curl -s -Z --parallel-max 6 "${urls[@]}" | jq -r '"\(.data.status):\(.data.usage != null)"' |
		sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }'
}
# keeping PID: how many workers hold a pidfd of PID (its fdinfo's Pid:)
keeping() {
	local w n=0 t=0
	for w in $(sbd_workers); do
		grep -qs "^Pid:[[:space:]]*$1\$" /dev/null $(find "/proc/$w/fd" -lname 'anon_inode:\[pidfd\]' -printf "/proc/$w/fdinfo/%f ") && n=$((n + 1))
		t=$((t + 1))
	done
	echo "$n of $t"
}
gone() { for _ in $(seq 1 1200); do [ -e "/proc/$1" ] || return 0; sleep 0.05; done; return 1; }
host_if() {
	local addr gw
	api GET "/sandboxes/$1"
	addr=$(jqr .data.network.address)
	gw=$(printf '%s' "$addr" | awk -F. '{ print $1"."$2"."$3"."($4-1) }')
	ip -o -4 addr show | awk -v a="$gw/31" '$4 == a { print $2 }'
}
ip_counters() { ip -s -j link show dev "$1" | jq -r '.[0].stats64 | "\(.tx.bytes)/\(.rx.bytes)"'; }
# same_counters ID IF LABEL [N]: N status reads answer IF's counters
same_counters() {
	local id=$1 ifn=$2 label=$3 reads=${4:-12} before after got bad=0 n=0
	for _ in $(seq 1 "$reads"); do
		before=$(ip_counters "$ifn")
		api GET "/sandboxes/$id"
		after=$(ip_counters "$ifn")
		got="$(jqr .data.usage.networkInBytes)/$(jqr .data.usage.networkOutBytes)"
		[ "$before" = "$after" ] || continue
		n=$((n + 1))
		[ "$got" = "$before" ] || { bad=1; diag "$id: status $got, ip -s link $ifn $before"; }
	done
	ok $([ "$bad" = 0 ] && [ "$n" -ge $((reads / 2)) ]; echo $?) "$label: status answers $ifn's counters ($before; $n reads compared)"
}
# same_counters_par ID IF LABEL: as same_counters, 12 reads 6 at a time
same_counters_par() {
	local urls=() i before after got
	for i in $(seq 1 12); do urls+=("$BASE/sandboxes/$1"); done
	before=$(ip_counters "$2")
	got=$(curl -s -Z --parallel-max 6 "${urls[@]}" | jq -r '"\(.data.usage.networkInBytes)/\(.data.usage.networkOutBytes)"' | sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')
	after=$(ip_counters "$2")
	[ "$before" = "$after" ] || diag "$2's counters moved: $before -> $after"
	is "$got" "$before:12 " "$3: 12 reads answer $2's counters"
}
# worker fds: total, pidfds, netlink sockets
fd_total() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
fd_pidfds() { find "/proc/$1/fd" -lname 'anon_inode:\[pidfd\]' 2>/dev/null | wc -l; }
# route_fds PID: "FD:INODE" of each NETLINK_ROUTE socket PID holds
route_fds() {
	local f ino
	for f in /proc/"$1"/fd/*; do
		ino=$(readlink "$f" 2>/dev/null) || continue
		[[ $ino == socket:\[*\] ]] || continue
		ino=${ino#socket:[}; ino=${ino%]}
		awk -v i="$ino" 'NR > 1 && $2 == 0 && $10 == i { f = 1 } END { exit !f }' /proc/net/netlink &&
			echo "${f##*/}:$ino"
	done
}
# spread PID ID: status reads of ID in parallel until two workers or more
# read it (which worker takes a connection is the pool's choice: under load
# one may take a whole round)
spread() {
	local i
	for i in $(seq 1 20); do
		k=$(keeping "$1")
		[ "${k%% *}" -ge 2 ] && return
		many_reads 12 "$2"
	done
}
many_reads() {	# many_reads N ID...: N rounds of a status read of each, on kept connections
	local n=$1 urls=() i id
	shift
	for i in $(seq 1 "$n"); do for id in "$@"; do urls+=("$BASE/sandboxes/$id"); done; done
	curl -s -Z --parallel-max 6 "${urls[@]}" >/dev/null
}

# --- 1. pidfds: an exited init whose pid another process took ---------------
api POST /sandboxes/r
is "$STATUS" 200 "r created"
INIT=$(init_of r)
like "$INIT" '^[0-9]+$' "r's init runs ($INIT)"
is "$(statuses r)" "running:true:12 " "r: every read running"
spread "$INIT" r
ok $([ "${k%% *}" -ge 2 ]; echo $?) "workers keep a pidfd of r's init ($k; a spare forked meanwhile has read nothing)"
kill -KILL "$INIT"
gone "$INIT"
ok $? "r's init killed and reaped"
FAKE=$($HELPER recycle "$INIT" 300)
[ -n "$FAKE" ] && MINE+=("$FAKE")
is "$FAKE" "$INIT" "another process (sleep) took the init's pid $INIT (clone3 set_tid)"
is "$(statuses r)" "stopped:false:12 " "r: every read stopped, though pid $INIT runs again (recycled)"
# the other way: the pid taken before any worker read it
kill -KILL "$FAKE"; gone "$FAKE"
exec_in r "echo hi"
is "$(jqr .data.stdout)" hi "r started again by an exec"
INIT2=$(init_of r)
is "$(statuses r)" "running:true:12 " "r: every read running again (new init $INIT2)"
spread "$INIT2" r
ok $([ "${k%% *}" -ge 2 ]; echo $?) "workers keep a pidfd of r's new init ($k)"
kill -STOP "$SBD_PID"
kill -KILL "$INIT2"
for _ in $(seq 1 1200); do [ "$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$INIT2/stat" 2>/dev/null)" = Z ] && break; sleep 0.05; done
is "$(statuses r)" "stopped:false:12 " "r: a zombie init, every read stopped"
kill -CONT "$SBD_PID"
gone "$INIT2"
FAKE=$($HELPER recycle "$INIT2" 300)
[ -n "$FAKE" ] && MINE+=("$FAKE")
is "$FAKE" "$INIT2" "pid $INIT2 taken again by another process"
is "$(statuses r)" "stopped:false:12 " "r: every read stopped (zombie, then reaped, then its pid recycled)"
kill -KILL "$FAKE"; gone "$FAKE"

# --- 2. many sandboxes: liveness, counters, fds ------------------------------
N=11
for i in $(seq 1 $N); do
	api POST "/sandboxes/m$i"
	[ "$STATUS" = 200 ] || diag "m$i: $STATUS $BODY"
done
ok $? "$N more sandboxes created"
# distinct counters: m_i fetches i times
for i in 1 2 3 4 5; do
	exec_in "m$i" "for n in \$(seq 1 $i); do curl -s -m 10 -o /dev/null http://$NET_PUBLIC/; done; echo ok"
done
is "$(jqr .data.stdout)" ok "m1..m5 made traffic of their own"
declare -A IFOF
for i in $(seq 1 $N); do IFOF[m$i]=$(host_if "m$i"); done
IDS=(); for i in $(seq 1 $N); do IDS+=("m$i"); done
many_reads 2 "${IDS[@]}"
WORKERS=$(sbd_workers)
declare -A FD0
for w in $WORKERS; do FD0[$w]=$(fd_total "$w"); done
diag "workers $WORKERS; fds after a warm round: $(for w in $WORKERS; do printf '%s ' "${FD0[$w]}"; done)"
# read in turn by whichever worker: each answers its own counters
bad=0
for round in 1 2; do
	for i in $(seq 1 $N); do
		before=$(ip_counters "${IFOF[m$i]}")
		api GET "/sandboxes/m$i"
		got="$(jqr .data.usage.networkInBytes)/$(jqr .data.usage.networkOutBytes)"
		[ "$(jqr .data.status)" = running ] || { bad=1; diag "m$i: $(jqr .data.status)"; }
		[ "$got" = "$before" ] || [ "$before" != "$(ip_counters "${IFOF[m$i]}")" ] ||
			{ bad=1; diag "m$i: status $got, ip -s link ${IFOF[m$i]} $before"; }
	done
done
is "$bad" 0 "$N sandboxes read in turn: each running, each its own interface's counters"
many_reads 100 "${IDS[@]}"
declare -A FD1
for w in $WORKERS; do FD1[$w]=$(fd_total "$w"); done
# churn: a sandbox destroyed and made again, an init killed, then more reads
api POST /sandboxes/m6/destroy
api POST /sandboxes/m6
kill -KILL "$(init_of m11)"
many_reads 200 "${IDS[@]}"
bad=0
for w in $WORKERS; do
	t=$(fd_total "$w") p=$(fd_pidfds "$w") r=$(route_fds "$w" | wc -l)
	diag "worker $w: fds ${FD0[$w]} (warm), ${FD1[$w]} (after $((100 * N)) reads) -> $t, pidfds $p, route sockets $r"
	[ "$t" -le "${FD1[$w]}" ] && [ "$p" -le 8 ] && [ "$r" -le 1 ] || bad=1
done
is "$bad" 0 "$((300 * N)) status reads over $N sandboxes: no worker's fds grow past the first $((100 * N)) reads', <= 8 pidfds, <= 1 route socket"
is "$(statuses m11)" "stopped:false:12 " "m11 (init killed during the reads): stopped"
is "$(statuses m6)" "running:true:12 " "m6 (made again during the reads): running"

# --- 3. an interface name reused by a new sandbox -----------------------------
OLDIF=${IFOF[m5]}
api POST /sandboxes/m5/destroy
is "$STATUS" 200 "m5 (traffic of its own) destroyed"
api POST /sandboxes/n5 "$COLD"
is "$STATUS" 200 "n5 created"
NIF=$(host_if n5)
diag "m5 had $OLDIF, n5 has $NIF"
same_counters n5 "$NIF" "n5 (maybe m5's interface name)"
api POST /sandboxes/m5
is "$STATUS" 200 "m5 made again under its name"
IFOF[m5]=$(host_if m5)
same_counters m5 "${IFOF[m5]}" "m5 made again"
is "$(statuses m5)" "running:true:12 " "m5 made again: every read running"
api GET /sandboxes/m5
is "$(jqr .data.usage.pids)" "$(cg_knob pids m5 pids.current)" "m5 again: pids from its new cgroup"

# --- 4. answers waiting out of order on a worker's kept socket ----------------
# every worker has a route socket now; on each, a question for m3's
# interface whose answer waits there, with an old sequence and with 0
inject_all() {	# inject_all IFNAME SEQ
	local w fd n=0 t=0
	for w in $(sbd_workers); do
		t=$((t + 1))
		fd=$(route_fds "$w" | head -n 1); fd=${fd%%:*}
		[ -n "$fd" ] && $HELPER inject "$w" "$fd" "$1" "$2" && n=$((n + 1))
	done
	echo "$n of $t"
}
like "$(inject_all "${IFOF[m3]}" 1)" '^[1-9][0-9]* of ' "m3's figures (seq 1) wait on the workers' sockets"
same_counters_par m1 "${IFOF[m1]}" "m1, with m3's answer (seq 1) waiting"
like "$(inject_all "${IFOF[m3]}" 0)" '^[1-9][0-9]* of ' "m3's figures (seq 0) wait on the workers' sockets"
same_counters_par m1 "${IFOF[m1]}" "m1, with m3's answer (seq 0) waiting"
# an answer of the same name, older: then the interface changes hands
# (destroy and create read no counters: the answer still waits)
like "$(inject_all "${IFOF[m4]}" 0)" '^[1-9][0-9]* of ' "m4's figures (seq 0) wait on the workers' sockets"
OLD4=$(ip_counters "${IFOF[m4]}")
api POST /sandboxes/m4/destroy
is "$STATUS" 200 "m4 destroyed ($OLD4 on ${IFOF[m4]})"
LINKS=$(ip -o link | awk -F': ' '{ print $2 }' | cut -d@ -f1 | sort)
api POST /sandboxes/n4 "$COLD"
is "$STATUS" 200 "n4 created"
N4=$(comm -13 <(echo "$LINKS") <(ip -o link | awk -F': ' '{ print $2 }' | cut -d@ -f1 | sort) | grep '^vs' | head -n 1)
diag "m4 had ${IFOF[m4]}, n4 has $N4"
same_counters_par n4 "$N4" "n4, m4's old answer (same interface name) waiting (seq 0) on every worker"
like "$(inject_all "$N4" 0)" '^[1-9][0-9]* of ' "n4's own figures (seq 0) wait on the workers' sockets"
exec_in n4 "curl -s -m 10 -o /dev/null http://$NET_PUBLIC/; echo ok"
same_counters_par n4 "$N4" "n4 after traffic, its older answer waiting (seq 0)"

# a made-up answer, sent from a route socket of another process (root in
# the service's namespace) to each worker's: seq 0, pid 0, as the kernel's
forge_all() {	# forge_all IFNAME RX TX
	local w ino pid n=0
	for w in $(sbd_workers); do
		ino=$(route_fds "$w" | head -n 1); ino=${ino#*:}
		pid=$(awk -v i="$ino" 'NR > 1 && $10 == i { print $3 }' /proc/net/netlink)
		[ -n "$pid" ] && $HELPER forge "$pid" "$1" "$2" "$3" && n=$((n + 1))
	done
	echo "$n"
}
like "$(forge_all "${IFOF[m2]}" 4242424242 4343434343)" '^[1-9]' "a made-up answer for ${IFOF[m2]} sent to every worker's route socket"
same_counters_par m2 "${IFOF[m2]}" "m2, a made-up answer from another socket waiting"

# --- 5. a reload: new workers, each its own socket ---------------------------
OLDSOCKS=$(for w in $(sbd_workers); do route_fds "$w"; done | cut -d: -f2 | sort)
sbd_reload
ok $? "reloaded"
many_reads 3 m1 m2 m3
NEWSOCKS=$(for w in $(sbd_workers); do route_fds "$w"; done | cut -d: -f2 | sort)
is "$(printf '%s\n' $NEWSOCKS | sort | uniq -d | wc -l)" 0 "no route socket shared by two new workers ($(echo $NEWSOCKS))"
is "$(comm -12 <(printf '%s\n' $OLDSOCKS) <(printf '%s\n' $NEWSOCKS) | grep -c .)" 0 "no new worker holds an old worker's socket"
same_counters m2 "${IFOF[m2]}" "m2 after the reload"

# --- 6. kill -9 of inits, each worker's next read ----------------------------
I7=$(init_of m7)
kill -KILL "$I7"; gone "$I7"
is "$(statuses m7)" "stopped:false:12 " "m7 killed: every read stopped"
is "$(statuses m8)" "running:true:12 " "m8 beside it: every read running"

# --- 6b. a warm claim under a name every worker read before -----------------
many_reads 2 m8
k8=$(keeping "$(init_of m8)")
api POST /sandboxes/m8/destroy
is "$STATUS" 200 "m8 destroyed (workers kept its init: $k8)"
api POST /sandboxes/m8
is "$STATUS" 200 "m8 made again (a warm claim on cgroup v1)"
is "$(statuses m8)" "running:true:12 " "the new m8: every read running"
IFOF[m8]=$(host_if m8)
same_counters_par m8 "${IFOF[m8]}" "the new m8"
api GET /sandboxes/m8
is "$(jqr .data.usage.pids)" "$(cg_knob pids m8 pids.current)" "the new m8: pids from its cgroup"
I8=$(init_of m8)
kill -KILL "$I8"; gone "$I8"
is "$(statuses m8)" "stopped:false:12 " "the new m8 killed: every read stopped"

# --- 7. disk figures: the sandbox's own root ----------------------------------
exec_in m9 "head -c 20000000 /dev/zero > /big; sync; df -B1 --output=used / | tail -n 1"
DF=$(jqr .data.stdout | tr -d ' ')
api GET /sandboxes/m9
U9=$(jqr .data.usage.diskUsedBytes)
api GET /sandboxes/m10
U10=$(jqr .data.usage.diskUsedBytes)
diag "m9 df used $DF, status $U9; m10 status $U10"
ok $([ -n "$U9" ] && [ "$U9" != null ] && [ "$U9" -ge 20000000 ] && [ "$U10" -lt "$U9" ]; echo $?) "m9's disk figures its own (>= 20 MB), m10's not"

done_testing
