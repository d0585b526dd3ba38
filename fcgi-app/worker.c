#include "config.h"

#include "app.h"
#include "http.h"
#include "metrics.h"
#include "pool.h"
#include "quota.h"
#include "router.h"

#include <signal.h>
#include <sys/prctl.h>
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

static void handle(struct app *app, FCGX_Request *fr)
{
	int64_t t0 = now_us();
	router_handler_fn fn;
	struct http_req req;

	http_req_init(&req, fr, app->conf);
	app->rid = req.rid;
	fn = router_admit(app, &req);
	if (fn && router_read_body(&req) == 0)
		fn(app, &req, req.nsegs > 1 ? req.segs[1] : NULL);
	quota_leave(app->serial);
	if (!req.status)
		http_reply_error(&req, 500, "no response");
	http_access_log(&req);
	metrics_request(req.route, req.method, req.status, now_us() - t0);
	http_req_release(&req);
	app->rid = NULL;
}

void worker_run(const struct conf *conf, int listen_fd, unsigned serial)
{
	struct sb_err err = SB_ERR_INIT;
	struct sigaction sa = { .sa_handler = on_term };	/* no SA_RESTART: accept returns */
	struct app app;
	FCGX_Request fr;
	sigset_t none;

	prctl(PR_SET_NAME, "sandboxd-worker", 0, 0, 0);
	metrics_worker_init();
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* LMDB forbids using an environment across fork: open it here */
	if (app_open(&app, conf, &err) < 0) {
		fprintf(stderr, "worker %d: %s\n", (int)getpid(), err.msg);
		_exit(1);
	}
	snprintf(app.cgname, sizeof app.cgname, "e%u", serial);
	app.serial = serial;
	{
		char title[64];
		snprintf(title, sizeof title, "sandboxd: worker %s", app.cgname);
		sb_proctitle_set(title);
	}
	if (FCGX_InitRequest(&fr, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0)
		_exit(1);
	while (!stopping) {
		if (FCGX_Accept_r(&fr) < 0)
			continue;
		metrics_worker_busy(serial, true);
		handle(&app, &fr);
		FCGX_Finish_r(&fr);
		metrics_worker_busy(serial, false);
	}
	app_close(&app);
	_exit(0);
}
