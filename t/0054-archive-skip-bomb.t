#!/bin/bash
# Review of issue 17 (PUT /sandboxes/:id/archive, container/archive.c):
# "more than --max-file-mb unpacked in all is 413" holds for regular
# files only.  The data of any other member (a directory, a link, an
# extension header) is inflated and skipped without being counted
# (extract_one: in_skip(size + padding)), so a gzip bomb made of one
# directory member whose size is 1 GiB of zeros (about 1 MiB compressed)
# is inflated whole and answered 200: a 64 MiB upload inflates 64 GiB,
# holding the worker for as long, where the same bomb as a file stops at
# the cap.  Every member's data counts against the cap.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
command -v python3 >/dev/null || skip_all "no python3"
sbd_start --max-file-mb 64

api POST /sandboxes/skip
is "$STATUS" 200 "create the sandbox"
# a ustar directory member "d/" with a size of 1 GiB, its data zeros, gzipped
python3 - "$T_DIR/dirbomb.tar.gz" <<'PY'
import sys, zlib
size = 1 << 30
h = bytearray(512)
def put(off, s): h[off:off + len(s)] = s
put(0, b"d/")
put(100, b"0000755\0"); put(108, b"0000000\0"); put(116, b"0000000\0")
put(124, b"%011o\0" % size); put(136, b"00000000000\0")
put(156, b"5"); put(257, b"ustar\x0000")
put(148, b"        ")
put(148, b"%06o\0 " % sum(h))
z = zlib.compressobj(9, zlib.DEFLATED, 31)
with open(sys.argv[1], "wb") as f:
    f.write(z.compress(bytes(h)))
    zero = bytes(1 << 20)
    for _ in range(size >> 20):
        f.write(z.compress(zero))
    f.write(z.compress(bytes(1024)))	# the end blocks
    f.write(z.flush())
PY
diag "the bomb: $(stat -c %s "$T_DIR/dirbomb.tar.gz") bytes gzipped, a directory member of 1 GiB"
api PUT '/sandboxes/skip/archive?path=/workspace/bomb' "" --max-time 300 \
	-H 'Content-Type: application/octet-stream' --data-binary "@$T_DIR/dirbomb.tar.gz"
is "$STATUS" 413 "1 GiB of member data with --max-file-mb 64: 413, as for a file ($BODY)"

done_testing
