#include "config.h"

#include "metrics.h"
#include "pool.h"
#include "router.h"

#include <string.h>
#include <sys/mman.h>

#define ROUTES_MAX 32		/* router_count() is below; index ROUTES_MAX: no route */
static const char *const methods[] = { "GET", "POST", "PUT", "DELETE", "OPTIONS", "other" };
#define NMETHODS (sizeof methods / sizeof *methods)
static const int codes[] = { 200, 201, 204, 206, 400, 401, 403, 404, 405, 409, 413, 415, 416, 422,
			     429, 500, 502, 503, 504, 0 /* any other */ };
#define NCODES (sizeof codes / sizeof *codes)
/* seconds; one more bucket for +Inf */
static const double bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
				 5, 10, 30, 60 };
#define NBUCKETS (sizeof bounds / sizeof *bounds)
#define BUSY_SLOTS 4096		/* > the most workers alive at once (256 + retiring) */

struct shared {
	uint64_t requests[ROUTES_MAX + 1][NMETHODS][NCODES];
	uint64_t buckets[ROUTES_MAX + 1][NBUCKETS + 1];	/* not cumulative */
	uint64_t usec_sum[ROUTES_MAX + 1];
	uint64_t count[ROUTES_MAX + 1];
	uint64_t execs, exec_timeouts, oom_kills, disk_errors, destroyed, expired;
	uint64_t previews[3];		/* preview token checks: allowed, refused, failed */
	uint8_t busy[BUSY_SLOTS];	/* by worker serial, modulo */
	int64_t writing[BUSY_SLOTS];	/* bytes a worker is writing into a sandbox disk */
	int64_t workers;
	/* metrics_area(): the pool's state (pool.c), in this one mapping */
	unsigned char area[32768] __attribute__((aligned(64)));
};

static struct shared *m;

int metrics_init(void)
{
	void *p = mmap(NULL, sizeof *m, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	m = p;
	return 0;
}

void *metrics_area(size_t n)
{
	return m && n <= sizeof m->area ? m->area : NULL;
}

void metrics_worker_init(void)
{
	/* a worker's children (a sandbox's launcher, hence its init; clone
	 * and file helpers) do not take the writable mapping with them */
	if (m)
		madvise(m, sizeof *m, MADV_DONTFORK);
}

static void add(uint64_t *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

static uint64_t get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

void metrics_request(int route, const char *method, int status, int64_t usec)
{
	size_t r = route < 0 || route >= ROUTES_MAX ? ROUTES_MAX : (size_t)route, mi = 0, ci = 0, b = 0;

	if (!m)
		return;
	while (mi < NMETHODS - 1 && strcmp(methods[mi], method))
		mi++;
	while (ci < NCODES - 1 && codes[ci] != status)
		ci++;
	while (b < NBUCKETS && usec > bounds[b] * 1e6)
		b++;
	add(&m->requests[r][mi][ci], 1);
	add(&m->buckets[r][b], 1);
	add(&m->usec_sum[r], usec < 0 ? 0 : (uint64_t)usec);
	add(&m->count[r], 1);
}

void metrics_worker_busy(unsigned serial, bool busy)
{
	if (!m)
		return;
	__atomic_store_n(&m->busy[serial % BUSY_SLOTS], busy, __ATOMIC_RELAXED);
	/* a request's writes end with it, and a dead worker's with the worker */
	if (!busy)
		__atomic_store_n(&m->writing[serial % BUSY_SLOTS], 0, __ATOMIC_RELEASE);
}

int64_t metrics_writing(unsigned serial, int64_t bytes)
{
	int64_t others = 0;

	if (!m)
		return 0;
	/* our own first (seq_cst: a worker that admits after this store sees
	 * it, and we see the stores of those that admitted before) */
	__atomic_store_n(&m->writing[serial % BUSY_SLOTS], bytes, __ATOMIC_SEQ_CST);
	for (size_t i = 0; i < BUSY_SLOTS; i++)
		if (i != serial % BUSY_SLOTS)
			others += __atomic_load_n(&m->writing[i], __ATOMIC_SEQ_CST);
	return others;
}

void metrics_workers(int live)
{
	if (m)
		__atomic_store_n(&m->workers, live, __ATOMIC_RELAXED);
}

int metrics_busy_count(void)
{
	int n = 0;

	for (size_t i = 0; m && i < BUSY_SLOTS; i++)
		n += __atomic_load_n(&m->busy[i], __ATOMIC_RELAXED);
	return n;
}

int metrics_workers_live(void)
{
	return m ? (int)__atomic_load_n(&m->workers, __ATOMIC_RELAXED) : 0;
}

void metrics_expired(void)
{
	if (m)
		add(&m->expired, 1);
}

void metrics_destroyed(void)
{
	if (m)
		add(&m->destroyed, 1);
}

void metrics_disk_error(void)
{
	if (m)
		add(&m->disk_errors, 1);
}

void metrics_preview(int result)
{
	if (m && result >= 0 && result < 3)
		add(&m->previews[result], 1);
}

void metrics_exec(bool timed_out, bool oom_killed)
{
	if (!m)
		return;
	add(&m->execs, 1);
	if (timed_out)
		add(&m->exec_timeouts, 1);
	if (oom_killed)
		add(&m->oom_kills, 1);
}

static const char *route_label(size_t r)
{
	const char *p = r < ROUTES_MAX ? router_pattern((int)r) : NULL;

	return p ? p : "none";
}

static void write_requests(FILE *f)
{
	fputs("# HELP sandboxd_requests_total Requests answered, by route pattern, method and status.\n"
	      "# TYPE sandboxd_requests_total counter\n", f);
	for (size_t r = 0; r <= ROUTES_MAX; r++)
		for (size_t mi = 0; mi < NMETHODS; mi++)
			for (size_t ci = 0; ci < NCODES; ci++) {
				uint64_t n = get(&m->requests[r][mi][ci]);
				if (!n)
					continue;
				fprintf(f, "sandboxd_requests_total{route=\"%s\",method=\"%s\",code=\"", route_label(r),
					methods[mi]);
				if (codes[ci])
					fprintf(f, "%d", codes[ci]);
				else
					fputs("other", f);
				fprintf(f, "\"} %llu\n", (unsigned long long)n);
			}
}

static void write_durations(FILE *f)
{
	fputs("# HELP sandboxd_request_duration_seconds Time from request to the end of the answer.\n"
	      "# TYPE sandboxd_request_duration_seconds histogram\n", f);
	for (size_t r = 0; r <= ROUTES_MAX; r++) {
		uint64_t cum = 0, count = get(&m->count[r]);
		if (!count)
			continue;
		for (size_t b = 0; b <= NBUCKETS; b++) {
			cum += get(&m->buckets[r][b]);
			if (b < NBUCKETS)
				fprintf(f, "sandboxd_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
					route_label(r), bounds[b], (unsigned long long)cum);
			else
				fprintf(f, "sandboxd_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
					route_label(r), (unsigned long long)cum);
		}
		fprintf(f, "sandboxd_request_duration_seconds_sum{route=\"%s\"} %.6f\n", route_label(r),
			(double)get(&m->usec_sum[r]) / 1e6);
		fprintf(f, "sandboxd_request_duration_seconds_count{route=\"%s\"} %llu\n", route_label(r),
			(unsigned long long)count);
	}
}

void metrics_write(FILE *f)
{
	if (!m)
		return;
	write_requests(f);
	write_durations(f);
	fprintf(f, "# HELP sandboxd_execs_total Commands run by POST .../exec.\n"
		"# TYPE sandboxd_execs_total counter\nsandboxd_execs_total %llu\n"
		"# HELP sandboxd_exec_timeouts_total Commands killed at their timeout.\n"
		"# TYPE sandboxd_exec_timeouts_total counter\nsandboxd_exec_timeouts_total %llu\n"
		"# HELP sandboxd_oom_kills_total Commands ended by the out-of-memory killer.\n"
		"# TYPE sandboxd_oom_kills_total counter\nsandboxd_oom_kills_total %llu\n"
		"# HELP sandboxd_disk_errors_total Sandbox file systems found with errors at a start (then repaired).\n"
		"# TYPE sandboxd_disk_errors_total counter\nsandboxd_disk_errors_total %llu\n"
		"# HELP sandboxd_sandboxes_destroyed_total Sandboxes destroyed (POST .../destroy).\n"
		"# TYPE sandboxd_sandboxes_destroyed_total counter\nsandboxd_sandboxes_destroyed_total %llu\n"
		"# HELP sandboxd_sandboxes_expired_total Sandboxes the service destroyed at their ttl/expiresAt or --destroy-after-idle.\n"
		"# TYPE sandboxd_sandboxes_expired_total counter\nsandboxd_sandboxes_expired_total %llu\n"
		"# HELP sandboxd_workers Workers alive: the pool's and those serving a stream.\n"
		"# TYPE sandboxd_workers gauge\nsandboxd_workers %d\n"
		"# HELP sandboxd_workers_busy Workers answering a request now.\n"
		"# TYPE sandboxd_workers_busy gauge\nsandboxd_workers_busy %d\n",
		(unsigned long long)get(&m->execs), (unsigned long long)get(&m->exec_timeouts),
		(unsigned long long)get(&m->oom_kills), (unsigned long long)get(&m->disk_errors),
		(unsigned long long)get(&m->destroyed),
		(unsigned long long)get(&m->expired), metrics_workers_live(), metrics_busy_count());
	fprintf(f, "# HELP sandboxd_preview_checks_total Preview requests the preview pool checked, by answer.\n"
		"# TYPE sandboxd_preview_checks_total counter\n"
		"sandboxd_preview_checks_total{result=\"allowed\"} %llu\n"
		"sandboxd_preview_checks_total{result=\"refused\"} %llu\n"
		"sandboxd_preview_checks_total{result=\"failed\"} %llu\n",
		(unsigned long long)get(&m->previews[0]), (unsigned long long)get(&m->previews[1]),
		(unsigned long long)get(&m->previews[2]));
	pool_metrics_write(f);
}

_Static_assert(ROUTES_MAX >= 16, "room for every route");
