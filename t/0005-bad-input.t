#!/bin/bash
# Bad input: every malformed request gets a 4xx JSON error, changes nothing
# on disk, and leaves the worker pool as it was; good requests still work.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
# a pool of the usual 3 and no more (max-workers: no spare forked past
# them), so that "as it was" is the same processes
sbd_start --max-workers 3

HDRS=$T_DIR/headers

# hdr NAME: the value of a header of the last answer (empty when absent).
hdr() {
	tr -d '\r' <"$HDRS" | awk -v n="$(printf '%s' "$1" | tr 'A-Z' 'a-z')" \
		'{ k = tolower(substr($0, 1, index($0, ":") - 1)) } k == n { sub(/^[^:]*:[ \t]*/, ""); print; exit }'
}

# req METHOD PATH [JSON] [curl options...]: api with the headers kept.
req() {
	local m=$1 p=$2 d=${3-}
	shift $(($# >= 3 ? 3 : 2))
	api "$m" "$p" "$d" -D "$HDRS" "$@"
}

# is_json_error STATUS-REGEX DESCRIPTION: the last answer has that status
# and a JSON error envelope, served as application/json.
is_json_error() {
	local want=$1; shift
	like "$STATUS" "^($want)\$" "$* -> $want"
	[ "$(hdr Content-Type)" = application/json ] &&
		[ "$(jqr '(keys == ["error","success"]) and .success == false and (.error | type == "string" and length > 0)')" = true ]
	ok $? "$* -> a JSON error (success false, non-empty error)" ||
		diag "Content-Type: $(hdr Content-Type)" "body: $(printf '%s' "$BODY" | head -c 300)"
}

# bad_exec ID JSON DESCRIPTION [ERROR_REGEX]: POST it to /exec, want a 400.
bad_exec() {
	req POST "/sandboxes/$1/exec" "$2"
	is_json_error 400 "$3"
	[ -z "${4-}" ] || like "$(jqr .error)" "$4" "$3: the error says why"
}

workers() { sbd_workers; }
# (not .ctl-PID: a worker's waiting launcher binds its next sandbox's
# control socket there, at a time of its own after a start)
sandboxes() { ls -A "$DATA/sandboxes" | grep -v '^\.ctl-[0-9]*$' | sort | tr '\n' ' '; }

# a sandbox that exists before the batch, so the batch also hits a live one
req POST /sandboxes/live
is "$STATUS" 200 "a sandbox made before the batch"
WORKERS_BEFORE=$(workers)
SANDBOXES_BEFORE=$(sandboxes)
[ -n "$WORKERS_BEFORE" ]
ok $? "the master has workers ($WORKERS_BEFORE)"

# --- bodies that are not the JSON object wanted ------------------------------
# each on a fresh, valid id: rejected before creation, so it stays unknown

n=0
fresh() { n=$((n + 1)); FRESH=fresh-$n; FRESH_IDS="${FRESH_IDS-} $FRESH"; }

fresh; bad_exec $FRESH '{"command": "echo hi"' "malformed JSON (unclosed object)" 'JSON'
fresh; bad_exec $FRESH '{command: "echo hi"}' "malformed JSON (unquoted key)" 'JSON'
fresh; bad_exec $FRESH "{'command': 'echo hi'}" "malformed JSON (single quotes)" 'JSON'
fresh; bad_exec $FRESH '{"command": "echo hi",}' "malformed JSON (trailing comma)" 'JSON'
fresh; bad_exec $FRESH '["echo hi"]' "a JSON array body" 'object'
fresh; bad_exec $FRESH '"echo hi"' "a JSON string body" 'object'
fresh; bad_exec $FRESH '42' "a JSON number body" 'object'
fresh; bad_exec $FRESH 'null' "a JSON null body" 'object'
fresh; bad_exec $FRESH 'null ' "a JSON null body, then a space" 'object'
fresh; bad_exec $FRESH 'true' "a JSON boolean body" 'object'
fresh; bad_exec $FRESH '{"command": "echo hi"} x' "trailing garbage after the object" 'JSON|trailing'
fresh; bad_exec $FRESH '{"command": "echo hi"}{"command": "id"}' "two objects in one body" 'JSON|trailing'
fresh; bad_exec $FRESH '{}' "missing command" 'command'
fresh; bad_exec $FRESH '{"cmd": "echo hi"}' "command misspelt" 'command'
fresh; bad_exec $FRESH '{"command": 42}' "command a number" 'command'
fresh; bad_exec $FRESH '{"command": ["echo", "hi"]}' "command an array" 'command'
fresh; bad_exec $FRESH '{"command": null}' "command null" 'command'
fresh; bad_exec $FRESH '{"command": {"sh": "echo hi"}}' "command an object" 'command'
fresh; bad_exec $FRESH '{"command": true}' "command a boolean" 'command'
fresh; bad_exec $FRESH '{"command": ""}' "empty command" 'command'
fresh; bad_exec $FRESH '{"command": "echo a\u0000b"}' "command with \\u0000" 'command'
deep=$(printf '{"a":%.0s' $(seq 1 99))1$(printf '}%.0s' $(seq 1 99))
fresh; bad_exec $FRESH "{\"command\":\"echo hi\",\"n\":$deep}" "JSON nested 100 deep"
fresh; bad_exec $FRESH "$(printf '[%.0s' $(seq 1 100))$(printf ']%.0s' $(seq 1 100))" "an array nested 100 deep"
fresh; bad_exec $FRESH $'{"command": "echo \xff\xfe"}' "invalid UTF-8 in the body (0xFF 0xFE)" 'UTF-8|utf-8'
fresh; bad_exec $FRESH $'{"command": "echo \xc3"}' "invalid UTF-8 in the body (a cut sequence)" 'UTF-8|utf-8'
fresh; bad_exec $FRESH '{"command": "echo hi", "stream": "false"}' "stream a string" 'stream'
fresh; bad_exec $FRESH '{"command": "echo hi", "stream": 0}' "stream a number" 'stream'
fresh; bad_exec $FRESH '{"command": "sleep 1", "timeout": 0}' "timeout 0" 'timeout'
fresh; bad_exec $FRESH '{"command": "sleep 1", "timeout": -5}' "timeout negative" 'timeout'
fresh; bad_exec $FRESH '{"command": "sleep 1", "timeout": "1000"}' "timeout a string" 'timeout'
fresh; bad_exec $FRESH '{"command": "sleep 1", "timeout": true}' "timeout a boolean" 'timeout'
# json-c takes these even in strict mode; they are not JSON (found by fuzzing)
fresh; bad_exec $FRESH '{"command": "sleep 1", "timeout": NaN}' "timeout NaN" 'JSON'
fresh; bad_exec $FRESH '{"command": "sleep 1", "timeout": Infinity}' "timeout Infinity" 'JSON'
fresh; bad_exec $FRESH '{"command": "sleep 1", "timeout": 1e999}' "timeout 1e999 (infinite as a double)" 'JSON'
fresh; bad_exec $FRESH '{"command": "sleep 1", "timeout": [1000]}' "timeout an array" 'timeout'
fresh; bad_exec $FRESH '{"command": "env", "env": "A=1"}' "env a string" 'env'
fresh; bad_exec $FRESH '{"command": "env", "env": ["A=1"]}' "env an array" 'env'
fresh; bad_exec $FRESH '{"command": "env", "env": {"A": 1}}' "env value a number" 'env'
fresh; bad_exec $FRESH '{"command": "env", "env": {"A": null}}' "env value null" 'env'
fresh; bad_exec $FRESH '{"command": "env", "env": {"A": {"b": "c"}}}' "env value an object" 'env'
fresh; bad_exec $FRESH '{"command": "env", "env": {"A": "x\u0000y"}}' "env value with \\u0000" 'env'
fresh; bad_exec $FRESH '{"command": "env", "env": {"1A": "x"}}' "env name 1A" 'env'
fresh; bad_exec $FRESH '{"command": "env", "env": {"A-B": "x"}}' "env name A-B" 'env'
fresh; bad_exec $FRESH '{"command": "env", "env": {"": "x"}}' "env name empty" 'env'
fresh; bad_exec $FRESH '{"command": "env", "env": {"A=B": "x"}}' "env name with =" 'env'
fresh; bad_exec $FRESH '{"command": "pwd", "cwd": "/tmp\u0000/etc"}' "cwd with \\u0000" 'cwd'
fresh; bad_exec $FRESH '{"command": "pwd", "cwd": 7}' "cwd a number" 'cwd'
fresh; req POST "/sandboxes/$FRESH" '{"image": "ubuntu"}'
is_json_error 400 "create with an unknown image"
fresh; req POST "/sandboxes/$FRESH" '{"image": "host"'
is_json_error 400 "create with malformed JSON"

# UTF-8 that a structural check lets through but RFC 3629 forbids: an
# overlong "/", a UTF-16 surrogate, a code point above U+10FFFF
utf8_bad() {	# utf8_bad ID BYTES DESCRIPTION
	bad_exec "$1" "{\"command\": \"echo $2\"}" "$3"
	req GET "/sandboxes/$1"
	[ ! -e "$DATA/sandboxes/$1" ] && [ "$STATUS" = 404 ]
	ok $? "$3: no sandbox was made for it (GET $STATUS)"
}
utf8_bad utf8-overlong $'\xc0\xaf' "an overlong UTF-8 encoding (C0 AF) in the body"
utf8_bad utf8-surrogate $'\xed\xa0\x80' "a UTF-16 surrogate encoded in UTF-8 (ED A0 80) in the body"
utf8_bad utf8-above $'\xf4\x90\x80\x80' "a code point above U+10FFFF (F4 90 80 80) in the body"

for id in $FRESH_IDS; do
	[ -e "$DATA/sandboxes/$id" ] && echo "$id"
done >"$T_DIR/made"
is "$(tr '\n' ' ' <"$T_DIR/made")" "" "no rejected request made a sandbox directory"
for id in $FRESH_IDS; do
	req GET "/sandboxes/$id"
	[ "$STATUS" = 404 ] || echo "$id:$STATUS"
done >"$T_DIR/found"
is "$(tr '\n' ' ' <"$T_DIR/found")" "" "GET of every rejected id still answers 404"

# --- the same bad bodies on a live sandbox: rejected, nothing run -------------

# (stream: true is a valid request since streaming exec exists: t/0012-stream.t)
bad_exec live '{"command": "touch /workspace/ran", "timeout": 0}' "timeout 0 on a live sandbox"
bad_exec live '{"command": "touch /workspace/ran", "env": {"1A": "x"}}' "bad env name on a live sandbox"
bad_exec live '{"command": "touch /workspace/ran"} x' "trailing garbage on a live sandbox"

# --- bad projectIds, refused before anything touches disk ---------------------

long=$(printf 'a%.0s' $(seq 1 64))
bad_id() {	# bad_id PATH-SEGMENT DESCRIPTION [curl options...]
	local seg=$1 what=$2; shift 2
	req POST "/sandboxes/$seg" '' "$@"
	is_json_error 400 "create, projectId $what"
	req POST "/sandboxes/$seg/exec" '{"command": "touch /tmp/bad-id-ran"}' "$@"
	is_json_error 400 "exec, projectId $what"
}
bad_id .. '..' --path-as-is
bad_id . '.' --path-as-is
bad_id %2F '%2F (an encoded slash)'
bad_id a%2Fb 'a%2Fb'
bad_id %2E%2E '%2E%2E (encoded ..)'
bad_id "$long" '64 characters long'
bad_id -abc 'with a leading -'
bad_id _abc 'with a leading _'
bad_id a.b 'a.b'
bad_id 'a%20b' 'with a space'
bad_id %00 '%00'
bad_id 'a%00b' 'a%00b'
bad_id '%C3%A9t%C3%A9' 'non-ASCII'
req GET "/sandboxes/$long"
is_json_error 400 "GET, projectId 64 characters long"
req DELETE /sandboxes/-abc
is_json_error 400 "DELETE, projectId with a leading -"

# --- a body over the limit ------------------------------------------------------

# {"command":"aaa...a"}: 12 + N + 2 bytes, valid JSON of 1 MiB + 1
head -c $((1048576 + 1 - 14)) /dev/zero | tr '\0' a >"$T_DIR/big.cmd"
{ printf '{"command":"'; cat "$T_DIR/big.cmd"; printf '"}'; } >"$T_DIR/big.json"
is "$(wc -c <"$T_DIR/big.json")" 1048577 "the big body is 1 MiB + 1 bytes"
jq -e 'has("command")' "$T_DIR/big.json" >/dev/null
ok $? "and is valid JSON"
fresh; req POST "/sandboxes/$FRESH/exec" "@$T_DIR/big.json"
is_json_error 413 "exec with a body of 1 MiB + 1 bytes"
[ ! -e "$DATA/sandboxes/$FRESH" ]
ok $? "the over-limit request made no sandbox"
req POST /sandboxes/live/exec "@$T_DIR/big.json"
is_json_error 413 "the same body on a live sandbox"
req POST /sandboxes/big-create "@$T_DIR/big.json"
is_json_error 413 "create with a body of 1 MiB + 1 bytes"

# --- routes and methods -----------------------------------------------------------

# (GET /sandboxes is the list since issue 17: its wrong method is below)
for p in / /foo /sandbox /sandboxes/x/nope /sandboxes/x/exec/more /sandboxes/x/exec/ /SANDBOXES/x; do
	req GET "$p"
	is_json_error 404 "GET $p"
done
req GET /sandboxes/	# an empty projectId: no such route, or a bad id
is_json_error '400|404' "GET /sandboxes/"
req POST /sandboxes/x/nope '{"command": "id"}'
is_json_error 404 "POST /sandboxes/x/nope"
req POST /sandboxes/x/exec/more '{"command": "id"}'
is_json_error 404 "POST /sandboxes/x/exec/more"

# wrong_method METHOD PATH ALLOW-REGEX
wrong_method() {
	req "$1" "$2"
	is_json_error 405 "$1 $2"
	like "$(hdr Allow)" "$3" "$1 $2: the Allow header lists the methods"
}
wrong_method PUT /sandboxes/x '^GET, POST, DELETE, OPTIONS$'
wrong_method PATCH /sandboxes/x '^GET, POST, DELETE, OPTIONS$'
wrong_method GET /sandboxes/x/exec '^POST, OPTIONS$'
wrong_method POST /sandboxes '^GET, OPTIONS$'
wrong_method DELETE /sandboxes/x/exec '^POST, OPTIONS$'
wrong_method PATCH /sandboxes/x/exec '^POST, OPTIONS$'
wrong_method PUT /sandboxes/x/exec '^POST, OPTIONS$'

# --- nothing changed, nobody died ---------------------------------------------------

is "$(sandboxes)" "$SANDBOXES_BEFORE" "\$DATA/sandboxes has no new entry after the whole batch"
is "$(workers)" "$WORKERS_BEFORE" "the master's workers are the same processes after the batch"
req POST /sandboxes/live/exec '{"command": "test -e /workspace/ran && echo ran || echo clean"}'
is "$(jqr .data.stdout)" clean "no rejected exec ran its command in the live sandbox"

req POST "/sandboxes/${long%a}"
is "$STATUS" 200 "a 63-character projectId is fine (control)"
req POST /sandboxes/after-batch
is "$STATUS" 200 "a normal create still works after the batch"
req POST /sandboxes/after-batch/exec '{"command": "echo still alive"}'
is "$STATUS" 200 "a normal exec still works after the batch"
is "$(jqr .data.stdout)" "still alive" "and runs the command"

done_testing
