/* The preview pool: nginx's auth_request for every preview request comes
 * here, on a socket of its own (--preview-socket) served by workers of
 * their own (--preview-workers), so previews keep working while every API
 * worker is held by a 10-minute exec or a log stream.  A worker only looks
 * the token up in LMDB (no sandbox is started, no cgroup opened) and
 * answers 204 with the upstream, the sandbox's address and the port, in
 * X-Sandbox-Upstream, or 403. */
#include "config.h"

#include "accept.h"
#include "app.h"
#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "preview.h"
#include "store.h"

#include <fcgiapp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

static void set_active(struct sb_record *r, const void *arg)
{
	r->active_ms = *(const int64_t *)arg;
}

/* Preview traffic is activity for --idle-stop: lastActiveAt moves, at most
 * one write a few seconds per sandbox (a page load is dozens of requests). */
static void touch(struct store *s, const struct conf *c, const char *id, const struct sb_record *r)
{
	int64_t now = sb_now_ms(), every = c->idle_stop_ms / 4;

	if (every > 5000 || every <= 0)
		every = 5000;
	if (now - r->active_ms >= every)
		store_update(s, id, set_active, &now, NULL);
}

/* 1 allowed (upstream filled), 0 refused, -1 an error of ours (logged). */
static int check(struct store *s, const struct conf *c, const char *label, char *upstream, size_t len)
{
	struct sb_err err = SB_ERR_INIT;
	char tok[PREVIEW_TOKEN_LEN + 1], hash[PREVIEW_HASH_HEX], addr[INET_ADDRSTRLEN];
	struct preview_port p;
	struct sb_record r;
	unsigned port;
	int found;

	if (!preview_label_parse(label, &port, tok) || preview_token_hash(tok, hash) < 0)
		return 0;
	found = preview_lookup(s, hash, &p, &err);
	if (found > 0 && (p.port != port || p.expires_ms <= sb_now_ms()))
		found = 0;
	if (found > 0)
		found = store_get(s, p.id, &r, &err);
	if (found < 0) {
		log_error(NULL, err.msg);
		return -1;
	}
	if (!found || preview_sandbox_addr(c, &r, addr, sizeof addr) < 0)
		return 0;
	touch(s, c, p.id, &r);
	snprintf(upstream, len, "%s:%u", addr, port);
	return 1;
}

static void answer(struct store *s, const struct conf *c, FCGX_Request *fr)
{
	const char *label = FCGX_GetParam("SANDBOXD_PREVIEW", fr->envp);
	char upstream[64];

	int r = check(s, c, label ? label : "", upstream, sizeof upstream);

	metrics_preview(r == 1 ? 0 : r == 0 ? 1 : 2);
	switch (r) {
	case 1:
		FCGX_FPrintF(fr->out, "Status: 204 No Content\r\nX-Sandbox-Upstream: %s\r\n\r\n", upstream);
		break;
	case 0:
		FCGX_FPrintF(fr->out, "Status: 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
		break;
	default:
		FCGX_FPrintF(fr->out, "Status: 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
	}
}

void preview_worker_run(const struct conf *conf, int listen_fd)
{
	struct sb_err err = SB_ERR_INIT;
	struct fcgi_accept acc;
	struct store_sizes sz;
	struct store store;
	char path[PATH_MAX];
	FCGX_Request fr;
	sigset_t none;

	prctl(PR_SET_NAME, "sandboxd-pview", 0, 0, 0);
	sb_proctitle_set("sandboxd: preview worker");
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (fcgi_accept_init(&acc, listen_fd, on_term) < 0)
		_exit(1);
	/* LMDB forbids using an environment across fork: opened here */
	snprintf(path, sizeof path, "%s/db", conf->data_dir);
	app_store_sizes(conf, &sz);
	if (store_open(&store, path, &sz, &err) < 0) {
		fprintf(stderr, "preview worker %d: %s\n", (int)getpid(), err.msg);
		_exit(1);
	}
	if (FCGX_InitRequest(&fr, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0)
		_exit(1);
	while (!stopping) {
		if (fcgi_accept(&acc, &fr) < 0)
			continue;
		answer(&store, conf, &fr);
		fcgi_accept_done(&acc, &fr);
	}
	store_close(&store);
	_exit(0);
}
