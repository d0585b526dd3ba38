/* The handlers' shared pieces (api.h). */
#include "config.h"

#include "api.h"
#include "app.h"
#include "http.h"
#include "log.h"
#include "quota.h"

#include <stdarg.h>
#include <stdio.h>

int api_status(const struct sb_err *err)
{
	switch (err->kind) {
	case SB_E_INVALID: return 400;
	case SB_E_FORBIDDEN: return 403;
	case SB_E_NOT_FOUND: return 404;
	case SB_E_CONFLICT: return 409;
	case SB_E_TOO_LARGE: return 413;
	case SB_E_LIMIT: return 429;
	case SB_E_UPSTREAM: return 502;
	case SB_E_BUSY: return 503;
	case SB_E_TIMEOUT: return 504;
	case SB_E_NO_SPACE: return 507;
	case SB_E_INTERNAL: break;
	}
	return 500;
}

void api_log_status(const struct http_req *req, int status, const char *msg)
{
	if (status >= 500)
		log_error(req->rid, msg);
}

void api_reply_err(struct http_req *req, const struct sb_err *err)
{
	int status = api_status(err);

	api_log_status(req, status, err->msg);
	http_reply_error(req, status, "%s", err->msg);
}

void api_reply_status(struct http_req *req, int status, const char *fmt, ...)
{
	char msg[sizeof ((struct sb_err *)0)->msg];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	api_log_status(req, status, msg);
	http_reply_error(req, status, "%s", msg);
}

int api_stream_admit(struct app *app, struct http_req *req)
{
	struct sb_err err = SB_ERR_INIT;

	if (quota_stream(app->quota_slot, app->conf, &err) == 0)
		return 0;
	api_reply_err(req, &err);
	return -1;
}

struct json_object *api_iso(int64_t ms)
{
	char buf[40];

	sb_iso8601(ms, buf, sizeof buf);
	return json_object_new_string(buf);
}

int api_sandbox_open(struct app *app, struct http_req *req, const char *id, long long need,
		     const char *what, struct sandbox_ref *sb)
{
	struct sb_err err = SB_ERR_INIT;
	int ctl = app_sandbox_open(app, id, need, what, sb, &err);

	if (ctl < 0) {
		api_reply_err(req, &err);
		return -1;
	}
	app_sandbox_touch(app, sb);
	return ctl;
}
