#include "config.h"

#include "history.h"
#include "app.h"
#include "api.h"
#include "http.h"
#include "log.h"
#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMMAND_KEPT 1024	/* bytes of a command an entry keeps */
#define LIMIT_MAX 10000

/* An entry as kept: command and cwd cut (and marked so) until its JSON,
 * escapes and all, fits STORE_ENTRY_MAX. */
static struct json_object *entry_json(const struct http_req *req, const struct history_entry *e)
{
	size_t cmd = strlen(e->command), cwd = strlen(e->cwd);
	struct json_object *o;

	if (cmd > COMMAND_KEPT)
		cmd = COMMAND_KEPT;
	for (;;) {
		o = json_object_new_object();
		json_object_object_add(o, "kind", json_object_new_string(e->kind));
		json_object_object_add(o, "command", json_string_lossy(e->command, cmd));
		json_object_object_add(o, "cwd", json_string_lossy(e->cwd, cwd));
		if (cmd < strlen(e->command) || cwd < strlen(e->cwd))
			json_object_object_add(o, "truncated", json_object_new_boolean(true));
		if (e->process_id)
			json_object_object_add(o, "processId", json_object_new_string(e->process_id));
		json_object_object_add(o, "exitCode", e->exit_code == HISTORY_NO_EXIT ? NULL
						     : json_object_new_int(e->exit_code));
		json_object_object_add(o, "startedAt", api_iso(e->started_ms));
		json_object_object_add(o, "durationMs", e->exit_code == HISTORY_NO_EXIT ? NULL
						       : json_object_new_int64(e->duration_ms));
		json_object_object_add(o, "stdoutBytes", json_object_new_uint64(e->stdout_bytes));
		json_object_object_add(o, "stderrBytes", json_object_new_uint64(e->stderr_bytes));
		json_object_object_add(o, "tokenId", req->who ? json_object_new_string(req->who) : NULL);
		json_object_object_add(o, "requestId", json_object_new_string(req->rid));
		if (strlen(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) <= STORE_ENTRY_MAX ||
		    (cmd == 0 && cwd == 0))
			return o;
		json_object_put(o);
		/* a byte escapes to at most 6 ("\u0001"): the longer goes first */
		if (cwd > cmd)
			cwd /= 2;
		else
			cmd /= 2;
	}
}

int history_admit(struct app *app, const struct http_req *req, const char *id, struct sb_err *err)
{
	if (app->conf->history_max <= 0)
		return 0;
	/* a sandbox at history-max replaces its oldest entry: it adds about
	 * nothing, and its tenant at its share still runs commands there */
	if (store_history_full(&app->store, id, app->conf->history_max))
		return 0;
	return store_admit(&app->store, STORE_HISTORY, req->scope, 4096, err);
}

void history_add(struct app *app, const struct http_req *req, const char *id,
		 const struct history_entry *e)
{
	struct sb_err err = SB_ERR_INIT;
	struct json_object *o;

	if (app->conf->history_max <= 0)
		return;
	o = entry_json(req, e);
	if (store_history_add(&app->store, id, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
			      app->conf->history_max, req->scope, &err) < 0)
		log_error(req->rid, err.msg);
	json_object_put(o);
}

struct collected {
	struct json_object *all;
	char since[40];		/* the record's createdAt (ISO 8601 sorts as text) */
};

static void collect(const char *json, void *arg)
{
	struct collected *c = arg;
	struct json_object *o = json_tokener_parse(json), *t;

	if (!o)
		return;
	/* an entry of a destroyed sandbox of the same id (an exec the destroy
	 * killed may still write it): never shown to the new one */
	if (json_object_object_get_ex(o, "startedAt", &t) && json_object_is_type(t, json_type_string) &&
	    strcmp(json_object_get_string(t), c->since) < 0) {
		json_object_put(o);
		return;
	}
	json_object_array_add(c->all, o);
}

/* GET /sandboxes/:id/history[?limit=N]: the newest N (default all kept),
 * oldest first. */
void api_history(struct app *app, struct http_req *req, const char *id)
{
	struct sb_err err = SB_ERR_INIT;
	struct sandbox_ref sb = { .dirfd = -1 };
	struct json_object *all, *out, *d;
	char buf[16];
	const char *ls = http_query(req, "limit", buf, sizeof buf);
	long limit = LIMIT_MAX;
	size_t n, from;

	if (ls) {
		char *end;
		limit = strtol(ls, &end, 10);
		if (end == ls || *end || limit < 1 || limit > LIMIT_MAX) {
			http_reply_error(req, 400, "limit must be an integer from 1 to %d", LIMIT_MAX);
			return;
		}
	}
	if (app_sandbox_get(app, id, false, NULL, &sb, &err) < 0) {
		sandbox_ref_release(&sb);
		api_reply_err(req, &err);
		return;
	}
	sandbox_ref_release(&sb);
	all = json_object_new_array();
	struct collected c = { .all = all };
	sb_iso8601(sb.rec.created_ms, c.since, sizeof c.since);
	if (store_history_foreach(&app->store, id, collect, &c, &err) < 0) {
		json_object_put(all);
		api_reply_err(req, &err);
		return;
	}
	n = json_object_array_length(all);
	from = n > (size_t)limit ? n - (size_t)limit : 0;
	out = json_object_new_array();
	for (size_t i = from; i < n; i++)
		json_object_array_add(out, json_object_get(json_object_array_get_idx(all, i)));
	json_object_put(all);
	d = json_object_new_object();
	json_object_object_add(d, "projectId", json_object_new_string(id));
	json_object_object_add(d, "entries", out);
	http_reply_data(req, 200, d);
}
