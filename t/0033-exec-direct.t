#!/bin/bash
# Exec without a shell: a command of plain words (no shell syntax, not a
# builtin) runs without /bin/sh -c, with the stdout, stderr and exit code
# the shell gives.  A corpus of commands runs both ways (the shell forced
# through the test builds' exec-shell switch, then the direct path) in
# the host image and in bookworm: stdout, stderr, exit code and the other
# fields of the answer must be byte-identical.  The parent process is the
# documented difference (not dash: its /proc entry, exe, cmdline).
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
IMAGES=${SBD_IMAGES:-/var/lib/sandboxd-dev/images}
grep -q SANDBOXD_FAULTS "$SANDBOXD" ||
	skip_all "not a fault-injection build (configure --enable-fault-injection): the shell cannot be forced"
FAULTS=$(mktemp -d /tmp/sbd-faults.XXXXXX)
export SANDBOXD_FAULTS=$FAULTS
T_TRAP='sbd_cleanup; rm -rf "$FAULTS"'
IMGS="host"
[ -d "$IMAGES/bookworm" ] && IMGS="host bookworm"
if [ "$IMGS" = host ]; then
	diag "no bookworm image in $IMAGES (./dev image build bookworm): the host image only"
	sbd_start
else
	sbd_start --images "$IMAGES"
fi

# xrun ID JSON-BODY: an exec; prints the status and the fields of the
# answer that are the command's (not its duration, cpu time or memory)
xrun() {
	api POST "/sandboxes/$1/exec" "$2"
	printf '%s %s' "$STATUS" "$(printf '%s' "$BODY" |
		jq -c 'if .success then .data | {stdout, stderr, exitCode, timedOut, truncated, oomKilled} else . end')"
}
shell_on() { touch "$FAULTS/exec-shell"; }
shell_off() { rm -f "$FAULTS/exec-shell"; }

# body COMMAND [ENV-JSON [CWD [TIMEOUT]]]
body() {
	jq -cn --arg c "$1" --argjson e "${2:-null}" --arg d "${3:-}" --argjson t "${4:-null}" \
		'{command: $c} + (if $e then {env: $e} else {} end) + (if $d != "" then {cwd: $d} else {} end)
		 + (if $t then {timeout: $t} else {} end)'
}

LONGARGS="/bin/echo$(printf ' w%d' $(seq 1 3000))"
LONGWORD="/bin/echo $(head -c 100000 /dev/zero | tr '\0' a)"
SHADOW='{"PATH": "/workspace/shadow:/usr/local/bin:/usr/bin:/bin"}'

# the corpus: COMMAND<TAB>ENV-JSON<TAB>CWD<TAB>TIMEOUT (empty fields: none)
CORPUS=$(cat <<EOC
env
env	{"ZZ": "1", "A": "x y", "LC_ALL": "C", "E": "", "NL": "a\nb"}
env	{"PATH": "/bin:/usr/bin"}
env	{"TERM": "xterm"}
env	{"PWD": "/tmp"}
env	{"PWD": "/workspace"}
env		/tmp
env		sub
env		/workspace/lnk
/usr/bin/env
/bin/pwd		/workspace/lnk
grep -e Sig -e Cap -e NoNewPrivs -e Seccomp -e Umask -e Cpus_allowed_list /proc/self/status
grep -e Uid -e Gid -e Groups /proc/self/status
ls /proc/self/fd
stat -L -c %F:%a:%s /proc/self/fd/0 /proc/self/fd/1 /proc/self/fd/2
cat /proc/self/limits
/workspace/um.sh
ps -o args= -p 1
/bin/echo a=b c==d =
ls -a /workspace
ls /   
   cat   /etc/hostname   
ls /nonexistent /
ls /nonexistent
grep x /dev/null
cat
wc -c
nosuchcommand
nosuchcommand with args
/nosuch/path
./nosuch
/workspace/noexec
noexec	{"PATH": "/workspace:/usr/bin:/bin"}
/workspace/dir
/tmp
/workspace/noshebang a b
/workspace/s.sh 1 2 3
./s.sh x		/workspace
/workspace/code.sh 0
/workspace/code.sh 42
/workspace/sig.sh SEGV
/workspace/sig.sh TERM
/workspace/sig.sh INT
/workspace/sig.sh PIPE
/workspace/sig.sh KILL
/workspace/sig.sh ABRT
/workspace/sig.sh USR1
/workspace/dangling
-v	{"PATH": "/workspace/bin:/usr/bin:/bin"}
+x a	{"PATH": "/workspace/bin:/usr/bin:/bin"}
/workspace/kpint.sh
/workspace/kpint-term.sh
/workspace/parentsig.sh
/bin/echo hi	{"LD_PRELOAD": "/nonexistent.so"}
ls /	$SHADOW
cat /etc/hostname	$SHADOW
head -c 20 /etc/passwd	$SHADOW
hi there	{"PATH": "/nonexistent::/usr/bin:/bin"}	/workspace/bin
/bin/echo été ā 日本 ÿ
$LONGARGS
$LONGWORD
seq 1 20000
seq 1 2000000
sleep 10			300
sleep 0.05
id
uname -n
date +%Y
/bin/kill -l
true
false
echo hi
pwd
type ls
test -d /tmp
exit 3
   
/bin/echo a'b'
/bin/echo "x y"
/bin/echo \$HOME
/bin/echo \`id -u\`
/bin/echo a\\\\b
ls -d /*bin
/bin/echo ~
/bin/echo a=b
A=1 env
ls # comment
/bin/echo !x
/bin/echo a^b
ls;ls
ls && ls
ls | cat
(ls)
{ ls; }
ls >/dev/null
cat </etc/hostname
/bin/echo a{b,c}
/bin/echo [a]
/bin/echo a?
/bin/echo a*
ls & wait
EOC
)
# and two with a tab and a newline
SETUP='printf "#!/bin/sh\nrm -rf /workspace/um; mkdir /workspace/um; touch /workspace/um/f; stat -c %%a:%%U /workspace/um /workspace/um/f\n" >/workspace/um.sh && chmod +x /workspace/um.sh &&
mkdir -p /workspace/dir /workspace/sub /workspace/bin /workspace/shadow/ls && ln -sfn dir /workspace/lnk &&
printf "#!/bin/sh\necho script \$0 \"\$@\"\necho err >&2\n" >/workspace/s.sh && chmod +x /workspace/s.sh &&
printf "#!/bin/sh\nexit \$1\n" >/workspace/code.sh && chmod +x /workspace/code.sh &&
printf "#!/bin/sh\necho before; kill -\$1 \$\$; echo after\n" >/workspace/sig.sh && chmod +x /workspace/sig.sh &&
printf "echo noshebang \$0 \"\$@\"\n" >/workspace/noshebang && chmod +x /workspace/noshebang &&
printf "#!/bin/sh\necho hi \$0 \$1 \$PWD\n" >/workspace/bin/hi && chmod +x /workspace/bin/hi &&
echo x >/workspace/noexec && chmod 644 /workspace/noexec &&
echo x >/workspace/shadow/cat && chmod 644 /workspace/shadow/cat &&
ln -sfn /nowhere /workspace/shadow/head && ln -sfn /nowhere /workspace/dangling &&
printf "#!/bin/sh\necho ran \$0 \"\$@\"\n" >/workspace/bin/-v && cp /workspace/bin/-v /workspace/bin/+x &&
chmod +x /workspace/bin/-v /workspace/bin/+x &&
printf "#!/bin/sh\nkill -INT \$PPID; sleep 1; echo after\n" >/workspace/kpint.sh && chmod +x /workspace/kpint.sh &&
printf "#!/bin/sh\nkill -INT \$PPID; sleep 1; echo after; kill -TERM \$\$\n" >/workspace/kpint-term.sh &&
chmod +x /workspace/kpint-term.sh &&
printf "#!/bin/sh\ngrep -e SigIgn -e SigCgt -e SigPnd -e ShdPnd /proc/\$PPID/status\n" >/workspace/parentsig.sh &&
printf "#!/bin/sh\ngrep -e SigIgn -e SigCgt /proc/\$PPID/status; ls /proc/\$PPID/fd; readlink /proc/\$PPID/exe\n" >/workspace/parent.sh &&
chmod +x /workspace/parentsig.sh /workspace/parent.sh'

n=0
for img in $IMGS; do
	id=d-$img
	api POST "/sandboxes/$id" "$(jq -cn --arg i "$img" '{image: $i}')"
	is "$STATUS" 200 "create a sandbox on the $img image"
	exec_in "$id" "$SETUP"
	is "$(jqr .data.exitCode) $(jqr .data.stderr)" "0 " "[$img] the corpus's files are in place"

	# the direct path is taken: no sh -c in the process tree, as there is
	# with the shell forced (and with shell syntax)
	shell_on
	exec_in "$id" "ps -e -o args"
	like "$(jqr .data.stdout)" "sh -c ps -e -o args" "[$img] forced: the shell runs the command"
	shell_off
	exec_in "$id" "ps -e -o args"
	unlike "$(jqr .data.stdout)" "sh -c" "[$img] a plain command runs without a shell"
	exec_in "$id" "ps -e -o args ;"
	like "$(jqr .data.stdout)" "sh -c ps -e -o args ;" "[$img] shell syntax runs in the shell"

	diffs=0
	while IFS=$'\037' read -r cmd env cwd tmo; do
		b=$(body "$cmd" "$env" "$cwd" "$tmo")
		shell_on
		want=$(xrun "$id" "$b")
		shell_off
		got=$(xrun "$id" "$b")
		n=$((n + 1))
		if [ "$got" != "$want" ]; then
			diffs=$((diffs + 1))
			ok 1 "[$img] same results both ways: $(printf '%.60s' "$cmd") ${env:+env $env} ${cwd:+cwd $cwd}"
			diag "shell:  $(printf '%.400s' "$want")" "direct: $(printf '%.400s' "$got")"
		fi
	done < <(printf '%s\n' "$CORPUS" | tr '\t' '\037')
	for cmd in $'ls\t/' $'ls\n/'; do
		b=$(body "$cmd")
		shell_on
		want=$(xrun "$id" "$b")
		shell_off
		is "$(xrun "$id" "$b")" "$want" "[$img] same results both ways: $(printf %q "$cmd")"
		n=$((n + 1))
	done
	is "$diffs" 0 "[$img] the corpus gives byte-identical answers with and without the shell"
	# the dynamic loader's variables are dash's too: with
	# LD_TRACE_LOADED_OBJECTS, sh -c lists dash's libraries and runs
	# nothing (addresses are random: masked)
	b=$(body "ls /" '{"LD_TRACE_LOADED_OBJECTS": "1"}')
	shell_on
	want=$(xrun "$id" "$b" | sed 's/0x[0-9a-f]*/ADDR/g')
	shell_off
	is "$(xrun "$id" "$b" | sed 's/0x[0-9a-f]*/ADDR/g')" "$want" \
		"[$img] same results both ways: ls / with LD_TRACE_LOADED_OBJECTS=1"

	# the parent is not dash, a documented difference (docs/ARCHITECTURE.md
	# "Exec without a shell"): the stand-in is a fork of the init, not
	# dumpable (its memory is the init's), so its /proc entry's fd and exe
	# are closed to the command, and its exe and cmdline are not dash's.
	# Its signals are dash's (parentsig.sh in the corpus; not SigBlk: dash
	# blocks nearly all for a moment between its wait3() and sigsuspend(),
	# which a busy machine lets the command see, the stand-in never).
	b=$(body /workspace/parent.sh)
	shell_on
	xrun "$id" "$b" >/dev/null
	want_out=$(jqr .data.stdout)
	is "$(jqr .data.exitCode) $(printf '%s' "$want_out" | tail -4 | tr '\n' ' ')" "0 0 1 2 /usr/bin/dash" \
		"[$img] with the shell, the parent is dash: its fds and exe are there to see"
	shell_off
	xrun "$id" "$b" >/dev/null
	is "$(jqr .data.stdout)" "$(printf '%s' "$want_out" | head -2)" \
		"[$img] without it, the parent's signals are still dash's ..."
	like "$(jqr .data.stderr)" "^ls: cannot open directory '/proc/[0-9]+/fd': Permission denied$" \
		"[$img] ... but its fds are closed to the command (not dumpable) ..."
	is "$(jqr .data.exitCode)" 1 "[$img] ... and so is its exe (readlink says nothing)"

	# what the shell-less command sees of its parent: the session leader,
	# as dash is (the command's own process group and session)
	exec_in "$id" "cat /proc/self/stat"
	read -r -a st <<<"$(jqr .data.stdout | sed 's/^.*) //')"
	is "${st[3]}" "${st[1]}" "[$img] the command's session is its parent's ..."
	is "${st[2]}" "${st[1]}" "[$img] ... and so is its process group"

	# the command inherits what the init holds: capabilities, no_new_privs,
	# the seccomp filter, the limits (an exec's child is forked without
	# most of the init's libraries, a file operation's with all of them:
	# container/init.c lean_forks; an exec after a file operation too)
	for round in 1 2; do
		exec_in "$id" "grep -e ^Cap -e ^NoNewPrivs -e ^Seccomp /proc/1/status"
		want=$(jqr .data.stdout)
		exec_in "$id" "grep -e ^Cap -e ^NoNewPrivs -e ^Seccomp /proc/self/status"
		is "$(jqr .data.stdout)" "$want" "[$img] the command's capabilities, no_new_privs, seccomp are the init's ($round)"
		like "$want" "Seccomp:[[:space:]]+2" "[$img] ... a filter ($round)"
		exec_in "$id" "cat /proc/1/limits"
		want=$(jqr .data.stdout)
		exec_in "$id" "cat /proc/self/limits"
		is "$(jqr .data.stdout)" "$want" "[$img] the command's limits are the init's ($round)"
		api PUT "/sandboxes/$id/files/workspace/after-exec" '{"content":"x"}'
		is "$STATUS" 200 "[$img] a file operation between ($round)"
	done
done
# /etc/ld.so.preload is dash's too (a sandbox of its own: it changes
# every program's start)
if [ "$IMGS" != host ]; then
	api POST /sandboxes/d-preload '{"image": "bookworm"}'
	is "$STATUS" 200 "create a sandbox on the bookworm image"
	exec_in d-preload "echo /nonexistent-preload.so >/etc/ld.so.preload"
	is "$(jqr .data.exitCode)" 0 "[bookworm] an /etc/ld.so.preload"
	b=$(body "/bin/echo hi")
	shell_on
	want=$(xrun d-preload "$b")
	shell_off
	is "$(xrun d-preload "$b")" "$want" "[bookworm] same results both ways with an /etc/ld.so.preload"
fi
diag "$n commands compared"
done_testing
