/* Shared by the fuzz targets: the libFuzzer entry point, an assertion that
 * survives NDEBUG, and the invariants of a parsed request target, checked
 * against a reference parser written independently of http.c. */
#ifndef T_FUZZ_H
#define T_FUZZ_H

#include "http.h"
#include "router.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant is a crash, so libFuzzer keeps the input. */
#define fuzz_assert(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant broken: %s\n",	\
			__FILE__, __LINE__, #cond);			\
		abort();						\
	}								\
} while (0)

/* data as a fresh NUL-terminated string of exactly size + 1 bytes, so ASan
 * sees any read past the end; NULL only when out of memory. */
static inline char *fuzz_strdup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s) {
		memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

static inline int fuzz_hex(char c)
{
	static const char digits[] = "0123456789abcdef";
	const char *p;

	if (c >= 'A' && c <= 'F')
		c = (char)(c - 'A' + 'a');
	p = c ? strchr(digits, c) : NULL;
	return p ? (int)(p - digits) : -1;
}

/* How many times needle occurs in [s, s + n). */
static inline size_t fuzz_count(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle), c = 0;

	for (size_t i = 0; i + k <= n; i++)
		c += memcmp(s + i, needle, k) == 0;
	return c;
}

/* The reference: a projectId by the documented regex, one character class
 * at a time. */
static inline bool fuzz_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n < 1 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];
		bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
			     (c >= 'A' && c <= 'Z');
		if (!alnum && (i == 0 || (c != '-' && c != '_')))
			return false;
	}
	return true;
}

/* What project_id_valid() promises whatever the input: the id is a single
 * harmless path component. */
static inline void fuzz_check_id(const char *id)
{
	bool valid = project_id_valid(id);

	fuzz_assert(valid == fuzz_id_valid(id));
	if (!valid)
		return;
	fuzz_assert(!strpbrk(id, "/.%\\ "));
	fuzz_assert(id[0] != '-' && id[0] != '_');
	fuzz_assert(strlen(id) <= 63);
}

/* The reference decoding of raw segment [raw, raw + n) into out (n + 1
 * bytes); false for a cut or non-hex escape or a %00. */
static inline bool fuzz_decode(const char *raw, size_t n, char *out)
{
	size_t w = 0;

	for (size_t i = 0; i < n; i++) {
		if (raw[i] != '%') {
			out[w++] = raw[i];
			continue;
		}
		if (i + 2 >= n)
			return false;
		int hi = fuzz_hex(raw[i + 1]), lo = fuzz_hex(raw[i + 2]);
		if (hi < 0 || lo < 0 || hi * 16 + lo == 0)
			return false;
		out[w++] = (char)(hi * 16 + lo);
		i += 2;
	}
	out[w] = '\0';
	return true;
}

/* req came from http_parse_target(req, uri): compare it with what the
 * reference makes of uri, and check the segments stay inside segbuf. */
static inline void fuzz_check_target(const struct http_req *req, const char *uri)
{
	size_t n = strcspn(uri, "?"), nslash = 0;
	bool bad = false;
	char *dec;

	fuzz_assert(memchr(req->path, '\0', sizeof req->path));
	fuzz_assert(req->query == (uri[n] ? uri + n + 1 : req->query));
	fuzz_assert(uri[n] || !*req->query);
	if (n >= sizeof req->path) {
		fuzz_assert(req->bad_path);
		fuzz_assert(strlen(req->path) == sizeof req->path - 1);
		return;
	}
	fuzz_assert(strlen(req->path) == n && memcmp(req->path, uri, n) == 0);
	fuzz_assert(req->nsegs >= 0 && req->nsegs <= HTTP_MAX_SEGS);
	for (size_t i = 0; i < n; i++)
		nslash += uri[i] == '/';
	if (uri[0] != '/' || nslash > HTTP_MAX_SEGS)
		bad = true;

	/* every raw segment must decode, and to what the parser made of it */
	dec = malloc(n + 1);
	fuzz_assert(dec);
	if (!bad && n > 1) {
		const char *seg = uri + 1, *end = uri + n;
		for (int i = 0; !bad; i++) {
			const char *slash = memchr(seg, '/', (size_t)(end - seg));
			size_t len = (size_t)((slash ? slash : end) - seg);
			if (!fuzz_decode(seg, len, dec)) {
				bad = true;
				break;
			}
			fuzz_assert(i < req->nsegs);
			fuzz_assert(strcmp(req->segs[i], dec) == 0);
			/* a '/' inside a segment can only be an encoded one */
			fuzz_assert(fuzz_count(dec, strlen(dec), "/") ==
				    fuzz_count(seg, len, "%2f") + fuzz_count(seg, len, "%2F"));
			fuzz_assert(strlen(dec) <= len);
			if (!slash) {
				fuzz_assert(i + 1 == req->nsegs);
				break;
			}
			seg = slash + 1;
		}
	}
	free(dec);
	fuzz_assert(req->bad_path == bad);
	if (bad)
		return;
	fuzz_assert(req->nsegs == (n == 1 ? 0 : (int)nslash));
	for (int i = 0; i < req->nsegs; i++) {
		const char *s = req->segs[i], *lim = req->segbuf + sizeof req->segbuf;
		fuzz_assert(s >= req->segbuf && s < lim);
		fuzz_assert(memchr(s, '\0', (size_t)(lim - s)));
		if (i > 0)
			fuzz_assert(s > req->segs[i - 1] + strlen(req->segs[i - 1]));
	}
}

/* Is m one of allow's comma-separated methods (HEAD counts as GET)? */
static inline bool fuzz_allowed(const char *allow, const char *m)
{
	size_t n;

	if (!strcmp(m, "HEAD"))
		m = "GET";
	n = strlen(m);
	for (const char *p = allow; *p;) {
		size_t k = strcspn(p, ",");
		if (k == n && !memcmp(p, m, n))
			return true;
		p += k;
		p += strspn(p, ", ");
	}
	return false;
}

/* router_route() on a parsed request.  What holds for any route table:
 * the order path, route, method, projectId; routes under /sandboxes/:id
 * but for /images, /healthz and /metrics; Allow lists exactly the methods the route takes; the
 * verdict does not depend on which projectId.  And the two routes the API
 * started with, handler by handler. */
static inline void fuzz_check_route(const struct http_req *req)
{
	router_handler_fn fn, alt_fn, want = NULL;
	const char *allow, *alt_allow, *m = req->method;
	enum route_result r = router_route(req, &fn, &allow), alt_r;
	struct http_req *alt;
	char x[] = "x";

	fuzz_assert((r == ROUTE_OK) == (fn != NULL));
	fuzz_assert((r == ROUTE_BAD_PATH) == req->bad_path);
	if (r == ROUTE_BAD_PATH || r == ROUTE_NO_ROUTE) {
		fuzz_assert(!allow);
		return;
	}
	/* per sandbox, or one of the server-wide routes of one segment */
	fuzz_assert((req->nsegs >= 2 && !strcmp(req->segs[0], "sandboxes")) ||
		    (req->nsegs == 1 && (!strcmp(req->segs[0], "images") || !strcmp(req->segs[0], "healthz") ||
					 !strcmp(req->segs[0], "metrics"))));
	fuzz_assert(allow && fuzz_allowed(allow, "OPTIONS"));
	if (!strcmp(m, "OPTIONS")) {
		fuzz_assert(r == ROUTE_OPTIONS);
		return;
	}
	fuzz_assert((r == ROUTE_BAD_METHOD) == !fuzz_allowed(allow, m));
	if (r == ROUTE_BAD_METHOD || req->nsegs == 1)
		return;

	/* what reaches a handler, and from there the disk */
	fuzz_check_id(req->segs[1]);
	fuzz_assert((r == ROUTE_OK) == fuzz_id_valid(req->segs[1]));

	/* the same request with a valid id goes to the same place */
	alt = malloc(sizeof *alt);
	fuzz_assert(alt);
	memcpy(alt, req, sizeof *alt);
	alt->segs[1] = x;
	alt_r = router_route(alt, &alt_fn, &alt_allow);
	free(alt);
	fuzz_assert(alt_r == ROUTE_OK && alt_allow == allow && (r != ROUTE_OK || alt_fn == fn));

	if (req->nsegs == 2) {
		fuzz_assert(!strcmp(allow, "GET, POST, DELETE, OPTIONS"));
		if (!strcmp(m, "GET") || !strcmp(m, "HEAD"))
			want = api_sandbox_status;
		else if (!strcmp(m, "POST"))
			want = api_sandbox_create;
		else if (!strcmp(m, "DELETE"))
			want = api_sandbox_delete;
		fuzz_assert(alt_fn == want);
	} else if (req->nsegs == 3 && !strcmp(req->segs[2], "exec")) {
		fuzz_assert(!strcmp(allow, "POST, OPTIONS") && alt_fn == api_exec);
	}
}

#endif
