#include "config.h"

#include "router.h"
#include "app.h"
#include "auth.h"
#include "http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

bool router_is_raw_upload(const struct http_req *req)
{
	const char *ct = FCGX_GetParam("CONTENT_TYPE", req->fcgi->envp);

	return strcmp(req->method, "PUT") == 0 && req->nsegs >= 4 &&
	       strcmp(req->segs[0], "sandboxes") == 0 && strcmp(req->segs[2], "files") == 0 &&
	       ct && strncasecmp(ct, "application/octet-stream", 24) == 0;
}

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

/* A route is a path pattern: literal segments, {name} for one segment, and
 * a final {path} for one or more.  The same table answers --routes and
 * labels the metrics, so what is documented is what is routed. */
struct route {
	const char *pattern;
	const char *allow;
	router_handler_fn get, post, put, del;
};

static const struct route routes[] = {
	{ "/sandboxes/{projectId}", "GET, POST, DELETE, OPTIONS", api_sandbox_status, api_sandbox_create,
	  NULL, api_sandbox_delete },
	{ "/sandboxes/{projectId}/exec", "POST, OPTIONS", NULL, api_exec, NULL, NULL },
	{ "/sandboxes/{projectId}/files/{path}", "GET, PUT, DELETE, OPTIONS", api_file_read, NULL,
	  api_file_write, api_file_delete },
	{ "/sandboxes/{projectId}/ls", "GET, OPTIONS", api_ls, NULL, NULL, NULL },
	{ "/sandboxes/{projectId}/mkdir", "POST, OPTIONS", NULL, api_mkdir, NULL, NULL },
	{ "/sandboxes/{projectId}/rename", "POST, OPTIONS", NULL, api_rename, NULL, NULL },
	{ "/sandboxes/{projectId}/clone", "POST, OPTIONS", NULL, api_clone, NULL, NULL },
	{ "/sandboxes/{projectId}/processes", "GET, POST, OPTIONS", api_proc_list, api_proc_start, NULL,
	  NULL },
	{ "/sandboxes/{projectId}/processes/{processId}", "GET, DELETE, OPTIONS", api_proc_get, NULL, NULL,
	  api_proc_kill },
	{ "/sandboxes/{projectId}/processes/{processId}/logs", "GET, OPTIONS", api_proc_get, NULL, NULL,
	  NULL },
	{ "/sandboxes/{projectId}/history", "GET, OPTIONS", api_history, NULL, NULL, NULL },
	{ "/sandboxes/{projectId}/ports", "GET, POST, OPTIONS", api_ports_list, api_ports_expose, NULL,
	  NULL },
	{ "/sandboxes/{projectId}/ports/{port}", "DELETE, OPTIONS", NULL, NULL, NULL, api_ports_revoke },
	/* server-wide: no projectId */
	{ "/images", "GET, OPTIONS", api_images_list, NULL, NULL, NULL },
	{ "/healthz", "GET, OPTIONS", api_healthz, NULL, NULL, NULL },
	{ "/metrics", "GET, OPTIONS", api_metrics, NULL, NULL, NULL },
};

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

int router_index(const struct http_req *req)
{
	const struct route *r = match(req);

	return r ? (int)(r - routes) : -1;
}

const char *router_pattern(int index)
{
	return index >= 0 && index < (int)(sizeof routes / sizeof *routes) ? routes[index].pattern : NULL;
}

int router_count(void)
{
	return (int)(sizeof routes / sizeof *routes);
}

void router_print(FILE *f)
{
	for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
		const struct route *r = &routes[i];
		if (r->get)
			fprintf(f, "GET %s\n", r->pattern);
		if (r->post)
			fprintf(f, "POST %s\n", r->pattern);
		if (r->put)
			fprintf(f, "PUT %s\n", r->pattern);
		if (r->del)
			fprintf(f, "DELETE %s\n", r->pattern);
	}
}

enum route_result router_route(const struct http_req *req, router_handler_fn *fn,
				const char **allow)
{
	const struct route *r;
	const char *m = req->method;

	*fn = NULL;
	*allow = NULL;
	if (req->bad_path)
		return ROUTE_BAD_PATH;
	r = match(req);
	if (!r)
		return ROUTE_NO_ROUTE;
	((struct http_req *)req)->route = (int)(r - routes);
	*allow = r->allow;
	if (strcmp(m, "OPTIONS") == 0)
		return ROUTE_OPTIONS;
	if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
		*fn = r->get;
	else if (strcmp(m, "POST") == 0)
		*fn = r->post;
	else if (strcmp(m, "PUT") == 0)
		*fn = r->put;
	else if (strcmp(m, "DELETE") == 0)
		*fn = r->del;
	if (!*fn)
		return ROUTE_BAD_METHOD;
	/* before anything touches disk */
	if (per_sandbox(r) && !project_id_valid(req->segs[1])) {
		*fn = NULL;
		return ROUTE_BAD_ID;
	}
	return ROUTE_OK;
}

/* What a route asks of the caller: /healthz nothing, a sandbox's routes a
 * token for its projectId, the other server-wide ones any token. */
static enum auth_need need(const struct http_req *req)
{
	const struct route *r = &routes[req->route];

	if (!strcmp(r->pattern, "/healthz"))
		return AUTH_OPEN;
	return per_sandbox(r) ? AUTH_PROJECT : AUTH_ANY;
}

router_handler_fn router_admit(struct app *app, struct http_req *req)
{
	router_handler_fn fn;
	const char *allow;

	/* first: a page of another site gets no route, no preflight, no 404 */
	if (!auth_browser_check(app->conf, req))
		return NULL;
	switch (router_route(req, &fn, &allow)) {
	case ROUTE_OK:
		/* before the body is read: a caller without a token gets no
		 * worker reading megabytes for it */
		if (!auth_check(app->conf->tokens, app->conf->allow_remote_no_auth, req, need(req),
				req->nsegs > 1 ? req->segs[1] : NULL))
			return NULL;
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
