/* The /sandboxes/:projectId endpoints: create-or-get, status, cleanup, exec. */
#include "config.h"

#include "api_sandbox.h"
#include "api_network.h"
#include "destroy.h"
#include "auth.h"
#include "disk.h"
#include "app.h"
#include "http.h"
#include "log.h"
#include "history.h"
#include "metrics.h"
#include "router.h"
#include "sse.h"
#include "proto.h"
#include "expiry.h"
#include "sandbox.h"
#include "imagestore.h"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <string.h>
#include <time.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#define TTL_MAX (86400LL * 3650)	/* seconds: ten years */

/* n digits at s, as a number; -1 when one is not a digit. */
static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* "YYYY-MM-DDTHH:MM:SS[.fraction]Z" exactly, of a time that exists (no
 * February 30, no 23:59:60: timegm would move them to another time, which
 * nobody asked for): ms since the epoch (the fraction dropped), or -1. */
static int64_t utc_time_ms(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	struct tm tm = { 0 }, back;
	time_t t;

	for (size_t i = 0; i < sizeof shape - 1; i++)
		if (shape[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != shape[i])
			return -1;
	tm.tm_year = digits(s, 4) - 1900;
	tm.tm_mon = digits(s + 5, 2) - 1;
	tm.tm_mday = digits(s + 8, 2);
	tm.tm_hour = digits(s + 11, 2);
	tm.tm_min = digits(s + 14, 2);
	tm.tm_sec = digits(s + 17, 2);
	s += sizeof shape - 1;
	if (*s == '.') {
		size_t n = strspn(s + 1, "0123456789");
		if (!n)
			return -1;
		s += 1 + n;
	}
	if (strcmp(s, "Z"))
		return -1;
	back = tm;
	t = timegm(&back);
	if (t == (time_t)-1 || back.tm_year != tm.tm_year || back.tm_mon != tm.tm_mon ||
	    back.tm_mday != tm.tm_mday || back.tm_hour != tm.tm_hour || back.tm_min != tm.tm_min ||
	    back.tm_sec != tm.tm_sec)
		return -1;
	return (int64_t)t * 1000;
}

/* "ttl": seconds from now, or "expiresAt": an RFC 3339 UTC time ("...Z"), or
 * null (never); the service destroys the sandbox from then on. */
static int parse_expiry(struct http_req *req, struct json_object *o, struct sb_want *want)
{
	struct json_object *ttl = NULL, *at = NULL;
	bool has_ttl = json_object_object_get_ex(o, "ttl", &ttl);
	bool has_at = json_object_object_get_ex(o, "expiresAt", &at);

	if (has_ttl && has_at) {
		http_reply_error(req, 400, "give ttl or expiresAt, not both");
		return -1;
	}
	if (has_ttl) {
		int64_t s = json_object_get_int64(ttl);
		if (!json_object_is_type(ttl, json_type_int) || s < 1 || s > TTL_MAX) {
			http_reply_error(req, 400, "ttl must be an integer number of seconds from 1 to %lld",
					 TTL_MAX);
			return -1;
		}
		want->set_expiry = true;
		want->expires_ms = sb_now_ms() + s * 1000;
	} else if (has_at && json_object_is_type(at, json_type_null)) {
		want->set_expiry = true;
		want->expires_ms = 0;
	} else if (has_at) {
		const char *s = json_object_is_type(at, json_type_string) ? json_object_get_string(at) : "";
		/* a NUL inside would end the time early */
		int64_t ms = strlen(s) == (size_t)json_object_get_string_len(at) ? utc_time_ms(s) : -1;

		if (ms <= sb_now_ms() || ms > sb_now_ms() + TTL_MAX * 1000) {
			http_reply_error(req, 400, "expiresAt must be a UTC time (2026-12-31T23:59:59Z) in the "
					 "next ten years, or null");
			return -1;
		}
		want->set_expiry = true;
		want->expires_ms = ms;
	}
	return 0;
}

/* {"from": ID[, "snapshot": NAME]}: a fork (api_snapshot.c), which takes
 * its image and limits from ID; 1 when o asks for one, -1 answered. */
static int parse_fork(struct http_req *req, struct json_object *o, struct sb_fork *f, char *from,
		      char *snap)
{
	struct json_object *v, *s;
	bool has_snap = json_object_object_get_ex(o, "snapshot", &s) && !json_object_is_type(s, json_type_null);

	if (!json_object_object_get_ex(o, "from", &v) || json_object_is_type(v, json_type_null)) {
		if (!has_snap)
			return 0;
		http_reply_error(req, 400, "snapshot needs from: the sandbox whose snapshot it is");
		return -1;
	}
	if (!json_object_is_type(v, json_type_string) || !project_id_valid(json_object_get_string(v)) ||
	    (has_snap && (!json_object_is_type(s, json_type_string) ||
			  !project_id_valid(json_object_get_string(s))))) {
		http_reply_error(req, 400, "from and snapshot must be names like \"my-sandbox\"");
		return -1;
	}
	if ((json_object_object_get_ex(o, "image", &v) && !json_object_is_type(v, json_type_null)) ||
	    (json_object_object_get_ex(o, "limits", &v) && !json_object_is_type(v, json_type_null))) {
		http_reply_error(req, 400, "a fork takes the image and limits of the sandbox it is made from "
				 "(change its limits after)");
		return -1;
	}
	snprintf(from, 64, "%s", json_object_get_string(json_object_object_get(o, "from")));
	f->from = from;
	if (has_snap) {
		snprintf(snap, 64, "%s", json_object_get_string(s));
		f->snapshot = snap;
	}
	return 1;
}

/* Optional body {"image": "host", "limits": {...}, "network": {...}}, the
 * limits those of sb_settings (settings.c) and the bandwidth caps, the
 * network policy and caps parsed by net_want_parse (api_network.c); or a
 * fork's (parse_fork), with a network policy of its own, not the origin's. */
static int parse_create_body(struct http_req *req, struct sb_want *want, bool *has_limits,
			     struct net_want *net, struct sb_fork *f, char *from, char *snap)
{
	struct sb_err err = SB_ERR_INIT;
	cleanup_json struct json_object *o = http_json_body(req);
	struct json_object *v;
	char why[128];

	memset(want, 0, sizeof *want);
	memset(f, 0, sizeof *f);
	*has_limits = false;
	if (!o)
		return -1;
	/* a fork has no image or limits of its own (refused): skipped below */
	if (parse_fork(req, o, f, from, snap) < 0)
		return -1;
	if (json_object_object_get_ex(o, "image", &v) && !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_string) ||
		    !image_name_ok(json_object_get_string(v))) {
			http_reply_error(req, 400, "image must be a name like \"bookworm\"");
			return -1;
		}
		/* resolved when the sandbox is made: unknown names are a 400 there */
		snprintf(want->image, sizeof want->image, "%s", json_object_get_string(v));
	}
	if (parse_expiry(req, o, want) < 0)
		return -1;
	if (json_object_object_get_ex(o, "limits", &v) && !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_object)) {
			http_reply_error(req, 400, "limits must be an object");
			return -1;
		}
		if (sb_limits_parse(v, &req->conf->max_limits, &want->lim, why, sizeof why) < 0) {
			http_reply_error(req, 400, "%s", why);
			return -1;
		}
		/* the disk size is fixed at creation; the rest may change */
		*has_limits = sb_limits_change(&want->lim);
	}
	if (net_want_parse(req->conf, o, net, &err) < 0) {
		api_reply_err(req, &err);
		return -1;
	}
	return 0;
}

static void set_expiry(struct sb_record *r, const void *arg)
{
	r->expires_ms = *(const int64_t *)arg;
}

/* A fork makes a new sandbox from one there is: the image and limits of
 * the origin, which must have a disk image to copy. */
static int fork_check(struct app *app, const char *id, struct sb_want *want, struct sb_fork *f,
		      struct sb_err *err)
{
	struct sb_record r;
	int found = store_get(&app->store, id, &r, err);

	/* a fork to this id whose worker died before the copy was its disk:
	 * it never started, nothing of it is anybody's: this fork replaces
	 * it (one under way keeps it: it holds the create lock) */
	if (found > 0 && r.forking) {
		if (destroy_unfinished_fork(app, id, r.created_ms, err) < 0)
			return -1;
		found = store_get(&app->store, id, &r, err);
	}
	if (found < 0)
		return -1;
	if (found)
		return sb_fail(err, SB_E_CONFLICT, EEXIST, "sandbox %s exists: a fork makes a new one", id);
	found = store_get(&app->store, f->from, &f->rec, err);
	if (found <= 0)
		return found < 0 ? -1 : sb_fail(err, SB_E_NOT_FOUND, ENOENT, "sandbox %s not found", f->from);
	if (f->rec.lim.disk_mb <= 0)
		return sb_fail(err, SB_E_CONFLICT, EINVAL, "sandbox %s has no disk image (diskMb 0): a fork "
			       "copies a sandbox's disk", f->from);
	snprintf(want->image, sizeof want->image, "%s", f->rec.image);
	want->fork = f;
	return 0;
}

void api_sandbox_create(struct app *app, struct http_req *req, const char *id)
{
	struct sb_err err = SB_ERR_INIT;
	char from[64], snap[64];
	struct sandbox_ref sb;
	struct sb_want want;
	struct net_want net;
	struct sb_fork fork;
	struct json_object *d;
	bool has_limits;
	int ctl;

	if (parse_create_body(req, &want, &has_limits, &net, &fork, from, snap) < 0)
		return;
	/* a fork reads its origin's files: the token must cover it too (the
	 * route's row checked the new id only); answered here when not */
	if (fork.from && !auth_check(app->conf->tokens, app->conf->allow_remote_no_auth, req,
				     AUTH_PROJECT, fork.from))
		return;
	if (fork.from && fork_check(app, id, &want, &fork, &err) < 0) {
		api_reply_err(req, &err);
		return;
	}
	/* the policy before the start: a sandbox never runs without it */
	if (app_sandbox_get(app, id, true, &want, &sb, &err) < 0 ||
	    (fork.from && !sb.created &&
	     sb_fail(&err, SB_E_CONFLICT, EEXIST, "sandbox %s exists: a fork makes a new one", id) < 0) ||
	    (has_limits && !sb.created && app_sandbox_set_limits(app, &sb, &want.lim, &err) < 0) ||
	    net_sandbox_set(app, &sb, &net, &err) < 0 ||
	    (ctl = app_sandbox_connect(app, &sb, &err)) < 0) {
		sandbox_ref_release(&sb);
		api_reply_err(req, &err);
		return;
	}
	close(ctl);
	app_sandbox_touch(app, &sb);
	if (want.set_expiry && store_update(&app->store, id, set_expiry, &want.expires_ms, &err) < 0) {
		sandbox_ref_release(&sb);
		api_reply_err(req, &err);
		return;
	}
	if (want.set_expiry)
		expiry_hint(app->conf, want.expires_ms);
	sandbox_ref_release(&sb);
	d = json_object_new_object();
	json_object_object_add(d, "projectId", json_object_new_string(id));
	json_object_object_add(d, "status", json_object_new_string("ready"));
	json_object_object_add(d, "message", json_object_new_string("Sandbox ready"));
	if (fork.from)
		json_object_object_add(d, "from", json_object_new_string(fork.from));
	if (fork.snapshot)
		json_object_object_add(d, "snapshot", json_object_new_string(fork.snapshot));
	http_reply_data(req, 200, d);
}

static struct json_object *limits_json(const struct app *app, const struct sb_record *r)
{
	struct sb_limits l;

	sb_limits_effective(&r->lim, &app->conf->limits, &l);
	return sb_limits_json(&l);
}

/* Whether the recorded init runs, as sandbox_alive() says (its pid's
 * /proc stat: that start time, not a zombie), read through pidfds each
 * worker keeps of the inits of the last KEPT_INITS sandboxes it read: the
 * stat's open, read and close (the kernel formats its 52 fields) were 7.6
 * % of a status read's samples in the worker, a poll of a pidfd is one
 * system call.  A pidfd is kept only when the stat, read after it was
 * opened, showed the recorded start time running: it is that process.
 * It polls readable once that process has exited (a zombie, or reaped),
 * when the stat would say Z or another process or none: the same answer
 * (the init is one thread: the thread group's exit is its own).  Keyed by
 * pid and start time: a sandbox started again has a new one. */
#define KEPT_INITS 8
static struct kept_init {
	pid_t pid;
	unsigned long long start;
	int fd;
	unsigned long long used;	/* 0: free */
} kept_inits[KEPT_INITS];
static unsigned long long kept_inits_clock;

static void kept_init_drop(struct kept_init *k)
{
	if (k->used)
		close(k->fd);
	k->used = 0;
}

static bool init_running(const struct sb_record *r)
{
	struct kept_init *k = NULL, *lru = &kept_inits[0];
	struct pollfd p;
	bool alive;
	int fd;

	if (r->init_pid <= 0 || !r->init_start)
		return false;
	for (int i = 0; i < KEPT_INITS; i++) {
		if (kept_inits[i].used && kept_inits[i].pid == r->init_pid &&
		    kept_inits[i].start == r->init_start)
			k = &kept_inits[i];
		if (kept_inits[i].used < lru->used)
			lru = &kept_inits[i];
	}
	if (k) {
		p = (struct pollfd){ .fd = k->fd, .events = POLLIN };
		if (poll(&p, 1, 0) == 0) {
			k->used = ++kept_inits_clock;
			return true;
		}
		kept_init_drop(k);
		lru = k;
	}
	fd = sb_pidfd_open(r->init_pid);
	alive = sandbox_alive(r->init_pid, r->init_start);
	if (fd >= 0 && !alive)
		close(fd);
	else if (fd >= 0) {
		kept_init_drop(lru);
		*lru = (struct kept_init){ r->init_pid, r->init_start, fd, ++kept_inits_clock };
	}
	return alive;
}

/* The init's root, opened before the sandbox is found running: when it is
 * (its init's start time still matches after this open: a pid recycled
 * before has another), this is that init's root.  Its statfs is the
 * sandbox's writable layer as the init's statfs("/") says it (init.c,
 * SB_MSG_STATFS), read here through the magic link alone (no path of the
 * sandbox's walked), not asked of the init: that round trip (connect, a
 * wake-up of the init, its answer) was 16 % of a status read's samples
 * in the worker, and the init's time besides, measured.  -1: none (the
 * init is asked). */
static int open_root(const struct sb_record *r)
{
	char path[64];

	if (r->init_pid <= 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%d/root", (int)r->init_pid);
	return open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

static int root_statfs(int rootfd, struct sb_fs_info *fi)
{
	struct statfs sf;

	if (rootfd < 0 || fstatfs(rootfd, &sf) < 0)
		return -1;
	fi->total_bytes = (uint64_t)sf.f_blocks * (uint64_t)sf.f_bsize;
	fi->used_bytes = (uint64_t)(sf.f_blocks - sf.f_bfree) * (uint64_t)sf.f_bsize;
	fi->total_inodes = sf.f_files;
	fi->used_inodes = sf.f_files - sf.f_ffree;
	return 0;
}

/* rootfd: open_root()'s, opened before the sandbox was found running. */
static struct json_object *usage_json(struct app *app, const struct sandbox_ref *sb, int rootfd)
{
	struct json_object *o = json_object_new_object();
	const char *id = sb->id;
	struct sb_fs_info fi;
	struct cg_usage u;
	cleanup_close int ctl = -1;

	cg_sandbox_usage_kept(&app->cg, id, &u);
	json_object_object_add(o, "memoryBytes", json_object_new_int64(u.memory_current));
	json_object_object_add(o, "memoryPeakBytes", json_object_new_int64(u.memory_peak));
	json_object_object_add(o, "pids", json_object_new_int64(u.pids));
	json_object_object_add(o, "cpuTimeMs", json_object_new_int64(u.cpu_usec < 0 ? -1 : u.cpu_usec / 1000));
	json_object_object_add(o, "oomKills", json_object_new_int64(u.oom_kills));
	/* the writable layer as the sandbox sees it (its disk quota) */
	if (root_statfs(rootfd, &fi) == 0 ||
	    ((ctl = sandbox_connect(sb->dirfd)) >= 0 && sandbox_statfs(ctl, &fi, NULL) == 0)) {
		json_object_object_add(o, "diskUsedBytes", json_object_new_int64((int64_t)fi.used_bytes));
		json_object_object_add(o, "diskTotalBytes", json_object_new_int64((int64_t)fi.total_bytes));
		json_object_object_add(o, "inodesUsed", json_object_new_int64((int64_t)fi.used_inodes));
		json_object_object_add(o, "inodesTotal", json_object_new_int64((int64_t)fi.total_inodes));
	}
	return o;
}

/* When the service will destroy it, and why (ttl: its own expiry; idle:
 * --destroy-after-idle counted from its last activity); null: never. */
static void expiry_json(const struct app *app, const struct sb_record *r, struct json_object *d)
{
	int64_t idle = app->conf->destroy_idle_ms > 0 ? r->active_ms + app->conf->destroy_idle_ms : 0;
	int64_t at = r->expires_ms;
	const char *why = "ttl";

	if (idle && (!at || idle < at)) {
		at = idle;
		why = "idle";
	}
	/* absent: never */
	if (!at)
		return;
	json_object_object_add(d, "expiresAt", api_iso(at));
	json_object_object_add(d, "expiresBecause", json_object_new_string(why));
}

void api_sandbox_status(struct app *app, struct http_req *req, const char *id)
{
	struct sb_err err = SB_ERR_INIT;
	struct sandbox_ref sb;
	struct json_object *d, *usage = NULL;
	cleanup_close int rootfd = -1;
	bool running;
	int health;

	if (app_sandbox_get(app, id, false, NULL, &sb, &err) < 0) {
		sandbox_ref_release(&sb);
		api_reply_err(req, &err);
		return;
	}
	d = json_object_new_object();
	json_object_object_add(d, "projectId", json_object_new_string(id));
	rootfd = open_root(&sb.rec);
	running = init_running(&sb.rec);
	json_object_object_add(d, "status", json_object_new_string(running ? "running" : "stopped"));
	json_object_object_add(d, "image", json_object_new_string(sb.rec.image));
	if (sb.rec.image_version[0])
		json_object_object_add(d, "imageVersion", json_object_new_string(sb.rec.image_version));
	json_object_object_add(d, "createdAt", api_iso(sb.rec.created_ms));
	json_object_object_add(d, "lastActiveAt", api_iso(sb.rec.active_ms));
	expiry_json(app, &sb.rec, d);
	json_object_object_add(d, "limits", limits_json(app, &sb.rec));
	/* false: its file system recorded an error (it is repaired at the
	 * sandbox's next start) */
	if (sb.rec.lim.disk_mb > 0 && (health = disk_image_health(sb.dirfd)) >= 0)
		json_object_object_add(d, "diskHealthy", json_object_new_boolean(health));
	if (running)
		json_object_object_add(d, "usage", usage = usage_json(app, &sb, rootfd));
	net_status_add(app, &sb, d, usage);
	sandbox_ref_release(&sb);
	http_reply_data(req, 200, d);
}

void api_sandbox_delete(struct app *app, struct http_req *req, const char *id)
{
	struct sb_err err = SB_ERR_INIT;
	struct sandbox_ref sb;
	struct json_object *d;
	int killed = 0, ctl;

	if (app_sandbox_get(app, id, false, NULL, &sb, &err) < 0) {
		sandbox_ref_release(&sb);
		api_reply_err(req, &err);
		return;
	}
	/* a stopped sandbox has nothing to kill: do not start it for that */
	ctl = sandbox_connect(sb.dirfd);
	if (ctl >= 0) {
		int r = sandbox_killall(ctl, &killed, &err);
		close(ctl);
		if (r < 0) {
			sandbox_ref_release(&sb);
			api_reply_err(req, &err);
			return;
		}
	}
	sandbox_ref_release(&sb);
	log_event(req->rid, "sandbox.cleaned", id, "killed=%d", killed);
	d = json_object_new_object();
	json_object_object_add(d, "projectId", json_object_new_string(id));
	json_object_object_add(d, "status", json_object_new_string("cleaned"));
	json_object_object_add(d, "message", json_object_new_string("All processes terminated"));
	json_object_object_add(d, "killed", json_object_new_int(killed));
	http_reply_data(req, 200, d);
}

/* POST /sandboxes/:id/destroy: the sandbox removed for good (destroy.h);
 * 200 whether it existed or not, so that a retry after a lost answer is
 * answered as the first was. */
void api_sandbox_destroy(struct app *app, struct http_req *req, const char *id)
{
	struct sb_err err = SB_ERR_INIT;
	struct json_object *d;

	if (destroy_sandbox(app, id, &err) < 0) {
		api_reply_err(req, &err);
		return;
	}
	d = json_object_new_object();
	json_object_object_add(d, "projectId", json_object_new_string(id));
	json_object_object_add(d, "status", json_object_new_string("destroyed"));
	json_object_object_add(d, "message", json_object_new_string("Sandbox destroyed: processes, files and records removed"));
	http_reply_data(req, 200, d);
}

/* A JSON string field without NUL bytes; NULL (err filled, 400) when it is not. */
static const char *string_field(struct json_object *v, const char *name, size_t max,
				struct sb_err *err)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string)) {
		sb_fail(err, SB_E_INVALID, 0, "%s must be a string", name);
		return NULL;
	}
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v)) {
		sb_fail(err, SB_E_INVALID, 0, "%s must not contain NUL characters", name);
		return NULL;
	}
	if (strlen(s) > max) {
		sb_fail(err, SB_E_INVALID, 0, "%s is longer than %zu bytes", name, max);
		return NULL;
	}
	return s;
}

static bool env_name_valid(const char *k)
{
	size_t n = strlen(k);

	return n > 0 && n <= 256 && !(k[0] >= '0' && k[0] <= '9') &&
	       strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == n;
}

void exec_args_release(struct exec_args *a)
{
	for (size_t i = 0; i < a->nenv; i++)
		free(a->env[i]);
	a->nenv = 0;
}

static int env_add(struct exec_args *a, const char *k, const char *v)
{
	size_t klen = strlen(k);
	char *kv;

	/* a later entry overrides an earlier one of the same name */
	for (size_t i = 0; i < a->nenv; i++) {
		if (strncmp(a->env[i], k, klen) == 0 && a->env[i][klen] == '=') {
			free(a->env[i]);
			a->env[i] = a->env[--a->nenv];
			break;
		}
	}
	if (asprintf(&kv, "%s=%s", k, v) < 0)
		return -1;
	a->env[a->nenv++] = kv;
	return 0;
}

static int parse_env(struct json_object *env, struct exec_args *a, struct sb_err *err)
{
	if (!json_object_is_type(env, json_type_object))
		return sb_fail(err, SB_E_INVALID, 0, "env must be an object of strings");
	if (json_object_object_length(env) > EXEC_MAX_ENV)
		return sb_fail(err, SB_E_INVALID, 0, "env has more than %d variables", EXEC_MAX_ENV);
	json_object_object_foreach(env, k, v) {
		const char *s;
		if (!env_name_valid(k))
			return sb_fail(err, SB_E_INVALID, 0, "invalid env variable name");
		s = string_field(v, "env value", 65536, err);
		if (!s)
			return -1;
		if (env_add(a, k, s) < 0)
			return sb_fail(err, SB_E_INTERNAL, 0, "out of memory");
	}
	return 0;
}

static int parse_exec(struct json_object *o, const char *id, const struct conf *c,
		      struct exec_args *a, struct sb_err *err)
{
	struct json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, "command", &v))
		return sb_fail(err, SB_E_INVALID, 0, "command is required");
	a->rq.command = string_field(v, "command", 131071, err);
	if (!a->rq.command)
		return -1;
	if (!*a->rq.command)
		return sb_fail(err, SB_E_INVALID, 0, "command must not be empty");
	if (json_object_object_get_ex(o, "stream", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			return sb_fail(err, SB_E_INVALID, 0, "stream must be a boolean");
		a->stream = json_object_get_boolean(v);
	}
	a->rq.timeout_ms = c->default_timeout_ms;
	if (json_object_object_get_ex(o, "timeout", &v) && !json_object_is_type(v, json_type_null)) {
		double t = json_object_get_double(v);
		if (!(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) ||
		    !(t > 0))
			return sb_fail(err, SB_E_INVALID, 0,
				       "timeout must be a positive number of milliseconds");
		a->rq.timeout_ms = t > (double)c->max_timeout_ms ? c->max_timeout_ms : (int64_t)t;
		if (a->rq.timeout_ms < 1)
			a->rq.timeout_ms = 1;
	}
	snprintf(a->cwd, sizeof a->cwd, "/workspace");
	if (json_object_object_get_ex(o, "cwd", &v)) {
		s = string_field(v, "cwd", 4095, err);
		if (!s)
			return -1;
		if (*s == '/')
			snprintf(a->cwd, sizeof a->cwd, "%s", s);
		else if (*s)
			snprintf(a->cwd, sizeof a->cwd, "/workspace/%s", s);
	}
	a->rq.cwd = a->cwd;
	if (env_add(a, "PATH", DEFAULT_PATH) < 0 || env_add(a, "HOME", "/root") < 0 ||
	    env_add(a, "LANG", "C.UTF-8") < 0 || env_add(a, "HOSTNAME", id) < 0 ||
	    /* node trusts its own built-in store, not the system's bundle */
	    (c->ca_bundle[0] && env_add(a, "NODE_EXTRA_CA_CERTS", CA_BUNDLE_PATH) < 0))
		return sb_fail(err, SB_E_INTERNAL, 0, "out of memory");
	if (json_object_object_get_ex(o, "env", &v) && !json_object_is_type(v, json_type_null) &&
	    parse_env(v, a, err) < 0)
		return -1;
	a->rq.env = (const char *const *)a->env;
	a->rq.nenv = a->nenv;
	a->rq.max_output = c->max_output;
	return 0;
}

int exec_body_parse(struct json_object *o, const char *id, const struct conf *c,
		    struct exec_args *a, struct sb_err *err)
{
	memset(a, 0, sizeof *a);
	if (parse_exec(o, id, c, a, err) < 0) {
		exec_args_release(a);
		return -1;
	}
	return 0;
}

/* An exec that ran: into the metrics and the sandbox's history. */
static void exec_record(struct app *app, const struct http_req *req, const char *id,
			const struct exec_args *a, const struct sb_exec_res *res, bool ran,
			uint64_t out_bytes, uint64_t err_bytes, int64_t started_ms)
{
	struct history_entry e = {
		.kind = "exec", .command = a->rq.command, .cwd = a->cwd,
		.exit_code = ran ? res->exit_code : HISTORY_NO_EXIT,
		.started_ms = started_ms, .duration_ms = ran ? res->duration_ms : 0,
		.stdout_bytes = out_bytes, .stderr_bytes = err_bytes,
	};

	metrics_exec(ran && res->timed_out, ran && res->oom_killed);
	history_add(app, req, id, &e);
}

/* stream: true.  Server-sent events as the Cloudflare SDK's execStream:
 * start, stdout/stderr as they come, then exactly one complete or error,
 * whatever happens to the command, the sandbox or the client. */
static void exec_stream(struct app *app, struct http_req *req, int ctl,
			const struct sandbox_ref *sb, const char *id,
			struct exec_args *a)
{
	int64_t started = sb_now_ms();
	struct sb_err err = SB_ERR_INIT;
	struct sb_exec_res res;
	struct sse sse;
	int r;

	sse_init(&sse, req, a->rq.command);
	a->rq.sink = sse_sink;
	a->rq.drain = sse_drain;
	a->rq.sink_arg = &sse;
	a->rq.heartbeat_ms = (int)req->conf->heartbeat_ms;
	r = sandbox_exec(ctl, &app->cg, id, app->cgname, &a->rq, &res, &err);
	if (!sse.started) {
		/* it never ran: an ordinary JSON error (a bad cwd is a 400) */
		sb_exec_res_release(&res);
		sse_end(&sse);
		/* destroyed under it: 404; stopped under it: 409 */
		app_sandbox_destroyed(app, sb, &err);
		app_sandbox_gone(sb, &err);
		api_reply_err(req, &err);
		return;
	}
	sse_finish(&sse, r < 0 ? &err : NULL, &res, a->rq.timeout_ms);
	exec_record(app, req, id, a, &res, r >= 0, sse.bytes[1], sse.bytes[2], started);
	sb_exec_res_release(&res);
	/* the command is over: the client has --send-timeout to take the rest */
	sse_end(&sse);
}

/* Run a validated exec in the sandbox and answer (or stream) its result. */
/* A buffered exec that has run this long is not a short request: its worker
 * leaves the pool (a spare is forked for the short ones), so one token's
 * `sleep` commands never take every short-request worker.  `true` and
 * other quick commands never get here: no fork per short exec. */
#define EXEC_LONG_MS 1000

struct exec_long {
	struct app *app;
	struct http_req *req;
};

static int exec_long(void *arg)
{
	struct exec_long *l = arg;

	l->app->leave_pool(l->app);
	/* a reload revoked its token: ended as for a client gone */
	return sse_revoked && sse_revoked(l->req) ? -1 : 0;
}

static void exec_run(struct app *app, struct http_req *req, const char *id, struct json_object *o,
		     struct exec_args *a)
{
	struct sb_err err = SB_ERR_INIT;
	cleanup_sandbox_ref struct sandbox_ref sb = { .dirfd = -1 };
	struct sb_exec_res res;
	struct json_object *d;
	struct exec_long longarg = { app, req };
	int64_t started;
	int ctl, r;

	(void)o;
	if (a->stream && api_stream_admit(app, req) < 0)
		return;
	/* what the command writes is unknown: the reserve must be there */
	if ((ctl = api_sandbox_open(app, req, id, 0, "a command", &sb)) < 0)
		return;
	a->rq.watch_fd = req->fcgi->ipcFd;
	if (a->stream) {
		exec_stream(app, req, ctl, &sb, id, a);
		close(ctl);
		app_sandbox_touch(app, &sb);
		return;
	}
	if (app->leave_pool) {
		a->rq.long_ms = EXEC_LONG_MS;
		a->rq.on_long = exec_long;
		a->rq.long_arg = &longarg;
	}
	started = sb_now_ms();
	r = sandbox_exec(ctl, &app->cg, id, app->cgname, &a->rq, &res, &err);
	close(ctl);
	if (r < 0) {
		/* destroyed under it: 404; stopped under it: 409 */
		app_sandbox_destroyed(app, &sb, &err);
		app_sandbox_gone(&sb, &err);
	}
	app_sandbox_touch(app, &sb);
	if (r >= 0)
		exec_record(app, req, id, a, &res, true, res.out.len, res.err.len, started);
	if (r < 0) {
		sb_exec_res_release(&res);
		api_reply_err(req, &err);
		return;
	}
	d = json_object_new_object();
	json_object_object_add(d, "stdout", json_string_lossy(res.out.data ? res.out.data : "", res.out.len));
	json_object_object_add(d, "stderr", json_string_lossy(res.err.data ? res.err.data : "", res.err.len));
	json_object_object_add(d, "exitCode", json_object_new_int(res.exit_code));
	json_object_object_add(d, "durationMs", json_object_new_int64(res.duration_ms));
	json_object_object_add(d, "timedOut", json_object_new_boolean(res.timed_out));
	json_object_object_add(d, "truncated", json_object_new_boolean(res.truncated));
	json_object_object_add(d, "oomKilled", json_object_new_boolean(res.oom_killed));
	json_object_object_add(d, "cpuTimeMs", json_object_new_int64(res.cpu_us / 1000));
	json_object_object_add(d, "peakMemoryKb", json_object_new_int64(res.maxrss_kb));
	sb_exec_res_release(&res);
	http_reply_data(req, 200, d);
}

void exec_body_run(struct app *app, struct http_req *req, const char *id, exec_run_fn *run)
{
	struct sb_err err = SB_ERR_INIT;
	cleanup_json struct json_object *o = http_json_body(req);
	struct exec_args a;

	if (!o)
		return;
	/* a refused body leaves a empty: nothing to release */
	if (exec_body_parse(o, id, req->conf, &a, &err) < 0) {
		api_reply_err(req, &err);
		return;
	}
	/* a command whose entry the history would refuse does not run */
	if (history_admit(app, req, id, &err) < 0) {
		api_reply_err(req, &err);
		exec_args_release(&a);
		return;
	}
	run(app, req, id, o, &a);
	exec_args_release(&a);
}

void api_exec(struct app *app, struct http_req *req, const char *id)
{
	exec_body_run(app, req, id, exec_run);
}
