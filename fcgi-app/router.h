/* Request routing: path shape, method, projectId, then the handler. */
#ifndef SBD_ROUTER_H
#define SBD_ROUTER_H

#include <stdbool.h>

struct app;
struct http_req;

/* [A-Za-z0-9][A-Za-z0-9_-]{0,62} */
bool project_id_valid(const char *id);
void router_dispatch(struct app *app, struct http_req *req);

/* handlers (api_sandbox.c) */
void api_sandbox_create(struct app *app, struct http_req *req, const char *id);
void api_sandbox_status(struct app *app, struct http_req *req, const char *id);
void api_sandbox_delete(struct app *app, struct http_req *req, const char *id);
void api_exec(struct app *app, struct http_req *req, const char *id);

#endif
