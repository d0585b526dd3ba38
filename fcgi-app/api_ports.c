/* Exposed ports: POST/GET /sandboxes/:id/ports, DELETE .../ports/:port.
 * The token is answered once, at the expose; the store keeps its hash
 * (preview.h), so a list shows ports and expiries, never a URL. */
#include "config.h"

#include "api.h"
#include "app.h"
#include "http.h"
#include "log.h"
#include "preview.h"
#include "router.h"

#include <stdio.h>
#include <string.h>

/* An integer field from min to max; def when absent or null (a negative
 * def: required).  -1 after a 400. */
static int int_field(struct http_req *req, struct json_object *o, const char *name, int64_t min,
		     int64_t max, int64_t def, int64_t *out)
{
	struct json_object *v;

	*out = def;
	if (!json_object_object_get_ex(o, name, &v) || json_object_is_type(v, json_type_null)) {
		if (def >= 0)
			return 0;
		http_reply_error(req, 400, "%s is required", name);
		return -1;
	}
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < min ||
	    json_object_get_int64(v) > max) {
		http_reply_error(req, 400, "%s must be an integer from %lld to %lld", name, (long long)min,
				 (long long)max);
		return -1;
	}
	*out = json_object_get_int64(v);
	return 0;
}

/* The sandbox must exist (an expose neither creates nor starts one). */
static int sandbox_exists(struct app *app, struct http_req *req, const char *id)
{
	struct sb_err err = SB_ERR_INIT;
	cleanup_sandbox_ref struct sandbox_ref sb = { .dirfd = -1 };
	int r = app_sandbox_get(app, id, false, NULL, &sb, &err);

	if (r < 0)
		api_reply_err(req, &err);
	return r;
}

void api_ports_expose(struct app *app, struct http_req *req, const char *id)
{
	struct sb_err err = SB_ERR_INIT;
	cleanup_json struct json_object *o = NULL;
	struct json_object *d;
	struct preview_port p = { .created_ms = sb_now_ms() };
	char tok[PREVIEW_TOKEN_LEN + 1], url[512];
	int64_t port, expires_in;

	if (!req->conf->preview_domain[0] || !req->conf->network) {
		http_reply_error(req, 409, "previews are off: the server has no %s",
				 req->conf->network ? "preview-domain" : "network");
		return;
	}
	o = http_json_body(req);
	if (!o)
		return;
	if (int_field(req, o, "port", 1, 65535, -1, &port) < 0 ||
	    int_field(req, o, "expiresIn", 1, PREVIEW_MAX_EXPIRY_S, PREVIEW_DEFAULT_EXPIRY_S, &expires_in) < 0)
		return;
	if (sandbox_exists(app, req, id) < 0)
		return;
	snprintf(p.id, sizeof p.id, "%s", id);
	p.port = (unsigned)port;
	p.expires_ms = p.created_ms + expires_in * 1000;
	if (preview_token_new(tok, &err) < 0 || preview_token_hash(tok, p.hash) < 0 ||
	    preview_put(&app->store, &p, &err) < 0) {
		if (!err.msg[0])
			sb_fail(&err, SB_E_INTERNAL, 0, "sha-256 failed");
		api_reply_err(req, &err);
		return;
	}
	if (preview_net_update(app, id, &err) < 0) {
		/* a server on 0.0.0.0 is reached still: say it, go on */
		log_warn(req->rid, err.msg);
		sb_err_clear(&err);
	}
	log_event(req->rid, "sandbox.port_exposed", id, "port=%u expires_in=%lld", p.port,
		  (long long)expires_in);
	d = json_object_new_object();
	json_object_object_add(d, "port", json_object_new_int((int)p.port));
	preview_url(req->conf, p.port, tok, false, url, sizeof url);
	json_object_object_add(d, "url", json_object_new_string(url));
	preview_url(req->conf, p.port, tok, true, url, sizeof url);
	json_object_object_add(d, "pathUrl", json_object_new_string(url));
	json_object_object_add(d, "token", json_object_new_string(tok));
	json_object_object_add(d, "createdAt", api_iso(p.created_ms));
	json_object_object_add(d, "expiresAt", api_iso(p.expires_ms));
	http_reply_data(req, 201, d);
}

struct listing {
	struct json_object *ports;
	unsigned expired[PREVIEW_MAX_PORTS * 2];
	int nexpired;
	int64_t now;
};

static void add_port(const struct preview_port *p, void *arg)
{
	struct listing *l = arg;
	struct json_object *e;

	if (p->expires_ms <= l->now) {
		if (l->nexpired < (int)(sizeof l->expired / sizeof *l->expired))
			l->expired[l->nexpired++] = p->port;
		return;
	}
	e = json_object_new_object();
	json_object_object_add(e, "port", json_object_new_int((int)p->port));
	json_object_object_add(e, "createdAt", api_iso(p->created_ms));
	json_object_object_add(e, "expiresAt", api_iso(p->expires_ms));
	json_object_array_add(l->ports, e);
}

void api_ports_list(struct app *app, struct http_req *req, const char *id)
{
	struct sb_err err = SB_ERR_INIT;
	struct listing l = { .ports = json_object_new_array(), .now = sb_now_ms() };
	struct json_object *d;

	if (sandbox_exists(app, req, id) < 0 || preview_list(&app->store, id, add_port, &l, &err) < 0) {
		if (!req->status)
			api_reply_err(req, &err);
		json_object_put(l.ports);
		return;
	}
	/* an expired exposure is refused already; here it is also forgotten */
	for (int i = 0; i < l.nexpired; i++)
		preview_del(&app->store, id, l.expired[i], NULL);
	d = json_object_new_object();
	json_object_object_add(d, "projectId", json_object_new_string(id));
	json_object_object_add(d, "ports", l.ports);
	http_reply_data(req, 200, d);
}

void api_ports_revoke(struct app *app, struct http_req *req, const char *id)
{
	struct sb_err err = SB_ERR_INIT;
	const char *s = req->segs[3];
	struct json_object *d;
	unsigned port = 0;
	int r;

	if (!*s || strlen(s) > 5 || strspn(s, "0123456789") != strlen(s) || s[0] == '0' ||
	    (port = (unsigned)atoi(s)) > 65535) {
		http_reply_error(req, 400, "port must be an integer from 1 to 65535");
		return;
	}
	if (sandbox_exists(app, req, id) < 0)
		return;
	r = preview_del(&app->store, id, port, &err);
	if (r < 0) {
		api_reply_err(req, &err);
		return;
	}
	if (r == 0) {
		http_reply_error(req, 404, "port %u is not exposed", port);
		return;
	}
	if (preview_net_update(app, id, &err) < 0)
		log_warn(req->rid, err.msg);
	log_event(req->rid, "sandbox.port_revoked", id, "port=%u", port);
	d = json_object_new_object();
	json_object_object_add(d, "port", json_object_new_int((int)port));
	json_object_object_add(d, "status", json_object_new_string("revoked"));
	http_reply_data(req, 200, d);
}
