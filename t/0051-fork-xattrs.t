#!/bin/bash
# Review of issue 17 (forks): a fork's copied files are shifted into the new
# sandbox's uid range by disk_image_shift_ids (container/disk.c), which
# chowns every inode.  What a file's owner is does not end at st_uid:
#  - a file capability (security.capability, written by `setcap` inside the
#    sandbox, e.g. by apt installing iputils-ping into the upper layer) is
#    stored as a v3 capability naming the origin's root; the chown drops
#    it, so the fork's copy has no capability at all;
#  - a POSIX ACL's named user or group entries (setfacl -m u:1000:rwx) hold
#    host ids of the origin's range: not shifted, the fork's ACL names a uid
#    of another slot (shown as -1 inside it) and the user loses its access.
# The fork must keep both as the origin has them (as seen inside).
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
cg_need pids
command -v jq >/dev/null || skip_all "no jq"
sbd_start --disk-mb 64

# the xattrs of /workspace/capf and /workspace/aclf as hex, from inside
XATTRS='python3 -c "
import os
for f in (\"capf\", \"aclf\"):
    for a in sorted(os.listxattr(\"/workspace/\" + f)):
        print(f, a, os.getxattr(\"/workspace/\" + f, a).hex())
"'

api POST /sandboxes/xo
is "$STATUS" 200 "origin created"
exec_in xo 'command -v python3 >/dev/null || { echo no-python; exit 0; }
cd /workspace && echo c > capf && echo a > aclf && python3 - <<PY
import os, struct
# cap_net_raw (bit 13) permitted and effective, a v2 capability
os.setxattr("capf", "security.capability", struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0))
# user::rwx user:1000:rwx group::r-x mask::rwx other::r-x
ents = [(0x01, 7, 0xffffffff), (0x02, 7, 1000), (0x04, 5, 0xffffffff), (0x10, 7, 0xffffffff), (0x20, 5, 0xffffffff)]
os.setxattr("aclf", "system.posix_acl_access", struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in ents))
print("set")
PY'
[ "$(jqr .data.stdout)" = no-python ] && skip_all "no python3 in the image"
is "$(jqr .data.stdout)" set "origin: a file capability and an ACL naming uid 1000 ($(jqr .data.stderr))"
exec_in xo "$XATTRS"
WANT=$(jqr .data.stdout)
like "$WANT" 'capf security.capability ' "  the origin has the capability"
like "$WANT" 'aclf system.posix_acl_access .*e8030000' "  and the ACL entry for uid 1000 (0x3e8)"

api POST /sandboxes/xf '{"from": "xo"}'
is "$STATUS" 200 "fork xf of xo ($BODY)"
exec_in xf "$XATTRS"
GOT=$(jqr .data.stdout)
like "$GOT" 'capf security.capability ' "the fork keeps the file capability (chown dropped it)"
like "$GOT" 'aclf system.posix_acl_access .*e8030000' "the fork's ACL still names uid 1000 (not an unshifted id of the origin's range)"
is "$GOT" "$WANT" "the fork's xattrs are the origin's, as seen inside"

done_testing
