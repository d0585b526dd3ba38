#!/bin/bash
# The clone's default destination policy: without --clone-allow, loopback
# (and other private ranges) are refused before any connection is made, by
# whatever name the host is given.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
sbd_start

GITD_PID=
t_cleanup() {
	[ -n "$GITD_PID" ] && { kill -TERM "$GITD_PID" 2>/dev/null; wait "$GITD_PID" 2>/dev/null; }
	sbd_cleanup
}
trap t_cleanup EXIT


# a repository on a git daemon on loopback, logging every connection
export HOME=$T_DIR/home GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=T GIT_AUTHOR_EMAIL=t@example.org \
	GIT_COMMITTER_NAME=T GIT_COMMITTER_EMAIL=t@example.org \
	GIT_AUTHOR_DATE='2024-01-01T00:00:00Z' GIT_COMMITTER_DATE='2024-01-01T00:00:00Z'
mkdir -p "$HOME" "$T_DIR/repos"
{
	git init -q -b main "$T_DIR/src" && echo hello >"$T_DIR/src/README.md" &&
	git -C "$T_DIR/src" add README.md && git -C "$T_DIR/src" commit -q -m one &&
	git clone -q --bare "$T_DIR/src" "$T_DIR/repos/demo.git"
} >>"$T_DIR/git-setup.log" 2>&1 || bail "cannot make the test repository"

LOG=$T_DIR/git-daemon.log
gitd_start "$T_DIR/repos" demo.git --verbose --log-destination=stderr
GPORT=${GITD_URL##*:}

connections() { grep -c 'Connection from' "$LOG"; }
N0=$(connections)
[ "$N0" -ge 1 ]
ok $? "the git daemon logs connections (the host's git ls-remote: $N0)"

api POST /sandboxes/policy
is "$STATUS" 200 "sandbox created"

# refused URL DESCRIPTION: 403 (the caller's request is refused, nothing to
# retry), the error names the address policy, no
# connection reached the daemon, nothing created in the sandbox
refused() {
	local url=$1; shift
	local t0=$(date +%s%N)
	api POST /sandboxes/policy/clone "$(jq -cn --arg u "$url" '{repoUrl: $u}')"
	local ms=$((($(date +%s%N) - t0) / 1000000))
	is "$STATUS" 403 "$* ($url) -> 403"
	is "$(jqr .success)" false "$*: success false"
	like "$(jqr .error)" '^clone failed: .*(may not reach|not allowed|policy)' "$*: the error names the address policy"
	# (8 s: a connect tried to an address that does not answer waits 10 s,
	# api_clone.c CONNECT_TIMEOUT_MS; the clone also retires its worker)
	[ "$ms" -lt 8000 ]
	ok $? "$*: refused at once (${ms} ms)"
	sleep 0.2	# a connection, had one been made, is logged by then
	is "$(connections)" "$N0" "$*: the git daemon saw no connection"
	exec_in policy 'ls -A /workspace | tr "\n" " "'
	is "$(jqr .data.stdout)" "" "$*: nothing created in /workspace"
}

refused "git://127.0.0.1:$GPORT/demo.git" "loopback by address"
refused "git://localhost:$GPORT/demo.git" "loopback by the name localhost"
refused "git://127.1:$GPORT/demo.git" "loopback in the short form 127.1"
refused "git://2130706433:$GPORT/demo.git" "loopback as one decimal number"
refused "git://0x7f000001:$GPORT/demo.git" "loopback in hexadecimal"
refused "git://0.0.0.0:$GPORT/demo.git" "the unspecified address 0.0.0.0"
refused "git://[::1]:$GPORT/demo.git" "IPv6 loopback [::1]"
refused "git://[::ffff:127.0.0.1]:$GPORT/demo.git" "IPv4-mapped loopback [::ffff:127.0.0.1]"
refused "http://127.0.0.1:$GPORT/demo.git" "loopback over http"
refused "git://169.254.169.254/latest.git" "link-local (metadata) 169.254.169.254"
refused "git://192.168.1.1/x.git" "private 192.168.1.1"
refused "git://172.16.0.1/x.git" "private 172.16.0.1"
IP=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9]+\.' | grep -v '^127\.' | head -n 1)
[ -n "$IP" ] && refused "git://$IP:$GPORT/demo.git" "this host's own address $IP"

# streamed, the refusal is the error event, with the same status
EV=$(curl -s -N --max-time 30 -X POST -H 'Content-Type: application/json' \
	--data-binary "{\"repoUrl\": \"git://localhost:$GPORT/demo.git\", \"stream\": true}" \
	"$BASE/sandboxes/policy/clone" | sed -n 's/^data: //p' | jq -c 'select(.type == "error")' 2>/dev/null)
is "$(printf '%s' "$EV" | jq -r .status)" 403 "a streamed clone by the name localhost ends in an error event of status 403"
like "$(printf '%s' "$EV" | jq -r .error)" 'may not reach' "naming the address policy"
is "$(connections)" "$N0" "the git daemon saw no connection"

done_testing
