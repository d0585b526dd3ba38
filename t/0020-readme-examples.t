#!/bin/bash
# README.md's API examples run as written, in order, against a real nginx +
# pool: every ```sh block that calls the API (contains `curl` and
# `localhost:8787`) is run with http://localhost:8787 replaced by the test
# server's address.  Each curl in it must exit 0 with a 2xx, a JSON answer
# must say "success": true and an event stream must carry no error event.
#
# Rules:
# - a ```sh block without curl or without localhost:8787 (install steps,
#   ./dev, sandboxd's command line) is not an API call and is not run;
# - `<!-- not-run -->` on the line right before a fence opts that block out;
# - one command per line (`\` continuations joined); comment lines skipped;
# - the examples run in a scratch directory holding a small logo.png;
# - a clone URL on github.com is replaced by the same repository name on a
#   git daemon on loopback (no internet here), made by this test;
# - a block that sends `Authorization: Bearer` runs against a second server
#   started with a tokens file, with $TOKEN set to a token it accepts.
# Every skipped block is listed; a run of no example at all fails.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
README=$TOP_SRCDIR/README.md
[ -r "$README" ] || bail "no README.md at $README"

# --- the blocks ----------------------------------------------------------------
# One record per ```sh block: "LINE<TAB>OPTOUT<TAB>TEXT" with the block's
# lines joined by \001 (a block may be indented, inside a list item: that
# indentation is removed).
blocks() {
	awk '
	function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t\r]+$/, "", s); return s }
	!inb && /^[ \t]*```sh[ \t\r]*$/ {
		inb = 1; start = NR; text = ""; optout = (trim(prev) == "<!-- not-run -->")
		ind = $0; sub(/```sh.*/, "", ind); n = length(ind)
		prev = $0; next
	}
	inb && /^[ \t]*```[ \t\r]*$/ {
		printf "%d\t%d\t%s\n", start, optout, text; inb = 0; prev = $0; next
	}
	inb {
		l = $0
		if (substr(l, 1, n) ~ /^[ \t]*$/) l = substr(l, n + 1)
		sub(/\r$/, "", l)
		text = text l "\001"
	}
	{ prev = $0 }
	' "$README"
}

# commands TEXT: one logical command per output line, its continuation
# lines kept and joined by \002 (blank and comment lines left out)
commands() {
	printf '%s' "$1" | tr '\001' '\n' | awk '
	{
		line = acc $0
		if ($0 ~ /\\$/) { acc = line "\002"; next }
		acc = ""
		t = line; sub(/^[ \t]+/, "", t)
		if (t == "" || t ~ /^#/) next
		print line
	}'
}

N_BLOCKS=0 N_RUN_BLOCKS=0 N_CMDS=0 N_CURL=0 N_AUTH=0
SKIPPED=()
while IFS=$'\t' read -r -u 3 line optout text; do
	N_BLOCKS=$((N_BLOCKS + 1))
	first=$(printf '%s' "$text" | tr '\001' '\n' | grep -v '^[[:space:]]*$' | head -n 1)
	if [ "$optout" = 1 ]; then
		SKIPPED+=("README.md:$line (opted out by <!-- not-run -->): $first")
	elif ! printf '%s' "$text" | grep -q 'curl' || ! printf '%s' "$text" | grep -q 'localhost:8787'; then
		SKIPPED+=("README.md:$line (no curl to localhost:8787: not an API call): $first")
	fi
done 3< <(blocks)
[ "$N_BLOCKS" -gt 0 ] || bail "no \`\`\`sh block found in $README"

# --- the servers -------------------------------------------------------------------

# clones from the README reach a git daemon on loopback
sbd_start --clone-allow 127.0.0.0/8
MAIN_T_DIR=$T_DIR MAIN_BASE=$BASE
SERVER_DIRS=$T_DIR
GITD_PID=

# a second server (auth) may be started later: clean up both, and the daemon
eval "sbd_cleanup_one() $(declare -f sbd_cleanup | tail -n +2)"
sbd_cleanup() {
	local d
	[ -n "$GITD_PID" ] && { kill -TERM "$GITD_PID" 2>/dev/null; wait "$GITD_PID" 2>/dev/null; }
	# T_DIR too: a server sbd_start was starting when it bailed
	for d in $(printf '%s\n' $SERVER_DIRS ${T_DIR:-} | awk '!seen[$0]++'); do
		T_DIR=$d sbd_cleanup_one
	done
}
trap sbd_cleanup EXIT

WORK=$T_DIR/work
mkdir -p "$WORK"
# a 1x1 PNG for the upload example
printf '%s' 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==' |
	base64 -d >"$WORK/logo.png"

# the repositories the README clones from github.com, served by git daemon
REPOS=$(grep -oE 'https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+\.git' "$README" |
	sed -E 's#.*/##' | sort -u)
GURL=
if [ -n "$REPOS" ]; then
	export HOME=$T_DIR/home GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=T GIT_AUTHOR_EMAIL=t@example.org \
		GIT_COMMITTER_NAME=T GIT_COMMITTER_EMAIL=t@example.org
	mkdir -p "$HOME" "$T_DIR/repos"
	for r in $REPOS; do
		{
			git init -q -b main "$T_DIR/src/$r" && echo "readme example" >"$T_DIR/src/$r/README.md" &&
			git -C "$T_DIR/src/$r" add README.md && git -C "$T_DIR/src/$r" commit -q -m one &&
			git clone -q --bare "$T_DIR/src/$r" "$T_DIR/repos/$r"
		} >>"$T_DIR/git-setup.log" 2>&1 || bail "cannot make the test repository $r"
	done
	gitd_start "$T_DIR/repos" "$(printf '%s\n' $REPOS | head -n 1)"
	GURL=$GITD_URL
	diag "clone URLs on github.com are served from $GURL: $(printf '%s ' $REPOS)"
fi

# the auth server: started at the first block that sends a bearer token
AUTH_BASE= AUTH_T_DIR= AUTH_STATE=
TOKEN=readme-example-$RANDOM$RANDOM$RANDOM
auth_server() {
	[ -n "$AUTH_STATE" ] && return
	if ! "$SANDBOXD" --help 2>&1 | grep -q -- '--tokens-file'; then
		AUTH_STATE=missing
		diag "sandboxd has no --tokens-file: the examples with a bearer token cannot run"
		return
	fi
	local tokens=$MAIN_T_DIR/tokens
	{
		echo "# NAME sha256:HEX64 SCOPE, as README.md says"
		printf 'readme sha256:%s *\n' "$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)"
	} >"$tokens"
	chmod 0600 "$tokens"
	sbd_start --tokens-file "$tokens" 3<&- 4<&-
	AUTH_BASE=$BASE AUTH_T_DIR=$T_DIR
	SERVER_DIRS="$SERVER_DIRS $T_DIR"
	T_DIR=$MAIN_T_DIR BASE=$MAIN_BASE
	trap sbd_cleanup EXIT
	AUTH_STATE=up
	# so the examples' token is what lets them in
	local st
	st=$(command curl -s -o /dev/null -w '%{http_code}' "$AUTH_BASE/sandboxes/readme-no-token")
	is "$st" 401 "auth server: a request without a token is refused (401)"
}

# --- running a command -----------------------------------------------------------

MARK='@@readme-test'
# curl as the examples call it, plus: quiet but errors shown, a bound on the
# time, and a last line "MARK STATUS CONTENT-TYPE"
readme_curl() {
	command curl -sS --max-time 120 "$@" -w "\n$MARK %{http_code} %{content_type}\n"
}

# run_cmd BASE CMD
run_cmd() {
	local base=$1 cmd=$2 what rc out=$T_DIR/cmd.out err=$T_DIR/cmd.err
	cmd=${cmd//http:\/\/localhost:8787/$base}
	[ -n "$GURL" ] && cmd=$(printf '%s' "$cmd" | sed -E "s#https://github\.com/[A-Za-z0-9_.-]+/([A-Za-z0-9_.-]+\.git)#$GURL/\1#g")
	what=$(printf '%s' "$2" | tr '\n' ' ' | tr -s ' ' | cut -c1-110)
	N_CMDS=$((N_CMDS + 1))
	case $cmd in *curl*) ;; *)
		(cd "$WORK" && eval "$cmd") </dev/null >"$out" 2>"$err"
		ok $? "shell: $what" || diag "stderr: $(head -c 300 "$err")"
		return ;;
	esac
	N_CURL=$((N_CURL + 1))
	# curl is the wrapper here, for the eval only
	curl() { readme_curl "$@"; }
	(cd "$WORK" && eval "$cmd") </dev/null >"$out" 2>"$err"
	rc=$?
	unset -f curl
	ok $rc "curl exits 0: $what" || { diag "exit $rc, stderr: $(head -c 300 "$err")"; return; }
	local marks status ctype body
	marks=$(grep -c "^$MARK " "$out")
	status=$(grep "^$MARK " "$out" | awk '{ print $2 }' | tr '\n' ' ')
	printf '%s' "$status" | grep -Eq '^(2[0-9][0-9] )+$'
	ok $? "HTTP 2xx ($status): $what" ||
		{ diag "body: $(grep -v "^$MARK " "$out" | head -c 400)"; return; }
	[ "$marks" = 1 ] || return
	ctype=$(grep "^$MARK " "$out" | cut -d' ' -f3-)
	body=$(grep -v "^$MARK " "$out")
	# curl -i: the headers come first
	case $body in HTTP/*) body=$(printf '%s\n' "$body" | sed '1,/^\r\{0,1\}$/d') ;; esac
	case $ctype in
	application/json*)
		[ -n "$body" ] || return	# written to a file with -o
		[ "$(printf '%s' "$body" | jq -r '.success' 2>/dev/null)" = true ]
		ok $? "JSON with success true: $what" || diag "body: $(printf '%s' "$body" | head -c 400)"
		;;
	text/event-stream*)
		local types
		types=$(printf '%s\n' "$body" | sed -n 's/^data: //p' | jq -r '.type // empty' 2>/dev/null | tr '\n' ' ')
		[ -n "$(printf '%s\n' "$body" | sed -n '/^data: /p')" ] &&
			! printf '%s' "$types" | grep -qw error
		ok $? "event stream, no error event ($types): $what" || diag "body: $(printf '%s' "$body" | tail -c 400)"
		;;
	esac
}

# --- the run ---------------------------------------------------------------------

while IFS=$'\t' read -r -u 3 line optout text; do
	[ "$optout" = 1 ] && continue
	printf '%s' "$text" | grep -q 'curl' && printf '%s' "$text" | grep -q 'localhost:8787' || continue
	N_RUN_BLOCKS=$((N_RUN_BLOCKS + 1))
	diag "README.md:$line"
	base=$MAIN_BASE
	if printf '%s' "$text" | grep -q 'Authorization: Bearer'; then
		auth_server
		N_AUTH=$((N_AUTH + 1))
		if [ "$AUTH_STATE" != up ]; then
			ok 1 "README.md:$line: needs a server with a tokens file (sandboxd --tokens-file)"
			continue
		fi
		base=$AUTH_BASE
	fi
	export TOKEN
	while IFS= read -r -u 4 cmd; do
		run_cmd "$base" "${cmd//$'\002'/$'\n'}"
	done 4< <(commands "$text")
done 3< <(blocks)

# --- what ran ----------------------------------------------------------------------
diag "README.md: $N_BLOCKS sh blocks; ran $N_CMDS commands ($N_CURL curl calls) from $N_RUN_BLOCKS blocks ($N_AUTH with a bearer token); skipped ${#SKIPPED[@]} blocks:"
for s in "${SKIPPED[@]}"; do diag "  skipped $s"; done
[ "$N_CURL" -gt 0 ]
ok $? "at least one README example ran ($N_CURL curl calls)"

if [ -n "$AUTH_T_DIR" ]; then
	! grep -qE ' status=500 ' "$AUTH_T_DIR/sandboxd.log"
	ok $? "auth server: no request was answered 500" ||
		grep -E ' status=500 | error: ' "$AUTH_T_DIR/sandboxd.log" | head -n 20 | sed 's/^/# /'
fi
T_DIR=$MAIN_T_DIR
done_testing
