#!/bin/bash
# The files API: read, write, delete, ls, mkdir, rename in the seed's shapes;
# 404/400/409 answers and bad input; binary files through base64 JSON and
# raw bytes, a 100 MiB streamed upload with the workers' memory bounded;
# symlink attacks planted by the sandbox (links to /, /etc, /proc/1/root, to
# host paths, a parent directory swapped for a link) and a renameat2
# RENAME_EXCHANGE race during 10,000 API operations: every operation fails
# or acts inside the sandbox, host canaries stay untouched.
# Deterministic: bounded polls for conditions, no sleeps as synchronisation.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
sbd_start

MAXT=(--max-time 60)	# no request of ours may hang the test
TAG=t$$r$RANDOM$RANDOM	# in the name of every file an attack tries to create
HDRS=$T_DIR/headers

# A METHOD PATH [JSON] [curl options...]: api, bounded in time, headers kept.
A() {
	local m=$1 p=$2 d=${3-}
	shift $(($# >= 3 ? 3 : 2))
	api "$m" "$p" "$d" -D "$HDRS" "${MAXT[@]}" "$@"
}
# hdr NAME: a header of the last answer.
hdr() {
	tr -d '\r' <"$HDRS" | awk -v n="$(printf '%s' "$1" | tr 'A-Z' 'a-z')" \
		'{ k = tolower(substr($0, 1, index($0, ":") - 1)) } k == n { sub(/^[^:]*:[ \t]*/, ""); print; exit }'
}
# run ID COMMAND: exec; sets STATUS BODY OUT ERR RC.
run() {
	api POST "/sandboxes/$1/exec" "$(jq -cn --arg c "$2" '{command: $c, timeout: 60000}')" "${MAXT[@]}"
	OUT=$(jqr .data.stdout)
	ERR=$(jqr .data.stderr)
	RC=$(jqr .data.exitCode)
}
# is_json_error STATUS DESCRIPTION: that status and the JSON error envelope.
is_json_error() {
	local want=$1; shift
	is "$STATUS" "$want" "$* -> $want"
	[ "$(jqr '(keys == ["error","success"]) and .success == false and (.error | type == "string" and length > 0)')" = true ]
	ok $? "$* -> a JSON error envelope" || diag "body: $(printf '%s' "$BODY" | head -c 300)"
}
# same_json GOT WANT DESCRIPTION: equal as JSON values.
same_json() {
	is "$(printf '%s' "$1" | jq -cS . 2>/dev/null)" "$(printf '%s' "$2" | jq -cS .)" "$3"
}
# the largest VmHWM (peak RSS) of the workers, in kB
workers_hwm() {
	local p max=0 v
	for p in $(sbd_workers); do
		v=$(awk '/^VmHWM:/{print $2}' "/proc/$p/status" 2>/dev/null)
		[ "${v:-0}" -gt "$max" ] && max=$v
	done
	echo "$max"
}
sha() { sha256sum | cut -d' ' -f1; }
jqc() { printf '%s' "$BODY" | jq -c "$1" 2>/dev/null; }

ID=files
F=/sandboxes/$ID/files
A POST /sandboxes/$ID
is "$STATUS" 200 "create the sandbox $ID"
INIT=$(init_of $ID)

# === 1. the seed's shapes ==================================================

A PUT $F/workspace/hello.txt '{"content":"Hello, World!\n"}'
is "$STATUS" 200 "PUT {content} answers 200"
same_json "$BODY" '{"success":true,"data":{"path":"/workspace/hello.txt","message":"File written successfully","size":14,"mode":420}}' \
	"PUT answers exactly {path, message, size, mode}"
A GET $F/workspace/hello.txt
is "$STATUS" 200 "GET of the file answers 200"
same_json "$BODY" '{"success":true,"data":{"path":"/workspace/hello.txt","content":"Hello, World!\n","encoding":"utf-8","size":14,"isBinary":false,"mimeType":"text/plain"}}' \
	"GET gives back exactly {path, content, encoding, size, isBinary, mimeType}"
is "$(hdr Content-Type)" application/json "served as application/json"
run $ID 'cat /workspace/hello.txt | od -An -c | tr -s " "'
is "$OUT" " H e l l o , W o r l d ! \n" "inside, the file holds exactly the content"
A GET "$F/workspace/hello.txt?encoding=base64"
same_json "$(jqc '.data | {content, encoding, isBinary, size}')" \
	"{\"content\":\"$(printf 'Hello, World!\n' | base64 -w0)\",\"encoding\":\"base64\",\"isBinary\":false,\"size\":14}" \
	"?encoding=base64 forces base64 of a text file (isBinary stays false)"
A GET "$F/workspace/hello.txt?raw=1"
is "$STATUS:$BODY" "200:Hello, World!" "?raw=1 gives the raw bytes"
is "$(hdr Content-Length)" 14 "with Content-Length 14"
A GET "$F/workspace/hello.txt" "" -H 'Accept: application/octet-stream'
is "$STATUS:$BODY" "200:Hello, World!" "Accept: application/octet-stream gives the raw bytes"
# only the media type application/octet-stream streams the bytes (with
# parameters too); another type that merely starts so is a JSON body
A PUT $F/workspace/ct.txt "" -H 'Content-Type: application/octet-streams' --data-binary '{"content":"from JSON"}'
A GET "$F/workspace/ct.txt?raw=1"
is "$STATUS:$BODY" "200:from JSON" "Content-Type application/octet-streams: a JSON body, not the file's bytes"
A PUT $F/workspace/ct.txt "" -H 'Content-Type: application/octet-stream; charset=binary' --data-binary 'raw; bytes'
A GET "$F/workspace/ct.txt?raw=1"
is "$STATUS:$BODY" "200:raw; bytes" "Content-Type application/octet-stream; charset=binary: the file's bytes"
A DELETE $F/workspace/ct.txt
is "$STATUS" 200 "and the file goes again"

A PUT $F/workspace/data.json '{"content":"{\"a\":1}"}'
A GET $F/workspace/data.json
is "$(jqr '.data.mimeType')" application/json "mimeType of a .json file is application/json"

# mode, ownership
A PUT $F/workspace/bin/hi.sh '{"content":"#!/bin/sh\necho hi from script\n","mode":493}'
is "$STATUS" 200 "PUT with mode 493 (0755) and a new parent directory answers 200"
is "$(jqr .data.mode)" 493 "the answer's mode is 493"
run $ID 'stat -c "%u:%g %a" /workspace/bin /workspace/bin/hi.sh; /workspace/bin/hi.sh'
is "$OUT" "0:0 755
0:0 755
hi from script" "inside: the parent was created, both owned by the sandbox's root 0:0, the file 0755, and it runs"
A PUT $F/workspace/bin/hi.sh '{"content":"#!/bin/sh\necho replaced\n"}'
is "$(jqr .data.mode)" 493 "rewriting without mode keeps the file's mode (493)"
A PUT $F/workspace/bin/hi.sh '{"content":"x","mode":384}'
run $ID 'stat -c "%u:%g %a %s" /workspace/bin/hi.sh'
is "$OUT" "0:0 600 1" "mode 384 gives 0600 inside"
A PUT $F/workspace/bin/hi.sh '{"content":"x","mode":0}'
is "$STATUS:$(jqr .data.mode)" "200:0" "mode 0 is accepted (a file of mode 000)"

# ls
A PUT $F/workspace/.hidden '{"content":"dot"}'
run $ID 'ln -s hello.txt /workspace/link && mkdir -p /workspace/tree/a/b && echo x > /workspace/tree/a/b/leaf'
A GET "/sandboxes/$ID/ls?path=/workspace"
is "$STATUS" 200 "ls of /workspace answers 200"
is "$(jqc '.data | keys')" '["entries","listing","path","truncated"]' "ls answers {path, listing, entries, truncated}"
is "$(jqr .data.path)" /workspace "ls path is /workspace"
like "$(jqr .data.listing)" '^total [0-9]+' "the listing starts with 'total '"
like "$(jqr .data.listing)" '^-rw-r--r-- 1 root root 14 [A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2} hello\.txt$' \
	"the listing has an ls -la line for hello.txt"
like "$(jqr .data.listing)" 'lrwxrwxrwx 1 root root [0-9]+ .* link -> hello\.txt' "and one for the symlink, with its target"
same_json "$(jqc '.data.entries[] | select(.name == "hello.txt") | del(.mtime)')" \
	'{"name":"hello.txt","type":"file","size":14,"mode":420,"nlink":1,"user":"root","group":"root"}' \
	"the entry of hello.txt: {name, type, size, mode, nlink, user, group}"
like "$(jqr '.data.entries[] | select(.name == "hello.txt") | .mtime')" '^1[0-9]{12}$' "its mtime is in milliseconds"
same_json "$(jqc '.data.entries[] | select(.name == "link") | {type, target}')" '{"type":"symlink","target":"hello.txt"}' \
	"the symlink entry has type symlink and its target"
is "$(jqr '.data.entries[] | select(.name == "tree") | .type')" directory "a directory entry has type directory"
is "$(jqr '[.data.entries[].name] | sort | join(" ")')" ".hidden bin data.json hello.txt link tree" "ls shows the dot files by default"
is "$(jqr .data.truncated)" false "truncated is false"
A GET "/sandboxes/$ID/ls?path=/workspace&hidden=0"
is "$(jqr '[.data.entries[].name] | sort | join(" ")')" "bin data.json hello.txt link tree" "hidden=0 leaves out the dot files"
A GET "/sandboxes/$ID/ls?path=tree&recursive=1"
is "$STATUS:$(jqr .data.path)" "200:/workspace/tree" "ls of a relative path is relative to /workspace"
is "$(jqr '[.data.entries[].name] | sort | join(" ")')" "a a/b a/b/leaf" "recursive=1 lists the whole tree"
A GET "/sandboxes/$ID/ls"
is "$STATUS:$(jqr .data.path)" "200:/workspace" "ls without path lists /workspace"

# mkdir, rename, delete
A POST /sandboxes/$ID/mkdir '{"path":"sub/dir","recursive":true}'
is "$STATUS" 200 "mkdir {path: sub/dir, recursive: true} answers 200"
same_json "$(jqc .data)" '{"path":"/workspace/sub/dir","message":"Directory created successfully"}' "mkdir answers {path, message}"
run $ID 'stat -c "%F %u:%g %a" /workspace/sub/dir'
is "$OUT" "directory 0:0 755" "inside: a directory 0755 owned by root"
A POST /sandboxes/$ID/mkdir '{"path":"sub/dir"}'
is_json_error 409 "mkdir of an existing directory without recursive"
A POST /sandboxes/$ID/mkdir '{"path":"sub/dir","recursive":true}'
is "$STATUS" 200 "mkdir of an existing directory with recursive answers 200"
A POST /sandboxes/$ID/mkdir '{"path":"/workspace/nope/deeper"}'
is_json_error 404 "mkdir without recursive under a missing parent"
A POST /sandboxes/$ID/mkdir '{"path":"/workspace/hello.txt","recursive":true}'
is_json_error 409 "mkdir -p over a file"

A POST /sandboxes/$ID/rename '{"from":"hello.txt","to":"sub/dir/hello2.txt"}'
is "$STATUS" 200 "rename answers 200"
same_json "$(jqc .data)" '{"from":"/workspace/hello.txt","to":"/workspace/sub/dir/hello2.txt","message":"Renamed successfully"}' \
	"rename answers {from, to, message}"
A GET $F/workspace/hello.txt
is_json_error 404 "the old name is gone"
A GET $F/workspace/sub/dir/hello2.txt
is "$STATUS:$(jqr .data.content)" "200:Hello, World!" "the new name has the content"
A POST /sandboxes/$ID/rename '{"from":"/workspace/missing","to":"/workspace/x"}'
is_json_error 404 "rename of a missing file"

A DELETE $F/workspace/sub/dir/hello2.txt
is "$STATUS" 200 "DELETE of a file answers 200"
is "$(jqc '.data | keys')" '["message","path"]' "DELETE answers {path, message}"
is "$(jqr .data.path)" /workspace/sub/dir/hello2.txt "with the path"
A GET $F/workspace/sub/dir/hello2.txt
is_json_error 404 "GET after DELETE"
A DELETE $F/workspace/sub/dir/hello2.txt
is_json_error 404 "DELETE of a missing file"
A PUT $F/workspace/sub/dir/f '{"content":"f"}'
A DELETE $F/workspace/sub
is_json_error 409 "DELETE of a non-empty directory without recursive"
A DELETE "$F/workspace/sub?recursive=1"
is "$STATUS" 200 "DELETE ?recursive=1 of a tree answers 200"
run $ID 'test -e /workspace/sub; echo $?'
is "$OUT" 1 "inside, the tree is gone"

# 404 / 400 / 409
A GET $F/workspace/no-such-file
is_json_error 404 "GET of a missing file"
A GET $F/no/such/dir/file
is_json_error 404 "GET under a missing directory"
A GET $F/workspace
is_json_error 400 "GET of a directory"
A GET "$F/workspace/tree?raw=1"
is_json_error 400 "GET ?raw=1 of a directory"
A GET $F/dev/null
is_json_error 400 "GET of a device (/dev/null)"
run $ID 'mkfifo /workspace/fifo && stat -c %F /workspace/fifo'
is "$OUT" fifo "a FIFO made with mkfifo inside"
for w in 1 2 3 4; do
	A GET $F/workspace/fifo "" --max-time 20
	is_json_error 400 "GET of the FIFO (#$w)"
done
A GET "$F/workspace/fifo?raw=1" "" --max-time 20
is_json_error 400 "GET ?raw=1 of the FIFO"
A PUT $F/workspace/fifo '{"content":"x"}' --max-time 20
is_json_error 400 "PUT onto the FIFO"
N200=0
for _ in $(seq 1 9); do
	A GET $F/workspace/data.json "" --max-time 10
	[ "$STATUS" = 200 ] && N200=$((N200 + 1))
done
is "$N200" 9 "after the FIFO reads every worker still answers (9 GETs in 10 s each)"
run $ID 'ps -e -o pid=,ppid=,stat=,comm= | awk -v me=$$ '"'"'$1 != 1 && $1 != me && $2 != me'"'"''
is "$OUT" "" "and no file operation child is left in the sandbox (nothing but the init and this exec)"
A PUT $F/workspace/tree '{"content":"x"}'
is_json_error 400 "PUT onto a directory path"
A PUT $F/workspace/ '{"content":"x"}'
like "$STATUS" '^4[0-9][0-9]$' "PUT onto /workspace/ is refused ($STATUS)"
A PUT $F/workspace/data.json/below '{"content":"x"}'
like "$STATUS" '^4[0-9][0-9]$' "PUT below a regular file (data.json/below) is refused ($STATUS)"

# bad input
A PUT $F/workspace/bad '{}'
is_json_error 400 "PUT without content"
A PUT $F/workspace/bad '{"content":123}'
is_json_error 400 "PUT with content a number"
A PUT $F/workspace/bad '{"content":null}'
is_json_error 400 "PUT with content null"
A PUT $F/workspace/bad '{"content":["a"]}'
is_json_error 400 "PUT with content an array"
A PUT $F/workspace/bad '{"content":"!!!not base64!!!","encoding":"base64"}'
is_json_error 400 "PUT with bad base64"
A PUT $F/workspace/bad '{"content":"A","encoding":"base64"}'
is_json_error 400 "PUT with base64 of a single character (A)"
A PUT $F/workspace/bad '{"content":"QU=JD","encoding":"base64"}'
is_json_error 400 "PUT with base64 data after its padding (QU=JD)"
A PUT $F/workspace/bad '{"content":"x","encoding":"latin1"}'
is_json_error 400 "PUT with encoding latin1"
A PUT $F/workspace/bad '{"content":"x","encoding":7}'
is_json_error 400 "PUT with encoding a number"
A PUT $F/workspace/bad '{"content":"x","mode":4096}'
is_json_error 400 "PUT with mode 4096 (out of range)"
A PUT $F/workspace/bad '{"content":"x","mode":-1}'
is_json_error 400 "PUT with mode -1"
A PUT $F/workspace/bad '{"content":"x","mode":"493"}'
is_json_error 400 "PUT with mode a string"
A PUT $F/workspace/bad '{"content":"x","mode":4.5}'
is_json_error 400 "PUT with mode a fraction"
A PUT $F/workspace/bad '{"content":"x","mode":99999999999999999999}'
is_json_error 400 "PUT with a huge mode"
A PUT $F/workspace/bad 'not json'
is_json_error 400 "PUT with a body that is not JSON"
A GET "$F/workspace/data.json?encoding=latin1"
is_json_error 400 "GET ?encoding=latin1"
A GET "$F/workspace/a%00b"
is_json_error 400 "GET of a path with %00"
A PUT "$F/workspace/a%00b" '{"content":"x"}'
is_json_error 400 "PUT of a path with %00"
A DELETE "$F/workspace/a%00b"
is_json_error 400 "DELETE of a path with %00"
A POST /sandboxes/$ID/mkdir '{"path":"a\u0000b"}'
is_json_error 400 "mkdir of a path with a NUL"
A GET "/sandboxes/$ID/ls?path=/work%00space"
is_json_error 400 "ls of a path with %00 (/work%00space)"
A GET "/sandboxes/$ID/ls?path=/$(printf 'a%.0s' $(seq 1 5000))"
like "$STATUS" '^4[0-9][0-9]$' "ls of a 5001-byte path is refused ($STATUS), not a listing of $(jqr .data.path)"
A POST /sandboxes/$ID/mkdir '{}'
is_json_error 400 "mkdir without path"
A POST /sandboxes/$ID/mkdir '{"path":""}'
is_json_error 400 "mkdir with an empty path"
A POST /sandboxes/$ID/mkdir '{"path":"x","recursive":"yes"}'
is_json_error 400 "mkdir with recursive a string"
A POST /sandboxes/$ID/rename '{"from":"data.json"}'
is_json_error 400 "rename without 'to'"
A POST /sandboxes/$ID/rename '{"to":"x"}'
is_json_error 400 "rename without 'from'"
A POST /sandboxes/$ID/rename '{"from":"data.json","to":5}'
is_json_error 400 "rename with 'to' a number"
A POST /sandboxes/$ID/rename '{"from":"data.json","to":"a\u0000b"}'
is_json_error 400 "rename with a NUL in 'to'"
A GET "/sandboxes/$ID/files/"
like "$STATUS" '^4[0-9][0-9]$' "GET /files/ without a path is refused ($STATUS)"
run $ID 'ls -A /workspace | sort | tr "\n" " "'
is "$OUT" ".hidden bin data.json fifo link tree " "the bad requests created nothing (no 'bad', no 'x', no temporary file)"
A GET $F/workspace/data.json
is "$STATUS:$(jqr .data.content)" '200:{"a":1}' "data.json is unchanged and readable"

# === 2. binary files, big files, memory ====================================

# a 100 MiB raw upload first, before any large JSON body: the workers' peak
# RSS (VmHWM never goes down) is then the figure of this upload
HWM0=$(workers_hwm)
diag "workers' VmHWM before the 100 MiB upload: $HWM0 kB"
BIG=$T_DIR/zero100
truncate -s 100M "$BIG"	# sparse: nothing of it in memory or on disk
ZSHA=$(head -c 104857600 /dev/zero | sha)
A PUT $F/workspace/big.bin "" -H 'Content-Type: application/octet-stream' -T "$BIG" --max-time 120
BIGST=$STATUS
is "$STATUS" 200 "a 100 MiB raw upload (streamed from a sparse file) answers 200"
is "$(jqr .data.size)" 104857600 "its size is 104857600"
[ "$STATUS" = 200 ] || diag "body: $(printf '%s' "$BODY" | head -c 300)"
run $ID 'stat -c "%s %u:%g" /workspace/big.bin; sha256sum /workspace/big.bin | cut -d" " -f1'
is "$OUT" "104857600 0:0
$ZSHA" "inside: 100 MiB owned by 0:0 with the SHA-256 of 100 MiB of zeros"
GSHA=$(curl -s --max-time 120 -D "$HDRS" "$BASE$F/workspace/big.bin?raw=1" | sha)
is "$GSHA" "$ZSHA" "GET ?raw=1 streams the 100 MiB back with the same SHA-256"
is "$(hdr Content-Length)" 104857600 "with Content-Length 104857600"
A GET $F/workspace/big.bin
is_json_error 413 "GET of the 100 MiB file as JSON (over 32 MiB)"
HWM=$(workers_hwm)
diag "workers' max VmHWM after the 100 MiB upload and download: $HWM kB ($((HWM / 1024)) MiB)"
ok $([ "$BIGST" = 200 ] && [ "$HWM" -gt 0 ] && [ "$HWM" -lt 65536 ]; echo $?) \
	"the workers' peak RSS stays below 64 MiB through the 100 MiB upload ($HWM kB)" ||
	diag "the 100 MiB upload answered $BIGST: it never reached the workers, nothing was measured"

# 10 MiB of random bytes: base64 JSON and raw
RND=$T_DIR/rand10
head -c 10485760 /dev/urandom >"$RND"
RSHA=$(sha <"$RND")
jq -cn --rawfile c <(base64 -w0 "$RND") '{content: $c, encoding: "base64"}' >"$T_DIR/rand10.json"
A PUT $F/workspace/rand-b64.bin "@$T_DIR/rand10.json"
is "$STATUS" 200 "PUT of 10 MiB of random bytes as base64 JSON answers 200"
is "$(jqr .data.size)" 10485760 "size 10485760"
curl -s --max-time 60 -o "$T_DIR/rand-b64.out" "$BASE$F/workspace/rand-b64.bin"
BODY=$(jq -c 'del(.data.content)' "$T_DIR/rand-b64.out")
same_json "$BODY" '{"success":true,"data":{"path":"/workspace/rand-b64.bin","encoding":"base64","size":10485760,"isBinary":true,"mimeType":"application/octet-stream"}}' \
	"GET as JSON: encoding base64, isBinary true, application/octet-stream"
is "$(jq -r .data.content "$T_DIR/rand-b64.out" | base64 -d | sha)" "$RSHA" "GET JSON content, base64-decoded, has the same SHA-256"
rm -f "$T_DIR/rand-b64.out" "$T_DIR/rand10.json"
A PUT $F/workspace/rand-raw.bin "" -H 'Content-Type: application/octet-stream' -T "$RND"
is "$STATUS:$(jqr .data.size)" "200:10485760" "PUT of the 10 MiB as raw octet-stream answers 200 with size 10485760"
is "$(curl -s --max-time 60 -D "$HDRS" "$BASE$F/workspace/rand-raw.bin?raw=1" | sha)" "$RSHA" "GET ?raw=1 has the same SHA-256"
is "$(hdr Content-Length)" 10485760 "with Content-Length 10485760"
is "$(curl -s --max-time 60 -H 'Accept: application/octet-stream' "$BASE$F/workspace/rand-b64.bin" | sha)" "$RSHA" \
	"GET with Accept: application/octet-stream of the base64-written file has the same SHA-256"
run $ID 'cd /workspace && sha256sum rand-b64.bin rand-raw.bin | cut -d" " -f1; stat -c "%u:%g %a" rand-b64.bin rand-raw.bin'
is "$OUT" "$RSHA
$RSHA
0:0 644
0:0 644" "inside: sha256sum agrees for both, both owned by 0:0, mode 0644"
# the host's view of the owner: the sandbox's root's host uid, as a file made by exec
run $ID 'touch /workspace/by-exec'
HOST_UID=$(awk '/^Uid:/{print $2}' "/proc/$INIT/status" 2>/dev/null)
is "$(stat -c %u "/proc/$INIT/root/workspace/rand-raw.bin" 2>/dev/null)" "$(stat -c %u "/proc/$INIT/root/workspace/by-exec" 2>/dev/null)" \
	"on the host, an API-written file has the same owner as a file made by exec ($HOST_UID)"
ok $([ -n "$HOST_UID" ] && [ "$HOST_UID" -ge "$UID_BASE" ] && \
	[ "$(stat -c %u "/proc/$INIT/root/workspace/rand-raw.bin" 2>/dev/null)" = "$HOST_UID" ]; echo $?) \
	"that is the init's unprivileged host uid, not the host's root"
HWM2=$(workers_hwm)
diag "workers' max VmHWM after the 10 MiB base64 JSON round trip: $HWM2 kB"

# === 3. symlink attacks ====================================================

AID=attack
AF=/sandboxes/$AID/files
A POST /sandboxes/$AID
is "$STATUS" 200 "create the sandbox $AID"
AINIT=$(init_of $AID)

# host canaries: known content and mtime
CANARY=$T_DIR/canary
CDIR=$T_DIR/canary-dir
echo "host canary $TAG" >"$CANARY"
mkdir "$CDIR"
echo "keep $TAG" >"$CDIR/keep"
touch -d '2001-02-03 04:05:06' "$CANARY" "$CDIR/keep" "$CDIR"
canary_state() {
	stat -c '%n %s %Y %a %u' "$CANARY" "$CDIR" "$CDIR/keep"
	sha256sum "$CANARY" "$CDIR/keep"
	ls -A "$CDIR"
}
CANARY_BEFORE=$(canary_state)
ok $([ -n "$CANARY_BEFORE" ]; echo $?) "host canaries planted under $T_DIR"

run $AID "cd /workspace && echo secret-inside > secret && mkdir -p d/sub && echo in-d > d/sub/f &&
mv d d.real && ln -s / d && ln -s / l-root && ln -s /etc l-etc && ln -s /proc/1/root l-proc1 &&
ln -s /proc/self/root l-self && ln -s ../../../../../../../.. l-up &&
ln -s '$CANARY' l-canary && ln -s '$CDIR' l-cdir && ln -s '$T_DIR' l-tdir && ln -s '$DATA' l-data &&
echo marker-$TAG > /marker-$TAG && echo planted"
is "$OUT" planted "inside: links to /, /etc, /proc/1/root, /proc/self/root, ../.., the host's canary paths; d swapped for a link to /"

# /proc/1/root inside is the sandbox's root
# inside, /proc/1/root is the sandbox's root, or closed (the init is not dumpable)
run $AID "readlink -v /proc/1/root 2>&1; cat /proc/1/root/marker-$TAG 2>&1; ls -A /proc/1/root/ 2>&1 | head -n 1"
diag "inside: $(printf '%s' "$OUT" | tr '\n' '|')"
ok $( { [ "$(printf '%s\n' "$OUT" | head -n 2)" = "/
marker-$TAG" ] || [ "$(printf '%s\n' "$OUT" | grep -c 'Permission denied')" = 3 ]; } && \
	! printf '%s' "$OUT" | grep -qx -e work -e farm -e old_root; echo $?) \
	"inside, /proc/1/root is the sandbox's own root (its marker) or not accessible at all"
is "$(cat "/proc/$AINIT/root/marker-$TAG" 2>/dev/null)" "marker-$TAG" "on the host, the marker is in the init's root (/proc/$AINIT/root)"
ok $([ ! -e "/marker-$TAG" ]; echo $?) "and not in the host's /"

# read_same PATH: the API reads what the sandbox itself sees there, or fails
read_same() {
	local p=$1 inside
	run $AID "base64 -w0 < '$p' 2>/dev/null && echo && echo READ-OK"
	A GET "$AF$p?encoding=base64"
	if [ "$(printf '%s\n' "$OUT" | tail -n 1)" = READ-OK ]; then
		inside=$(printf '%s\n' "$OUT" | head -n 1)
		is "$STATUS:$(jqr .data.content)" "200:$inside" "read $p: the sandbox's own file"
	else
		like "$STATUS" '^4[0-9][0-9]$' "read $p: fails ($STATUS) as it does inside"
	fi
	isnt "$(jqr .data.content | base64 -d 2>/dev/null | head -c 200)" "host canary $TAG" "read $p: not the host canary"
}
for p in /workspace/l-etc/passwd /workspace/l-root/etc/passwd /workspace/l-proc1/etc/passwd \
	/workspace/l-self/etc/passwd /workspace/l-up/etc/passwd /workspace/d/etc/passwd \
	/workspace/d/workspace/secret /workspace/l-proc1/workspace/secret /workspace/l-proc1/marker-$TAG \
	/proc/1/root/marker-$TAG /workspace/l-canary /workspace/l-cdir/keep /workspace/l-tdir/canary \
	"$CANARY" /workspace/l-data/sandboxd.pid /workspace/l-root/proc/1/root/etc/passwd; do
	read_same "$p"
done
A GET "$AF/workspace/l-etc/shadow?encoding=base64"
isnt "$(jqr .data.content | base64 -d 2>/dev/null)" "$(cat /etc/shadow)" "read l-etc/shadow: never the host's /etc/shadow ($STATUS)"
A GET "$AF/workspace/l-etc/hostname"
isnt "$(jqr .data.content)" "$(cat /etc/hostname)" "read l-etc/hostname: not the host's hostname ($STATUS)"

# ls_same PATH: the API lists what the sandbox sees there, or fails
ls_same() {
	local p=$1
	run $AID "ls -A '$p/' 2>/dev/null && echo LS-OK"
	A GET "/sandboxes/$AID/ls?path=$p"
	if [ "$(printf '%s\n' "$OUT" | tail -n 1)" = LS-OK ]; then
		is "$STATUS:$(jqr '[.data.entries[].name] | sort | join(" ")')" \
			"200:$(printf '%s\n' "$OUT" | sed '$d' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')" \
			"ls $p: the sandbox's own directory"
	else
		like "$STATUS" '^4[0-9][0-9]$' "ls $p: fails ($STATUS) as it does inside"
	fi
}
for p in /workspace/l-root /workspace/l-etc /workspace/l-proc1 /workspace/l-self /workspace/l-up \
	/workspace/d /workspace/l-cdir /workspace/l-tdir /workspace/l-data /proc/1/root "$T_DIR"; do
	ls_same "$p"
done
A GET "/sandboxes/$AID/ls?path=/workspace&recursive=1"
is "$STATUS" 200 "recursive ls of /workspace answers 200"
is "$(jqr '[.data.entries[].name | select(test("^(d|l-[a-z0-9]+)/"))] | length')" 0 \
	"and does not descend into any symlink (no d/..., l-root/... entries)"
is "$(jqr '.data.entries | length')" 14 "it lists exactly the 14 entries of /workspace (d.real, d.real/sub, d.real/sub/f, secret, 10 links)"

# write_same API_PATH INSIDE_PATH: a write lands where the sandbox sees it, or fails
write_same() {
	local p=$1 inside=$2 c="written through $1 $TAG"
	A PUT "$AF$p" "$(jq -cn --arg c "$c" '{content: $c}')"
	if [ "$STATUS" = 200 ]; then
		run $AID "cat '$inside'"
		is "$OUT" "$c" "write $p: 200, and inside it is $inside"
	else
		like "$STATUS" '^4[0-9][0-9]$' "write $p: refused ($STATUS)"
	fi
}
write_same /workspace/l-root/pwned-$TAG /pwned-$TAG
write_same /workspace/l-etc/pwned-$TAG /etc/pwned-$TAG
write_same /workspace/l-proc1/pwned-p1-$TAG /pwned-p1-$TAG
write_same /workspace/l-self/pwned-s-$TAG /pwned-s-$TAG
write_same /workspace/l-up/pwned-u-$TAG /pwned-u-$TAG
write_same /workspace/d/pwned-d-$TAG /pwned-d-$TAG
write_same /workspace/d/new-$TAG/deep/pwned-dd-$TAG /new-$TAG/deep/pwned-dd-$TAG
write_same /workspace/l-canary /workspace/l-canary
write_same /workspace/l-cdir/pwned-c-$TAG /workspace/l-cdir/pwned-c-$TAG
write_same /workspace/l-cdir/keep /workspace/l-cdir/keep
write_same /workspace/l-tdir/canary /workspace/l-tdir/canary
write_same /workspace/l-tdir/canary-dir/pwned-t-$TAG /workspace/l-tdir/canary-dir/pwned-t-$TAG
write_same "$CANARY" "$CANARY"
write_same "$CDIR/pwned-h-$TAG" "$CDIR/pwned-h-$TAG"
write_same /workspace/l-data/pwned-data-$TAG /workspace/l-data/pwned-data-$TAG
A PUT "$AF/workspace/l-root/pwned-raw-$TAG" "" -H 'Content-Type: application/octet-stream' --data-binary "raw $TAG"
run $AID "cat /pwned-raw-$TAG"
is "$STATUS:$OUT" "200:raw $TAG" "a raw write through the link to / lands in the sandbox's /"
ok $(! compgen -G "/*$TAG*" >/dev/null && ! compgen -G "/etc/*$TAG*" >/dev/null; echo $?) \
	"on the host, no file with the tag in / or /etc"

# mkdir_same PATH_JSON INSIDE
mkdir_same() {
	A POST /sandboxes/$AID/mkdir "$1"
	if [ "$STATUS" = 200 ]; then
		run $AID "test -d '$2' && echo is-dir"
		is "$OUT" is-dir "mkdir $1: 200, and inside $2 is a directory"
	else
		like "$STATUS" '^4[0-9][0-9]$' "mkdir $1: refused ($STATUS)"
	fi
}
mkdir_same "{\"path\":\"l-root/mk-$TAG\"}" /mk-$TAG
mkdir_same "{\"path\":\"d/mk-d-$TAG\"}" /mk-d-$TAG
mkdir_same "{\"path\":\"l-proc1/mk-p-$TAG/x\",\"recursive\":true}" /mk-p-$TAG/x
mkdir_same "{\"path\":\"l-cdir/mk-c-$TAG\",\"recursive\":true}" /workspace/l-cdir/mk-c-$TAG
mkdir_same "{\"path\":\"l-tdir/canary-dir/mk-t-$TAG\",\"recursive\":true}" /workspace/l-tdir/canary-dir/mk-t-$TAG
mkdir_same "{\"path\":\"$CDIR/mk-h-$TAG\",\"recursive\":true}" "$CDIR/mk-h-$TAG"
A POST /sandboxes/$AID/mkdir '{"path":"l-cdir"}'
like "$STATUS" '^4[0-9][0-9]$' "mkdir over the link l-cdir is refused ($STATUS)"

# rename_same FROM TO INSIDE_TO: a rename moves the sandbox's own file, or fails
rename_same() {
	A POST /sandboxes/$AID/rename "$(jq -cn --arg f "$1" --arg t "$2" '{from: $f, to: $t}')"
	if [ "$STATUS" = 200 ]; then
		run $AID "test -e '$3' || test -L '$3' && echo there"
		is "$OUT" there "rename $1 -> $2: 200, and inside $3 exists"
	else
		like "$STATUS" '^4[0-9][0-9]$' "rename $1 -> $2: refused ($STATUS)"
	fi
}
rename_same secret l-root/moved-$TAG /moved-$TAG
rename_same l-root/moved-$TAG d/moved2-$TAG /moved2-$TAG
rename_same /workspace/d/moved2-$TAG l-proc1/workspace/secret /workspace/secret
rename_same secret l-cdir/stolen-$TAG /workspace/l-cdir/stolen-$TAG
rename_same secret l-tdir/canary-dir/stolen-t-$TAG /workspace/l-tdir/canary-dir/stolen-t-$TAG
rename_same secret "$CDIR/stolen-h-$TAG" "$CDIR/stolen-h-$TAG"
rename_same l-cdir/keep /workspace/kept-$TAG /workspace/kept-$TAG
rename_same l-canary l-canary-moved /workspace/l-canary-moved
rename_same l-etc/pwned-$TAG l-root/etc-moved-$TAG /etc-moved-$TAG

# delete_same PATH INSIDE: a DELETE removes the sandbox's own file, or fails
delete_same() {
	A DELETE "$AF$1"
	if [ "$STATUS" = 200 ]; then
		run $AID "test -e '$2' || test -L '$2' || echo gone"
		is "$OUT" gone "delete $1: 200, and inside $2 is gone"
	else
		like "$STATUS" '^4[0-9][0-9]$' "delete $1: refused ($STATUS)"
	fi
}
delete_same /workspace/l-root/pwned-$TAG /pwned-$TAG
delete_same /workspace/l-proc1/pwned-p1-$TAG /pwned-p1-$TAG
delete_same /workspace/d/pwned-d-$TAG /pwned-d-$TAG
delete_same "/workspace/l-root/new-$TAG?recursive=1" /new-$TAG
delete_same /workspace/l-cdir/keep /workspace/l-cdir/keep
delete_same "/workspace/l-tdir/canary" /workspace/l-tdir/canary
delete_same "$CANARY" "$CANARY"
delete_same "$CDIR?recursive=1" "$CDIR"
delete_same "/workspace/l-cdir?recursive=1" /workspace/l-cdir
# a recursive DELETE of a link to / removes the link, never the tree behind it
delete_same "/workspace/d?recursive=1" /workspace/d
delete_same "/workspace/l-etc?recursive=1" /workspace/l-etc
# and a recursive DELETE of a tree that holds links to / and /etc removes the links
run $AID "mkdir -p /workspace/t2/sub && ln -s / /workspace/t2/root && ln -s /etc /workspace/t2/sub/etc && ln -s /proc/self/root /workspace/t2/self && echo made"
is "$OUT" made "inside: a tree t2 with links to /, /etc and /proc/self/root in it"
delete_same "/workspace/t2?recursive=1" /workspace/t2
run $AID "test -f /etc/passwd && test -f /workspace/d.real/sub/f && test -f /marker-$TAG && echo intact"
is "$OUT" intact "after the recursive DELETEs of links to / and /etc, the sandbox's / and /etc are intact"

CANARY_AFTER=$(canary_state)
is "$CANARY_AFTER" "$CANARY_BEFORE" "the host canaries are unchanged (content, mtime, mode, owner, no new file in canary-dir)"
ok $(! compgen -G "/*$TAG*" >/dev/null && ! compgen -G "/etc/*$TAG*" >/dev/null; echo $?) \
	"on the host, no file with the tag in / or /etc after the attacks"

# === 4. the RENAME_EXCHANGE race ===========================================

case $(uname -m) in
x86_64) NR_RENAMEAT2=316 ;;
aarch64) NR_RENAMEAT2=276 ;;
*) NR_RENAMEAT2= ;;
esac
# the same names in the race directory and in the sandbox's /, for the GETs
run $AID "mkdir -p /workspace/race && for i in \$(seq 1 5000); do echo seed-dir > /workspace/race/seed-$TAG-\$i; echo seed-root > /seed-$TAG-\$i; done; ls /workspace/race | wc -l"
is "$OUT" 5000 "inside: 5000 files seed-N in /workspace/race and the same names in /"
run $AID "ln -sfn / /workspace/swap && cat > /workspace/racer.py <<'EOF'
import ctypes, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
n = 0
def stop(sig, frame):
    open('/workspace/racer.count', 'w').write('%d\n' % n)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
open('/workspace/racer.started', 'w').write('1')
a, b = b'/workspace/race', b'/workspace/swap'
while True:
    if libc.syscall($NR_RENAMEAT2, -100, a, -100, b, 2) != 0:
        open('/workspace/racer.count', 'w').write('errno %d after %d\n' % (ctypes.get_errno(), n))
        sys.exit(1)
    n += 1
EOF
rm -f /workspace/racer.started /workspace/racer.count
setsid timeout 600 python3 /workspace/racer.py </dev/null >/workspace/racer.log 2>&1 &
echo \$! > /workspace/racer.pid; echo launched"
is "$OUT" launched "inside: a racer swaps /workspace/race (a directory) and /workspace/swap (a link to /) with renameat2(RENAME_EXCHANGE)"
STARTED=
for _ in $(seq 1 1200); do
	[ -e "/proc/$AINIT/root/workspace/racer.started" ] && { STARTED=1; break; }
	sleep 0.05
done
ok $([ -n "$STARTED" ]; echo $?) "the racer is running"
run $AID 'a=$(stat -c %F /workspace/race); for i in $(seq 1 200); do b=$(stat -c %F /workspace/race); [ "$a" != "$b" ] && echo flipping && break; done'
is "$OUT" flipping "/workspace/race flips between a directory and a symlink"

echo "race $TAG" >"$T_DIR/race-body"
RACE_T0=$(date +%s)
curl -s -Z --parallel-max 4 -X PUT -H 'Content-Type: application/octet-stream' -T "$T_DIR/race-body" \
	--max-time 120 -o /dev/null -w '%{http_code}\n' "$BASE$AF/workspace/race/race-$TAG-[1-5000]" \
	>"$T_DIR/race-put.codes" 2>/dev/null &
PUTS=$!
mkdir "$T_DIR/race-get"
curl -s -Z --parallel-max 4 --max-time 120 -o "$T_DIR/race-get/#1" -w '%{http_code}\n' \
	"$BASE$AF/workspace/race/seed-$TAG-[1-5000]?raw=1" >"$T_DIR/race-get.codes" 2>/dev/null
wait $PUTS
RACE_T1=$(date +%s)
NPUT=$(wc -l <"$T_DIR/race-put.codes")
NGET=$(wc -l <"$T_DIR/race-get.codes")
diag "race: $((NPUT + NGET)) operations in $((RACE_T1 - RACE_T0)) s;" \
	"PUT: $(sort "$T_DIR/race-put.codes" | uniq -c | tr -s ' \n' ' ')" \
	"GET: $(sort "$T_DIR/race-get.codes" | uniq -c | tr -s ' \n' ' ')"
is "$((NPUT + NGET))" 10000 "10,000 API operations (5,000 PUT, 5,000 GET) during the race"
is "$(cat "$T_DIR/race-put.codes" "$T_DIR/race-get.codes" | grep -cvE '^(2|4)[0-9][0-9]$')" 0 \
	"none of them answered 5xx or not at all"
is "$(grep -c '^200$' "$T_DIR/race-get.codes")" 5000 "every GET during the race answered 200 (the name exists on both sides)"
is "$(cat "$T_DIR"/race-get/* | grep -cvxE 'seed-(dir|root)')" 0 "and every GET gave one of the sandbox's own two copies"
diag "GET bodies: $(cat "$T_DIR"/race-get/* | sort | uniq -c | tr -s ' \n' ' ')"
rm -rf "$T_DIR/race-get"
PUT_OK=$(grep -c '^200$' "$T_DIR/race-put.codes")
ok $([ "$PUT_OK" -gt 0 ]; echo $?) "PUTs succeeded during the race ($PUT_OK)"
run $AID 'kill -TERM $(cat /workspace/racer.pid) && echo stopped'
is "$OUT" stopped "the racer was still running at the end (stopped now)"
for _ in $(seq 1 1200); do
	[ -s "/proc/$AINIT/root/workspace/racer.count" ] && break
	sleep 0.05
done
SWAPS=$(cat "/proc/$AINIT/root/workspace/racer.count" 2>/dev/null)
diag "the racer made $SWAPS swaps"
like "$SWAPS" '^[0-9]+$' "the racer swapped without an error until stopped"
ok $([ "${SWAPS:-0}" -gt 1000 ] 2>/dev/null; echo $?) "and swapped many times ($SWAPS)"
run $AID "{ ls -A /; if [ -L /workspace/race ]; then ls -A /workspace/swap/; else ls -A /workspace/race/; fi; } | grep -c '^race-$TAG-'"
is "$OUT" "$PUT_OK" "inside, the race files are in the sandbox's / or its race directory: one per successful PUT ($OUT)"
run $AID "ls -A / | grep -c '^race-$TAG-'"
IN_ROOT=$OUT
diag "of which $IN_ROOT in the sandbox's / (written through the link)"

# the host: canaries, and no race or attack file anywhere outside $DATA
is "$(canary_state)" "$CANARY_BEFORE" "after the race the host canaries are unchanged"
FOUND=$(timeout 90 find / -xdev \( -path "$DATA" -o -path /proc \) -prune -o -name "*$TAG*" -print 2>/dev/null)
FRC=$?
is "$FOUND" "" "find / -xdev on the host (outside $DATA) finds no file with the tag (race or attack)"
ok $([ "$FRC" != 124 ]; echo $?) "and completes within 90 s (rc $FRC)"
A GET /sandboxes/$AID
is "$STATUS" 200 "the service still answers GET of the sandbox"
A PUT $AF/workspace/after-race.txt '{"content":"after"}'
A GET $AF/workspace/after-race.txt
is "$STATUS:$(jqr .data.content)" "200:after" "and a PUT + GET round trip after the race"
A GET $F/workspace/data.json
is "$STATUS" 200 "the other sandbox answers too"
diag "workers' max VmHWM at the end: $(workers_hwm) kB"

done_testing
