#include "config.h"

#include "http.h"
#include "sse.h"

#include <stdio.h>
#include <string.h>

void sse_init(struct sse *s, struct http_req *req, const char *command)
{
	memset(s, 0, sizeof *s);
	s->req = req;
	s->command = command;
}

static int flush(struct sse *s)
{
	if (s->gone || FCGX_FFlush(s->req->fcgi->out) < 0 || FCGX_GetError(s->req->fcgi->out)) {
		s->gone = true;
		return -1;
	}
	return 0;
}

/* One "data: {json}" frame; takes o's reference. */
int sse_event(struct sse *s, struct json_object *o)
{
	char ts[40];
	const char *text;

	sb_iso8601(sb_now_ms(), ts, sizeof ts);
	json_object_object_add(o, "timestamp", json_object_new_string(ts));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	FCGX_PutS("data: ", s->req->fcgi->out);
	FCGX_PutS(text, s->req->fcgi->out);
	FCGX_PutS("\n\n", s->req->fcgi->out);
	json_object_put(o);
	return flush(s);
}

/* How many bytes at the end of buf (n bytes) start a UTF-8 sequence that
 * the next chunk may complete. */
static size_t cut_tail(const unsigned char *buf, size_t n)
{
	for (size_t back = 1; back <= 3 && back <= n; back++) {
		unsigned char c = buf[n - back];
		if ((c & 0xC0) == 0x80)
			continue;	/* a continuation byte: look further back */
		size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
		return need > back ? back : 0;
	}
	return 0;
}

static int emit_data(struct sse *s, int stream, const char *data, size_t n)
{
	struct json_object *o = json_object_new_object(), *str;

	json_object_object_add(o, "type", json_object_new_string(stream == 1 ? "stdout" : "stderr"));
	str = json_string_lossy(data, n);
	if ((size_t)json_object_get_string_len(str) == n && !memcmp(json_object_get_string(str), data, n)) {
		json_object_object_add(o, "data", str);
	} else {
		/* not text: the bytes as they are, in base64, never mangled */
		cleanup_free char *b = malloc(4 * ((n + 2) / 3) + 1);

		json_object_put(str);
		if (b)
			sb_base64_encode(data, n, b);
		json_object_object_add(o, "data", json_object_new_string(b ? b : ""));
		json_object_object_add(o, "encoding", json_object_new_string("base64"));
	}
	return sse_event(s, o);
}

int sse_sink(void *arg, int stream, const char *data, size_t n)
{
	struct sse *s = arg;

	if (stream >= 0 && stream < 3)
		s->bytes[stream] += n;
	if (s->gone)
		return -1;
	if (stream < 0) {
		struct json_object *o = json_object_new_object();
		http_begin_sse(s->req);
		s->started = true;
		json_object_object_add(o, "type", json_object_new_string("start"));
		json_object_object_add(o, "command", json_object_new_string(s->command));
		return sse_event(s, o);
	}
	if (stream == 0) {
		FCGX_PutS(": keep-alive\n\n", s->req->fcgi->out);
		return flush(s);
	}
	/* carry + data, minus a sequence the next chunk finishes */
	size_t total = s->ncarry[stream] + n, keep;
	cleanup_free char *buf = malloc(total ? total : 1);

	if (!buf)
		return -1;
	memcpy(buf, s->carry[stream], s->ncarry[stream]);
	memcpy(buf + s->ncarry[stream], data, n);
	keep = cut_tail((const unsigned char *)buf, total);
	memcpy(s->carry[stream], buf + total - keep, keep);
	s->ncarry[stream] = keep;
	return total > keep ? emit_data(s, stream, buf, total - keep) : 0;
}

void sse_finish(struct sse *s, const struct sb_err *err, const struct sb_exec_res *res,
		int64_t timeout_ms)
{
	struct json_object *o = json_object_new_object();
	char msg[600];

	for (int i = 1; i <= 2; i++)
		if (s->ncarry[i])
			emit_data(s, i, s->carry[i], s->ncarry[i]);
	if (err || res->timed_out || res->oom_killed || res->client_gone) {
		if (err)
			snprintf(msg, sizeof msg, "%s", err->msg);
		else if (res->timed_out)
			snprintf(msg, sizeof msg, "command timed out after %lld ms", (long long)timeout_ms);
		else if (res->oom_killed)
			snprintf(msg, sizeof msg, "killed: out of memory (the sandbox's memory limit)");
		else
			snprintf(msg, sizeof msg, "the client went away");
		json_object_object_add(o, "type", json_object_new_string("error"));
		json_object_object_add(o, "error", json_object_new_string(msg));
		if (!err)
			json_object_object_add(o, "exitCode", json_object_new_int(res->exit_code));
	} else {
		json_object_object_add(o, "type", json_object_new_string("complete"));
		json_object_object_add(o, "exitCode", json_object_new_int(res->exit_code));
	}
	if (!err) {
		json_object_object_add(o, "durationMs", json_object_new_int64(res->duration_ms));
		json_object_object_add(o, "cpuTimeMs", json_object_new_int64(res->cpu_us / 1000));
		json_object_object_add(o, "peakMemoryKb", json_object_new_int64(res->maxrss_kb));
	}
	sse_event(s, o);
}
