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

#define SSE_HEARTBEAT_MS 15000

struct http_req;

struct sse {
	struct http_req *req;
	const char *command;
	bool started;		/* headers and "start" sent */
	bool gone;		/* a write failed: the client left */
	uint64_t bytes[3];	/* per stream: what the command wrote */
	char carry[3][4];	/* per stream: a UTF-8 sequence cut by a chunk */
	size_t ncarry[3];
};

void sse_init(struct sse *s, struct http_req *req, const char *command);
/* One "data: {json}" frame with a timestamp, flushed; takes o's reference.
 * -1 when the client is gone. */
int sse_event(struct sse *s, struct json_object *o);
/* The exec's sink (see struct sb_exec_req). */
int sse_sink(void *arg, int stream, const char *data, size_t n);
/* The one final event: error (err, a timeout, an OOM kill) or complete. */
void sse_finish(struct sse *s, const struct sb_err *err, const struct sb_exec_res *res,
		int64_t timeout_ms);

#endif
