#!/bin/bash
# List (issue 17, item 2): GET /sandboxes lists the sandboxes the caller's
# token covers (its scope, a projectId prefix), each with status, image,
# createdAt, lastActiveAt and, when running, a usage summary; filtered by
# prefix and status; paginated by an opaque cursor (nextCursor, null on the
# last page); a destroyed sandbox is not listed; bad parameters are 400s.
# Expiry (item 3): ttl/expiresAt at create and changed by a later POST,
# shown in status; the service destroys a sandbox past it, and with
# --destroy-after-idle one idle that long (never one running a command),
# logged (sandbox.expired) and counted in /metrics.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
ALL=tok-all-$RANDOM$RANDOM
ACME=tok-acme-$RANDOM$RANDOM
TOKENS=$(mktemp /tmp/sbd-t42.XXXXXX) || bail "mktemp"
{
	printf 'all sha256:%s *\n' "$(printf %s "$ALL" | sha256sum | cut -d' ' -f1)"
	printf 'acme sha256:%s acme-\n' "$(printf %s "$ACME" | sha256sum | cut -d' ' -f1)"
} >"$TOKENS"
chmod 0600 "$TOKENS"
t42_cleanup() { rm -f "$TOKENS"; sbd_cleanup; }
T_TRAP=t42_cleanup sbd_start --tokens-file "$TOKENS"

as() { api "$2" "$3" "${4-}" -H "Authorization: Bearer $1"; }
ids() { jqr '[.data.sandboxes[].projectId] | join(" ")'; }

for id in acme-a acme-b acme-c other-x; do
	as "$ALL" POST "/sandboxes/$id"
	is "$STATUS" 200 "create $id"
done
as "$ALL" POST /sandboxes/acme-b/exec '{"command":"true"}'
# acme-c stopped: its processes killed, init too (a stop)
kill -KILL "$(init_of acme-c)" 2>/dev/null
for _ in $(seq 1 1200); do [ -z "$(init_of acme-c)" ] && break; sleep 0.05; done

as "$ALL" GET /sandboxes
is "$STATUS" 200 "GET /sandboxes"
is "$(ids)" "acme-a acme-b acme-c other-x" "  lists every sandbox, in projectId order"
is "$(jqr '.data.sandboxes[0] | [.status, .image, (.createdAt|type), (.lastActiveAt|type), (.usage.memoryBytes|type)] | join(" ")')" \
	"running host string string number" "  each with status, image, createdAt, lastActiveAt and usage"
is "$(jqr '.data.sandboxes[] | select(.projectId=="acme-c") | .status')" stopped "  a stopped one says so"
is "$(jqr '.data.nextCursor')" null "  one page: nextCursor null"

as "$ACME" GET /sandboxes
is "$(ids)" "acme-a acme-b acme-c" "a token scoped to acme- sees its sandboxes only"
as "$ACME" GET "/sandboxes?prefix=other"
is "$STATUS/$(ids)" "200/" "  a prefix outside its scope lists nothing"
as "$ACME" GET "/sandboxes?prefix=acme-b"
is "$(ids)" "acme-b" "  a prefix within it narrows the list"
as "$ACME" GET "/sandboxes?prefix=ac"
is "$(ids)" "acme-a acme-b acme-c" "  a prefix wider than its scope is cut to the scope"
api GET /sandboxes
is "$STATUS" 401 "no token: 401"

as "$ALL" GET "/sandboxes?status=running"
is "$(ids)" "acme-a acme-b other-x" "status=running"
as "$ALL" GET "/sandboxes?status=stopped"
is "$(ids)" "acme-c" "status=stopped"

as "$ALL" GET "/sandboxes?limit=2"
is "$(ids)" "acme-a acme-b" "limit=2: the first page"
CUR=$(jqr .data.nextCursor)
ok $([ "$CUR" != null ] && [ -n "$CUR" ]; echo $?) "  and a nextCursor"
as "$ALL" GET "/sandboxes?limit=2&cursor=$CUR"
is "$(ids)" "acme-c other-x" "  the next page"
is "$(jqr .data.nextCursor)" null "  the last: nextCursor null"

as "$ALL" POST /sandboxes/acme-a/destroy
as "$ALL" GET /sandboxes
is "$(ids)" "acme-b acme-c other-x" "a destroyed sandbox is not listed"

for q in 'limit=0' 'limit=1001' 'limit=x' 'status=dead' 'prefix=a/b' 'cursor=..'; do
	as "$ALL" GET "/sandboxes?$q"
	is "$STATUS" 400 "?$q -> 400"
done

# --- expiry ------------------------------------------------------------------
as "$ALL" POST /sandboxes/acme-t '{"ttl": 3600}'
is "$STATUS" 200 "create with ttl 3600"
as "$ALL" GET /sandboxes/acme-t
EXP=$(jqr .data.expiresAt)
like "$EXP" '^20[0-9-]+T' "  status shows expiresAt ($EXP)"
is "$(jqr .data.expiresBecause)" ttl "  because of its ttl"
as "$ALL" POST /sandboxes/acme-t '{"expiresAt": null}'
as "$ALL" GET /sandboxes/acme-t
is "$(jqr .data.expiresAt)" null "a later POST with expiresAt null: never (no expiresAt in status)"
as "$ALL" POST /sandboxes/acme-t '{"expiresAt": "2099-01-01T00:00:00Z"}'
is "$STATUS" 400 "  an expiresAt beyond ten years: 400"
for body in '{"ttl": 0}' '{"ttl": "1h"}' '{"ttl": 1.5}' '{"expiresAt": "tomorrow"}' \
	'{"expiresAt": "2001-01-01T00:00:00Z"}' '{"ttl": 5, "expiresAt": null}'; do
	as "$ALL" POST /sandboxes/acme-bad "$body"
	is "$STATUS" 400 "  $body -> 400"
done
as "$ALL" GET /sandboxes/acme-bad
is "$STATUS" 404 "  and no sandbox was made"

# the sweep runs every half --destroy-after-idle: restart with 4 s
kill -TERM "$(cat "$T_DIR/sandboxd.pid")"
for _ in $(seq 1 300); do kill -0 "$(cat "$T_DIR/sandboxd.pid")" 2>/dev/null || break; sleep 0.1; done
rm -f "$DATA/run/fcgi.sock"
"$SANDBOXD" --data "$DATA" --instance "$INSTANCE" --workers 3 --uid-base "$UID_BASE" --uid-slots 64 \
	--pidfile "$T_DIR/sandboxd.pid" --tokens-file "$TOKENS" --destroy-after-idle 4 >>"$T_DIR/sandboxd.log" 2>&1 &
for _ in $(seq 1 1200); do [ -S "$DATA/run/fcgi.sock" ] && curl -s -o /dev/null "$BASE/" && break; sleep 0.05; done
as "$ALL" POST /sandboxes/acme-t '{"ttl": 1}'
is "$STATUS" 200 "ttl changed to 1 s by a POST"
as "$ALL" POST /sandboxes/busy-1
as "$ALL" POST /sandboxes/busy-1/processes '{"command": "sleep 600"}'
is "$STATUS" 200 "busy-1 runs a background process"
as "$ALL" GET /sandboxes/busy-1
is "$(jqr .data.expiresBecause)" idle "  its status says it expires when idle"
for _ in $(seq 1 600); do
	as "$ALL" GET /sandboxes/acme-b
	b=$STATUS
	as "$ALL" GET /sandboxes/acme-t
	[ "$STATUS" = 404 ] && [ "$b" = 404 ] && break
	sleep 0.1
done
is "$STATUS" 404 "acme-t is destroyed past its ttl"
# logged once the destroy is done (gone for the API from its first step)
for _ in $(seq 1 600); do
	grep -q "event=sandbox.expired id=acme-t " "$T_DIR/sandboxd.log" &&
		grep -q "event=sandbox.expired id=acme-b " "$T_DIR/sandboxd.log" && break
	sleep 0.1
done
grep -q "event=sandbox.expired id=acme-t .*reason=ttl" "$T_DIR/sandboxd.log"
ok $? "  logged: sandbox.expired reason=ttl"
is "$b" 404 "acme-b, idle past --destroy-after-idle, is destroyed"
grep -q "event=sandbox.expired id=acme-b .*reason=idle" "$T_DIR/sandboxd.log"
ok $? "  logged: sandbox.expired reason=idle"
as "$ALL" GET /sandboxes/busy-1
is "$STATUS" 200 "busy-1, running a command, is not"
as "$ALL" GET /metrics
like "$BODY" 'sandboxd_sandboxes_expired_total [1-9]' "/metrics counts them"

done_testing
