/* Fuzz target: a request body through json_body_parse() and, when it is an
 * object, exec_body_parse(); the same bytes through json_string_lossy(),
 * the way command output reaches the JSON answer. */
#include "config.h"

#include "api_sandbox.h"
#include "conf.h"
#include "fuzz.h"
#include "util.h"

#include <math.h>

/* The errors the body decoder may give: a client error, never a 500 but
 * for memory. */
static void check_error(const struct sb_err *err)
{
	fuzz_assert(err->kind == SB_E_INVALID ||
		    (err->kind == SB_E_INTERNAL && !strcmp(err->msg, "out of memory")));
	fuzz_assert(err->msg[0] && memchr(err->msg, '\0', sizeof err->msg));
}

static bool env_name_ok(const char *k, size_t n)
{
	if (n < 1 || n > 256 || (k[0] >= '0' && k[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = k[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return true;
}

/* No number a handler sees is NaN or infinite. */
static void check_finite(struct json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_double:
		fuzz_assert(isfinite(json_object_get_double(o)));
		break;
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(o); i++)
			check_finite(json_object_array_get_idx(o, i));
		break;
	case json_type_object: {
		json_object_object_foreach(o, k, v) {
			(void)k;
			check_finite(v);
		}
		break;
	}
	default:
		break;
	}
}

/* What a sandbox receives from an accepted exec body. */
static void check_exec(struct json_object *o, const struct exec_args *a, const struct conf *c)
{
	struct json_object *v;
	const char *need[] = { "PATH=", "HOME=", "LANG=", "HOSTNAME=" };

	fuzz_assert(json_object_object_get_ex(o, "command", &v));
	fuzz_assert(a->rq.command == json_object_get_string(v));
	fuzz_assert(*a->rq.command);
	fuzz_assert(strlen(a->rq.command) == (size_t)json_object_get_string_len(v));
	fuzz_assert(strlen(a->rq.command) <= 131071);

	fuzz_assert(a->rq.cwd == a->cwd && a->cwd[0] == '/');
	fuzz_assert(memchr(a->cwd, '\0', sizeof a->cwd));
	if (!json_object_object_get_ex(o, "cwd", &v) || !*json_object_get_string(v))
		fuzz_assert(!strcmp(a->cwd, "/workspace"));
	else if (*json_object_get_string(v) == '/')
		fuzz_assert(!strcmp(a->cwd, json_object_get_string(v)));
	else
		fuzz_assert(!strncmp(a->cwd, "/workspace/", 11) &&
			    !strcmp(a->cwd + 11, json_object_get_string(v)));

	fuzz_assert(a->rq.timeout_ms >= 1 && a->rq.timeout_ms <= c->max_timeout_ms);
	fuzz_assert(a->rq.max_output == c->max_output);

	fuzz_assert(a->rq.env == (const char *const *)a->env && a->rq.nenv == a->nenv);
	fuzz_assert(a->nenv >= 4 && a->nenv <= EXEC_MAX_ENV + 4);
	for (size_t i = 0; i < a->nenv; i++) {
		const char *kv = a->env[i], *eq = strchr(kv, '=');
		fuzz_assert(eq && env_name_ok(kv, (size_t)(eq - kv)));
		/* one entry per name: a later one replaced an earlier one */
		for (size_t j = 0; j < i; j++)
			fuzz_assert(strncmp(a->env[j], kv, (size_t)(eq - kv) + 1) != 0);
	}
	for (size_t k = 0; k < sizeof need / sizeof *need; k++) {
		size_t found = 0;
		for (size_t i = 0; i < a->nenv; i++)
			found += !strncmp(a->env[i], need[k], strlen(need[k]));
		fuzz_assert(found == 1);
	}
}

/* Command output as the answer carries it: valid JSON and UTF-8 whatever
 * the bytes, the same bytes when they were UTF-8 already. */
static void check_lossy(const char *s, size_t n)
{
	struct sb_err err = SB_ERR_INIT;
	struct json_object *str = json_string_lossy(s, n), *wrap = json_object_new_object(), *back;
	struct json_object *v;
	const char *text;

	fuzz_assert(str && wrap);
	fuzz_assert((size_t)json_object_get_string_len(str) <= 3 * n);
	json_object_object_add(wrap, "stdout", str);
	text = json_object_to_json_string_ext(wrap, JSON_C_TO_STRING_PLAIN |
							JSON_C_TO_STRING_NOSLASHESCAPE);
	back = json_body_parse(text, strlen(text), &err);
	fuzz_assert(back);
	fuzz_assert(json_object_object_get_ex(back, "stdout", &v));
	fuzz_assert(json_object_equal(v, str));
	json_object_put(back);
	json_object_put(wrap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf c = {
		.max_body = 1048576,
		.default_timeout_ms = 60000,
		.max_timeout_ms = 600000,
		.max_output = 1048576,
	};
	struct sb_err err = SB_ERR_INIT;
	struct json_object *o, *back;
	struct exec_args a;
	char *body = fuzz_strdup(data, size);
	const char *text;

	if (!body)
		return 0;
	o = json_body_parse(body, size, &err);
	if (!o) {
		check_error(&err);
		goto lossy;
	}
	fuzz_assert(json_object_is_type(o, json_type_object));
	check_finite(o);

	/* what we accepted, written out by json-c, is accepted again as is */
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	back = json_body_parse(text, strlen(text), &err);
	fuzz_assert(back && json_object_equal(o, back));
	json_object_put(back);

	if (exec_body_parse(o, "fuzz-project", &c, &a, &err) == 0) {
		check_exec(o, &a, &c);
		exec_args_release(&a);
	} else {
		check_error(&err);
		fuzz_assert(a.nenv == 0);
	}
	json_object_put(o);
lossy:
	check_lossy(body, size);
	free(body);
	return 0;
}
