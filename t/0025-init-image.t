#!/bin/bash
# A sandbox's init starts from a clean image: it is the dedicated
# sandboxd-init binary, exec'd through an fd the service opened at start,
# not a fork of a FastCGI worker.  So neither libfcgi nor liblmdb nor the
# worker's LMDB maps are mapped in it, no copy of a request another
# tenant sent through the same worker is in its memory, its environment is
# empty and it holds only the fds it needs.  It stays non-dumpable after
# the exec: from inside, /proc/1/exe and /proc/1/mem stay out of reach.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
cg_need pids
command -v python3 >/dev/null || skip_all "no python3 (scans the init's memory)"
# one worker: every request below goes through the same process (none is
# long-lived, and max-workers forks no spare beside it)
T_WORKERS=1
sbd_start --max-workers 1

# what a tenant sends: a file body and a command, both carrying a marker
# that no binary or library holds (built at run time, never a literal here)
MARKER="tenant-secret-$$-$RANDOM$RANDOM-$(date +%s%N)"
api POST /sandboxes/tenant-a
is "$STATUS" 200 "tenant a's sandbox is created"
# (tenant a's requests and tenant b's start go through one worker: an exec
# past a second, as a quick one is on a loaded host, takes its worker out
# of the pool, its waiting launcher dropped (how it is seen here), and the
# next request goes to a new one; then tenant a's requests go again)
for try in 1 2 3 4 5; do
	spare_ready "spare$try"
	api PUT /sandboxes/tenant-a/files/workspace/secret.txt \
		"$(jq -cn --arg c "$(for _ in $(seq 1 64); do printf '%s ' "$MARKER"; done)" '{content: $c}')"
	PUT_STATUS=$STATUS
	exec_in tenant-a "echo $MARKER >/dev/null; echo done"
	[ -n "$(launchers "$W")" ] && break
	diag "tenant a's exec took worker $W out of the pool (try $try): again"
done
is "$PUT_STATUS" 200 "tenant a writes a file carrying the marker"
is "$(jqr .data.stdout)" done "tenant a runs a command carrying the marker"
WA=$W

# then another tenant's sandbox is made by the same worker
api POST /sandboxes/tenant-b
is "$STATUS" 200 "tenant b's sandbox is created by the same worker"
INIT=$(init_of tenant-b)
ok $([ -n "$INIT" ] && [ -d "/proc/$INIT" ]; echo $?) "tenant b's init runs (host pid $INIT)"

# --- the image ---------------------------------------------------------------------------------
EXE=$(readlink "/proc/$INIT/exe")
is "$(basename "${EXE% (deleted)}")" sandboxd-init "the init's executable is sandboxd-init ($EXE)"
is "$(cat "/proc/$INIT/comm")" sandbox-init "its name is sandbox-init"
is "$(tr '\0' ' ' <"/proc/$INIT/cmdline" | sed 's/ *$//')" sandbox-init "its command line is sandbox-init"
is "$(tr '\0' '\n' <"/proc/$INIT/environ" | grep -c .)" 0 "its environment is empty"
LIBS=$(awk '$6 ~ /\// {print $6}' "/proc/$INIT/maps" | sort -u)
unlike "$LIBS" 'libfcgi|liblmdb' "it maps none of the worker's libraries it has no use for (libfcgi, liblmdb)"
unlike "$LIBS" '\.mdb$|/data/db/' "nor the worker's LMDB maps of the store (every tenant's records)"
W=$(sbd_workers)
is "$W" "$WA" "(tenant b's start went through the worker that served tenant a)"
like "$(awk '{print $6}' "/proc/$W/maps" | sort -u)" 'libfcgi' "(the worker does map libfcgi)"

# --- the memory: no copy of tenant a's requests --------------------------------------------------
# scan every readable mapping of the init as host root
scan() {
	python3 - "$1" "$MARKER" <<'EOF'
import sys
pid, marker = sys.argv[1], sys.argv[2].encode()
found, chunk = 0, 1 << 20
with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
    for line in maps:
        f = line.split()
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        # not the kernel's pages, nor a sanitizer's terabytes of shadow
        if f[1][0] != "r" or (len(f) > 5 and f[5] in ("[vvar]", "[vsyscall]", "[vvar_vclock]")) or \
                hi - lo > 1 << 32:
            continue
        tail = b""
        for at in range(lo, hi, chunk):
            try:
                mem.seek(at)
                data = tail + mem.read(min(chunk, hi - at))
            except OSError:
                tail = b""
                continue
            found += data.count(marker)
            tail = data[-(len(marker) - 1):]
print(found)
EOF
}
W_FOUND=$(scan "$W")
ok $([ "${W_FOUND:-0}" -gt 0 ]; echo $?) "the scan finds the marker in the worker's memory ($W_FOUND copies)"
is "$(scan "$INIT")" 0 "no copy of tenant a's requests is in tenant b's init"

# --- the fds: the control socket, its signalfd and /dev/null, nothing else ----------------------
FDS=$(for f in /proc/"$INIT"/fd/*; do printf '%s -> %s\n' "${f##*/}" "$(readlink "$f")"; done)
diag "init fds: $(printf "%s\n" "$FDS" | tr "\n" " ")"
is "$(printf '%s\n' "$FDS" | grep -cvE '^[0-2] -> /dev/null$|^[0-9]+ -> (socket:\[[0-9]+\]|anon_inode:\[signalfd\])$')" 0 \
	"the init holds only /dev/null (0-2), sockets and its signalfd"
is "$(printf '%s\n' "$FDS" | grep -c 'socket:')" 1 "one socket: its control socket (no FastCGI socket, no other connection)"
unlike "$FDS" 'lmdb|data\.mdb|lock\.mdb|fcgi' "no LMDB or FastCGI fd"

# --- the launcher exec'd ahead of the next start (sandbox_prepare) --------------------------------
# after a start the worker execs the next one's sandboxd-init at once; it
# waits for its settings as a clean image too: none of tenant a's requests,
# an empty environment, no fd but its two pipes and the instance's cgroup
# dirs, in no sandbox's cgroup
spare_of() {	# the waiting launcher the worker $1 holds
	local p
	for p in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = sandbox-launch ] && echo "$p"
	done
}
spare_wait() {	# spare_wait WORKER [NOT]: its waiting launcher, once it has named
	# itself (forked after the start's answer, then exec'd: a loaded
	# machine takes a while), and not NOT
	local p _
	for _ in $(seq 1 1200); do
		p=$(spare_of "$1")
		[ -n "$p" ] && [ "$p" != "${2-}" ] && break
		sleep 0.05
	done
	echo "$p"
}
SPARE=$(spare_wait "$W")
ok $([ -n "$SPARE" ] && [ "$(printf '%s\n' "$SPARE" | wc -l)" = 1 ]; echo $?) \
	"after a start the worker holds one launcher exec'd for the next ($SPARE)"
SPARE=$(printf '%s\n' "$SPARE" | head -n 1)
EXE=$(readlink "/proc/$SPARE/exe" 2>/dev/null)
is "$(basename "${EXE% (deleted)}")" sandboxd-init "  it is sandboxd-init ($EXE)"
is "$(tr '\0' '\n' <"/proc/$SPARE/environ" 2>/dev/null | grep -c .)" 0 "  its environment is empty"
unlike "$(awk '$6 ~ /\// {print $6}' "/proc/$SPARE/maps" 2>/dev/null | sort -u)" 'libfcgi|liblmdb|\.mdb$' \
	"  it maps neither libfcgi, liblmdb nor the store"
is "$(scan "$SPARE")" 0 "  no copy of tenant a's requests is in it"
SFDS=$(for f in /proc/"$SPARE"/fd/*; do printf '%s -> %s\n' "${f##*/}" "$(readlink "$f")"; done)
diag "waiting launcher fds: $(printf "%s\n" "$SFDS" | tr "\n" " ")"
is "$(printf '%s\n' "$SFDS" | grep -E '^(3|4) -> pipe:' | wc -l)" 2 "  it holds its ready and settings pipes (3, 4)"
# and the host's rtnetlink socket, opened before it made the sandbox's
# network namespace ahead too (for a veth; closed when it has none), and
# the next sandbox's control socket, bound ahead (listening, in that
# namespace, in a directory of its worker's: t/0097)
for _ in $(seq 1 1200); do [ -S "$DATA/sandboxes/.ctl-$W/ctl" ] && break; sleep 0.05; done
SFDS=$(for f in /proc/"$SPARE"/fd/*; do printf '%s -> %s\n' "${f##*/}" "$(readlink "$f")"; done)
SOCKS=$(printf '%s\n' "$SFDS" | sed -n 's/^[0-9]* -> socket:\[\([0-9]*\)\]$/\1/p')
is "$(printf '%s\n' "$SOCKS" | grep -c .)" 2 "  two sockets"
NL=$(for i in $SOCKS; do awk -v i="$i" 'NR > 1 && $NF == i {print i}' /proc/self/net/netlink; done)
is "$(printf '%s\n' "$NL" | grep -c .)" 1 "  one a netlink socket of the host's network namespace"
UNIX=$(nsenter -t "$SPARE" -n cat /proc/net/unix 2>/dev/null |
	awk -v s=" $(echo $SOCKS) " 'NR > 1 && index(s, " " $7 " ") {print $6, $NF}')
is "$UNIX" "01 /proc/self/fd/4/ctl" "  the other its control socket, listening (state 01), nothing else of a sandbox's"
isnt "$(readlink "/proc/$SPARE/ns/net")" "$(readlink /proc/self/ns/net)" "  in a network namespace of its own"
is "$(printf '%s\n' "$SFDS" | grep -vE '^[0-2] -> ' | grep -vE '^(3|4) -> pipe:' | grep -v ' -> socket:' | grep -cv ' -> /sys/fs/cgroup/.*sandboxd-')" 0 \
	"  and beyond them only the instance's cgroup dirs (no LMDB, no sandbox's file)"
unlike "$(cat "/proc/$SPARE/cgroup")" "sandboxd-[^/]*/tenant" "  it is in no sandbox's cgroup yet"

# the next create uses it, once: its launcher ends, the worker execs another
api POST /sandboxes/tenant-c
is "$STATUS" 200 "tenant c's sandbox is created by the same worker"
for _ in $(seq 1 600); do [ -d "/proc/$SPARE" ] || break; sleep 0.1; done
ok $([ ! -d "/proc/$SPARE" ]; echo $?) "  the waiting launcher started it and is gone"
NEXT=$(spare_wait "$W" "$SPARE")
ok $([ -n "$NEXT" ] && [ "$NEXT" != "$SPARE" ]; echo $?) "  a new one waits for the next start ($NEXT)"
isnt "$(init_of tenant-c)" "$INIT" "  tenant c has an init of its own"

# a worker killed: the launcher it held reads EOF for its settings and ends
# (it never starts anything)
kill -KILL "$W"
for _ in $(seq 1 600); do [ -d "/proc/$NEXT" ] && [ "$(cat "/proc/$NEXT/comm" 2>/dev/null)" = sandbox-launch ] || break; sleep 0.1; done
ok $([ ! -d "/proc/$NEXT" ] || [ "$(cat "/proc/$NEXT/comm" 2>/dev/null)" != sandbox-launch ]; echo $?) \
	"the launcher a killed worker held ends with it"

# (the execs come last: one past a second, on a loaded host, takes its
# worker out of the pool, and the launcher it holds with it)
exec_in tenant-c 'hostname; cat /proc/1/comm'
is "$(jqr .data.stdout)" "tenant-c
sandbox-init" "  tenant c started with its settings"

# --- from inside: the init's exe and memory stay out of reach ---------------------------------
exec_in tenant-b 'readlink /proc/1/exe; echo rc=$?; head -c 1 /proc/1/mem >/dev/null 2>&1; echo rc=$?; cat /proc/1/maps >/dev/null 2>&1; echo rc=$?'
like "$(jqr .data.stdout)" '^rc=1
rc=1
rc=1$' "inside, /proc/1/exe, /proc/1/mem and /proc/1/maps are refused (the init stays non-dumpable after its exec)"

# a file op and an exec still work from the clean init
api PUT /sandboxes/tenant-b/files/workspace/x.txt '{"content": "hello"}'
is "$STATUS" 200 "a file write in tenant b works"
exec_in tenant-b 'cat /workspace/x.txt'
is "$(jqr .data.stdout)" hello "and an exec reads it back"

done_testing
