/* projectId validation: what reaches disk must match the documented shape. */
#include "config.h"

#include "router.h"
#include "http.h"
#include "tap.h"

#include <string.h>

/* What router_route() makes of a request, without any handler running. */
static enum route_result route(const char *method, const char *uri)
{
	static struct http_req req;
	router_handler_fn fn;
	const char *allow;
	enum route_result r;

	memset(&req, 0, sizeof req);
	req.method = method;
	http_parse_target(&req, uri);
	r = router_route(&req, &fn, &allow);
	if (r != ROUTE_OK && fn)
		return ROUTE_OK;	/* a handler for a refused request: as bad */
	return r;
}

/* Ids that would leave the sandboxes' directory or cgroup never reach a
 * handler, on any route, whichever way they are spelt. */
static void hostile_ids(void)
{
	static const char *const ids[] = { "..", ".", "-x", "%2e%2e", "%2E.", "%2e", "a%2Fb", "%00",
					   "a%0a", "_x" };
	static const struct { const char *method, *suffix; } routes[] = {
		{ "POST", "" }, { "GET", "" }, { "DELETE", "" }, { "POST", "/exec" },
		{ "GET", "/files/etc/passwd" }, { "PUT", "/files/x" }, { "GET", "/ls" },
		{ "POST", "/clone" }, { "GET", "/processes" }, { "GET", "/history" },
		{ "POST", "/snapshots" }, { "DELETE", "/snapshots/s" }, { "POST", "/snapshots/s/restore" },
		{ "PUT", "/network" }, { "GET", "/archive" }, { "PUT", "/archive" },
	};
	char uri[256];

	for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
		for (size_t j = 0; j < sizeof routes / sizeof *routes; j++) {
			enum route_result r;
			snprintf(uri, sizeof uri, "/sandboxes/%s%s", ids[i], routes[j].suffix);
			r = route(routes[j].method, uri);
			ok(r == ROUTE_BAD_ID || r == ROUTE_BAD_PATH || r == ROUTE_NO_ROUTE,
			   "router_route(%s %s) refused (%d)", routes[j].method, uri, (int)r);
		}
	ok(route("POST", "/sandboxes/..") == ROUTE_BAD_ID, "POST /sandboxes/.. is a bad id (400)");
	ok(route("POST", "/sandboxes/-x") == ROUTE_BAD_ID, "POST /sandboxes/-x is a bad id (400)");
	ok(route("POST", "/sandboxes/.") == ROUTE_BAD_ID, "POST /sandboxes/. is a bad id (400)");
	/* and the checks above are not refusing everything */
	ok(route("POST", "/sandboxes/good-1") == ROUTE_OK, "POST /sandboxes/good-1 routed");
	ok(route("POST", "/sandboxes/a/exec") == ROUTE_OK, "POST /sandboxes/a/exec routed");
}

/* A PUT of a file streams its body only with the media type
 * application/octet-stream (any case, parameters allowed): any other type,
 * "application/octet-streams" too, is a JSON body, as documented. */
static void raw_uploads(void)
{
	static const struct { const char *method, *uri, *type; bool raw; } cases[] = {
		{ "PUT", "/sandboxes/a/files/x", "application/octet-stream", true },
		{ "PUT", "/sandboxes/a/files/d/x", "Application/Octet-Stream", true },
		{ "PUT", "/sandboxes/a/files/x", "application/octet-stream; charset=binary", true },
		{ "PUT", "/sandboxes/a/files/x", "application/octet-stream ;q=1", true },
		{ "PUT", "/sandboxes/a/files/x", "application/octet-streams", false },
		{ "PUT", "/sandboxes/a/files/x", "application/octet-stream-json", false },
		{ "PUT", "/sandboxes/a/files/x", "application/json", false },
		{ "PUT", "/sandboxes/a/files/x", NULL, false },
		{ "POST", "/sandboxes/a/files/x", "application/octet-stream", false },
		{ "PUT", "/sandboxes/a/exec", "application/octet-stream", false },
		{ "POST", "/sandboxes/a/exec", "application/octet-stream", false },
	};

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		static struct http_req req;
		char ct[128];
		char *envp[] = { ct, NULL };
		FCGX_Request fr = { .envp = envp };

		snprintf(ct, sizeof ct, "CONTENT_TYPE=%s", cases[i].type ? cases[i].type : "");
		if (!cases[i].type)
			envp[0] = NULL;
		memset(&req, 0, sizeof req);
		req.fcgi = &fr;
		req.method = cases[i].method;
		http_parse_target(&req, cases[i].uri);
		ok(router_is_raw_upload(&req) == cases[i].raw, "%s %s, Content-Type %s: %s", cases[i].method,
		   cases[i].uri, cases[i].type ? cases[i].type : "(none)", cases[i].raw ? "streamed" : "JSON");
	}
}

/* A concrete path of a pattern: each {name} filled in. */
static void instance(const char *pattern, char *buf, size_t len)
{
	size_t o = 0;

	for (const char *p = pattern; *p && o + 4 < len;) {
		if (*p == '{') {
			o += (size_t)snprintf(buf + o, len - o, "%s", !strncmp(p, "{path}", 6) ? "d/f" : "x1");
			p = strchr(p, '}') + 1;
		} else {
			buf[o++] = *p++;
		}
	}
	buf[o] = '\0';
}

/* The rules each row carries, checked against what the router does: Allow
 * is what it routes (as the headers were before they were computed), the
 * auth level follows the projectId, only a file or archive PUT streams. */
static void rows(void)
{
	static const struct { const char *pattern, *allow; enum auth_need auth; } want[] = {
		{ "/sandboxes/{projectId}", "GET, POST, DELETE, OPTIONS", AUTH_PROJECT },
		{ "/sandboxes/{projectId}/exec", "POST, OPTIONS", AUTH_PROJECT },
		{ "/sandboxes/{projectId}/files/{path}", "GET, PUT, DELETE, OPTIONS", AUTH_PROJECT },
		{ "/sandboxes/{projectId}/ls", "GET, OPTIONS", AUTH_PROJECT },
		{ "/sandboxes/{projectId}/mkdir", "POST, OPTIONS", AUTH_PROJECT },
		{ "/sandboxes/{projectId}/rename", "POST, OPTIONS", AUTH_PROJECT },
		{ "/sandboxes/{projectId}/archive", "GET, PUT, OPTIONS", AUTH_PROJECT },
		{ "/sandboxes/{projectId}/clone", "POST, OPTIONS", AUTH_PROJECT },
		{ "/sandboxes/{projectId}/processes", "GET, POST, OPTIONS", AUTH_PROJECT },
		{ "/sandboxes/{projectId}/processes/{processId}", "GET, DELETE, OPTIONS", AUTH_PROJECT },
		{ "/sandboxes/{projectId}/processes/{processId}/logs", "GET, OPTIONS", AUTH_PROJECT },
		{ "/sandboxes/{projectId}/snapshots", "GET, POST, OPTIONS", AUTH_PROJECT },
		{ "/sandboxes/{projectId}/snapshots/{name}", "DELETE, OPTIONS", AUTH_PROJECT },
		{ "/sandboxes/{projectId}/snapshots/{name}/restore", "POST, OPTIONS", AUTH_PROJECT },
		{ "/sandboxes/{projectId}/history", "GET, OPTIONS", AUTH_PROJECT },
		{ "/sandboxes/{projectId}/network", "GET, PUT, OPTIONS", AUTH_PROJECT },
		{ "/sandboxes/{projectId}/ports", "GET, POST, OPTIONS", AUTH_PROJECT },
		{ "/sandboxes/{projectId}/ports/{port}", "DELETE, OPTIONS", AUTH_PROJECT },
		{ "/images", "GET, OPTIONS", AUTH_ANY },
		{ "/healthz", "GET, OPTIONS", AUTH_OPEN },
		{ "/metrics", "GET, OPTIONS", AUTH_ANY },
	};
	static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH" };
	char uri[256], m[16];

	ok(router_count() == (int)(sizeof want / sizeof *want), "%d routes", router_count());
	ok(!router_row(-1) && !router_row(router_count()) && !router_allow(router_count()),
	   "no row out of the table");
	for (int i = 0; i < router_count(); i++) {
		const struct route *r = router_row(i);
		const char *allow = router_allow(i);

		bool known = r && i < (int)(sizeof want / sizeof *want) && !strcmp(r->pattern, want[i].pattern);

		ok(known, "row %d is %s", i, r ? r->pattern : "(none)");
		if (!known)
			continue;
		is_str(allow, want[i].allow, "%s: Allow: %s", r->pattern, want[i].allow);
		ok(router_allow(i) == allow, "%s: the same Allow string every time", r->pattern);
		ok(r->auth == want[i].auth, "%s: auth level %d", r->pattern, (int)r->auth);
		instance(r->pattern, uri, sizeof uri);
		for (size_t j = 0; j < sizeof methods / sizeof *methods; j++) {
			static struct http_req req;
			router_handler_fn fn;
			const char *got;
			enum route_result res;

			memset(&req, 0, sizeof req);
			req.method = methods[j];
			http_parse_target(&req, uri);
			res = router_route(&req, &fn, &got);
			snprintf(m, sizeof m, "%s, ", !strcmp(methods[j], "HEAD") ? "GET" : methods[j]);
			ok(got == allow && (res == ROUTE_OK) == (strstr(allow, m) != NULL) &&
				   (res == ROUTE_OK || res == ROUTE_BAD_METHOD) && req.route == i,
			   "%s %s: %s, as Allow says", methods[j], uri, res == ROUTE_OK ? "routed" : "405");
		}
		ok((r->put.body == BODY_RAW) == (!strcmp(r->pattern, "/sandboxes/{projectId}/files/{path}") ||
						 !strcmp(r->pattern, "/sandboxes/{projectId}/archive")) &&
			   r->get.body != BODY_RAW && r->post.body != BODY_RAW && r->del.body != BODY_RAW,
		   "%s: only a file's and an archive's PUT stream their body", r->pattern);
	}
	ok(JSON_FILE_BODY_MAX >= (JSON_FILE_MAX + 2) / 3 * 4, "a JSON file write's body holds %llu bytes in base64",
	   JSON_FILE_MAX);
}

int main(void)
{
	static const char *const good[] = { "a", "my-project", "A_b-9", "0", "x1234567890" };
	static const char *const bad[] = { "", "..", ".", "-x", "_x", "a/b", "a b", "a.b",
					   "a%2Fb", "caf\xc3\xa9", "a\n" };
	char longid[80];

	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		ok(project_id_valid(good[i]), "valid: %s", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ok(!project_id_valid(bad[i]), "invalid: '%s'", bad[i]);
	memset(longid, 'a', 63);
	longid[63] = '\0';
	ok(project_id_valid(longid), "63 characters are allowed");
	longid[63] = 'a';
	longid[64] = '\0';
	ok(!project_id_valid(longid), "64 characters are not");
	hostile_ids();
	raw_uploads();
	rows();
	return done_testing();
}
