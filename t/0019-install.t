#!/bin/bash
# The install: `make install DESTDIR=...` from the build tree lays out the
# programs, the config file, the nginx server, the systemd unit, the man
# pages and the state directory, with the configured paths filled in; the
# config file names every option and documents ranges the code enforces; the
# unit passes systemd-analyze verify; the installed sandboxd, started with
# the unit's ExecStart line (and the unit's NoNewPrivileges, ProtectSystem
# and ProtectHome reproduced), serves through the installed nginx server,
# reloads on SIGHUP and stops its sandboxes on SIGTERM; a second install
# keeps an edited config file; make uninstall leaves no file behind.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/t/lib.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (namespaces, cgroups)"
[ -x "$SANDBOXD" ] || bail "no sandboxd binary at $SANDBOXD"
BUILD=$(cd "$(dirname "$SANDBOXD")" && pwd)
[ -f "$BUILD/Makefile" ] || skip_all "$BUILD is not a build tree (no Makefile)"
command -v make >/dev/null || skip_all "no make"

T_DIR=$(mktemp -d /tmp/sbd-t.XXXXXX) || bail "mktemp"
chmod 0711 "$T_DIR"
trap sbd_cleanup EXIT
ROOT=$T_DIR/root

# --- make install ------------------------------------------------------------------------------
# the installation directories, as the build tree's Makefile has them
DIRS=$(make -s --no-print-directory -C "$BUILD" -f Makefile -f - sbd-print-dirs <<'EOF'
sbd-print-dirs:
	@echo "sbindir='$(sbindir)' sysconfdir='$(sysconfdir)' localstatedir='$(localstatedir)'"
	@echo "mandir='$(mandir)' unitdir='$(systemdsystemunitdir)' nginxconfdir='$(nginxconfdir)'"
	@echo "pkglibexecdir='$(pkglibexecdir)'"
EOF
) || bail "cannot read the installation directories from $BUILD/Makefile"
eval "$DIRS"
diag "installing to $ROOT: sbindir=$sbindir sysconfdir=$sysconfdir localstatedir=$localstatedir"
[ -n "$unitdir" ] && [ -n "$nginxconfdir" ] || bail "the Makefile has no systemdsystemunitdir or nginxconfdir"

make -C "$BUILD" install DESTDIR="$ROOT" >"$T_DIR/install.log" 2>&1
ok $? "make install DESTDIR=... succeeds" || tail -n 20 "$T_DIR/install.log" | sed 's/^/# /'

CONF=$ROOT$sysconfdir/sandboxd/sandboxd.conf
NGX=$ROOT$nginxconfdir/sandboxd.conf
UNIT=$ROOT$unitdir/sandboxd.service
STATE=$ROOT$localstatedir/lib/sandboxd
want_files=$(printf '%s\n' "$sbindir/sandboxd" "$sbindir/sandboxd-image" "$pkglibexecdir/sandboxd-init" \
	"$sysconfdir/sandboxd/sandboxd.conf" "$nginxconfdir/sandboxd.conf" \
	"$unitdir/sandboxd.service" "$mandir/man5/sandboxd.conf.5" \
	"$mandir/man8/sandboxd.8" "$mandir/man8/sandboxd-image.8" | grep -v '^no/' | sort)
# configured --with-nginxconfdir=no or --with-systemdsystemunitdir=no: not
# installed, but made in the build tree all the same
if [ "$nginxconfdir" = no ]; then NGX=$BUILD/dist/nginx/sandboxd.conf; diag "nginx server not installed (no)"; fi
if [ "$unitdir" = no ]; then UNIT=$BUILD/dist/sandboxd.service; diag "systemd unit not installed (no)"; fi
is "$(cd "$ROOT" && find . -type f -o -type l | sed 's|^\.||' | sort)" "$want_files" \
	"the files installed are the programs, the sandbox init, config, nginx server, unit and man pages"
ok $([ -x "$ROOT$sbindir/sandboxd" ] && [ -x "$ROOT$sbindir/sandboxd-image" ] &&
	[ -x "$ROOT$pkglibexecdir/sandboxd-init" ]; echo $?) \
	"the programs are executable (sandboxd-init in PKGLIBEXECDIR)"
is "$(stat -c %a "$STATE" 2>/dev/null)" 711 "the state directory is made, mode 0711"
is "$(grep -l '@[a-z_]*@' "$CONF" "$NGX" "$UNIT" 2>/dev/null)" "" "no @placeholder@ is left in the installed files"

# the installed files agree with each other and with the configured paths
conf_value() { sed -n "s/^$1[[:space:]]*=[[:space:]]*//p" "$CONF"; }
SOCKET_CONF=$(conf_value socket)
is "$(conf_value data)" "$localstatedir/lib/sandboxd" "the config file's data is LOCALSTATEDIR/lib/sandboxd"
# (the API's upstream names its socket once; every location passes to that)
is "$(sed -n 's/^[[:space:]]*server[[:space:]]*unix:\([^;]*\);.*/\1/p' "$NGX")" "$SOCKET_CONF" \
	"the nginx server passes to the config file's socket ($SOCKET_CONF)"
is "$(sed -n 's/^[[:space:]]*fastcgi_pass[[:space:]]\+\([^;]*\);.*/\1/p' "$NGX" | grep -v '/preview\.sock$' | sort -u)" \
	sandboxd_fcgi "and every location of the API's passes to that upstream"
is "$(sed -n 's/^[[:space:]]*fastcgi_pass[[:space:]]*unix:\([^;]*\);.*/\1/p' "$NGX" | grep '/preview\.sock$' | sort -u)" \
	"$(sed -n 's/^# preview-socket = //p' "$CONF")" \
	"the preview servers pass to the config file's preview-socket"
is "$(sed -n 's/^[[:space:]]*listen[[:space:]]*\([^;]*\);.*/\1/p' "$NGX" | sort -u)" 127.0.0.1:8787 \
	"the nginx servers (API, previews) listen on 127.0.0.1:8787"
# the two preview forms keep their tokens out of Referer, as the dev config's
# do (t/0036 follows them through nginx)
is "$(sed -n 's/^[[:space:]]*add_header[[:space:]]*Referrer-Policy[[:space:]]*\([^;]*\);.*/\1/p' "$NGX" | uniq | tr '\n' ,):$(grep -c '^[[:space:]]*proxy_hide_header[[:space:]]*Referrer-Policy;' "$NGX"):$(grep -c '^[[:space:]]*proxy_hide_header[[:space:]]*Service-Worker-Allowed;' "$NGX")" \
	"same-origin always,strict-origin always,:2:1" \
	"the installed preview servers replace any Referrer-Policy: same-origin (host form), strict-origin (path form, no Service-Worker-Allowed)"
is "$(sed -n 's/^ExecStart=//p' "$UNIT")" "$sbindir/sandboxd --config $sysconfdir/sandboxd/sandboxd.conf" \
	"the unit starts sbindir/sandboxd --config SYSCONFDIR/sandboxd/sandboxd.conf"

# the man pages render without a warning
if command -v groff >/dev/null; then
	for page in "$mandir/man8/sandboxd.8" "$mandir/man8/sandboxd-image.8" "$mandir/man5/sandboxd.conf.5"; do
		is "$(groff -man -Tutf8 -ww -z "$ROOT$page" 2>&1)" "" "groff -man -ww: $(basename "$page") has no warning"
	done
else
	diag "no groff: man pages not checked"
fi

# --- the config file documents every option ---------------------------------------------------
# keys: setting lines, commented out or not
keys_of() { sed -n 's/^\(# \)\{0,1\}\([a-z][a-z-]*\) = .*/\2/p' "$1"; }
OPTIONS=$("$ROOT$sbindir/sandboxd" --help | sed -n 's/^  --\([a-z][a-z-]*\).*/\1/p' |
	grep -vx 'config\|routes\|help' | sort)
is "$(keys_of "$CONF" | sort)" "$OPTIONS" "the config file has a line for every option of sandboxd --help, once"
"$ROOT$sbindir/sandboxd" --config "$CONF" --routes >/dev/null 2>"$T_DIR/routes.err"
ok $? "the installed config file is accepted as it is" || sed 's/^/# /' "$T_DIR/routes.err"
# every commented-out setting uncommented: the documented defaults and examples hold
sed 's/^# \([a-z][a-z-]*\) = /\1 = /' "$CONF" >"$T_DIR/all.conf"
"$ROOT$sbindir/sandboxd" --config "$T_DIR/all.conf" --routes >/dev/null 2>"$T_DIR/routes.err"
ok $? "the config file with every setting uncommented is accepted" || sed 's/^/# /' "$T_DIR/routes.err"

# each integer range the config file documents (`A..B` in the comment above
# a key) is the one sandboxd enforces: A and B pass, A-1 and B+1 do not
accepts() {	# accepts KEY VALUE: the config file line `KEY = VALUE` passes
	local extra=
	case $1 in	# uid-base + 65536 x uid-slots must stay below 2^32
	uid-base) extra='uid-slots = 1' ;;
	uid-slots) extra='uid-base = 65536' ;;
	esac
	printf '%s = %s\n%s\n' "$1" "$2" "$extra" >"$T_DIR/one.conf"
	"$ROOT$sbindir/sandboxd" --config "$T_DIR/one.conf" --routes >/dev/null 2>&1
}
block= bad_ranges= nranges=0
SETTING='^(# )?([a-z][a-z-]*) = '
while IFS= read -r line; do
	if [[ $line =~ $SETTING ]]; then
		key=${BASH_REMATCH[2]}
		range=$(printf '%s\n' "$block" | grep -oE '(^|[^0-9.])[0-9]+\.\.[0-9]+' | head -n 1 | sed 's/^[^0-9]*//')
		block=
		[ -n "$range" ] || continue
		lo=${range%..*} hi=${range#*..}
		nranges=$((nranges + 1))
		accepts "$key" "$lo" || bad_ranges="$bad_ranges $key=$lo(refused)"
		accepts "$key" "$hi" || bad_ranges="$bad_ranges $key=$hi(refused)"
		[ "$lo" -gt 0 ] && accepts "$key" $((lo - 1)) && bad_ranges="$bad_ranges $key=$((lo - 1))(accepted)"
		accepts "$key" $((hi + 1)) && bad_ranges="$bad_ranges $key=$((hi + 1))(accepted)"
	elif [[ $line == '#'* ]]; then
		block="$block ${line#\#}"
	else
		block=
	fi
done <"$CONF"
ok $([ "$nranges" -ge 20 ]; echo $?) "the config file documents $nranges integer ranges"
is "${bad_ranges# }" "" "every documented range is the one sandboxd enforces"

# --- the systemd unit ----------------------------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
	# verified with the installed program and man pages (the unit's paths
	# are the final ones, not under DESTDIR): a copy that runs the one in
	# DESTDIR, and man looking there
	mkdir -p "$T_DIR/unit"
	sed "s|^ExecStart=$sbindir/|ExecStart=$ROOT$sbindir/|" "$UNIT" >"$T_DIR/unit/sandboxd.service"
	OUT=$(cd "$T_DIR/unit" && MANPATH=$ROOT$mandir systemd-analyze verify "$T_DIR/unit/sandboxd.service" 2>&1)
	RC=$?
	is "$RC:$OUT" "0:" "systemd-analyze verify passes the unit, with no warning"
else
	diag "no systemd-analyze: the unit is not verified"
fi

# --- a second install keeps an edited config file --------------------------------------------------
echo "# edited by the administrator" >>"$CONF"
make -C "$BUILD" install DESTDIR="$ROOT" >"$T_DIR/install2.log" 2>&1
ok $? "make install again succeeds"
ok $(grep -q '^# edited by the administrator$' "$CONF"; echo $?) "an edited config file is kept"
ok $(cmp -s "$CONF.new" "$BUILD/dist/sandboxd.conf"; echo $?) "and the new one is installed beside it as sandboxd.conf.new"

# --- the installed service ---------------------------------------------------------------------
# As the unit runs it: its ExecStart line (the installed program and config
# file; the command line moves the state, socket, pid file, cgroups and uids
# somewhere private), with no_new_privs and /usr, /boot, /etc, /home, /root
# read-only as the unit's NoNewPrivileges=, ProtectSystem=full and
# ProtectHome=read-only have them.  (PrivateTmp= is not reproduced: the test's
# state is in /tmp.)
# The installed config turns networking on: the service gets a network
# namespace of its own (its resolver address, nft table and the sandboxes'
# links stay there), so it runs beside `./dev up` and other instances that
# use the default pool; nginx reaches it over the unix socket.
HARDEN=()
if command -v unshare >/dev/null && command -v setpriv >/dev/null; then
	HARDEN=(unshare --mount --net --propagation slave sh -c '
		ip link set lo up || exit 96
		for d in /usr /boot /efi /etc /home /root /run/user; do
			[ -d "$d" ] && [ ! -L "$d" ] || continue
			mount --rbind "$d" "$d" && mount -o remount,bind,ro "$d" || exit 97
		done
		exec setpriv --no-new-privs "$@"' sh)
else
	diag "no unshare or setpriv: the unit's sandboxing is not reproduced"
fi
DATA=$T_DIR/data
SOCK=$DATA/run/fcgi.sock
INSTANCE=t$$x$RANDOM
UID_BASE=$((0x40000000 + (RANDOM % 700) * 64 * 65536))
"${HARDEN[@]}" "$ROOT$sbindir/sandboxd" --config "$CONF" \
	--data "$DATA" --socket "$SOCK" --pidfile "$T_DIR/sandboxd.pid" \
	--instance "$INSTANCE" --uid-base "$UID_BASE" --uid-slots 64 --workers 2 \
	>>"$T_DIR/sandboxd.log" 2>&1 &
for _ in $(seq 1 1200); do [ -S "$SOCK" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || { sed 's/^/# /' "$T_DIR/sandboxd.log"; bail "the installed sandboxd did not start"; }
MASTER=$(cat "$T_DIR/sandboxd.pid")
if [ ${#HARDEN[@]} -gt 0 ]; then
	is "$(sed -n 's/^NoNewPrivs:[[:space:]]*//p' "/proc/$MASTER/status")" 1 "the master runs with no_new_privs"
	like "$(awk '$5 == "/usr" { print $6 }' "/proc/$MASTER/mountinfo")" '^ro(,|$)' "and sees /usr read-only"
fi

# nginx with an http {} that includes the installed server, on a free port
NGINX_CONF_DIR=$(dirname "$("$NGINX_BIN" -V 2>&1 | sed -n 's/.*--conf-path=\([^ ]*\).*/\1/p')")
[ -f "$NGINX_CONF_DIR/fastcgi_params" ] || NGINX_CONF_DIR=/etc/nginx
mkdir -p "$T_DIR/nginx/conf.d" "$T_DIR/nginx-tmp"
ln -s "$NGINX_CONF_DIR/fastcgi_params" "$T_DIR/nginx/fastcgi_params"
cat >"$T_DIR/nginx/nginx.conf" <<EOF
daemon on;
worker_processes 1;
user www-data www-data;
pid $T_DIR/nginx.pid;
error_log $T_DIR/nginx-error.log warn;
events {
	worker_connections 512;
}
http {
	access_log $T_DIR/nginx-access.log;
	client_body_temp_path $T_DIR/nginx-tmp/body;
	fastcgi_temp_path $T_DIR/nginx-tmp/fastcgi;
	proxy_temp_path $T_DIR/nginx-tmp/proxy;
	uwsgi_temp_path $T_DIR/nginx-tmp/uwsgi;
	scgi_temp_path $T_DIR/nginx-tmp/scgi;
	include $T_DIR/nginx/conf.d/*.conf;
}
EOF
PORT=
for try in 1 2 3 4 5 6 7 8 9 10; do
	PORT=$((20000 + RANDOM % 40000))
	sed -e "s|^\([[:space:]]*listen[[:space:]]*\)127\.0\.0\.1:8787;|\1127.0.0.1:$PORT;|" \
		-e "s|^\([[:space:]]*server[[:space:]]*unix:\)$SOCKET_CONF;|\1$SOCK;|" \
		"$NGX" >"$T_DIR/nginx/conf.d/sandboxd.conf"
	"$NGINX_BIN" -c "$T_DIR/nginx/nginx.conf" -p "$T_DIR" -e "$T_DIR/nginx-error.log" \
		2>>"$T_DIR/nginx-start.log" && break
	PORT=
done
[ -n "$PORT" ] || bail "nginx did not start: $(tail -n 3 "$T_DIR/nginx-start.log")"
# the API's server and the two preview servers listen there; the API's socket is replaced
is "$(grep -c "listen 127.0.0.1:$PORT;" "$T_DIR/nginx/conf.d/sandboxd.conf"):$(grep -c "^[[:space:]]*listen " "$NGX"):$(grep -c "server unix:$SOCK;" "$T_DIR/nginx/conf.d/sandboxd.conf")" 3:3:1 \
	"the installed server, with its port and socket replaced, runs in nginx's http {}"
BASE=http://127.0.0.1:$PORT
for _ in $(seq 1 1200); do curl -s -o /dev/null "$BASE/" && break; sleep 0.05; done

ID=install-$$
api POST "/sandboxes/$ID"
is "$STATUS" 200 "a sandbox is created through the installed nginx server"
exec_in "$ID" 'echo hi'
is "$STATUS:$(jqr .data.stdout)" "200:hi" "exec echo hi answers hi"
is "$(jqr .data.exitCode)" 0 "with exit code 0"
HDR=$(curl -s -D - -o /dev/null "$BASE/healthz" | tr -d '\r')
like "$HDR" '^HTTP/1\.1 200' "GET /healthz answers 200"
like "$HDR" $'\n''[Xx]-[Rr]equest-[Ii]d: [0-9a-f]{32}' "with nginx's request id as X-Request-Id"
api GET /no-such-route
is "$STATUS:$(jqr .success)" "404:false" "an unknown path reaches sandboxd (its JSON 404)"
STATUS=$(curl -s -o "$T_DIR/body" -w '%{http_code}' --path-as-is "$BASE/sandboxes/%00")
is "$STATUS:$(jq -r .success "$T_DIR/body" 2>/dev/null)" "400:false" "a request nginx refuses answers JSON too"

# a stream passes through unbuffered: the command goes on only once the test
# has seen its first line (a buffered stream would hold that line: no "second")
exec_in "$ID" 'rm -f /tmp/go'
got=$(curl -s -N --max-time 30 -X POST -H 'Content-Type: application/json' "$BASE/sandboxes/$ID/exec" \
	-d '{"command": "echo first; i=0; while [ ! -e /tmp/go ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done; [ -e /tmp/go ] && echo second", "stream": true}' |
	while IFS= read -r line; do
		case $line in
		*'"data":"first'*) exec_in "$ID" 'touch /tmp/go' ;;
		*'"data":"second'*) echo second ;;
		*'"type":"complete"'*) break ;;
		esac
	done)
is "$got" second "a streamed exec's first output reaches the client while the command still runs"

# ExecReload: SIGHUP replaces the workers, the sandbox keeps running
INIT=$(init_of "$ID")
is "$(readlink "/proc/$INIT/exe")" "$ROOT$pkglibexecdir/sandboxd-init" \
	"the installed sandboxd starts its sandboxes with the installed sandboxd-init"
before=$(sbd_workers)
kill -HUP "$MASTER"
for _ in $(seq 1 1200); do
	after=$(sbd_workers)
	[ -n "$after" ] && ! printf '%s\n' $after | grep -qxF -f <(printf '%s\n' $before) && break
	sleep 0.05
done
isnt "$after" "$before" "SIGHUP replaces the workers"
exec_in "$ID" 'echo again'
is "$STATUS:$(jqr .data.stdout)" "200:again" "and the service answers after it"
is "$(init_of "$ID")" "$INIT" "the sandbox kept running (same init)"

# a token configured in the installed file, taken at reload: no token is 401
TOKEN=tok-$RANDOM$RANDOM$RANDOM
printf 'ops sha256:%s *\n' "$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)" >"$T_DIR/tokens"
printf 'tokens-file = %s\n' "$T_DIR/tokens" >>"$CONF"
sbd_reload
exec_in "$ID" 'echo open'
is "$STATUS" 401 "with a token configured (and a reload), a request without it is 401"
api POST "/sandboxes/$ID/exec" '{"command": "echo with"}' -H "Authorization: Bearer $TOKEN"
is "$STATUS:$(jqr .data.stdout)" "200:with" "and with it, 200"

# stop as the unit does (KillMode=mixed: SIGTERM to the master alone)
alive() { [ -n "$1" ] && [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
ok $(alive "$INIT"; echo $?) "the sandbox's init runs before the stop"
kill -TERM "$MASTER"
for _ in $(seq 1 400); do alive "$MASTER" || break; sleep 0.1; done
ok $(! alive "$MASTER"; echo $?) "SIGTERM to the master stops the service"
rm -f "$T_DIR/sandboxd.pid"
ok $(! alive "$INIT"; echo $?) "the master stopped the sandbox itself"
ok $(! ls -d /sys/fs/cgroup/*/sandboxd-"$INSTANCE" /sys/fs/cgroup/sandboxd-"$INSTANCE" >/dev/null 2>&1; echo $?) \
	"and removed its cgroups"
HDR=$(curl -s -D - -o "$T_DIR/body" "$BASE/sandboxes/$ID" | tr -d '\r')
like "$HDR" '^HTTP/1\.1 503' "with sandboxd stopped, nginx answers 503"
like "$HDR" $'\n''Retry-After: 1' "with Retry-After"
is "$(jq -r .error "$T_DIR/body" 2>/dev/null)" "sandbox service unavailable" "in the API's JSON"

# --- make uninstall --------------------------------------------------------------------------
make -C "$BUILD" uninstall DESTDIR="$ROOT" >"$T_DIR/uninstall.log" 2>&1
ok $? "make uninstall DESTDIR=... succeeds" || tail -n 20 "$T_DIR/uninstall.log" | sed 's/^/# /'
is "$(cd "$ROOT" && find . ! -type d)" "" "no file is left"
ok $([ ! -e "$ROOT$sysconfdir/sandboxd" ] && [ ! -e "$STATE" ]; echo $?) \
	"sandboxd's own directories (config, state) are gone"
diag "directories left (make uninstall leaves shared ones): $(cd "$ROOT" && find . -mindepth 1 -type d | sort | tr '\n' ' ')"

done_testing
