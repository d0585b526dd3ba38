#!/bin/bash
# Destroy (issue 17, item 1): POST /sandboxes/:id/destroy removes a sandbox
# for good: processes killed, files, disk image, cgroups, record, history
# and process records gone, its uid slot (and /31) returned for reuse.  A
# freed slot's next owner sees nothing of the old one; a destroy is
# idempotent; a destroy racing an exec or a create ends in one consistent
# state; a destroy killed in the middle is finished by the next create of
# the id and, at the latest, by the next start of the service.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
cg_need freezer pids
# two slots: a slot that is not returned is seen at once (503)
sbd_start --uid-slots 2

cmd_json() { jq -cn --arg c "$1" '{command: $c}'; }
# the uid the sandbox's init runs as on the host: its slot's base
init_uid() {
	local p
	p=$(init_of "$1")
	[ -n "$p" ] && awk '/^Uid:/{print $2}' "/proc/$p/status"
}
# host processes (not zombies) whose real uid is in uid range [$1, $1+65536)
uid_procs() {
	local f u s
	for f in /proc/[0-9]*/status; do
		u=$(awk '/^Uid:/{print $2}' "$f" 2>/dev/null)
		s=$(awk '/^State:/{print $2}' "$f" 2>/dev/null)
		[ -n "$u" ] && [ "$s" != Z ] && [ "$u" -ge "$1" ] && [ "$u" -lt $(($1 + 65536)) ] &&
			echo "${f//[!0-9]/}"
	done
}
# the sandbox's traces on the host: directory, cgroup (any hierarchy)
traces() {
	local id=$1 c
	[ -e "$DATA/sandboxes/$id" ] && echo "dir"
	for c in pids freezer memory; do
		[ -e "$(cg_dir $c "$id")" ] && echo "cgroup:$c"
	done
	ls -A "$DATA/sandboxes" | grep -E '^\.(gone|q)' | sed 's/^/aside:/'
}

# --- a sandbox with files, a daemon, history and a process record ---------
api POST /sandboxes/a
is "$STATUS" 200 "create a"
exec_in a 'echo old-secret > /workspace/secret; echo ok'
is "$(jqr .data.stdout)" "ok" "  a writes /workspace/secret"
api POST /sandboxes/a/processes "$(cmd_json 'sleep 1000')"
is "$STATUS" 200 "  a starts a background process"
exec_in a 'setsid sleep 1000 >/dev/null 2>&1 </dev/null & echo started'
is "$(jqr .data.stdout)" "started" "  and a detached daemon"
OLD_UID=$(init_uid a)
ok $([ -n "$OLD_UID" ]; echo $?) "  a's init runs as uid $OLD_UID"
api POST /sandboxes/b
is "$STATUS" 200 "create b: both slots taken"
api POST /sandboxes/c
is "$STATUS" 503 "  a third create finds no slot (503)"

# --- destroy ----------------------------------------------------------------
api POST /sandboxes/a/destroy
is "$STATUS" 200 "POST /sandboxes/a/destroy answers 200"
is "$(jqr .data.status)" "destroyed" "  status destroyed"
api GET /sandboxes/a
is "$STATUS" 404 "  a is gone (404)"
is "$(uid_procs "$OLD_UID" | wc -l)" 0 "  no process of a's uid range is left"
is "$(traces a | tr '\n' ' ')" "" "  no directory, cgroup or set-aside copy of a is left"
grep -q "event=sandbox.destroyed id=a " "$T_DIR/sandboxd.log"
ok $? "  the log says sandbox.destroyed"
api POST /sandboxes/a/destroy
is "$STATUS" 200 "a second destroy answers 200 too (idempotent)"
api POST /sandboxes/never-was/destroy
is "$STATUS" 200 "  and so does a destroy of an id that never was"
api GET /sandboxes/never-was
is "$STATUS" 404 "  which it does not create"

# --- the freed slot's next owner sees nothing of the old one ---------------
api POST /sandboxes/c
is "$STATUS" 200 "create c: the freed slot is reused"
exec_in c 'id -u'
is "$(init_uid c)" "$OLD_UID" "  c's init runs in a's old uid range ($OLD_UID)"
exec_in c 'cat /workspace/secret 2>&1; ls -A /workspace | wc -l'
unlike "$(jqr .data.stdout)" 'old-secret' "  c does not see a's file"
exec_in c 'ps -e -o comm= | grep -c sleep'
is "$(jqr .data.stdout)" "0" "  nor a's processes"
api GET /sandboxes/c/history
is "$(jqr '.data.entries | length')" "3" "  its history holds its own three execs only"
api GET /sandboxes/c/processes
is "$(jqr '.data.processes | length')" "0" "  no process record of a's"

# the same id again: a new sandbox, nothing of the old
api POST /sandboxes/a/destroy
api POST /sandboxes/c/destroy
is "$STATUS" 200 "destroy c"
api POST /sandboxes/a
is "$STATUS" 200 "create a again"
exec_in a 'cat /workspace/secret 2>&1 || echo none'
like "$(jqr .data.stdout)" 'none' "  the new a has none of the old a's files"
api GET /sandboxes/a/history
is "$(jqr '.data.entries | length')" "1" "  nor its history"
api GET /sandboxes/a/processes
is "$(jqr '.data.processes | length')" "0" "  nor its process records"

# --- a destroy during an exec -----------------------------------------------
curl -s -o /dev/null -X POST -H 'Content-Type: application/json' \
	--data-binary "$(cmd_json 'echo started; sleep 60')" "$BASE/sandboxes/a/exec" &
EXEC=$!
for _ in $(seq 1 1200); do
	[ -n "$(sandbox_pids a | xargs -r -n1 sh -c 'cat /proc/$0/comm 2>/dev/null' | grep -x sleep)" ] && break
	sleep 0.05
done
AUID=$(init_uid a)
api POST /sandboxes/a/destroy
is "$STATUS" 200 "a destroy during an exec answers 200"
wait "$EXEC"
grep -q "path=/sandboxes/a/exec .*status=404" "$T_DIR/sandboxd.log"
ok $? "  the exec answers 404: the sandbox was destroyed while it ran"
is "$(uid_procs "$AUID" | wc -l)" 0 "  the exec's command is killed"
api GET /sandboxes/a
is "$STATUS" 404 "  and a is gone"
is "$(traces a | tr '\n' ' ')" "" "  without a trace"

# --- destroys racing creates of the same id ---------------------------------
RACERS=
for i in 1 2 3 4 5 6; do
	curl -s -o /dev/null -X POST "$BASE/sandboxes/r" &
	RACERS="$RACERS $!"
	curl -s -o /dev/null -X POST "$BASE/sandboxes/r/destroy" &
	RACERS="$RACERS $!"
done
wait $RACERS
api GET /sandboxes/r
if [ "$STATUS" = 200 ]; then
	exec_in r 'echo alive'
	is "$(jqr .data.stdout)" "alive" "after racing creates and destroys r exists and works"
else
	is "$STATUS" 404 "after racing creates and destroys r is gone"
	is "$(traces r | tr '\n' ' ')" "" "  without a trace"
fi
api POST /sandboxes/r/destroy
is "$STATUS" 200 "  and a last destroy takes it"
is "$(traces r | tr '\n' ' ')" "" "  leaving nothing"

# --- a destroy killed in the middle (a fault-injection build) ---------------
api POST /sandboxes/b/destroy
is "$STATUS" 200 "destroy b: no sandbox is left"

# --- what a destroyed sandbox kept in the shared stores leaves the shares -----------------------
store_used() { curl -s "$BASE/metrics" | sed -n "s/^sandboxd_store_used_bytes{store=\"$1\"} //p"; }
MAIN0=$(store_used main)
HIST0=$(store_used history)
api POST /sandboxes/u
exec_in u 'echo charged'
api POST /sandboxes/u/processes '{"command": "true", "processId": "p1"}'
ok "$([ "$(store_used main)" -gt "$MAIN0" ] && [ "$(store_used history)" -gt "$HIST0" ]; echo $?)" \
	"u's history and process record are charged to the stores ($(store_used main) > $MAIN0, $(store_used history) > $HIST0)"
api POST /sandboxes/u/destroy
is "$STATUS" 200 "destroy u"
is "$(store_used main):$(store_used history)" "$MAIN0:$HIST0" \
	"its charges left the stores with it (a destroyed tenant's bytes do not count against its share for ever)"

if grep -q SANDBOXD_FAULTS "$SANDBOXD"; then
	# sb_fault() reads the directory from the environment of the service:
	# restart it with one
	mkdir -p "$T_DIR/faults"
	restart() { SANDBOXD_FAULTS=$T_DIR/faults sbd_again; }
	restart
	for point in destroy-marked destroy-moved; do
		api POST "/sandboxes/k-$point"
		is "$STATUS" 200 "create k-$point"
		exec_in "k-$point" 'echo x > /workspace/old; setsid sleep 1000 >/dev/null 2>&1 </dev/null & echo ok'
		KUID=$(init_uid "k-$point")
		touch "$T_DIR/faults/$point"
		api POST "/sandboxes/k-$point/destroy"
		ok $([ ! -e "$T_DIR/faults/$point" ]; echo $?) "fault $point fired (the destroy's worker was killed: $STATUS)"
		api GET "/sandboxes/k-$point"
		is "$STATUS" 404 "  k-$point is gone for the API at once"
		api POST "/sandboxes/k-$point"
		is "$STATUS" 200 "  a create of the same id answers 200"
		exec_in "k-$point" 'cat /workspace/old 2>&1 || echo none'
		like "$(jqr .data.stdout)" 'none' "  with none of the old files"
		api POST "/sandboxes/k-$point/destroy"
		is "$STATUS" 200 "  and it destroys"
		# both slots: the killed destroy's slot is returned by the next start
		restart
		for _ in $(seq 1 600); do
			[ -z "$(traces "k-$point")" ] && [ -z "$(uid_procs "$KUID")" ] && break
			sleep 0.1
		done
		is "$(traces "k-$point" | tr '\n' ' ')" "" "  the next start finished the killed destroy"
		is "$(uid_procs "$KUID" | wc -l)" 0 "  no process of its uid range is left"
		api POST /sandboxes/s1
		is "$STATUS" 200 "  both slots are free again: create s1"
		api POST /sandboxes/s2
		is "$STATUS" 200 "  and s2"
		api POST /sandboxes/s1/destroy
		api POST /sandboxes/s2/destroy
	done
else
	diag "not a fault-injection build: no destroy is killed in the middle"
fi

done_testing
