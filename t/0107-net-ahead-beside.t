#!/bin/bash
# The pair made ahead, finished beside the init (issue 18, fourth round):
# the launcher renames the host end to the sandbox's name, addresses it and
# brings it up (and configures eth0) after it forked the init, while the
# init builds the sandbox's root; the init waits for its word only before
# it enters the user namespace, and makes a new pair, as without one made
# ahead, when the launcher could not finish it (here: its host end deleted
# from the host while it waited).  Either way the sandbox's network is the
# one a start always gave (links, addresses, routes, per-link settings,
# host end and inside; what it reaches), and nothing is left behind.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
. "$TOP_SRCDIR/t/netlib.sh"
net_topology "$@"

# one worker: one launcher waits at a time, and serves the next start
T_WORKERS=1 sbd_start "${NET_OPTS[@]}"

TAG=

# --- the reference: a sandbox on a pair finished by its launcher ----------------------
api POST /sandboxes/s1
is "$STATUS" 200 "s1 created"
TAG=$(links | sed -n 's/^vs\([0-9a-f]\{6\}\).*/\1/p' | head -n 1)
like "$TAG" '^[0-9a-f]{6}$' "the instance's link tag ($TAG)"
wait_until 'live_ahead >/dev/null'
V=$(live_ahead | head -n 1)
like "$V" "^vt$TAG[0-9a-f]+$" "the launcher waiting made its pair ahead ($V)"
api POST /sandboxes/s2
is "$STATUS" 200 "s2 created on it"
S2=$(host_if s2)
ok "$(links | grep -qx "$V"; [ $? != 0 ]; echo $?)" "its pair is s2's ($V is gone)"
is "$(links | grep -cx "$S2")" 1 "s2's host end has s2's name ($S2)"
REF=$(net_state s2)
printf '%s\n' "$REF" | sed 's/^/# s2: /'
like "$REF" 'default via GW dev eth0' "(s2's network read: $(printf '%s\n' "$REF" | wc -l) lines)"
is "$(net_state s1)" "$REF" "s1 (its pair made at the start) has the network s2 has"
like "$(ip -o link show dev "$S2")" '<[^>]*,UP[,>]' "s2's host end is up (IFF_UP)"
# what it reaches, from the host in its namespace, not by an exec: one
# past a second (a loaded host) takes the only worker out of the pool and
# its launcher with it, and the next steps would find no pair made ahead
is "$(in_sandbox_netns s2 curl -s -m 10 "http://$NET_PUBLIC/ip")" "$NET_UPLINK" \
	"s2's egress works, through the table (it matches the link by name)"
is "$(in_sandbox_netns s2 curl -s -m 5 -o /dev/null http://169.254.169.254/; echo "rc=$?")" "rc=7" \
	"s2: the metadata address is refused (the platform set applies)"

# --- the launcher cannot finish its pair: the init makes a new one -----------------
for i in 1 2; do
	# a live launcher's (a dropped one's pair may linger)
	wait_until 'live_ahead >/dev/null'
	V=$(live_ahead | head -n 1)
	ip link del "$V"
	ok $? "the waiting launcher's host end deleted from the host ($V, $i)"
	api POST "/sandboxes/f$i"
	is "$STATUS" 200 "f$i created all the same"
	F=$(host_if "f$i")
	is "$(links | grep -cx "$F")" 1 "f$i's host end has its name ($F)"
	is "$(net_state "f$i")" "$REF" "f$i's network is the one s2 has"
	is "$(in_sandbox_netns "f$i" curl -s -m 10 "http://$NET_PUBLIC/ip")" "$NET_UPLINK" "f$i's egress works"
	is "$(in_sandbox_netns "f$i" curl -s -m 5 -o /dev/null http://169.254.169.254/; echo "rc=$?")" "rc=7" \
		"f$i: the metadata address is refused"
done
# and a restart of one, on the next launcher's pair (finished by it)
api DELETE /sandboxes/f1
is "$STATUS" 200 "f1 stopped"
exec_in f1 hostname
is "$(jqr .data.stdout)" f1 "f1 started again at once (an exec)"
is "$(in_sandbox_netns f1 curl -s -m 10 "http://$NET_PUBLIC/ip")" "$NET_UPLINK" "its egress works"
is "$(net_state f1)" "$REF" "and its network is the one it had"

# --- nothing left behind ---------------------------------------------------------------
wait_until '[ "$(links | grep -c "^vs$TAG")" = 4 ]'
is "$(links | grep "^vs$TAG" | sort | tr '\n' ' ')" "$(printf '%s\n' "$(host_if s1)" "$S2" "$(host_if f1)" "$(host_if f2)" | sort | tr '\n' ' ')" \
	"the sandbox links are the four sandboxes', by their names"
# (f1's exec, past a second on a loaded host, takes its worker out of the
# pool and the launcher with it, killed and reaped before the answer: a
# start makes one again)
all_launchers() { for w in $(sbd_workers); do launchers "$w"; done; }
[ -n "$(all_launchers)" ] || { api POST /sandboxes/g1; diag "no launcher waiting: g1 created ($STATUS)"; }
wait_until '[ "$(ahead_links | wc -l)" = 1 ] && live_ahead >/dev/null'	# the next launcher makes its pair as it waits
is "$(ahead_links | wc -l)" 1 "one pair made ahead: the waiting launcher's"
is "$(live_ahead)" "$(ahead_links)" "  a live launcher's ($(all_launchers | tr '\n' ' '))"
pid=$(cat "$T_DIR/sandboxd.pid")
kill -TERM "$pid"
for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
wait_until '[ -z "$(ahead_links)$(links | grep "^vs$TAG")" ]'
is "$(ahead_links | wc -l) $(links | grep -c "^vs$TAG")" "0 0" "after a stop no pair is left"

done_testing
