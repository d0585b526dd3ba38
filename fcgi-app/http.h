/* One HTTP request as FastCGI hands it to us, and the JSON replies. */
#ifndef SBD_HTTP_H
#define SBD_HTTP_H

#include <fcgiapp.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_MAX_SEGS 64	/* files paths are segments too */

struct conf;
struct sb_err;

struct http_req {
	FCGX_Request *fcgi;
	const struct conf *conf;
	const char *method;
	char path[2048];		/* raw path of REQUEST_URI, query cut off */
	char segbuf[2048];		/* the decoded segments live here */
	const char *query;		/* raw, may be "" */
	char *segs[HTTP_MAX_SEGS];	/* percent-decoded segments */
	int nsegs;
	bool bad_path;			/* undecodable, too long or too many segments */
	char *body;
	size_t body_len;
	char rid[48];
	int status;			/* as answered, for the access log */
	const char *cut;		/* a body cut short after its status: why */
	bool slow_reader;		/* a flush of the answer waited: http_put_until */
	int64_t rcv_timeout_ms;		/* SO_RCVTIMEO set on the connection, 0: none */
	int route;			/* router_index(), -1: none */
	const char *who;		/* the token's name, when one was valid */
	/* the tenant whose shares the request spends (store.h): its token's
	 * scope, "" for a token of every sandbox or without tokens */
	const char *scope;
	bool www_auth;			/* a 401: say WWW-Authenticate: Bearer */
	const char *cors_origin;	/* Access-Control-Allow-Origin; NULL: none */
	bool vary_origin;		/* the answer depends on the Origin */
	int64_t start_ms;
};

/* Fill req from the FastCGI parameters (no body yet). */
void http_req_init(struct http_req *req, FCGX_Request *fcgi, const struct conf *conf);
/* Split a REQUEST_URI into req's path, query and decoded segments; touches
 * nothing else of req, and req->query points into uri afterwards.  -1 (and
 * bad_path) when the path is undecodable, too long or has too many segments. */
int http_parse_target(struct http_req *req, const char *uri);
/* A CONTENT_LENGTH parameter as a byte count: 0 when absent or empty,
 * ULLONG_MAX (over any limit) when it is not a plain decimal that fits. */
unsigned long long http_content_length(const char *cl);
void http_req_release(struct http_req *req);
/* Read the body, at most limit bytes; -1 (413 sent) when larger, -2 on a
 * read error. */
int http_read_body(struct http_req *req, size_t limit);
/* At most n bytes of the body, at least 1; -1 when it ended short, failed
 * or timed out.  Its one socket read, if any, waits at most --send-timeout
 * and never past end (sb_mono_ms()): a body dripped a byte at a time ends
 * by end. */
ssize_t http_body_read(struct http_req *req, char *buf, size_t n, int64_t end);
/* Write n bytes of the answer, none of libfcgi's writes waiting more than
 * --send-timeout for room nor past end (sb_mono_ms()); -1 when the client
 * went away or did not take them in time (the answer is then cut). */
int http_put_until(struct http_req *req, const char *buf, size_t n, int64_t end);
/* A FastCGI parameter, or "" */
const char *http_param(const struct http_req *req, const char *name);
/* Every value of the query string decodes (no %00, no bad escape) and is at
 * most 4096 bytes: checked before any handler reads one, so a value a
 * handler cannot read is never taken for an absent one. */
bool http_query_valid(const struct http_req *req);
/* The value of key in the query string, percent-decoded into buf; NULL
 * when absent or undecodable. */
const char *http_query(const struct http_req *req, const char *key, char *buf, size_t len);
/* Status line and headers of a server-sent event stream (unbuffered). */
void http_begin_sse(struct http_req *req);
/* Status line and headers of a non-JSON answer, no body yet.  With a
 * filename (a sandbox's file, which the sandbox wrote) the answer is an
 * attachment that no browser renders or runs on the API's origin. */
void http_begin_raw(struct http_req *req, int status, const char *type, unsigned long long len,
		    const char *filename);
/* The same with extra header lines (each ending in \r\n, or NULL); len
 * HTTP_LEN_UNKNOWN: no Content-Length, a body streamed to its end. */
#define HTTP_LEN_UNKNOWN (~0ULL)
void http_begin_bytes(struct http_req *req, int status, const char *type, unsigned long long len,
		      const char *filename, const char *extra);
/* 416 with Content-Range: bytes * /size, a JSON error body. */
void http_reply_416(struct http_req *req, unsigned long long size);
/* The Content-Disposition of a download of name (bytes, any): attachment,
 * an ASCII filename="..." with every byte a quoted string or a header could
 * take wrongly replaced by _, and the exact name as RFC 5987's filename*
 * (UTF-8, percent-encoded).  Cut short (whole escapes kept) to fit len. */
void http_content_disposition(char *buf, size_t len, const char *name);
/* The body as a JSON object (an empty body is an empty object); NULL after
 * a 400 was sent. */
struct json_object *http_json_body(struct http_req *req);
/* The same without a request: body[len] must be NUL and len < INT_MAX
 * (--max-body is at most 1 GiB).  NULL with err filled (status 400, or 500
 * when out of memory) when it is not a JSON object of finite numbers. */
struct json_object *json_body_parse(const char *body, size_t len, struct sb_err *err);

/* {"success":true,"data":data}; takes data's reference. */
void http_reply_data(struct http_req *req, int status, struct json_object *data);
/* A string of the answer's data written as it is encoded, never whole in
 * memory: escaped, a 32 MiB file of control characters is 192 MiB. */
struct http_blob {
	const char *key;	/* a constant: written as it is */
	const char *buf;
	size_t len;
	bool base64;		/* else text: invalid UTF-8 as U+FFFD (json_string_lossy) */
};
/* http_reply_data() with the blobs added to data, after its members. */
void http_reply_data_blobs(struct http_req *req, int status, struct json_object *data,
			   const struct http_blob *blobs, size_t n);
/* {"success":false,"error":msg} */
void http_reply_error(struct http_req *req, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void http_reply_options(struct http_req *req, const char *allow);
void http_reply_405(struct http_req *req, const char *allow);
void http_access_log(const struct http_req *req);

/* Decode %XX in place; -1 on a bad escape or a decoded NUL. */
int http_pct_decode(char *s);
/* A JSON string of possibly non-UTF-8 bytes: invalid sequences become U+FFFD. */
struct json_object *json_string_lossy(const char *s, size_t len);
/* s[0..len) is valid UTF-8 (what json_string_lossy keeps as it is) */
bool utf8_valid(const char *s, size_t len);

#endif
