#!/bin/bash
# Review of issue 17 (PUT /sandboxes/:id/archive, container/archive.c):
#  - a GNU long name ('L') longer than PATH_MAX is cut to 4095 bytes
#    (snprintf into long_name) and the member is extracted under that other
#    name with 200, where a pax path as long is refused: it must be a 400
#    and nothing written;
#  - a hard link member whose link fails (to itself, to a missing target)
#    has already removed the file of its name (make_room before linkat):
#    a refused member destroys a file the archive never replaced;
#  - a pax size that is not a number ("-1", strtoull wraps it to 2^64-1)
#    is taken: on a directory member the skip size+padding wraps to 0 and
#    the member's "data" is parsed as the next header (a parser
#    differential with other tar readers); it must be a 400.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
command -v python3 >/dev/null || skip_all "no python3"
sbd_start --max-file-mb 64

MAXT=(--max-time 120)
put() {
	api PUT "/sandboxes/$1/archive?$2" "" "${MAXT[@]}" -H 'Content-Type: application/octet-stream' \
		--data-binary "@$3"
}
run() {
	api POST "/sandboxes/$1/exec" "$(jq -cn --arg c "$2" '{command: $c, timeout: 60000}')" "${MAXT[@]}"
	OUT=$(jqr .data.stdout)
}
ID=rin
api POST /sandboxes/$ID
is "$STATUS" 200 "create the sandbox"

# --- a GNU long name past PATH_MAX ------------------------------------------
python3 - "$T_DIR/long.tar" <<'PY'
import io, sys, tarfile
t = tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT)
name = "/".join(["d" * 200] * 25) + "/the-file"	# 5033 bytes
i = tarfile.TarInfo(name); i.size = 1; t.addfile(i, io.BytesIO(b"x"))
t.close()
PY
put $ID 'path=/workspace/long' "$T_DIR/long.tar"
is "$STATUS" 400 "a GNU long name of 5033 bytes (> PATH_MAX): 400 ($BODY)"
run $ID 'find /workspace/long -type f 2>/dev/null | wc -l'
is "$OUT" 0 "  no file under another (cut) name"

# --- a refused hard link keeps the file of its name --------------------------
run $ID 'mkdir -p /workspace/hl && echo precious > /workspace/hl/a && echo precious > /workspace/hl/b && echo ok'
is "$OUT" ok "files a and b in /workspace/hl"
python3 - "$T_DIR/self.tar" "$T_DIR/miss.tar" <<'PY'
import sys, tarfile
for out, target in ((sys.argv[1], "a"), (sys.argv[2], "no-such-file")):
    t = tarfile.open(out, "w", format=tarfile.PAX_FORMAT)
    i = tarfile.TarInfo("a" if target == "a" else "b"); i.type = tarfile.LNKTYPE; i.linkname = target
    t.addfile(i)
    t.close()
PY
put $ID 'path=/workspace/hl' "$T_DIR/self.tar"
diag "a hard link a -> a: $STATUS $BODY"
run $ID 'cat /workspace/hl/a 2>&1'
is "$OUT" precious "a hard link member 'a' to itself: the file a is still there"
put $ID 'path=/workspace/hl' "$T_DIR/miss.tar"
is "$STATUS" 400 "a hard link b -> no-such-file: 400"
run $ID 'cat /workspace/hl/b 2>&1'
is "$OUT" precious "  the refused member did not remove the file b"

# --- a pax size that is no number --------------------------------------------
python3 - "$T_DIR/neg.tar" <<'PY'
import io, sys, tarfile
t = tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT)
i = tarfile.TarInfo("dd"); i.type = tarfile.DIRTYPE; i.pax_headers = {"size": "-1"}; t.addfile(i)
i = tarfile.TarInfo("f"); i.size = 1; t.addfile(i, io.BytesIO(b"x"))
t.close()
PY
put $ID 'path=/workspace/neg' "$T_DIR/neg.tar"
is "$STATUS" 400 "a pax size of -1 (on a directory): 400, not taken as 2^64-1 ($BODY)"

# --- a hard link that is made replaces the file of its name ------------------
run $ID 'mkdir -p /workspace/hl2 && echo old > /workspace/hl2/y && echo ok'
python3 - "$T_DIR/link.tar" <<'PY'
import io, sys, tarfile
t = tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT)
i = tarfile.TarInfo("x"); i.size = 4; t.addfile(i, io.BytesIO(b"new\n"))
i = tarfile.TarInfo("y"); i.type = tarfile.LNKTYPE; i.linkname = "x"; t.addfile(i)
t.close()
PY
put $ID 'path=/workspace/hl2' "$T_DIR/link.tar"
is "$STATUS" 200 "a hard link y -> x over a file y: 200 ($BODY)"
run $ID 'cd /workspace/hl2 && cat y && stat -c %h y && ls -A | tr "\n" " "'
is "$OUT" "new
2
x y " "  y is x now (2 links), nothing else left in the directory"

done_testing
