#!/bin/bash
# sandboxd-image import: a root filesystem tarball becomes an image (here a
# busybox one), with what the runtime needs checked; a hostile tarball
# writes nothing outside its stage.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
[ -x "${SANDBOXD_IMAGE:-}" ] || bail "no sandboxd-image binary at ${SANDBOXD_IMAGE:-}"
[ -x /bin/busybox ] || bail "needs /bin/busybox (Debian's busybox-static)"
W=$(mktemp -d /tmp/sbd-imp.XXXXXX)
trap 'rm -rf "$W"' EXIT
IMAGES=$W/images
img() { "$SANDBOXD_IMAGE" --images "$IMAGES" --cache "$W/cache" --quiet "$@"; }

# a tiny root: busybox, its applets as links, an /etc of its own
mkdir -p "$W/root/bin" "$W/root/etc" "$W/root/home/app"
cp /bin/busybox "$W/root/bin/busybox"
for a in sh ls cat id echo stat wc head touch rm; do ln -s busybox "$W/root/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:500:500::/home/app:/bin/sh\n' > "$W/root/etc/passwd"
printf 'NAME=tiny\n' > "$W/root/etc/os-release"
chown 500:500 "$W/root/home/app"
tar --numeric-owner -C "$W/root" -cf "$W/tiny.tar" .
gzip -c "$W/tiny.tar" > "$W/tiny.tar.gz"

out=$(img import tiny "$W/tiny.tar.gz" 2>&1)
is "$?" 0 "import of a gzipped tarball succeeds" || diag "$out"
like "$(img list)" '^tiny +[0-9]{8}T[0-9]{6}Z +[0-9.]+ M .*import tiny\.tar\.gz' "sandboxd-image list shows it"
ROOTFS=$(ls -d "$IMAGES"/tiny/*/rootfs)
for d in proc dev sys tmp workspace; do
	ok "$([ -d "$ROOTFS/$d" ] && [ ! -L "$ROOTFS/$d" ]; echo $?)" "the import made mount point /$d"
done

# --- refused imports change nothing -------------------------------------------
mkdir -p "$W/nosh/etc"; echo x > "$W/nosh/etc/x"
tar -C "$W/nosh" -cf "$W/nosh.tar" .
out=$(img import nosh "$W/nosh.tar" 2>&1)
is "$?" 1 "a tarball without /bin/sh is refused"
like "$out" "no executable /bin/sh" "saying so"
out=$(img import Bad/Name "$W/tiny.tar" 2>&1)
is "$?" 1 "a bad image name is refused"
like "$out" "bad image name" "saying so"
out=$(img import host "$W/tiny.tar" 2>&1)
is "$?" 1 "the built-in name host is refused"
out=$(img import tiny2 "$W/missing.tar" 2>&1)
is "$?" 1 "a missing tarball is refused"
out=$(img build nosuchrecipe 2>&1)
is "$?" 1 "build of an unknown recipe is refused"
like "$out" "no recipe for image 'nosuchrecipe'" "saying so"

# a static helper that drops to uid/gid 500 and runs its arguments
printf '#include <unistd.h>\n#include <grp.h>\nint main(int c, char **v) { (void)c; if (setgroups(0, 0) || setgid(500) || setuid(500)) return 111; execv(v[1], v + 1); return 112; }\n' > "$W/drop.c"
gcc -static -O2 -o "$W/drop" "$W/drop.c" || bail "cannot build a static helper (gcc, libc6-dev)"

# hostile members: .. and absolute names, a link then a write through it
CANARY=$W/canary; mkdir -p "$CANARY"; echo host > "$CANARY/file"
python3 - "$W" "$CANARY" <<'PY'
import io, sys, tarfile
w, canary = sys.argv[1], sys.argv[2]
def f(t, name, data=b"pwned\n", mode=0o644):
    i = tarfile.TarInfo(name); i.size = len(data); i.mode = mode; t.addfile(i, io.BytesIO(data))
def d(t, name):
    i = tarfile.TarInfo(name); i.type = tarfile.DIRTYPE; i.mode = 0o755; t.addfile(i)
def l(t, name, target):
    i = tarfile.TarInfo(name); i.type = tarfile.SYMTYPE; i.linkname = target; t.addfile(i)
busybox = open("/bin/busybox", "rb").read()
with tarfile.open(w + "/evil.tar", "w") as t:
    d(t, "bin"); f(t, "bin/busybox", busybox, 0o755); l(t, "bin/sh", "busybox")
    f(t, "../../../../../../.." + canary + "/dotdot")
    f(t, canary + "/absolute")
    l(t, "link", canary)
    f(t, "link/through")
# a valid root with a device node (/dev/mem's numbers) and a setuid-root shell
with tarfile.open(w + "/nodes.tar", "w") as t:
    d(t, "bin"); f(t, "bin/busybox", busybox, 0o755)
    for a in ("sh", "cat", "id", "setpriv", "echo"): l(t, "bin/" + a, "busybox")
    f(t, "bin/drop", open(w + "/drop", "rb").read(), 0o755)
    d(t, "suid"); f(t, "suid/sh", busybox, 0o4755)
    i = tarfile.TarInfo("mem"); i.type = tarfile.CHRTYPE; i.devmajor = 1; i.devminor = 1; i.mode = 0o666; t.addfile(i)
PY
out=$(img import evil "$W/evil.tar" 2>&1)
is "$?" 1 "a tarball with members that climb out is refused" || diag "$out"
is "$(ls "$CANARY")" file "it wrote nothing outside its stage"
is "$(cat "$CANARY/file")" host "and changed nothing there"
unlike "$(img list)" '^evil ' "and nothing was registered"
is "$(ls -A "$IMAGES/evil")" .lock "nor left behind (the stage is removed)"
out=$(img import nodes "$W/nodes.tar" 2>&1)
is "$?" 0 "a tarball with a device node and a setuid file imports" || diag "$out"
like "$out" "cleared the setuid/setgid bits and capabilities of 1 file " "saying it cleared the setuid bit"

sbd_start --images "$IMAGES"
trap 'rm -rf "$W"; sbd_cleanup' EXIT
api GET /images
is "$(jqr '[.data.images[].name] | join(",")')" "host,nodes,tiny" "GET /images lists host and the imports"
is "$(jqr '.data.images[] | select(.name=="tiny") | .source')" "import tiny.tar.gz" "with its source"
api POST /sandboxes/t1 '{"image": "tiny"}'
is "$STATUS" 200 "a sandbox on the imported image"
exec_in t1 'echo hi; cat /etc/os-release; id -u; stat -c "%u" /bin/busybox /home/app; ls /usr 2>&1 | wc -l; pwd'
is "$(jqr .data.stdout)" "$(printf 'hi\nNAME=tiny\n0\n0\n500\n1\n/workspace')" \
	"runs busybox's sh, sees the image's /etc and owners, nothing of the host's /usr"
is "$(jqr .data.exitCode)" 0 "exit 0"
api PUT /sandboxes/t1/files/workspace/note.txt '{"content": "kept"}'
is "$STATUS" 200 "file API on it"
exec_in t1 'cat /workspace/note.txt'
is "$(jqr .data.stdout)" kept "the file is there"
api POST /sandboxes/t2 '{"image": "nodes"}'
exec_in t2 'cat /mem | head -c 16 | wc -c; echo x > /mem; echo rc=$?'
like "$(jqr .data.stdout)$(jqr .data.stderr)" 'rc=1' "the image's device node /dev/mem (1,1) cannot be written (nodev)"
unlike "$(jqr .data.stdout)" '^16' "nor read"
is "$(stat -c %a "$(ls -d "$IMAGES"/nodes/*/rootfs)/suid/sh")" 755 \
	"the image's setuid-root shell is stored without its setuid bit (t/0023)"
# the sandbox's root gives it back (a copy-up): nosuid is what holds
exec_in t2 'chmod 4755 /suid/sh; stat -c "%a %u" /suid/sh; /bin/drop /suid/sh -c "id -u; grep ^Uid /proc/self/status"'
like "$(jqr .data.stdout | tr '\n' ' ')" '^4755 0 500 Uid:' "the image's shell, setuid-root again, run by uid 500, stays 500 (nosuid)"
unlike "$(jqr .data.stdout | grep Uid)" '[[:space:]]0([[:space:]]|$)' "none of its uids is 0"

done_testing
