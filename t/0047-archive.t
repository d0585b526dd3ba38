#!/bin/bash
# Archives (issue 17, item 5): GET /sandboxes/:id/archive?path= streams a
# tar.gz (or a .tar: ?format=tar or Accept: application/x-tar) of a
# directory, made by a child of the sandbox's init inside the sandbox:
# symlinks stay symlinks (one to /etc/passwd carries no host or sandbox
# file), long names survive, FIFOs and devices are left out.  PUT
# extracts an uploaded tar or tar.gz inside the sandbox with image import's
# refusals: a member with .., an absolute name, a device or FIFO, a
# hard link leaving the directory, a member written through a symlink (one
# the archive made or one the sandbox planted) is refused with 400 and
# nothing lands outside; setuid/setgid bits are dropped; a bomb fills the
# sandbox's own disk and answers 507.  An archive taken from one sandbox
# and put into another gives the same tree (how a sandbox moves); more
# than --max-file-mb unpacked in all is 413.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
sbd_start --max-file-mb 64

MAXT=(--max-time 120)
HDRS=$T_DIR/headers
TAG=t$$r$RANDOM
hdr() {
	tr -d '\r' <"$HDRS" | awk -v n="$(printf '%s' "$1" | tr 'A-Z' 'a-z')" \
		'{ k = tolower(substr($0, 1, index($0, ":") - 1)) } k == n { sub(/^[^:]*:[ \t]*/, ""); print; exit }'
}
# get ID QUERY FILE [curl options]: GET the archive into FILE; sets STATUS.
get() {
	local id=$1 q=$2 f=$3
	shift 3
	STATUS=$(curl -s "${MAXT[@]}" -D "$HDRS" -o "$f" -w '%{http_code}' "$@" "$BASE/sandboxes/$id/archive?$q")
	BODY=$(head -c 2000 "$f" | tr -d '\0')
}
# put ID QUERY FILE: PUT FILE as the archive; sets STATUS, BODY.
put() {
	api PUT "/sandboxes/$1/archive?$2" "" "${MAXT[@]}" -H 'Content-Type: application/octet-stream' \
		--data-binary "@$3"
}
run() {
	api POST "/sandboxes/$1/exec" "$(jq -cn --arg c "$2" '{command: $c, timeout: 60000}')" "${MAXT[@]}"
	OUT=$(jqr .data.stdout)
}
# mktar FILE.tar[.gz] PYTHON: a tarball built by python's tarfile; the
# code adds members to `t` (helpers: reg(name, data, mode), add(info)).
mktar() {
	python3 - "$1" "$2" <<'PY'
import io, sys, tarfile
out, code = sys.argv[1], sys.argv[2]
t = tarfile.open(out, "w:gz" if out.endswith(".gz") else "w", format=tarfile.PAX_FORMAT)
def reg(name, data=b"x", mode=0o644):
    i = tarfile.TarInfo(name); i.size = len(data); i.mode = mode
    t.addfile(i, io.BytesIO(data))
def add(i):
    t.addfile(i)
exec(code)
t.close()
PY
}

ID=arc
api POST /sandboxes/$ID
is "$STATUS" 200 "create the sandbox"
LONG=$(printf 'd%.0s' $(seq 1 120))/$(printf 'f%.0s' $(seq 1 150)).txt
run $ID "set -e; mkdir -p /workspace/proj/sub/deep /workspace/proj/empty /workspace/proj/$(dirname "$LONG")
	cd /workspace/proj; printf 'alpha\n' > a.txt; head -c 1048576 /dev/urandom > sub/deep/b.bin
	printf '#!/bin/sh\necho run\n' > run.sh; chmod 755 run.sh; ln -s a.txt link; ln -s /etc/passwd escape
	echo long > $LONG; mkfifo pipe; echo ok"
is "$OUT" ok "a tree in /workspace/proj: files, a 1 MiB binary, symlinks, a long name, a FIFO"
run $ID 'cd /workspace/proj && sha256sum sub/deep/b.bin | cut -d" " -f1'
BSHA=$OUT

# === out ====================================================================
get $ID 'path=/workspace/proj' "$T_DIR/p.tgz"
is "$STATUS" 200 "GET archive of /workspace/proj: 200"
is "$(hdr Content-Type)" application/gzip "a tar.gz by default"
like "$(hdr Content-Disposition)" 'attachment; filename="proj.tar.gz"' "an attachment named proj.tar.gz"
mkdir -p "$T_DIR/x"
tar -xzf "$T_DIR/p.tgz" -C "$T_DIR/x"
ok $? "GNU tar extracts it"
is "$(cat "$T_DIR/x/a.txt")" alpha "a.txt as written"
is "$(sha256sum <"$T_DIR/x/sub/deep/b.bin" | cut -d' ' -f1)" "$BSHA" "the 1 MiB binary byte for byte"
is "$(readlink "$T_DIR/x/link"):$(readlink "$T_DIR/x/escape")" "a.txt:/etc/passwd" "symlinks as symlinks (the one to /etc/passwd carries nothing)"
is "$(stat -c %a "$T_DIR/x/run.sh")" 755 "modes kept (run.sh 0755)"
is "$(cat "$T_DIR/x/$LONG")" long "a name of $(printf %s "$LONG" | wc -c) bytes survives"
[ -d "$T_DIR/x/empty" ]
ok $? "an empty directory is there"
[ ! -e "$T_DIR/x/pipe" ]
ok $? "the FIFO is left out"
tar -tzf "$T_DIR/p.tgz" | grep -E '^(/|\.\./)|/\.\./' >/dev/null
ok $((! $?)) "no member is absolute or climbs with .."

get $ID 'path=/workspace/proj&format=tar' "$T_DIR/p.tar"
is "$STATUS:$(hdr Content-Type)" "200:application/x-tar" "?format=tar: a plain tar"
tar -tf "$T_DIR/p.tar" >/dev/null
ok $? "  tar -tf reads it"
get $ID 'path=/workspace/proj' "$T_DIR/p2.tar" -H 'Accept: application/x-tar'
is "$STATUS:$(hdr Content-Type)" "200:application/x-tar" "Accept: application/x-tar: a plain tar"
get $ID 'path=proj' "$T_DIR/p3.tgz"
is "$STATUS" 200 "a relative path is under /workspace"
run $ID 'ln -s proj /workspace/projlink'
get $ID 'path=/workspace/projlink' "$T_DIR/p4.tgz"
is "$STATUS:$(tar -tzf "$T_DIR/p4.tgz" | grep -c '^a.txt$')" "200:1" "a path that is a link to a directory: that directory's archive"
get $ID 'path=/workspace/nope' "$T_DIR/n"
is "$STATUS" 404 "a missing directory: 404"
get $ID 'path=/workspace/proj/a.txt' "$T_DIR/n"
is "$STATUS" 400 "a file, not a directory: 400"
get $ID 'path=/workspace/proj&format=zip' "$T_DIR/n"
is "$STATUS" 400 "format=zip: 400"
get fresh 'path=/workspace' "$T_DIR/n"
is "$STATUS" 200 "a sandbox used for the first time is made, as by every per-sandbox route"
tar -tzf "$T_DIR/n" >/dev/null
ok $? "  its archive of /workspace is a valid tar.gz"

# === in =====================================================================
mkdir -p "$T_DIR/src/d/e"
printf 'one\n' >"$T_DIR/src/one.txt"
head -c 300000 /dev/urandom >"$T_DIR/src/d/e/r.bin"
ln -s one.txt "$T_DIR/src/l"
cp "$T_DIR/src/one.txt" "$T_DIR/src/suid"
chmod 6755 "$T_DIR/src/suid"
tar -czf "$T_DIR/in.tgz" -C "$T_DIR/src" .
put $ID 'path=/workspace/in' "$T_DIR/in.tgz"
is "$STATUS" 200 "PUT a tar.gz into /workspace/in: 200" || diag "$BODY"
is "$(jqr '.data.path')" /workspace/in "  the answer names the directory"
run $ID 'cd /workspace/in && cat one.txt && readlink l && sha256sum d/e/r.bin | cut -d" " -f1 && stat -c "%a %u:%g" suid one.txt'
is "$OUT" "one
one.txt
$(sha256sum <"$T_DIR/src/d/e/r.bin" | cut -d' ' -f1)
755 0:0
644 0:0" "inside: the files, the symlink, setuid/setgid dropped (6755 -> 755), owned by the sandbox's root"
tar -cf "$T_DIR/in.tar" -C "$T_DIR/src" one.txt
put $ID 'path=/workspace/in-plain' "$T_DIR/in.tar"
is "$STATUS" 200 "a plain .tar is taken too"
run $ID 'cat /workspace/in-plain/one.txt'
is "$OUT" one "  and extracted"
# a sandbox moves: the archive of one, put into another
api POST /sandboxes/arc2
put arc2 'path=/workspace/proj' "$T_DIR/p.tgz"
is "$STATUS" 200 "the archive of arc's /workspace/proj put into arc2"
run arc2 "cd /workspace/proj && cat a.txt && sha256sum sub/deep/b.bin | cut -d' ' -f1 && readlink link && stat -c %a run.sh && cat $LONG"
is "$OUT" "alpha
$BSHA
a.txt
755
long" "  arc2 holds the same tree"

# === attacks ================================================================
# refuse NAME PYTHON CHECK: the tarball is refused with 400 and CHECK
# (a shell test inside the sandbox) prints nothing
refuse() {
	local what=$1 code=$2 check=$3
	mktar "$T_DIR/bad.tar" "$code"
	put $ID "path=/workspace/atk/$TAG" "$T_DIR/bad.tar"
	is "$STATUS" 400 "$what: 400" || diag "$BODY"
	is "$(jqr .success)" false "  a JSON error ($(jqr .error))"
	run $ID "$check"
	is "$OUT" "" "  nothing outside: $check"
}
refuse 'a member ../evil' "reg('ok.txt'); reg('../evil-$TAG')" "ls /workspace/atk/evil-$TAG 2>/dev/null"
refuse 'a member a/../../evil' "reg('a/../../evil2-$TAG')" "ls /workspace/atk/evil2-$TAG 2>/dev/null"
refuse 'an absolute member' "reg('/tmp/abs-$TAG')" "ls /tmp/abs-$TAG 2>/dev/null"
refuse 'a character device' "i = tarfile.TarInfo('null-$TAG'); i.type = tarfile.CHRTYPE; i.devmajor = 1; i.devminor = 3; add(i)" \
	"ls /workspace/atk/$TAG/null-$TAG 2>/dev/null"
refuse 'a block device' "i = tarfile.TarInfo('sda-$TAG'); i.type = tarfile.BLKTYPE; i.devmajor = 8; add(i)" \
	"ls /workspace/atk/$TAG/sda-$TAG 2>/dev/null"
refuse 'a FIFO' "i = tarfile.TarInfo('fifo-$TAG'); i.type = tarfile.FIFOTYPE; add(i)" \
	"ls /workspace/atk/$TAG/fifo-$TAG 2>/dev/null"
refuse 'a symlink to /etc then a write through it' \
	"i = tarfile.TarInfo('lnk'); i.type = tarfile.SYMTYPE; i.linkname = '/etc'; add(i); reg('lnk/evil-$TAG')" \
	"ls /etc/evil-$TAG 2>/dev/null"
refuse 'a symlink to .. then a write through it' \
	"i = tarfile.TarInfo('up'); i.type = tarfile.SYMTYPE; i.linkname = '..'; add(i); reg('up/evil3-$TAG')" \
	"ls /workspace/atk/evil3-$TAG 2>/dev/null"
refuse 'a hard link to ../../../etc/passwd' \
	"i = tarfile.TarInfo('hl'); i.type = tarfile.LNKTYPE; i.linkname = '../../../etc/passwd'; add(i)" \
	"ls /workspace/atk/$TAG/hl 2>/dev/null"
refuse 'a hard link through an archive symlink' \
	"i = tarfile.TarInfo('s'); i.type = tarfile.SYMTYPE; i.linkname = '/etc'; add(i); i = tarfile.TarInfo('hl2'); i.type = tarfile.LNKTYPE; i.linkname = 's/passwd'; add(i)" \
	"ls /workspace/atk/$TAG/hl2 2>/dev/null"
# a symlink the sandbox planted inside the target directory
run $ID "mkdir -p /workspace/atk/planted && ln -s /etc /workspace/atk/planted/sub"
mktar "$T_DIR/bad.tar" "reg('sub/evil4-$TAG')"
put $ID 'path=/workspace/atk/planted' "$T_DIR/bad.tar"
is "$STATUS" 400 "a member under a symlink the sandbox planted: 400" || diag "$BODY"
run $ID "ls /etc/evil4-$TAG 2>/dev/null"
is "$OUT" "" "  nothing in /etc"
# a symlink the sandbox planted as the member's own name: replaced, not followed
run $ID "echo keep > /workspace/atk/target.txt && ln -sf /workspace/atk/target.txt /workspace/atk/planted/f"
mktar "$T_DIR/f.tar" "reg('f', b'new')"
put $ID 'path=/workspace/atk/planted' "$T_DIR/f.tar"
is "$STATUS" 200 "a member named as a planted symlink: 200"
run $ID 'cat /workspace/atk/target.txt; [ -L /workspace/atk/planted/f ] || cat /workspace/atk/planted/f'
is "$OUT" "keep
new" "  the link is replaced by the file, its target untouched"
# garbage
head -c 4096 /dev/urandom >"$T_DIR/junk"
put $ID 'path=/workspace/junk' "$T_DIR/junk"
is "$STATUS" 400 "random bytes: 400 ($(jqr .error))"
printf '\037\213garbage' >"$T_DIR/junk.gz"
put $ID 'path=/workspace/junk' "$T_DIR/junk.gz"
is "$STATUS" 400 "a broken gzip: 400 ($(jqr .error))"
head -c 1000 "$T_DIR/in.tar" >"$T_DIR/short.tar"
put $ID 'path=/workspace/short' "$T_DIR/short.tar"
is "$STATUS" 400 "a tar cut short: 400 ($(jqr .error))"

# a bomb: 5 x 40 MiB of zeros (~200 KiB gzipped) into a 16 MiB disk
api POST /sandboxes/arc-small '{"limits":{"diskMb":16}}'
is "$STATUS" 200 "a sandbox with a 16 MiB disk"
ZEROS="
class Z(io.RawIOBase):
    def __init__(s, n): s.n = n
    def readinto(s, b):
        k = min(len(b), s.n); b[:k] = bytes(k); s.n -= k; return k
for n in range(N):
    i = tarfile.TarInfo('zeros%d' % n); i.size = 40 << 20; t.addfile(i, Z(40 << 20))"
mktar "$T_DIR/bomb.tar.gz" "N = 5
$ZEROS"
diag "bomb: $(stat -c %s "$T_DIR/bomb.tar.gz") bytes compressed, 200 MiB inside"
put arc-small 'path=/workspace/b' "$T_DIR/bomb.tar.gz"
is "$STATUS" 507 "the bomb fills the sandbox's own disk: 507 ($(jqr .error))"
run arc-small 'echo still; df -m /workspace | tail -1 | awk "{print \$2 <= 32}"'
is "$OUT" "still
1" "the sandbox still works; its disk is its own 16 MiB"

# more than --max-file-mb (64) unpacked in all, on a disk with room: 413
mktar "$T_DIR/two.tar.gz" "N = 2
$ZEROS"
put $ID 'path=/workspace/cap' "$T_DIR/two.tar.gz"
is "$STATUS" 413 "2 x 40 MiB with --max-file-mb 64: 413 ($(jqr .error))"
run $ID 'du -sm /workspace/cap | cut -f1'
[ "${OUT:-99}" -le 41 ]
ok $? "  the first member only, then it stopped (${OUT} MiB)"

# HEAD of an archive: the headers, no archive made
GOT=$(curl -s -I "${MAXT[@]}" -D "$HDRS" -o /dev/null -w '%{http_code} %{size_download}' "$BASE/sandboxes/$ID/archive?path=/workspace/proj")
is "$GOT:$(hdr Content-Type)" "200 0:application/gzip" "HEAD of an archive: 200, its type, no body"

done_testing
