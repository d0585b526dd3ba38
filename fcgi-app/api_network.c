/* The network policy of a sandbox through the API (api_network.h). */
#include "config.h"

#include "api_network.h"
#include "api.h"
#include "app.h"
#include "conf.h"
#include "http.h"
#include "log.h"
#include "net.h"
#include "netapply.h"
#include "router.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int net_want_parse(const struct conf *c, struct json_object *body, struct net_want *w,
		   struct sb_err *err)
{
	struct json_object *v;

	memset(w, 0, sizeof *w);
	netpol_default(&w->p, (enum net_mode)c->default_egress);
	if (json_object_object_get_ex(body, "network", &v) && !json_object_is_type(v, json_type_null)) {
		if (netpol_parse(v, &w->p, err) < 0)
			return -1;
		w->has_policy = true;
	}
	return 0;
}

int net_sandbox_policy(struct app *app, const char *id, struct netpol *p, struct sb_err *err)
{
	int r = store_net_get(&app->store, id, p, err);

	if (r == 0)
		netpol_default(p, (enum net_mode)app->conf->default_egress);
	return r < 0 ? -1 : 0;
}

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct change {
	struct app *app;
	const struct sandbox_ref *sb;
	const struct netpol *old, *new;
};

static int apply_change(void *arg, struct sb_err *err)
{
	struct change *ch = arg;

	return net_apply(ch->app, ch->sb, ch->old, ch->new, err);
}

int net_sandbox_set(struct app *app, struct sandbox_ref *sb, const struct net_want *w,
		    struct sb_err *err)
{
	struct netpol old, n;
	struct change ch = { app, sb, &old, &n };
	int64_t t0 = mono_us();
	int stored;

	if (!w->has_policy)
		return 0;
	stored = store_net_get(&app->store, sb->id, &old, err);
	if (stored < 0)
		return -1;
	if (!stored)
		netpol_default(&old, (enum net_mode)app->conf->default_egress);
	n = w->p;
	if (stored && !w->live && netpol_same_lists(&old, &n))
		return 0;
	/* stored and in force in one write transaction: see store_net_put */
	if (store_net_put(&app->store, sb->id, &n, apply_change, &ch, err) < 0) {
		/* the table gone (nft flush ruleset): put back with the
		 * stored policies (outside the write transaction), then the
		 * change again */
		if (!app->conf->network || net_table_present(app->conf))
			return -1;
		sb_err_clear(err);
		if (net_restore(app->conf, &app->store, err) < 0 ||
		    store_net_put(&app->store, sb->id, &n, apply_change, &ch, err) < 0)
			return -1;
	}
	/* after the commit: the conntrack dump walks the host's whole table
	 * (4-12 ms), too long to hold the store's write lock for */
	if (net_cut(app, sb, &n, err) < 0)
		return -1;
	log_event(app->rid, "sandbox.network", sb->id,
		  "egress=%s allow=%d deny=%d us=%lld", egress_mode_name(n.mode), n.nallow, n.ndeny,
		  (long long)(mono_us() - t0));
	return 0;
}

static struct json_object *network_json(struct app *app, const struct sandbox_ref *sb,
					const struct netpol *p)
{
	struct json_object *o = netpol_json(p);
	char addr[16];

	if (net_sandbox_address(app, sb, addr, sizeof addr) > 0)
		json_object_object_add(o, "address", json_object_new_string(addr));
	return o;
}

void net_status_add(struct app *app, const struct sandbox_ref *sb, struct json_object *d,
		    struct json_object *usage)
{
	struct sb_err err = SB_ERR_INIT;
	struct net_counters nc;
	struct netpol p;

	if (net_sandbox_policy(app, sb->id, &p, &err) < 0) {
		log_error(app->rid, err.msg);
		return;
	}
	json_object_object_add(d, "network", network_json(app, sb, &p));
	if (usage && net_sandbox_counters(app, sb, &nc) == 0) {
		json_object_object_add(usage, "networkInBytes", json_object_new_int64((int64_t)nc.in_bytes));
		json_object_object_add(usage, "networkOutBytes", json_object_new_int64((int64_t)nc.out_bytes));
	}
}

static void reply_policy(struct app *app, struct http_req *req, const struct sandbox_ref *sb)
{
	struct sb_err err = SB_ERR_INIT;
	struct netpol p;

	if (net_sandbox_policy(app, sb->id, &p, &err) < 0) {
		api_reply_err(req, &err);
		return;
	}
	http_reply_data(req, 200, network_json(app, sb, &p));
}

void api_network_get(struct app *app, struct http_req *req, const char *id)
{
	cleanup_sandbox_ref struct sandbox_ref sb = { .dirfd = -1 };
	struct sb_err err = SB_ERR_INIT;

	if (app_sandbox_get(app, id, false, NULL, &sb, &err) < 0)
		api_reply_err(req, &err);
	else
		reply_policy(app, req, &sb);
}

/* PUT .../network {"egress", "allowOut", "denyOut"}: the whole policy (a
 * field left out takes its default: the server's egress, empty lists),
 * in force at once, open connections included. */
void api_network_put(struct app *app, struct http_req *req, const char *id)
{
	cleanup_json struct json_object *o = http_json_body(req);
	cleanup_sandbox_ref struct sandbox_ref sb = { .dirfd = -1 };
	struct sb_err err = SB_ERR_INIT;
	struct net_want w;

	if (!o)
		return;
	memset(&w, 0, sizeof w);
	netpol_default(&w.p, (enum net_mode)app->conf->default_egress);
	w.has_policy = true;
	w.live = true;
	/* checked before the sandbox is looked at: a bad body changes nothing */
	if (netpol_parse(o, &w.p, &err) < 0 ||
	    app_sandbox_get(app, id, false, NULL, &sb, &err) < 0 ||
	    net_sandbox_set(app, &sb, &w, &err) < 0)
		api_reply_err(req, &err);
	else
		reply_policy(app, req, &sb);
}
