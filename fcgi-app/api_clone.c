/* POST /sandboxes/:id/clone: libgit2 runs inside the sandbox (container/
 * clone.c); this side vets the URL and brokers its connections. */
#include "config.h"

#include "api.h"
#include "app.h"
#include "clone_policy.h"
#include "fileops.h"
#include "http.h"
#include "log.h"
#include "proto.h"
#include "router.h"
#include "sandbox.h"
#include "sse.h"

#include <fcntl.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define CONNECT_TIMEOUT_MS 10000
#define URL_MAX 2048
#define BRANCH_MAX 255
/* the clone's sibling: the directory and ".sandboxd-clone-<pid>-<ms>" */
#define CLONE_TMP_BUF (API_PATH_BUF + 100)
/* the broker's second path: "url\nbranch\nsibling" */
#define CLONE_ARGS_BUF (URL_MAX + BRANCH_MAX + CLONE_TMP_BUF + 8)

/* One of this host's own addresses (a service bound to 0.0.0.0 answers
 * there as on loopback), unless --clone-allow names it. */
static bool host_address(const struct sockaddr *sa, const struct conf *c)
{
	struct ifaddrs *ifs, *i;
	bool mine = false;

	if (getifaddrs(&ifs) < 0)
		return true;	/* cannot tell: refuse */
	for (i = ifs; i && !mine; i = i->ifa_next) {
		const struct sockaddr *ia = i->ifa_addr;
		if (!ia || ia->sa_family != sa->sa_family)
			continue;
		if (sa->sa_family == AF_INET)
			mine = !memcmp(&((const struct sockaddr_in *)ia)->sin_addr,
				       &((const struct sockaddr_in *)sa)->sin_addr, 4);
		else if (sa->sa_family == AF_INET6)
			mine = !memcmp(&((const struct sockaddr_in6 *)ia)->sin6_addr,
				       &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	}
	freeifaddrs(ifs);
	/* what the operator allowed by name (tests allow 127.0.0.0/8) stays allowed */
	return mine && !clone_addr_listed(sa, c->clone_allow, c->nclone_allow);
}

/* Whether the address policy lets a clone reach sa. */
static bool may_reach(const struct sockaddr *sa, const struct conf *c)
{
	return clone_addr_allowed(sa, c->clone_allow, c->nclone_allow) && !host_address(sa, c);
}

/* A URL's host given as an address (127.0.0.1, 127.1, 0x7f000001, [::1]):
 * refused before anything is fetched when the policy refuses it; false
 * for a name, which the broker vets once resolved. */
static bool literal_refused(const struct conf *c, const struct clone_url *u, char *why, size_t len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	bool refused;

	if (getaddrinfo(u->host, u->port, &hints, &res))
		return false;
	refused = !may_reach(res->ai_addr, c);
	freeaddrinfo(res);
	if (refused)
		snprintf(why, len, "connection to %s:%s refused: an address this service may not reach "
			 "(clone-allow names the ranges an operator allows)", u->host, u->port);
	return refused;
}

/* A connected socket to one allowed address of host:port; -1 with why, -2
 * when the policy refused every address (the caller's request, not the
 * remote side, is at fault). */
static int dial(const struct conf *c, const char *host, const char *port, char *why, size_t len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	int fd = -1, r;
	bool tried = false;

	/* the host's resolver: the sandbox's /etc/hosts is the sandbox's to write */
	r = getaddrinfo(host, port, &hints, &res);
	if (r) {
		snprintf(why, len, "cannot resolve %s: %s", host, gai_strerror(r));
		return -1;
	}
	snprintf(why, len, "%s resolves only to addresses this service may not reach", host);
	for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
		if (!may_reach(a->ai_addr, c))
			continue;
		tried = true;
		fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
			snprintf(why, len, "connect to %s: %s", host, strerror(errno));
			close(fd);
			fd = -1;
			continue;
		}
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int err = 0;
		socklen_t el = sizeof err;
		if (poll(&p, 1, CONNECT_TIMEOUT_MS) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
			snprintf(why, len, "connect to %s: %s", host, err ? strerror(err) : "timed out");
			close(fd);
			fd = -1;
			continue;
		}
		fcntl(fd, F_SETFL, 0);
	}
	freeaddrinfo(res);
	return fd < 0 && !tried ? -2 : fd;
}

/* Progress to a streaming client: at most every 200 ms, and the last. */
struct progress {
	struct sse *sse;	/* NULL: not streaming */
	int64_t last_ms;
	const char *rid;	/* the request, for the log */
	char refused[512];	/* the policy refused a connection: why; "" none */
};

static void report_progress(struct progress *pg, const struct sb_clone_progress *p, bool force)
{
	struct json_object *o;
	int st;

	if (!pg->sse || (!force && sb_mono_ms() - pg->last_ms < 200))
		return;
	/* a client behind on its progress hears the newer one when it has
	 * caught up: what waits for it never grows */
	st = sse_flush(pg->sse);
	if (st == SSE_GONE || (st != SSE_IDLE && !force))
		return;
	pg->last_ms = sb_mono_ms();
	o = json_object_new_object();
	json_object_object_add(o, "type", json_object_new_string("progress"));
	json_object_object_add(o, "receivedObjects", json_object_new_int64((int64_t)p->received_objects));
	json_object_object_add(o, "totalObjects", json_object_new_int64((int64_t)p->total_objects));
	json_object_object_add(o, "receivedBytes", json_object_new_int64((int64_t)p->received_bytes));
	sse_event(pg->sse, o);
}

/* One packet from the clone's child on the broker socket; false when
 * there was none (the child closed its end). */
static bool broker_serve(const struct conf *c, const struct clone_url *u, int brk,
			 struct progress *pg)
{
	char buf[sizeof(struct sb_msg) + 600], why[300];
	int fds[SB_MSG_MAXFDS], nfds;
	struct sb_msg m;
	ssize_t n = sb_msg_recv(brk, buf, sizeof buf - 1, fds, &nfds);

	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	if (n < (ssize_t)sizeof m)
		return n > 0;
	memcpy(&m, buf, sizeof m);
	buf[n] = '\0';
	if (m.type == SB_MSG_PROGRESS && (size_t)n >= sizeof m + sizeof(struct sb_clone_progress)) {
		struct sb_clone_progress p;
		memcpy(&p, buf + sizeof m, sizeof p);
		report_progress(pg, &p, p.total_objects && p.received_objects == p.total_objects);
		return true;
	}
	if (m.type != SB_MSG_CONNECT)
		return true;
	const char *host = buf + sizeof m, *port = host + strlen(host) + 1;
	struct sb_msg r = { .type = SB_MSG_ERROR };
	int fd = -1;

	/* the URL's own host and port only: a redirect elsewhere is refused */
	if (port >= buf + n || strcasecmp(host, u->host) || strcmp(port, u->port))
		snprintf(why, sizeof why, "only %s:%s may be reached (no redirects)", u->host, u->port);
	else
		fd = dial(c, host, port, why, sizeof why);
	if (fd == -2)
		snprintf(pg->refused, sizeof pg->refused, "connection to %s:%s refused: %s", host, port, why);
	if (fd >= 0) {
		r.type = SB_MSG_CONNECTED;
		sb_msg_send(brk, &r, NULL, 0, &fd, 1);
		close(fd);
	} else {
		char msg[600];
		snprintf(msg, sizeof msg, "clone: refused connection to %s:%s: %s", host, port, why);
		log_warn(pg->rid, msg);
		sb_msg_send(brk, &r, why, strlen(why) + 1, NULL, 0);
	}
	return true;
}

/* Serve the broker until the child answers on ctl, bounded by the clone timeout. */
static int run_clone(const struct conf *c, const struct clone_url *u, int ctl, int brk,
		     struct progress *pg, struct sb_file_info *info, struct sb_err *err)
{
	int64_t deadline = sb_mono_ms() + c->clone_timeout_ms;

	for (;;) {
		/* a streaming client that does not read never holds the clone
		 * past its deadline: what waits for it goes when it takes it */
		int st = pg->sse ? sse_flush(pg->sse) : SSE_GONE;
		struct pollfd p[3] = {
			{ .fd = ctl, .events = POLLIN }, { .fd = brk, .events = POLLIN },
			{ .fd = st > SSE_IDLE ? pg->sse->fd : -1, .events = POLLOUT },
		};
		int64_t left = deadline - sb_mono_ms();
		int r;

		if (left <= 0)
			return sb_fail(err, SB_E_TIMEOUT, ETIMEDOUT, "clone took longer than %lld s",
				       (long long)c->clone_timeout_ms / 1000);
		r = poll(p, 3, left > 1000 ? 1000 : (int)left);
		if (r < 0 && errno != EINTR)
			return sb_syserr(err, "poll");
		if (r <= 0)
			continue;
		if (p[1].revents & POLLIN)
			broker_serve(c, u, brk, pg);
		if (p[0].revents) {
			/* the child is done: what it said before (its last progress
			 * among it) is still queued on the broker socket */
			struct pollfd q = { .fd = brk, .events = POLLIN };
			while (poll(&q, 1, 0) == 1 && (q.revents & POLLIN) && broker_serve(c, u, brk, pg))
				;
			return sandbox_file_reply(ctl, info, 1000, err);
		}
	}
}

/* A clone killed at its deadline leaves its sibling directory: kill the
 * child (closing ctl does) and remove the sibling, as the sandbox. */
static void remove_leftover(struct app *app, struct sandbox_ref *sb, int ctl, const char *tmp)
{
	struct sb_file_req rq = { .op = SB_FILE_DELETE, .flags = SB_FILE_RECURSIVE };
	struct sb_file_info info;
	int c, data = -1;

	close(ctl);
	c = sandbox_connect(sb->dirfd);
	(void)app;
	if (c < 0)
		return;
	if (sandbox_file_request(c, &rq, tmp, NULL, &data, NULL) == 0 &&
	    sandbox_file_reply(c, &info, SB_INIT_REPLY_MS, NULL) == 0)
		sandbox_file_end(c, SB_INIT_REPLY_MS, NULL);
	close(c);
}

static const char *string_opt(struct http_req *req, struct json_object *o, const char *key,
			      size_t max, bool *bad)
{
	struct json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	s = json_object_get_string(v);
	if (!json_object_is_type(v, json_type_string) || strlen(s) != (size_t)json_object_get_string_len(v) ||
	    !*s || strlen(s) > max || strchr(s, '\n')) {
		http_reply_error(req, 400, "%s must be a non-empty string without NUL or newline", key);
		*bad = true;
		return NULL;
	}
	return s;
}

void api_clone(struct app *app, struct http_req *req, const char *id)
{
	struct sb_err err = SB_ERR_INIT;
	cleanup_json struct json_object *o = http_json_body(req);
	struct json_object *v;
	cleanup_sandbox_ref struct sandbox_ref sb = { .dirfd = -1 };
	struct sb_file_req rq = { .op = SB_FILE_CLONE, .max_bytes = req->conf->clone_max_bytes };
	struct sb_file_info info;
	struct clone_url u;
	char msg[256], dir[API_PATH_BUF], ub[CLONE_ARGS_BUF], tmp[CLONE_TMP_BUF];
	const char *url, *d, *branch;
	bool bad = false, stream = false;
	struct sse sse;
	struct progress pg = { NULL, 0, req->rid, "" };
	cleanup_close int ctl = -1, brk = -1;
	int ca;

	if (!o)
		return;
	url = string_opt(req, o, "repoUrl", URL_MAX, &bad);
	if (bad)
		return;
	if (!url) {
		http_reply_error(req, 400, "repoUrl is required");
		return;
	}
	if (json_object_object_get_ex(o, "depth", &v)) {
		http_reply_error(req, 400, "depth: shallow clones are not supported (libgit2 1.5 has none)");
		return;
	}
	if (json_object_object_get_ex(o, "stream", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			http_reply_error(req, 400, "stream must be a boolean");
			return;
		}
		stream = json_object_get_boolean(v);
	}
	if (clone_url_parse(url, &u, msg, sizeof msg) < 0) {
		http_reply_error(req, 400, "%s", msg);
		return;
	}
	if (literal_refused(req->conf, &u, pg.refused, sizeof pg.refused)) {
		http_reply_error(req, 403, "clone failed: %s", pg.refused);
		return;
	}
	branch = string_opt(req, o, "branch", BRANCH_MAX, &bad);
	d = string_opt(req, o, "directory", 4000, &bad);
	if (bad || (stream && api_stream_admit(app, req) < 0))
		return;
	if (!d && !u.name[0]) {
		http_reply_error(req, 400, "%s", msg);
		return;
	}
	if (d)
		snprintf(dir, sizeof dir, "%s%s", *d == '/' ? "" : "/workspace/", d);
	else
		snprintf(dir, sizeof dir, "/workspace/%s", u.name);
	/* the clone goes into a sibling named here, so we can remove it
	 * ourselves when the child is killed mid-way */
	snprintf(tmp, sizeof tmp, "%s.sandboxd-clone-%d-%lld", dir, (int)getpid(), (long long)sb_mono_ms());
	snprintf(ub, sizeof ub, "%s\n%s\n%s", url, branch ? branch : "", tmp);
	/* admitted for the most it may write: the clone cap */
	if ((ctl = api_sandbox_open(app, req, id, (long long)req->conf->clone_max_bytes, "a clone",
				    &sb)) < 0)
		return;
	if (sandbox_file_request(ctl, &rq, dir, ub, &brk, &err) < 0) {
		api_reply_err(req, &err);
		return;
	}
	/* the host's CA bundle, for https (the sandbox may have none) */
	ca = open("/etc/ssl/certs/ca-certificates.crt", O_RDONLY | O_CLOEXEC);
	{
		struct sb_msg m = { .type = SB_MSG_CA };
		sb_msg_send(brk, &m, NULL, 0, &ca, ca >= 0 ? 1 : 0);
	}
	if (ca >= 0)
		close(ca);
	if (stream) {
		/* from here on the answer is events: progress, then one result */
		struct json_object *st = json_object_new_object();
		sse_init(&sse, req, url);
		pg.sse = &sse;
		sse_begin(&sse);
		json_object_object_add(st, "type", json_object_new_string("start"));
		json_object_object_add(st, "repoUrl", json_object_new_string(url));
		json_object_object_add(st, "directory", json_object_new_string(dir));
		sse_event(&sse, st);
	}
	if (run_clone(req->conf, &u, ctl, brk, &pg, &info, &err) < 0 ||
	    sandbox_file_end(ctl, SB_INIT_REPLY_MS, &err) < 0) {
		int st;

		app_disk_failed(app, &sb, &err);
		st = api_status(&err);
		/* what failed it was our policy refusing the caller's URL, not
		 * the remote side: 403, and our own words for it */
		if (st == 502 && pg.refused[0]) {
			st = 403;
			snprintf(err.msg, sizeof err.msg, "%s", pg.refused);
		}
		if (st == 504) {
			remove_leftover(app, &sb, ctl, tmp);
			ctl = -1;
		}
		api_log_status(req, st, err.msg);
		if (stream) {
			struct json_object *e = json_object_new_object();
			char m[700];
			snprintf(m, sizeof m, "%s%s", st == 502 || st == 403 ? "clone failed: " : "", err.msg);
			json_object_object_add(e, "type", json_object_new_string("error"));
			json_object_object_add(e, "status", json_object_new_int(st));
			json_object_object_add(e, "error", json_object_new_string(m));
			sse_event(&sse, e);
			sse_end(&sse);
		} else {
			http_reply_error(req, st, "%s%s", st == 502 || st == 403 ? "clone failed: " : "", err.msg);
		}
		return;
	}
	struct json_object *r = json_object_new_object();
	if (stream)
		json_object_object_add(r, "type", json_object_new_string("complete"));
	json_object_object_add(r, "repoUrl", json_object_new_string(url));
	json_object_object_add(r, "directory", json_object_new_string(dir));
	json_object_object_add(r, "message", json_object_new_string("Repository cloned successfully"));
	if (stream) {
		sse_event(&sse, r);
		sse_end(&sse);
	} else
		http_reply_data(req, 200, r);
}
