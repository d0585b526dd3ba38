#include "config.h"

#include "conf.h"
#include "auth.h"
#include "imagestore.h"

#include <errno.h>
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
	      "  --workers N         worker processes (default 2 x cores)\n"
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
	      "  --pids-max N        processes per sandbox (default 1024)\n"
	      "  --max-pids N        most processes a create may ask (default 16384)\n"
	      "  --memory-mb N       memory per sandbox, no swap (default 1024)\n"
	      "  --max-memory-mb N   most memory a create may ask (default 16384)\n"
	      "  --cpus X            CPUs per sandbox, e.g. 0.5 (default 1)\n"
	      "  --max-cpus X        most CPUs a create may ask (default: all)\n"
	      "  --disk-mb N         disk per sandbox, 0 for no quota (default 4096)\n"
	      "  --max-disk-mb N     most disk a create may ask (default 65536)\n"
	      "  --max-running N     sandboxes running at once (default 32; 0: no cap)\n"
	      "  --idle-stop SEC     stop a sandbox idle that long (default 600; 0: never)\n"
	      "  --clone-allow CIDR  a range clones may reach though it is private or\n"
	      "                      loopback (repeatable; e.g. 127.0.0.0/8 for tests)\n"
	      "  --clone-timeout SEC longest clone (default 600)\n"
	      "  --network[=no]      give each sandbox a network: a routed veth, NAT to the\n"
	      "                      host's uplink, a resolver, the platform deny set\n"
	      "                      (default: no, loopback only)\n"
	      "  --net-pool CIDR     sandbox addresses, a /31 each (default 10.89.0.0/16);\n"
	      "                      instances on one host need pools of their own\n"
	      "  --egress-allow CIDR a range sandboxes may reach though the platform deny\n"
	      "                      set holds it (repeatable; never other sandboxes)\n"
	      "  --net-resolv-conf FILE the resolvers the sandboxes' resolver forwards to\n"
	      "                      (default /etc/resolv.conf)\n"
	      "  --clone-max-mb N    most a clone may fetch (default 2048)\n"
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
	      "  --pidfile PATH      write the master's pid there\n"
	      "  --tokens-file FILE  bearer tokens (NAME sha256:HEX SCOPE per line); without\n"
	      "                      it only loopback/unix-socket requests are served\n"
	      "  --allow-remote-no-auth[=no]  serve non-loopback requests without tokens\n"
	      "  --history-max N     commands kept per sandbox for .../history (default 100)\n"
	      "  --preview-domain D  exposed ports get URLs https://PORT-TOKEN.D/ (D may be\n"
	      "                      http://NAME[:PORT]); default none: previews off\n"
	      "  --preview-workers N workers answering only preview token checks, on a\n"
	      "                      socket of their own (default 2)\n"
	      "  --preview-socket PATH their FastCGI socket (default DIR/run/preview.sock)\n"
	      "  --routes            print every route (METHOD /pattern) and exit\n", f);
}

/* Why the value of the option being set is refused (conf_set's message). */
static char why[160];

static int parse_num(const char *s, long long min, long long max, long long *out)
{
	char *end;

	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		snprintf(why, sizeof why, "must be an integer from %lld to %lld", min, max);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	if (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "1"))
		*out = true;
	else if (!strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "0"))
		*out = false;
	else {
		snprintf(why, sizeof why, "must be yes or no");
		return -1;
	}
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
		   const char *what)
{
	int n = 0;

	for (const char *p = val + strspn(val, LIST_SEP); *p; p += strspn(p, LIST_SEP)) {
		size_t len = strcspn(p, LIST_SEP);
		if (!ok(p, len)) {
			snprintf(why, sizeof why, "%.*s: %s", (int)(len < 80 ? len : 80), p, what);
			return -1;
		}
		p += len;
		n++;
	}
	if (!n && !may_empty) {
		snprintf(why, sizeof why, "must name at least one host");
		return -1;
	}
	return 0;
}

/* overlayfs takes its directories in one option string: refuse separators */
static int path_ok(const char *p)
{
	return p[0] == '/' && !strpbrk(p, ",:\\\n");
}

static const struct option opts[] = {
	{ "config", required_argument, NULL, 'f' },
	{ "data", required_argument, NULL, 'd' },
	{ "socket", required_argument, NULL, 's' },
	{ "socket-group", required_argument, NULL, 'g' },
	{ "socket-mode", required_argument, NULL, 'q' },
	{ "workers", required_argument, NULL, 'w' },
	{ "instance", required_argument, NULL, 'i' },
	{ "uid-base", required_argument, NULL, 'u' },
	{ "uid-slots", required_argument, NULL, 'U' },
	{ "cors-origin", required_argument, NULL, 'c' },
	{ "allowed-hosts", required_argument, NULL, 'y' },
	{ "allowed-origins", required_argument, NULL, 'x' },
	{ "max-body", required_argument, NULL, 'b' },
	{ "timeout", required_argument, NULL, 't' },
	{ "max-timeout", required_argument, NULL, 'T' },
	{ "max-output", required_argument, NULL, 'o' },
	{ "pids-max", required_argument, NULL, 'p' },
	{ "pidfile", required_argument, NULL, 'P' },
	{ "max-pids", required_argument, NULL, 'X' },
	{ "memory-mb", required_argument, NULL, 'm' },
	{ "max-memory-mb", required_argument, NULL, 'M' },
	{ "cpus", required_argument, NULL, 'C' },
	{ "max-cpus", required_argument, NULL, 'Y' },
	{ "cgroup-root", required_argument, NULL, 'R' },
	{ "disk-mb", required_argument, NULL, 'k' },
	{ "max-disk-mb", required_argument, NULL, 'K' },
	{ "max-running", required_argument, NULL, 'r' },
	{ "max-file-mb", required_argument, NULL, 'F' },
	{ "clone-allow", required_argument, NULL, 'A' },
	{ "clone-timeout", required_argument, NULL, 'O' },
	{ "clone-max-mb", required_argument, NULL, 'B' },
	{ "network", optional_argument, NULL, 1001 },
	{ "net-pool", required_argument, NULL, 1002 },
	{ "egress-allow", required_argument, NULL, 1003 },
	{ "net-resolv-conf", required_argument, NULL, 1004 },
	{ "idle-stop", required_argument, NULL, 'I' },
	{ "images", required_argument, NULL, 'G' },
	{ "spare-disks", required_argument, NULL, 'S' },
	{ "disk-prealloc", optional_argument, NULL, 'j' },
	{ "disk-reserve-mb", required_argument, NULL, 'J' },
	{ "warm-sandboxes", required_argument, NULL, 'V' },
	/* on the command line a flag; in the file (and as --x=no) yes|no */
	{ "no-favordynmods", optional_argument, NULL, 'N' },
	{ "default-image", required_argument, NULL, 'E' },
	{ "tokens-file", required_argument, NULL, 'Z' },
	{ "allow-remote-no-auth", optional_argument, NULL, 'W' },
	{ "history-max", required_argument, NULL, 'H' },
	{ "preview-domain", required_argument, NULL, 'D' },
	{ "preview-workers", required_argument, NULL, 'e' },
	{ "preview-socket", required_argument, NULL, 'Q' },
	{ "routes", no_argument, NULL, 'L' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* What is checked and derived once everything is read. */
struct raw {
	const char *data, *sock, *inst, *images, *defimg, *psock;
};

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
	c->uid_base = 268435456;
	c->uid_slots = 4096;
	c->max_body = 1048576;
	c->max_file_bytes = 1024ULL << 20;
	c->clone_timeout_ms = 600000;
	c->clone_max_bytes = 2048ULL << 20;
	c->default_timeout_ms = 60000;
	c->max_timeout_ms = 600000;
	c->max_output = 1048576;
	c->pids_max = 1024;
	c->max_pids = 16384;
	c->memory_mb = 1024;
	c->max_memory_mb = 16384;
	c->cpu_millis = 1000;
	c->max_cpu_millis = 1000 * sysconf(_SC_NPROCESSORS_ONLN);
	snprintf(c->cgroup_root, sizeof c->cgroup_root, "/sys/fs/cgroup");
	c->disk_mb = 4096;
	c->max_running = 32;
	c->spare_disks = 2;
	c->disk_reserve_mb = 1024;
	c->idle_stop_ms = 600000;
	c->max_disk_mb = 65536;
	c->history_max = 100;
	c->preview_workers = 2;
	c->net_pool.addr = 0x0A590000;	/* 10.89.0.0/16 */
	c->net_pool.prefix = 16;
	c->net_resolv_conf = "/etc/resolv.conf";
}

/* preview-domain: [http:// or https://] a DNS name (wildcard DNS and a
 * wildcard certificate cover its subdomains) [: a port] */
static int preview_domain_ok(const char *val, char *out, size_t len)
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
	    strlen(val) >= len) {
		snprintf(why, sizeof why, "must be a DNS name such as preview.example.com, with "
			 "http:// or https:// and a :port if need be");
		return -1;
	}
	snprintf(out, len, "%s", val);
	return 0;
}

static int num(const char *v, long long min, long long max, long long *out)
{
	return parse_num(v, min, max, out);
}

/* One setting from the command line or the file; val is kept (copy it). */
static int conf_set(struct conf *c, struct raw *raw, int o, const char *val)
{
	long long v;

	why[0] = '\0';
	switch (o) {
	case 'f': c->config = val; break;
	case 'd': raw->data = val; break;
	case 's': raw->sock = val; break;
	case 'g': c->socket_group = val; break;
	case 'q':
		if (strcmp(val, "0600") && strcmp(val, "0660") && strcmp(val, "0666") &&
		    strcmp(val, "600") && strcmp(val, "660") && strcmp(val, "666")) {
			snprintf(why, sizeof why, "must be 0600, 0660 or 0666");
			return -1;
		}
		c->socket_mode = (mode_t)strtol(val, NULL, 8);
		break;
	case 'i': raw->inst = val; break;
	case 'G': raw->images = val; break;
	case 'E': raw->defimg = val; break;
	case 'c': c->cors_origin = val; break;
	case 'y':
		if (list_ok(val, host_name_ok, false,
			    "not a host name, IPv4 address or [IPv6] address (no port)") < 0)
			return -1;
		c->allowed_hosts = val;
		break;
	case 'x':
		if (list_ok(val, origin_ok, true,
			    "not an origin such as https://app.example or http://localhost:3000") < 0)
			return -1;
		c->allowed_origins = val;
		break;
	case 'P': c->pidfile = val; break;
	case 'Z': c->tokens_file = val[0] == '/' ? val : NULL; break;
	case 'N': return val ? parse_bool(val, &c->no_favordynmods) : (c->no_favordynmods = true, 0);
	case 'W': return val ? parse_bool(val, &c->allow_remote_no_auth) : (c->allow_remote_no_auth = true, 0);
	case 'L': c->print_routes = true; break;
	case 'H': if (num(val, 0, 100000, &v) < 0) return -1; c->history_max = (int)v; break;
	case 'D': return preview_domain_ok(val, c->preview_domain, sizeof c->preview_domain);
	case 'e': if (num(val, 1, 64, &v) < 0) return -1; c->preview_workers = (int)v; break;
	case 'Q': raw->psock = val; break;
	case 'S': if (num(val, 0, 64, &v) < 0) return -1; c->spare_disks = (int)v; break;
	case 'j': return val ? parse_bool(val, &c->disk_prealloc) : (c->disk_prealloc = true, 0);
	case 'J': if (num(val, 0, 1 << 24, &v) < 0) return -1; c->disk_reserve_mb = (long)v; break;
	case 'V': if (num(val, 0, 64, &v) < 0) return -1; c->warm_sandboxes = (int)v; break;
	case 'w': if (num(val, 1, 256, &v) < 0) return -1; c->workers = (int)v; break;
	case 'u': if (num(val, 65536, 0xFFFF0000LL, &v) < 0) return -1; c->uid_base = (uid_t)v; break;
	case 'U': if (num(val, 1, 65535, &v) < 0) return -1; c->uid_slots = (uint32_t)v; break;
	case 'b': if (num(val, 1024, 1LL << 30, &v) < 0) return -1; c->max_body = (size_t)v; break;
	case 't': if (num(val, 1, 86400000, &v) < 0) return -1; c->default_timeout_ms = v; break;
	case 'T': if (num(val, 1, 86400000, &v) < 0) return -1; c->max_timeout_ms = v; break;
	case 'o': if (num(val, 1024, 1LL << 30, &v) < 0) return -1; c->max_output = (size_t)v; break;
	case 'p': if (num(val, 8, 1 << 22, &v) < 0) return -1; c->pids_max = (long)v; break;
	case 'X': if (num(val, 8, 1 << 22, &v) < 0) return -1; c->max_pids = (long)v; break;
	case 'm': if (num(val, 16, 1 << 30, &v) < 0) return -1; c->memory_mb = (long)v; break;
	case 'M': if (num(val, 16, 1 << 30, &v) < 0) return -1; c->max_memory_mb = (long)v; break;
	case 'C':
	case 'Y': {
		char *end;
		double d = strtod(val, &end);
		if (end == val || *end || !(d >= 0.01 && d <= 4096)) {
			snprintf(why, sizeof why, "must be a number of CPUs from 0.01 to 4096");
			return -1;
		}
		*(o == 'C' ? &c->cpu_millis : &c->max_cpu_millis) = (long)(d * 1000 + 0.5);
		break;
	}
	case 'k':
	case 'K':
		if (num(val, o == 'k' ? 0 : 16, 1 << 24, &v) < 0)
			return -1;
		if (v > 0 && v < 16) {
			snprintf(why, sizeof why, "must be 0 (no quota) or at least 16");
			return -1;
		}
		*(o == 'k' ? &c->disk_mb : &c->max_disk_mb) = (long)v;
		break;
	case 'A':
		if (c->nclone_allow == CLONE_MAX_ALLOW) {
			snprintf(why, sizeof why, "at most %d ranges", CLONE_MAX_ALLOW);
			return -1;
		}
		if (clone_allow_parse(val, &c->clone_allow[c->nclone_allow]) < 0) {
			snprintf(why, sizeof why, "must be an IPv4 or IPv6 CIDR range such as 127.0.0.0/8");
			return -1;
		}
		c->nclone_allow++;
		break;
	case 1001: return val ? parse_bool(val, &c->network) : (c->network = true, 0);
	case 1002:
		if (net_cidr_parse(val, &c->net_pool) < 0 || c->net_pool.prefix > 30 || c->net_pool.prefix < 8) {
			snprintf(why, sizeof why, "must be an IPv4 range from /8 to /30 such as 10.89.0.0/16 "
				 "(host bits zero)");
			return -1;
		}
		break;
	case 1003:
		if (c->negress_allow == NET_MAX_ALLOW) {
			snprintf(why, sizeof why, "at most %d ranges", NET_MAX_ALLOW);
			return -1;
		}
		if (net_cidr_parse(val, &c->egress_allow[c->negress_allow]) < 0) {
			snprintf(why, sizeof why, "must be an IPv4 CIDR range such as 198.18.0.0/15 "
				 "(host bits zero; sandboxes have no IPv6)");
			return -1;
		}
		c->negress_allow++;
		break;
	case 1004:
		if (val[0] != '/') {
			snprintf(why, sizeof why, "must be an absolute path");
			return -1;
		}
		c->net_resolv_conf = val;
		break;
	case 'O': if (num(val, 1, 86400, &v) < 0) return -1; c->clone_timeout_ms = v * 1000; break;
	case 'B': if (num(val, 1, 1 << 24, &v) < 0) return -1; c->clone_max_bytes = (unsigned long long)v << 20; break;
	case 'F': if (num(val, 1, 1 << 24, &v) < 0) return -1; c->max_file_bytes = (unsigned long long)v << 20; break;
	case 'r': if (num(val, 0, 100000, &v) < 0) return -1; c->max_running = (int)v; break;
	case 'I': if (num(val, 0, 86400 * 365, &v) < 0) return -1; c->idle_stop_ms = v * 1000; break;
	case 'R':
		if (strlen(val) >= sizeof c->cgroup_root || val[0] != '/') {
			snprintf(why, sizeof why, "must be an absolute path");
			return -1;
		}
		snprintf(c->cgroup_root, sizeof c->cgroup_root, "%s", val);
		break;
	default:
		return -1;
	}
	if (o == 'Z' && !c->tokens_file) {
		snprintf(why, sizeof why, "must be an absolute path");
		return -1;
	}
	return 0;
}

static const char *opts_name(int val)
{
	for (const struct option *op = opts; op->name; op++)
		if (op->val == val)
			return op->name;
	return "?";
}

static const struct option *by_name(const char *name)
{
	for (const struct option *op = opts; op->name; op++)
		if (!strcmp(op->name, name))
			return op;
	return NULL;
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

/* The config file: "key = value" lines, '#' comments, blank lines. */
static int read_file(struct conf *c, struct raw *raw, const char *path)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0, ret = 0;

	if (!f) {
		fprintf(stderr, "sandboxd: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (getline(&line, &cap, f) > 0) {
		char *key = trim(line), *eq, *val;
		const struct option *op;

		lineno++;
		if (!*key || *key == '#')
			continue;
		eq = strchr(key, '=');
		if (!eq) {
			fprintf(stderr, "sandboxd: %s:%d: expected \"key = value\"\n", path, lineno);
			ret = -1;
			break;
		}
		*eq = '\0';
		key = trim(key);
		val = trim(eq + 1);
		op = by_name(key);
		if (!op || op->val == 'f' || op->val == 'h' || op->val == 'L') {
			fprintf(stderr, "sandboxd: %s:%d: %s: unknown key\n", path, lineno, key);
			ret = -1;
			break;
		}
		if (!*val) {
			fprintf(stderr, "sandboxd: %s:%d: %s: no value\n", path, lineno, key);
			ret = -1;
			break;
		}
		if (conf_set(c, raw, op->val, strdup(val)) < 0) {
			fprintf(stderr, "sandboxd: %s:%d: %s: %s\n", path, lineno, key,
				why[0] ? why : "bad value");
			ret = -1;
			break;
		}
	}
	free(line);
	fclose(f);
	return ret;
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
	if (c->memory_mb > c->max_memory_mb)
		c->memory_mb = c->max_memory_mb;
	if (c->pids_max > c->max_pids)
		c->pids_max = c->max_pids;
	if (c->disk_mb > c->max_disk_mb)
		c->disk_mb = c->max_disk_mb;
	if (c->cpu_millis > c->max_cpu_millis)
		c->cpu_millis = c->max_cpu_millis;
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
	struct raw raw;
	const char *config = NULL;
	int o;

	defaults(c, &raw);
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
	optind = 0;	/* a full rescan: conf_parse runs again at SIGHUP */
	opterr = 1;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (o == 'h') {
			usage(stdout);
			exit(0);
		}
		if (o == '?' || conf_set(c, &raw, o, optarg ? strdup(optarg) : NULL) < 0) {
			if (o != '?')
				fprintf(stderr, "sandboxd: --%s: %s\n", opts_name(o), why[0] ? why : "bad value");
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
	KEEP_STR(preview_socket, "preview-socket");
	KEEP(preview_workers, "preview-workers");
	KEEP(network, "network");
	KEEP(net_pool.addr, "net-pool");
	KEEP(net_pool.prefix, "net-pool");
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
