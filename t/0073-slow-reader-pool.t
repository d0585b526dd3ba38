#!/bin/bash
# Review (issue 16): a raw file read to a client that reads slowly (but does
# read: SO_SNDTIMEO / --send-timeout only bound a write that makes no
# progress) holds its pool worker until nginx has sent all but
# fastcgi_max_temp_file_size (64 MiB) of the file: at 100 KB/s a 1 GiB file
# is hours.  max-workers such readers starve /healthz and every tenant.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

T_WORKERS=2
sbd_start --max-workers 4 --min-spare-workers 1 --max-spare-workers 2 --send-timeout 3
READERS=
trap 'for p in $READERS; do kill "$p" 2>/dev/null; done; sbd_cleanup' EXIT

api POST /sandboxes/slow '{}'
is "$STATUS" 200 "the sandbox is created"
code=$(head -c 100000000 /dev/zero | curl -s -o /dev/null -w '%{http_code}' -X PUT \
	-H 'Content-Type: application/octet-stream' --data-binary @- "$BASE/sandboxes/slow/files/tmp/big")
is "$code" 200 "a 100 MB file is written"

for i in 1 2 3 4 5 6; do
	curl -s -o /dev/null -m 40 --limit-rate 100k -H 'Accept: application/octet-stream' \
		"$BASE/sandboxes/slow/files/tmp/big" &
	READERS="$READERS $!"
done
# past --send-timeout: a worker blocked that long without progress is over
sleep 6

code=$(curl -s -m 8 -o /dev/null -w '%{http_code}' "$BASE/healthz")
is "$code" 200 "/healthz answers while slow readers download a big file (within 8 s)"

for p in $READERS; do kill "$p" 2>/dev/null; done
wait $READERS 2>/dev/null
done_testing
