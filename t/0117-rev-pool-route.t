#!/bin/bash
# Review of 549f50e (the pool's unreachable route): the route a master
# killed with -9 left is kept by the next start of the same pool, and goes
# at its stop; but a next start with another --net-pool (a supported change:
# "readdresses every sandbox at its next start") never removes the old
# pool's route: after the stop, the host still refuses the whole old pool
# (a /16 black hole in the main table that no start or stop of the service
# will ever remove), in this test's own namespaces (t/netlib.sh).
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
. "$TOP_SRCDIR/t/netlib.sh"
net_topology "$@"

unreach() { ip route show type unreachable | grep -cE "^unreachable $1( |\$)"; }

T_WORKERS=1 sbd_start "${NET_OPTS[@]}"
is "$(unreach '10\.89\.0\.0/16')" 1 "the default pool has its unreachable route"

# the master killed (a crash, an OOM kill): its route, table and resolver
# address stay; the next start moves the service to another pool
SIG=KILL sbd_again --net-pool 10.91.0.0/16
ok $([ -S "$DATA/run/fcgi.sock" ]; echo $?) "the service starts again with --net-pool 10.91.0.0/16"
is "$(unreach '10\.91\.0\.0/16')" 1 "the new pool has its unreachable route"
is "$(unreach '10\.89\.0\.0/16')" 0 "the old pool's is gone at that start"
resolvers() { ip -4 -o addr show dev lo | grep -oE ' 10\.(89|91)\.255\.254/32' | tr -d ' ' | sort | tr '\n' ' '; }
is "$(resolvers)" "10.91.255.254/32 " "and the old pool's resolver address (the new one's is there)"
api POST /sandboxes/n
is "$STATUS" 200 "a sandbox is made in the new pool"

# a full stop
PID=$(cat "$T_DIR/sandboxd.pid")
kill -TERM "$PID"
for _ in $(seq 1 600); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
ok $(! kill -0 "$PID" 2>/dev/null; echo $?) "the service stopped"
is "$(unreach '10\.91\.0\.0/16')" 0 "its stop removed the new pool's route"
is "$(unreach '10\.89\.0\.0/16')" 0 "and no route of the old pool is left behind"
unlike "$(ip route get 10.89.7.7 2>&1)" 'unreachable|No route' \
	"the host reaches the old pool's addresses as before the service (by its default route)"

is "$(resolvers)" "" "no resolver address is left"

# killed again, then started without networking: what the killed master
# put on the host goes too (its stop would have)
sbd_again
is "$(unreach '10\.89\.0\.0/16')" 1 "started again on the default pool: its route"
SIG=KILL sbd_again --network=no
ok $([ -S "$DATA/run/fcgi.sock" ]; echo $?) "killed, and started with --network=no"
is "$(unreach '10\.89\.0\.0/16')" 0 "the killed master's route is gone"
is "$(resolvers)" "" "and its resolver address"
is "$(nft list tables 2>/dev/null | grep -c "sandboxd_${INSTANCE//-/_}\$")" 0 "and its table"

done_testing
