#!/bin/bash
# A sandbox's veth pair made ahead (issue 18): a launcher exec'd ahead of
# its start makes the pair while it waits for its settings, and the start
# only names the host end, addresses both ends, brings them up and adds the
# route (sandboxd-init.c veth_ahead, net_up_ahead).  The network must be the
# one a pair made at the start gives: sandboxes started both ways (the test
# builds' net-no-ahead switch makes the pair at the start) are compared
# link by link, address by address and route by route, from the host and
# from inside, and for what they reach.  A start again at once (the old
# pair not torn down yet) and a stop of the service leave no pair behind.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
. "$TOP_SRCDIR/t/netlib.sh"
net_topology "$@"
grep -q SANDBOXD_FAULTS "$SANDBOXD" ||
	skip_all "not a fault-injection build (configure --enable-fault-injection): the slow path cannot be forced"
FAULTS=$(mktemp -d /tmp/sbd-faults.XXXXXX)
export SANDBOXD_FAULTS=$FAULTS
T_TRAP='sbd_cleanup; rm -rf "$FAULTS"'

# one worker: which launcher serves which start is known (each start hands
# its settings to the launcher exec'd after the one before)
touch "$FAULTS/net-no-ahead"
T_WORKERS=1 sbd_start "${NET_OPTS[@]}"

# the links of this instance: vs<tag><slot> for sandboxes, vt<tag><pid> made ahead
TAG=
# net_state (t/netlib.sh) with the host end's IPv6 routes too
NET_STATE_ROUTE6=1

# --- the pair made at the start (the switch on) --------------------------------------
api POST /sandboxes/s1
is "$STATUS" 200 "s1 created, its pair made at the start"
[ -n "$TAG" ] || TAG=$(ip -o link | awk -F': ' '{ print $2 }' | sed -n 's/^vs\([0-9a-f]\{6\}\).*/\1/p' | head -n 1)
like "$TAG" '^[0-9a-f]{6}$' "the instance's link tag ($TAG)"
api POST /sandboxes/s2
is "$STATUS" 200 "s2 created the same way"
is "$(ahead_links | wc -l)" 0 "with the switch on, no launcher makes a pair ahead"

# --- made ahead ----------------------------------------------------------------------
rm -f "$FAULTS/net-no-ahead"
# the launcher waiting now was exec'd with the switch on: this start makes
# its pair at the start too, and execs the next, which makes one ahead
api POST /sandboxes/s3
is "$STATUS" 200 "s3 created (pair made at the start)"
for _ in $(seq 1 1200); do [ -n "$(ahead_links)" ] && break; sleep 0.05; done
V=$(ahead_links | head -n 1)
like "$V" "^vt$TAG[0-9a-f]+$" "the launcher waiting for the next start made its pair ahead ($V)"
like "$(ip -o link show dev "$V")" 'state DOWN' "down while it waits"
is "$(ip -o addr show dev "$V" | wc -l)" 0 "with no address"
like "$(ip -d -o link show dev "$V")" 'addrgenmode none' "and no IPv6 address generation"

api POST /sandboxes/f1
is "$STATUS" 200 "f1 created on a pair made ahead"
api POST /sandboxes/f2
is "$STATUS" 200 "f2 too"
ok "$(ip -o link show dev "$V" >/dev/null 2>&1; [ $? != 0 ]; echo $?)" "the pair made ahead was renamed ($V is gone)"
like "$(ip -o link | awk -F': ' '{ print $2 }' | cut -d@ -f1 | grep -c "^vs$TAG")" '^5$' "five sandbox links: s1 s2 s3 f1 f2"

S1=$(net_state s1)
printf '%s\n' "$S1" | sed 's/^/# s1: /'
like "$S1" 'addrgenmode none' "(the state read: $(printf '%s' "$S1" | wc -l) lines)"
like "$S1" 'default via GW dev eth0' "(it has the default route)"
is "$(net_state s2)" "$S1" "s2 (made at the start) has the network s1 has"
is "$(net_state s3)" "$S1" "s3 too"
is "$(net_state f1)" "$S1" "f1 (made ahead): the same links, addresses, routes and settings, host end and inside"
is "$(net_state f2)" "$S1" "f2 too"
if [ "$(net_state f1)" != "$S1" ]; then
	diff <(printf '%s\n' "$S1") <(net_state f1) | sed 's/^/# /'
fi

# what it made ahead came through a pipe, not argv: a sandbox reads its init's command line
exec_in f1 "tr '\\0' ' ' </proc/1/cmdline"
is "$(jqr .data.stdout)" "sandbox-init " "f1's init's command line is the one it always was"

# what it reaches, through the table (which matches the sandbox's link by name)
for id in s1 f1; do
	exec_in $id "curl -s -m 10 http://$NET_PUBLIC/ip"
	is "$(jqr .data.stdout)" "$NET_UPLINK" "$id: public egress works, masqueraded"
	exec_in $id "curl -s -m 5 -o /dev/null http://169.254.169.254/; echo rc=\$?"
	is "$(jqr .data.stdout)" "rc=7" "$id: the metadata address is refused (the platform set applies)"
	exec_in $id "getent hosts public.test"
	like "$(jqr .data.stdout)" "^$NET_PUBLIC +public.test" "$id: names resolve through the service's resolver"
done

# --- started again at once: the old pair may still be there --------------------------
F1=$(net_state f1)
for i in 1 2 3; do
	api DELETE /sandboxes/f1
	is "$STATUS" 200 "f1 stopped ($i)"
	exec_in f1 "curl -s -m 10 http://$NET_PUBLIC/ip"
	is "$(jqr .data.stdout)" "$NET_UPLINK" "started again at once on a pair made ahead, its egress works ($i)"
	is "$(net_state f1)" "$F1" "and its network is the one it had ($i)"
done

# --- a stop of the service leaves no pair ---------------------------------------------
pid=$(cat "$T_DIR/sandboxd.pid")
kill -TERM "$pid"
for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
for _ in $(seq 1 600); do
	[ -z "$(ahead_links)" ] && [ "$(ip -o link | grep -c ": vs$TAG")" = 0 ] && break
	sleep 0.1
done
is "$(ahead_links | wc -l)" 0 "after a stop no pair made ahead is left"
is "$(ip -o link | grep -c ": vs$TAG")" 0 "nor any sandbox's"

done_testing
