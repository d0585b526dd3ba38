/* What every handler shares: the one error reply (the only place a
 * library error kind becomes an HTTP status, and the one logging rule),
 * timestamps as the API writes them, and opening a sandbox for a request. */
#ifndef SBD_API_H
#define SBD_API_H

#include <json-c/json.h>
#include <stdint.h>

struct app;
struct http_req;
struct sandbox_ref;
struct sb_err;

/* A sandbox path in a buffer: the API's limit is PATH_MAX - 1 (4095)
 * bytes, with room for the "/workspace/" a relative path is put under. */
#define API_PATH_BUF 4200

/* As cleanup_close and cleanup_free (container/util.h): a JSON object put,
 * a sandbox reference released (sandbox_ref_release(), app.h) at scope
 * end.  A reference must start as { .dirfd = -1 }. */
static inline void api_json_putp(struct json_object **o) { json_object_put(*o); }
#define cleanup_json __attribute__((cleanup(api_json_putp)))
#define cleanup_sandbox_ref __attribute__((cleanup(sandbox_ref_release)))

/* The HTTP status of an error kind (container/util.h). */
int api_status(const struct sb_err *err);
/* Log an error behind a 5xx with the request id: every 5xx is logged,
 * whether it goes out as a reply or as a stream's error event. */
void api_log_status(const struct http_req *req, int status, const char *msg);
/* Answer err: its status, its message; logged when a 5xx. */
void api_reply_err(struct http_req *req, const struct sb_err *err);
/* An answer the handler words itself: logged when a 5xx, as above. */
void api_reply_status(struct http_req *req, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A request about to stream (events for minutes): within its tenant's
 * max-streams-per-token and its sandbox's max-streams-per-sandbox?  -1
 * with the 429 answered when not. */
int api_stream_admit(struct app *app, struct http_req *req);

/* "2025-01-02T03:04:05.678Z" */
struct json_object *api_iso(int64_t ms);

/* The sandbox id (created and started as needed), admitted against the
 * host's reserve for a write of need bytes (< 0: a read, not admitted),
 * connected to its init and marked active.  Returns the control socket, or
 * -1 with the error answered. */
int api_sandbox_open(struct app *app, struct http_req *req, const char *id, long long need,
		     const char *what, struct sandbox_ref *sb);

#endif
