#!/bin/bash
# Review (round 20, network): the pair made ahead, finished by the launcher
# beside the init.  Faults injected into the waiting launcher with strace
# (a syscall failed, or SIGKILL at a chosen syscall, after the init's fork):
# whatever happens to the launcher, the start succeeds with the network a
# start always gave (as a pair made at the start), and nothing is left.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
. "$TOP_SRCDIR/t/netlib.sh"
net_topology "$@"
command -v strace >/dev/null || skip_all "no strace"

T_WORKERS=1 sbd_start "${NET_OPTS[@]}"

TAG=
# the init's open fds (what t/0025 counts), by their kind
init_fds() { local p; p=$(init_of "$1"); for f in /proc/$p/fd/*; do readlink "$f"; done | sed -E 's/\[[0-9]+\]//' | sort | uniq -c | tr -s ' ' | tr '\n' ';'; }

api POST /sandboxes/s0
is "$STATUS" 200 "s0 created"
TAG=$(links | sed -n 's/^vs\([0-9a-f]\{6\}\).*/\1/p' | head -n 1)
like "$TAG" '^[0-9a-f]{6}$' "the link tag ($TAG)"
REF=$(net_state s0)
FDS=$(init_fds s0)
diag "s0's init fds: $FDS"

# attach NAME STRACE-ARGS...: strace the waiting launcher (its pid: its
# pair's name) until it exits
attach() {
	local name=$1 v pid
	shift
	LPID= STRACE=
	# a live launcher's (a dead one's pair may linger until its namespace goes)
	wait_until 'live_ahead >/dev/null' || return 1
	v=$(live_ahead | head -n 1)
	[ -n "$v" ] || return 1
	pid=$((16#${v#vt$TAG}))
	strace -p "$pid" -o "$T_DIR/strace.$name" "$@" 2>"$T_DIR/strace.$name.err" &
	STRACE=$!
	wait_for sh -c "grep -q '^TracerPid:[[:space:]]*[1-9]' /proc/$pid/status" || return 1
	LPID=$pid
}

# (what attach sets; empty when it found no launcher: the script goes on)
LPID= STRACE=
# case NAME STRACE-ARGS...: a start with that fault in its launcher
fault_case() {
	local name=$1 f
	shift
	attach "$name" "$@"
	ok $? "$name: the waiting launcher traced ($LPID)"
	${FAULT_BG:-:}
	api POST "/sandboxes/$name"
	is "$STATUS" 200 "$name: created all the same"
	[ -n "$STRACE" ] && wait "$STRACE"
	[ -n "${BG:-}" ] && { wait "$BG"; BG=; cat "$T_DIR"/bg.* | sed "s/^/# $name bg: /"; rm -f "$T_DIR"/bg.*; }
	sed "s/^/# $name strace: /" "$T_DIR/strace.$name" | tail -n 12
	f=$(host_if "$name")
	is "$(links | grep -cx "$f")" 1 "$name: its host end has its name ($f)"
	is "$(net_state "$name")" "$REF" "$name: its network is the one a start gives"
	# from the host in its namespace, not by an exec: one past a second (a
	# loaded host) takes the only worker out of the pool and its launcher
	# with it, and the next case would find none waiting
	is "$(in_sandbox_netns "$name" curl -s -m 10 "http://$NET_PUBLIC/ip")" "$NET_UPLINK" "$name: egress works"
	is "$(in_sandbox_netns "$name" curl -s -m 5 -o /dev/null http://169.254.169.254/; echo "rc=$?")" "rc=7" \
		"$name: the metadata address is refused"
	is "$(init_fds "$name")" "$FDS" "$name: its init holds the fds any init holds"
	wait_until '[ "$(ahead_links | wc -l)" = 1 ]'
	is "$(ahead_links | wc -l)" 1 "$name: one pair made ahead left: the next launcher's" ||
		{ diag "$(ps -eo pid,ppid,stat,comm,args | grep -i 'sandboxd\|strace' | grep -v grep)"; }
}

N=1	# sandboxes so far
# count_links NAME: the sandbox links are the sandboxes', one each
count_links() {
	N=$((N + 1))
	wait_until '[ "$(links | grep -c "^vs$TAG")" = "$N" ]'
	is "$(links | grep -c "^vs$TAG")" "$N" "$1: one host end per sandbox ($N), none left over"
}
T="-e trace=sendto,write,exit_group"
# the launcher's syscalls after the init's fork (as traced): write (the
# init's pid, to the worker), sendto 1 (rename the host end), sendto 2
# (address and up it), sendto 3 (eth0 in the sandbox's namespace), write
# (its word to the init), exit
fault_case trace $T; count_links trace
# the launcher fails at each step: the init drops the pair, makes a new one
fault_case fail-rename $T -e inject=sendto:error=EPERM:when=1; count_links fail-rename
fault_case fail-hostend $T -e inject=sendto:error=EPERM:when=2; count_links fail-hostend
fault_case fail-eth0 $T -e inject=sendto:error=EPERM:when=3; count_links fail-eth0
# the launcher killed (SIGKILL) at each step
fault_case kill-rename $T -e inject=sendto:signal=SIGKILL:when=1; count_links kill-rename
fault_case kill-hostend $T -e inject=sendto:signal=SIGKILL:when=2; count_links kill-hostend
fault_case kill-eth0 $T -e inject=sendto:signal=SIGKILL:when=3; count_links kill-eth0
# killed once eth0 is configured, before its word: the launcher stalls
# after its last request (strace), and is killed there
bg_kill_done() {
	local l=$LPID
	(wait_for sh -c "nsenter --net=/proc/$l/ns/net ip -4 -o addr show dev eth0 2>/dev/null | grep -q inet" &&
		kill -KILL "$l"; echo "kill: $?" >"$T_DIR/bg.kill") &
	BG=$!
}
FAULT_BG=bg_kill_done fault_case kill-word $T -e inject=sendto:delay_exit=4000000:when=3; count_links kill-word
# its host end deleted from the host after the launcher renamed it,
# before it addressed it (the launcher stalls before that request)
bg_host_end() {	# bg_host_end del|rename
	local l=$LPID idx
	idx=$(ip -o link show dev "$(ahead_links | head -n 1)" | cut -d: -f1)
	(wait_for sh -c "ip -o link show | grep -q '^$idx: vs$TAG'" || exit 1
	 n=$(ip -o link show | awk -F': ' -v i="$idx" '$1 == i { print $2 }' | cut -d@ -f1)
	 if [ "$1" = del ]; then ip link del dev "$n"; else ip link set dev "$n" name "zz$TAG"; fi
	 echo "$1 $idx $n: $?" >"$T_DIR/bg.$1") >"$T_DIR/bg.$1.err" 2>&1 &
	BG=$!
}
bg_del() { bg_host_end del; }
FAULT_BG=bg_del fault_case del-hostend $T -e inject=sendto:delay_enter=3000000:when=2; count_links del-hostend
fault_case kill-exit $T -e inject=exit_group:signal=SIGKILL; count_links kill-exit
# (a host end renamed by someone on the host while the launcher finishes
# it is not tried: the sandbox then runs on a host end the table does not
# match, and its traffic is dropped (fail closed), as after any rename of
# a running sandbox's link by the host's root)

# --- a stop with a launcher waiting: nothing left -------------------------------------
# bandwidth caps on a pair made anew after the launcher was killed: as on
# a pair the launcher finished
qd() {	# qd ID: its qdiscs, host end and inside, handles and names out
	local p h; p=$(init_of "$1"); h=$(host_if "$1")
	{ tc qdisc show dev "$h"; nsenter --net="/proc/$p/ns/net" tc qdisc show dev eth0; } |
		sed -E -e "s/$h/HOSTEND/g" -e 's/ (handle|parent) [0-9a-f:]+//g' -e 's/(qdisc [a-z_]+) [0-9a-f]+:/\1 H:/'
}
api POST /sandboxes/bw-ref '{"limits":{"egressMbps":5,"ingressMbps":7}}'
is "$STATUS" 200 "bw-ref: created with caps"
QD=$(qd bw-ref)
printf '%s\n' "$QD" | sed 's/^/# bw-ref qdisc: /'
like "$QD" 'tbf' "bw-ref: token buckets on its link"
attach bw-kill -e trace=sendto -e inject=sendto:signal=SIGKILL:when=2
api POST /sandboxes/bw-kill '{"limits":{"egressMbps":5,"ingressMbps":7}}'
is "$STATUS" 200 "bw-kill: created with caps, its launcher killed"
[ -n "$STRACE" ] && wait "$STRACE"
is "$(qd bw-kill)" "$QD" "bw-kill: its caps are the ones bw-ref has"
N=$((N + 2))

# the init fails first (its pivot_root: EMFILE, injected, a failure the
# service answers 503 as its own fd limit), while its launcher still
# finishes the pair (stalled before its rename): its pair goes with its
# namespace, renamed or not
attach init-fails -f -e trace=pivot_root,sendto -e inject=pivot_root:error=EMFILE \
	-e inject=sendto:delay_enter=1000000:when=1
ok $? "init-fails: the waiting launcher traced ($LPID)"
api POST /sandboxes/init-fails
is "$STATUS" 503 "init-fails: the start fails (503)"
[ -n "$STRACE" ] && wait "$STRACE"
grep -E 'pivot_root|exited|killed' "$T_DIR/strace.init-fails" | sed 's/^/# init-fails strace: /'
wait_until '[ "$(links | grep -c "^vs$TAG")" = "$N" ]'
is "$(links | grep -c "^vs$TAG")" "$N" "init-fails: no host end left of its pair ($N sandboxes)"
api POST /sandboxes/after-fail
is "$STATUS" 200 "after-fail: the next start works"
is "$(net_state after-fail)" "$REF" "after-fail: its network is the one a start gives"
N=$((N + 1))

# a start whose init finds no space (ENOSPC, injected: a full disk) answers
# 507, as every other full disk does, not 500 (it did: a review finding)
attach init-nospace -f -e trace=pivot_root -e inject=pivot_root:error=ENOSPC
ok $? "init-nospace: the waiting launcher traced ($LPID)"
api POST /sandboxes/init-nospace
is "$STATUS" 507 "init-nospace: a start that finds no space answers 507"
like "$(jqr .error)" 'no space left' "  and says so"
[ -n "$STRACE" ] && wait "$STRACE"
wait_until '[ "$(links | grep -c "^vs$TAG")" = "$N" ]'
is "$(links | grep -c "^vs$TAG")" "$N" "init-nospace: no host end left of its pair ($N sandboxes)"
api POST /sandboxes/after-nospace
is "$STATUS" 200 "after-nospace: the next start works"
N=$((N + 1))

# the stop comes while a start's launcher is finishing its pair (stalled
# before it addresses the host end)
attach stop-mid -e trace=sendto -e inject=sendto:delay_enter=2000000:when=2
ok $? "stop-mid: the waiting launcher traced ($LPID)"
curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE/sandboxes/stop-mid" >"$T_DIR/stop-mid.code" &
CURL=$!
wait_for sh -c "grep -q 'sendto' '$T_DIR/strace.stop-mid'"
pid=$(cat "$T_DIR/sandboxd.pid")
kill -TERM "$pid"
wait $CURL
diag "stop-mid: create answered $(cat "$T_DIR/stop-mid.code")"
for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
wait_until '[ -z "$(ahead_links)$(links | grep "^vs$TAG")" ]'
is "$(ahead_links | wc -l) $(links | grep -c "^vs$TAG")" "0 0" "after a stop no pair is left"
kill -QUIT "$(cat "$T_DIR/nginx.pid")" 2>/dev/null
[ "$T_FAILED" = 0 ] && rm -rf "$T_DIR"

# --- many cold starts at once, on 4 workers: each its own pair, name, address ----------
T_WORKERS=4 sbd_start "${NET_OPTS[@]}"
K=12
for i in $(seq 1 $K); do
	curl -s -o /dev/null -w '%{http_code}\n' -X POST "$BASE/sandboxes/c$i" >"$T_DIR/c$i.code" &
	CURLS="${CURLS:-} $!"
done
wait $CURLS
is "$(cat "$T_DIR"/c*.code | sort | uniq -c | tr -s ' ')" " $K 200" "$K concurrent creates: all 200"
api POST /sandboxes/c1/exec '{"command":"true"}'
TAG=$(links | sed -n 's/^vs\([0-9a-f]\{6\}\).*/\1/p' | head -n 1)
addrs=; hifs=
for i in $(seq 1 $K); do
	api GET "/sandboxes/c$i"
	addrs="$addrs $(jqr .data.network.address)"
	hifs="$hifs $(host_if "c$i")"
done
is "$(printf '%s\n' $addrs | sort -u | grep -c .)" "$K" "their addresses are distinct ($addrs)"
is "$(links | grep "^vs$TAG" | sort | tr '\n' ' ')" "$(printf '%s\n' $hifs | sort | tr '\n' ' ')" \
	"the sandbox links are theirs, one each, by their names"
for i in $(seq 1 $K); do
	is "$(net_state "c$i")" "$REF" "c$i: its network is the one a start gives"
	exec_in "c$i" "curl -s -m 10 http://$NET_PUBLIC/ip; curl -s -m 5 -o /dev/null http://169.254.169.254/; echo rc=\$?"
	is "$(jqr .data.stdout)" "$(printf '%s\nrc=7' "$NET_UPLINK")" "c$i: egress works, metadata refused"
	pid=$(init_of "c$i")
	is "$(nsenter --net=/proc/$pid/ns/net ip -4 -o addr show dev eth0 | awk '{ print $4 }' | cut -d/ -f1)" \
		"$(printf '%s\n' $addrs | sed -n "${i}p")" "c$i: eth0 has c$i's address"
done

done_testing
