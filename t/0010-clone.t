#!/bin/bash
# POST /sandboxes/:id/clone against real git servers on loopback: git
# daemon (git://) and git http-backend behind a second nginx through
# fcgiwrap (smart HTTP).  What a clone checks out stays inside the sandbox
# (symlinks, modes, owner), submodules are not recursed, redirects are not
# followed, and bad requests are refused without creating anything.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
# loopback is allowed here (the default policy is t/0011-clone-policy.t);
# small caps so that the byte cap and the time cap can be shown quickly
CLONE_TIMEOUT=6
sbd_start --clone-allow 127.0.0.0/8 --clone-timeout $CLONE_TIMEOUT --clone-max-mb 1

GITD_PID= FCGI_PID= TARPIT_PID=
t_cleanup() {
	local p
	for p in $GITD_PID $FCGI_PID $TARPIT_PID; do kill -TERM "$p" 2>/dev/null; done
	[ -f "$T_DIR/git-nginx.pid" ] && kill -QUIT "$(cat "$T_DIR/git-nginx.pid")" 2>/dev/null
	for p in $GITD_PID $FCGI_PID $TARPIT_PID; do wait "$p" 2>/dev/null; done
	sbd_cleanup
}
trap t_cleanup EXIT

# --- helpers ----------------------------------------------------------------

# wait_port HOST PORT: bounded wait until something accepts there
wait_port() {
	local i
	for i in $(seq 1 100); do
		(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
# out: the last exec's stdout; sh_in ID CMD: exec, stdout into OUT
sh_in() { exec_in "$1" "$2"; OUT=$(jqr .data.stdout); }
ws() { sh_in "$1" 'ls -A /workspace | tr "\n" " "'; WS=$OUT; }

# is_refused STATUS-REGEX DESCRIPTION: the last answer is that status with a
# JSON error envelope (success false, non-empty error)
is_refused() {
	local want=$1; shift
	like "$STATUS" "^($want)\$" "$* -> $want"
	[ "$(jqr '.success == false and (.error | type == "string" and length > 0)')" = true ]
	ok $? "$* -> JSON error, success false" || diag "body: $(printf '%s' "$BODY" | head -c 300)"
}

# init_left ID: wait (at most 60 s) until only the init runs in the sandbox;
# LEFT: the comm names of what runs there, sorted (a clone left behind
# waits on the silent server, 600 s)
init_left() {
	for _ in $(seq 1 600); do
		LEFT=$(for p in $(sandbox_pids "$1"); do cat "/proc/$p/comm" 2>/dev/null; done | sort | tr '\n' ' ')
		[ "$LEFT" = "sandbox-init " ] && return
		sleep 0.1
	done
}

# clone ID JSON: POST the clone, timing it (ELAPSED_MS)
clone() {
	local t0=$(date +%s%N)
	api POST "/sandboxes/$1/clone" "$2"
	ELAPSED_MS=$((($(date +%s%N) - t0) / 1000000))
}

# --- test repositories, made with the host's git ----------------------------

export HOME=$T_DIR/home GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=T GIT_AUTHOR_EMAIL=t@example.org \
	GIT_COMMITTER_NAME=T GIT_COMMITTER_EMAIL=t@example.org \
	GIT_AUTHOR_DATE='2024-01-01T00:00:00Z' GIT_COMMITTER_DATE='2024-01-01T00:00:00Z'
mkdir -p "$HOME"
R=$T_DIR/repos S=$T_DIR/src
mkdir -p "$R" "$S"
g() { git "$@" >>"$T_DIR/git-setup.log" 2>&1; }
{
	# the submodule's repository, a plain local one
	g init -q -b main "$S/lib" &&
	echo "library file" >"$S/lib/libfile.txt" &&
	g -C "$S/lib" add . && g -C "$S/lib" commit -q -m "lib" &&
	g clone -q --bare "$S/lib" "$R/lib.git" &&
	LIB_SHA=$(git -C "$S/lib" rev-parse HEAD) &&

	g init -q -b main "$S/demo" &&
	cd "$S/demo" &&
	echo "hello from demo" >README.md &&
	mkdir -p docs/deep && echo "deep file" >docs/deep/note.txt &&
	printf '#!/bin/sh\necho script-ran\n' >run.sh && chmod 0755 run.sh &&
	ln -s /etc/passwd evil &&
	ln -s ../../../../etc up &&
	printf '[submodule "libsub"]\n\tpath = libsub\n\turl = %s\n' "$R/lib.git" >.gitmodules &&
	g add README.md docs run.sh evil up .gitmodules &&
	g update-index --add --cacheinfo "160000,$LIB_SHA,libsub" &&
	g commit -q -m "first: files, script, symlinks, submodule" &&
	echo "more" >>README.md && g add README.md && g commit -q -m "second: more readme" &&
	g checkout -q -b feature &&
	echo "feature only" >feature.txt && g add feature.txt &&
	g commit -q -m "feature: a file of its own" &&
	g checkout -q main &&
	cd / &&
	g init -q --bare -b main "$R/demo.git" &&
	g -C "$S/demo" push -q "$R/demo.git" main feature &&

	# a repository bigger than the 1 MB cap: 3 MB that do not compress
	g init -q -b main "$S/big" &&
	head -c 3145728 /dev/urandom >"$S/big/blob.bin" &&
	g -C "$S/big" add . && g -C "$S/big" commit -q -m big &&
	g clone -q --bare "$S/big" "$R/big.git" &&

	# a small pack that checks out bigger than a 16 MiB sandbox disk
	g init -q -b main "$S/zeros" &&
	head -c 41943040 /dev/zero >"$S/zeros/zeros.bin" &&
	g -C "$S/zeros" add . && g -C "$S/zeros" commit -q -m zeros &&
	g clone -q --bare "$S/zeros" "$R/zeros.git"
} || bail "cannot make the test repositories: $(tail -n 5 "$T_DIR/git-setup.log")"
# what the host's repository says, to compare with the clones
[ "$(git --git-dir="$R/demo.git" ls-tree main run.sh | cut -c1-6)" = 100755 ] || bail "run.sh not 100755"
[ "$(git --git-dir="$R/demo.git" ls-tree main libsub | cut -c1-6)" = 160000 ] || bail "libsub not a gitlink"
LOG_MAIN=$(git --git-dir="$R/demo.git" log --oneline main)
LOG_FEATURE=$(git --git-dir="$R/demo.git" log --oneline feature)
HOST_PASSWD_SUM=$(sha256sum </etc/passwd)
REPOS_BEFORE=$(cd "$R" && find . -printf '%p %y %s %T@\n' | sort)
MARK=$T_DIR/mark
touch "$MARK"
sleep 0.01

# --- git daemon on loopback ---------------------------------------------------

GPORT_D=
for try in $(seq 1 10); do
	p=$((20000 + RANDOM % 40000))
	port_free "$p" || continue
	git daemon --reuseaddr --base-path="$R" --export-all --listen=127.0.0.1 --port="$p" \
		--verbose --log-destination=stderr >>"$T_DIR/git-daemon.log" 2>&1 &
	GITD_PID=$!
	if wait_port 127.0.0.1 "$p" && kill -0 "$GITD_PID" 2>/dev/null; then
		GPORT_D=$p
		break
	fi
	kill "$GITD_PID" 2>/dev/null; wait "$GITD_PID" 2>/dev/null; GITD_PID=
done
[ -n "$GPORT_D" ] || bail "git daemon did not start: $(tail -n 3 "$T_DIR/git-daemon.log")"
GURL=git://127.0.0.1:$GPORT_D

api POST /sandboxes/clone-a
is "$STATUS" 200 "sandbox clone-a created"

# -- stream: true gives progress as server-sent events, then the result
curl -s -N -X POST -H 'Content-Type: application/json' \
	--data-binary "{\"repoUrl\":\"$GURL/demo.git\",\"directory\":\"streamed\",\"stream\":true}" \
	-D "$T_DIR/sclone.h" "$BASE/sandboxes/clone-a/clone" >"$T_DIR/sclone"
like "$(cat "$T_DIR/sclone.h")" 'Content-Type: text/event-stream' "stream: true answers an event stream"
SEV=$(sed -n 's/^data: //p' "$T_DIR/sclone" | jq -r .type | tr '\n' ' ')
like "$SEV" '^start (progress )+complete $' "its events: start, progress..., complete ($SEV)"
is "$(sed -n 's/^data: //p' "$T_DIR/sclone" | tail -n 1 | jq -r .directory)" /workspace/streamed \
	"complete names the directory"
is "$(sed -n 's/^data: //p' "$T_DIR/sclone" | jq -r 'select(.type == "progress") | .receivedObjects' | tail -n 1)" \
	"$(sed -n 's/^data: //p' "$T_DIR/sclone" | jq -r 'select(.type == "progress") | .totalObjects' | tail -n 1)" \
	"the last progress event has every object received"
curl -s -N -X POST -H 'Content-Type: application/json' \
	--data-binary "{\"repoUrl\":\"$GURL/demo.git\",\"directory\":\"streamed\",\"stream\":true}" \
	"$BASE/sandboxes/clone-a/clone" >"$T_DIR/sclone2"
is "$(sed -n 's/^data: //p' "$T_DIR/sclone2" | jq -r .type | tr '\n' ' ')" "start error " \
	"a streamed clone into a non-empty directory ends with one error event"
is "$(sed -n 's/^data: //p' "$T_DIR/sclone2" | tail -n 1 | jq -r .status)" 409 "carrying status 409"
api POST /sandboxes/clone-a/exec '{"command":"rm -rf /workspace/streamed"}'

# -- the default branch into the default directory
clone clone-a "{\"repoUrl\":\"$GURL/demo.git\"}"
is "$STATUS" 200 "git:// clone answers 200"
is "$BODY" "{\"success\":true,\"data\":{\"repoUrl\":\"$GURL/demo.git\",\"directory\":\"/workspace/demo\",\"message\":\"Repository cloned successfully\"}}" \
	"git:// clone answers the documented shape, directory /workspace/<name without .git>"
grep -q "Connection from 127.0.0.1" "$T_DIR/git-daemon.log"
ok $? "the git daemon was reached over loopback"

sh_in clone-a 'cd /workspace/demo && ls -A | sort | tr "\n" " "'
is "$OUT" ".git .gitmodules README.md docs evil libsub run.sh up " "the checkout holds the tree (ls -A)"
sh_in clone-a 'cat /workspace/demo/README.md /workspace/demo/docs/deep/note.txt'
is "$OUT" "$(printf 'hello from demo\nmore\ndeep file')" "files and a file in a subdirectory have their content"
exec_in clone-a 'ls -la /workspace/demo'
is "$(jqr .data.exitCode)" 0 "ls -la inside works"
like "$(jqr .data.stdout)" '^-rwxr-xr-x .* run\.sh$' "ls -la shows run.sh executable"
sh_in clone-a 'test -x /workspace/demo/run.sh && /workspace/demo/run.sh'
is "$OUT" "script-ran" "the 100755 script is executable inside and runs"
sh_in clone-a 'stat -c %a /workspace/demo/run.sh /workspace/demo/README.md | tr "\n" " "'
is "$OUT" "755 644 " "modes: 755 for the script, 644 for a plain file"

# symlinks: symlinks inside, resolving inside the sandbox
sh_in clone-a 'cd /workspace/demo && test -L evil && test -L up && readlink evil && readlink up'
is "$OUT" "$(printf '/etc/passwd\n../../../../etc')" "evil and up are symlinks with their targets"
sh_in clone-a 'cat /workspace/demo/evil'
SB_EVIL=$OUT
sh_in clone-a 'cat /etc/passwd'
is "$SB_EVIL" "$OUT" "reading evil gives the sandbox's /etc/passwd"
like "$SB_EVIL" '^user:x:1000:1000:' "the passwd read through evil has the sandbox's user:x:1000:1000"
isnt "$(printf '%s\n' "$SB_EVIL" | sha256sum)" "$HOST_PASSWD_SUM" "the passwd read through evil is not the host's"
sh_in clone-a 'cat /workspace/demo/up/passwd'
is "$OUT" "$SB_EVIL" "up/passwd (../../../../etc) is the sandbox's /etc/passwd too"

# owner: the sandbox's root, inside
sh_in clone-a 'cd /workspace/demo && stat -c %u . README.md run.sh docs/deep/note.txt .git .git/HEAD | sort -u'
is "$OUT" 0 "the checkout and .git are owned by uid 0 inside"
sh_in clone-a 'stat -c %u /workspace/demo/evil'
is "$OUT" 0 "the symlinks are owned by uid 0 inside (lstat)"
# ...which is not the host's root
# ...which is not the host's root: seen from the host, through the init's root
HOST_UIDS=$(for p in $(sandbox_pids clone-a); do
	[ "$(cat "/proc/$p/comm" 2>/dev/null)" = sandbox-init ] &&
		stat -c %u "/proc/$p/root/workspace/demo/README.md" "/proc/$p/root/workspace/demo/.git/HEAD"
done 2>/dev/null | sort -u | tr '\n' ' ')
like "$HOST_UIDS" '^[0-9]+ $' "seen from the host, the checkout has one owner ($HOST_UIDS)"
[ -n "$HOST_UIDS" ] && [ "${HOST_UIDS% }" -ge "$UID_BASE" ]
ok $? "seen from the host, that owner is a uid of the sandbox's range, not the real root"

# submodule: not recursed
sh_in clone-a 'ls -A /workspace/demo/libsub 2>/dev/null | wc -l'
is "$OUT" 0 "the submodule directory is empty (not recursed)"
sh_in clone-a 'find / -xdev -name libfile.txt 2>/dev/null | wc -l'
is "$OUT" 0 "nothing of the submodule's repository was fetched"

# git inside (the host's /usr) reads the clone
exec_in clone-a 'git -C /workspace/demo log --oneline'
is "$(jqr .data.exitCode)" 0 "git log inside exits 0" || diag "stderr: $(jqr .data.stderr)"
is "$(jqr .data.stdout)" "$LOG_MAIN" "git log inside shows main's commits"
exec_in clone-a 'git -C /workspace/demo rev-parse --abbrev-ref HEAD && git -C /workspace/demo status --porcelain'
is "$(jqr .data.stdout)" main "HEAD is main and the worktree is clean (git status)" || diag "stderr: $(jqr .data.stderr)"
exec_in clone-a 'git -C /workspace/demo remote get-url origin'
is "$(jqr .data.stdout)" "$GURL/demo.git" "origin is the URL cloned"

# -- branch feature into a relative directory
clone clone-a "{\"repoUrl\":\"$GURL/demo.git\",\"branch\":\"feature\",\"directory\":\"feat\"}"
is "$STATUS" 200 "git:// clone of branch feature answers 200"
is "$(jqr .data.directory)" /workspace/feat "a relative directory is under /workspace"
sh_in clone-a 'cat /workspace/feat/feature.txt; git -C /workspace/feat rev-parse --abbrev-ref HEAD'
is "$OUT" "$(printf 'feature only\nfeature')" "feat has feature's file and HEAD on feature"
sh_in clone-a 'git -C /workspace/feat log --oneline'
is "$OUT" "$LOG_FEATURE" "git log in feat shows feature's commits"
sh_in clone-a 'test -e /workspace/demo/feature.txt; echo $?'
is "$OUT" 1 "the main clone has no feature.txt"

# -- an absolute directory
clone clone-a "{\"repoUrl\":\"$GURL/demo.git\",\"directory\":\"/home/user/abs\"}"
is "$STATUS" 200 "clone to an absolute directory answers 200"
is "$(jqr .data.directory)" /home/user/abs "the absolute directory is kept"
sh_in clone-a 'cat /home/user/abs/README.md | head -n 1'
is "$OUT" "hello from demo" "the absolute directory holds the checkout"

# -- an existing non-empty directory: 409, untouched
sh_in clone-a 'ls -A /workspace/feat | sort | tr "\n" " "'
FEAT_BEFORE=$OUT
clone clone-a "{\"repoUrl\":\"$GURL/demo.git\",\"directory\":\"feat\"}"
is_refused 409 "clone into an existing non-empty directory"
sh_in clone-a 'ls -A /workspace/feat | sort | tr "\n" " "; git -C /workspace/feat rev-parse --abbrev-ref HEAD'
is "$OUT" "${FEAT_BEFORE}feature" "the existing directory is untouched"
# an existing empty directory is fine
sh_in clone-a 'mkdir /workspace/empty && echo made'
is "$OUT" made "an empty directory made"
clone clone-a "{\"repoUrl\":\"$GURL/demo.git\",\"directory\":\"empty\"}"
is "$STATUS" 200 "clone into an existing empty directory answers 200"
sh_in clone-a 'head -n 1 /workspace/empty/README.md'
is "$OUT" "hello from demo" "the empty directory now holds the checkout"

# -- a branch that does not exist: an error, nothing left behind
clone clone-a "{\"repoUrl\":\"$GURL/demo.git\",\"branch\":\"no-such-branch\",\"directory\":\"nobranch\"}"
is_refused '4[0-9][0-9]|5[0-9][0-9]' "clone of a branch that does not exist"
sh_in clone-a 'ls -A /workspace/nobranch 2>/dev/null | wc -l'
is "$OUT" 0 "no content left in the directory of the failed clone"

# --- caps -----------------------------------------------------------------------

clone clone-a "{\"repoUrl\":\"$GURL/big.git\"}"
is_refused 502 "a 3 MB repository with --clone-max-mb 1"
like "$(jqr .error)" 'cap' "the error names the cap"
sh_in clone-a 'ls -A /workspace/big 2>/dev/null | wc -l'
is "$OUT" 0 "no content left of the capped clone"

# a server that accepts and never speaks: the time cap answers 504
TARPIT_PORT=
if [ -x /usr/bin/python3 ]; then
	/usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True)
time.sleep(600)' >"$T_DIR/tarpit.port" 2>/dev/null &
	TARPIT_PID=$!
	for _ in $(seq 1 1200); do [ -s "$T_DIR/tarpit.port" ] && break; sleep 0.05; done
	TARPIT_PORT=$(cat "$T_DIR/tarpit.port")
fi
if [ -n "$TARPIT_PORT" ]; then
	clone clone-a "{\"repoUrl\":\"git://127.0.0.1:$TARPIT_PORT/slow.git\"}"
	is_refused 504 "a server that never answers, --clone-timeout $CLONE_TIMEOUT"
	[ "$ELAPSED_MS" -ge $((CLONE_TIMEOUT * 1000 - 500)) ] && [ "$ELAPSED_MS" -lt $((CLONE_TIMEOUT * 1000 + 5000)) ]
	ok $? "it answers after about $CLONE_TIMEOUT s (${ELAPSED_MS} ms)"
	# the clone is stopped: nothing but the init left in the sandbox, and
	# its connection to the silent server closed
	init_left clone-a
	is "$LEFT" "sandbox-init " "no clone process is left in the sandbox after the timeout"
	is "$(ss -Htn state established dst "127.0.0.1:$TARPIT_PORT" 2>/dev/null)" "" \
		"no established connection to the silent server is left"
	sh_in clone-a 'ls -A /workspace/slow 2>/dev/null | tr "\n" " "'
	is "$OUT" "" "no content left of the timed-out clone"
	# so the same clone can be retried (here from a server that answers)
	clone clone-a "{\"repoUrl\":\"$GURL/demo.git\",\"directory\":\"slow\"}"
	is "$STATUS" 200 "a clone into the timed-out clone's directory answers 200 (not 409)" ||
		diag "body: $BODY"
	# the service still clones afterwards
	clone clone-a "{\"repoUrl\":\"$GURL/demo.git\",\"directory\":\"after-timeout\"}"
	is "$STATUS" 200 "a clone after the timed-out one answers 200"
	# a clone killed while it waits on the silent server leaves no sibling
	# directory behind, whether its process in the sandbox is killed (the
	# sandbox's root may; the answer is then 409, not 500) or the worker
	# that asked is (kill -9): the init removes it, as the sandbox
	for victim in clone worker; do
		curl -s -o "$T_DIR/orphan.body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
			--data-binary "{\"repoUrl\":\"git://127.0.0.1:$TARPIT_PORT/orphan.git\"}" \
			"$BASE/sandboxes/clone-a/clone" >"$T_DIR/orphan.status" &
		CURL_PID=$!
		PID=
		for _ in $(seq 1 1200); do	# the clone's process holds the connection
			PID=$(ss -Htnp state established dst "127.0.0.1:$TARPIT_PORT" 2>/dev/null |
				grep -o 'pid=[0-9]*' | cut -d= -f2 | head -n 1)
			[ -n "$PID" ] && break
			sleep 0.05
		done
		if [ "$victim" = worker ]; then
			# the one worker not waiting in accept(2) (43) or accept4 (288):
			# the clone's is the only request in flight
			PID=$(for p in $(sbd_workers); do
				read -r nr _ <"/proc/$p/syscall" 2>/dev/null
				[ "$nr" != 43 ] && [ "$nr" != 288 ] && echo "$p"
			done)
		fi
		ok $([ -n "$PID" ] && [ "$PID" = "${PID%% *}" ]; echo $?) \
			"$victim: a clone waits on the silent server ($victim pid $PID)"
		sh_in clone-a 'ls -A /workspace | grep -c "^orphan\.sandboxd-clone-"'
		is "$OUT" 1 "  its sibling directory exists in /workspace"
		[ -n "$PID" ] && kill -KILL "$PID"
		wait "$CURL_PID" 2>/dev/null
		[ "$victim" = clone ] && is "$(cat "$T_DIR/orphan.status")" 409 \
			"  the clone killed in the sandbox answers 409: $(cat "$T_DIR/orphan.body")"
		for _ in $(seq 1 600); do
			sh_in clone-a 'ls -A /workspace | grep -c "^orphan\.sandboxd-clone-"'
			[ "$OUT" = 0 ] && break
			sleep 0.1
		done
		is "$OUT" 0 "  after kill -9 of the $victim the sibling directory is removed"
		init_left clone-a
		is "$LEFT" "sandbox-init " "  and no clone process is left"
	done
else
	echo "ok $((T_N += 1)) # SKIP no python3 for a silent server"
fi

# --- smart HTTP: git http-backend behind nginx through fcgiwrap ---------------

FCGIWRAP=$(command -v fcgiwrap || echo /usr/sbin/fcgiwrap)
if [ ! -x "$FCGIWRAP" ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q fcgiwrap >>"$T_DIR/apt.log" 2>&1
	FCGIWRAP=$(command -v fcgiwrap || echo /usr/sbin/fcgiwrap)
fi
HTTP_OK=
if [ -x "$FCGIWRAP" ] && [ -x /usr/lib/git-core/git-http-backend ]; then
	"$FCGIWRAP" -s "unix:$T_DIR/fcgiwrap.sock" >>"$T_DIR/fcgiwrap.log" 2>&1 &
	FCGI_PID=$!
	for _ in $(seq 1 1200); do [ -S "$T_DIR/fcgiwrap.sock" ] && break; sleep 0.05; done
	chmod 0666 "$T_DIR/fcgiwrap.sock" 2>/dev/null	# nginx's workers are www-data
	mkdir -p "$T_DIR/git-nginx-tmp"
	for try in $(seq 1 10); do
		GPORT_H=$((20000 + RANDOM % 40000))
		port_free "$GPORT_H" || continue
		sed -e "s|@T@|$T_DIR|g" -e "s|@PORT@|$GPORT_H|g" >"$T_DIR/git-nginx.conf" <<'EOF'
daemon on;
worker_processes 1;
user www-data www-data;
pid @T@/git-nginx.pid;
error_log @T@/git-nginx-error.log warn;
events { worker_connections 64; }
http {
	access_log @T@/git-nginx-access.log;
	client_body_temp_path @T@/git-nginx-tmp/body;
	fastcgi_temp_path @T@/git-nginx-tmp/fastcgi;
	proxy_temp_path @T@/git-nginx-tmp/proxy;
	uwsgi_temp_path @T@/git-nginx-tmp/uwsgi;
	scgi_temp_path @T@/git-nginx-tmp/scgi;
	server {
		# 127.0.0.2 serves the same: a redirect there would succeed if followed
		listen 127.0.0.1:@PORT@;
		listen 127.0.0.2:@PORT@;
		location ~ ^/git(/.*) {
			fastcgi_pass unix:@T@/fcgiwrap.sock;
			include /etc/nginx/fastcgi_params;
			fastcgi_param SCRIPT_FILENAME /usr/lib/git-core/git-http-backend;
			fastcgi_param GIT_PROJECT_ROOT @T@/repos;
			fastcgi_param GIT_HTTP_EXPORT_ALL 1;
			fastcgi_param PATH_INFO $1;
		}
		location = /redirect/info/refs {
			return 302 http://127.0.0.2:@PORT@/git/demo.git/info/refs$is_args$args;
		}
	}
}
EOF
		"$NGINX_BIN" -c "$T_DIR/git-nginx.conf" -p "$T_DIR" -e "$T_DIR/git-nginx-error.log" \
			2>>"$T_DIR/git-nginx-start.log" && break
		GPORT_H=
	done
	if [ -n "$GPORT_H" ] && wait_port 127.0.0.1 "$GPORT_H" &&
		curl -sf -o /dev/null "http://127.0.0.1:$GPORT_H/git/demo.git/info/refs?service=git-upload-pack"; then
		HTTP_OK=1
	else
		diag "smart HTTP server not working: $(tail -n 3 "$T_DIR/git-nginx-start.log" "$T_DIR/git-nginx-error.log" "$T_DIR/fcgiwrap.log" 2>/dev/null)"
	fi
fi
if [ -n "$HTTP_OK" ]; then
	HURL=http://127.0.0.1:$GPORT_H
	clone clone-a "{\"repoUrl\":\"$HURL/git/demo.git\",\"directory\":\"http-demo\"}"
	is "$STATUS" 200 "http:// (smart HTTP) clone answers 200" || diag "body: $BODY"
	is "$(jqr .data.directory)" /workspace/http-demo "into the directory asked"
	sh_in clone-a 'git -C /workspace/http-demo log --oneline'
	is "$OUT" "$LOG_MAIN" "the http clone has main's commits"
	sh_in clone-a 'cd /workspace/http-demo && test -x run.sh && test -L evil && readlink evil && head -n 1 README.md'
	is "$OUT" "$(printf '/etc/passwd\nhello from demo')" "the http clone has the script, symlink and files"
	grep -q 'GET /git/demo.git/info/refs?service=git-upload-pack' "$T_DIR/git-nginx-access.log"
	ok $? "the smart HTTP server was reached (its access log)"

	# the redirect target serves the repository...
	clone clone-a "{\"repoUrl\":\"http://127.0.0.2:$GPORT_H/git/demo.git\",\"directory\":\"via-2\"}"
	is "$STATUS" 200 "the redirect's target (127.0.0.2) clones when asked directly" || diag "body: $BODY"
	# ...but a redirect there is not followed
	N_ACCESS=$(wc -l <"$T_DIR/git-nginx-access.log")
	clone clone-a "{\"repoUrl\":\"$HURL/redirect\"}"
	isnt "$STATUS" 200 "a clone answered by a 302 to another host fails"
	is_refused '4[0-9][0-9]|5[0-9][0-9]' "a clone answered by a redirect"
	sh_in clone-a 'ls -A /workspace/redirect 2>/dev/null | wc -l'
	is "$OUT" 0 "no directory with content is left by the redirected clone"
	NEW_ACCESS=$(tail -n +$((N_ACCESS + 1)) "$T_DIR/git-nginx-access.log")
	like "$NEW_ACCESS" 'GET /redirect/info/refs' "the redirect was served"
	unlike "$NEW_ACCESS" '/git/demo\.git' "its target was never requested"
else
	echo "ok $((T_N += 1)) # SKIP smart HTTP: no fcgiwrap (could not be installed) or no git-http-backend"
fi

# --- refusals: nothing is created in the sandbox --------------------------------

api POST /sandboxes/clone-r
is "$STATUS" 200 "sandbox clone-r created"
ws clone-r
is "$WS" "" "clone-r's /workspace is empty to start with"

# refuse JSON STATUS DESCRIPTION [ERROR-REGEX]
refuse() {
	clone clone-r "$1"
	is_refused "$2" "$3"
	[ -z "${4-}" ] || like "$(jqr .error)" "$4" "$3: the error says why"
	ws clone-r
	is "$WS" "" "$3: nothing created in /workspace"
}
refuse '{"repoUrl":"file:///etc"}' 400 "file:///etc" 'scheme'
refuse '{"repoUrl":"/etc"}' 400 "a local path /etc" 'local path|URL'
refuse "{\"repoUrl\":\"$R/demo.git\"}" 400 "a local path to the host's test repository" 'local path|URL'
refuse '{"repoUrl":"ssh://git@host/x"}' 400 "ssh://git@host/x" 'ssh'
refuse '{"repoUrl":"git@github.com:o/x.git"}' 400 "scp-like ssh git@github.com:o/x.git"
refuse '{"repoUrl":"https://user:pw@127.0.0.1/x.git"}' 400 "credentials in the URL" 'credentials'
refuse "{\"repoUrl\":\"http://user@127.0.0.1:$GPORT_D/x.git\"}" 400 "a user name in the URL" 'credentials'
refuse '{"repoUrl":"ftp://x"}' 400 "ftp://x" 'scheme'
refuse "{\"repoUrl\":\"$GURL/demo.git\",\"depth\":1}" 400 "depth present" 'depth|shallow'
refuse "{\"repoUrl\":\"$GURL/demo.git\",\"stream\":\"yes\"}" 400 "stream not a boolean" 'stream'
refuse '{}' 400 "missing repoUrl" 'repoUrl'
refuse '{"repoUrl":5}' 400 "repoUrl not a string" 'repoUrl'
refuse '{"repoUrl":["git://127.0.0.1/x"]}' 400 "repoUrl an array" 'repoUrl'
refuse "{\"repoUrl\":\"$GURL/demo.git\",\"branch\":\"main\\nx\"}" 400 "branch with a newline" 'branch'
refuse "{\"repoUrl\":\"$GURL/demo.git\",\"directory\":7}" 400 "directory not a string" 'directory'
refuse '{"repoUrl":"git://127.0.0.1:99999/x.git"}' 400 "a port out of range" 'port'

# blocked by policy before connecting (403: the request is refused, not the
# remote side failing): no server there, no wait for a timeout
for u in git://169.254.169.254/latest.git http://10.0.0.1/x.git; do
	refuse "{\"repoUrl\":\"$u\"}" 403 "$u (link-local / private)" 'clone failed: .*may not reach'
	# (8 s: a connect tried there would wait 10 s, CONNECT_TIMEOUT_MS)
	[ "$ELAPSED_MS" -lt 8000 ]
	ok $? "$u is refused at once, without trying to connect (${ELAPSED_MS} ms)"
done

# nothing listens: 502 quickly
DEAD=
for try in $(seq 1 20); do
	p=$((20000 + RANDOM % 40000))
	port_free "$p" && { DEAD=$p; break; }
done
refuse "{\"repoUrl\":\"git://127.0.0.1:$DEAD/x.git\"}" 502 "a port where nothing listens" '^clone failed: '
# (8 s: a refused connect, not one waited out: CONNECT_TIMEOUT_MS, 10 s)
[ "$ELAPSED_MS" -lt 8000 ]
ok $? "answered quickly (${ELAPSED_MS} ms)"

# a repository the server does not have
refuse "{\"repoUrl\":\"$GURL/missing.git\"}" '4[0-9][0-9]|5[0-9][0-9]' "a repository the git daemon does not have"

# a checkout that fills the sandbox's own disk: 507, as any write that
# finds no room (not the 502 of a remote side that failed), nothing left
api POST /sandboxes/clone-q '{"limits":{"diskMb":16}}'
is "$STATUS" 200 "a sandbox with a 16 MiB disk"
clone clone-q "{\"repoUrl\":\"$GURL/zeros.git\"}"
is "$STATUS" 507 "a clone whose checkout fills the sandbox's disk answers 507"
like "$(jqr .error)" 'No space left' "  $(jqr .error)"
ws clone-q
is "$WS" "" "  nothing left in /workspace"

# the sandbox still works after all that
clone clone-r "{\"repoUrl\":\"$GURL/demo.git\"}"
is "$STATUS" 200 "clone-r still clones after the refusals"

# --- nothing appeared on the host outside the data dir --------------------------

is "$(cd "$R" && find . -printf '%p %y %s %T@\n' | sort)" "$REPOS_BEFORE" "the test repositories on the host are unchanged"
is "$(sha256sum </etc/passwd)" "$HOST_PASSWD_SUM" "the host's /etc/passwd is unchanged"
LEAK=$(find /etc /workspace /home/user /root "$T_DIR" -path "$DATA" -prune -o -path "$S" -prune -o \
	-newer "$MARK" \( -name README.md -o -name run.sh -o -name feature.txt -o -name note.txt \
	-o -name .gitmodules -o -name evil -o -name demo -o -name feat \) -print 2>/dev/null)
is "$LEAK" "" "no checked-out file appeared on the host outside \$DATA"

done_testing
