/* Server-sent events for a streamed exec: frames of JSON as the Cloudflare
 * SDK's execStream emits them ({"type": "start"|"stdout"|"stderr"|
 * "complete"|"error", ...}), heartbeats as comments, unbuffered through
 * nginx (X-Accel-Buffering: no). */
#ifndef SBD_SSE_H
#define SBD_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "sandbox.h"

/* Past this many bytes waiting for the client, a stream stops making more
 * (an exec's pipes are not read, a follow reads no log) until it takes some. */
#define SSE_QUEUE_MAX (256 * 1024)

struct http_req;

/* Where the client stands (sse_flush, sse_wait): */
enum {
	SSE_GONE = -1,			/* it left, or took nothing for --send-timeout */
	SSE_IDLE = SB_SINK_IDLE,	/* it has everything */
	SSE_QUEUED = SB_SINK_QUEUED,	/* bytes wait for it: poll the socket for POLLOUT */
	SSE_FULL = SB_SINK_FULL,	/* over SSE_QUEUE_MAX: make no more */
};

/* The body goes out as FastCGI records of our own, written without ever
 * blocking (libfcgi's writes block until nginx takes them, and nginx with
 * X-Accel-Buffering: no takes them only as fast as the client reads): a
 * client that stops reading never stops a worker from watching a deadline. */
struct sse {
	struct http_req *req;
	const char *command;
	bool started;		/* headers and "start" sent */
	bool gone;		/* the client left, or took nothing for too long */
	int fd;			/* the FastCGI connection */
	int request_id;
	char *q;		/* records the client has not taken: q[qoff..qlen) */
	size_t qoff, qlen, qcap;
	int64_t stuck_ms;	/* since when the queue has not moved */
	int64_t send_timeout_ms;
	uint64_t bytes[3];	/* per stream: what the command wrote */
	char carry[3][4];	/* per stream: a UTF-8 sequence cut by a chunk */
	size_t ncarry[3];
};

void sse_init(struct sse *s, struct http_req *req, const char *command);
/* Status line and headers (through libfcgi, which is then left empty);
 * -1 when the client is gone. */
int sse_begin(struct sse *s);
/* Text as it is ("id: ...\n", ": keep-alive\n\n"), queued and sent as far
 * as the client takes it: an SSE_* state. */
int sse_put(struct sse *s, const char *text);
/* One "data: {json}" frame with a timestamp; takes o's reference.  An SSE_*
 * state (SSE_GONE < 0). */
int sse_event(struct sse *s, struct json_object *o);
/* Send what the client takes now: an SSE_* state. */
int sse_flush(struct sse *s);
/* Wait until the client has taken everything, leaves, took nothing for
 * --send-timeout, or until (monotonic ms): an SSE_* state. */
int sse_wait(struct sse *s, int64_t until);
/* The stream is over: what is queued gets --send-timeout to reach the
 * client, else the connection is cut (so the records libfcgi ends the
 * request with cannot block either).  Frees the queue. */
void sse_end(struct sse *s);
/* Set by a pool worker: whether the request's token was revoked by a reload
 * (worker.c); a streamed exec's sink then says its client is gone, a log
 * follow ends with an "end" event.  NULL: never. */
extern bool (*sse_revoked)(const struct http_req *req);

/* The exec's sink and drain (see struct sb_exec_req). */
int sse_sink(void *arg, int stream, const char *data, size_t n);
int sse_drain(void *arg);
/* The one final event: error (err, a timeout, an OOM kill) or complete. */
void sse_finish(struct sse *s, const struct sb_err *err, const struct sb_exec_res *res,
		int64_t timeout_ms);

#endif
