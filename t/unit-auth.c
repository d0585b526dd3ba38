/* auth_browser_check without tokens, on FastCGI parameters as nginx would
 * pass them: the strict Host, and which Origin is the API's own (the scheme
 * nginx says, REQUEST_SCHEME or HTTPS, never a guess; the Host as sent,
 * SANDBOXD_HOST, never nginx's $host without its port). */
#include "config.h"

#include "auth.h"
#include "conf.h"
#include "http.h"
#include "tap.h"

#include <string.h>

static unsigned char outbuf[4096];

/* the answer is thrown away as it is written: only the status counts */
static void drain(FCGX_Stream *s, int done)
{
	(void)done;
	s->wrNext = outbuf;
}

/* The status auth_browser_check answers (0: it let the request through)
 * to these parameters (NAME=value, NULL-terminated). */
static int check(const struct conf *c, const char *const *params)
{
	FCGX_Stream out = { .wrNext = outbuf, .stop = outbuf + sizeof outbuf, .emptyBuffProc = drain };
	static char store[16][128];
	char *env[17] = { NULL };
	FCGX_Request fcgi;
	struct http_req req;

	for (size_t i = 0; params[i] && i < 16; i++) {
		snprintf(store[i], sizeof store[i], "%s", params[i]);
		env[i] = store[i];
	}
	memset(&fcgi, 0, sizeof fcgi);
	memset(&req, 0, sizeof req);
	fcgi.out = &out;
	fcgi.envp = env;
	req.fcgi = &fcgi;
	req.conf = c;
	return auth_browser_check(c, &req) ? 0 : req.status;
}

#define P(...) ((const char *const[]){ __VA_ARGS__, NULL })

int main(void)
{
	struct conf c;

	memset(&c, 0, sizeof c);
	c.allowed_hosts = "localhost 127.0.0.1 [::1]";
	c.allowed_origins = "";
	c.cors_origin = "*";

	/* strict Host: as sent (SANDBOXD_HOST) and as HTTP_HOST */
	ok(check(&c, P("SANDBOXD_HOST=localhost:8787", "HTTP_HOST=localhost")) == 0, "localhost:8787 is served");
	ok(check(&c, P("SANDBOXD_HOST=[::1]:8787", "HTTP_HOST=[::1]")) == 0, "[::1]:8787 is served");
	ok(check(&c, P("SANDBOXD_HOST=127.0.0.1", "HTTP_HOST=127.0.0.1")) == 0, "127.0.0.1 is served");
	ok(check(&c, P("HTTP_HOST=localhost:65535")) == 0, "HTTP_HOST localhost:65535 (no SANDBOXD_HOST) is served");
	ok(check(&c, P("REQUEST_SCHEME=http")) == 0, "no Host at all (HTTP/1.0) is served");
	static const char *const bad[] = {
		"localhost:80:80", "[::1]x", "[::1]:", "localhost:", "localhost:123456", "localhost:80x",
		"[::1]]:80", "localhost:+80", "[]", "[::1", ":80", "localhost :80", "localhost\t",
		"local_host", "evil.example", "localhost.evil.example", "[::1]:80:80", "[::1%lo]",
	};
	char sent[64], host[64];
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		snprintf(sent, sizeof sent, "SANDBOXD_HOST=%s", bad[i]);
		ok(check(&c, P(sent, "HTTP_HOST=localhost")) == 403, "Host as sent '%s' is refused", bad[i]);
		snprintf(host, sizeof host, "HTTP_HOST=%s", bad[i]);
		ok(check(&c, P(host)) == 403, "HTTP_HOST '%s' is refused", bad[i]);
	}
	ok(check(&c, P("SANDBOXD_HOST=localhost", "HTTP_HOST=evil.example")) == 403,
	   "an absolute-form target's host (HTTP_HOST evil.example) is refused whatever the Host header");

	/* the API's own origin */
	ok(check(&c, P("REQUEST_SCHEME=http", "SANDBOXD_HOST=localhost:8787", "HTTP_HOST=localhost",
		       "HTTP_ORIGIN=http://localhost:8787")) == 0, "http://localhost:8787 on localhost:8787 over http");
	ok(check(&c, P("REQUEST_SCHEME=https", "HTTPS=on", "SANDBOXD_HOST=localhost", "HTTP_HOST=localhost",
		       "HTTP_ORIGIN=https://localhost")) == 0, "https://localhost on localhost over https");
	ok(check(&c, P("REQUEST_SCHEME=https", "SANDBOXD_HOST=localhost", "HTTP_HOST=localhost",
		       "HTTP_ORIGIN=http://localhost")) == 403, "http://localhost on localhost over https: refused");
	ok(check(&c, P("REQUEST_SCHEME=http", "SANDBOXD_HOST=localhost", "HTTP_HOST=localhost",
		       "HTTP_ORIGIN=https://localhost")) == 403, "https://localhost on localhost over http: refused");
	ok(check(&c, P("HTTPS=on", "SANDBOXD_HOST=localhost:8443", "HTTP_HOST=localhost",
		       "HTTP_ORIGIN=https://localhost:8443")) == 0, "no REQUEST_SCHEME, HTTPS=on: https");
	ok(check(&c, P("HTTPS=on", "SANDBOXD_HOST=localhost:8443", "HTTP_HOST=localhost",
		       "HTTP_ORIGIN=http://localhost:8443")) == 403, "no REQUEST_SCHEME, HTTPS=on: http refused");
	ok(check(&c, P("SANDBOXD_HOST=localhost:8787", "HTTP_HOST=localhost",
		       "HTTP_ORIGIN=http://localhost:8787")) == 403, "neither REQUEST_SCHEME nor HTTPS: no guess, refused");
	ok(check(&c, P("SANDBOXD_HOST=localhost:8787", "HTTP_HOST=localhost",
		       "HTTP_ORIGIN=https://localhost:8787")) == 403, "neither: https refused too");
	ok(check(&c, P("REQUEST_SCHEME=gopher", "SANDBOXD_HOST=localhost:8787", "HTTP_HOST=localhost",
		       "HTTP_ORIGIN=gopher://localhost:8787")) == 403, "a scheme other than http(s): refused");
	ok(check(&c, P("REQUEST_SCHEME=http", "HTTP_HOST=localhost", "HTTP_ORIGIN=http://localhost")) == 403,
	   "no SANDBOXD_HOST ($host has no port): no Origin is the API's own");
	ok(check(&c, P("REQUEST_SCHEME=http", "SANDBOXD_HOST=localhost:8787", "HTTP_HOST=localhost",
		       "HTTP_ORIGIN=http://localhost")) == 403, "a page of port 80 on localhost:8787: refused");
	ok(check(&c, P("REQUEST_SCHEME=http", "SANDBOXD_HOST=localhost:8787", "HTTP_HOST=localhost",
		       "HTTP_ORIGIN=http://localhost:8788")) == 403, "a page of another port: refused");
	ok(check(&c, P("REQUEST_SCHEME=http", "SANDBOXD_HOST=localhost:8787", "HTTP_HOST=localhost",
		       "HTTP_ORIGIN=http://localhost:8787/")) == 403, "an Origin with a path: refused");
	ok(check(&c, P("REQUEST_SCHEME=http", "SANDBOXD_HOST=localhost:8787", "HTTP_HOST=localhost",
		       "HTTP_ORIGIN=http://localhost:87")) == 403, "an Origin whose port is a prefix: refused");
	ok(check(&c, P("REQUEST_SCHEME=http", "SANDBOXD_HOST=localhost:8787", "HTTP_HOST=localhost",
		       "HTTP_ORIGIN=null")) == 403, "Origin: null: refused");
	ok(check(&c, P("REQUEST_SCHEME=http", "SANDBOXD_HOST=evil.example:8787", "HTTP_HOST=evil.example",
		       "HTTP_ORIGIN=http://evil.example:8787")) == 403, "a rebound name's own origin: refused (Host)");
	ok(check(&c, P("REQUEST_SCHEME=http", "SANDBOXD_HOST=LocalHost:8787", "HTTP_HOST=localhost",
		       "HTTP_ORIGIN=http://localhost:8787")) == 0, "names compare without case");
	return done_testing();
}
