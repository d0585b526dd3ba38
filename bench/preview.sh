#!/bin/bash
# The preview figure of ./dev bench (bench.py --preview-only: a preview GET
# through nginx, auth_request and all, against a direct GET at the sandbox's
# address), with a service and nginx of its own in the namespaces the
# network tests make (t/netlib.sh): nothing leaves the machine, nothing of
# the host's network changes.  Prints the table, then one JSON object per
# row (what bench.py reads).
#   bench/preview.sh [--n N]     (as root; SANDBOXD=build/sandboxd by default)
set -u
TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
SANDBOXD=${SANDBOXD:-$TOP_SRCDIR/build/sandboxd}
. "$TOP_SRCDIR/t/lib.sh"
. "$TOP_SRCDIR/t/netlib.sh"
net_topology "$@"
T_WORKERS=2 sbd_start "${NET_OPTS[@]}" --preview-domain "http://$PREVIEW_HOST"
python3 "$TOP_SRCDIR/bench/bench.py" --base "$BASE" --json "$T_DIR/bench.json" --preview-only "$@" >&2
jq -c '.rows[]' "$T_DIR/bench.json"
