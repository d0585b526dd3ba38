#!/bin/bash
# nginx does not buffer the world before auth: an unauthenticated 250 MB
# upload is refused before it is stored (nothing lands under nginx's temp
# dirs), only the upload route takes large bodies, and an authorized upload
# still streams through whole.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

CONF_DIR=$(mktemp -d /tmp/sbd-conf.XXXXXX)
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
TOKEN=tok-$RANDOM$RANDOM$RANDOM
printf 'up sha256:%s up-\n' "$(sha "$TOKEN")" >"$CONF_DIR/tokens"
sbd_start --tokens-file "$CONF_DIR/tokens"
trap 'sbd_cleanup; rm -rf "$CONF_DIR"' EXIT

# the largest file nginx holds open under its temp dirs, sampled while a
# request runs (nginx unlinks a temp file as it makes it: only its open fd
# shows it)
temp_watch() {
	local max=0 s p f
	while [ ! -e "$CONF_DIR/stop" ]; do
		for p in $(pgrep -P "$(cat "$T_DIR/nginx.pid")"); do
			for f in /proc/$p/fd/*; do
				case $(readlink "$f" 2>/dev/null) in
				"$T_DIR/nginx-tmp"*)
					s=$(stat -L -c %s "$f" 2>/dev/null) || continue
					[ "$s" -gt "$max" ] && max=$s ;;
				esac
			done
		done
		sleep 0.02
	done
	echo "$max" >"$CONF_DIR/max"
}
put_big() {	# put_big PATH [curl options]: 250 MB with a Content-Length, not chunked
	local path=$1; shift
	rm -f "$CONF_DIR/stop"
	temp_watch &
	local w=$!
	OUT=$(head -c 250000000 /dev/zero | curl -s -o "$CONF_DIR/body" -w '%{http_code}' -X PUT \
		-H 'Content-Type: application/octet-stream' -H 'Content-Length: 250000000' \
		-H 'Transfer-Encoding:' --data-binary @- "$@" "$BASE$path")
	touch "$CONF_DIR/stop"
	wait "$w"
	STATUS=$OUT BODY=$(cat "$CONF_DIR/body")
	MAXTEMP=$(cat "$CONF_DIR/max")
}

put_big /sandboxes/up-1/files/workspace/big.bin
is "$STATUS" 401 "an unauthenticated 250 MB upload is refused: 401"
is "$(jqr .success)" false "in the JSON error envelope"
is "$MAXTEMP" 0 "nothing of it was stored under nginx's temp dirs while it ran"
ok $(! grep -q 'buffered to a temporary file' "$T_DIR/nginx-error.log"; echo $?) \
	"nginx never buffered a request body to a temporary file"
is "$(find "$T_DIR/nginx-tmp" -type f | wc -l)" 0 "nothing is left there either"

# only the upload route takes large bodies: a JSON route's limit is small
head -c 20000000 /dev/zero | tr '\0' ' ' >"$CONF_DIR/20m.json"
STATUS=$(curl -s -o "$CONF_DIR/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
	--data-binary @"$CONF_DIR/20m.json" "$BASE/sandboxes/up-1/exec")
is "$STATUS" 413 "a 20 MB body to a JSON route is refused by nginx: 413"
is "$(jq -r .success <"$CONF_DIR/body")" false "in the JSON error envelope"

# an authorized upload streams through whole, still without temp files
put_big /sandboxes/up-1/files/workspace/big.bin -H "Authorization: Bearer $TOKEN"
is "$STATUS" 200 "an authorized 250 MB upload is stored"
is "$MAXTEMP" 0 "streamed to sandboxd, not spooled by nginx"
api POST /sandboxes/up-1/exec '{"command":"stat -c %s /workspace/big.bin"}' -H "Authorization: Bearer $TOKEN"
is "$(jqr .data.stdout | tr -d '\n')" 250000000 "whole: 250000000 bytes in the sandbox" || diag "$BODY"

done_testing
