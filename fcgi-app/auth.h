/* Bearer tokens: a file of "NAME sha256:HEX SCOPE" lines, loaded by the
 * master (so a bad file is an error at start or reload, with its line) and
 * inherited by the workers.  Only hashes are kept, on disk and in memory. */
#ifndef SBD_AUTH_H
#define SBD_AUTH_H

#include <stdbool.h>

struct conf;
struct http_req;

struct auth_token {
	char name[64];
	unsigned char hash[32];		/* SHA-256 of the token */
	char scope[64];			/* a projectId prefix; "" with all */
	bool all;			/* SCOPE "*" */
};

struct auth_tokens {
	struct auth_token *t;
	int n;
};

/* Read path into *out (malloc'd); -1 with "path:line: what" on stderr. */
int auth_load(const char *path, struct auth_tokens **out);
void auth_free(struct auth_tokens *a);
/* The tenants: distinct scopes of the tokens, "*" not counted. */
int auth_tenants(const struct auth_tokens *a);

/* What a route asks of the caller: its row in router.c says which. */
enum auth_need {
	AUTH_OPEN,	/* nothing (/healthz) */
	AUTH_ANY,	/* any valid token: /images, /metrics */
	AUTH_PROJECT,	/* a token whose scope covers the projectId */
};

/* May req go on?  On no, the 401 or 403 is answered here.  req->who is the
 * token's name when one was presented and valid. */
bool auth_check(const struct auth_tokens *a, bool allow_remote, struct http_req *req,
		enum auth_need need, const char *project_id);

/* Whether req, admitted under other tokens, would still be by a (a reload's
 * tokens): its bearer token is in a, with a scope that covers project_id.
 * No tokens (a NULL): true. */
bool auth_still_valid(const struct auth_tokens *a, const struct http_req *req, const char *project_id);

/* Who may call us from a browser, decided before routing: with tokens
 * anyone (a browser does not send a bearer token on its own), answered
 * with the configured cors-origin.  Without tokens a request whose Host
 * is not in allowed-hosts (a DNS-rebound name), or that a web page of
 * another origin sent (an Origin, or Sec-Fetch-Site cross-site or
 * same-site, not in allowed-origins), is answered 403 here; an allowed
 * Origin is echoed, never "*".  Sets req's CORS answer either way. */
bool auth_browser_check(const struct conf *c, struct http_req *req);

#endif
