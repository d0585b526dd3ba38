/* What an operator asks of the service: is it alive (/healthz), and how
 * is it doing (/metrics, Prometheus text format). */
#include "config.h"

#include "app.h"
#include "http.h"
#include "metrics.h"
#include "netapply.h"
#include "router.h"
#include "sandbox.h"
#include "warm.h"

#include <stdio.h>
#include <stdlib.h>

struct census {
	long running, stopped, warm;
};

static void count(const char *id, const struct sb_record *r, void *arg)
{
	struct census *c = arg;

	if (warm_name(id))
		c->warm += sandbox_alive(r->init_pid, r->init_start);
	else if (sandbox_alive(r->init_pid, r->init_start))
		c->running++;
	else
		c->stopped++;
}

/* The pool answers (this worker is it) and LMDB reads. */
void api_healthz(struct app *app, struct http_req *req, const char *id)
{
	struct sb_err err = SB_ERR_INIT;
	struct sb_record r;
	struct json_object *d = json_object_new_object();
	bool lmdb = store_get(&app->store, "healthz-probe", &r, &err) >= 0;

	(void)id;
	json_object_object_add(d, "status", json_object_new_string(lmdb ? "ok" : "degraded"));
	json_object_object_add(d, "workers", json_object_new_int(metrics_workers_live()));
	json_object_object_add(d, "busyWorkers", json_object_new_int(metrics_busy_count()));
	json_object_object_add(d, "lmdb", json_object_new_string(lmdb ? "ok" : err.msg));
	http_reply_data(req, lmdb ? 200 : 503, d);
}

/* The shared stores' fair shares (store.h): near full shows here first. */
static void store_metrics(struct app *app, FILE *f)
{
	static const char *const names[STORE_N] = { "main", "history" };
	long long used[STORE_N], budget[STORE_N], refused[STORE_N];

	for (int w = 0; w < STORE_N; w++)
		store_use(&app->store, w, &used[w], &budget[w], &refused[w]);
	fputs("# HELP sandboxd_store_used_bytes Bytes the sandboxes keep in a shared store, as charged.\n"
	      "# TYPE sandboxd_store_used_bytes gauge\n", f);
	for (int w = 0; w < STORE_N; w++)
		fprintf(f, "sandboxd_store_used_bytes{store=\"%s\"} %lld\n", names[w], used[w]);
	fputs("# HELP sandboxd_store_budget_bytes Bytes all may keep in a store (half its map).\n"
	      "# TYPE sandboxd_store_budget_bytes gauge\n", f);
	for (int w = 0; w < STORE_N; w++)
		fprintf(f, "sandboxd_store_budget_bytes{store=\"%s\"} %lld\n", names[w], budget[w]);
	fputs("# HELP sandboxd_store_share_bytes Bytes one tenant (token scope) may keep in a store.\n"
	      "# TYPE sandboxd_store_share_bytes gauge\n", f);
	for (int w = 0; w < STORE_N; w++)
		fprintf(f, "sandboxd_store_share_bytes{store=\"%s\"} %lld\n", names[w], app->store.share[w]);
	fputs("# HELP sandboxd_store_refusals_total Writes refused (507) for a full share or store.\n"
	      "# TYPE sandboxd_store_refusals_total counter\n", f);
	for (int w = 0; w < STORE_N; w++)
		fprintf(f, "sandboxd_store_refusals_total{store=\"%s\"} %lld\n", names[w], refused[w]);
}

void api_metrics(struct app *app, struct http_req *req, const char *id)
{
	struct sb_err err = SB_ERR_INIT;
	struct census c = { 0, 0, 0 };
	cleanup_free char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)id;
	if (!f) {
		http_reply_error(req, 500, "out of memory");
		return;
	}
	store_foreach(&app->store, count, &c, &err);
	metrics_write(f);
	fprintf(f, "# HELP sandboxd_sandboxes Sandboxes by state (stopped ones keep their files).\n"
		"# TYPE sandboxd_sandboxes gauge\n"
		"sandboxd_sandboxes{state=\"running\"} %ld\nsandboxd_sandboxes{state=\"stopped\"} %ld\n"
		"sandboxd_sandboxes{state=\"warm\"} %ld\n"
		"# HELP sandboxd_lmdb_bytes Bytes of the metadata database in use.\n"
		"# TYPE sandboxd_lmdb_bytes gauge\nsandboxd_lmdb_bytes %lld\n",
		c.running, c.stopped, c.warm, store_bytes(&app->store));
	store_metrics(app, f);
	net_metrics_write(app, f);
	fclose(f);
	http_begin_raw(req, 200, "text/plain; version=0.0.4; charset=utf-8", len, NULL);
	FCGX_PutStr(text, (int)len, req->fcgi->out);
}
