#include "config.h"

#include "router.h"
#include "app.h"
#include "http.h"

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

struct route {
	const char *top;	/* first segment */
	const char *action;	/* /sandboxes/:id/<action>; NULL for /sandboxes/:id or /<top> */
	bool tail;		/* a path follows the action: /files/<path> */
	const char *allow;
	router_handler_fn get, post, put, del;
};

static const struct route routes[] = {
	{ "sandboxes", NULL, false, "GET, POST, DELETE, OPTIONS", api_sandbox_status, api_sandbox_create, NULL,
	  api_sandbox_delete },
	{ "sandboxes", "exec", false, "POST, OPTIONS", NULL, api_exec, NULL, NULL },
	{ "sandboxes", "files", true, "GET, PUT, DELETE, OPTIONS", api_file_read, NULL, api_file_write,
	  api_file_delete },
	{ "sandboxes", "ls", false, "GET, OPTIONS", api_ls, NULL, NULL, NULL },
	{ "sandboxes", "mkdir", false, "POST, OPTIONS", NULL, api_mkdir, NULL, NULL },
	{ "sandboxes", "rename", false, "POST, OPTIONS", NULL, api_rename, NULL, NULL },
	{ "sandboxes", "clone", false, "POST, OPTIONS", NULL, api_clone, NULL, NULL },
	{ "sandboxes", "processes", false, "GET, POST, OPTIONS", api_proc_list, api_proc_start, NULL, NULL },
	/* /processes/:pid (GET, DELETE) and /processes/:pid/logs (GET) */
	{ "sandboxes", "processes", true, "GET, DELETE, OPTIONS", api_proc_get, NULL, NULL, api_proc_kill },
	/* server-wide: no projectId */
	{ "images", NULL, false, "GET, OPTIONS", api_images_list, NULL, NULL, NULL },
};

static bool per_sandbox(const struct route *r)
{
	return strcmp(r->top, "sandboxes") == 0;
}

static const struct route *match(const struct http_req *req)
{
	if (req->nsegs < 1)
		return NULL;
	for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
		const char *a = routes[i].action;
		if (strcmp(req->segs[0], routes[i].top) != 0)
			continue;
		if (!per_sandbox(&routes[i])) {
			if (req->nsegs == 1)
				return &routes[i];
			continue;
		}
		if (req->nsegs == 2 && !a)
			return &routes[i];
		if (!a || req->nsegs < 3 || strcmp(req->segs[2], a) != 0)
			continue;
		if (routes[i].tail ? req->nsegs >= 4 && (strcmp(a, "processes") || req->nsegs <= 5)
				   : req->nsegs == 3)
			return &routes[i];
	}
	return NULL;
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

void router_dispatch(struct app *app, struct http_req *req)
{
	router_handler_fn fn;
	const char *allow;

	switch (router_route(req, &fn, &allow)) {
	case ROUTE_OK:
		if (!http_query_valid(req))
			http_reply_error(req, 400, "malformed query string (a bad %%-escape, %%00, or a value over 4096 bytes)");
		else
			fn(app, req, req->nsegs > 1 ? req->segs[1] : NULL);
		break;
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
}
