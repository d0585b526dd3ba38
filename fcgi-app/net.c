/* Sandbox networking, the service's side (net.h). */
#include "config.h"

#include "net.h"
#include "conf.h"
#include "log.h"
#include "netctl.h"
#include "netlink.h"
#include "sandbox.h"
#include "store.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/netfilter.h>
#include <nftables/libnftables.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* The platform deny set: the clone policy's IPv4 ranges (clone_policy.c)
 * and the documentation ranges, which are nobody's internet either.  The
 * pool (other sandboxes), the host's own addresses (the input chain) and
 * TCP 25 are refused by rules of their own. */
static const char *const platform4[] = {
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
	"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
	"198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
};

int net_cidr_parse(const char *s, struct net_cidr *c)
{
	char buf[32], *slash, *end;
	struct in_addr a;
	long bits = 32;

	if (strlen(s) >= sizeof buf)
		return -1;
	snprintf(buf, sizeof buf, "%s", s);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		if (!slash[1] || strspn(slash + 1, "0123456789") != strlen(slash + 1))
			return -1;
		bits = strtol(slash + 1, &end, 10);
		if (bits < 0 || bits > 32)
			return -1;
	}
	/* inet_pton takes dotted quads only: no 127.1, no hex, no octal */
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -1;
	c->addr = ntohl(a.s_addr);
	c->prefix = (int)bits;
	if (bits < 32 && (c->addr & (0xFFFFFFFFu >> bits)))
		return -1;
	return 0;
}

const char *net_cidr_str(const struct net_cidr *c, char *buf, size_t len)
{
	struct in_addr a = { htonl(c->addr) };
	char s[INET_ADDRSTRLEN];

	snprintf(buf, len, "%s/%d", inet_ntop(AF_INET, &a, s, sizeof s), c->prefix);
	return buf;
}

uint32_t net_pool_slots(int prefix)
{
	return prefix >= 31 ? 0 : (1u << (31 - prefix)) - 1;
}

/* 6 hex digits of the instance's name: the host ends of two instances on
 * one host have names of their own, and each table matches its own only
 * (two names hashing alike: one chance in 16 million). */
static unsigned tag_of(const struct conf *c)
{
	uint32_t h = 2166136261u;

	for (const char *p = c->instance; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return (h ^ (h >> 24)) & 0xFFFFFF;
}

void net_slot_addr(const struct conf *c, uint32_t slot, uint32_t *addr, uint32_t *gw)
{
	uint32_t base = c->net_pool.addr + 2 * slot;

	*gw = htonl(base);
	*addr = htonl(base + 1);
}

void net_slot_ifname(const struct conf *c, uint32_t slot, char *buf, size_t len)
{
	snprintf(buf, len, "vs%06x%x", tag_of(c), (unsigned)slot);
}

void net_ahead_prefix(const struct conf *c, char *buf, size_t len)
{
	snprintf(buf, len, "vt%06x", tag_of(c));
}

static uint32_t pool_resolver(const struct net_cidr *pool)
{
	uint32_t size = pool->prefix >= 32 ? 1 : 1u << (32 - pool->prefix);

	return htonl(pool->addr + size - 2);
}

uint32_t net_resolver(const struct conf *c)
{
	return pool_resolver(&c->net_pool);
}

int net_record_slot(const struct conf *c, const struct sb_record *r, uint32_t *slot,
		    struct sb_err *err)
{
	uint32_t s;

	if (r->net_slot)
		s = r->net_slot - 1;
	else if (r->uid_base >= c->uid_base && (r->uid_base - c->uid_base) % 65536 == 0)
		s = (r->uid_base - c->uid_base) / 65536;
	else
		return sb_fail(err, SB_E_BUSY, ENOSPC, "the sandbox has no address in --net-pool");
	if (s >= net_pool_slots(c->net_pool.prefix))
		return sb_fail(err, SB_E_BUSY, ENOSPC, "--net-pool has no room for this sandbox's /31 "
			       "(slot %u); widen it", (unsigned)s);
	*slot = s;
	return 0;
}

static const char *resolv_path(const struct conf *c)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/run/resolv.conf", c->data_dir);
	return path;
}

int net_spec(const struct conf *c, const struct sb_record *r, struct sb_net_spec *out,
	     struct sb_err *err)
{
	uint32_t slot;

	if (net_record_slot(c, r, &slot, err) < 0)
		return -1;
	memset(out, 0, sizeof *out);
	net_slot_addr(c, slot, &out->addr, &out->gw);
	net_slot_ifname(c, slot, out->host_if, sizeof out->host_if);
	out->resolv = resolv_path(c);
	return 0;
}

int net_record_addr(const struct conf *c, const struct sb_record *r, char *buf, size_t len)
{
	struct sb_err err = SB_ERR_INIT;
	uint32_t slot, addr, gw;

	if (!c->network || net_record_slot(c, r, &slot, &err) < 0)
		return -1;
	net_slot_addr(c, slot, &addr, &gw);
	return inet_ntop(AF_INET, &addr, buf, (socklen_t)len) ? 0 : -1;
}

/* --- nft --------------------------------------------------------------- */

static void table_name(const struct conf *c, char *buf, size_t len)
{
	/* nft identifiers: letters, digits, _ (an instance may hold -) */
	snprintf(buf, len, "sandboxd_%s", c->instance);
	for (char *p = buf; *p; p++)
		if (*p == '-')
			*p = '_';
}

/* One context per process: it holds a netlink socket, which a worker
 * forked from the master must not share with it (or with its siblings:
 * answers would go to whoever reads first). */
static struct nft_ctx *nft;
static pid_t nft_pid;

void net_nft_free(void)
{
	if (nft)
		nft_ctx_free(nft);
	nft = NULL;
}

static int nft_run(const char *cmds, struct sb_err *err)
{
	const char *msg;

	if (nft && nft_pid != getpid()) {
		nft_ctx_free(nft);
		nft = NULL;
	}
	if (!nft) {
		nft_pid = getpid();
		nft = nft_ctx_new(NFT_CTX_DEFAULT);
		if (!nft)
			return sb_fail(err, SB_E_INTERNAL, ENOMEM, "nft: no context");
		nft_ctx_buffer_output(nft);
		nft_ctx_buffer_error(nft);
	}
	if (nft_run_cmd_from_buffer(nft, cmds) == 0)
		return 0;
	msg = nft_ctx_get_error_buffer(nft);
	return sb_fail(err, SB_E_INTERNAL, EINVAL, "nft: %.400s", msg && *msg ? msg : "failed");
}

struct text {
	char *buf;
	size_t len, cap;
	bool oom;
};

__attribute__((format(printf, 2, 3))) static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->oom = true;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap ? t->cap * 2 : 4096;
		while (cap - t->len <= (size_t)n)
			cap *= 2;
		char *b = realloc(t->buf, cap);
		if (!b) {
			t->oom = true;
			return;
		}
		t->buf = b;
		t->cap = cap;
	}
}

/* The web server's group (--socket-group, the FastCGI socket's group):
 * nginx's workers run with it, and connect to a sandbox's address for a
 * preview.  Looked up once per process (a worker inherits the master's);
 * -1 when the host has no such group (root alone, then). */
static long web_gid(const struct conf *c)
{
	static long gid = -2;
	struct group *g;

	if (gid == -2) {
		g = getgrnam(c->socket_group);
		gid = g ? (long)g->gr_gid : -1;
	}
	return gid;
}

/* Whether this service turned IPv4 forwarding on (net_start): the table
 * then forwards nothing that is not a sandbox's. */
static bool forward_ours;

/* A new connection of a sandbox's over --net-conn-max is refused. */
static void conn_max_rule(const struct conf *c, struct text *t)
{
	if (c->net_conn_max)
		put(t, " ct state new add @conncount4 { ip saddr ct count over %d } counter goto refuse\n",
		    c->net_conn_max);
}

/* The whole table, replaced in one transaction (the first two lines make
 * the delete succeed when there is none yet). */
static void ruleset(const struct conf *c, struct text *t)
{
	char tbl[80], cidr[32], res[INET_ADDRSTRLEN], ifs[16];
	uint32_t r = net_resolver(c);

	table_name(c, tbl, sizeof tbl);
	inet_ntop(AF_INET, &r, res, sizeof res);
	snprintf(ifs, sizeof ifs, "vs%06x*", tag_of(c));
	put(t, "table inet %s\ndelete table inet %s\ntable inet %s {\n", tbl, tbl, tbl);
	put(t, "set pool4 { type ipv4_addr; flags interval; elements = { %s } }\n",
	    net_cidr_str(&c->net_pool, cidr, sizeof cidr));
	put(t, "set platform4 { type ipv4_addr; flags interval; elements = {");
	for (size_t i = 0; i < sizeof platform4 / sizeof *platform4; i++)
		put(t, "%s %s", i ? "," : "", platform4[i]);
	put(t, " } }\nset egress_allow4 { type ipv4_addr; flags interval;");
	for (int i = 0; i < c->negress_allow; i++)
		put(t, "%s %s", i ? "," : " elements = {", net_cidr_str(&c->egress_allow[i], cidr, sizeof cidr));
	put(t, "%s }\n", c->negress_allow ? " }" : "");
	/* own4: the sandboxes with a policy of their own; the others follow
	 * --default-egress, a rule (none and allowlist, whose list is empty
	 * then, refuse alike) */
	put(t, "set own4 { type ipv4_addr; }\n"
	       "set mode_none { type ipv4_addr; }\n"
	       "set mode_allowlist { type ipv4_addr; }\n"
	       "set allow4 { type ipv4_addr . ipv4_addr; flags interval; }\n"
	       "set deny4 { type ipv4_addr . ipv4_addr; flags interval; }\n");
	/* refusals are immediate: a reset, or ICMP administratively prohibited */
	put(t, "chain refuse {\n"
	       " meta l4proto tcp reject with tcp reset\n"
	       " reject with icmpx type admin-prohibited\n}\n");
	/* --net-conn-rate: a token bucket per sandbox address for what its
	 * policy lets through; a SYN over the rate is dropped (the client
	 * retries a second later), not refused: a cap, not a policy */
	if (c->net_conn_rate)
		put(t, "set connrate4 { type ipv4_addr; size 65535; flags dynamic,timeout; timeout 60s; }\n"
		       "set dnsrate4 { type ipv4_addr; size 65535; flags dynamic,timeout; timeout 60s; }\n");
	/* --net-conn-max: the connections a sandbox has open at once, out and
	 * to the resolver (every one is an entry of the host's one conntrack
	 * table, nf_conntrack_max for every sandbox and the host: a sandbox
	 * holding them all would stop everyone's new connections); closed
	 * TCP ones (TIME_WAIT) are not counted.  Over it: refused at once */
	if (c->net_conn_max)
		put(t, "set conncount4 { type ipv4_addr; size 65535; flags dynamic; }\n");
	put(t, "chain egress {\n"
	       " ip saddr @mode_none goto refuse\n"
	       " ip saddr @mode_allowlist ip saddr . ip daddr != @allow4 goto refuse\n");
	if (c->default_egress != NET_PUBLIC)
		put(t, " ip saddr != @own4 goto refuse\n");
	if (c->net_conn_rate)
		put(t, " ct state new update @connrate4 { ip saddr limit rate over %d/second burst %d packets }"
		       " counter drop\n", c->net_conn_rate, c->net_conn_rate);
	conn_max_rule(c, t);
	put(t, " accept\n}\n");
	/* a sandbox's source is its own odd address of the pool, routed back
	 * through the link it came in on: anything else is spoofed */
	put(t, "chain from_sandbox {\n"
	       " meta nfproto ipv6 drop\n"
	       " ip saddr != @pool4 drop\n"
	       " ip saddr & 0.0.0.1 != 0.0.0.1 drop\n"
	       " fib saddr . iif oif missing drop\n"
	       " ct state established,related accept\n"
	       " ip saddr . ip daddr @deny4 goto refuse\n"
	       " ip daddr @pool4 goto refuse\n"
	       " tcp dport 25 goto refuse\n"
	       " ip daddr @egress_allow4 goto egress\n"
	       " ip daddr @platform4 goto refuse\n"
	       " goto egress\n}\n");
	put(t, "chain to_sandbox {\n ct state established,related accept\n drop\n}\n");
	/* egress none sends nothing, names included: the resolver would
	 * forward any name the sandbox makes up (its data in the labels) to
	 * the outside's resolvers.  Checked before established: a DNS flow
	 * open when the policy became none (a UDP socket that keeps its port
	 * is one conntrack entry for as long as it talks) ends even where
	 * net_cut did not delete its entry (a cut that failed). */
	put(t, "chain dns_in {\n ip saddr @mode_none goto refuse\n");
	if (c->default_egress == NET_NONE)
		put(t, " ip saddr != @own4 goto refuse\n");
	/* and --net-conn-rate packets a second to it, open flows too: the
	 * resolver forwards each name it has not cached from a port of its
	 * own, a conntrack entry of the host's for 30 s, which one flow of
	 * the sandbox's (counted once by --net-conn-max) could multiply */
	if (c->net_conn_rate)
		put(t, " update @dnsrate4 { ip saddr limit rate over %d/second burst %d packets } counter drop\n",
		    c->net_conn_rate, c->net_conn_rate);
	put(t, "}\n");
	/* every address of the host is local: the input hook sees a sandbox's
	 * packet to any of them, and only DNS to the resolver passes */
	put(t, "chain sandbox_in {\n"
	       " meta nfproto ipv6 drop\n"
	       " ip saddr != @pool4 drop\n"
	       " ip saddr & 0.0.0.1 != 0.0.0.1 drop\n"
	       " fib saddr . iif oif missing drop\n"
	       " ip daddr %s meta l4proto { tcp, udp } th dport 53 jump dns_in\n"
	       " ct state established,related accept\n", res);
	conn_max_rule(c, t);
	put(t, " ip daddr %s udp dport 53 accept\n"
	       " ip daddr %s tcp dport 53 accept\n"
	       " goto refuse\n}\n", res, res);
	put(t, "chain forward {\n type filter hook forward priority filter; policy accept;\n"
	       " iifname \"%s\" jump from_sandbox\n oifname \"%s\" jump to_sandbox\n", ifs, ifs);
	/* IPv4 forwarding turned on for the sandboxes only: the host routes
	 * nothing else of IPv4 (IPv6 forwarding is not ours; another
	 * instance's links, "vs" too, are its own) */
	if (forward_ours)
		put(t, " meta nfproto ipv4 iifname != \"vs*\" oifname != \"vs*\" drop\n");
	put(t, "}\n");
	/* the resolver is the sandboxes' (and the host's own, on lo): not an
	 * open resolver for whoever routes the pool to this host */
	put(t, "chain input {\n type filter hook input priority filter; policy accept;\n"
	       " iifname \"%s\" jump sandbox_in\n"
	       " ip daddr %s iifname != \"lo\" drop\n}\n", ifs, res);
	/* the host's own connections to a sandbox: a local user's process
	 * would otherwise reach any port a sandbox listens on (a server on
	 * 0.0.0.0, or an exposed port's localhost server through the preview
	 * DNAT, without the token that is the preview's capability).  New
	 * ones come from root (the service) or the web server's group (nginx's
	 * workers proxy a preview straight to the sandbox's address, after
	 * its token was checked); anyone else's is refused.  A packet the
	 * kernel makes on its own (a reset, an ICMP error) has no socket with
	 * an owner: `meta skuid` does not match it, and it passes. */
	put(t, "chain host_out {\n ct state established,related accept\n meta skuid 0 accept\n");
	if (web_gid(c) >= 0)
		put(t, " meta skgid %ld accept\n", web_gid(c));
	put(t, " meta skuid != 0 goto refuse\n}\n");
	put(t, "chain output {\n type filter hook output priority filter; policy accept;\n"
	       " oifname \"%s\" jump host_out\n}\n", ifs);
	put(t, "chain postrouting {\n type nat hook postrouting priority srcnat; policy accept;\n"
	       " ip saddr @pool4 oifname != \"%s\" masquerade\n}\n}\n", ifs);
}

/* Run the commands in t (one transaction) and free it. */
static int run_text(struct text *t, struct sb_err *err)
{
	int r = t->oom ? sb_fail(err, SB_E_INTERNAL, ENOMEM, "nft: out of memory") : nft_run(t->buf, err);

	free(t->buf);
	return r;
}

static void elem(struct text *t, const char *verb, const char *tbl, const char *set, const char *addr,
		 const struct net_cidr *c)
{
	char cidr[32];

	if (c)
		put(t, "%s element inet %s %s { %s . %s }\n", verb, tbl, set, addr,
		    net_cidr_str(c, cidr, sizeof cidr));
	else
		put(t, "%s element inet %s %s { %s }\n", verb, tbl, set, addr);
}

/* add-then-delete: the delete cannot fail on an element that is not there
 * (a table just reloaded), and the whole change stays one transaction */
static void elem_gone(struct text *t, const char *tbl, const char *set, const char *addr,
		      const struct net_cidr *c)
{
	elem(t, "add", tbl, set, addr, c);
	elem(t, "delete", tbl, set, addr, c);
}

static void policy_text(struct text *t, const char *tbl, uint32_t addr, const struct net_policy *old,
			const struct net_policy *new)
{
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &addr, a, sizeof a);
	elem_gone(t, tbl, "mode_none", a, NULL);
	elem_gone(t, tbl, "mode_allowlist", a, NULL);
	for (int i = 0; old && i < old->nallow; i++)
		elem_gone(t, tbl, "allow4", a, &old->allow[i]);
	for (int i = 0; old && i < old->ndeny; i++)
		elem_gone(t, tbl, "deny4", a, &old->deny[i]);
	if (new->mode == NET_NONE)
		elem(t, "add", tbl, "mode_none", a, NULL);
	else if (new->mode == NET_ALLOWLIST)
		elem(t, "add", tbl, "mode_allowlist", a, NULL);
	for (int i = 0; i < new->nallow; i++)
		elem(t, "add", tbl, "allow4", a, &new->allow[i]);
	for (int i = 0; i < new->ndeny; i++)
		elem(t, "add", tbl, "deny4", a, &new->deny[i]);
	/* its own policy from now on, not --default-egress (never removed: a
	 * policy once set stays the sandbox's) */
	elem(t, "add", tbl, "own4", a, NULL);
}

int net_policy_set(const struct conf *c, uint32_t addr, const struct net_policy *old,
		   const struct net_policy *new, struct sb_err *err)
{
	struct text t = { 0 };
	char tbl[80];

	if (!c->network)
		return 0;
	table_name(c, tbl, sizeof tbl);
	policy_text(&t, tbl, addr, old, new);
	return run_text(&t, err);
}

int net_policy_clear(const struct conf *c, uint32_t addr, const struct net_policy *old,
		     struct sb_err *err)
{
	struct text t = { 0 };
	char tbl[80], a[INET_ADDRSTRLEN];

	if (!c->network)
		return 0;
	table_name(c, tbl, sizeof tbl);
	inet_ntop(AF_INET, &addr, a, sizeof a);
	elem_gone(&t, tbl, "mode_none", a, NULL);
	elem_gone(&t, tbl, "mode_allowlist", a, NULL);
	for (int i = 0; old && i < old->nallow; i++)
		elem_gone(&t, tbl, "allow4", a, &old->allow[i]);
	for (int i = 0; old && i < old->ndeny; i++)
		elem_gone(&t, tbl, "deny4", a, &old->deny[i]);
	/* the address follows --default-egress again, for its next owner */
	elem_gone(&t, tbl, "own4", a, NULL);
	return run_text(&t, err);
}

/* The table and every policy in one transaction: no instant without them,
 * and a load that fails leaves the table that was there. */
struct net_load {
	struct text t;
	char tbl[80];
};

struct net_load *net_load_new(const struct conf *c)
{
	struct net_load *l = calloc(1, sizeof *l);

	if (!l)
		return NULL;
	table_name(c, l->tbl, sizeof l->tbl);
	ruleset(c, &l->t);
	return l;
}

void net_load_policy(struct net_load *l, uint32_t addr, const struct net_policy *p)
{
	policy_text(&l->t, l->tbl, addr, NULL, p);
}

int net_load_run(struct net_load *l, struct sb_err *err)
{
	int r = run_text(&l->t, err);

	free(l);
	return r;
}

void net_load_free(struct net_load *l)
{
	if (l)
		free(l->t.buf);
	free(l);
}

/* --- the master ------------------------------------------------------------ */

static int write_resolv(const struct conf *c, struct sb_err *err)
{
	char text[64], tmp[PATH_MAX + 8], res[INET_ADDRSTRLEN];
	uint32_t r = net_resolver(c);

	inet_ntop(AF_INET, &r, res, sizeof res);
	snprintf(text, sizeof text, "nameserver %s\n", res);
	snprintf(tmp, sizeof tmp, "%s.new", resolv_path(c));
	if (sb_write_file_atf(AT_FDCWD, tmp, text, O_CREAT | O_TRUNC) < 0 || chmod(tmp, 0644) < 0 ||
	    rename(tmp, resolv_path(c)) < 0)
		return sb_syserr(err, "write %s", resolv_path(c));
	return 0;
}

static void dns_pidfile(const struct conf *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s/run/dnsmasq.pid", c->data_dir);
}

/* A dnsmasq left by a master that was killed (it dropped to nobody, which
 * cleared its parent-death signal): it holds the resolver's port.  The
 * process the pid file names is ended only if its command line names that
 * pid file (a recycled pid is someone else's). */
static void end_old_dns(const struct conf *c)
{
	char path[PATH_MAX], proc[64], want[PATH_MAX + 16], cmdline[4096];
	ssize_t n;
	int pid = 0;

	dns_pidfile(c, path, sizeof path);
	n = sb_read_file_at(AT_FDCWD, path, cmdline, sizeof cmdline);
	if (n <= 0 || sscanf(cmdline, "%d", &pid) != 1 || pid <= 1)
		return;
	snprintf(proc, sizeof proc, "/proc/%d/cmdline", pid);
	n = sb_read_file_at(AT_FDCWD, proc, cmdline, sizeof cmdline);
	if (n <= 0)
		return;
	snprintf(want, sizeof want, "--pid-file=%s", path);
	/* the arguments are NUL-separated: look at each */
	for (char *a = cmdline; a < cmdline + n; a += strlen(a) + 1)
		if (!strcmp(a, want)) {
			kill(pid, SIGKILL);
			return;
		}
}

/* Whether our table is there: what a master of this instance that was
 * killed left (with the resolver's address), not another instance's. */
bool net_table_present(const struct conf *c)
{
	char tbl[80];

	table_name(c, tbl, sizeof tbl);
	/* an answer that is not "no such table" is not taken for one: a
	 * reload over a table that is there would be harmless, but a loop of
	 * them is not */
	return nft_table_exists(NFPROTO_INET, tbl) != 0;
}

int net_table_load(const struct conf *c, struct sb_err *err)
{
	struct text t = { 0 };

	ruleset(c, &t);
	return run_text(&t, err);
}

/* This boot and this network namespace: a mark of ours is stale after a
 * reboot (ip_forward is 0 again, or someone else's 1) or in another. */
static void forward_key(char *buf, size_t len)
{
	char boot[64] = "";
	struct stat st = { 0 };
	ssize_t n = sb_read_file_at(AT_FDCWD, "/proc/sys/kernel/random/boot_id", boot, sizeof boot);

	boot[n > 0 ? strcspn(boot, "\n") : 0] = '\0';
	stat("/proc/self/ns/net", &st);
	snprintf(buf, len, "%s %llu\n", boot, (unsigned long long)st.st_ino);
}

/* IPv4 forwarding on.  Whether we turned it on (it was off) is kept in
 * run/forward-ours, so a master restarted after a kill, which finds it
 * on, still knows: then the table forwards only the sandboxes' packets.
 * A host that forwarded already (Docker, a router) keeps its own. */
static int forwarding(const struct conf *c, struct sb_err *err)
{
	char path[PATH_MAX], key[128], had[128] = "", cur[8] = "";
	ssize_t n;

	snprintf(path, sizeof path, "%s/run/forward-ours", c->data_dir);
	forward_key(key, sizeof key);
	if (sb_read_file_at(AT_FDCWD, "/proc/sys/net/ipv4/ip_forward", cur, sizeof cur) <= 0)
		return sb_syserr(err, "read /proc/sys/net/ipv4/ip_forward");
	if (cur[0] == '1') {
		n = sb_read_file_at(AT_FDCWD, path, had, sizeof had - 1);
		had[n > 0 ? n : 0] = '\0';
		forward_ours = !strcmp(had, key);
		return 0;
	}
	if (sb_write_file_atf(AT_FDCWD, path, key, O_CREAT | O_TRUNC) < 0)
		return sb_syserr(err, "write %s", path);
	if (sb_write_file_at(AT_FDCWD, "/proc/sys/net/ipv4/ip_forward", "1") < 0)
		return sb_syserr(err, "enable IPv4 forwarding");
	forward_ours = true;
	return 0;
}

/* /run/sandboxd/net-TAG.lock: a write lock (POSIX, F_SETLK) on it, held by
 * the master of the instance whose links are named vs<TAG>/vt<TAG> for its
 * life.  Two instances whose names hash to one tag would share the links'
 * names (a start deleting the other's "stale" link of the same slot) and
 * the table's vs<TAG>* match: the second refuses to start.  A POSIX lock,
 * not flock: it is not inherited by the master's children (a worker, or a
 * sandbox init adopted by the next master, never holds it), and it goes
 * with the master however it ends, so the next master of the same instance
 * after a kill -9 takes it at once.  The file holds the holder's instance
 * name, for the error.  Host-wide, as the instance's cgroup tree is. */
#define NET_LOCK_DIR "/run/sandboxd"
static int tag_lock = -1;

static int net_tag_lock(const struct conf *c, struct sb_err *err)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char path[PATH_MAX], other[64] = "";
	cleanup_close int fd = -1;
	ssize_t n;

	if (tag_lock >= 0)
		return 0;	/* a reload: ours for the master's life */
	if (mkdir(NET_LOCK_DIR, 0755) < 0 && errno != EEXIST)
		return sb_syserr(err, "make %s (the instances' link tag locks)", NET_LOCK_DIR);
	snprintf(path, sizeof path, NET_LOCK_DIR "/net-%06x.lock", tag_of(c));
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return sb_syserr(err, "open %s", path);
	if (fcntl(fd, F_SETLK, &fl) < 0) {
		if (errno != EAGAIN && errno != EACCES)
			return sb_syserr(err, "lock %s", path);
		fl.l_type = F_WRLCK;
		if (fcntl(fd, F_GETLK, &fl) < 0 || fl.l_type == F_UNLCK)
			fl.l_pid = 0;
		n = pread(fd, other, sizeof other - 1, 0);
		other[n > 0 ? n : 0] = '\0';
		other[strcspn(other, "\n")] = '\0';
		return sb_fail(err, SB_E_INTERNAL, 0, "instance '%s': its network links' tag %06x "
			       "(vs%06x*, a hash of the name) is held by instance '%s' (master pid %d, "
			       "%s) running on this host; give this one another --instance name",
			       c->instance, tag_of(c), tag_of(c), other[0] ? other : "?", (int)fl.l_pid, path);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, c->instance, strlen(c->instance), 0) < 0 ||
	    pwrite(fd, "\n", 1, (off_t)strlen(c->instance)) < 0)
		return sb_syserr(err, "write %s", path);
	/* kept open for life: closing any fd of the file would drop the lock */
	tag_lock = fd;
	fd = -1;
	return 0;
}

/* The pool is unreachable from the host but by a sandbox's own link (its
 * /31, more specific): a connection to the address of a sandbox that is
 * stopped (a preview, nginx's proxy) is refused at once, where the default
 * route would send it to the host's network (the pool's addresses are
 * ours: a SYN to the LAN, and a wait of the proxy's connect timeout).  A
 * route to the same prefix there already (ours, left by a service killed
 * before its stop) is kept. */
static void pool_unreachable(const struct net_cidr *pool, struct mnl_socket *nl, bool add)
{
	struct sb_err err = SB_ERR_INIT;
	char cidr[32];

	if (nl_route_unreachable(nl, htonl(pool->addr), pool->prefix, add, &err) < 0 &&
	    !(add && errno == EEXIST) && !(!add && errno == ESRCH))
		log_printf("error", NULL, "network: the pool %s: %s", net_cidr_str(pool, cidr, sizeof cidr), err.msg);
}

/* run/net-pool: the pool whose route and resolver address this instance
 * put on the host, written when it did, removed by its stop */
static void pool_path(const struct conf *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s/run/net-pool", c->data_dir);
}

/* What this instance's stop removes from the host: its table, the pool's
 * route, the resolver's address (of that pool), and the record of them. */
static void undo(const struct conf *c, const struct net_cidr *pool)
{
	struct sb_err err = SB_ERR_INIT;
	struct mnl_socket *nl;
	char tbl[80], cmd[128], path[PATH_MAX];

	table_name(c, tbl, sizeof tbl);
	snprintf(cmd, sizeof cmd, "delete table inet %s\n", tbl);
	if (net_table_present(c) && nft_run(cmd, &err) < 0)
		log_printf("error", NULL, "network: %s", err.msg);
	nl = nl_open(&err);
	if (nl) {
		pool_unreachable(pool, nl, false);
		nl_addr_del(nl, 1, pool_resolver(pool), 32, &err);
	}
	nl_close(nl);
	pool_path(c, path, sizeof path);
	unlink(path);
}

/* A master killed with -9 never ran its stop: what it put on the host
 * stays.  The next start with the same pool takes it over; one with
 * another pool, or without networking, removes it here (the old pool's
 * route would refuse that whole range to the host for good). */
static void old_pool_gone(const struct conf *c)
{
	char path[PATH_MAX], had[40];
	struct net_cidr old;
	ssize_t n;

	pool_path(c, path, sizeof path);
	n = sb_read_file_at(AT_FDCWD, path, had, sizeof had - 1);
	if (n <= 0)
		return;
	had[n] = '\0';
	had[strcspn(had, "\n")] = '\0';
	if (net_cidr_parse(had, &old) < 0) {
		unlink(path);
		return;
	}
	if (c->network && old.addr == c->net_pool.addr && old.prefix == c->net_pool.prefix)
		return;
	log_printf("info", NULL, "network: removing what a killed master left for the pool %s", had);
	undo(c, &old);
}

int net_start(const struct conf *c, struct sb_err *err)
{
	char path[PATH_MAX], cidr[32];
	struct mnl_socket *nl;
	uint32_t res = net_resolver(c);
	int r, e;

	old_pool_gone(c);
	if (!c->network)
		return 0;
	if (net_tag_lock(c, err) < 0)
		return -1;
	if (access("/usr/sbin/dnsmasq", X_OK) < 0)
		return sb_fail(err, SB_E_INTERNAL, ENOENT, "networking needs dnsmasq in /usr/sbin (Debian: "
			       "dnsmasq-base), or --network=no");
	if (forwarding(c, err) < 0)
		return -1;
	if (write_resolv(c, err) < 0)
		return -1;
	nl = nl_open(err);
	if (!nl)
		return -1;
	r = nl_addr_add(nl, 1, res, 32, true, err);
	e = errno;
	if (r < 0 && e == EEXIST && !net_table_present(c)) {
		char a[INET_ADDRSTRLEN];
		nl_close(nl);
		return sb_fail(err, SB_E_INTERNAL, EEXIST, "the resolver's address %s is on lo already: another "
			       "instance uses --net-pool %s; give this one a pool of its own",
			       inet_ntop(AF_INET, &res, a, sizeof a), net_cidr_str(&c->net_pool, cidr, sizeof cidr));
	}
	if (r < 0 && e != EEXIST) {
		nl_close(nl);
		sb_err_prefix(err, "the resolver's address on lo");
		return -1;
	}
	sb_err_clear(err);
	pool_unreachable(&c->net_pool, nl, true);
	nl_close(nl);
	/* recorded: a start after a kill -9 with another pool removes them */
	pool_path(c, path, sizeof path);
	if (sb_write_file_atf(AT_FDCWD, path, net_cidr_str(&c->net_pool, cidr, sizeof cidr), O_CREAT | O_TRUNC) < 0)
		log_printf("error", NULL, "network: write %s: %s", path, strerror(errno));
	/* the table itself comes with every policy (net_load_*, the master's
	 * next step): one transaction */
	net_nft_free();
	end_old_dns(c);
	return 0;
}

void net_stop(const struct conf *c)
{
	if (c->network)
		undo(c, &c->net_pool);
}

pid_t net_dns_spawn(const struct conf *c, const sigset_t *orig)
{
	char listen[64], resolv[PATH_MAX + 16], pidfile[PATH_MAX + 16], res[INET_ADDRSTRLEN], path[PATH_MAX];
	uint32_t r = net_resolver(c);
	pid_t pid;

	inet_ntop(AF_INET, &r, res, sizeof res);
	snprintf(listen, sizeof listen, "--listen-address=%s", res);
	snprintf(resolv, sizeof resolv, "--resolv-file=%s", c->net_resolv_conf);
	dns_pidfile(c, path, sizeof path);
	snprintf(pidfile, sizeof pidfile, "--pid-file=%s", path);
	pid = fork();
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	sigprocmask(SIG_SETMASK, orig, NULL);
	char *argv[] = {
		(char *)"dnsmasq", (char *)"--keep-in-foreground", (char *)"--conf-file=/dev/null",
		(char *)"--no-hosts", (char *)"--bind-interfaces", listen, resolv, pidfile,
		(char *)"--user=nobody", (char *)"--group=nogroup", (char *)"--cache-size=1000",
		(char *)"--log-facility=-", NULL,
	};
	char *envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	sb_close_fds_from(3);
	execve("/usr/sbin/dnsmasq", argv, envp);
	perror("sandboxd: exec dnsmasq");
	_exit(127);
}
