#!/bin/bash
# Ranged reads and HEAD of a file (issue 17, item 6): Range: bytes=a-b,
# a-, -n answer 206 with Content-Range and exactly those bytes (a Range
# asks for bytes: the raw form, never JSON); past the end 416 with
# Content-Range: bytes */size; a malformed or multi-range header is ignored
# (200, the whole file, as RFC 9110 allows); HEAD answers Content-Length and
# Accept-Ranges without a body; curl resumes a cut download.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
sbd_start

MAXT=(--max-time 60)
HDRS=$T_DIR/headers
A() {
	local m=$1 p=$2 d=${3-}
	shift $(($# >= 3 ? 3 : 2))
	api "$m" "$p" "$d" -D "$HDRS" "${MAXT[@]}" "$@"
}
hdr() {
	tr -d '\r' <"$HDRS" | awk -v n="$(printf '%s' "$1" | tr 'A-Z' 'a-z')" \
		'{ k = tolower(substr($0, 1, index($0, ":") - 1)) } k == n { sub(/^[^:]*:[ \t]*/, ""); print; exit }'
}

ID=ranged
F=/sandboxes/$ID/files
A POST /sandboxes/$ID
is "$STATUS" 200 "create the sandbox"
# 0123456789abcdefghij (20 bytes)
A PUT $F/workspace/r.txt "" -H 'Content-Type: application/octet-stream' --data-binary '0123456789abcdefghij'
is "$STATUS" 200 "write a 20-byte file"

A GET "$F/workspace/r.txt?raw=1" "" -H 'Range: bytes=2-5'
is "$STATUS:$BODY" "206:2345" "bytes=2-5: 206 and bytes 2..5"
is "$(hdr Content-Range)" "bytes 2-5/20" "Content-Range: bytes 2-5/20"
is "$(hdr Content-Length)" 4 "Content-Length 4"
A GET "$F/workspace/r.txt" "" -H 'Range: bytes=15-'
is "$STATUS:$BODY" "206:fghij" "bytes=15- without ?raw: 206 and the raw tail (a Range asks for bytes)"
is "$(hdr Content-Range)" "bytes 15-19/20" "Content-Range: bytes 15-19/20"
A GET "$F/workspace/r.txt?raw=1" "" -H 'Range: bytes=-3'
is "$STATUS:$BODY" "206:hij" "bytes=-3: the last 3 bytes"
is "$(hdr Content-Range)" "bytes 17-19/20" "Content-Range: bytes 17-19/20"
A GET "$F/workspace/r.txt?raw=1" "" -H 'Range: bytes=10-1000'
is "$STATUS:$BODY" "206:abcdefghij" "a last byte past the end is cut at the end"
is "$(hdr Content-Range)" "bytes 10-19/20" "Content-Range: bytes 10-19/20"
A GET "$F/workspace/r.txt?raw=1" "" -H 'Range: bytes=-100'
is "$STATUS:$BODY" "206:0123456789abcdefghij" "a suffix longer than the file is the whole file"
A GET "$F/workspace/r.txt?raw=1" "" -H 'Range: bytes=20-'
is "$STATUS" 416 "bytes=20- of a 20-byte file: 416"
is "$(hdr Content-Range)" "bytes */20" "with Content-Range: bytes */20"
A GET "$F/workspace/r.txt?raw=1" "" -H 'Range: bytes=-0'
is "$STATUS" 416 "bytes=-0: 416"
for r in 'bytes=5-2' 'bytes=abc' 'items=0-3' 'bytes=0-1,4-5' 'bytes=--1' 'bytes=99999999999999999999999-'; do
	A GET "$F/workspace/r.txt?raw=1" "" -H "Range: $r"
	is "$STATUS:$BODY" "200:0123456789abcdefghij" "Range: $r is ignored: 200, the whole file"
done
A GET "$F/workspace/r.txt?raw=1"
is "$(hdr Accept-Ranges)" bytes "a raw GET says Accept-Ranges: bytes"
A GET "$F/workspace/nope.txt" "" -H 'Range: bytes=0-1'
is "$STATUS" 404 "a Range of a missing file: 404"
A GET "$F/workspace" "" -H 'Range: bytes=0-1'
is "$STATUS" 400 "a Range of a directory: 400 (not a file)"

# HEAD
GOT=$(curl -s -I "${MAXT[@]}" -D "$HDRS" -o /dev/null -w '%{http_code} %{size_download}' "$BASE$F/workspace/r.txt")
is "${GOT% *}" 200 "HEAD of the file: 200"
is "$(hdr Content-Length)" 20 "HEAD: Content-Length 20, the file's size"
is "$(hdr Accept-Ranges)" bytes "HEAD: Accept-Ranges: bytes"
is "${GOT#* }" 0 "HEAD: no body"
STATUS=$(curl -s -I "${MAXT[@]}" -o /dev/null -w '%{http_code}' "$BASE$F/workspace/nope.txt")
is "$STATUS" 404 "HEAD of a missing file: 404"

# a large file: a range deep inside, and a resumed download
exec_in $ID 'head -c 3000000 /dev/urandom > /workspace/big.bin && sha256sum /workspace/big.bin | cut -d" " -f1'
WANT=$(jqr .data.stdout | tr -d '\n')
curl -s "${MAXT[@]}" -o "$T_DIR/part" -r 0-999999 "$BASE$F/workspace/big.bin?raw=1"
is "$(stat -c %s "$T_DIR/part")" 1000000 "the first 1000000 bytes"
curl -s "${MAXT[@]}" -o "$T_DIR/part" -C - "$BASE$F/workspace/big.bin?raw=1"
is "$(sha256sum <"$T_DIR/part" | cut -d' ' -f1)" "$WANT" "curl -C - resumes it: the whole file, byte for byte"
curl -s "${MAXT[@]}" -o "$T_DIR/mid" -r 2999990-2999999 "$BASE$F/workspace/big.bin?raw=1"
exec_in $ID 'tail -c 10 /workspace/big.bin | od -An -tx1'
is "$(od -An -tx1 <"$T_DIR/mid")" "$(jqr .data.stdout)" "the last 10 bytes by range equal tail -c 10"

done_testing
