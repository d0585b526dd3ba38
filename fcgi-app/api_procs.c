/* Background processes: /sandboxes/:id/processes[/:pid[/logs]].
 *
 * The init starts them, keeps their output in bounded logs inside the
 * sandbox (container/procs.c) and records their exit when it reaps them,
 * whether or not a request is watching.  Their metadata lives in LMDB and is
 * brought up to date from the init's table whenever it is read. */
#include "config.h"

#include "api_sandbox.h"
#include "api.h"
#include "app.h"
#include "fileops.h"
#include "http.h"
#include "log.h"
#include "history.h"
#include "proto.h"
#include "router.h"
#include "sandbox.h"
#include "sse.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#define KILL_GRACE_MS 5000
#define RECORDS_PER_SANDBOX 256	/* the oldest ended ones go first */
#define COMMAND_KEPT 1024	/* bytes of the command a record keeps */
#define LOG_POLL_MS 200
/* a process's record key, "<projectId>/<processId>", with room to spare */
#define PROC_KEY_BUF 160
/* its cgroup, "p-<processId>" */
#define PROC_CGNAME_BUF 80
/* its log, SB_PROC_DIR "/<processId>/stdout" */
#define PROC_LOG_PATH_BUF 200

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static const char *status_of(struct json_object *r)
{
	const char *s = r ? jstr(r, "status") : NULL;

	return s ? s : "";
}

/* The record's status from a wait status. */
static void set_exit(struct json_object *r, int status, const char *ended_by)
{
	const char *st = WIFSIGNALED(status) ? "killed" : WEXITSTATUS(status) == 0 ? "completed" : "failed";

	json_object_object_add(r, "status", json_object_new_string(st));
	json_object_object_add(r, "exitCode", json_object_new_int(
		WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)));
	if (WIFSIGNALED(status))
		json_object_object_add(r, "signal", json_object_new_int(WTERMSIG(status)));
	json_object_object_add(r, "endedAt", api_iso(sb_now_ms()));
	if (ended_by)
		json_object_object_add(r, "endedBy", json_object_new_string(ended_by));
}

/* Bring record r (of process procid) up to date from the init's table;
 * true when it changed.  An init that does not know a running process
 * (the sandbox was stopped since): it ended with the sandbox. */
static bool refresh(struct json_object *r, const struct sb_proc_info *tab, int n, bool running)
{
	const char *st = jstr(r, "status"), *id = jstr(r, "id");

	if (!st || strcmp(st, "running") || !id)
		return false;
	for (int i = 0; running && i < n; i++) {
		if (strcmp(tab[i].id, id) || tab[i].pid != json_object_get_int(json_object_object_get(r, "pid")))
			continue;
		if (!tab[i].exited)
			return false;
		set_exit(r, tab[i].status, NULL);
		return true;
	}
	json_object_object_add(r, "status", json_object_new_string("killed"));
	json_object_object_add(r, "exitCode", json_object_new_int(137));
	json_object_object_add(r, "endedAt", api_iso(sb_now_ms()));
	json_object_object_add(r, "endedBy", json_object_new_string("sandbox stopped"));
	return true;
}

static void key_of(char *key, size_t len, const char *sb, const char *pid)
{
	snprintf(key, len, "%s/%s", sb, pid);
}

/* The init's table (0 entries when the sandbox is not running, which an
 * init that went away means too); -1 when the init is there but silent:
 * then nothing is known of its processes, and none may be called ended. */
static int table(struct sandbox_ref *sb, struct sb_proc_info *tab, bool *running, struct sb_err *err)
{
	cleanup_close int ctl = sandbox_connect(sb->dirfd);
	int n = 0;

	*running = ctl >= 0;
	if (ctl >= 0) {
		n = sandbox_plist(ctl, tab, SB_PROC_MAX, err);
		if (n < 0 && err->kind == SB_E_TIMEOUT)
			return -1;
		if (n < 0) {
			n = 0;
			*running = false;
		}
	}
	return n;
}

static bool valid_proc_id(const char *id)
{
	return project_id_valid(id);
}

static void prune(struct app *app, struct sandbox_ref *sb);

/* A new process's record.  Its command is cut until the record, escapes
 * and all, leaves room within STORE_ENTRY_MAX for what its end adds. */
static struct json_object *record_new(const char *procid, pid_t pid, const char *command)
{
	size_t kept = strlen(command) < COMMAND_KEPT ? strlen(command) : COMMAND_KEPT;
	struct json_object *r;

	for (;;) {
		r = json_object_new_object();
		json_object_object_add(r, "id", json_object_new_string(procid));
		json_object_object_add(r, "pid", json_object_new_int(pid));
		json_object_object_add(r, "command", json_string_lossy(command, kept));
		json_object_object_add(r, "status", json_object_new_string("running"));
		json_object_object_add(r, "exitCode", NULL);
		json_object_object_add(r, "startedAt", api_iso(sb_now_ms()));
		json_object_object_add(r, "endedAt", NULL);
		if (strlen(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN)) <= STORE_ENTRY_MAX - 256 ||
		    kept == 0)
			return r;
		json_object_put(r);
		kept /= 2;
	}
}

/* Start a validated process in the sandbox, record it and answer. */
static void proc_spawn(struct app *app, struct http_req *req, const char *id, struct json_object *o,
		       struct exec_args *a)
{
	struct sb_err err = SB_ERR_INIT;
	cleanup_json struct json_object *r = NULL;
	struct json_object *v;
	cleanup_sandbox_ref struct sandbox_ref sb = { .dirfd = -1 };
	cleanup_close int ctl = -1;
	char procid[64], key[PROC_KEY_BUF];
	pid_t pid;

	if (json_object_object_get_ex(o, "processId", &v)) {
		const char *p = json_object_get_string(v);
		if (!json_object_is_type(v, json_type_string) || !valid_proc_id(p)) {
			http_reply_error(req, 400, "processId must match [A-Za-z0-9][A-Za-z0-9_-]{0,62}");
			return;
		}
		snprintf(procid, sizeof procid, "%s", p);
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(procid, sizeof procid, "proc-%lx%05lx", (unsigned long)ts.tv_sec,
			 (unsigned long)(ts.tv_nsec / 10000) ^ (unsigned long)getpid());
	}
	/* its record must fit its tenant's share before it starts */
	if (store_admit(&app->store, STORE_MAIN, req->scope, 4096, &err) < 0) {
		api_reply_err(req, &err);
		return;
	}
	/* what the process writes is unknown: the reserve must be there */
	if ((ctl = api_sandbox_open(app, req, id, 0, "a process", &sb)) < 0)
		return;
	prune(app, &sb);
	if (sandbox_spawn(ctl, &app->cg, id, procid, &a->rq, &pid, &err) < 0) {
		/* destroyed under it: 404, as an exec */
		app_sandbox_destroyed(app, &sb, &err);
		api_reply_err(req, &err);
		return;
	}
	{
		struct history_entry e = {
			.kind = "process", .command = a->rq.command, .cwd = a->rq.cwd, .process_id = procid,
			.exit_code = HISTORY_NO_EXIT, .started_ms = sb_now_ms(),
		};
		history_add(app, req, id, &e);
	}
	r = record_new(procid, pid, a->rq.command);
	key_of(key, sizeof key, id, procid);
	if (store_proc_put(&app->store, key, json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN),
			   req->scope, &sb.rec, &err) < 0) {
		api_reply_err(req, &err);
		return;
	}
	struct json_object *d = json_object_new_object();
	json_object_object_add(d, "id", json_object_new_string(procid));
	json_object_object_add(d, "pid", json_object_new_int(pid));
	json_object_object_add(d, "status", json_object_new_string("running"));
	http_reply_data(req, 200, d);
}

void api_proc_start(struct app *app, struct http_req *req, const char *id)
{
	exec_body_run(app, req, id, proc_spawn);
}

struct collect {
	struct json_object *arr;
};

static void collect_one(const char *key, const char *json, void *arg)
{
	struct collect *c = arg;
	struct json_object *o = json_tokener_parse(json);

	(void)key;
	if (o)
		json_object_array_add(c->arr, o);
}

/* The sandbox's records, refreshed (and stored back when they changed);
 * NULL (*err) when its init does not answer. */
static struct json_object *records(struct app *app, struct sandbox_ref *sb, const char *only,
				   struct sb_err *err)
{
	struct sb_proc_info tab[SB_PROC_MAX];
	struct collect c;
	char prefix[PROC_KEY_BUF];
	bool running;
	int n = table(sb, tab, &running, err);

	if (n < 0)
		return NULL;
	c.arr = json_object_new_array();
	if (only)
		key_of(prefix, sizeof prefix, sb->id, only);
	else
		snprintf(prefix, sizeof prefix, "%s/", sb->id);
	store_proc_foreach(&app->store, prefix, collect_one, &c, NULL);
	for (size_t i = 0; i < json_object_array_length(c.arr); i++) {
		struct json_object *r = json_object_array_get_idx(c.arr, i);
		const char *pid = jstr(r, "id");
		if (only && (!pid || strcmp(pid, only))) {
			json_object_array_del_idx(c.arr, i--, 1);
			continue;
		}
		if (refresh(r, tab, n, running)) {
			char key[PROC_KEY_BUF], cgname[PROC_CGNAME_BUF];
			/* its cgroup goes with it, unless something it left runs there */
			snprintf(cgname, sizeof cgname, "p-%s", pid);
			cg_exec_remove(&app->cg, sb->id, cgname);
			key_of(key, sizeof key, sb->id, pid);
			store_proc_put(&app->store, key, json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN), NULL,
				       &sb->rec, NULL);
		}
	}
	return c.arr;
}

static int by_start(const void *a, const void *b)
{
	const char *x = jstr(*(struct json_object *const *)a, "startedAt");
	const char *y = jstr(*(struct json_object *const *)b, "startedAt");

	return strcmp(x ? x : "", y ? y : "");
}

/* Keep LMDB bounded: past RECORDS_PER_SANDBOX, the oldest ended records go. */
static void prune(struct app *app, struct sandbox_ref *sb)
{
	struct sb_err err = SB_ERR_INIT;
	struct json_object *arr = records(app, sb, NULL, &err);
	size_t n = arr ? json_object_array_length(arr) : 0;

	if (n >= RECORDS_PER_SANDBOX) {
		json_object_array_sort(arr, by_start);
		for (size_t i = 0; i < n && n - i >= RECORDS_PER_SANDBOX; i++) {
			struct json_object *r = json_object_array_get_idx(arr, i);
			char key[PROC_KEY_BUF];
			if (!strcmp(status_of(r), "running") || !jstr(r, "id"))
				continue;
			key_of(key, sizeof key, sb->id, jstr(r, "id"));
			store_proc_del(&app->store, key, NULL);
		}
	}
	json_object_put(arr);
}

void api_proc_list(struct app *app, struct http_req *req, const char *id)
{
	struct sb_err err = SB_ERR_INIT;
	struct sandbox_ref sb = { .dirfd = -1 };

	if (app_sandbox_get(app, id, false, NULL, &sb, &err) < 0) {
		api_reply_err(req, &err);
		return;
	}
	struct json_object *arr = records(app, &sb, NULL, &err);
	sandbox_ref_release(&sb);
	if (!arr) {
		api_reply_err(req, &err);
		return;
	}
	struct json_object *d = json_object_new_object();
	json_object_object_add(d, "processes", arr);
	http_reply_data(req, 200, d);
}

/* The one record of /processes/:pid; NULL (404 sent) when unknown. */
static struct json_object *one(struct app *app, struct http_req *req, struct sandbox_ref *sb,
			       const char *id, const char *procid)
{
	struct sb_err err = SB_ERR_INIT;
	struct json_object *arr, *r = NULL;

	if (!valid_proc_id(procid)) {
		http_reply_error(req, 400, "invalid process id");
		return NULL;
	}
	if (app_sandbox_get(app, id, false, NULL, sb, &err) < 0) {
		api_reply_err(req, &err);
		return NULL;
	}
	arr = records(app, sb, procid, &err);
	if (!arr) {
		api_reply_err(req, &err);
		return NULL;
	}
	if (json_object_array_length(arr) == 1)
		r = json_object_get(json_object_array_get_idx(arr, 0));
	json_object_put(arr);
	if (!r)
		http_reply_error(req, 404, "process %s not found", procid);
	return r;
}

/* Read a log from offset; the bytes in a new buffer (*len), -1 on error. */
static char *read_log(struct sandbox_ref *sb, const char *procid, const char *which, uint64_t offset,
		      size_t *len, struct sb_err *err)
{
	struct sb_file_req rq = { .op = SB_FILE_READ, .max_bytes = SB_PROC_LOG_MAX, .offset = offset };
	struct sb_file_info info;
	char path[PROC_LOG_PATH_BUF];
	cleanup_close int ctl = sandbox_connect(sb->dirfd), data = -1;
	char *buf = NULL;

	*len = 0;
	if (ctl < 0) {
		sb_fail(err, SB_E_CONFLICT, ENOENT, "the sandbox is not running: its logs come back with it");
		return NULL;
	}
	snprintf(path, sizeof path, SB_PROC_DIR "/%s/%s", procid, which);
	if (sandbox_file_request(ctl, &rq, path, NULL, &data, err) == 0 &&
	    sandbox_file_reply(ctl, &info, SB_INIT_REPLY_MS, err) == 0) {
		uint64_t want = info.size > offset ? info.size - offset : 0;
		/* the child's word on sizes is checked, never trusted */
		buf = want <= SB_PROC_LOG_MAX ? malloc(want + 1) : NULL;
		size_t got = 0;
		/* 30 s in all, not 30 s a chunk: a sandbox may starve the
		 * child that reads its log (a worker held for hours) */
		int64_t until = sb_mono_ms() + 30000;
		bool late = false;
		while (buf && got < want) {
			int64_t left = until - sb_mono_ms();
			ssize_t n = sb_read_wait(data, buf + got, want - got, left > 0 ? (int)left : 0);
			late = n < 0 && errno == ETIMEDOUT;
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		struct sb_err end = SB_ERR_INIT;
		int ended = sandbox_file_end(ctl, SB_INIT_REPLY_MS, &end);
		if (buf && got == want) {
			*len = want;
			buf[want] = '\0';
		} else {
			free(buf);
			buf = NULL;
			/* 409: the sandbox truncated its log as we read it */
			if (ended < 0 && end.kind == SB_E_CONFLICT)
				sb_fail(err, SB_E_CONFLICT, EAGAIN, "%s", end.msg);
			else if (late)
				sb_fail(err, SB_E_TIMEOUT, ETIMEDOUT, "the sandbox did not send the log within 30 s");
			else
				sb_fail(err, SB_E_INTERNAL, EIO, "log read");
		}
	}
	return buf;
}

/* The log's new bytes as events, each with the offsets to resume from;
 * true when there were any. */
static bool follow_logs(struct sse *sse, struct sandbox_ref *sb, const char *procid,
			unsigned long long off[2])
{
	bool any = false;

	for (int k = 0; k < 2; k++) {
		struct sb_err err = SB_ERR_INIT;
		char id[64];
		size_t len;
		cleanup_free char *b = read_log(sb, procid, k ? "stderr" : "stdout", off[k], &len, &err);
		struct json_object *o;

		if (!b || !len)
			continue;
		off[k] += len;
		snprintf(id, sizeof id, "id: %llu,%llu\n", off[0], off[1]);
		sse_put(sse, id);
		o = json_object_new_object();
		json_object_object_add(o, "type", json_object_new_string(k ? "stderr" : "stdout"));
		json_object_object_add(o, "data", json_string_lossy(b, len));
		sse_event(sse, o);
		any = true;
	}
	return any;
}

/* ?stream=1: the logs so far, then what comes, until the process ends, the
 * client leaves (or takes nothing for --send-timeout) or --log-follow-max
 * is up; quiet, it hears a heartbeat every --stream-heartbeat.  A client
 * that does not read makes the follow wait, never read the logs further. */
static void logs_stream(struct app *app, struct http_req *req, struct sandbox_ref *sb,
			const char *procid)
{
	const char *last = http_param(req, "HTTP_LAST_EVENT_ID");
	unsigned long long off[2] = { 0, 0 };
	int64_t quiet = sb_mono_ms(), end = quiet + req->conf->log_follow_max_ms;
	struct sse sse;

	/* resume where the client's last event left off: "stdout,stderr" */
	if (*last && sscanf(last, "%llu,%llu", &off[0], &off[1]) != 2)
		off[0] = off[1] = 0;
	sse_init(&sse, req, procid);
	sse_begin(&sse);
	for (;;) {
		int st = sse_flush(&sse);
		int64_t now = sb_mono_ms();

		if (st == SSE_GONE)
			break;
		if (sse_revoked && sse_revoked(req)) {
			struct json_object *o = json_object_new_object();
			json_object_object_add(o, "type", json_object_new_string("end"));
			json_object_object_add(o, "message", json_object_new_string(
				"the follow ended: its token was revoked (a reload)"));
			sse_event(&sse, o);
			break;
		}
		if (now >= end) {
			struct json_object *o = json_object_new_object();
			char msg[200];
			snprintf(msg, sizeof msg, "the follow ended after its longest duration (%lld s); "
				 "reconnect with Last-Event-ID to resume", (long long)req->conf->log_follow_max_ms / 1000);
			json_object_object_add(o, "type", json_object_new_string("end"));
			json_object_object_add(o, "message", json_object_new_string(msg));
			sse_event(&sse, o);
			break;
		}
		if (st == SSE_FULL) {
			sse_wait(&sse, now + LOG_POLL_MS < end ? now + LOG_POLL_MS : end);
			continue;
		}
		struct sb_err serr = SB_ERR_INIT;
		struct json_object *arr = records(app, sb, procid, &serr);
		struct json_object *r = arr ? json_object_array_get_idx(arr, 0) : NULL;
		/* a silent init says nothing of the process: not that it ended */
		bool ended = arr && strcmp(status_of(r), "running") != 0;
		bool any = follow_logs(&sse, sb, procid, off);

		if (ended && !any) {
			struct json_object *o = json_object_new_object();
			json_object_object_add(o, "type", json_object_new_string("exit"));
			json_object_object_add(o, "status", json_object_new_string(r ? status_of(r) : "unknown"));
			json_object_object_add(o, "exitCode", json_object_get(r ? json_object_object_get(r, "exitCode") : NULL));
			sse_event(&sse, o);
			json_object_put(arr);
			break;
		}
		json_object_put(arr);
		now = sb_mono_ms();
		if (any) {
			quiet = now;
		} else if (now - quiet >= req->conf->heartbeat_ms) {
			sse_put(&sse, ": keep-alive\n\n");
			quiet = now;
		}
		/* the client leaving ends the follow */
		sse_wait(&sse, now + LOG_POLL_MS < end ? now + LOG_POLL_MS : end);
	}
	sse_end(&sse);
}

void api_proc_get(struct app *app, struct http_req *req, const char *id)
{
	cleanup_sandbox_ref struct sandbox_ref sb = { .dirfd = -1 };
	const char *procid = req->segs[3];
	cleanup_json struct json_object *r = NULL;

	if (req->nsegs == 5 && strcmp(req->segs[4], "logs")) {
		http_reply_error(req, 404, "no such route: %s %s", req->method, req->path);
		return;
	}
	r = one(app, req, &sb, id, procid);
	if (!r)
		return;
	if (req->nsegs == 4) {
		http_reply_data(req, 200, json_object_get(r));
		return;
	}
	char v[8];
	const char *s = http_query(req, "stream", v, sizeof v);
	if (s && strcmp(s, "0")) {
		if (api_stream_admit(app, req) < 0)
			return;
		logs_stream(app, req, &sb, procid);
		return;
	}
	struct sb_err err = SB_ERR_INIT;
	size_t lo, le;
	cleanup_free char *bo = read_log(&sb, procid, "stdout", 0, &lo, &err);
	cleanup_free char *be = bo ? read_log(&sb, procid, "stderr", 0, &le, &err) : NULL;
	if (!bo || !be) {
		api_reply_err(req, &err);
		return;
	}
	struct json_object *d = json_object_new_object();
	json_object_object_add(d, "id", json_object_new_string(procid));
	/* escaped as they are written: a log of control characters is 6
	 * times its size as JSON, never whole in this worker */
	const struct http_blob logs[] = {
		{ .key = "stdout", .buf = bo, .len = lo },
		{ .key = "stderr", .buf = be, .len = le },
	};
	http_reply_data_blobs(req, 200, d, logs, 2);
}

static int signal_number(const char *name)
{
	static const struct { const char *n; int s; } sigs[] = {
		{ "TERM", SIGTERM }, { "KILL", SIGKILL }, { "INT", SIGINT }, { "HUP", SIGHUP },
		{ "QUIT", SIGQUIT }, { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 },
	};

	if (!strncmp(name, "SIG", 3))
		name += 3;
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
		if (!strcmp(name, sigs[i].n))
			return sigs[i].s;
	return -1;
}

/* DELETE .../processes/:pid?signal=TERM: the signal to the whole tree, then
 * KILL after the grace period if it still runs; the answer says which. */
void api_proc_kill(struct app *app, struct http_req *req, const char *id)
{
	cleanup_sandbox_ref struct sandbox_ref sb = { .dirfd = -1 };
	const char *procid = req->segs[3];
	char sv[16], cgname[PROC_CGNAME_BUF], key[PROC_KEY_BUF];
	const char *sname = http_query(req, "signal", sv, sizeof sv);
	int sig = signal_number(sname ? sname : "TERM");
	const char *ended_by = NULL;
	cleanup_json struct json_object *r = NULL;

	if (req->nsegs != 4) {
		http_reply_error(req, 404, "no such route: %s %s", req->method, req->path);
		return;
	}
	if (sig < 0) {
		http_reply_error(req, 400, "signal must be one of TERM, KILL, INT, HUP, QUIT, USR1, USR2");
		return;
	}
	r = one(app, req, &sb, id, procid);
	if (!r)
		return;
	if (strcmp(status_of(r), "running")) {
		http_reply_data(req, 200, json_object_get(r));	/* it had ended already */
		return;
	}
	snprintf(cgname, sizeof cgname, "p-%s", procid);
	cg_exec_signal(&app->cg, id, cgname, sig);
	ended_by = sname ? (strncmp(sname, "SIG", 3) ? sname : sname + 3) : "TERM";
	for (int64_t deadline = sb_mono_ms() + KILL_GRACE_MS;;) {
		struct sb_err err = SB_ERR_INIT;
		json_object_put(r);
		struct json_object *arr = records(app, &sb, procid, &err);
		if (!arr) {
			r = NULL;
			api_reply_err(req, &err);
			return;
		}
		r = json_object_get(json_object_array_get_idx(arr, 0));
		json_object_put(arr);
		if (!r || strcmp(status_of(r), "running"))
			break;
		if (sb_mono_ms() >= deadline) {
			/* it ignored the signal: the whole tree goes, for sure */
			cg_exec_kill(&app->cg, id, cgname, NULL);
			ended_by = "KILL";
			deadline = sb_mono_ms() + KILL_GRACE_MS;
			continue;
		}
		struct timespec ts = { 0, 20000000 };
		nanosleep(&ts, NULL);
	}
	if (!r) {
		api_reply_status(req, 500, "process %s vanished", procid);
		return;
	}
	json_object_object_add(r, "endedBy", json_object_new_string(ended_by));
	key_of(key, sizeof key, id, procid);
	store_proc_put(&app->store, key, json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN), NULL, &sb.rec,
		       NULL);
	http_reply_data(req, 200, json_object_get(r));
}
