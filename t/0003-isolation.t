#!/bin/bash
# Attacks from inside a sandbox that must fail: host files, host processes,
# the host network, host uids, the hostname, a neighbour sandbox, leaked fds
# and FastCGI parameters, mounts, kernel knobs, planted symlinks.  Plus
# persistence of the sandbox's own files, across execs and a full restart.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
cg_need pids
sbd_start

MASTER=$(cat "$T_DIR/sandboxd.pid")

# run ID COMMAND [TIMEOUT_MS] [ENV_JSON]: exec; sets STATUS BODY OUT ERR RC.
run() {
	local id=$1 cmd=$2 tmo=${3-} env=${4-}
	api POST "/sandboxes/$id/exec" "$(jq -cn --arg c "$cmd" --arg t "$tmo" --arg e "$env" \
		'{command: $c} + (if $t == "" then {} else {timeout: ($t | tonumber)} end)
		 + (if $e == "" then {} else {env: ($e | fromjson)} end)')"
	OUT=$(jqr .data.stdout)
	ERR=$(jqr .data.stderr)
	RC=$(jqr .data.exitCode)
}

# one line, words sorted: "a b c"
words() { tr -s ' \n' '\n\n' | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//'; }
# status words: NAME=zero for exit status 0, NAME=fail for any other
status_words() { sed 's/=0$/=zero/; s/=[1-9][0-9]*$/=fail/' | words; }

A=iso-a
B=iso-b
api POST /sandboxes/$A
is "$STATUS" 200 "create sandbox A"
api POST /sandboxes/$B
is "$STATUS" 200 "create sandbox B"

# --- a host canary ---------------------------------------------------------

TOKEN=canary$RANDOM$RANDOM$RANDOM$$
CANARY=$T_DIR/canary-$TOKEN
printf 'host-secret %s\n' "$TOKEN" >"$CANARY"
chmod 0644 "$CANARY"
T1=${TOKEN:0:8}
T2=${TOKEN:8}	# the token never appears whole in a command line

run $A "cat '$CANARY'"
is "$STATUS" 200 "cat of the canary's host path: exec answers 200"
isnt "$RC" 0 "cat of the canary's host path fails inside"
unlike "$OUT" "$T2" "the canary's content is not printed"

# every regular file outside /proc and /sys, /usr included (text files; the
# canary is text; the top-level symlinks lead into /usr): nothing holds the
# token.  A probe the sandbox writes itself shows the search does find what
# is there.  Bounded: timeout, and -D skip so that no device or fifo blocks.
PROBE=probe$RANDOM$RANDOM$RANDOM
run $A "echo $PROBE > /workspace/probe-file; mkdir -p /workspace/probe-dir-$PROBE; echo written"
is "$OUT" written "the sandbox writes its own probe file"
# /usr is the host's own /usr, bound read-only by design (the canary lives
# under /tmp, never there); grepping all of it takes minutes on one CPU, so
# the content search covers everything else and find below covers /usr too
run $A "t1=$T1; t2=$T2; cd /; timeout 45 grep -rlIF -D skip -e \"\$t1\$t2\" -e $PROBE \$(find / -mindepth 1 -maxdepth 1 ! -type l ! -name proc ! -name sys ! -name usr) 2>/dev/null; echo \"grep-rc=\$?\"" 55000
is "$STATUS" 200 "grep -r for the canary token across / (but /proc, /sys) answers 200"
like "$OUT" 'grep-rc=[02]$' "grep -r finished (no timeout) and matched (the probe)"
is "$(printf '%s\n' "$OUT" | grep -v '^grep-rc=')" "/workspace/probe-file" \
	"grep -r finds the sandbox's probe file and no file holding the canary token"

# by name, the whole tree but /proc and /sys: neither the canary nor the
# host's test directory is anywhere (the probe directory is)
run $A "t1=$T1; t2=$T2; find / \\( -path /proc -o -path /sys \\) -prune -o \\( -name \"*\$t1\$t2*\" -o -name '$(basename "$T_DIR")' -o -name '*$PROBE' \\) -print 2>/dev/null; echo find-done"
is "$(printf '%s\n' "$OUT" | words)" "/workspace/probe-dir-$PROBE find-done" \
	"find / by name finds the probe but neither the canary nor the host's test directory"

# --- processes ---------------------------------------------------------------

run $A 'ps -e -o pid=,comm='
is "$STATUS" 200 "ps -e answers 200"
like "$OUT" '^ *1 sandbox-init' "ps -e: PID 1 exists and is the sandbox's init"
PS_PIDS=$(printf '%s\n' "$OUT" | awk '{print $1}' | words)
unlike " $PS_PIDS " " $MASTER " "ps -e: the sandboxd master pid ($MASTER) is not listed"
unlike "$OUT" 'sandboxd|nginx|systemd|bash' "ps -e: no host process (sandboxd, nginx, ...) is listed"
N=$(printf '%s\n' "$OUT" | sed '/^ *$/d' | wc -l)
ok $([ "$N" -ge 2 ] && [ "$N" -le 4 ]; echo $?) "ps -e lists only init, sh and ps (got $N lines)" ||
	diag "$OUT"

run $A 'cd /proc && ls -d [0-9]*'
PROC_PIDS=$(printf '%s\n' "$OUT" | words)
unlike " $PROC_PIDS " " $MASTER " "/proc lists no host pid such as the master's"
NP=$(printf '%s\n' "$OUT" | wc -w)
ok $([ "$NP" -ge 2 ] && [ "$NP" -le 4 ]; echo $?) "/proc has only a handful of pids (got: $PROC_PIDS)"
run $A "test -e /proc/$MASTER/status && cat /proc/$MASTER/cmdline"
unlike "$OUT" 'sandboxd' "the master's /proc entry is not readable inside"

# its own init is out of reach too
INIT_A=$(for p in $(sandbox_pids $A); do [ "$(cat /proc/$p/comm 2>/dev/null)" = sandbox-init ] && echo $p; done)
run $A 'kill -KILL 1; kill -STOP 1; kill -TERM 1; kill -SEGV 1; echo sent'
is "$OUT" sent "signals to PID 1 sent from inside"
run $A 'echo alive; grep "^State:" /proc/1/status'
is "$(printf '%s\n' "$OUT" | sed 's/^State:[[:space:]]*[RS] .*/state=not-stopped/' | words)" "alive state=not-stopped" \
	"the sandbox's init ignores them: still serving, not stopped"
is "$(for p in $(sandbox_pids $A); do [ "$(cat /proc/$p/comm 2>/dev/null)" = sandbox-init ] && echo $p; done)" \
	"$INIT_A" "on the host it is the same init (pid $INIT_A)"

# --- network -------------------------------------------------------------------

run $A 'ls /sys/class/net'
is "$(printf '%s\n' "$OUT" | words)" "lo" "/sys/class/net lists only lo"
run $A "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"
is "$(printf '%s\n' "$OUT" | words)" "lo" "/proc/net/dev has only lo"

# --- users ---------------------------------------------------------------------

run $A 'id -u; id -g'
is "$(printf '%s\n' "$OUT" | words)" "0 0" "inside, id -u and id -g are 0"

run $A 'setsid sleep 31 >/dev/null 2>&1 </dev/null & echo $!'
INNER=$OUT
like "$INNER" '^[0-9]+$' "a detached sleep started; its pid inside is $INNER"
HOSTPID=
for p in $(sandbox_pids $A); do
	[ "$(cat /proc/$p/comm 2>/dev/null)" = sleep ] && HOSTPID=$p
done
like "$HOSTPID" '^[0-9]+$' "the host finds the sleep in the sandbox's cgroup (host pid $HOSTPID)"
NSPID=$(awk '/^NSpid:/{print $NF}' /proc/$HOSTPID/status 2>/dev/null)
is "$NSPID" "$INNER" "that host process is pid $INNER in the sandbox's pid namespace"
UIDS=$(awk '/^Uid:/{print $2, $3, $4, $5}' /proc/$HOSTPID/status 2>/dev/null)
GIDS=$(awk '/^Gid:/{print $2, $3, $4, $5}' /proc/$HOSTPID/status 2>/dev/null)
in_window() {	# all words of $1 are in [UID_BASE, UID_BASE + 64*65536)
	local n=0 u
	for u in $1; do
		[ "$u" -ge "$UID_BASE" ] && [ "$u" -lt $((UID_BASE + 64 * 65536)) ] && [ "$u" -ne 0 ] || return 1
		n=$((n + 1))
	done
	[ "$n" -eq 4 ]
}
in_window "$UIDS"
ok $? "host sees its uids ($UIDS) as non-zero, in the harness's window from $UID_BASE"
in_window "$GIDS"
ok $? "host sees its gids ($GIDS) as non-zero, in the harness's window"
run $A 'cat /proc/self/uid_map'
like "$OUT" '^ *0 +[0-9]+ +65536$' "uid_map maps 0..65535 only" && {
	mb=$(printf '%s' "$OUT" | awk '{print $2}')
	ok $([ "$mb" -ge "$UID_BASE" ] && [ "$mb" -ne 0 ]; echo $?) "uid_map's host base $mb is non-zero and >= $UID_BASE"
}

# --- hostname --------------------------------------------------------------------

run $A 'hostname; uname -n'
is "$(printf '%s\n' "$OUT" | words)" "$A $A" "hostname and uname -n inside are the projectId"
run $B 'hostname'
is "$OUT" "$B" "B's hostname is B's projectId"

# --- neighbours --------------------------------------------------------------------

SECRET=nb$RANDOM$RANDOM$RANDOM
S1=${SECRET:0:6}
S2=${SECRET:6}
run $A "echo $SECRET > /workspace/secret-$SECRET && cat /workspace/secret-$SECRET"
is "$OUT" "$SECRET" "A writes /workspace/secret-$SECRET"
run $B "test -e /workspace/secret-$SECRET; echo \$?"
is "$OUT" 1 "B has no /workspace/secret-$SECRET"
run $B "s1=$S1; s2=$S2; find / \\( -path /proc -o -path /sys \\) -prune -o -name \"*\$s1\$s2*\" -print 2>/dev/null; echo find-done"
is "$OUT" "find-done" "B finds no file of A's by name anywhere"
# content: everything writable A could have put it in (/usr is the host's,
# read-only, checked right after); B's own probe shows the search works
run $B "echo $PROBE > /workspace/probe-file"
run $B "s1=$S1; s2=$S2; cd /; timeout 45 grep -rlF -D skip -e \"\$s1\$s2\" -e $PROBE \$(ls -A / | grep -vxE 'proc|sys|usr|bin|sbin|lib|lib32|lib64|libx32' | sed 's|^|/|') 2>/dev/null; echo \"grep-rc=\$?\"" 55000
like "$OUT" 'grep-rc=[02]$' "B's grep -r of its whole writable tree finished"
is "$(printf '%s\n' "$OUT" | grep -v '^grep-rc=')" "/workspace/probe-file" \
	"B's grep -r finds its own probe and no content of A's secret"
run $A "touch /usr/x-$SECRET 2>/dev/null; echo rc=\$?"
is "$(printf '%s\n' "$OUT" | status_words)" "rc=fail" "A cannot write into /usr (it is the host's, read-only): B cannot see it there either"
ok $([ ! -e "/usr/x-$SECRET" ]; echo $?) "nor did anything land in the host's /usr"

# ps waits until the sleep has finished its exec (its command line is whole)
run $A 'setsid sleep 3141 >/dev/null 2>&1 </dev/null & until pgrep -fx "sleep 3141" >/dev/null; do :; done; ps -e -o args='
like "$OUT" '^sleep 3141$' "A sees its own detached 'sleep 3141'"
run $B 'ps -e -o args='
unlike "$OUT" 'sleep' "B's ps sees no sleep of A's"
N=$(printf '%s\n' "$OUT" | sed '/^ *$/d' | wc -l)
ok $([ "$N" -le 3 ]; echo $?) "B's ps lists only its own init, sh and ps ($N lines)" || diag "$OUT"
run $B 'kill -0 1; echo $?; for p in /proc/[0-9]*; do cat $p/cmdline 2>/dev/null | tr "\0" " "; echo; done'
unlike "$OUT" '3141|sleep 31' "B's /proc holds no trace of A's processes"

# --- fds and environment -------------------------------------------------------------

run $A '( ls /proc/self/fd )'
is "$(printf '%s\n' "$OUT" | words)" "0 1 2 3" "ls /proc/self/fd in a subshell: 0 1 2 and ls's own directory fd, nothing else"
run $A 'ls /proc/$$/fd'
is "$(printf '%s\n' "$OUT" | words)" "0 1 2" "the exec'd shell itself holds only fds 0 1 2"
run $A 'readlink /proc/$$/fd/0'
is "$OUT" "/dev/null" "its stdin is /dev/null"

run $A 'env | cut -d= -f1' "" '{"MYVAR":"my value"}'
ENVNAMES=$(printf '%s\n' "$OUT" | words)
unlike " $ENVNAMES " ' (REQUEST_URI|SCRIPT_FILENAME|CONTENT_LENGTH|CONTENT_TYPE|FCGI_ROLE|REQUEST_METHOD|QUERY_STRING|SERVER_[A-Z_]*|REMOTE_[A-Z_]*|GATEWAY_INTERFACE|DOCUMENT_ROOT|REQUEST_ID|HTTP_[A-Z_]*) ' \
	"no FastCGI parameter in the exec's environment"
EXTRA=$(for n in $ENVNAMES; do case $n in PATH|HOME|LANG|HOSTNAME|PWD|SHLVL|_|MYVAR) ;; *) echo "$n" ;; esac; done | words)
is "$EXTRA" "" "the environment has only PATH HOME LANG HOSTNAME PWD SHLVL _ and the request's env (got: $ENVNAMES)"
run $A 'printf "%s|%s" "$MYVAR" "$HOSTNAME"' "" '{"MYVAR":"my value"}'
is "$OUT" "my value|$A" "the request's env and HOSTNAME arrive"

# --- the host's root ----------------------------------------------------------------------

run $A 'test -e /work; echo $?'
is "$OUT" 1 "/work does not exist inside"
# the sandbox's root is the image (its lower layer) plus what the sandbox
# wrote; the host's top level has more
IMAGE_TOP=" $(ls -A "$DATA/images/host" | tr '\n' ' ')"
HOST_ONLY=$(cd / && for e in .[!.]* * ; do [ -e "$e" ] || [ -L "$e" ] || continue; case $IMAGE_TOP in *" $e "*) ;; *) echo "$e" ;; esac; done | words)
run $A "cd / && for e in $HOST_ONLY; do { test -e \"\$e\" || test -L \"\$e\"; } && echo \"\$e\"; done; echo done"
is "$OUT" "done" "no host-only top-level entry ($HOST_ONLY) exists inside"
run $A 'test -e /root/.bash_history; echo $?; ls -A /root'
is "$OUT" 1 "the sandbox's /root is its own, empty: no .bash_history"
run $A 'cat /etc/hostname 2>/dev/null; hostname'
HOSTNAME_FILE=$(cat /etc/hostname 2>/dev/null)
unlike "$OUT" "^($(hostname)|${HOSTNAME_FILE:-__none__})$" "the host's /etc/hostname ('$HOSTNAME_FILE') and hostname are not visible"
run $A 'test -e /etc/shadow; echo $?'
is "$OUT" 1 "no /etc/shadow inside (the host's is not reachable)"

run $A 'mount -t tmpfs none /mnt 2>/dev/null; echo "rc=$?"; echo "mounts=$(grep -c " /mnt " /proc/self/mountinfo)"'
is "$(printf '%s\n' "$OUT" | status_words)" "mounts=zero rc=fail" \
	"mount -t tmpfs none /mnt fails, and nothing is mounted on /mnt afterwards"
# a mount namespace of its own: either the sandbox may not make one at all,
# or (it is root in its user namespace) the mounts it inherits stay locked
# there and no kernel filesystem may be mounted
run $A 'if unshare -m true 2>/dev/null; then unshare -m sh -c "umount /proc/kallsyms; echo u1=\$?; umount -l /proc/kallsyms; echo u2=\$?; umount -l /proc; echo u3=\$?; echo kallsyms=\$(head -c 64 /proc/kallsyms | wc -c); mount -t proc proc /mnt; echo proc=\$?; mount -t sysfs none /mnt; echo sysfs=\$?; mount -t cgroup -o freezer none /mnt; echo cgroup=\$?; mount -t cgroup2 none /mnt; echo cgroup2=\$?" 2>/dev/null; else echo no-mount-namespace; fi'
GOT=$(printf '%s\n' "$OUT" | status_words)
WANT=$(printf '%s\n' kallsyms=zero proc=fail sysfs=fail cgroup=fail cgroup2=fail u1=fail u2=fail u3=fail | words)
ok $([ "$GOT" = no-mount-namespace ] || [ "$GOT" = "$WANT" ]; echo $?) \
	"unshare -m fails, or in that mount namespace the /proc masks stay and proc, sysfs, cgroup mounts fail ($GOT)" ||
	diag "want: 'no-mount-namespace' or '$WANT'"
# nor does a nested user namespace, where it may make one
run $A 'unshare -U true 2>/dev/null; echo "userns=$?"; unshare -U -r -m sh -c "umount -l /proc/kallsyms; echo u=\$?; echo kallsyms=\$(head -c 64 /proc/kallsyms | wc -c); mount -t proc proc /mnt; echo proc=\$?" 2>/dev/null'
GOT=$(printf '%s\n' "$OUT" | status_words)
WANT="kallsyms=zero proc=fail u=fail userns=zero"
ok $([ "$GOT" = userns=fail ] || [ "$GOT" = "$WANT" ]; echo $?) \
	"no nested user namespace, or as its root still no unmount of a mask, no proc mount ($GOT)" ||
	diag "want: 'userns=fail' or '$WANT'"
run $A 'umount -l /proc/kallsyms 2>/dev/null; echo u1=$?; umount -l /proc/sys 2>/dev/null; echo u2=$?; umount -l /proc 2>/dev/null; echo u3=$?; grep -c " /proc/sys " /proc/self/mountinfo'
is "$(printf '%s\n' "$OUT" | status_words)" "1 u1=fail u2=fail u3=fail" \
	"umount of the /proc masks and of /proc fails; /proc/sys stays mounted read-only"
run $A 'echo pwned 2>/dev/null > /proc/sys/kernel/hostname; echo "rc=$?"; hostname'
is "$(printf '%s\n' "$OUT" | head -n 1 | status_words) $(printf '%s\n' "$OUT" | tail -n 1)" "rc=fail $A" \
	"writing /proc/sys/kernel/hostname fails; the hostname is still the projectId"
run $A 'hostname foo 2>/dev/null; echo "rc=$?"; hostname'
is "$(printf '%s\n' "$OUT" | head -n 1 | status_words) $(printf '%s\n' "$OUT" | tail -n 1)" "rc=fail $A" \
	"hostname foo (sethostname) fails; the hostname is unchanged"
run $A 'head -c 64 /proc/kcore 2>/dev/null | wc -c'
is "$OUT" 0 "/proc/kcore reads empty or fails"
run $A 'head -c 64 /proc/kallsyms 2>/dev/null | wc -c; head -c 64 /proc/sysrq-trigger 2>/dev/null | wc -c'
is "$(printf '%s\n' "$OUT" | words)" "0 0" "/proc/kallsyms and /proc/sysrq-trigger read empty"
run $A 'echo 1 > /proc/sys/kernel/sysrq; echo "rc=$?"'
like "$OUT" 'rc=[1-9]' "writing a kernel knob in /proc/sys fails"

# --- planted symlinks ------------------------------------------------------------------

HOST_SHADOW=$(head -c 200 /etc/shadow 2>/dev/null)
run $A "cd /workspace && ln -sf /etc/shadow shadow-link && ln -sf '$CANARY' canary-link && ln -sf ../../../../../../etc/shadow rel-link && ln -sf / root-link && echo planted"
is "$OUT" "planted" "symlinks to host paths planted in /workspace"
run $A 'cat /workspace/shadow-link; echo "rc=$?"'
like "$OUT" 'rc=[1-9]' "reading the link to /etc/shadow fails (it resolves in the sandbox root)"
[ -n "$HOST_SHADOW" ] && unlike "$OUT" "^$(printf '%s' "$HOST_SHADOW" | head -n 1 | cut -d: -f1):" \
	"and gives none of the host's /etc/shadow"
run $A 'cat /workspace/rel-link; echo "rc=$?"'
like "$OUT" 'rc=[1-9]' "a relative ../../.. link to etc/shadow resolves in the sandbox root too"
run $A 'cat /workspace/canary-link; echo "rc=$?"'
like "$OUT" 'rc=[1-9]' "a link to the canary's host path does not reach it"
unlike "$OUT" "$T2" "and shows none of the canary"
run $A 'ls -A /workspace/root-link/ | tr "\n" " "'
is "$(printf '%s' "$OUT" | words)" "$(printf '%s' "$IMAGE_TOP" | words)" "a link to / shows the sandbox's root (the image's entries), not the host's"

# --- persistence ----------------------------------------------------------------------

PTOK=persist$RANDOM$RANDOM
run $A "echo $PTOK > /workspace/p.txt && mkdir -p /root/.cfg && echo $PTOK > /root/.cfg/f && echo $PTOK > /etc/motd"
is "$RC" 0 "an exec writes files in /workspace, /root and /etc"
run $A 'cat /workspace/p.txt /root/.cfg/f /etc/motd'
is "$(printf '%s\n' "$OUT" | words)" "$PTOK $PTOK $PTOK" "the next exec reads them back"
run $A 'echo tmp > /tmp/t && cat /tmp/t'
is "$OUT" tmp "/tmp is writable"

# full restart of the service (same data dir, instance and uid window)
OLD_INIT=
for p in $(sandbox_pids $A); do
	[ "$(cat /proc/$p/comm 2>/dev/null)" = sandbox-init ] && OLD_INIT=$p
done
kill -TERM "$MASTER"
for _ in $(seq 1 300); do kill -0 "$MASTER" 2>/dev/null || break; sleep 0.1; done
ok $(kill -0 "$MASTER" 2>/dev/null; [ $? -ne 0 ]; echo $?) "the service stopped on SIGTERM"
wait "$SBD_PID" 2>/dev/null
"$SANDBOXD" --data "$DATA" --instance "$INSTANCE" --workers "${T_WORKERS:-3}" \
	--uid-base "$UID_BASE" --uid-slots 64 --pidfile "$T_DIR/sandboxd.pid" \
	>>"$T_DIR/sandboxd.log" 2>&1 &
SBD_PID=$!
for _ in $(seq 1 1200); do [ -S "$DATA/run/fcgi.sock" ] && break; sleep 0.05; done
for _ in $(seq 1 1200); do
	[ "$(cat "$T_DIR/sandboxd.pid" 2>/dev/null)" = "$SBD_PID" ] && break; sleep 0.05
done
api GET /sandboxes/$A
is "$STATUS" 200 "after a restart, A is known"
ST=$(jqr .data.status)
is "$ST" stopped "after a restart, A is stopped"
[ "$ST" = stopped ] ||
	diag "A's old init, host pid $OLD_INIT: $(grep -E '^(Name|State|PPid):' /proc/$OLD_INIT/status 2>&1 | tr '\n\t' '  ')"
run $A 'cat /workspace/p.txt /root/.cfg/f /etc/motd'
is "$STATUS" 200 "exec after a restart answers 200"
is "$(printf '%s\n' "$OUT" | words)" "$PTOK $PTOK $PTOK" "files persist across a full service restart"
run $B "test -e /workspace/secret-$SECRET; echo \$?"
is "$OUT" 1 "after a restart, B still has no file of A's"
run $A 'hostname; id -u; ls /sys/class/net; ps -e -o comm= >/tmp/ps.out; grep -vxE "ps|sh" /tmp/ps.out'
is "$(printf '%s\n' "$OUT" | words)" "$(printf '%s\n' 0 "$A" lo sandbox-init | words)" \
	"after a restart the sandbox is isolated the same way (hostname, uid 0 inside, only lo, only its init)"

done_testing
