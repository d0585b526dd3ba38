#!/bin/bash
# The preview row of bench/bench.py (a preview GET through nginx against a
# direct GET at the sandbox's address) in the namespaces the network tests
# make (t/netlib.sh), with a service and nginx of its own: nothing leaves
# the machine and nothing of the host's network changes.
#   bench/preview.sh [--n N]     (as root, from a build: SANDBOXD=build/sandboxd)
TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
SANDBOXD=${SANDBOXD:-$TOP_SRCDIR/build/sandboxd}
. "$TOP_SRCDIR/t/lib.sh"
. "$TOP_SRCDIR/t/netlib.sh"
net_topology "$@"
T_WORKERS=2 sbd_start "${NET_OPTS[@]}" --preview-domain "http://$PREVIEW_HOST"
python3 "$TOP_SRCDIR/bench/bench.py" --base "$BASE" --json "$T_DIR/bench.json" --preview-only "$@"
