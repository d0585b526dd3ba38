#!/bin/bash
# Forks (issue 17, item 4): POST /sandboxes/NEW {"from": "ID"} makes a new
# sandbox from another one's current files (copied with its processes
# frozen, which run on), {"from": "ID", "snapshot": "NAME"} from one of its
# snapshots.  The new sandbox has its own uid range: the copy's files are
# shifted into it (owners, setuid bits kept), and what either side writes
# after is not seen by the other.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
cg_need pids
sbd_start --disk-mb 64

api POST /sandboxes/src
is "$STATUS" 200 "origin created"
exec_in src 'echo one > /workspace/a; touch /workspace/u; chown 1000:1001 /workspace/u;
	cp /bin/true /workspace/suid; chmod 4755 /workspace/suid; ln -s /etc/hostname /workspace/link'
is "$(jqr .data.exitCode)" 0 "origin files written ($(jqr .data.stderr))"
api POST /sandboxes/src/snapshots '{"name": "s1"}'
is "$STATUS" 201 "a snapshot of the origin"
exec_in src 'echo two > /workspace/a'
api POST /sandboxes/src/processes '{"command": "sleep 600", "processId": "sl"}'
is "$STATUS" 200 "a process runs in the origin"

api POST /sandboxes/f1 '{"from": "src"}'
is "$STATUS" 200 "fork f1 of src ($BODY)"
is "$(jqr .data.from)" src "it says where from"
api GET /sandboxes/src/processes/sl
is "$(jqr .data.status)" running "the origin's process runs on"
exec_in f1 'cat /workspace/a; stat -c "%u:%g %a" /workspace/a /workspace/u /workspace/suid; readlink /workspace/link; echo more >> /workspace/a && echo wrote'
is "$(jqr .data.stdout)" "two
0:0 644
1000:1001 644
0:0 4755
/etc/hostname
wrote" "the fork has the origin's current files, owned by its own ids (setuid kept), writable ($(jqr .data.stderr))"
api GET /sandboxes/f1
is "$(jqr .data.image)" "$(api GET /sandboxes/src; jqr .data.image)" "the fork runs the origin's image"

# isolation, both ways
exec_in src 'cat /workspace/a; echo origin-only > /workspace/o'
is "$(jqr .data.stdout)" two "the fork's write is not seen by the origin"
exec_in f1 'test -e /workspace/o && echo seen || echo unseen'
is "$(jqr .data.stdout)" unseen "nor the origin's by the fork"
ok $([ "$(stat -c %u "$DATA/sandboxes/f1/disk.img")" = 0 ]; echo $?) "the fork's image is the host's root's"

api POST /sandboxes/f2 '{"from": "src", "snapshot": "s1"}'
is "$STATUS" 200 "fork f2 of snapshot s1 ($BODY)"
exec_in f2 'cat /workspace/a; stat -c %u:%g /workspace/u'
is "$(jqr .data.stdout)" "one
1000:1001" "it has the snapshot's files"

api POST /sandboxes/f1 '{"from": "src"}'
is "$STATUS" 409 "a fork onto an existing sandbox: 409"
api POST /sandboxes/src '{"from": "src"}'
is "$STATUS" 409 "a fork onto itself: 409"
api POST /sandboxes/f3 '{"from": "nosuch"}'
is "$STATUS" 404 "a fork of a missing sandbox: 404"
api GET /sandboxes/f3
is "$STATUS" 404 "and it made nothing"
api POST /sandboxes/f3 '{"from": "src", "snapshot": "nosuch"}'
is "$STATUS" 404 "a fork of a missing snapshot: 404"
api GET /sandboxes/f3
is "$STATUS" 404 "and it made nothing"
for bad in '{"from": ".."}' '{"from": 3}' '{"snapshot": "s1"}' '{"from": "src", "snapshot": "../x"}' \
	   '{"from": "src", "image": "other"}' '{"from": "src", "limits": {"diskMb": 128}}'; do
	api POST /sandboxes/f3 "$bad"
	is "$STATUS" 400 "refused: $bad"
done

done_testing
