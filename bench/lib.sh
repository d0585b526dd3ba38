# bench/lib.sh: one build of the service and an nginx in front of it, for
# the bench/*.sh scripts that compare builds side by side.  Sourced; the
# caller sets TOP (the source tree) and W (its work directory).

# bench_start NAME BIN [sandboxd options...]: prints the base URL
bench_start() {
	local n=$1 bin=$2 d=$W/$1 port
	shift 2
	mkdir -p "$d/nginx-tmp"; chmod 0711 "$d"
	"$bin" --data "$d/data" --instance "ba$n$$" --workers 3 --pidfile "$d/sandboxd.pid" "$@" \
		>>"$d/sandboxd.log" 2>&1 &
	for _ in $(seq 1 100); do [ -S "$d/data/run/fcgi.sock" ] && break; sleep 0.05; done
	port=$((20000 + RANDOM % 40000))
	sed -e "s|@STATE@|$d|g" -e "s|@LISTEN@|127.0.0.1:$port|g" -e "s|@SOCKET@|$d/data/run/fcgi.sock|g" \
		"$TOP/nginx/sandboxd-dev.conf.in" >"$d/nginx.conf"
	nginx -c "$d/nginx.conf" -p "$d" -e "$d/nginx-error.log"
	for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done
	echo "http://127.0.0.1:$port"
}

# bench_stop NAME: the service (its sandboxes with it) and its nginx
bench_stop() {
	local d=$W/$1
	kill -TERM "$(cat "$d/sandboxd.pid")"
	for _ in $(seq 1 300); do kill -0 "$(cat "$d/sandboxd.pid")" 2>/dev/null || break; sleep 0.1; done
	kill -QUIT "$(cat "$d/nginx.pid")" 2>/dev/null
}

# a uid range of 64 slots no other instance is likely to have
bench_uids() { echo "--uid-base $((0x40000000 + (RANDOM % 700) * 64 * 65536)) --uid-slots 64"; }

# bench_runc_bundle DIR: a runc bundle in DIR running `true`: a root of
# empty dirs and /usr's symlinks, /usr bound in read-only, with memory,
# pids and cpu limits (the sandboxes' defaults), as the bwrap row's
bench_runc_bundle() {
	local b=$1 d l
	mkdir -p "$b/rootfs"
	for d in usr proc dev sys tmp etc; do mkdir -p "$b/rootfs/$d"; done
	for l in bin sbin lib lib64; do ln -s "usr/$l" "$b/rootfs/$l"; done
	(cd "$b" && "$RUNC" spec) || return 1
	python3 - "$b/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["true"]
c["root"] = {"path": "rootfs", "readonly": True}
c["mounts"].append({"destination": "/usr", "type": "bind", "source": "/usr", "options": ["rbind", "ro", "nosuid", "nodev"]})
c["linux"]["resources"] = {"memory": {"limit": 1 << 30, "swap": 1 << 30}, "pids": {"limit": 1024},
                           "cpu": {"quota": 100000, "period": 100000}}
json.dump(c, open(sys.argv[1], "w"), indent=1)
PY
}
