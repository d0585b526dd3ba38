/* The exec body, validated without a request: what POST /sandboxes/:id/exec
 * accepts, callable on its own (the fuzz target does). */
#ifndef SBD_API_SANDBOX_H
#define SBD_API_SANDBOX_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "api.h"
#include "sandbox.h"

#define EXEC_MAX_ENV 256	/* variables a request may set */

struct conf;
struct sb_err;

struct exec_args {
	struct sb_exec_req rq;		/* command points into the JSON object */
	char cwd[API_PATH_BUF];		/* absolute */
	char *env[EXEC_MAX_ENV + 8];	/* "K=V", one per name */
	size_t nenv;
	bool stream;			/* answer as server-sent events */
};

/* Validate the exec body o of sandbox id into a.  -1 with err filled
 * (400, or 500 when out of memory) and a empty when it is not acceptable;
 * otherwise a stays valid while o lives, until exec_args_release(). */
int exec_body_parse(struct json_object *o, const char *id, const struct conf *c,
		    struct exec_args *a, struct sb_err *err);
void exec_args_release(struct exec_args *a);

struct app;
struct http_req;
/* What runs a validated exec body o (as a): an exec, a background process. */
typedef void exec_run_fn(struct app *app, struct http_req *req, const char *id, struct json_object *o,
			 struct exec_args *a);
/* Read the request's exec body, answer 4xx when it is not acceptable, else
 * hand it to run; released after. */
void exec_body_run(struct app *app, struct http_req *req, const char *id, exec_run_fn *run);

#endif
