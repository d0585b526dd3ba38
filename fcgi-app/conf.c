#include "config.h"

#include "conf.h"
#include "auth.h"
#include "imagestore.h"
#include "netpolicy.h"

#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fputs("usage: sandboxd [--config FILE] [options]\n"
	      "  --config FILE       read settings from FILE (key = value, keys are these\n"
	      "                      options' names); options given here override it;\n"
	      "                      SIGHUP re-reads it (see sandboxd.conf(5))\n"
	      "  --data DIR          state directory (default " SB_STATE_DIR ")\n"
	      "  --socket PATH       FastCGI socket (default DIR/run/fcgi.sock)\n"
	      "  --socket-group G    group that may connect (default www-data)\n"
	      "  --socket-mode MODE  the socket's mode, octal: 0600 (root only), 0660 or\n"
	      "                      0666 (any local user; default 0660)\n"
	      "  --workers N         workers at start and reload (default 2 x cores)\n"
	      "  --min-spare-workers N  idle workers kept ready: fewer, more are forked\n"
	      "                      (default 2)\n"
	      "  --max-spare-workers N  idle workers kept at most: more, one is retired\n"
	      "                      per 200 ms (default: workers)\n"
	      "  --max-workers N     workers on short requests at most; more requests\n"
	      "                      wait in the socket's backlog (default 64)\n"
	      "  --max-streams N     long-lived requests (streamed execs, log follows,\n"
	      "                      clones) open at once, each in a worker of its own\n"
	      "                      outside the pool; past it 503 (default 512)\n"
	      "  --instance NAME     names this service's cgroups (default sandboxd)\n"
	      "  --uid-base N        first host uid for sandboxes (default 268435456)\n"
	      "  --uid-slots N       sandboxes that may exist, 65536 ids each (default 4096)\n"
	      "  --cors-origin O     Access-Control-Allow-Origin with tokens (default *)\n"
	      "  --allowed-hosts L   without tokens, the names the Host header may give\n"
	      "                      (any port; default localhost 127.0.0.1 [::1])\n"
	      "  --allowed-origins L without tokens, the web origins (https://app.example)\n"
	      "                      whose pages may call the API (default: none)\n"
	      "  --max-body BYTES    largest JSON request body (default 1048576)\n"
	      "  --max-file-mb N     largest file read or written raw (default 1024)\n"
	      "  --timeout MS        default exec timeout (default 60000)\n"
	      "  --max-timeout MS    largest exec timeout a request may ask (default 600000)\n"
	      "  --max-output BYTES  stdout/stderr kept per exec stream (default 1048576)\n"
	      "  --send-timeout SEC  a stream (exec, clone, log follow) whose client takes\n"
	      "                      no byte for that long is over, as nginx's send_timeout:\n"
	      "                      its exec is killed; bounds every write (default 60)\n"
	      "  --log-follow-max SEC longest log follow; the client resumes with\n"
	      "                      Last-Event-ID (default 3600)\n"
	      "  --stream-heartbeat SEC a quiet stream's keep-alive comments (default 15)\n", f);
	sb_settings_usage(f);
	fputs("  --max-running N     sandboxes running at once (default 32; 0: no cap)\n"
	      "  --idle-stop SEC     stop a sandbox idle that long (default 600; 0: never)\n"
	      "  --destroy-after-idle SEC  destroy a sandbox idle that long, files and all (default 0: never)\n"
	      "  --clone-allow CIDR  a range clones may reach though it is private or\n"
	      "                      loopback (repeatable; e.g. 127.0.0.0/8 for tests)\n"
	      "  --clone-timeout SEC longest clone (default 600)\n"
	      "  --clone-max-mb N    most a clone may fetch (default 2048)\n"
	      "  --network[=no]      give each sandbox a network: a routed veth, NAT to the\n"
	      "                      host's uplink, a resolver, the platform deny set\n"
	      "                      (default: no, loopback only)\n"
	      "  --net-pool CIDR     sandbox addresses, a /31 each (default 10.89.0.0/16);\n"
	      "                      instances on one host need pools of their own\n"
	      "  --egress-allow CIDR a range sandboxes may reach though the platform deny\n"
	      "                      set holds it (repeatable; never other sandboxes)\n"
	      "  --net-resolv-conf FILE the resolvers the sandboxes' resolver forwards to\n"
	      "                      (default /etc/resolv.conf)\n"
	      "  --default-egress M  egress of a sandbox that asks none: public, allowlist\n"
	      "                      (nothing until it lists CIDRs) or none (default public)\n"
	      "  --net-conn-rate N   new connections a second a sandbox may open, beyond a\n"
	      "                      burst of as many (default 200; 0: no cap)\n"
	      "  --net-conn-max N    connections a sandbox may have open at once, out and to\n"
	      "                      the resolver (default 4096; 0: no cap)\n"
	      "  --ca-bundle FILE    the CA certificates (PEM) every sandbox trusts, read at\n"
	      "                      start: read-only at " CA_BUNDLE_PATH "\n"
	      "                      in every image, NODE_EXTRA_CA_CERTS in execs' env\n"
	      "                      (default: each image's own bundle)\n"
	      "  --disk-prealloc[=no] reserve a sandbox's whole disk on the host when its\n"
	      "                      image is made (fallocate): it never runs out of host\n"
	      "                      blocks under the sandbox (default: sparse images)\n"
	      "  --disk-reserve-mb N host space a create or a file write must leave free in\n"
	      "                      the data dir, else 507 (default 1024)\n"
	      "  --spare-disks N     disk images of the default size made ahead, so a\n"
	      "                      create need not wait for mke2fs (default 2; 0: none)\n"
	      "  --warm-sandboxes N  sandboxes of the default image and limits started ahead:\n"
	      "                      a create takes one at once (default 0; cgroup v1)\n"
	      "  --images DIR        images built or imported by sandboxd-image (default\n"
	      "                      DIR/images, beside the built-in `host` image)\n"
	      "  --default-image N   image of a sandbox whose create names none (default host)\n"
	      "  --cgroup-root DIR   where cgroupfs is mounted (default /sys/fs/cgroup)\n"
	      "  --no-favordynmods[=no] leave the host's cgroup2 mount options alone (by default\n"
	      "                      sandboxd sets favordynmods: each process move into a\n"
	      "                      cgroup otherwise waits for an RCU grace period)\n"
	      "  --no-host-sysctls[=no] leave fs.file-max and kernel.pty.max alone (by default\n"
	      "                      sandboxd raises them so that sandboxes meet their own\n"
	      "                      memory and pty bounds before these host-wide tables)\n"
	      "  --pidfile PATH      write the master's pid there\n"
	      "  --tokens-file FILE  bearer tokens (NAME sha256:HEX SCOPE per line); without\n"
	      "                      it only loopback/unix-socket requests are served\n"
	      "  --allow-remote-no-auth[=no]  serve non-loopback requests without tokens\n"
	      "  --history-max N     commands kept per sandbox for .../history (default 100)\n"
	      "  --store-map-mb N    LMDB map of the sandbox and process records; a tenant\n"
	      "                      (token scope) may fill its share of half of it\n"
	      "                      (default 1024)\n"
	      "  --history-map-mb N  LMDB map of the history, shared the same way (default 256)\n"
	      "  --max-sandboxes-per-token N  sandboxes a token of one scope may have\n"
	      "                      (default 100; 0: no cap; scope * has none)\n"
	      "  --max-requests-per-token N  requests the tokens of one scope may have in\n"
	      "                      flight at once, past it 429 (default half of\n"
	      "                      max-workers, 32; 0: no cap)\n"
	      "  --max-streams-per-token N  of them streams (default 32; 0: no cap)\n"
	      "  --max-requests-per-sandbox N  requests one sandbox may have in flight\n"
	      "                      (default 0: no cap)\n"
	      "  --max-streams-per-sandbox N  of them streams (default 0: no cap)\n"
	      "  --memory-overcommit PCT  the running sandboxes' memory limits may add up\n"
	      "                      to PCT % of the host's RAM (default 200; 0: unchecked);\n"
	      "                      their pids limits always stay below 7/8 of pid_max\n"
	      "  --disk-overcommit PCT  every sandbox's disk size (sparse) may add up to PCT %\n"
	      "                      of the data dir's file system (default 1000; 0: unchecked)\n"
	      "  --preview-domain D  exposed ports get URLs https://PORT-TOKEN.D/ (D may be\n"
	      "                      http://NAME[:PORT]); default none: previews off\n"
	      "  --preview-workers N workers answering only preview token checks, on a\n"
	      "                      socket of their own (default 2)\n"
	      "  --preview-socket PATH their FastCGI socket (default DIR/run/preview.sock)\n"
	      "  --routes            print every route (METHOD /pattern) and exit\n", f);
}

/* Why a value is refused: filled by the setter, said by the caller. */
#define WHY_LEN 160

static int refuse(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, WHY_LEN, fmt, ap);
	va_end(ap);
	return -1;
}

static int parse_num(const char *s, long long min, long long max, long long *out, char *why)
{
	char *end;

	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return refuse(why, "must be an integer from %lld to %lld", min, max);
	*out = v;
	return 0;
}

static int parse_bool(const char *s, bool *out, char *why)
{
	if (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "1"))
		*out = true;
	else if (!strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "0"))
		*out = false;
	else
		return refuse(why, "must be yes or no");
	return 0;
}

#define LIST_SEP ", \t"

/* An allowed-hosts entry: a DNS name or IPv4 address, or an IPv6 address
 * in brackets as a Host header gives it; no port (any port matches). */
static bool host_name_ok(const char *s, size_t n)
{
	const char *name = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-";
	size_t k = 0;

	if (n > 2 && s[0] == '[' && s[n - 1] == ']') {
		while (k < n - 2 && s[k + 1] && strchr("0123456789abcdefABCDEF:.", s[k + 1]))
			k++;
		return k == n - 2;
	}
	while (k < n && s[k] && strchr(name, s[k]))
		k++;
	return n > 0 && n <= 253 && k == n;
}

/* An allowed-origins entry: a web origin as a browser's Origin header
 * serializes it, http(s)://host[:port], nothing after. */
static bool origin_ok(const char *s, size_t n)
{
	size_t skip = !strncmp(s, "https://", 8) ? 8 : !strncmp(s, "http://", 7) ? 7 : 0;
	const char *host = s + skip, *end = s + n, *colon;

	if (!skip)
		return false;
	colon = host < end && *host == '[' ? memchr(host, ']', (size_t)(end - host)) : host;
	if (!colon)
		return false;
	colon = memchr(colon, ':', (size_t)(end - colon));
	if (!colon)
		return host_name_ok(host, (size_t)(end - host));
	if (end - colon < 2 || end - colon > 6)
		return false;
	for (const char *d = colon + 1; d < end; d++)
		if (*d < '0' || *d > '9')
			return false;
	return host_name_ok(host, (size_t)(colon - host));
}

/* A list setting: every entry passes ok(); an empty list when may_empty. */
static int list_ok(const char *val, bool (*ok)(const char *, size_t), bool may_empty,
		   const char *what, char *why)
{
	int n = 0;

	for (const char *p = val + strspn(val, LIST_SEP); *p; p += strspn(p, LIST_SEP)) {
		size_t len = strcspn(p, LIST_SEP);
		if (!ok(p, len))
			return refuse(why, "%.*s: %s", (int)(len < 80 ? len : 80), p, what);
		p += len;
		n++;
	}
	if (!n && !may_empty)
		return refuse(why, "must name at least one host");
	return 0;
}

/* overlayfs takes its directories in one option string: refuse separators */
static int path_ok(const char *p)
{
	return p[0] == '/' && !strpbrk(p, ",:\\\n");
}

/* What is checked and derived once everything is read. */
struct raw {
	const char *data, *sock, *inst, *images, *defimg, *psock;
};

/* The options with a check of their own. */
static int set_socket_mode(struct conf *c, const char *val, char *why)
{
	if (strcmp(val, "0600") && strcmp(val, "0660") && strcmp(val, "0666") && strcmp(val, "600") &&
	    strcmp(val, "660") && strcmp(val, "666"))
		return refuse(why, "must be 0600, 0660 or 0666");
	c->socket_mode = (mode_t)strtol(val, NULL, 8);
	return 0;
}

static int set_allowed_hosts(struct conf *c, const char *val, char *why)
{
	c->allowed_hosts = val;
	return list_ok(val, host_name_ok, false, "not a host name, IPv4 address or [IPv6] address (no port)",
		       why);
}

static int set_allowed_origins(struct conf *c, const char *val, char *why)
{
	c->allowed_origins = val;
	return list_ok(val, origin_ok, true, "not an origin such as https://app.example or http://localhost:3000",
		       why);
}

/* The options that name a file: absolute, so a reload or the unit's
 * working directory never changes which file it is. */
static int abs_path(const char **dst, const char *val, char *why)
{
	if (val[0] != '/')
		return refuse(why, "must be an absolute path");
	*dst = val;
	return 0;
}

static int set_tokens_file(struct conf *c, const char *val, char *why)
{
	return abs_path(&c->tokens_file, val, why);
}

static int set_clone_allow(struct conf *c, const char *val, char *why)
{
	if (c->nclone_allow == CLONE_MAX_ALLOW)
		return refuse(why, "at most %d ranges", CLONE_MAX_ALLOW);
	if (clone_allow_parse(val, &c->clone_allow[c->nclone_allow]) < 0)
		return refuse(why, "must be an IPv4 or IPv6 CIDR range such as 127.0.0.0/8");
	c->nclone_allow++;
	return 0;
}

/* preview-domain: [http:// or https://] a DNS name (wildcard DNS and a
 * wildcard certificate cover its subdomains) [: a port] */
static int set_preview_domain(struct conf *c, const char *val, char *why)
{
	const char *host = val, *colon;
	size_t n;

	if (!strncmp(host, "http://", 7))
		host += 7;
	else if (!strncmp(host, "https://", 8))
		host += 8;
	colon = strchr(host, ':');
	n = colon ? (size_t)(colon - host) : strlen(host);
	if (colon && (strlen(colon + 1) < 1 || strlen(colon + 1) > 5 ||
		      strspn(colon + 1, "0123456789") != strlen(colon + 1)))
		n = 0;
	if (!n || host[0] == '[' || host[0] == '.' || host[n - 1] == '.' || !host_name_ok(host, n) ||
	    strlen(val) >= sizeof c->preview_domain)
		return refuse(why, "must be a DNS name such as preview.example.com, with http:// or "
			      "https:// and a :port if need be");
	snprintf(c->preview_domain, sizeof c->preview_domain, "%s", val);
	return 0;
}

static int set_net_pool(struct conf *c, const char *val, char *why)
{
	if (net_cidr_parse(val, &c->net_pool) < 0 || c->net_pool.prefix > 30 || c->net_pool.prefix < 8)
		return refuse(why, "must be an IPv4 range from /8 to /30 such as 10.89.0.0/16 (host bits zero)");
	return 0;
}

static int set_egress_allow(struct conf *c, const char *val, char *why)
{
	if (c->negress_allow == NET_MAX_ALLOW)
		return refuse(why, "at most %d ranges", NET_MAX_ALLOW);
	if (net_cidr_parse(val, &c->egress_allow[c->negress_allow]) < 0)
		return refuse(why, "must be an IPv4 CIDR range such as 198.18.0.0/15 (host bits zero; "
			      "sandboxes have no IPv6)");
	c->negress_allow++;
	return 0;
}

static int set_net_resolv_conf(struct conf *c, const char *val, char *why)
{
	return abs_path(&c->net_resolv_conf, val, why);
}

static int set_ca_bundle(struct conf *c, const char *val, char *why)
{
	const char *p;

	if (abs_path(&p, val, why) < 0)
		return -1;
	if (strlen(val) >= sizeof c->ca_bundle)
		return refuse(why, "too long");
	strcpy(c->ca_bundle, val);
	return 0;
}

static int set_default_egress(struct conf *c, const char *val, char *why)
{
	enum net_mode m;

	if (egress_mode_parse(val, &m) < 0)
		return refuse(why, "must be public, allowlist or none");
	c->default_egress = (int)m;
	return 0;
}

static int set_cgroup_root(struct conf *c, const char *val, char *why)
{
	if (strlen(val) >= sizeof c->cgroup_root || val[0] != '/')
		return refuse(why, "must be an absolute path");
	snprintf(c->cgroup_root, sizeof c->cgroup_root, "%s", val);
	return 0;
}

enum opt_type {
	OPT_STR,	/* const char * in struct conf */
	OPT_RAW,	/* const char * in struct raw, checked by finish() */
	OPT_INT,	/* integers from min to max, times scale: int ... */
	OPT_U32,	/* ... uint32_t (uid_t) */
	OPT_LONG,
	OPT_SIZE,	/* size_t */
	OPT_I64,	/* int64_t */
	OPT_U64,	/* unsigned long long */
	OPT_BOOL,	/* a flag on the command line; yes|no in the file and as --x=no */
	OPT_FLAG,	/* --routes: command line only, no value */
	OPT_FN,		/* set() checks and stores */
	OPT_LIMIT,	/* a sandbox setting's default (its row: setting) */
	OPT_LIMIT_MAX,	/* ... its maximum */
};

struct conf_opt {
	const char *name;
	enum opt_type type;
	long long min, max;
	size_t offset;		/* of the field set, in struct conf (OPT_RAW: struct raw) */
	long long scale;	/* stored = given x scale */
	int (*set)(struct conf *c, const char *val, char *why);
	bool cmdline;		/* not a config file key */
	const struct sb_setting *setting;	/* OPT_LIMIT* (ranges are the row's) */
};

#define C(f) offsetof(struct conf, f)
#define R(f) offsetof(struct raw, f)

_Static_assert(sizeof(uid_t) == sizeof(uint32_t), "uid-base is set as a uint32_t");

/* Row makers: designated fields, the rest 0. */
#define STR(n, f) { .name = n, .type = OPT_STR, .offset = C(f) }
#define RAW(n, f) { .name = n, .type = OPT_RAW, .offset = R(f) }
#define NUM(n, t, lo, hi, f, k) { .name = n, .type = t, .min = lo, .max = hi, .offset = C(f), .scale = k }
#define BOOL(n, f) { .name = n, .type = OPT_BOOL, .offset = C(f) }
#define FN(n, fn) { .name = n, .type = OPT_FN, .set = fn }

static const struct conf_opt opts[] = {
	{ .name = "config", .type = OPT_STR, .offset = C(config), .cmdline = true },
	RAW("data", data),
	RAW("socket", sock),
	STR("socket-group", socket_group),
	FN("socket-mode", set_socket_mode),
	NUM("workers", OPT_INT, 1, 256, workers, 1),
	NUM("min-spare-workers", OPT_INT, 1, 1024, min_spare_workers, 1),
	NUM("max-spare-workers", OPT_INT, 1, 1024, max_spare_workers, 1),
	NUM("max-workers", OPT_INT, 1, 1024, max_workers, 1),
	NUM("max-streams", OPT_INT, 1, 2048, max_streams, 1),
	RAW("instance", inst),
	NUM("uid-base", OPT_U32, 65536, 0xFFFF0000LL, uid_base, 1),
	NUM("uid-slots", OPT_U32, 1, 65535, uid_slots, 1),
	STR("cors-origin", cors_origin),
	FN("allowed-hosts", set_allowed_hosts),
	FN("allowed-origins", set_allowed_origins),
	NUM("max-body", OPT_SIZE, 1024, 1LL << 30, max_body, 1),
	NUM("timeout", OPT_I64, 1, 86400000, default_timeout_ms, 1),
	NUM("max-timeout", OPT_I64, 1, 86400000, max_timeout_ms, 1),
	NUM("max-output", OPT_SIZE, 1024, 1LL << 30, max_output, 1),
	NUM("send-timeout", OPT_I64, 1, 3600, send_timeout_ms, 1000),
	NUM("log-follow-max", OPT_I64, 1, 86400 * 7, log_follow_max_ms, 1000),
	NUM("stream-heartbeat", OPT_I64, 1, 3600, heartbeat_ms, 1000),
	STR("pidfile", pidfile),
	FN("cgroup-root", set_cgroup_root),
	NUM("max-running", OPT_INT, 0, 100000, max_running, 1),
	NUM("max-file-mb", OPT_U64, 1, 1 << 24, max_file_bytes, 1 << 20),
	FN("clone-allow", set_clone_allow),
	NUM("clone-timeout", OPT_I64, 1, 86400, clone_timeout_ms, 1000),
	NUM("clone-max-mb", OPT_U64, 1, 1 << 24, clone_max_bytes, 1 << 20),
	BOOL("network", network),
	FN("net-pool", set_net_pool),
	FN("egress-allow", set_egress_allow),
	FN("net-resolv-conf", set_net_resolv_conf),
	FN("default-egress", set_default_egress),
	FN("ca-bundle", set_ca_bundle),
	NUM("net-conn-rate", OPT_INT, 0, 1000000, net_conn_rate, 1),
	NUM("net-conn-max", OPT_INT, 0, 1000000, net_conn_max, 1),
	NUM("idle-stop", OPT_I64, 0, 86400 * 365, idle_stop_ms, 1000),
	NUM("destroy-after-idle", OPT_I64, 0, 86400 * 3650, destroy_idle_ms, 1000),
	RAW("images", images),
	NUM("spare-disks", OPT_INT, 0, 64, spare_disks, 1),
	BOOL("disk-prealloc", disk_prealloc),
	NUM("disk-reserve-mb", OPT_LONG, 0, 1 << 24, disk_reserve_mb, 1),
	NUM("warm-sandboxes", OPT_INT, 0, 64, warm_sandboxes, 1),
	BOOL("no-favordynmods", no_favordynmods),
	BOOL("no-host-sysctls", no_host_sysctls),
	RAW("default-image", defimg),
	FN("tokens-file", set_tokens_file),
	BOOL("allow-remote-no-auth", allow_remote_no_auth),
	NUM("history-max", OPT_INT, 0, 100000, history_max, 1),
	NUM("store-map-mb", OPT_SIZE, 1, 1 << 20, store_map_bytes, 1 << 20),
	NUM("history-map-mb", OPT_SIZE, 1, 1 << 20, history_map_bytes, 1 << 20),
	NUM("max-sandboxes-per-token", OPT_INT, 0, 1000000, max_sandboxes_per_token, 1),
	NUM("max-requests-per-token", OPT_INT, 0, 100000, max_requests_per_token, 1),
	NUM("max-streams-per-token", OPT_INT, 0, 100000, max_streams_per_token, 1),
	NUM("max-requests-per-sandbox", OPT_INT, 0, 100000, max_requests_per_sandbox, 1),
	NUM("max-streams-per-sandbox", OPT_INT, 0, 100000, max_streams_per_sandbox, 1),
	NUM("memory-overcommit", OPT_INT, 0, 100000, memory_overcommit, 1),
	NUM("disk-overcommit", OPT_INT, 0, 100000, disk_overcommit, 1),
	FN("preview-domain", set_preview_domain),
	NUM("preview-workers", OPT_INT, 1, 64, preview_workers, 1),
	RAW("preview-socket", psock),
	{ .name = "routes", .type = OPT_FLAG, .offset = C(print_routes), .cmdline = true },
};

#define NOPTS (sizeof opts / sizeof opts[0])
#define OPT_VAL 256	/* getopt's val of option 0 (above any short option) */
#define NALL (NOPTS + 2 * SB_NSETTINGS)

/* Option i of all of them: a row of opts, then each sandbox setting's
 * default and maximum (their rows made from sb_settings). */
static struct conf_opt opt_at(size_t i)
{
	const struct sb_setting *s;

	if (i < NOPTS)
		return opts[i];
	i -= NOPTS;
	s = &sb_settings[i / 2];
	return (struct conf_opt){ .name = i % 2 ? s->max_opt : s->opt,
				  .type = i % 2 ? OPT_LIMIT_MAX : OPT_LIMIT, .setting = s };
}

static const char *opt_name(size_t i)
{
	return opt_at(i).name;
}

/* A sandbox setting's default or maximum, as the row says. */
static int set_limit(struct sb_limits *l, const struct sb_setting *s, bool max, const char *val, char *why)
{
	long long v;

	if (s->scale != 1) {
		char *end;
		double d = strtod(val, &end), lo = (double)s->min / (double)s->scale,
		       hi = (double)s->max / (double)s->scale;
		if (end == val || *end || !(d >= lo && d <= hi))
			return refuse(why, "must be a number of %s from %g to %g", s->units, lo, hi);
		*sb_limit(l, s) = (long)(d * (double)s->scale + 0.5);
		return 0;
	}
	if (parse_num(val, s->none_ok && !max ? 0 : s->min, s->max, &v, why) < 0)
		return -1;
	if (v > 0 && v < s->min)
		return refuse(why, "must be 0 (%s) or at least %ld", s->none, s->min);
	*sb_limit(l, s) = (long)v;
	return 0;
}

/* One setting from the command line or the file (val NULL: an optional
 * value not given); val is kept (copy it). */
static int conf_set(struct conf *c, struct raw *raw, size_t i, const char *val, char *why)
{
	struct conf_opt o = opt_at(i);
	char *field = (o.type == OPT_RAW ? (char *)raw : (char *)c) + o.offset;
	long long v;

	why[0] = '\0';
	switch (o.type) {
	case OPT_STR:
	case OPT_RAW:
		*(const char **)field = val;
		return 0;
	case OPT_BOOL:
		return val ? parse_bool(val, (bool *)field, why) : (*(bool *)field = true, 0);
	case OPT_FLAG:
		*(bool *)field = true;
		return 0;
	case OPT_FN:
		return o.set(c, val, why);
	case OPT_LIMIT:
	case OPT_LIMIT_MAX:
		return set_limit(o.type == OPT_LIMIT ? &c->limits : &c->max_limits, o.setting,
				 o.type == OPT_LIMIT_MAX, val, why);
	default:
		break;
	}
	if (parse_num(val, o.min, o.max, &v, why) < 0)
		return -1;
	v *= o.scale;
	switch (o.type) {
	case OPT_INT: *(int *)field = (int)v; break;
	case OPT_U32: *(uint32_t *)field = (uint32_t)v; break;
	case OPT_LONG: *(long *)field = (long)v; break;
	case OPT_SIZE: *(size_t *)field = (size_t)v; break;
	case OPT_I64: *(int64_t *)field = (int64_t)v; break;
	case OPT_U64: *(unsigned long long *)field = (unsigned long long)v; break;
	default: return -1;
	}
	return 0;
}

static void defaults(struct conf *c, struct raw *raw)
{
	memset(c, 0, sizeof *c);
	memset(raw, 0, sizeof *raw);
	raw->data = SB_STATE_DIR;
	raw->inst = "sandboxd";
	raw->defimg = IMAGE_BUILTIN;
	c->socket_group = "www-data";
	c->socket_mode = 0660;
	c->cors_origin = "*";
	c->allowed_hosts = "localhost 127.0.0.1 [::1]";
	c->allowed_origins = "";
	c->workers = 2 * (int)sysconf(_SC_NPROCESSORS_ONLN);
	c->min_spare_workers = 2;
	c->max_spare_workers = 0;	/* finish(): the workers (or min-spare) */
	c->max_workers = 0;		/* finish(): 64, or the workers when more */
	c->max_streams = 512;
	c->uid_base = 268435456;
	c->uid_slots = 4096;
	c->max_body = 1048576;
	c->max_file_bytes = 1024ULL << 20;
	c->clone_timeout_ms = 600000;
	c->clone_max_bytes = 2048ULL << 20;
	c->default_timeout_ms = 60000;
	c->max_timeout_ms = 600000;
	c->max_output = 1048576;
	c->send_timeout_ms = 60000;
	c->log_follow_max_ms = 3600000;
	c->heartbeat_ms = 15000;
	sb_limits_defaults(&c->limits, &c->max_limits);
	snprintf(c->cgroup_root, sizeof c->cgroup_root, "/sys/fs/cgroup");
	c->max_running = 32;
	c->spare_disks = 2;
	c->disk_reserve_mb = 1024;
	c->idle_stop_ms = 600000;
	c->history_max = 100;
	c->store_map_bytes = (size_t)1024 << 20;
	c->history_map_bytes = (size_t)256 << 20;
	c->max_sandboxes_per_token = 100;
	c->memory_overcommit = 200;
	c->max_requests_per_token = -1;	/* finish(): half of max-workers */
	c->max_streams_per_token = 32;
	c->disk_overcommit = 1000;
	c->preview_workers = 2;
	c->net_pool.addr = 0x0A590000;	/* 10.89.0.0/16 */
	c->net_pool.prefix = 16;
	c->net_resolv_conf = "/etc/resolv.conf";
	c->net_conn_rate = 200;
	c->net_conn_max = 4096;
}

/* The index of the option named name (-1: none). */
static long by_name(const char *name)
{
	for (size_t i = 0; i < NALL; i++)
		if (!strcmp(opt_name(i), name))
			return (long)i;
	return -1;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
#define cleanup_fclose __attribute__((cleanup(fclosep)))

/* A "key = value" line of the config file (key: the line, blanks trimmed). */
static int read_line(struct conf *c, struct raw *raw, const char *path, int lineno, char *key)
{
	char why[WHY_LEN], *eq = strchr(key, '='), *val;
	long op;

	if (!eq) {
		fprintf(stderr, "sandboxd: %s:%d: expected \"key = value\"\n", path, lineno);
		return -1;
	}
	*eq = '\0';
	key = trim(key);
	val = trim(eq + 1);
	op = by_name(key);
	if (op < 0 || opt_at((size_t)op).cmdline) {
		fprintf(stderr, "sandboxd: %s:%d: %s: unknown key\n", path, lineno, key);
		return -1;
	}
	if (!*val) {
		fprintf(stderr, "sandboxd: %s:%d: %s: no value\n", path, lineno, key);
		return -1;
	}
	if (conf_set(c, raw, (size_t)op, strdup(val), why) < 0) {
		fprintf(stderr, "sandboxd: %s:%d: %s: %s\n", path, lineno, key, why[0] ? why : "bad value");
		return -1;
	}
	return 0;
}

/* The config file: "key = value" lines, '#' comments, blank lines. */
static int read_file(struct conf *c, struct raw *raw, const char *path)
{
	cleanup_fclose FILE *f = fopen(path, "re");
	cleanup_free char *line = NULL;
	size_t cap = 0;
	int lineno = 0;

	if (!f) {
		fprintf(stderr, "sandboxd: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (getline(&line, &cap, f) > 0) {
		char *key = trim(line);

		lineno++;
		if (*key && *key != '#' && read_line(c, raw, path, lineno, key) < 0)
			return -1;
	}
	return 0;
}

/* Checks across keys, and the derived names and paths. */
static int finish(struct conf *c, const struct raw *raw)
{
	const char *bad = NULL;

	if (!path_ok(raw->data))
		bad = "data: must be an absolute path without , : or \\";
	else if (raw->images && (raw->images[0] != '/' || strlen(raw->images) >= sizeof c->images_dir))
		bad = "images: must be an absolute path";
	else if (!image_name_ok(raw->defimg))
		bad = "default-image: not an image name";
	else if ((unsigned long long)c->uid_base + 65536ULL * c->uid_slots > 0xFFFFFFFFULL)
		bad = "uid-base + 65536 x uid-slots must stay below 2^32";
	else if (strlen(raw->inst) >= sizeof c->instance || !*raw->inst ||
		 strspn(raw->inst, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
			 strlen(raw->inst))
		bad = "instance: letters, digits, _ and - only, at most 47";
	else if (c->network && net_pool_slots(c->net_pool.prefix) < c->uid_slots)
		bad = "net-pool: fewer /31s than uid-slots (one per sandbox, the last the resolver's); "
		      "widen it or lower uid-slots";
	else if (strlen(raw->data) >= sizeof c->data_dir ||
		 (raw->sock && strlen(raw->sock) >= sizeof c->socket_path) ||
		 (raw->psock && strlen(raw->psock) >= sizeof c->preview_socket))
		bad = "data, socket or preview-socket: path too long";
	else if (raw->psock && raw->psock[0] != '/')
		bad = "preview-socket: must be an absolute path";
	if (bad) {
		fprintf(stderr, "sandboxd: %s\n", bad);
		return -1;
	}
	sb_limits_cap(&c->limits, &c->max_limits);
	/* the pool's numbers agree, the ones given explicitly first: a
	 * max-workers below workers caps the start, a max-spare below
	 * min-spare the min */
	if (!c->max_workers)
		c->max_workers = c->workers > 64 ? c->workers : 64;
	if (c->workers > c->max_workers)
		c->workers = c->max_workers;
	/* one token's short requests (buffered execs that have not yet left
	 * the pool) never take every short-request worker: half at most */
	if (c->max_requests_per_token < 0)
		c->max_requests_per_token = c->max_workers > 1 ? c->max_workers / 2 : 1;
	if (!c->max_spare_workers)
		c->max_spare_workers = c->workers > c->min_spare_workers ? c->workers : c->min_spare_workers;
	if (c->min_spare_workers > c->max_spare_workers)
		c->min_spare_workers = c->max_spare_workers;
	if (c->default_timeout_ms > c->max_timeout_ms)
		c->default_timeout_ms = c->max_timeout_ms;
	snprintf(c->data_dir, sizeof c->data_dir, "%s", raw->data);
	snprintf(c->instance, sizeof c->instance, "%s", raw->inst);
	snprintf(c->cg_parent, sizeof c->cg_parent, "sandboxd-%s", raw->inst);
	snprintf(c->image_dir, sizeof c->image_dir, "%s/images/host", raw->data);
	if (raw->images)
		snprintf(c->images_dir, sizeof c->images_dir, "%s", raw->images);
	else
		snprintf(c->images_dir, sizeof c->images_dir, "%s/images", raw->data);
	snprintf(c->default_image, sizeof c->default_image, "%s", raw->defimg);
	if (raw->sock)
		snprintf(c->socket_path, sizeof c->socket_path, "%s", raw->sock);
	else
		snprintf(c->socket_path, sizeof c->socket_path, "%s/run/fcgi.sock", raw->data);
	if (raw->psock)
		snprintf(c->preview_socket, sizeof c->preview_socket, "%s", raw->psock);
	else
		snprintf(c->preview_socket, sizeof c->preview_socket, "%s/run/preview.sock", raw->data);
	if (c->tokens_file && !c->print_routes && auth_load(c->tokens_file, &c->tokens) < 0)
		return -1;
	return 0;
}

static int saved_argc;
static char **saved_argv;

int conf_parse(struct conf *c, int argc, char **argv)
{
	struct option longopts[NALL + 2];
	char why[WHY_LEN];
	struct raw raw;
	const char *config = NULL;
	int o;

	defaults(c, &raw);
	/* getopt's table, made from ours: val is the option's index + OPT_VAL */
	for (size_t i = 0; i < NALL; i++) {
		enum opt_type t = opt_at(i).type;
		longopts[i] = (struct option){ opt_name(i),
					       t == OPT_BOOL ? optional_argument :
					       t == OPT_FLAG ? no_argument : required_argument,
					       NULL, (int)(OPT_VAL + i) };
	}
	longopts[NALL] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[NALL + 1] = (struct option){ NULL, 0, NULL, 0 };
	/* the file first, so that the command line overrides it */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			config = argv[++i];
		else if (!strncmp(argv[i], "--config=", 9))
			config = argv[i] + 9;
		else if (!strcmp(argv[i], "--"))
			break;
	}
	if (config && read_file(c, &raw, config) < 0)
		return -1;
	/* a full rescan: conf_parse runs again at SIGHUP, on the same argv
	 * (saved_argv, kept for the process's life): the values kept are
	 * optarg's pointers into it, never copies (a copy per option and per
	 * reload was lost: the sanitizers' leak check at exit) */
	optind = 0;
	opterr = 1;
	while ((o = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (o == 'h') {
			usage(stdout);
			exit(0);
		}
		if (o < OPT_VAL ||
		    conf_set(c, &raw, (size_t)(o - OPT_VAL), optarg, why) < 0) {
			if (o >= OPT_VAL)
				fprintf(stderr, "sandboxd: --%s: %s\n", opt_name((size_t)(o - OPT_VAL)),
					why[0] ? why : "bad value");
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "sandboxd: unexpected argument %s\n", argv[optind]);
		usage(stderr);
		return -1;
	}
	c->config = config;
	saved_argc = argc;
	saved_argv = argv;
	return finish(c, &raw);
}

/* Settings the running service is built on: a reload keeps them. */
static void keep_fixed(const struct conf *old, struct conf *n)
{
#define KEEP_STR(f, key)                                                                         \
	if (strcmp(old->f, n->f)) {                                                              \
		fprintf(stderr, "sandboxd: reload: %s needs a restart; kept\n", key);           \
		memcpy(n->f, old->f, sizeof n->f);                                              \
	}
#define KEEP(f, key)                                                                             \
	if (old->f != n->f) {                                                                    \
		fprintf(stderr, "sandboxd: reload: %s needs a restart; kept\n", key);           \
		n->f = old->f;                                                                   \
	}
	KEEP_STR(data_dir, "data");
	KEEP_STR(socket_path, "socket");
	KEEP_STR(instance, "instance");
	KEEP_STR(cgroup_root, "cgroup-root");
	KEEP_STR(images_dir, "images");
	KEEP(uid_base, "uid-base");
	KEEP(uid_slots, "uid-slots");
	KEEP(store_map_bytes, "store-map-mb");
	KEEP(history_map_bytes, "history-map-mb");
	KEEP_STR(preview_socket, "preview-socket");
	KEEP(preview_workers, "preview-workers");
	KEEP(network, "network");
	KEEP(net_pool.addr, "net-pool");
	KEEP(net_pool.prefix, "net-pool");
	KEEP(net_conn_rate, "net-conn-rate");
	KEEP(net_conn_max, "net-conn-max");
	KEEP(default_egress, "default-egress");
	KEEP_STR(ca_bundle, "ca-bundle");
	if (n->negress_allow != old->negress_allow ||
	    memcmp(n->egress_allow, old->egress_allow, sizeof n->egress_allow)) {
		fprintf(stderr, "sandboxd: reload: egress-allow needs a restart; kept\n");
		memcpy(n->egress_allow, old->egress_allow, sizeof n->egress_allow);
		n->negress_allow = old->negress_allow;
	}
	memcpy(n->cg_parent, old->cg_parent, sizeof n->cg_parent);
	memcpy(n->image_dir, old->image_dir, sizeof n->image_dir);
	n->socket_group = old->socket_group;
	n->socket_mode = old->socket_mode;
	n->pidfile = old->pidfile;
#undef KEEP
#undef KEEP_STR
}

int conf_reload(const struct conf *old, struct conf *n)
{
	if (conf_parse(n, saved_argc, saved_argv) < 0)
		return -1;
	keep_fixed(old, n);
	return 0;
}
