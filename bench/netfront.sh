#!/bin/bash
# bench/netfront.sh BEFORE/sandboxd AFTER/sandboxd [ROUNDS [N]]: the front
# (GET /sandboxes/:id and GET /healthz) with networking on and off, two
# builds each, beside the responder floor (build/bench/fcgi-floor behind an
# nginx configured as the service's), all in one run and interleaved so
# that the machine's load hits them alike; ROUNDS (3) rounds of N (1000)
# requests each, a keep-alive client, medians per round.  The services run
# as ./dev up runs its own (warm sandboxes, a preview domain; --network on
# or off), in the network namespaces of t/netlib.sh: nothing leaves the
# machine.  As root, with nginx.
#   HOLD=1: set up, print the bases and worker pids to $NETFRONT_INFO (or
#   stdout), and wait for that file to be removed (to profile from outside:
#   nsenter --net=/run/netns/sbdhPID ...).
set -u
TOP_SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 2 ] || { echo "usage: $0 BEFORE/sandboxd AFTER/sandboxd [ROUNDS [N]]" >&2; exit 2; }
. "$TOP_SRCDIR/t/lib.sh"
. "$TOP_SRCDIR/t/netlib.sh"
net_topology "$@"
BEFORE=$1 AFTER=$2 ROUNDS=${3:-3} N=${4:-1000}
W=$(mktemp -d /tmp/sbd-netfront.XXXXXX)
chmod 0711 "$W"
FLOOR=$TOP_SRCDIR/build/bench/fcgi-floor

# nginx_for DIR SOCKET: an nginx as the service's in DIR, in front of SOCKET
nginx_for() {
	local d=$1 sock=$2 port
	mkdir -p "$d/nginx-tmp"
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		port=$((20000 + RANDOM % 40000))
		sed -e "s|@STATE@|$d|g" -e "s|@LISTEN@|127.0.0.1:$port|g" -e "s|@SOCKET@|$sock|g" \
			-e "s|@PREVIEW_SOCKET@|$d/data/run/preview.sock|g" \
			-e "s|@PREVIEW_HOST@|$PREVIEW_HOST|g" -e "s|@PREVIEW_HOST_RE@|${PREVIEW_HOST//./\\\\.}|g" \
			"$TOP_SRCDIR/nginx/sandboxd-dev.conf.in" >"$d/nginx.conf"
		nginx -c "$d/nginx.conf" -p "$d" -e "$d/nginx-error.log" 2>>"$d/nginx-start.log" && break
		port=
	done
	[ -n "$port" ] || return 1
	for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done
	echo "http://127.0.0.1:$port"
}

# start NAME BIN NETWORK(no|a pool): prints the base URL
start() {
	local n=$1 bin=$2 net=$3 d=$W/$1
	mkdir -p "$d"; chmod 0711 "$d"
	local opt=(--network=no)
	[ "$net" = no ] || opt=("${NET_OPTS[@]}" --net-pool "$net")
	"$bin" --data "$d/data" --instance "nf$n$$" --pidfile "$d/sandboxd.pid" \
		--uid-base $((0x40000000 + (RANDOM % 700) * 64 * 65536)) --uid-slots 64 --max-running 64 \
		--warm-sandboxes 4 --preview-domain "http://$PREVIEW_HOST:8080" "${opt[@]}" \
		>>"$d/sandboxd.log" 2>&1 &
	for _ in $(seq 1 200); do [ -S "$d/data/run/fcgi.sock" ] && break; sleep 0.05; done
	nginx_for "$d" "$d/data/run/fcgi.sock"
}

stop_all() {
	local p
	for p in "$W"/*/sandboxd.pid; do [ -f "$p" ] && kill -TERM "$(cat "$p")"; done
	for p in "$W"/*/sandboxd.pid; do
		for _ in $(seq 1 300); do kill -0 "$(cat "$p")" 2>/dev/null || break; sleep 0.1; done
	done
	for p in "$W"/*/nginx.pid; do [ -f "$p" ] && kill -QUIT "$(cat "$p")" 2>/dev/null; done
	[ -n "${FLOOR_PID:-}" ] && kill -TERM "$FLOOR_PID"
	sleep 0.3
	[ "${T_KEEP:-0}" = 1 ] && echo "# kept $W" >&2 || rm -rf "$W"
}
trap stop_all EXIT

ON_B=$(start onb "$BEFORE" 10.90.0.0/16) ON_A=$(start ona "$AFTER" 10.91.0.0/16)
OFF_B=$(start offb "$BEFORE" no) OFF_A=$(start offa "$AFTER" no)
# one sandbox in each (created, then running), its status answer's size the floor's
for b in "$ON_B" "$ON_A" "$OFF_B" "$OFF_A"; do curl -s -o /dev/null -X POST "$b/sandboxes/nf1"; done
BYTES=$(curl -s "$ON_A/sandboxes/nf1" | wc -c)
mkdir -p "$W/floor"; chmod 0711 "$W/floor"
"$FLOOR" "$W/floor/floor.sock" 2 "$BYTES" </dev/null &
FLOOR_PID=$!
for _ in $(seq 1 100); do [ -S "$W/floor/floor.sock" ] && break; sleep 0.02; done
FL=$(nginx_for "$W/floor" "$W/floor/floor.sock")
sleep 2	# the warm sandboxes made

workers() { pgrep -P "$(cat "$W/$1/sandboxd.pid")" -x sandboxd-worker | tr '\n' ' '; }
if [ "${HOLD:-0}" = 1 ]; then
	info=${NETFRONT_INFO:-$W/info}
	{
		echo "netns=$NET_HOST floor=$FL floor_pids=$(pgrep -P "$FLOOR_PID" | tr '\n' ' ')"
		for n in onb ona offb offa; do
			echo "$n pid=$(cat "$W/$n/sandboxd.pid") children=$(pgrep -P "$(cat "$W/$n/sandboxd.pid")" | tr '\n' ' ')"
		done
		echo "onb=$ON_B ona=$ON_A offb=$OFF_B offa=$OFF_A"
	} >"$info"
	cat "$info"
	while [ -f "$info" ]; do sleep 1; done
	exit 0
fi

python3 - "$ROUNDS" "$N" "$FL" "$ON_B" "$ON_A" "$OFF_B" "$OFF_A" <<'PY'
import http.client, random, statistics, sys, time, urllib.parse
rounds, n = int(sys.argv[1]), int(sys.argv[2])
names = ["floor", "on-before", "on-after", "off-before", "off-after"]
bases = dict(zip(names, sys.argv[3:8]))
conns = {}
def get(name, path):
    u = urllib.parse.urlparse(bases[name])
    c = conns.get(name) or http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conns[name] = c
    t = time.perf_counter()
    c.request("GET", path)
    r = c.getresponse(); d = r.read()
    ms = (time.perf_counter() - t) * 1000
    assert r.status == 200, (name, path, r.status, d[:200])
    return ms
reqs = [("floor", "status", "/sandboxes/nf1")]
for s in names[1:]:
    reqs += [(s, "status", "/sandboxes/nf1"), (s, "healthz", "/healthz")]
for _ in range(50):
    for s, k, p in reqs:
        get(s, p)
# a new order every time: no request always follows the same one
rnd = random.Random(18)
for r in range(rounds):
    res = {(s, k): [] for s, k, _ in reqs}
    for i in range(n):
        order = rnd.sample(reqs, len(reqs))
        for s, k, p in order:
            res[(s, k)].append(get(s, p))
    fl = statistics.median(res[("floor", "status")])
    print("round %d: floor %.3f ms" % (r + 1, fl))
    for s in names[1:]:
        st, hz = statistics.median(res[(s, "status")]), statistics.median(res[(s, "healthz")])
        print("  %-10s status %.3f ms (%.2f x floor)  healthz %.3f ms (%.2f x floor)" %
              (s, st, st / fl, hz, hz / fl))
    sys.stdout.flush()
PY
