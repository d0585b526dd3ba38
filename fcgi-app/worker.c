#include "config.h"

#include "accept.h"
#include "app.h"
#include "auth.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "quota.h"
#include "router.h"
#include "sandbox.h"
#include "sse.h"

#include <sched.h>
#include <signal.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <stdio.h>
#include <time.h>

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static int slot;	/* ours in the pool's table */
static pid_t master;

#define STREAM_NICE 10

/* A long-lived request leaves the pool: this worker serves it, then exits,
 * and the master forks spares as it needs them (as for any busy worker).
 * Past max-streams it is refused at once: a 503 with Retry-After, never a
 * wait for a stream to end. */
static bool stream_admit(struct app *app, struct http_req *req, bool *stream)
{
	if (!pool_long_request(req))
		return true;
	if (pool_stream_admit(slot, app->conf->max_streams) < 0) {
		http_reply_error(req, 503, "too many streams open (max-streams %d): retry later",
				 app->conf->max_streams);
		return false;
	}
	*stream = true;
	/* the worker exits after it: no launcher kept for the stream's life */
	sandbox_prepare_drop();
	/* hundreds of streams wake for heartbeats and log polls: when the
	 * CPUs are short, a short request's worker goes first (nice), and a
	 * stream waking never preempts it (SCHED_BATCH: no wakeup preemption);
	 * the stream's command is the sandbox init's child: its priority is
	 * its own */
	sched_setscheduler(0, SCHED_BATCH, &(struct sched_param){ .sched_priority = 0 });
	setpriority(PRIO_PROCESS, 0, STREAM_NICE);
	return true;
}

/* A request found long-lived while it runs (a buffered exec past
 * EXEC_LONG_MS): out of the pool now, as stream_admit() does at the start,
 * and the master told at once, so a spare is forked for short requests;
 * the worker exits after the request.  Past max-streams it stays: it still
 * counts as a short request's worker, as it did. */
static bool left_pool;

static void leave_pool(struct app *app)
{
	if (left_pool || pool_stream_admit(slot, app->conf->max_streams) < 0)
		return;
	left_pool = true;
	sandbox_prepare_drop();
	setpriority(PRIO_PROCESS, 0, STREAM_NICE);
	if (getppid() == master)
		kill(master, SIGUSR1);
}

/* A reload (SIGTERM to the old workers) revoked the token of the stream
 * this worker serves?  The stop waits, blocked, while a request is served
 * (accept.c): it is seen pending, at the stream's next wake-up (a log
 * follow's poll of LOG_POLL_MS, an exec's output, heartbeat or long
 * check).  Checked against the tokens file as it is now, once per reload:
 * the stop stays pending for the stream's life, so each wake-up compares
 * the reloads' count (the master's, in the pool's mapping) with the one
 * last checked, and a later reload (that may have revoked what the first
 * one kept) is checked again.  A token still valid (or no tokens file)
 * keeps its stream, and the master is told so for that reload
 * (pool_keep(): it need not wait for it); a token gone ends it (the follow
 * with an "end" event, a streamed or long buffered exec as for a client
 * gone). */
static const struct conf *wconf;
static struct fcgi_accept acc;
static bool stream_revoked(const struct http_req *req)
{
	static bool checked, revoked;
	static uint32_t checked_reload;
	struct auth_tokens *a = NULL;
	uint32_t reload;

	if (revoked || !(stopping || fcgi_stop_pending(&acc)))
		return revoked;
	/* read before the file: a reload that comes after it is checked at
	 * the next wake-up (it counts one more) */
	reload = pool_reloads();
	if (checked && reload == checked_reload)
		return false;
	checked = true;
	checked_reload = reload;
	if (wconf->tokens_file && auth_load(wconf->tokens_file, &a) < 0)
		a = NULL;	/* unreadable: the reload kept the old ones, so do we */
	else if (wconf->tokens_file)
		revoked = !auth_still_valid(a, req, req->nsegs > 1 ? req->segs[1] : NULL);
	auth_free(a);
	if (!revoked)
		pool_keep(slot, reload);
	if (revoked)
		log_printf("info", req->rid, "reload: the stream's token was revoked: the stream ends");
	return revoked;
}

/* Busy now: when that leaves fewer than min-spare workers waiting, the
 * master is told at once (not at its next tick), so a burst of streams
 * grows the pool as fast as it can fork. */
static void pool_busy(const struct conf *c)
{
	pool_set(slot, POOL_BUSY);
	/* (a master gone takes us with it; until then our parent is another) */
	if (pool_count(POOL_IDLE) + pool_count(POOL_STARTING) < c->min_spare_workers && getppid() == master)
		kill(master, SIGUSR1);
}

/* One request; true when it was long-lived (the worker then leaves). */
static bool handle(struct app *app, FCGX_Request *fr)
{
	int64_t t0 = now_us();
	router_handler_fn fn;
	struct http_req req;
	bool stream = false;

	http_req_init(&req, fr, app->conf);
	app->rid = req.rid;
	fn = router_admit(app, &req);
	if (fn && router_read_body(&req) == 0 && stream_admit(app, &req, &stream))
		fn(app, &req, req.nsegs > 1 ? req.segs[1] : NULL);
	quota_leave(app->quota_slot);
	if (!req.status)
		http_reply_error(&req, 500, "no response");
	http_access_log(&req);
	metrics_request(req.route, req.method, req.status, now_us() - t0);
	http_req_release(&req);
	app->rid = NULL;
	return stream || left_pool;
}

void worker_run(const struct conf *conf, int listen_fd, unsigned serial, int pool_slot)
{
	struct sb_err err = SB_ERR_INIT;
	struct app app;
	FCGX_Request fr;
	sigset_t none;

	slot = pool_slot;
	master = getppid();	/* checked by child_of_master() */
	prctl(PR_SET_NAME, "sandboxd-worker", 0, 0, 0);
	metrics_worker_init();
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (fcgi_accept_init(&acc, listen_fd, on_term) < 0)
		_exit(1);
	/* LMDB forbids using an environment across fork: open it here */
	if (app_open(&app, conf, &err) < 0) {
		fprintf(stderr, "worker %d: %s\n", (int)getpid(), err.msg);
		_exit(1);
	}
	snprintf(app.cgname, sizeof app.cgname, "e%u", serial);
	app.serial = serial;
	app.quota_slot = pool_slot >= 0 ? (unsigned)pool_slot + 1 : 0;
	app.leave_pool = pool_slot >= 0 ? leave_pool : NULL;
	wconf = conf;
	sse_revoked = pool_slot >= 0 ? stream_revoked : NULL;
	{
		char title[64];
		snprintf(title, sizeof title, "sandboxd: worker %s", app.cgname);
		sb_proctitle_set(title);
	}
	if (FCGX_InitRequest(&fr, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0)
		_exit(1);
	pool_set(slot, POOL_IDLE);
	while (!stopping) {
		bool stream;

		if (fcgi_accept(&acc, &fr) < 0)
			continue;
		pool_busy(conf);
		metrics_worker_busy(serial, true);
		stream = handle(&app, &fr);
		fcgi_accept_done(&acc, &fr);
		metrics_worker_busy(serial, false);
		/* a stream's worker leaves: what it grew goes with it, and the
		 * pool is what the master keeps, not what streams left idle */
		if (stream)
			break;
		pool_set(slot, POOL_IDLE);
	}
	app_close(&app);
	_exit(0);
}
