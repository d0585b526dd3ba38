/* Request routing: path shape, method, projectId, then the handler. */
#ifndef SBD_ROUTER_H
#define SBD_ROUTER_H

#include "auth.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct app;
struct http_req;

typedef void (*router_handler_fn)(struct app *app, struct http_req *req, const char *id);

/* The largest file a JSON read returns or a JSON write takes (as the
 * Cloudflare SDK: larger is 413), and the body of such a write: the file
 * in base64, and room for the rest of the JSON. */
#define JSON_FILE_MAX (32ULL << 20)
#define JSON_FILE_BODY_MAX ((size_t)JSON_FILE_MAX / 3 * 4 + 65536)

/* What the worker does with a request's body before the handler runs. */
enum route_body {
	BODY_NONE,	/* nothing in it is used: read (bounded as JSON) and dropped */
	BODY_JSON,	/* read whole, for http_json_body() */
	BODY_RAW,	/* Content-Type application/octet-stream: left unread, the
			 * handler streams it; any other type: JSON */
};

/* One method of a route: its handler and its body. */
struct route_op {
	router_handler_fn fn;		/* NULL: the route does not take the method */
	enum route_body body;
	size_t body_max;		/* a JSON body's limit when over --max-body */
};

/* A route is a path pattern: literal segments, {name} for one segment, and
 * a final {path} for one or more; a pattern under /sandboxes/{projectId}
 * has segs[1] as the projectId.  Its row is all the router knows of it:
 * who may call it, and per method the handler and the body.  The methods
 * with a handler are its Allow header and its --routes lines. */
struct route {
	const char *pattern;
	enum auth_need auth;
	struct route_op get, post, put, del;	/* HEAD is GET */
};

/* The route table, for the tests: router_count() rows. */
const struct route *router_row(int index);
/* "GET, POST, OPTIONS": the methods of row index that have a handler, in
 * that order, OPTIONS last (always taken). */
const char *router_allow(int index);

enum route_result {
	ROUTE_OK,		/* *fn takes it, with segs[1] as the projectId */
	ROUTE_BAD_PATH,		/* 400 */
	ROUTE_NO_ROUTE,		/* 404 */
	ROUTE_OPTIONS,		/* 204, a preflight */
	ROUTE_BAD_METHOD,	/* 405 */
	ROUTE_BAD_ID,		/* 400 */
};

/* [A-Za-z0-9][A-Za-z0-9_-]{0,62} */
bool project_id_valid(const char *id);
/* Where a parsed request goes, without answering it: path shape, then
 * method, then projectId, in that order.  *allow is the matched route's
 * methods (NULL when no route matched), *fn the handler for ROUTE_OK. */
enum route_result router_route(const struct http_req *req, router_handler_fn *fn,
			       const char **allow);
/* The matched route's place in the table (-1: none), its pattern such as
 * "/sandboxes/{projectId}/exec", and how many routes there are. */
int router_index(const struct http_req *req);
const char *router_pattern(int index);
int router_count(void);
/* "METHOD /pattern" per line, every route the router answers (--routes) */
void router_print(FILE *f);
/* router_route(), the token, the query string: the handler to call (with
 * segs[1] as the projectId) once the body is read, or NULL when the
 * answer was given here (an error, a preflight). */
router_handler_fn router_admit(struct app *app, struct http_req *req);
/* The body router_admit()'s route takes, read as its row says: 0 when the
 * handler may run (the body in req->body, or left for it to stream), -1 or
 * -2 when http_read_body() answered instead. */
int router_read_body(struct http_req *req);

/* handlers (api_sandbox.c) */
void api_sandbox_create(struct app *app, struct http_req *req, const char *id);
void api_sandbox_status(struct app *app, struct http_req *req, const char *id);
void api_sandbox_delete(struct app *app, struct http_req *req, const char *id);
void api_exec(struct app *app, struct http_req *req, const char *id);
/* handlers (api_files.c) */
void api_file_read(struct app *app, struct http_req *req, const char *id);
void api_file_write(struct app *app, struct http_req *req, const char *id);
void api_file_delete(struct app *app, struct http_req *req, const char *id);
void api_ls(struct app *app, struct http_req *req, const char *id);
void api_mkdir(struct app *app, struct http_req *req, const char *id);
void api_rename(struct app *app, struct http_req *req, const char *id);
void api_archive_get(struct app *app, struct http_req *req, const char *id);
void api_archive_put(struct app *app, struct http_req *req, const char *id);
/* handlers (api_procs.c) */
void api_proc_start(struct app *app, struct http_req *req, const char *id);
void api_proc_list(struct app *app, struct http_req *req, const char *id);
void api_proc_get(struct app *app, struct http_req *req, const char *id);
void api_proc_kill(struct app *app, struct http_req *req, const char *id);
/* handlers (api_snapshot.c) */
void api_snapshot_create(struct app *app, struct http_req *req, const char *id);
void api_snapshot_list(struct app *app, struct http_req *req, const char *id);
void api_snapshot_delete(struct app *app, struct http_req *req, const char *id);
void api_snapshot_restore(struct app *app, struct http_req *req, const char *id);
/* handler (api_clone.c) */
void api_clone(struct app *app, struct http_req *req, const char *id);
/* handlers (api_network.c) */
void api_network_get(struct app *app, struct http_req *req, const char *id);
void api_network_put(struct app *app, struct http_req *req, const char *id);
/* handlers (api_ports.c): exposed ports */
void api_ports_expose(struct app *app, struct http_req *req, const char *id);
void api_ports_list(struct app *app, struct http_req *req, const char *id);
void api_ports_revoke(struct app *app, struct http_req *req, const char *id);
/* handler (images.c): GET /images, id is NULL */
void api_images_list(struct app *app, struct http_req *req, const char *id);
/* handlers (ops.c): GET /healthz, GET /metrics; GET .../history (history.c) */
void api_healthz(struct app *app, struct http_req *req, const char *id);
void api_metrics(struct app *app, struct http_req *req, const char *id);
void api_history(struct app *app, struct http_req *req, const char *id);

/* A route whose body is BODY_RAW, with Content-Type application/octet-stream
 * (PUT .../files/<path>): the body is streamed into the sandbox by the
 * handler, never read whole. */
bool router_is_raw_upload(const struct http_req *req);

#endif
