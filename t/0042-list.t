#!/bin/bash
# List (issue 17, item 2): GET /sandboxes lists the sandboxes the caller's
# token covers (its scope, a projectId prefix), each with status, image,
# createdAt, lastActiveAt and, when running, a usage summary; filtered by
# prefix and status; paginated by an opaque cursor (nextCursor, null on the
# last page); a destroyed sandbox is not listed; bad parameters are 400s.
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
for _ in $(seq 1 100); do [ -z "$(init_of acme-c)" ] && break; sleep 0.05; done

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

done_testing
