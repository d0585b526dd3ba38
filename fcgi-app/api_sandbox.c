/* The /sandboxes/:projectId endpoints: create-or-get, status, cleanup, exec. */
#include "config.h"

#include "app.h"
#include "http.h"
#include "router.h"
#include "sandbox.h"

#include <stdio.h>
#include <string.h>

#define MAX_ENV 256
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static void reply_err(struct http_req *req, const struct sb_err *err)
{
	int status = err->status ? err->status : 500;

	if (status >= 500)
		fprintf(stderr, "%s error: %s\n", req->rid, err->msg);
	http_reply_error(req, status, "%s", err->msg);
}

/* Optional body {"image": "host"}: the one image this build has. */
static int parse_create_body(struct http_req *req)
{
	struct json_object *o = http_json_body(req), *img;
	int ret = 0;

	if (!o)
		return -1;
	if (json_object_object_get_ex(o, "image", &img)) {
		if (!json_object_is_type(img, json_type_string) ||
		    strcmp(json_object_get_string(img), "host") != 0) {
			http_reply_error(req, 400, "unknown image (available: host)");
			ret = -1;
		}
	}
	json_object_put(o);
	return ret;
}

void api_sandbox_create(struct app *app, struct http_req *req, const char *id)
{
	struct sb_err err = SB_ERR_INIT;
	struct sandbox_ref sb;
	struct json_object *d;
	int ctl;

	if (parse_create_body(req) < 0)
		return;
	if (app_sandbox_get(app, id, true, &sb, &err) < 0 ||
	    (ctl = app_sandbox_connect(app, &sb, &err)) < 0) {
		sandbox_ref_release(&sb);
		reply_err(req, &err);
		return;
	}
	close(ctl);
	app_sandbox_touch(app, &sb);
	sandbox_ref_release(&sb);
	d = json_object_new_object();
	json_object_object_add(d, "projectId", json_object_new_string(id));
	json_object_object_add(d, "status", json_object_new_string("ready"));
	json_object_object_add(d, "message", json_object_new_string("Sandbox ready"));
	http_reply_data(req, 200, d);
}

static struct json_object *iso(int64_t ms)
{
	char buf[40];

	sb_iso8601(ms, buf, sizeof buf);
	return json_object_new_string(buf);
}

void api_sandbox_status(struct app *app, struct http_req *req, const char *id)
{
	struct sb_err err = SB_ERR_INIT;
	struct sandbox_ref sb;
	struct json_object *d;

	if (app_sandbox_get(app, id, false, &sb, &err) < 0) {
		sandbox_ref_release(&sb);
		reply_err(req, &err);
		return;
	}
	d = json_object_new_object();
	json_object_object_add(d, "projectId", json_object_new_string(id));
	json_object_object_add(d, "status",
			       json_object_new_string(app_sandbox_running(&sb) ? "running" : "stopped"));
	json_object_object_add(d, "image", json_object_new_string(sb.rec.image));
	json_object_object_add(d, "createdAt", iso(sb.rec.created_ms));
	json_object_object_add(d, "lastActiveAt", iso(sb.rec.active_ms));
	sandbox_ref_release(&sb);
	http_reply_data(req, 200, d);
}

void api_sandbox_delete(struct app *app, struct http_req *req, const char *id)
{
	struct sb_err err = SB_ERR_INIT;
	struct sandbox_ref sb;
	struct json_object *d;
	int killed = 0, ctl;

	if (app_sandbox_get(app, id, false, &sb, &err) < 0) {
		sandbox_ref_release(&sb);
		reply_err(req, &err);
		return;
	}
	/* a stopped sandbox has nothing to kill: do not start it for that */
	ctl = sandbox_connect(sb.dirfd);
	if (ctl >= 0) {
		int r = sandbox_killall(ctl, &killed, &err);
		close(ctl);
		if (r < 0) {
			sandbox_ref_release(&sb);
			reply_err(req, &err);
			return;
		}
	}
	sandbox_ref_release(&sb);
	d = json_object_new_object();
	json_object_object_add(d, "projectId", json_object_new_string(id));
	json_object_object_add(d, "status", json_object_new_string("cleaned"));
	json_object_object_add(d, "message", json_object_new_string("All processes terminated"));
	json_object_object_add(d, "killed", json_object_new_int(killed));
	http_reply_data(req, 200, d);
}

/* A JSON string field without NUL bytes; NULL (400 sent) when it is not. */
static const char *string_field(struct http_req *req, struct json_object *v, const char *name,
				size_t max)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string)) {
		http_reply_error(req, 400, "%s must be a string", name);
		return NULL;
	}
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v)) {
		http_reply_error(req, 400, "%s must not contain NUL characters", name);
		return NULL;
	}
	if (strlen(s) > max) {
		http_reply_error(req, 400, "%s is longer than %zu bytes", name, max);
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

struct exec_args {
	struct sb_exec_req rq;
	char cwd[4200];
	char *env[MAX_ENV + 8];
	size_t nenv;
};

static void exec_args_release(struct exec_args *a)
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

static int parse_env(struct http_req *req, struct json_object *env, struct exec_args *a)
{
	if (!json_object_is_type(env, json_type_object)) {
		http_reply_error(req, 400, "env must be an object of strings");
		return -1;
	}
	if (json_object_object_length(env) > MAX_ENV) {
		http_reply_error(req, 400, "env has more than %d variables", MAX_ENV);
		return -1;
	}
	json_object_object_foreach(env, k, v) {
		const char *s;
		if (!env_name_valid(k)) {
			http_reply_error(req, 400, "invalid env variable name");
			return -1;
		}
		s = string_field(req, v, "env value", 65536);
		if (!s)
			return -1;
		if (env_add(a, k, s) < 0) {
			http_reply_error(req, 500, "out of memory");
			return -1;
		}
	}
	return 0;
}

/* Validate the exec body into a; -1 when a 4xx was sent. */
static int parse_exec(struct http_req *req, struct json_object *o, const char *id,
		      struct exec_args *a)
{
	const struct conf *c = req->conf;
	struct json_object *v;
	const char *s;

	memset(a, 0, sizeof *a);
	if (!json_object_object_get_ex(o, "command", &v)) {
		http_reply_error(req, 400, "command is required");
		return -1;
	}
	a->rq.command = string_field(req, v, "command", 131071);
	if (!a->rq.command)
		return -1;
	if (!*a->rq.command) {
		http_reply_error(req, 400, "command must not be empty");
		return -1;
	}
	if (json_object_object_get_ex(o, "stream", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			http_reply_error(req, 400, "stream must be a boolean");
			return -1;
		}
		if (json_object_get_boolean(v)) {
			http_reply_error(req, 400, "streaming exec (stream: true) is not supported yet");
			return -1;
		}
	}
	a->rq.timeout_ms = c->default_timeout_ms;
	if (json_object_object_get_ex(o, "timeout", &v) && !json_object_is_type(v, json_type_null)) {
		double t = json_object_get_double(v);
		if (!(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) ||
		    !(t > 0)) {
			http_reply_error(req, 400, "timeout must be a positive number of milliseconds");
			return -1;
		}
		a->rq.timeout_ms = t > (double)c->max_timeout_ms ? c->max_timeout_ms : (int64_t)t;
		if (a->rq.timeout_ms < 1)
			a->rq.timeout_ms = 1;
	}
	snprintf(a->cwd, sizeof a->cwd, "/workspace");
	if (json_object_object_get_ex(o, "cwd", &v)) {
		s = string_field(req, v, "cwd", 4095);
		if (!s)
			return -1;
		if (*s == '/')
			snprintf(a->cwd, sizeof a->cwd, "%s", s);
		else if (*s)
			snprintf(a->cwd, sizeof a->cwd, "/workspace/%s", s);
	}
	a->rq.cwd = a->cwd;
	if (env_add(a, "PATH", DEFAULT_PATH) < 0 || env_add(a, "HOME", "/root") < 0 ||
	    env_add(a, "LANG", "C.UTF-8") < 0 || env_add(a, "HOSTNAME", id) < 0) {
		http_reply_error(req, 500, "out of memory");
		return -1;
	}
	if (json_object_object_get_ex(o, "env", &v) && !json_object_is_type(v, json_type_null) &&
	    parse_env(req, v, a) < 0)
		return -1;
	a->rq.env = (const char *const *)a->env;
	a->rq.nenv = a->nenv;
	a->rq.max_output = c->max_output;
	return 0;
}

void api_exec(struct app *app, struct http_req *req, const char *id)
{
	struct sb_err err = SB_ERR_INIT;
	struct json_object *o = http_json_body(req), *d;
	struct exec_args a;
	struct sb_exec_res res;
	struct sandbox_ref sb = { .dirfd = -1 };
	int ctl = -1, r;

	if (!o)
		return;
	if (parse_exec(req, o, id, &a) < 0)
		goto out;
	if (app_sandbox_get(app, id, true, &sb, &err) < 0 ||
	    (ctl = app_sandbox_connect(app, &sb, &err)) < 0) {
		reply_err(req, &err);
		goto out;
	}
	r = sandbox_exec(ctl, &app->cg, id, app->cgname, &a.rq, &res, &err);
	close(ctl);
	app_sandbox_touch(app, &sb);
	if (r < 0) {
		sb_exec_res_release(&res);
		reply_err(req, &err);
		goto out;
	}
	d = json_object_new_object();
	json_object_object_add(d, "stdout", json_string_lossy(res.out.data ? res.out.data : "", res.out.len));
	json_object_object_add(d, "stderr", json_string_lossy(res.err.data ? res.err.data : "", res.err.len));
	json_object_object_add(d, "exitCode", json_object_new_int(res.exit_code));
	json_object_object_add(d, "durationMs", json_object_new_int64(res.duration_ms));
	json_object_object_add(d, "timedOut", json_object_new_boolean(res.timed_out));
	json_object_object_add(d, "truncated", json_object_new_boolean(res.truncated));
	sb_exec_res_release(&res);
	http_reply_data(req, 200, d);
out:
	sandbox_ref_release(&sb);
	exec_args_release(&a);
	json_object_put(o);
}
