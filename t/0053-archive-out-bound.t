#!/bin/bash
# Review of issue 17 (GET /sandboxes/:id/archive, container/archive.c
# archive_out): nothing bounds what an archive out streams.  A file read is
# capped at --max-file-mb (413) and an archive in too, but the walk writes
# every file's st_size bytes, and a sparse file costs its sandbox no disk
# block: `truncate -s 16T f` in a 64 MiB disk makes a 16 TiB stream, and
# the worker that streams it is held for hours (only an idle timeout), as
# many workers as there are such requests: every tenant waits.  (nginx
# buffers to its temp dir on the host meanwhile, up to 1 GiB a request,
# outside any sandbox's disk quota.)  Here a 1 GiB sparse file with
# --max-file-mb 64: the archive must not be streamed past the cap (a 413
# before the first byte, or a stream cut there).
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
sbd_start --max-file-mb 64 --disk-mb 64

api POST /sandboxes/sparse
is "$STATUS" 200 "create the sandbox"
exec_in sparse 'mkdir -p /workspace/sp && truncate -s 1G /workspace/sp/big && du -k /workspace/sp/big | cut -f1'
is "$(jqr .data.stdout)" 0 "a 1 GiB sparse file that takes no block of the 64 MiB disk"
GOT=$(curl -s --max-time 300 -o /dev/null -w '%{http_code} %{size_download}' \
	"$BASE/sandboxes/sparse/archive?path=/workspace/sp&format=tar")
diag "GET archive: status and bytes: $GOT"
read -r CODE BYTES <<<"$GOT"
ok $([ "$CODE" = 413 ] || [ "${BYTES:-0}" -le $(((64 + 1) << 20)) ]; echo $?) \
	"the archive out is bounded by --max-file-mb 64 (413, or at most 65 MiB sent; got $CODE, $BYTES bytes)"

done_testing
