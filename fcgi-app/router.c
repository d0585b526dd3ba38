#include "config.h"

#include "router.h"
#include "app.h"
#include "api.h"
#include "auth.h"
#include "http.h"
#include "quota.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

bool project_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > 63)
		return false;
	if (!((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z') ||
	      (id[0] >= '0' && id[0] <= '9')))
		return false;
	return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

/* The table answers --routes and labels the metrics, so what is
 * documented is what is routed; the worker reads a body as its row says. */
#define NONE(f) { f, BODY_NONE, 0 }
#define JSON(f) { f, BODY_JSON, 0 }

static const struct route routes[] = {
	{ "/sandboxes/{projectId}", AUTH_PROJECT, .get = NONE(api_sandbox_status),
	  .post = JSON(api_sandbox_create), .del = NONE(api_sandbox_delete) },
	/* for good, unlike DELETE /sandboxes/{projectId} (its processes only) */
	{ "/sandboxes/{projectId}/destroy", AUTH_PROJECT, .post = NONE(api_sandbox_destroy) },
	{ "/sandboxes/{projectId}/exec", AUTH_PROJECT, .post = JSON(api_exec) },
	/* a JSON write carries the file in base64 */
	{ "/sandboxes/{projectId}/files/{path}", AUTH_PROJECT, .get = NONE(api_file_read),
	  .put = { api_file_write, BODY_RAW, JSON_FILE_BODY_MAX }, .del = NONE(api_file_delete) },
	{ "/sandboxes/{projectId}/ls", AUTH_PROJECT, .get = NONE(api_ls) },
	{ "/sandboxes/{projectId}/mkdir", AUTH_PROJECT, .post = JSON(api_mkdir) },
	{ "/sandboxes/{projectId}/rename", AUTH_PROJECT, .post = JSON(api_rename) },
	/* a tarball in: streamed as application/octet-stream, else read
	 * whole up to --max-body */
	{ "/sandboxes/{projectId}/archive", AUTH_PROJECT, .get = NONE(api_archive_get),
	  .put = { api_archive_put, BODY_RAW, 0 } },
	{ "/sandboxes/{projectId}/clone", AUTH_PROJECT, .post = JSON(api_clone) },
	{ "/sandboxes/{projectId}/processes", AUTH_PROJECT, .get = NONE(api_proc_list),
	  .post = JSON(api_proc_start) },
	{ "/sandboxes/{projectId}/processes/{processId}", AUTH_PROJECT, .get = NONE(api_proc_get),
	  .del = NONE(api_proc_kill) },
	{ "/sandboxes/{projectId}/processes/{processId}/logs", AUTH_PROJECT, .get = NONE(api_proc_get) },
	{ "/sandboxes/{projectId}/snapshots", AUTH_PROJECT, .get = NONE(api_snapshot_list),
	  .post = JSON(api_snapshot_create) },
	{ "/sandboxes/{projectId}/snapshots/{name}", AUTH_PROJECT, .del = NONE(api_snapshot_delete) },
	{ "/sandboxes/{projectId}/snapshots/{name}/restore", AUTH_PROJECT,
	  .post = NONE(api_snapshot_restore) },
	{ "/sandboxes/{projectId}/history", AUTH_PROJECT, .get = NONE(api_history) },
	{ "/sandboxes/{projectId}/network", AUTH_PROJECT, .get = NONE(api_network_get),
	  .put = JSON(api_network_put) },
	{ "/sandboxes/{projectId}/ports", AUTH_PROJECT, .get = NONE(api_ports_list),
	  .post = JSON(api_ports_expose) },
	{ "/sandboxes/{projectId}/ports/{port}", AUTH_PROJECT, .del = NONE(api_ports_revoke) },
	/* server-wide: no projectId */
	/* the caller's sandboxes: those its token's scope covers */
	{ "/sandboxes", AUTH_ANY, .get = NONE(api_sandbox_list) },
	{ "/images", AUTH_ANY, .get = NONE(api_images_list) },
	{ "/healthz", AUTH_OPEN, .get = NONE(api_healthz) },
	{ "/metrics", AUTH_ANY, .get = NONE(api_metrics) },
};

#define NROUTES ((int)(sizeof routes / sizeof *routes))

/* a row's methods in Allow's order, and the --routes names of them */
static const struct {
	const char *name;
	size_t off;
} methods[] = {
	{ "GET", offsetof(struct route, get) },
	{ "POST", offsetof(struct route, post) },
	{ "PUT", offsetof(struct route, put) },
	{ "DELETE", offsetof(struct route, del) },
};

static const struct route_op *op_at(const struct route *r, size_t i)
{
	return (const struct route_op *)((const char *)r + methods[i].off);
}

/* the row's operation for a method (HEAD is GET); NULL: no such method */
static const struct route_op *op_of(const struct route *r, const char *m)
{
	if (!strcmp(m, "HEAD"))
		m = "GET";
	for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
		if (!strcmp(m, methods[i].name))
			return op_at(r, i);
	return NULL;
}

static bool per_sandbox(const struct route *r)
{
	return strncmp(r->pattern, "/sandboxes/{projectId}", 22) == 0;
}

static bool matches(const char *pattern, const struct http_req *req)
{
	const char *p = pattern;
	int i = 0;

	while (*p == '/') {
		const char *seg = p + 1, *next = strchrnul(seg, '/');
		size_t n = (size_t)(next - seg);

		if (i >= req->nsegs)
			return false;
		if (n == 6 && !strncmp(seg, "{path}", 6))
			return !*next;		/* the rest, one segment or more */
		if (seg[0] != '{' && (strlen(req->segs[i]) != n || strncmp(req->segs[i], seg, n)))
			return false;
		i++;
		p = next;
	}
	return i == req->nsegs;
}

static const struct route *match(const struct http_req *req)
{
	for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
		if (matches(routes[i].pattern, req))
			return &routes[i];
	return NULL;
}

const struct route *router_row(int index)
{
	return index >= 0 && index < NROUTES ? &routes[index] : NULL;
}

const char *router_allow(int index)
{
	/* built once per worker from the row, never typed by hand */
	static char allow[NROUTES][sizeof "GET, POST, PUT, DELETE, OPTIONS"];
	char *a;

	if (index < 0 || index >= NROUTES)
		return NULL;
	a = allow[index];
	if (!*a) {
		for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
			if (op_at(&routes[index], i)->fn) {
				strcat(a, methods[i].name);
				strcat(a, ", ");
			}
		strcat(a, "OPTIONS");
	}
	return a;
}

int router_index(const struct http_req *req)
{
	const struct route *r = match(req);

	return r ? (int)(r - routes) : -1;
}

const char *router_pattern(int index)
{
	return index >= 0 && index < NROUTES ? routes[index].pattern : NULL;
}

int router_count(void)
{
	return NROUTES;
}

void router_print(FILE *f)
{
	for (int r = 0; r < NROUTES; r++)
		for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
			if (op_at(&routes[r], i)->fn)
				fprintf(f, "%s %s\n", methods[i].name, routes[r].pattern);
}

enum route_result router_route(const struct http_req *req, router_handler_fn *fn,
				const char **allow)
{
	const struct route_op *op;
	const struct route *r;

	*fn = NULL;
	*allow = NULL;
	if (req->bad_path)
		return ROUTE_BAD_PATH;
	r = match(req);
	if (!r)
		return ROUTE_NO_ROUTE;
	((struct http_req *)req)->route = (int)(r - routes);
	*allow = router_allow((int)(r - routes));
	if (strcmp(req->method, "OPTIONS") == 0)
		return ROUTE_OPTIONS;
	op = op_of(r, req->method);
	if (!op || !op->fn)
		return ROUTE_BAD_METHOD;
	*fn = op->fn;
	/* before anything touches disk */
	if (per_sandbox(r) && !project_id_valid(req->segs[1])) {
		*fn = NULL;
		return ROUTE_BAD_ID;
	}
	return ROUTE_OK;
}

/* Whether a Content-Type is the media type application/octet-stream, with
 * or without parameters ("application/octet-streams" is another type). */
static bool octet_stream(const char *ct)
{
	static const char type[] = "application/octet-stream";
	size_t n = sizeof type - 1;

	return ct && !strncasecmp(ct, type, n) && (!ct[n] || strchr("; \t", ct[n]));
}

/* The operation router_route() found for req; NULL before or without one. */
static const struct route_op *op_routed(const struct http_req *req)
{
	const struct route *r = router_row(req->route);

	return r ? op_of(r, req->method) : NULL;
}

static bool streamed(const struct http_req *req, const struct route_op *op)
{
	return op && op->body == BODY_RAW && octet_stream(FCGX_GetParam("CONTENT_TYPE", req->fcgi->envp));
}

bool router_is_raw_upload(const struct http_req *req)
{
	const struct route *r = req->bad_path ? NULL : match(req);

	return r && streamed(req, op_of(r, req->method));
}

int router_read_body(struct http_req *req)
{
	const struct route_op *op = op_routed(req);
	size_t limit = req->conf->max_body;

	if (streamed(req, op))
		return 0;
	/* JSON bodies are read whole, and so bounded: --max-body, or the
	 * route's own limit where that is larger */
	if (op && op->body_max > limit)
		limit = op->body_max;
	return http_read_body(req, limit);
}

router_handler_fn router_admit(struct app *app, struct http_req *req)
{
	struct sb_err err = SB_ERR_INIT;
	router_handler_fn fn;
	const char *allow;

	/* first: a page of another site gets no route, no preflight, no 404 */
	if (!auth_browser_check(app->conf, req))
		return NULL;
	switch (router_route(req, &fn, &allow)) {
	case ROUTE_OK:
		/* before the body is read: a caller without a token gets no
		 * worker reading megabytes for it */
		app->scope = req->scope;
		if (!auth_check(app->conf->tokens, app->conf->allow_remote_no_auth, req,
				routes[req->route].auth, req->nsegs > 1 ? req->segs[1] : NULL))
			return NULL;
		app->scope = req->scope;
		if (quota_enter(app->quota_slot, app->conf, req->scope,
				routes[req->route].auth == AUTH_PROJECT && req->nsegs > 1 ? req->segs[1] : NULL,
				&err) < 0) {
			api_reply_err(req, &err);
			return NULL;
		}
		if (!http_query_valid(req)) {
			http_reply_error(req, 400, "malformed query string (a bad %%-escape, %%00, or a value over 4096 bytes)");
			return NULL;
		}
		return fn;
	case ROUTE_BAD_PATH:
		http_reply_error(req, 400, "malformed request path");
		break;
	case ROUTE_NO_ROUTE:
		http_reply_error(req, 404, "no such route: %s %s", req->method, req->path);
		break;
	case ROUTE_OPTIONS:
		http_reply_options(req, allow);
		break;
	case ROUTE_BAD_METHOD:
		http_reply_405(req, allow);
		break;
	case ROUTE_BAD_ID:
		http_reply_error(req, 400, "invalid projectId: must match [A-Za-z0-9][A-Za-z0-9_-]{0,62}");
		break;
	}
	return NULL;
}
