#!/bin/bash
# The image store on the host: only root reaches an image's files.  A
# setuid-root program in an imported tarball (or Debian's su in bookworm)
# is no root shell for a local user, and an image's 1777 directories take
# no file of theirs; inside a sandbox those directories stay 1777 and the
# sandbox's users write there.  The same holds for the built-in host image,
# for a stage while an import runs, and for a store an older sandboxd-image
# left open (tightened when opened).
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
[ -x "${SANDBOXD_IMAGE:-}" ] || bail "no sandboxd-image binary at ${SANDBOXD_IMAGE:-}"
[ -x /bin/busybox ] || bail "needs /bin/busybox (Debian's busybox-static)"
[ "$(id -u)" = 0 ] || skip_all "needs root (imports keep owners; sandboxes)"
W=$(mktemp -d /tmp/sbd-store.XXXXXX)
# as /var/lib/sandboxd (a data dir, 0711): the store's parent is traversable
chmod 0711 "$W"
trap 'rm -rf "$W"' EXIT
IMAGES=$W/images
img() { "$SANDBOXD_IMAGE" --images "$IMAGES" --cache "$W/cache" --quiet "$@"; }
# a local user with no business in the store (setpriv keeps its capabilities
# until it execs: the shell's exec is nobody's own)
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups /bin/sh -c 'exec "$@"' sh "$@"; }
words() { tr '\n' ' ' | sed 's/ *$//'; }
modes() { stat -c %a "$@" | words; }

# euid: prints its effective uid; drop: runs its arguments as uid/gid 500
printf '#include <stdio.h>\n#include <unistd.h>\nint main(void) { printf("%%d\\n", (int)geteuid()); return 0; }\n' > "$W/euid.c"
printf '#include <unistd.h>\n#include <grp.h>\nint main(int c, char **v) { (void)c; if (setgroups(0, 0) || setgid(500) || setuid(500)) return 111; execv(v[1], v + 1); return 112; }\n' > "$W/drop.c"
gcc -static -O2 -o "$W/euid" "$W/euid.c" && gcc -static -O2 -o "$W/drop" "$W/drop.c" ||
	bail "cannot build static helpers (gcc, libc6-dev)"
ok "$(nobody "$W/euid" >/dev/null; echo $?)" "(a host user can run programs of $W)"

# a root with a setuid-root and a setgid program and two 1777 directories;
# stall.tar holds the same, then members tar complains about, one line each
python3 - "$W" <<'PY'
import io, sys, tarfile
w = sys.argv[1]
def f(t, name, data, mode):
    i = tarfile.TarInfo(name); i.size = len(data); i.mode = mode; t.addfile(i, io.BytesIO(data))
def d(t, name, mode=0o755):
    i = tarfile.TarInfo(name); i.type = tarfile.DIRTYPE; i.mode = mode; t.addfile(i)
def l(t, name, target):
    i = tarfile.TarInfo(name); i.type = tarfile.SYMTYPE; i.linkname = target; t.addfile(i)
busybox = open("/bin/busybox", "rb").read()
euid = open(w + "/euid", "rb").read()
def root(t):
    d(t, "bin"); f(t, "bin/busybox", busybox, 0o755)
    for a in ("sh", "id", "stat", "touch", "ls", "cat", "echo"): l(t, "bin/" + a, "busybox")
    f(t, "bin/drop", open(w + "/drop", "rb").read(), 0o755)
    f(t, "bin/euid", euid, 0o4755)
    f(t, "bin/egid", euid, 0o2755)
    d(t, "var"); d(t, "var/tmp", 0o1777); d(t, "shared", 0o1777)
with tarfile.open(w + "/suid.tar", "w") as t:
    root(t)
with tarfile.open(w + "/stall.tar", "w") as t:
    root(t)
    for n in range(8000):
        f(t, "x" * 60 + "/../complaint%d" % n, b"", 0o644)
PY

out=$(img import suid "$W/suid.tar" 2>&1)
is "$?" 0 "a tarball with setuid/setgid programs and 1777 directories imports" || diag "$out"
VERDIR=$(ls -d "$IMAGES"/suid/2*)
ROOTFS=$VERDIR/rootfs

# --- on the host: nothing of the store for a local user -----------------------
out=$(nobody "$ROOTFS/bin/euid" 2>&1)
isnt "$out" 0 "a host user running the image's setuid-root program by its host path gets no euid 0"
like "$out" "Permission denied" "it is out of reach"
is "$(modes "$ROOTFS/bin/euid" "$ROOTFS/bin/egid")" "755 755" "the stored copies are neither setuid nor setgid"
nobody touch "$ROOTFS/shared/x" "$ROOTFS/var/tmp/x" 2>/dev/null
isnt "$?" 0 "a host user cannot create a file in the image's 1777 directories"
ok "$([ ! -e "$ROOTFS/shared/x" ] && [ ! -e "$ROOTFS/var/tmp/x" ]; echo $?)" "none was made"
is "$(modes "$IMAGES" "$IMAGES/suid" "$VERDIR")" "700 700 700" "images dir, name and version dirs are 0700"
is "$(modes "$IMAGES/.registry" "$IMAGES/.registry/data.mdb")" "700 600" "the registry is root's only"
nobody ls "$IMAGES" >/dev/null 2>&1
isnt "$?" 0 "a host user cannot list the images dir"
is "$(modes "$ROOTFS/shared" "$ROOTFS/var/tmp")" "1777 1777" "the image's own 1777 directories keep their mode"

# --- a stage while the import runs --------------------------------------------
# The import's stderr is a FIFO nobody reads: once tar has complained a few
# hundred KiB, it waits, mid-extraction, with the setuid program in the stage.
mkfifo "$W/err"
exec 7<>"$W/err"
"$SANDBOXD_IMAGE" --images "$IMAGES" --cache "$W/cache" import stall "$W/stall.tar" 2>"$W/err" &
IMP=$!
for _ in $(seq 1 600); do
	STAGE=$(ls -d "$IMAGES"/stall/.stage-* 2>/dev/null)
	[ -n "$STAGE" ] && [ "$(stat -c %a "$STAGE/rootfs/bin/euid" 2>/dev/null)" = 4755 ] && break
	sleep 0.05
done
is "$(stat -c %a "$STAGE/rootfs/bin/euid" 2>/dev/null)" 4755 "mid-import, the stage holds the setuid-root program"
out=$(nobody "$STAGE/rootfs/bin/euid" 2>&1)
isnt "$out" 0 "a host user running it from the stage gets no euid 0"
nobody touch "$STAGE/rootfs/shared/x" 2>/dev/null
isnt "$?" 0 "nor creates a file in its 1777 directory (if tar gave it its mode yet)"
is "$(modes "$IMAGES/stall" "$STAGE")" "700 700" "the name dir and the stage are 0700"
cat "$W/err" >/dev/null &
exec 7<&-
wait "$IMP"
is "$?" 1 "the import (of a tarball with bad members) fails in the end"
is "$(ls -A "$IMAGES/stall")" .lock "and leaves no stage"

# --- a store an older sandboxd-image left open is tightened when opened ------
age() {	# as older versions left it: 0755 dirs, the setuid bit stored
	chmod 0755 "$IMAGES" "$IMAGES/suid" "$VERDIR"
	chmod 04755 "$ROOTFS/bin/euid"
	# (a package's postinst may setcap: a build keeps what it does)
	[ -z "$SETCAP" ] || setcap cap_net_raw+ep "$ROOTFS/bin/egid"
}
SETCAP=$(command -v setcap)	# libcap2-bin, where installed
age
is "$(nobody "$ROOTFS/bin/euid" 2>&1)" 0 "(an open store is the hole: euid 0 for a host user)"
[ -z "$SETCAP" ] || like "$(getcap "$ROOTFS/bin/egid")" cap_net_raw "(and a file capability is stored)"
img list >/dev/null
is "$(modes "$IMAGES" "$IMAGES/suid" "$VERDIR" "$ROOTFS/bin/euid")" "700 700 700 755" \
	"sandboxd-image list (as root) tightens it, and clears the setuid bit"
[ -z "$SETCAP" ] || is "$(getcap "$ROOTFS/bin/egid")" "" "and the file capability"
age

sbd_start --images "$IMAGES"
trap 'rm -rf "$W"; sbd_cleanup' EXIT
is "$(modes "$IMAGES" "$IMAGES/suid" "$VERDIR" "$ROOTFS/bin/euid")" "700 700 700 755" \
	"sandboxd's start tightens its --images dir too"
out=$(nobody "$ROOTFS/bin/euid" 2>&1)
isnt "$out" 0 "and a host user gets no euid 0 from it"

# --- the built-in host image ---------------------------------------------------
HOSTIMG=$DATA/images/host
is "$(modes "$DATA/images")" 700 "DATA/images (the host image's parent) is 0700"
nobody touch "$HOSTIMG/var/tmp/x" "$HOSTIMG/tmp/x" 2>/dev/null
isnt "$?" 0 "a host user cannot create a file in the host image's 1777 directories"
ok "$([ ! -e "$HOSTIMG/var/tmp/x" ] && [ ! -e "$HOSTIMG/tmp/x" ]; echo $?)" "none was made"
api POST /sandboxes/h
is "$STATUS" 200 "a sandbox on the host image"
exec_in h 'stat -c %a /var/tmp; setpriv --reuid 1000 --regid 1000 --clear-groups sh -c "echo x > /var/tmp/u && echo written"; stat -c %u /var/tmp/u'
is "$(jqr .data.stdout | words)" "1777 written 1000" "inside, its /var/tmp is 1777 and uid 1000 writes there" ||
	diag "$(jqr .data.stderr)"

# --- the imported image in a sandbox ------------------------------------------
api POST /sandboxes/s '{"image": "suid"}'
is "$STATUS" 200 "a sandbox on the imported image"
exec_in s 'stat -c %a /shared /var/tmp /bin/euid; /bin/drop /bin/sh -c "echo a > /shared/a && echo b > /var/tmp/b && echo written; id -u; /bin/euid"'
is "$(jqr .data.stdout | words)" "1777 1777 755 written 500 500" \
	"inside, the 1777 directories are 1777 and uid 500 writes there; the program is not setuid" ||
	diag "$(jqr .data.stderr)"
exec_in s 'stat -c %u /var/tmp/b'
is "$(jqr .data.stdout)" 500 "the file is uid 500's"
ok "$([ ! -e "$ROOTFS/var/tmp/b" ]; echo $?)" "in the sandbox's own layer, not in the image"

# --- bookworm (the dev store t/0015 builds) ------------------------------------
BW=${SBD_IMAGES:-/var/lib/sandboxd-dev/images}
"$SANDBOXD_IMAGE" --images "$BW" --cache "${SBD_IMAGE_CACHE:-/var/cache/sandboxd}" --quiet build bookworm 2>"$W/bw.log"
is "$?" 0 "sandboxd-image build bookworm (a no-op when built)" || diag "$(cat "$W/bw.log")"
BWV=$("$SANDBOXD_IMAGE" --images "$BW" list | awk '$1 == "bookworm" { print $2 }')
BWROOT=$BW/bookworm/$BWV/rootfs
ok "$([ -f "$BWROOT/usr/bin/su" ]; echo $?)" "bookworm ($BWV) has su"
is "$(modes "$BW" "$BW/bookworm" "$BW/bookworm/$BWV")" "700 700 700" "its images dir, name and version dirs are 0700"
is "$(modes "$BWROOT/usr/bin/su" "$BWROOT/usr/bin/passwd" "$BWROOT/usr/bin/mount" "$BWROOT/usr/sbin/unix_chkpwd")" \
	"755 755 755 755" "its su, passwd, mount and unix_chkpwd are stored without setuid/setgid bits"
out=$(nobody timeout 30 "$BWROOT/usr/bin/su" -c true </dev/null 2>&1)
like "$out" "Permission denied" "a host user cannot run bookworm's su by its host path"
nobody touch "$BWROOT/var/tmp/x" 2>/dev/null
isnt "$?" 0 "nor create a file in its var/tmp"
! grep -qE ' status=500 |Sanitizer|runtime error:' "$T_DIR/sandboxd.log"
ok $? "no 500 nor sanitizer report from the first service" || grep -E ' status=500 | level=error ' "$T_DIR/sandboxd.log" | head -n 20 | sed 's/^/# /'
sbd_cleanup
sbd_start --images "$BW"
trap 'rm -rf "$W"; sbd_cleanup' EXIT
api POST /sandboxes/bw '{"image": "bookworm"}'
is "$STATUS" 200 "a sandbox on bookworm"
exec_in bw 'stat -c %a /var/tmp /usr/bin/su; setpriv --reuid 1000 --regid 1000 --clear-groups sh -c "echo x > /var/tmp/u && echo written"'
is "$(jqr .data.stdout | words)" "1777 755 written" "inside, its /var/tmp is 1777 and uid 1000 writes there" ||
	diag "$(jqr .data.stderr)"

done_testing
