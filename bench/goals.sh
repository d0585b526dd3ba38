#!/bin/bash
# bench/goals.sh SANDBOXD [bench.py options...]: ./dev bench --goals (the issue
# 18 goals, each ratio measured round by round beside its floor or peer)
# against an instance of SANDBOXD of its own, started as ./dev up starts one
# (networking on, 4 warm sandboxes, --max-running 1100, --disk-overcommit
# 2000, a preview domain, 2 workers a core), in the network tests' namespaces
# (t/netlib.sh: nothing leaves the machine), so that any build (main's, a
# branch's) is measured without ./dev up's port.  The floors are this tree's
# (build/bench, or SBD_BENCH_BUILD).  As root, with nginx, dnsmasq, bwrap and
# runc.  JSON in build/bench-goals.json (--json to change it).
set -u
TOP_SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 SANDBOXD [bench.py options...]" >&2; exit 2; }
SANDBOXD=$(realpath "$1"); shift
. "$TOP_SRCDIR/t/lib.sh"
. "$TOP_SRCDIR/t/netlib.sh"
net_topology "$SANDBOXD" "$@"
T_WORKERS=$((2 * $(nproc))) sbd_start "${NET_OPTS[@]}" --max-running 1100 --disk-overcommit 2000 \
	--warm-sandboxes 4 --preview-domain "http://$PREVIEW_HOST"
python3 "$TOP_SRCDIR/bench/bench.py" --base "$BASE" --log "$T_DIR/sandboxd.log" --goals \
	--json "$TOP_SRCDIR/build/bench-goals.json" "$@"
