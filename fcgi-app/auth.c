#include "config.h"

#include "auth.h"
#include "conf.h"
#include "http.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int unhex(const char *s, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v = 0;
		for (int j = 0; j < 2; j++) {
			char ch = s[2 * i + j];
			v <<= 4;
			if (ch >= '0' && ch <= '9')
				v |= (unsigned)(ch - '0');
			else if (ch >= 'a' && ch <= 'f')
				v |= (unsigned)(ch - 'a' + 10);
			else if (ch >= 'A' && ch <= 'F')
				v |= (unsigned)(ch - 'A' + 10);
			else
				return -1;
		}
		out[i] = (unsigned char)v;
	}
	return s[2 * n] ? -1 : 0;
}

static bool scope_ok(const char *s)
{
	return !strcmp(s, "*") || (strlen(s) < 64 && *s &&
		strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == strlen(s));
}

/* One line: NAME sha256:HEX SCOPE.  -1 with what is wrong in why. */
static int parse_line(char *line, struct auth_token *t, const char **why)
{
	char *name = strtok(line, " \t\r\n"), *hash = strtok(NULL, " \t\r\n");
	char *scope = strtok(NULL, " \t\r\n");

	memset(t, 0, sizeof *t);
	if (!name || !hash || !scope || strtok(NULL, " \t\r\n")) {
		*why = "expected NAME sha256:HEX SCOPE";
		return -1;
	}
	if (strlen(name) >= sizeof t->name ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@-") != strlen(name)) {
		*why = "NAME: letters, digits, _ . @ - only, at most 63";
		return -1;
	}
	if (strncmp(hash, "sha256:", 7) || strlen(hash) != 7 + 64 || unhex(hash + 7, t->hash, 32) < 0) {
		*why = "the hash must be sha256: and 64 hex digits (printf %s TOKEN | sha256sum)";
		return -1;
	}
	if (!scope_ok(scope)) {
		*why = "SCOPE must be * or a projectId prefix";
		return -1;
	}
	snprintf(t->name, sizeof t->name, "%s", name);
	t->all = !strcmp(scope, "*");
	if (!t->all)
		snprintf(t->scope, sizeof t->scope, "%s", scope);
	return 0;
}

int auth_load(const char *path, struct auth_tokens **out)
{
	struct auth_tokens *a = calloc(1, sizeof *a);
	FILE *f = fopen(path, "re");
	cleanup_free char *line = NULL;
	size_t cap = 0;
	int lineno = 0, ret = 0;

	*out = NULL;
	if (!a || !f) {
		fprintf(stderr, "sandboxd: tokens-file %s: %s\n", path, strerror(errno));
		free(a);
		if (f)
			fclose(f);
		return -1;
	}
	while (getline(&line, &cap, f) > 0) {
		const char *why = NULL;
		char *p = line + strspn(line, " \t");
		struct auth_token t, *grown;

		lineno++;
		if (!*p || *p == '#' || *p == '\n')
			continue;
		if (parse_line(p, &t, &why) < 0) {
			fprintf(stderr, "sandboxd: %s:%d: %s\n", path, lineno, why);
			ret = -1;
			break;
		}
		grown = realloc(a->t, sizeof *a->t * (size_t)(a->n + 1));
		if (!grown) {
			ret = -1;
			break;
		}
		a->t = grown;
		a->t[a->n++] = t;
	}
	fclose(f);
	if (ret < 0) {
		auth_free(a);
		return -1;
	}
	*out = a;
	return 0;
}

void auth_free(struct auth_tokens *a)
{
	if (!a)
		return;
	free(a->t);
	free(a);
}

int auth_tenants(const struct auth_tokens *a)
{
	int n = 0;

	for (int i = 0; a && i < a->n; i++) {
		int j = 0;
		while (j < i && (a->t[j].all || strcmp(a->t[j].scope, a->t[i].scope)))
			j++;
		n += !a->t[i].all && j == i;
	}
	return n;
}

/* Where nginx took the request: a loopback address or a unix socket. */
static bool local_request(const struct http_req *req)
{
	const char *addr = http_param(req, "SERVER_ADDR");
	struct in6_addr a6;
	struct in_addr a4;

	if (!strncmp(addr, "unix:", 5))
		return true;
	if (inet_pton(AF_INET, addr, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, addr, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false;
}

/* The token of "Authorization: Bearer <token>", or NULL. */
static const char *bearer(const struct http_req *req)
{
	const char *h = http_param(req, "HTTP_AUTHORIZATION");

	if (strncasecmp(h, "Bearer ", 7))
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h ? h : NULL;
}

/* Every token is compared, each in constant time: neither which one
 * matched nor how much of it did shows in the time taken. */
static const struct auth_token *find(const struct auth_tokens *a, const char *token)
{
	unsigned char h[32];
	unsigned int len = 0;
	const struct auth_token *found = NULL;

	if (!EVP_Digest(token, strlen(token), h, &len, EVP_sha256(), NULL) || len != 32)
		return NULL;
	for (int i = 0; i < a->n; i++)
		if (CRYPTO_memcmp(h, a->t[i].hash, 32) == 0)
			found = &a->t[i];
	return found;
}

bool auth_check(const struct auth_tokens *a, bool allow_remote, struct http_req *req,
		enum auth_need need, const char *project_id)
{
	const struct auth_token *t;
	const char *token;

	if (need == AUTH_OPEN)
		return true;
	if (!a) {
		/* a proxy on this host forwarding to nginx's loopback listener
		 * says so: then loopback is not where the client is */
		if (allow_remote || (local_request(req) && !*http_param(req, "HTTP_X_FORWARDED_FOR") &&
				     !*http_param(req, "HTTP_FORWARDED")))
			return true;
		http_reply_error(req, 403, "this server has no tokens configured and answers only requests "
			"made on loopback, not forwarded by a proxy; configure tokens-file");
		return false;
	}
	token = bearer(req);
	t = token ? find(a, token) : NULL;
	if (!t) {
		req->www_auth = true;
		http_reply_error(req, 401, token ? "invalid token" : "missing bearer token "
				 "(Authorization: Bearer TOKEN)");
		return false;
	}
	req->who = t->name;
	req->scope = t->all ? "" : t->scope;
	if (need == AUTH_PROJECT && !t->all && strncmp(project_id, t->scope, strlen(t->scope))) {
		http_reply_error(req, 403, "token %s may not use sandbox %s", t->name, project_id);
		return false;
	}
	return true;
}

bool auth_still_valid(const struct auth_tokens *a, const struct http_req *req, const char *project_id)
{
	const struct auth_token *t;
	const char *token;

	if (!a)
		return true;
	token = bearer(req);
	t = token ? find(a, token) : NULL;
	if (!t)
		return false;
	return t->all || !project_id || !strncmp(project_id, t->scope, strlen(t->scope));
}

/* Whether the list (entries separated by commas or blanks, as conf.c
 * checked them) holds s[0..n), case aside. */
static bool list_has(const char *list, const char *s, size_t n)
{
	for (const char *p = list + strspn(list, ", \t"); *p; p += strspn(p, ", \t")) {
		size_t len = strcspn(p, ", \t");
		if (len == n && !strncasecmp(p, s, n))
			return true;
		p += len;
	}
	return false;
}

/* The length of the name in a Host: a DNS name or IPv4 address, or an IPv6
 * address in brackets, then optionally ':' and 1 to 5 digits, nothing else
 * ("localhost:80:80", "[::1]x" are no Host); 0 when it is not one. */
static size_t host_name_len(const char *host)
{
	static const char name[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-";
	static const char digits[] = "0123456789";
	size_t n, d;

	if (host[0] == '[') {
		n = strspn(host + 1, "0123456789abcdefABCDEF:.");
		if (n == 0 || host[n + 1] != ']')
			return 0;
		n += 2;
	} else {
		n = strspn(host, name);
	}
	if (n == 0 || n > 255)
		return 0;
	if (!host[n])
		return n;
	d = strspn(host + n + 1, digits);
	if (host[n] != ':' || d < 1 || d > 5 || host[n + 1 + d])
		return 0;
	return n;
}

/* Whether a Host ("name", "name:port", "[v6]" or "[v6]:port") names an
 * allowed host, any port. */
static bool host_allowed(const char *list, const char *host)
{
	size_t n = host_name_len(host);

	return n && list_has(list, host, n);
}

/* Whether the Origin is the API's own: the scheme nginx says the request
 * came in by (REQUEST_SCHEME, else HTTPS; neither: no guess, no match),
 * "://" and the Host as sent, port and all.  Only the Host header as sent
 * will do (SANDBOXD_HOST, which sandboxd's nginx configuration passes as
 * $http_host): Debian's fastcgi_params pass nginx's $host as HTTP_HOST,
 * without the port, and a page of http://localhost (port 80, another
 * server) is not of the API's origin on localhost:8787. */
static bool same_origin(const struct http_req *req, const char *sent, const char *origin)
{
	const char *scheme = http_param(req, "REQUEST_SCHEME"), *https = http_param(req, "HTTPS");
	size_t n;

	if (!*scheme && *https)
		scheme = strcasecmp(https, "off") ? "https" : "http";
	if (strcasecmp(scheme, "http") && strcasecmp(scheme, "https"))
		return false;
	n = strlen(scheme);
	return *sent && !strncasecmp(origin, scheme, n) && !strncmp(origin + n, "://", 3) &&
	       !strcasecmp(origin + n + 3, sent);
}

bool auth_browser_check(const struct conf *c, struct http_req *req)
{
	const char *host = http_param(req, "HTTP_HOST"), *origin = http_param(req, "HTTP_ORIGIN");
	const char *site = http_param(req, "HTTP_SEC_FETCH_SITE"), *sent = http_param(req, "SANDBOXD_HOST");

	if (c->tokens) {
		req->cors_origin = c->cors_origin;
		req->vary_origin = strcmp(c->cors_origin, "*") != 0;
		return true;
	}
	/* the answer depends on the Origin: no cache may hand it to another */
	req->cors_origin = NULL;
	req->vary_origin = true;
	/* a page whose name was rebound to 127.0.0.1 still sends its own name;
	 * no Host at all (HTTP/1.0) is no browser's.  HTTP_HOST is the Host
	 * header, or nginx's $host (the host of an absolute-form target, the
	 * port cut, whatever followed it too) where fastcgi_params say so;
	 * SANDBOXD_HOST the header as sent: both must be allowed */
	if (*sent && !host_allowed(c->allowed_hosts, sent))
		host = sent;
	else if (!*host || host_allowed(c->allowed_hosts, host))
		host = NULL;
	if (host) {
		http_reply_error(req, 403, "Host %.200s is not a name this server answers to without "
				 "tokens; add it to allowed-hosts (or configure tokens-file)", host);
		return false;
	}
	if (*origin) {
		/* a page of the API's own origin: its Host passed above, so no
		 * rebound name; an opaque origin (a raw download) is "null" */
		if (!same_origin(req, sent, origin) &&
		    !list_has(c->allowed_origins, origin, strlen(origin))) {
			http_reply_error(req, 403, "a web page of %.200s sent this request and this server, "
					 "without tokens, answers only pages of allowed-origins; add the "
					 "origin to allowed-origins to allow it (or configure tokens-file)",
					 origin);
			return false;
		}
		req->cors_origin = origin;
		return true;
	}
	/* a browser that sends no Origin (a GET, a link) still says where from */
	if (!strcasecmp(site, "cross-site") || !strcasecmp(site, "same-site")) {
		http_reply_error(req, 403, "a web page of another site sent this request (Sec-Fetch-Site: "
				 "%.20s) and this server, without tokens, answers only pages of "
				 "allowed-origins; add the page's origin to allowed-origins to allow it "
				 "(or configure tokens-file)", site);
		return false;
	}
	return true;
}
