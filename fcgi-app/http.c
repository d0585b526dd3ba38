#include "config.h"

#include "http.h"
#include "api.h"
#include "log.h"
#include "router.h"
#include "conf.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <sys/socket.h>
#include <sys/time.h>

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 429: return "Too Many Requests";
	case 503: return "Service Unavailable";
	case 403: return "Forbidden";
	case 504: return "Gateway Timeout";
	case 507: return "Insufficient Storage";
	default: return status >= 500 ? "Internal Server Error" : "Error";
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int http_pct_decode(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (*r != '%') {
			*w++ = *r;
			continue;
		}
		int hi = hexval(r[1]), lo = hi < 0 ? -1 : hexval(r[2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return -1;
		*w++ = (char)(hi * 16 + lo);
		r += 2;
	}
	*w = '\0';
	return 0;
}

/* "/a/b%2Fc" -> segs {"a", "b/c"}: split first, then decode each segment,
 * so an encoded slash can never make a new segment.  "/" has no segment. */
static void split_path(struct http_req *req)
{
	char *p = req->segbuf;

	memcpy(req->segbuf, req->path, sizeof req->segbuf);
	if (*p != '/') {
		req->bad_path = true;
		return;
	}
	if (!p[1])
		return;
	for (char *seg = p + 1; seg; ) {
		char *next = strchr(seg, '/');
		if (next)
			*next++ = '\0';
		if (req->nsegs == HTTP_MAX_SEGS || http_pct_decode(seg) < 0) {
			req->bad_path = true;
			return;
		}
		req->segs[req->nsegs++] = seg;
		seg = next;
	}
}

int http_parse_target(struct http_req *req, const char *uri)
{
	size_t n = strcspn(uri, "?");

	req->nsegs = 0;
	req->bad_path = false;
	req->query = uri[n] ? uri + n + 1 : "";
	if (n >= sizeof req->path) {
		req->bad_path = true;
		n = sizeof req->path - 1;
	}
	memcpy(req->path, uri, n);
	req->path[n] = '\0';
	if (!req->bad_path)
		split_path(req);
	return req->bad_path ? -1 : 0;
}

/* Every write libfcgi makes on the connection gives up after ms without
 * progress (nginx takes an answer only as fast as its client when it does
 * not buffer it): a client that stops reading never holds a worker for
 * good.  Streams never block at all (sse.c). */
static void bound_writes(int fd, int64_t ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	if (fd >= 0 && ms > 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

void http_req_init(struct http_req *req, FCGX_Request *fcgi, const struct conf *conf)
{
	const char *uri = FCGX_GetParam("REQUEST_URI", fcgi->envp);
	const char *rid = FCGX_GetParam("REQUEST_ID", fcgi->envp);

	memset(req, 0, sizeof *req);
	req->fcgi = fcgi;
	req->conf = conf;
	req->start_ms = sb_mono_ms();
	req->route = -1;
	req->scope = "";
	req->method = FCGX_GetParam("REQUEST_METHOD", fcgi->envp);
	if (!req->method)
		req->method = "GET";
	if (rid && *rid && strlen(rid) < sizeof req->rid &&
	    strspn(rid, "0123456789abcdefABCDEF-") == strlen(rid))
		snprintf(req->rid, sizeof req->rid, "%s", rid);
	else
		snprintf(req->rid, sizeof req->rid, "%d-%lld", (int)getpid(), (long long)sb_now_ms());
	http_parse_target(req, uri ? uri : "/");
	bound_writes(fcgi->ipcFd, conf->send_timeout_ms);
}

void http_req_release(struct http_req *req)
{
	free(req->body);
	req->body = NULL;
}

static void put_fmt(struct http_req *req, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void put_fmt(struct http_req *req, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > 0)
		FCGX_PutStr(buf, n < (int)sizeof buf ? n : (int)sizeof buf - 1, req->fcgi->out);
}

/* What auth_browser_check decided: the origin allowed, if any. */
static void cors_headers(struct http_req *req)
{
	if (req->cors_origin)
		put_fmt(req, "Access-Control-Allow-Origin: %s\r\n", req->cors_origin);
	put_fmt(req, "Access-Control-Expose-Headers: X-Request-Id\r\n"
		"X-Request-Id: %s\r\n%s%s", req->rid,
		req->vary_origin ? "Vary: Origin\r\n" : "",
		req->www_auth ? "WWW-Authenticate: Bearer\r\n" : "");
}

/* A JSON answer's headers; len: the body's bytes (its newline counted) */
static void begin_json(struct http_req *req, int status, size_t len, const char *extra)
{
	req->status = status;
	/* headers through snprintf: libfcgi's own printf knows no %zu */
	put_fmt(req, "Status: %d %s\r\nContent-Type: application/json\r\n"
		"Content-Length: %zu\r\nCache-Control: no-store\r\n%s%s",
		status, reason(status), len, extra ? extra : "",
		/* capacity answers say when to come back */
		status == 503 || status == 429 ? "Retry-After: 1\r\n" : "");
	cors_headers(req);
	FCGX_PutS("\r\n", req->fcgi->out);
}

static const char *json_text(struct json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static void send_json(struct http_req *req, int status, struct json_object *o, const char *extra)
{
	const char *s = json_text(o);
	size_t len = strlen(s);

	begin_json(req, status, len + 1, extra);
	FCGX_PutStr(s, (int)len, req->fcgi->out);
	FCGX_PutChar('\n', req->fcgi->out);
}

void http_reply_data(struct http_req *req, int status, struct json_object *data)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "success", json_object_new_boolean(1));
	json_object_object_add(o, "data", data);
	send_json(req, status, o, NULL);
	json_object_put(o);
}

static size_t utf8_seq(const unsigned char *s, size_t n);

/* One byte of text as json-c writes it in a string (JSON_C_TO_STRING_PLAIN,
 * NOSLASHESCAPE): its escape into out (at least 6 bytes), its length. */
static size_t escape_byte(unsigned char c, char *out)
{
	static const char hex[] = "0123456789abcdef";
	const char *e = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
		: c == '\t' ? "\\t" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;

	if (e) {
		memcpy(out, e, 2);
		return 2;
	}
	if (c < 0x20) {
		memcpy(out, "\\u00", 4);
		out[4] = hex[c >> 4];
		out[5] = hex[c & 0xf];
		return 6;
	}
	out[0] = (char)c;
	return 1;
}

/* A blob's value as JSON, quotes included, written to the answer 64 KiB at
 * a time (or, !write, only counted); its length.  Text as
 * json_string_lossy() then json-c would write it: invalid UTF-8 as U+FFFD,
 * control characters escaped; base64 as sb_base64_encode() makes it. */
static size_t put_blob(struct http_req *req, const struct http_blob *b, bool write)
{
	const unsigned char *u = (const unsigned char *)b->buf;
	char out[65536 + 8];
	size_t total = 2, w = 0;

	if (write)
		out[w++] = '"';
	if (b->base64) {
		/* 48 KiB of input: 64 KiB out, whole groups of 3 */
		for (size_t i = 0; i < b->len; i += 49152) {
			size_t n = b->len - i < 49152 ? b->len - i : 49152, olen = 4 * ((n + 2) / 3);
			total += olen;
			if (!write)
				continue;
			if (w)
				FCGX_PutStr(out, (int)w, req->fcgi->out);
			sb_base64_encode(b->buf + i, n, out);
			w = olen;
		}
	} else {
		for (size_t i = 0; i < b->len;) {
			size_t k = utf8_seq(u + i, b->len - i), n;
			if (w > sizeof out - 8) {
				FCGX_PutStr(out, (int)w, req->fcgi->out);
				w = 0;
			}
			if (k == 1) {
				n = escape_byte(u[i], out + w);
			} else if (k) {
				memcpy(out + w, u + i, k);
				n = k;
			} else {
				memcpy(out + w, "\xEF\xBF\xBD", 3);
				n = 3;
				k = 1;
			}
			i += k;
			total += n;
			if (write)
				w += n;
		}
	}
	if (write) {
		if (w > sizeof out - 1) {
			FCGX_PutStr(out, (int)w, req->fcgi->out);
			w = 0;
		}
		out[w++] = '"';
		FCGX_PutStr(out, (int)w, req->fcgi->out);
	}
	return total;
}

void http_reply_data_blobs(struct http_req *req, int status, struct json_object *data,
			   const struct http_blob *blobs, size_t n)
{
	struct json_object *o = json_object_new_object();
	const char *s;
	size_t len, total;
	bool first;

	json_object_object_add(o, "success", json_object_new_boolean(1));
	json_object_object_add(o, "data", data);
	/* {"success":true,"data":{...}}: the blobs go before the last "}}" */
	s = json_text(o);
	len = strlen(s);
	if (len < 3 || strcmp(s + len - 2, "}}")) {
		send_json(req, status, o, NULL);	/* not reached: data is an object */
		json_object_put(o);
		return;
	}
	len -= 2;
	first = s[len - 1] == '{';
	total = len + 3;	/* "}}\n" */
	for (size_t i = 0; i < n; i++)
		total += (first && i == 0 ? 0 : 1) + strlen(blobs[i].key) + 3 + put_blob(req, &blobs[i], false);
	begin_json(req, status, total, NULL);
	FCGX_PutStr(s, (int)len, req->fcgi->out);
	for (size_t i = 0; i < n; i++) {
		/* the keys are the callers' constants: nothing to escape */
		put_fmt(req, "%s\"%s\":", first && i == 0 ? "" : ",", blobs[i].key);
		put_blob(req, &blobs[i], true);
	}
	FCGX_PutS("}}\n", req->fcgi->out);
	json_object_put(o);
}

static void reply_error_v(struct http_req *req, int status, const char *extra, const char *fmt,
			  va_list ap)
{
	struct json_object *o = json_object_new_object();
	char msg[1024];

	vsnprintf(msg, sizeof msg, fmt, ap);
	json_object_object_add(o, "success", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_string_lossy(msg, strlen(msg)));
	send_json(req, status, o, extra);
	json_object_put(o);
}

void http_reply_error(struct http_req *req, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_error_v(req, status, NULL, fmt, ap);
	va_end(ap);
}

static void reply_error_extra(struct http_req *req, int status, const char *extra,
			      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_error_v(req, status, extra, fmt, ap);
	va_end(ap);
}

void http_reply_416(struct http_req *req, unsigned long long size)
{
	char extra[64];

	snprintf(extra, sizeof extra, "Content-Range: bytes */%llu\r\n", size);
	reply_error_extra(req, 416, extra, "range not satisfiable: the file has %llu bytes", size);
}

void http_reply_405(struct http_req *req, const char *allow)
{
	char extra[128];

	snprintf(extra, sizeof extra, "Allow: %s\r\n", allow);
	reply_error_extra(req, 405, extra, "method %s not allowed here", req->method);
}

void http_reply_options(struct http_req *req, const char *allow)
{
	req->status = 204;
	put_fmt(req, "Status: 204 No Content\r\nAllow: %s\r\n"
		"Access-Control-Allow-Methods: %s\r\n"
		"Access-Control-Allow-Headers: Content-Type, Authorization, X-Request-Id\r\n"
		"Access-Control-Max-Age: 86400\r\n",
		allow, allow);
	cors_headers(req);
	FCGX_PutS("\r\n", req->fcgi->out);
}

/* RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF. */
bool utf8_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		size_t k = utf8_seq(u + i, len - i);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

unsigned long long http_content_length(const char *cl)
{
	unsigned long long len;

	if (!cl || !*cl)
		return 0;
	/* digits only: strtoull alone takes " 5" and "+5", and " -5" as 2^64 - 5 */
	if (strspn(cl, "0123456789") != strlen(cl))
		return ULLONG_MAX;
	errno = 0;
	len = strtoull(cl, NULL, 10);
	return errno ? ULLONG_MAX : len;
}

/* SO_RCVTIMEO of the connection: ms, 0 for none (set again only when it
 * changes: mostly --send-timeout for every refill of a body) */
static void bound_reads(struct http_req *req, int64_t ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	if (ms == req->rcv_timeout_ms)
		return;
	req->rcv_timeout_ms = ms;
	setsockopt(req->fcgi->ipcFd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

/* SIGALRM in ms (0: none).  The worker's handler (accept.c) has no
 * SA_RESTART: a read it interrupts fails, and libfcgi takes that for an
 * error of the stream. */
static void read_alarm(int64_t ms)
{
	struct itimerval it = { .it_value = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 } };

	setitimer(ITIMER_REAL, &it, NULL);
}

ssize_t http_body_read(struct http_req *req, char *buf, size_t n, int64_t end)
{
	FCGX_Stream *in = req->fcgi->in;
	size_t have = (size_t)(in->stop - in->rdNext);
	int64_t ms, left = 0;
	int got;

	if (!n)
		return 0;
	if (have) {
		/* from libfcgi's buffer: no read at all */
		if (n > have)
			n = have;
	} else {
		/* FCGX_GetStr() reads until it has all it was asked for, each
		 * read within SO_RCVTIMEO but all of them unbounded (a byte a
		 * second); one byte asked of an empty buffer is one refill */
		left = ms = end - sb_mono_ms();
		if (ms <= 0)
			return -1;
		if (ms > req->conf->send_timeout_ms)
			ms = req->conf->send_timeout_ms;
		bound_reads(req, ms);
		n = 1;
	}
	if (n > INT_MAX)
		n = INT_MAX;
	/* a refill may read more than once (a record's padding, the next
	 * header), each within SO_RCVTIMEO: the alarm ends them all by end */
	if (left)
		read_alarm(left);
	got = FCGX_GetStr(buf, (int)n, in);
	if (left)
		read_alarm(0);
	return got > 0 ? got : -1;
}

int http_read_body(struct http_req *req, size_t limit)
{
	unsigned long long len =
		http_content_length(FCGX_GetParam("CONTENT_LENGTH", req->fcgi->envp));
	/* as nginx's client_body_timeout: --send-timeout between bytes, and
	 * --max-timeout in all (the stops are blocked while a request is
	 * served: a body never finished held the worker and every reload) */
	int64_t end = sb_mono_ms() + req->conf->max_timeout_ms;
	size_t got = 0;

	if (len > limit) {
		http_reply_error(req, 413, "request body larger than %zu bytes", limit);
		return -1;
	}
	req->body = malloc(len + 1);
	if (!req->body) {
		http_reply_error(req, 500, "out of memory");
		return -2;
	}
	while (got < len) {
		ssize_t n = http_body_read(req, req->body + got, len - got, end);
		if (n < 0)
			break;
		got += (size_t)n;
	}
	bound_reads(req, 0);
	if (got != len) {
		http_reply_error(req, 400, "request body shorter than its Content-Length (or not sent within "
				 "the timeout)");
		return -2;
	}
	req->body[len] = '\0';
	req->body_len = len;
	return 0;
}

/* Wait until the socket has room for libfcgi's buffer (8 KiB): a Unix
 * socket polls writable with 3/4 of its send buffer free, and then takes it
 * whole at once (libfcgi loops on partial writes, however slow, until it
 * has written it all).  -1 past end, or when the client took nothing for
 * --send-timeout (what it still has queued, SIOCOUTQ, did not shrink). */
/* a flush of 8 KiB that took this long waited for the reader */
#define SLOW_FLUSH_MS 2

static int wait_room(struct http_req *req, int fd, int64_t end)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int64_t idle_end = sb_mono_ms() + req->conf->send_timeout_ms;
	int queued = INT_MAX, q;

	for (;;) {
		int64_t now = sb_mono_ms(), ms = (end < idle_end ? end : idle_end) - now;
		int r;

		if (ms <= 0)
			return -1;
		r = poll(&p, 1, ms > 1000 ? 1000 : (int)ms);
		if (r > 0)
			return 0;	/* room, or an error the write reports */
		if (r < 0 && errno != EINTR)
			return -1;
		/* a reader that takes bytes, however slowly, is not gone */
		if (ioctl(fd, SIOCOUTQ, &q) == 0) {
			if (q < queued)
				idle_end = sb_mono_ms() + req->conf->send_timeout_ms;
			queued = q;
		}
	}
}

int http_put_until(struct http_req *req, const char *buf, size_t n, int64_t end)
{
	FCGX_Stream *out = req->fcgi->out;

	while (n > 0) {
		size_t room = (size_t)(out->stop - out->wrNext);

		if (!room) {
			int64_t t0 = sb_mono_ms();

			/* libfcgi's buffer is full: the next write sends it.
			 * A reader that keeps up (nginx, mostly) is written to
			 * at once, its deadline checked; once a write had to
			 * wait, each waits for room first (wait_room) */
			if ((req->slow_reader ? wait_room(req, req->fcgi->ipcFd, end) < 0 : t0 >= end) ||
			    FCGX_FFlush(out) < 0 || out->stop == out->wrNext)
				return -1;
			if (sb_mono_ms() - t0 >= SLOW_FLUSH_MS)
				req->slow_reader = true;
			continue;
		}
		if (room > n)
			room = n;
		if (room > INT_MAX)
			room = INT_MAX;
		if (FCGX_PutStr(buf, (int)room, out) < 0)
			return -1;
		buf += room;
		n -= room;
	}
	return 0;
}

/* json-c takes NaN and Infinity even in strict mode, and 1e999 as infinity:
 * none is JSON, and NaN passes every bound check written the wrong way
 * round.  The tokener's depth limit bounds the recursion. */
static bool json_all_finite(struct json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_double:
		return isfinite(json_object_get_double(o));
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(o); i++)
			if (!json_all_finite(json_object_array_get_idx(o, i)))
				return false;
		return true;
	case json_type_object: {
		json_object_object_foreach(o, k, v) {
			(void)k;
			if (!json_all_finite(v))
				return false;
		}
		return true;
	}
	default:
		return true;
	}
}

struct json_object *json_body_parse(const char *body, size_t len, struct sb_err *err)
{
	struct json_tokener *tok;
	struct json_object *o;
	enum json_tokener_error jerr;
	size_t off;

	if (len == strspn(body, " \t\r\n"))
		return json_object_new_object();
	if (!utf8_valid(body, len)) {
		sb_fail(err, SB_E_INVALID, 0, "malformed JSON body: not valid UTF-8");
		return NULL;
	}
	tok = json_tokener_new_ex(32);
	if (!tok) {
		sb_fail(err, SB_E_INTERNAL, 0, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	/* the terminating NUL lets a bare number or literal finish parsing */
	o = json_tokener_parse_ex(tok, body, (int)len + 1);
	jerr = json_tokener_get_error(tok);
	off = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (jerr == json_tokener_success && (!o || !json_object_is_type(o, json_type_object))) {
		json_object_put(o);
		sb_fail(err, SB_E_INVALID, 0, "JSON body must be an object");
		return NULL;
	}
	if (!o || jerr != json_tokener_success) {
		json_object_put(o);
		sb_fail(err, SB_E_INVALID, 0, "malformed JSON body: %s", json_tokener_error_desc(jerr));
		return NULL;
	}
	if (off < len && off + strspn(body + off, " \t\r\n") != len) {
		json_object_put(o);
		sb_fail(err, SB_E_INVALID, 0, "malformed JSON body: trailing data");
		return NULL;
	}
	if (!json_all_finite(o)) {
		json_object_put(o);
		sb_fail(err, SB_E_INVALID, 0, "malformed JSON body: NaN, Infinity or a number out of range");
		return NULL;
	}
	return o;
}

struct json_object *http_json_body(struct http_req *req)
{
	struct sb_err err = SB_ERR_INIT;
	struct json_object *o = json_body_parse(req->body, req->body_len, &err);

	if (!o)
		api_reply_err(req, &err);
	return o;
}

void http_access_log(const struct http_req *req)
{
	const char *route = router_pattern(req->route);
	char ts[40];

	sb_iso8601(sb_now_ms(), ts, sizeof ts);
	flockfile(stderr);
	fprintf(stderr, "ts=%s rid=%s method=", ts, req->rid);
	log_value(stderr, req->method);
	fputs(" path=", stderr);
	log_value(stderr, req->path);
	fprintf(stderr, " route=%s status=%d ms=%lld", route ? route : "none", req->status,
		(long long)(sb_mono_ms() - req->start_ms));
	if (req->who)
		fprintf(stderr, " token=%s", req->who);
	/* the status went out, but not the whole body */
	if (req->cut)
		fprintf(stderr, " cut=%s", req->cut);
	fputc('\n', stderr);
	funlockfile(stderr);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2, cp = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		len = 3, cp = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return len;
}

struct json_object *json_string_lossy(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, w = 0;
	cleanup_free char *out = NULL;

	while (i < len) {
		size_t k = utf8_seq(u + i, len - i);
		if (!k)
			break;
		i += k;
	}
	if (i == len)
		return json_object_new_string_len(s, (int)len);
	out = malloc(len * 3 + 1);
	if (!out)
		return json_object_new_string("");
	for (i = 0; i < len;) {
		size_t k = utf8_seq(u + i, len - i);
		if (k) {
			memcpy(out + w, s + i, k);
			w += k;
			i += k;
		} else {
			memcpy(out + w, "\xEF\xBF\xBD", 3);
			w += 3;
			i++;
		}
	}
	return json_object_new_string_len(out, (int)w);
}

const char *http_param(const struct http_req *req, const char *name)
{
	const char *v = FCGX_GetParam(name, req->fcgi->envp);

	return v ? v : "";
}

bool http_query_valid(const struct http_req *req)
{
	char buf[4097];

	for (const char *p = req->query; p && *p;) {
		const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		const char *v = eq ? eq + 1 : end;
		if ((size_t)(end - v) >= sizeof buf)
			return false;
		memcpy(buf, v, (size_t)(end - v));
		buf[end - v] = '\0';
		if (http_pct_decode(buf) < 0)
			return false;
		p = amp ? amp + 1 : NULL;
	}
	return true;
}

const char *http_query(const struct http_req *req, const char *key, char *buf, size_t len)
{
	size_t klen = strlen(key);

	for (const char *p = req->query; p && *p;) {
		const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
		if ((size_t)(end - p) >= klen && strncmp(p, key, klen) == 0 &&
		    (p[klen] == '=' || p + klen == end)) {
			const char *v = p[klen] == '=' ? p + klen + 1 : end;
			size_t n = (size_t)(end - v);
			if (n >= len)
				return NULL;
			memcpy(buf, v, n);
			buf[n] = '\0';
			for (char *q = buf; *q; q++)
				if (*q == '+')
					*q = ' ';
			return http_pct_decode(buf) == 0 ? buf : NULL;
		}
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

/* RFC 5987's attr-char: what filename* may carry unescaped. */
static bool attr_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$&+-.^_`|~", ch));
}

void http_content_disposition(char *buf, size_t len, const char *name)
{
	static const char head[] = "attachment; filename=\"", mid[] = "\"; filename*=UTF-8''";
	const unsigned char *u = (const unsigned char *)name;
	size_t n = strlen(name), w = 0;

	/* each name byte takes at most 1 + 3 bytes here */
	if (len < sizeof head + sizeof mid + 4) {
		if (len)
			buf[0] = '\0';
		return;
	}
	if (n > (len - sizeof head - sizeof mid) / 4)
		n = (len - sizeof head - sizeof mid) / 4;
	memcpy(buf, head, sizeof head - 1);
	w = sizeof head - 1;
	/* one _ per character: a UTF-8 sequence's continuation bytes add none */
	for (size_t i = 0; i < n; i++) {
		if (u[i] >= 0x80 && u[i] < 0xC0)
			continue;
		buf[w++] = attr_char(u[i]) || u[i] == ' ' ? (char)u[i] : '_';
	}
	memcpy(buf + w, mid, sizeof mid - 1);
	w += sizeof mid - 1;
	for (size_t i = 0; i < n; i++) {
		if (attr_char(u[i])) {
			buf[w++] = (char)u[i];
		} else {
			snprintf(buf + w, 4, "%%%02X", u[i]);
			w += 3;
		}
	}
	buf[w] = '\0';
}

void http_begin_bytes(struct http_req *req, int status, const char *type, unsigned long long len,
		      const char *filename, const char *extra)
{
	req->status = status;
	put_fmt(req, "Status: %d %s\r\nContent-Type: %s\r\n"
		"Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
		status, reason(status), type);
	/* without one, nginx sends the answer chunked */
	if (len != HTTP_LEN_UNKNOWN)
		put_fmt(req, "Content-Length: %llu\r\n", len);
	if (filename) {
		char cd[1400];
		/* the sandbox wrote it: HTML or SVG shown here would run its
		 * scripts with the API's origin; sandbox: even if shown, in an
		 * opaque origin with no script */
		http_content_disposition(cd, sizeof cd, filename);
		put_fmt(req, "Content-Security-Policy: sandbox\r\nContent-Disposition: %s\r\n", cd);
	}
	if (extra)
		FCGX_PutS(extra, req->fcgi->out);
	cors_headers(req);
	FCGX_PutS("\r\n", req->fcgi->out);
}

void http_begin_raw(struct http_req *req, int status, const char *type, unsigned long long len,
		    const char *filename)
{
	http_begin_bytes(req, status, type, len, filename, NULL);
}

void http_begin_sse(struct http_req *req)
{
	req->status = 200;
	/* X-Accel-Buffering: nginx passes each frame on as it comes */
	put_fmt(req, "Status: 200 OK\r\nContent-Type: text/event-stream\r\n"
		"Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n");
	cors_headers(req);
	FCGX_PutS("\r\n", req->fcgi->out);
}
