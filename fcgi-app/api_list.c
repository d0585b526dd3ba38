/* GET /sandboxes: the caller's sandboxes, a page at a time. */
#include "config.h"

#include "api.h"
#include "app.h"
#include "http.h"
#include "router.h"
#include "sandbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_DEFAULT 100
#define LIST_MAX 1000

struct list_scan {
	struct app *app;
	struct json_object *arr;
	const char *after;	/* the cursor: ids after it */
	int status;		/* 0 any, 1 running, 2 stopped */
	int limit, n;
	char last[64];		/* the page's last id */
	bool more;
};

static struct json_object *usage_summary(struct app *app, const char *id)
{
	struct json_object *o = json_object_new_object();
	struct cg_usage u;

	cg_sandbox_usage(&app->cg, id, &u);
	json_object_object_add(o, "memoryBytes", json_object_new_int64(u.memory_current));
	json_object_object_add(o, "pids", json_object_new_int64(u.pids));
	json_object_object_add(o, "cpuTimeMs", json_object_new_int64(u.cpu_usec < 0 ? -1 : u.cpu_usec / 1000));
	return o;
}

static void each(const char *id, const struct sb_record *r, void *arg)
{
	struct list_scan *ls = arg;
	struct json_object *o;
	bool running;

	/* warm sandboxes (".w...") are nobody's yet; keys come in order */
	if (!project_id_valid(id) || (ls->after && strcmp(id, ls->after) <= 0) || ls->more)
		return;
	running = sandbox_alive(r->init_pid, r->init_start);
	if ((ls->status == 1 && !running) || (ls->status == 2 && running))
		return;
	if (ls->n == ls->limit) {
		ls->more = true;
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "projectId", json_object_new_string(id));
	json_object_object_add(o, "status", json_object_new_string(running ? "running" : "stopped"));
	json_object_object_add(o, "image", json_object_new_string(r->image));
	json_object_object_add(o, "createdAt", api_iso(r->created_ms));
	json_object_object_add(o, "lastActiveAt", api_iso(r->active_ms));
	if (running)
		json_object_object_add(o, "usage", usage_summary(ls->app, id));
	json_object_array_add(ls->arr, o);
	snprintf(ls->last, sizeof ls->last, "%s", id);
	ls->n++;
}

/* The key range to scan: the caller's prefix within the token's scope;
 * false when they do not meet (nothing to list). */
static bool range(const char *scope, const char *prefix, const char **out)
{
	if (!strncmp(prefix, scope, strlen(scope)))
		*out = prefix;		/* within the scope */
	else if (!strncmp(scope, prefix, strlen(prefix)))
		*out = scope;		/* wider than the scope: the scope */
	else
		return false;
	return true;
}

/* Query value key into buf (*out; NULL when absent).  One longer than buf
 * is a 400 (false, answered), never taken for absent: a prefix or status
 * dropped would list every sandbox, a cursor dropped restart paging. */
static bool list_query(struct http_req *req, const char *key, char *buf, size_t len, const char **out)
{
	char all[4097];	/* http_query_valid's bound (the router's): any value fits */
	const char *v = http_query(req, key, all, sizeof all);

	*out = NULL;
	if (!v)
		return true;
	if (strlen(v) >= len) {
		http_reply_error(req, 400, "%s is too long: at most %zu bytes", key, len - 1);
		return false;
	}
	memcpy(buf, v, strlen(v) + 1);
	*out = buf;
	return true;
}

void api_sandbox_list(struct app *app, struct http_req *req, const char *id)
{
	struct list_scan ls = { .app = app, .limit = LIST_DEFAULT };
	char pbuf[64], sbuf[16], lbuf[16], cbuf[64];
	const char *prefix, *status, *limit, *cursor;
	struct sb_err err = SB_ERR_INIT;
	struct json_object *d;
	const char *from;

	(void)id;
	if (!list_query(req, "prefix", pbuf, sizeof pbuf, &prefix) ||
	    !list_query(req, "status", sbuf, sizeof sbuf, &status) ||
	    !list_query(req, "limit", lbuf, sizeof lbuf, &limit) ||
	    !list_query(req, "cursor", cbuf, sizeof cbuf, &cursor))
		return;
	if (limit) {
		char *end;
		long l = strtol(limit, &end, 10);
		if (end == limit || *end || l < 1 || l > LIST_MAX) {
			http_reply_error(req, 400, "limit must be an integer from 1 to %d", LIST_MAX);
			return;
		}
		ls.limit = (int)l;
	}
	if (status && strcmp(status, "running") && strcmp(status, "stopped")) {
		http_reply_error(req, 400, "status must be running or stopped");
		return;
	}
	ls.status = !status ? 0 : !strcmp(status, "running") ? 1 : 2;
	if (prefix && *prefix && strspn(prefix, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
					 strlen(prefix)) {
		http_reply_error(req, 400, "prefix may hold only the characters of a projectId");
		return;
	}
	if (cursor && !project_id_valid(cursor)) {
		http_reply_error(req, 400, "cursor must be the nextCursor of a previous page");
		return;
	}
	ls.after = cursor;
	ls.arr = json_object_new_array();
	if (range(req->scope ? req->scope : "", prefix ? prefix : "", &from) &&
	    store_foreach_prefix(&app->store, from, each, &ls, &err) < 0) {
		json_object_put(ls.arr);
		api_reply_err(req, &err);
		return;
	}
	d = json_object_new_object();
	json_object_object_add(d, "sandboxes", ls.arr);
	json_object_object_add(d, "nextCursor", ls.more ? json_object_new_string(ls.last) : NULL);
	http_reply_data(req, 200, d);
}
