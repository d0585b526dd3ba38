/* Fuzz target: the FastCGI parameters as libfcgi hands them over, an envp
 * of "NAME=VALUE" strings (the input split at NUL bytes), through
 * http_req_init() and http_content_length(). */
#include "config.h"

#include "conf.h"
#include "fuzz.h"

#include <limits.h>

#define MAX_PARAMS 64

/* The value of the first param called name, as FCGX_GetParam finds it. */
static const char *param(char **envp, const char *name)
{
	size_t n = strlen(name);

	for (; *envp; envp++)
		if (!strncmp(*envp, name, n) && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

static void check_content_length(const char *cl)
{
	unsigned long long len = http_content_length(cl), ref = 0;
	bool digits = cl && *cl && strspn(cl, "0123456789") == strlen(cl);

	if (!cl || !*cl) {
		fuzz_assert(len == 0);
		return;
	}
	/* a plain decimal that fits is its value; anything else is over
	 * every limit, so the body is refused before it is read */
	for (const char *p = cl; digits && *p; p++) {
		if (ref > (ULLONG_MAX - (unsigned)(*p - '0')) / 10) {
			digits = false;
			break;
		}
		ref = ref * 10 + (unsigned)(*p - '0');
	}
	fuzz_assert(len == (digits ? ref : ULLONG_MAX));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf conf = { .cors_origin = "*", .max_body = 1048576 };
	char *buf = fuzz_strdup(data, size), *envp[MAX_PARAMS + 1];
	const char *uri, *rid, *method;
	struct http_req *req;
	FCGX_Request fr;
	size_t n = 0;

	if (!buf)
		return 0;
	req = malloc(sizeof *req);
	if (!req) {
		free(buf);
		return 0;
	}
	for (char *p = buf; p < buf + size && n < MAX_PARAMS; p += strlen(p) + 1)
		envp[n++] = p;
	envp[n] = NULL;
	memset(&fr, 0, sizeof fr);
	fr.envp = envp;

	http_req_init(req, &fr, &conf);
	uri = param(envp, "REQUEST_URI");
	rid = param(envp, "REQUEST_ID");
	method = param(envp, "REQUEST_METHOD");

	fuzz_assert(req->fcgi == &fr && req->conf == &conf);
	fuzz_assert(req->method == (method ? method : req->method));
	fuzz_assert(method || !strcmp(req->method, "GET"));
	fuzz_assert(!req->body && !req->body_len && !req->status);
	/* the request id goes into headers and the log: hex and dashes only */
	fuzz_assert(memchr(req->rid, '\0', sizeof req->rid));
	fuzz_assert(req->rid[0] && strspn(req->rid, "0123456789abcdefABCDEF-") == strlen(req->rid));
	if (rid && *rid && strlen(rid) < sizeof req->rid &&
	    strspn(rid, "0123456789abcdefABCDEF-") == strlen(rid))
		fuzz_assert(!strcmp(req->rid, rid));
	fuzz_check_target(req, uri ? uri : "/");
	fuzz_check_route(req);
	check_content_length(param(envp, "CONTENT_LENGTH"));
	/* a streamed upload skips the body limit: only ever a PUT of a file,
	 * and the handler that streams it is the one that gets it */
	if (router_is_raw_upload(req)) {
		router_handler_fn fn;
		const char *allow;
		fuzz_assert(!strcmp(req->method, "PUT") && req->nsegs >= 4 &&
			    !strcmp(req->segs[0], "sandboxes") && !strcmp(req->segs[2], "files"));
		if (router_route(req, &fn, &allow) == ROUTE_OK)
			fuzz_assert(fn == api_file_write);
	}

	http_req_release(req);
	free(req);
	free(buf);
	return 0;
}
