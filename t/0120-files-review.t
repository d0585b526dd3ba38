#!/bin/bash
# The file API against a sandbox that fights it (an outside review of the
# file API, rev-files): a sandbox can make its file child slow (it may
# renice, starve or trace what runs in it), hold a lease on its own file,
# name files with control bytes and set any time on a tmpfs.  What it gets
# is an answer of the contract: a 504 within the promised 30 s, a 409, a
# listing cut short, never a worker held for hours or a 500.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
command -v strace >/dev/null || skip_all "strace is not installed"
command -v python3 >/dev/null || skip_all "no python3"
sbd_start

api POST /sandboxes/f
is "$STATUS" 200 "f created"

# --- 1. a file child that sends a chunk now and then: 504 at 30 s ----------------------
# (the sandbox starves its child as it likes; here strace delays every
# write of the init's descendants by 2 s: a 4 MiB read, 64 chunks, would
# take two minutes, each chunk well within the 30 s a pipe may stay idle)
exec_in f 'head -c 4194304 /dev/urandom | base64 -w 0 | head -c 4194304 >/workspace/big.txt; stat -c %s /workspace/big.txt'
is "$(jqr .data.stdout)" 4194304 "a 4 MiB file"
INIT=$(init_of f)
strace -f -qq -p "$INIT" -e trace=write -e inject=write:delay_enter=2000000 -o /dev/null 2>/dev/null &
ST=$!
traced() { grep -q '^TracerPid:[[:space:]]*[1-9]' "/proc/$INIT/status"; }
for _ in $(seq 1 600); do traced && break; sleep 0.1; done
traced || { kill "$ST" 2>/dev/null; skip_all "strace cannot trace here (ptrace refused)"; }
T0=$SECONDS
api GET /sandboxes/f/files/workspace/big.txt '' -m 120
T=$((SECONDS - T0))
kill "$ST" 2>/dev/null; wait "$ST" 2>/dev/null
is "$STATUS" 504 "a JSON read the sandbox sends too slowly is a 504 ($(jqr .error))"
# 30 s is the bound; 64 chunks at 2 s would be 128 s
ok "$([ "$T" -lt 60 ]; echo $?)" "  at the 30 s bound, not when the last chunk comes ($T s)"
like "$(jqr .error)" 'did not send the file within 30 s' "  saying so"
api GET /sandboxes/f/files/workspace/big.txt
is "$STATUS/$(jqr .data.size)" 200/4194304 "untraced, the same read answers"

# a listing the child writes at once, in one write: held 40 s by strace,
# past the 30 s a pipe may stay idle (was a 500, "bad listing")
exec_in f 'mkdir -p /workspace/many && cd /workspace/many && touch a b c && ls | wc -l'
is "$(jqr .data.stdout)" 3 "a directory of 3 files"
strace -f -qq -p "$INIT" -e trace=write -e inject=write:delay_enter=40000000 -o /dev/null 2>/dev/null &
ST=$!
for _ in $(seq 1 600); do traced && break; sleep 0.1; done
T0=$SECONDS
api GET '/sandboxes/f/ls?path=/workspace/many' '' -m 120
T=$((SECONDS - T0))
kill "$ST" 2>/dev/null; wait "$ST" 2>/dev/null
is "$STATUS" 504 "a listing not sent within 30 s is a 504 ($(jqr .error))"
like "$(jqr .error)" 'did not send the listing within 30 s' "  saying so"
ok "$([ "$T" -lt 40 ]; echo $?)" "  at the 30 s bound ($T s)"
api GET '/sandboxes/f/ls?path=/workspace/many'
is "$STATUS/$(jqr '.data.entries | length')" 200/3 "untraced, the same listing answers"

# a process's log, read whole (not followed): the same bound
api POST /sandboxes/f/processes '{"processId": "big", "command": "head -c 4194304 /dev/zero | tr \"\\\\0\" a"}'
is "$STATUS" 200 "a process that writes 4 MiB of log"
for _ in $(seq 1 600); do api GET /sandboxes/f/processes/big; [ "$(jqr .data.status)" = completed ] && break; sleep 0.1; done
is "$(jqr .data.status)" completed "  and ends"
strace -f -qq -p "$INIT" -e trace=write -e inject=write:delay_enter=2000000 -o /dev/null 2>/dev/null &
ST=$!
for _ in $(seq 1 600); do traced && break; sleep 0.1; done
T0=$SECONDS
api GET /sandboxes/f/processes/big/logs '' -m 120
T=$((SECONDS - T0))
kill "$ST" 2>/dev/null; wait "$ST" 2>/dev/null
is "$STATUS" 504 "a log the sandbox sends too slowly is a 504 ($(jqr .error))"
ok "$([ "$T" -lt 60 ]; echo $?)" "  at the 30 s bound, not at the last chunk ($T s)"
api GET /sandboxes/f/processes/big/logs
is "$STATUS/$(jqr '.data.stdout | length')" 200/4194304 "untraced, the same log answers"

# --- 2. a lease the sandbox holds on its own file: 409, not 500 --------------------------
LEASE='import fcntl, os, signal, time
signal.signal(signal.SIGIO, signal.SIG_IGN)
fd = os.open("lease.txt", os.O_RDONLY)
while True:
    try:
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
    except OSError:
        pass
    time.sleep(0.05)'
api PUT /sandboxes/f/files/workspace/lease.py "$(jq -cn --arg c "$LEASE" '{content: $c}')"
api POST /sandboxes/f/processes '{"processId": "lease", "command": "cd /workspace && echo leased >lease.txt && exec python3 lease.py"}'
is "$STATUS" 200 "a process that takes a write lease on its file (and again after each break)"
leased() { exec_in f 'cat /proc/locks | grep -c LEASE'; [ "$(jqr .data.stdout)" -ge 1 ] 2>/dev/null; }
for _ in $(seq 1 600); do leased && break; sleep 0.1; done
ok "$(leased; echo $?)" "  the lease is held"
api GET /sandboxes/f/files/workspace/lease.txt
is "$STATUS" 409 "a read of a leased file is a 409 to retry ($(jqr .error))"
api DELETE /sandboxes/f/processes/lease
api GET /sandboxes/f/files/workspace/lease.txt
for _ in $(seq 1 100); do [ "$STATUS" = 200 ] && break; sleep 0.5; api GET /sandboxes/f/files/workspace/lease.txt; done
is "$STATUS/$(jqr .data.content)" "200/leased" "  and answers once the holder is gone"

# --- 3. names of control bytes: the listing is cut short, not a 500 ----------------------
# 10,000 links of 250-byte names of \x01 (six bytes each in JSON) and an
# owner named 63 of them: ~24 MB of answer where the child's estimate said 7
exec_in f 'mkdir -p /workspace/ctl && cd /workspace/ctl && : >f && python3 -c "
import os
for i in range(10000): os.link(\"f\", \"\x01\" * 245 + \"%05d\" % i)
"; sed -i "s/^root:/$(printf "\001%.0s" $(seq 1 63)):/" /etc/passwd; ls /workspace/ctl | wc -l'
is "$(jqr .data.stdout)" 10001 "10,001 names of control bytes"
exec_in f 'head -c 64 /etc/passwd | od -v -An -tx1 | tr -d " \n" | head -c 128'
is "$(jqr .data.stdout)" "$(printf '01%.0s' $(seq 1 63))3a" "  root renamed to 63 of them (the owner names count)"
api GET '/sandboxes/f/ls?path=/workspace/ctl'
is "$STATUS" 200 "the listing answers ($(jqr .error))"
is "$(jqr .data.truncated)" true "  cut short (the child's 8 MiB, counted as sent)"
ok "$([ "$(jqr '.data.entries | length')" -gt 100 ]; echo $?)" "  with the entries that fit ($(jqr '.data.entries | length'))"
exec_in f 'sed -i "s/^[^:]*:x:0:/root:x:0:/" /etc/passwd; rm -rf /workspace/ctl; head -c 5 /etc/passwd'
is "$(jqr .data.stdout)" "root:" "root named again"

# --- 4. a time beyond what milliseconds hold (tmpfs keeps any): an answer ---------------
exec_in f 'mkdir -p /tmp/t && touch /tmp/t/far && python3 -c "
import os; os.utime(\"/tmp/t/far\", ns=(0, (2**62) * 10**9 // 10**9 * 10**9))" 2>&1; stat -c %Y /tmp/t/far; stat -f -c %T /tmp'
diag "far file: $(jqr .data.stdout | tr '\n' ' ')"
api GET '/sandboxes/f/ls?path=/tmp/t'
is "$STATUS/$(jqr '.data.entries[0].name')" "200/far" "a listing of a file of a far time answers"
mt() { printf '%s' "$BODY" | python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["entries"][0]["mtime"])'; }
is "$(mt)" 9223372036854775807 "  its mtime the largest milliseconds hold (was a signed overflow: 0)"
api GET /sandboxes/f/files/tmp/t/far
is "$STATUS" 200 "  and its read"

# --- 5. a name that is not UTF-8: the answer is JSON text all the same ------------------
exec_in f 'mkdir -p /workspace/l1 && cd /workspace/l1 && python3 -c "
import os
open(b\"caf\\xe9-\\xff.txt\", \"w\").write(\"latin\")
os.symlink(b\"to-\\xfe\", b\"link\")"; ls | wc -l'
is "$(jqr .data.stdout)" 2 "a file named caf\\xe9-\\xff.txt (Latin-1) and a link to to-\\xfe"
api GET '/sandboxes/f/ls?path=/workspace/l1'
is "$STATUS" 200 "the listing answers"
strict() { printf '%s' "$BODY" | python3 -c 'import json, sys; json.loads(sys.stdin.buffer.read().decode("utf-8")); print("valid")' 2>&1 | tail -n 1; }
is "$(strict)" valid "  as valid UTF-8 JSON (RFC 8259)"
is "$(jqr '[.data.entries[] | select(.type == "file")][0].nameBase64' | base64 -d | od -An -c | tr -s ' ')" \
	" c a f 351 - 377 . t x t" "  the name's bytes in nameBase64"
is "$(jqr '[.data.entries[] | select(.type == "file")][0].name')" "$(printf 'caf\357\277\275-\357\277\275.txt')" "  its name with U+FFFD for them"
is "$(jqr '[.data.entries[] | select(.type == "symlink")][0].targetBase64' | base64 -d | od -An -c | tr -s ' ')" \
	" t o - 376" "  a link's target's bytes in targetBase64"
is "$(jqr '[.data.entries[] | select(.type == "symlink")][0] | has("nameBase64")')" false "  a UTF-8 name has no nameBase64"

api GET /healthz
is "$STATUS" 200 "the service answers"
api POST /sandboxes/f/destroy
done_testing
