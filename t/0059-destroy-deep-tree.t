#!/bin/bash
# Review of destroy (issue 17): a tenant's files must never keep its uid
# slot.  On a server without disk quotas (--disk-mb 0) a sandbox's files
# live on the host's file system; a directory tree deeper than the worker's
# open file limit (remove_at in fcgi-app/destroy.c holds one fd per level)
# made the destroy fail with EMFILE: .gone-N stayed, the slot stayed dying
# for ever (every sweep fails the same way), and with it a uid range of the
# host: a tenant burns slots at will.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
cg_need freezer pids
sbd_start --uid-slots 1 --disk-mb 0

api POST /sandboxes/a
is "$STATUS" 200 "create a (no disk quota: its files are on the host)"
# deeper than the worker's RLIMIT_NOFILE (20000 here): relative mkdir/chdir
CMD='cd /workspace && perl -e '"'"'for (1..21000) { mkdir "d" or die "mkdir $_: $!"; chdir "d" or die "chdir $_: $!" } print "deep\n"'"'"
api POST /sandboxes/a/exec "$(jq -cn --arg c "$CMD" '{command: $c, timeout: 120000}')"
is "$(jqr .data.stdout)" "deep" "  a makes a directory tree 21000 deep"
api POST /sandboxes/a/destroy
is "$STATUS" 200 "destroy a"
is "$(ls -A "$DATA/sandboxes" | grep -cE '^\.(gone|q)')" 0 "  nothing of a is left in DATA/sandboxes"
grep -E 'level=error' "$T_DIR/sandboxd.log" | grep 'destroy a' | head -n 3 | sed 's/^/# /'
api POST /sandboxes/b
is "$STATUS" 200 "  its slot is returned: create b (one slot) answers 200"
done_testing
