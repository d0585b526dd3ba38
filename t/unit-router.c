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
	return done_testing();
}
