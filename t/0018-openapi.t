#!/bin/bash
# docs/openapi.yaml: it lints clean (docs/lint-openapi, a pinned @redocly/cli
# from npm), its operations are exactly the routes `sandboxd --routes` prints
# (OPTIONS aside), and the live router hands every documented operation to a
# handler (never its 404 "no such route" nor a 405).
#
# Needs node and npm (Debian: nodejs npm); the first run installs the CLI
# into $SANDBOXD_NPM_CACHE (default ${XDG_CACHE_HOME:-/var/cache}/sandboxd-npm).
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
LINT=$TOP_SRCDIR/docs/lint-openapi
sbd_start

# --- (a) the lint ---------------------------------------------------------

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	ok 1 "docs/lint-openapi can run: node and npm are NOT installed (apt-get install nodejs npm;" \
		"./dev deps should install them)"
	done_testing
	exit 1
fi
"$LINT" >"$T_DIR/lint.out" 2>&1
st=$?
ok $st "docs/lint-openapi: docs/openapi.yaml lints without errors" ||
	sed 's/^/# /' "$T_DIR/lint.out" | tail -n 40

"$LINT" --json >"$T_DIR/openapi.json" 2>"$T_DIR/bundle.err" && jq -e .paths "$T_DIR/openapi.json" >/dev/null
ok $? "docs/lint-openapi --json bundles the document as JSON" || {
	sed 's/^/# /' "$T_DIR/bundle.err" | tail -n 20
	bail "cannot read docs/openapi.yaml as JSON"
}

# "METHOD /path" for every operation of the document, sorted
jq -r '.paths | to_entries[] | .key as $p | .value | keys[]
	| select(IN("get", "put", "post", "delete", "patch", "head", "trace"))
	| "\(ascii_upcase) \($p)"' "$T_DIR/openapi.json" | sort -u >"$T_DIR/documented"

# --- (b) the document and the router name the same routes -----------------

"$SANDBOXD" --routes >"$T_DIR/routes.raw" 2>&1
ok $? "sandboxd --routes exits 0" || sed 's/^/# /' "$T_DIR/routes.raw" | head -n 5
grep -E '^[A-Z]+ /' "$T_DIR/routes.raw" | grep -v '^OPTIONS ' | sort -u >"$T_DIR/routes"
[ -s "$T_DIR/routes" ]
ok $? "sandboxd --routes prints METHOD /pattern lines"

comm -23 "$T_DIR/routes" "$T_DIR/documented" >"$T_DIR/undocumented"
[ ! -s "$T_DIR/undocumented" ]
ok $? "every route of sandboxd --routes is an operation of docs/openapi.yaml" ||
	sed 's/^/# undocumented: /' "$T_DIR/undocumented"
comm -13 "$T_DIR/routes" "$T_DIR/documented" >"$T_DIR/unrouted"
[ -s "$T_DIR/routes" ] && [ ! -s "$T_DIR/unrouted" ]
ok $? "every operation of docs/openapi.yaml is a route of sandboxd --routes" ||
	sed 's/^/# not in --routes: /' "$T_DIR/unrouted"

# --- (c) the live router takes every documented operation -----------------

ID=openapi-t
PROC=openapi-proc
FILE=workspace/openapi.txt

# the control: what the router says to a path it does not know
api GET /no/such/route
is "$STATUS" 404 "an unknown path is 404"
like "$(jqr .error)" '^no such route' "... with the router's 'no such route'"

api POST "/sandboxes/$ID"
is "$STATUS" 200 "a sandbox to fill {projectId} with"
api PUT "/sandboxes/$ID/files/$FILE" '{"content": "hi\n"}'
is "$STATUS" 200 "a file to fill {path} with"
api POST "/sandboxes/$ID/processes" "$(jq -cn --arg p "$PROC" '{command: "sleep 300", processId: $p}')"
is "$STATUS" 200 "a process to fill {processId} with"

# DELETEs last, the sandbox's own last of all; each request without a body
# (a body-taking handler answers that with its own 400)
{
	grep -v '^DELETE ' "$T_DIR/documented"
	grep '^DELETE ' "$T_DIR/documented" | awk '{ print length($2), $0 }' | sort -rn | cut -d' ' -f2-
} >"$T_DIR/ops"
[ -s "$T_DIR/ops" ]
ok $? "the document has operations to try"
while read -r method path; do
	url=${path//\{projectId\}/$ID}
	url=${url//\{processId\}/$PROC}
	url=${url//\{path\}/$FILE}
	api "$method" "$url" "" -D "$T_DIR/headers"
	err=$(jqr '.error // empty')
	[ "$STATUS" != 000 ] && [ "$STATUS" != 405 ] && ! printf '%s' "$err" | grep -q '^no such route'
	ok $? "$method $path reaches its handler ($method $url: $STATUS)" ||
		diag "body: $(printf '%s' "$BODY" | head -c 300)"
	grep -qi '^x-request-id: *[^ ]' "$T_DIR/headers"
	ok $? "$method $path answers with X-Request-Id"
done <"$T_DIR/ops"

done_testing
