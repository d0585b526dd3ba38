/* The pool's shared state: one byte per worker slot, the settings shown in
 * /metrics, and which requests are long-lived. */
#include "config.h"

#include "conf.h"
#include "http.h"
#include "metrics.h"
#include "pool.h"
#include "router.h"

#include <errno.h>
#include <json-c/json.h>
#include <string.h>

struct pool_shared {
	uint8_t state[POOL_SLOTS];
	/* the reloads so far (bumped by the master before it tells the old
	 * workers), and per slot the reload whose check kept its stream's
	 * token (0: none): a stream kept by one reload is not kept by the
	 * next one, that may have revoked its token */
	uint32_t reloads;
	uint32_t kept[POOL_SLOTS];
	uint64_t refused;	/* streams refused at max-streams */
	uint64_t ended[3];	/* workers ended: after a stream, retired, died */
	/* every slot from here up is POOL_FREE, and always was: a count
	 * scans the slots below it only (a few, not POOL_SLOTS: the workers
	 * count at each request).  Raised before a slot's state is first set,
	 * never lowered. */
	int used;
	int start, min_spare, max_spare, max_workers, max_streams;
};

static struct pool_shared *p;

int pool_init(void)
{
	/* in the metrics' mapping: one shared mapping per worker, which its
	 * own children (a sandbox's launcher, helpers) do not inherit */
	p = metrics_area(sizeof *p);
	if (!p) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

void pool_settings(const struct conf *c)
{
	if (!p)
		return;
	p->start = c->workers;
	p->min_spare = c->min_spare_workers;
	p->max_spare = c->max_spare_workers;
	p->max_workers = c->max_workers;
	p->max_streams = c->max_streams;
}

/* used raised to past slot, before the slot's state is stored (seq_cst
 * both): a count that sees the state sees the slot. */
static void use_slot(int slot)
{
	int u = __atomic_load_n(&p->used, __ATOMIC_SEQ_CST);

	while (u <= slot && !__atomic_compare_exchange_n(&p->used, &u, slot + 1, false, __ATOMIC_SEQ_CST,
							 __ATOMIC_SEQ_CST))
		;
}

int pool_slots_used(void)
{
	return p ? __atomic_load_n(&p->used, __ATOMIC_SEQ_CST) : POOL_SLOTS;
}

void pool_set(int slot, enum pool_state s)
{
	if (p && slot >= 0 && slot < POOL_SLOTS) {
		if (s != POOL_FREE)
			use_slot(slot);
		if (s == POOL_FREE || s == POOL_STARTING)
			__atomic_store_n(&p->kept[slot], 0, __ATOMIC_SEQ_CST);
		__atomic_store_n(&p->state[slot], (uint8_t)s, __ATOMIC_SEQ_CST);
	}
}

uint32_t pool_reload_begin(void)
{
	uint32_t r;

	if (!p)
		return 0;
	r = __atomic_add_fetch(&p->reloads, 1, __ATOMIC_SEQ_CST);
	if (r == 0)	/* 0 is "none" in kept[]: skipped at the wrap */
		r = __atomic_add_fetch(&p->reloads, 1, __ATOMIC_SEQ_CST);
	return r;
}

uint32_t pool_reloads(void)
{
	return p ? __atomic_load_n(&p->reloads, __ATOMIC_SEQ_CST) : 0;
}

void pool_keep(int slot, uint32_t reload)
{
	if (p && slot >= 0 && slot < POOL_SLOTS)
		__atomic_store_n(&p->kept[slot], reload, __ATOMIC_SEQ_CST);
}

bool pool_kept(int slot)
{
	uint32_t k;

	if (!p || slot < 0 || slot >= POOL_SLOTS)
		return false;
	k = __atomic_load_n(&p->kept[slot], __ATOMIC_SEQ_CST);
	return k != 0 && k == pool_reloads();
}

enum pool_state pool_get(int slot)
{
	if (!p || slot < 0 || slot >= POOL_SLOTS)
		return POOL_FREE;
	return (enum pool_state)__atomic_load_n(&p->state[slot], __ATOMIC_SEQ_CST);
}

int pool_count(enum pool_state s)
{
	int used = pool_slots_used(), n = 0;

	for (int i = 0; p && i < used; i++)
		n += __atomic_load_n(&p->state[i], __ATOMIC_RELAXED) == s;
	/* the slots never used are free */
	return p && s == POOL_FREE ? n + POOL_SLOTS - used : n;
}

int pool_stream_admit(int slot, int max_streams)
{
	/* ours first, then the count (seq_cst both): of two workers admitting
	 * at once, each sees the other, so the cap is never passed (both may
	 * be refused at the last place: the cautious side) */
	pool_set(slot, POOL_STREAM);
	if (pool_count(POOL_STREAM) <= max_streams)
		return 0;
	pool_set(slot, POOL_BUSY);
	if (p)
		__atomic_fetch_add(&p->refused, 1, __ATOMIC_RELAXED);
	return -1;
}

void pool_ended(enum pool_state was, bool died)
{
	if (p)
		__atomic_fetch_add(&p->ended[died ? 2 : was == POOL_STREAM ? 0 : 1], 1, __ATOMIC_RELAXED);
}

static bool route_is(const struct http_req *req, const char *pattern)
{
	const char *r = router_pattern(req->route);

	return r && !strcmp(r, pattern);
}

/* "stream": true in a JSON body (a bad body is the handler's to refuse) */
static bool body_streams(const struct http_req *req)
{
	struct json_object *o, *v;
	bool yes = false;

	if (!req->body || !memmem(req->body, req->body_len, "stream", 6))
		return false;
	o = json_tokener_parse(req->body);
	if (o && json_object_object_get_ex(o, "stream", &v) && json_object_is_type(v, json_type_boolean))
		yes = json_object_get_boolean(v);
	json_object_put(o);
	return yes;
}

bool pool_long_request(const struct http_req *req)
{
	char v[8];
	const char *s;

	if (route_is(req, "/sandboxes/{projectId}/clone"))
		return !strcmp(req->method, "POST");	/* minutes, streamed or not */
	if (route_is(req, "/sandboxes/{projectId}/exec"))
		return !strcmp(req->method, "POST") && body_streams(req);
	/* a raw upload lasts as long as its client takes to send it: a
	 * trickle must not hold a short-request worker (its read is bounded
	 * too: api_files.c feed()) */
	if (router_is_raw_upload(req))
		return true;
	/* so does a download's, to a client that reads slowly: a file's bytes
	 * (raw, or a range) and an archive (api_files.c: as it decides) */
	if (route_is(req, "/sandboxes/{projectId}/archive"))
		return !strcmp(req->method, "GET");
	if (route_is(req, "/sandboxes/{projectId}/files/{path}") && !strcmp(req->method, "GET")) {
		s = http_query(req, "raw", v, sizeof v);
		return (s && strcmp(s, "0")) || strstr(http_param(req, "HTTP_ACCEPT"), "application/octet-stream") ||
		       *http_param(req, "HTTP_RANGE");
	}
	if (route_is(req, "/sandboxes/{projectId}/processes/{processId}/logs")) {
		s = http_query(req, "stream", v, sizeof v);
		return s && strcmp(s, "0");	/* as api_proc_get reads it */
	}
	return false;
}

void pool_metrics_write(FILE *f)
{
	if (!p)
		return;
	fprintf(f, "# HELP sandboxd_pool_idle_workers Workers of the pool waiting for a request.\n"
		"# TYPE sandboxd_pool_idle_workers gauge\nsandboxd_pool_idle_workers %d\n"
		"# HELP sandboxd_pool_streams Long-lived requests open (streamed execs, log follows, clones), each in a worker out of the pool.\n"
		"# TYPE sandboxd_pool_streams gauge\nsandboxd_pool_streams %d\n"
		"# HELP sandboxd_pool_streams_refused_total Long-lived requests refused with 503: max-streams were open.\n"
		"# TYPE sandboxd_pool_streams_refused_total counter\nsandboxd_pool_streams_refused_total %llu\n"
		"# HELP sandboxd_pool_workers_ended_total Workers ended: left after a stream, retired (spares past max-spare, a reload), died (a crash, a kill: replaced at once).\n"
		"# TYPE sandboxd_pool_workers_ended_total counter\n"
		"sandboxd_pool_workers_ended_total{reason=\"stream\"} %llu\n"
		"sandboxd_pool_workers_ended_total{reason=\"retired\"} %llu\n"
		"sandboxd_pool_workers_ended_total{reason=\"died\"} %llu\n"
		"# HELP sandboxd_pool_start_workers Setting workers: the pool's size at start and reload.\n"
		"# TYPE sandboxd_pool_start_workers gauge\nsandboxd_pool_start_workers %d\n"
		"# HELP sandboxd_pool_min_spare_workers Setting min-spare-workers.\n"
		"# TYPE sandboxd_pool_min_spare_workers gauge\nsandboxd_pool_min_spare_workers %d\n"
		"# HELP sandboxd_pool_max_spare_workers Setting max-spare-workers.\n"
		"# TYPE sandboxd_pool_max_spare_workers gauge\nsandboxd_pool_max_spare_workers %d\n"
		"# HELP sandboxd_pool_max_workers Setting max-workers: workers on short requests at most.\n"
		"# TYPE sandboxd_pool_max_workers gauge\nsandboxd_pool_max_workers %d\n"
		"# HELP sandboxd_pool_max_streams Setting max-streams: long-lived requests open at most.\n"
		"# TYPE sandboxd_pool_max_streams gauge\nsandboxd_pool_max_streams %d\n",
		pool_count(POOL_IDLE) + pool_count(POOL_STARTING), pool_count(POOL_STREAM),
		(unsigned long long)__atomic_load_n(&p->refused, __ATOMIC_RELAXED),
		(unsigned long long)__atomic_load_n(&p->ended[0], __ATOMIC_RELAXED),
		(unsigned long long)__atomic_load_n(&p->ended[1], __ATOMIC_RELAXED),
		(unsigned long long)__atomic_load_n(&p->ended[2], __ATOMIC_RELAXED), p->start, p->min_spare,
		p->max_spare, p->max_workers, p->max_streams);
}
