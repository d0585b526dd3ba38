/* One HTTP request as FastCGI hands it to us, and the JSON replies. */
#ifndef SBD_HTTP_H
#define SBD_HTTP_H

#include <fcgiapp.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_SEGS 8

struct conf;

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
	int64_t start_ms;
};

/* Fill req from the FastCGI parameters (no body yet). */
void http_req_init(struct http_req *req, FCGX_Request *fcgi, const struct conf *conf);
void http_req_release(struct http_req *req);
/* Read the body, at most conf->max_body bytes; -1 (413 sent) when larger,
 * -2 on a read error. */
int http_read_body(struct http_req *req);
/* The body as a JSON object (an empty body is an empty object); NULL after
 * a 400 was sent. */
struct json_object *http_json_body(struct http_req *req);

/* {"success":true,"data":data}; takes data's reference. */
void http_reply_data(struct http_req *req, int status, struct json_object *data);
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

#endif
