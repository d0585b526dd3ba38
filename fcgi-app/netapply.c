/* A sandbox's network policy put in force on the datapath (netapply.h):
 * the nft sets through net_policy_set (net.c), connections through
 * ctnetlink, caps as tbf qdiscs, counters from the host end of its link. */
#include "config.h"

#include "netapply.h"
#include "app.h"
#include "log.h"
#include "net.h"
#include "netctl.h"
#include "sandbox.h"
#include "settings.h"
#include "warm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

/* The sandbox's address (network order) and its host end's name. */
static int link_of(const struct conf *c, const struct sb_record *r, uint32_t *addr, char *ifname,
		   size_t len, struct sb_err *err)
{
	uint32_t slot, gw;

	if (net_record_slot(c, r, &slot, err) < 0)
		return -1;
	net_slot_addr(c, slot, addr, &gw);
	net_slot_ifname(c, slot, ifname, len);
	return 0;
}

static bool refused_by(uint32_t dst, void *arg)
{
	return netpol_refuses(arg, dst);
}

/* The init's network namespace, pinned: an fd opened while the recorded
 * init (pid and start time) is the process there, so a reused pid cannot
 * hand us another namespace.  -1 when it does not run. */
static int init_netns(const struct sb_record *r)
{
	char path[64];
	int fd;

	if (r->init_pid <= 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%d/ns/net", (int)r->init_pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && !sandbox_alive(r->init_pid, r->init_start)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* From the sandbox on its eth0, to it on the host end of its link. */
int net_caps_set(struct app *app, const struct sb_record *r, const struct sb_limits *old,
		 const struct sb_limits *n, struct sb_err *err)
{
	const struct conf *c = app->conf;
	bool egress = old ? n->egress_mbps != old->egress_mbps : n->egress_mbps != 0;
	bool ingress = old ? n->ingress_mbps != old->ingress_mbps : n->ingress_mbps != 0;
	cleanup_close int ns = -1;
	char ifname[16];
	uint32_t addr;

	if (!c->network || (!egress && !ingress) || (ns = init_netns(r)) < 0)
		return 0;
	if (link_of(c, r, &addr, ifname, sizeof ifname, err) < 0)
		return -1;
	if (egress && tc_tbf_set(ns, "eth0", (uint64_t)n->egress_mbps * 1000000, err) < 0)
		return -1;
	if (ingress && tc_tbf_set(-1, ifname, (uint64_t)n->ingress_mbps * 1000000, err) < 0)
		return -1;
	return 0;
}

int net_apply(struct app *app, const struct sandbox_ref *sb, const struct netpol *old,
	      const struct netpol *n, struct sb_err *err)
{
	const struct conf *c = app->conf;
	struct net_policy o = netpol_sets(old), w = netpol_sets(n);
	char ifname[16];
	uint32_t addr;

	if (!c->network)
		return 0;	/* loopback only: nothing to reach anyway */
	if (link_of(c, &sb->rec, &addr, ifname, sizeof ifname, err) < 0)
		return -1;
	/* one transaction: the old elements go, the new come */
	if (!netpol_same_lists(old, n) && net_policy_set(c, addr, &o, &w, err) < 0)
		return -1;
	return 0;
}

int net_unapply(struct app *app, const struct sandbox_ref *sb, const struct netpol *old,
		struct sb_err *err)
{
	const struct conf *c = app->conf;
	struct net_policy o = netpol_sets(old);
	char ifname[16];
	uint32_t addr;

	if (!c->network)
		return 0;
	if (link_of(c, &sb->rec, &addr, ifname, sizeof ifname, err) < 0)
		return -1;
	return net_policy_clear(c, addr, &o, err);
}

int net_cut(struct app *app, const struct sandbox_ref *sb, const struct netpol *p,
	    struct sb_err *err)
{
	const struct conf *c = app->conf;
	char ifname[16];
	uint32_t addr;
	int cut = 0;

	/* a policy that refuses nothing of its own, or a sandbox that does
	 * not run (it has no connection): nothing to cut */
	if (!c->network || (p->mode == NET_PUBLIC && !p->ndeny) ||
	    !sandbox_alive(sb->rec.init_pid, sb->rec.init_start))
		return 0;
	if (link_of(c, &sb->rec, &addr, ifname, sizeof ifname, err) < 0)
		return -1;
	if (ct_flush_from(ntohl(addr), refused_by, (void *)p, &cut, err) < 0) {
		sb_err_prefix(err, "the policy is in force, but its open connections were not cut (a PUT "
			      "again retries): ");
		return -1;
	}
	if (cut)
		log_event(app->rid, "sandbox.network_cut", sb->id, "connections=%d", cut);
	return 0;
}

static bool any_dst(uint32_t dst, void *arg)
{
	(void)dst;
	(void)arg;
	return true;
}

void net_forget(struct app *app, const struct sandbox_ref *sb)
{
	const struct conf *c = app->conf;
	struct sb_err err = SB_ERR_INIT;
	char ifname[16];
	uint32_t addr;
	int cut = 0;

	if (!c->network)
		return;
	if (link_of(c, &sb->rec, &addr, ifname, sizeof ifname, &err) < 0 ||
	    ct_flush_from(ntohl(addr), any_dst, NULL, &cut, &err) < 0)
		log_printf("warn", app->rid, "network: %s's tracked connections not forgotten: %s", sb->id, err.msg);
	else if (cut)
		log_event(app->rid, "sandbox.network_forgotten", sb->id, "connections=%d", cut);
}

struct reload {
	const struct conf *c;
	struct store *s;
	struct sb_err *err;
	struct net_load *l;
	int failed, sets, cut;
};

static bool policy_plain(const struct conf *c, const struct netpol *p)
{
	/* a plain public policy needs no element, unless the default is
	 * another: then the sandbox must be marked as having its own */
	return p->mode == NET_PUBLIC && !p->nallow && !p->ndeny && c->default_egress == NET_PUBLIC;
}

static void reload_one(const char *id, const struct netpol *p, void *arg)
{
	struct reload *rl = arg;
	struct net_policy w = netpol_sets(p);
	struct sb_record r;
	char ifname[16];
	uint32_t addr;

	if (rl->failed || policy_plain(rl->c, p))
		return;
	/* a record gone (a warm one dropped) takes its policy's meaning along */
	if (store_get(rl->s, id, &r, rl->err) != 1 ||
	    link_of(rl->c, &r, &addr, ifname, sizeof ifname, rl->err) < 0) {
		if (rl->err->msg[0])
			rl->failed = 1;
		return;
	}
	net_load_policy(rl->l, addr, &w);
	rl->sets++;
}

/* After the load: what a running sandbox opened under no table or a
 * stale one, and its policy refuses, is cut (as a PUT does). */
static void cut_one(const char *id, const struct netpol *p, void *arg)
{
	struct reload *rl = arg;
	struct sb_err err = SB_ERR_INIT;
	struct sb_record r;
	char ifname[16];
	uint32_t addr;
	int cut = 0;

	if ((p->mode == NET_PUBLIC && !p->ndeny) || store_get(rl->s, id, &r, &err) != 1 ||
	    !sandbox_alive(r.init_pid, r.init_start) ||
	    link_of(rl->c, &r, &addr, ifname, sizeof ifname, &err) < 0)
		return;
	if (ct_flush_from(ntohl(addr), refused_by, (void *)p, &cut, &err) < 0)
		log_printf("warn", NULL, "network: %s's open connections not cut: %s", id, err.msg);
	rl->cut += cut;
}

int net_apply_all(const struct conf *c, struct store *s, struct sb_err *err)
{
	struct reload rl = { c, s, err, NULL, 0, 0, 0 };
	struct sb_err cerr = SB_ERR_INIT;

	if (!c->network)
		return 0;
	rl.l = net_load_new(c);
	if (!rl.l)
		return sb_fail(err, SB_E_INTERNAL, ENOMEM, "nft: out of memory");
	/* every policy read before anything is loaded: a store that cannot
	 * be read leaves the table as it is */
	if (store_net_foreach(s, reload_one, &rl, err) < 0 || rl.failed) {
		net_load_free(rl.l);
		return -1;
	}
	if (net_load_run(rl.l, err) < 0)
		return -1;
	rl.err = &cerr;
	store_net_foreach(s, cut_one, &rl, &cerr);
	if (rl.cut)
		log_printf("info", NULL, "network: %d connections the policies refuse cut", rl.cut);
	return rl.sets;
}

/* One process at a time looks and reloads (the master's check, a PUT's
 * retry): the second finds the table the first put back. */
int net_restore(const struct conf *c, struct store *s, struct sb_err *err)
{
	char path[PATH_MAX];
	cleanup_close int fd = -1;
	int n;

	snprintf(path, sizeof path, "%s/run/nft.lock", c->data_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0)
		return sb_syserr(err, "lock %s", path);
	if (net_table_present(c))
		return 0;
	n = net_apply_all(c, s, err);
	if (n < 0)
		return -1;
	log_printf("warn", NULL, "network: the nft table was gone (removed by hand, or nft flush "
		   "ruleset): put back with the policies of %d sandboxes", n);
	return 1;
}

int net_sandbox_address(struct app *app, const struct sandbox_ref *sb, char *buf, size_t len)
{
	return net_record_addr(app->conf, &sb->rec, buf, len) == 0 ? 1 : 0;
}

int net_sandbox_counters(struct app *app, const struct sandbox_ref *sb, struct net_counters *nc)
{
	struct sb_err err = SB_ERR_INIT;
	char ifname[16];
	uint64_t rx, tx;
	uint32_t addr;

	if (!app->conf->network || link_of(app->conf, &sb->rec, &addr, ifname, sizeof ifname, &err) < 0 ||
	    link_bytes(ifname, &rx, &tx) < 0)
		return -1;
	/* the host end receives what the sandbox sends */
	nc->out_bytes = rx;
	nc->in_bytes = tx;
	return 0;
}

/* --- /metrics ------------------------------------------------------------- */

struct link_count {
	char name[16];
	uint64_t rx, tx;
};

struct links {
	struct link_count *v;
	size_t n, cap;
};

static void add_link(const char *ifname, uint64_t rx, uint64_t tx, void *arg)
{
	struct links *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct link_count *v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return;
		l->v = v;
		l->cap = cap;
	}
	snprintf(l->v[l->n].name, sizeof l->v[l->n].name, "%s", ifname);
	l->v[l->n].rx = rx;
	l->v[l->n].tx = tx;
	l->n++;
}

struct metrics_scan {
	const struct conf *c;
	const struct links *l;
	FILE *f;
};

static void sandbox_bytes(const char *id, const struct sb_record *r, void *arg)
{
	struct metrics_scan *ms = arg;
	struct sb_err err = SB_ERR_INIT;
	char ifname[16];
	uint32_t addr;

	if (warm_name(id) || !sandbox_alive(r->init_pid, r->init_start) ||
	    link_of(ms->c, r, &addr, ifname, sizeof ifname, &err) < 0)
		return;
	for (size_t i = 0; i < ms->l->n; i++) {
		if (strcmp(ms->l->v[i].name, ifname))
			continue;
		/* the host end receives what the sandbox sends */
		fprintf(ms->f, "sandboxd_sandbox_network_bytes_total{sandbox=\"%s\",direction=\"out\"} %llu\n"
			"sandboxd_sandbox_network_bytes_total{sandbox=\"%s\",direction=\"in\"} %llu\n",
			id, (unsigned long long)ms->l->v[i].rx, id, (unsigned long long)ms->l->v[i].tx);
		return;
	}
}

void net_metrics_write(struct app *app, FILE *f)
{
	struct sb_err err = SB_ERR_INIT;
	struct links l = { 0 };
	struct metrics_scan ms = { app->conf, &l, f };

	if (!app->conf->network)
		return;
	/* one dump of the host ends, then the running sandboxes' own */
	if (link_bytes_foreach("vs", add_link, &l) == 0) {
		fprintf(f, "# HELP sandboxd_sandbox_network_bytes_total Bytes a running sandbox sent "
			"(out) and received (in) since it started.\n"
			"# TYPE sandboxd_sandbox_network_bytes_total counter\n");
		store_foreach(&app->store, sandbox_bytes, &ms, &err);
	}
	free(l.v);
}
