#include "config.h"

#include "conf.h"
#include "http.h"
#include "sse.h"
#include "util.h"

#include <errno.h>
#include <fastcgi.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

void sse_init(struct sse *s, struct http_req *req, const char *command)
{
	memset(s, 0, sizeof *s);
	s->req = req;
	s->command = command;
	s->fd = req->fcgi->ipcFd;
	s->request_id = req->fcgi->requestId;
	s->send_timeout_ms = req->conf->send_timeout_ms;
}

int sse_begin(struct sse *s)
{
	http_begin_sse(s->req);
	s->started = true;
	/* the connection is empty yet, and every write on it is bounded by
	 * SO_SNDTIMEO (http_req_init); from here on libfcgi's buffer stays
	 * empty, so our records follow its in order */
	if (FCGX_FFlush(s->req->fcgi->out) < 0 || FCGX_GetError(s->req->fcgi->out))
		s->gone = true;
	return s->gone ? SSE_GONE : SSE_IDLE;
}

static int state(const struct sse *s)
{
	if (s->gone)
		return SSE_GONE;
	if (s->qlen == s->qoff)
		return SSE_IDLE;
	return s->qlen - s->qoff > SSE_QUEUE_MAX ? SSE_FULL : SSE_QUEUED;
}

int sse_flush(struct sse *s)
{
	while (!s->gone && s->qoff < s->qlen) {
		ssize_t n = send(s->fd, s->q + s->qoff, s->qlen - s->qoff, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			s->qoff += (size_t)n;
			s->stuck_ms = sb_mono_ms();
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		/* nothing taken: nginx reads no more until its client does */
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (sb_mono_ms() - s->stuck_ms >= s->send_timeout_ms)
				s->gone = true;
			break;
		}
		s->gone = true;
	}
	if (s->qoff == s->qlen)
		s->qoff = s->qlen = 0;
	return state(s);
}

/* Room for len more bytes at the queue's end; -1 when out of memory. */
static int reserve(struct sse *s, size_t len)
{
	if (s->qoff && s->qlen + len > s->qcap) {
		memmove(s->q, s->q + s->qoff, s->qlen - s->qoff);
		s->qlen -= s->qoff;
		s->qoff = 0;
	}
	if (s->qlen + len > s->qcap) {
		size_t cap = s->qcap ? s->qcap : 16384;
		char *q;
		while (cap < s->qlen + len)
			cap *= 2;
		q = realloc(s->q, cap);
		if (!q)
			return -1;
		s->q = q;
		s->qcap = cap;
	}
	return 0;
}

/* data as FCGI_STDOUT records (at most 65535 bytes each), queued. */
static int queue(struct sse *s, const char *data, size_t len)
{
	size_t nrec = (len + 65534) / 65535;

	if (s->gone)
		return SSE_GONE;
	if (reserve(s, len + nrec * FCGI_HEADER_LEN) < 0) {
		s->gone = true;	/* out of memory: the stream cannot go on */
		return SSE_GONE;
	}
	if (s->qlen == s->qoff)
		s->stuck_ms = sb_mono_ms();
	while (len) {
		size_t n = len > 65535 ? 65535 : len;
		FCGI_Header h = {
			.version = FCGI_VERSION_1, .type = FCGI_STDOUT,
			.requestIdB1 = (unsigned char)(s->request_id >> 8),
			.requestIdB0 = (unsigned char)s->request_id,
			.contentLengthB1 = (unsigned char)(n >> 8),
			.contentLengthB0 = (unsigned char)n,
		};
		memcpy(s->q + s->qlen, &h, sizeof h);
		memcpy(s->q + s->qlen + sizeof h, data, n);
		s->qlen += sizeof h + n;
		data += n;
		len -= n;
	}
	return sse_flush(s);
}

int sse_put(struct sse *s, const char *text)
{
	return queue(s, text, strlen(text));
}

int sse_wait(struct sse *s, int64_t until)
{
	int st = sse_flush(s);
	bool draining = st != SSE_IDLE;	/* then done when the queue is */

	for (;;) {
		int64_t now = sb_mono_ms(), left = until - now;
		int r;

		if (st == SSE_GONE || left <= 0 || (draining && st == SSE_IDLE))
			return st;
		/* wake for the send timeout too: sse_flush ends the stream then */
		if (st != SSE_IDLE && s->stuck_ms + s->send_timeout_ms - now < left)
			left = s->stuck_ms + s->send_timeout_ms - now;
		if (left < 1)
			left = 1;
		struct pollfd p = { .fd = s->fd, .events = POLLRDHUP | (st != SSE_IDLE ? POLLOUT : 0) };
		r = poll(&p, 1, left > 1000 ? 1000 : (int)left);
		if (r < 0 && errno != EINTR)
			s->gone = true;
		/* nginx hung up: its client left */
		if (r > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)))
			s->gone = true;
		st = sse_flush(s);
	}
}

void sse_end(struct sse *s)
{
	/* --send-timeout in all, however slowly the client reads: the
	 * stream's deadline has passed */
	int64_t until = sb_mono_ms() + s->send_timeout_ms;

	while (state(s) > SSE_IDLE && sb_mono_ms() < until)
		sse_wait(s, until);
	if (state(s) > SSE_IDLE)
		s->gone = true;
	if (s->gone && s->started)
		shutdown(s->fd, SHUT_RDWR);
	free(s->q);
	s->q = NULL;
	s->qoff = s->qlen = s->qcap = 0;
}

/* One "data: {json}" frame; takes o's reference. */
int sse_event(struct sse *s, struct json_object *o)
{
	char ts[40];
	const char *text;
	cleanup_free char *frame = NULL;
	int st;

	sb_iso8601(sb_now_ms(), ts, sizeof ts);
	json_object_object_add(o, "timestamp", json_object_new_string(ts));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (asprintf(&frame, "data: %s\n\n", text) < 0) {
		frame = NULL;
		s->gone = true;
	}
	st = frame ? sse_put(s, frame) : SSE_GONE;
	json_object_put(o);
	return st;
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

bool (*sse_revoked)(const struct http_req *req);

int sse_sink(void *arg, int stream, const char *data, size_t n)
{
	struct sse *s = arg;

	if (stream >= 0 && stream < 3)
		s->bytes[stream] += n;
	/* a reload revoked its token: as a client gone, the exec's tree goes */
	if (!s->gone && sse_revoked && sse_revoked(s->req))
		s->gone = true;
	if (s->gone)
		return SSE_GONE;
	if (stream < 0) {
		struct json_object *o = json_object_new_object();
		sse_begin(s);
		json_object_object_add(o, "type", json_object_new_string("start"));
		json_object_object_add(o, "command", json_object_new_string(s->command));
		return sse_event(s, o);
	}
	if (stream == 0)
		return sse_put(s, ": keep-alive\n\n");
	/* carry + data, minus a sequence the next chunk finishes */
	size_t total = s->ncarry[stream] + n, keep;
	cleanup_free char *buf = malloc(total ? total : 1);

	if (!buf)
		return SSE_GONE;
	memcpy(buf, s->carry[stream], s->ncarry[stream]);
	memcpy(buf + s->ncarry[stream], data, n);
	keep = cut_tail((const unsigned char *)buf, total);
	memcpy(s->carry[stream], buf + total - keep, keep);
	s->ncarry[stream] = keep;
	return total > keep ? emit_data(s, stream, buf, total - keep) : state(s);
}

int sse_drain(void *arg)
{
	return sse_flush(arg);
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
