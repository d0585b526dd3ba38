/* A stream's own FastCGI records (fcgi-app/sse.c) on a socketpair: the
 * framing, a client that falls behind (SSE_FULL, never a blocking write),
 * one that takes nothing for send-timeout (gone), one that leaves. */
#include "config.h"

#include "conf.h"
#include "http.h"
#include "sse.h"
#include "tap.h"

#include <fastcgi.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct rig {
	FCGX_Request fr;
	struct conf conf;
	struct http_req req;
	struct sse sse;
	int peer;		/* nginx's end */
};

static void rig_up(struct rig *r, int64_t send_timeout_ms)
{
	int sv[2];

	memset(r, 0, sizeof *r);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	r->fr.ipcFd = sv[0];
	r->fr.requestId = 0x1234;
	r->conf.send_timeout_ms = send_timeout_ms;
	r->conf.heartbeat_ms = 1000;
	r->req.fcgi = &r->fr;
	r->req.conf = &r->conf;
	r->peer = sv[1];
	sse_init(&r->sse, &r->req, "cmd");
}

static void rig_down(struct rig *r)
{
	sse_end(&r->sse);
	close(r->fr.ipcFd);
	if (r->peer >= 0)
		close(r->peer);
}

/* Read one record from fd: its content into buf (cap >= 65535); the
 * content length, or -1 when the header is not a STDOUT record of ours. */
static int read_record(int fd, char *buf)
{
	FCGI_Header h;
	size_t len, got = 0;

	if (read(fd, &h, sizeof h) != (ssize_t)sizeof h || h.version != FCGI_VERSION_1 ||
	    h.type != FCGI_STDOUT || h.requestIdB1 != 0x12 || h.requestIdB0 != 0x34 || h.paddingLength)
		return -1;
	len = (size_t)h.contentLengthB1 << 8 | h.contentLengthB0;
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return (int)len;
}

static void framing(void)
{
	struct rig r;
	char buf[65536];
	int n;

	rig_up(&r, 1000);
	ok(sse_put(&r.sse, "hello") == SSE_IDLE, "a small write goes at once (SSE_IDLE)");
	n = read_record(r.peer, buf);
	ok(n == 5 && !memcmp(buf, "hello", 5), "as one FCGI_STDOUT record of the request's id (%d)", n);
	rig_down(&r);
}

/* 200000 bytes: records of at most 65535, in order, whole, while the
 * reader takes them; the writer never blocks meanwhile */
static void big(void)
{
	struct rig r;
	char *text = malloc(200001), buf[65536];
	size_t total = 0;
	bool order = true, sizes = true;
	int st;

	rig_up(&r, 1000);
	for (int i = 0; i < 200000; i++)
		text[i] = (char)('a' + i % 26);
	text[200000] = '\0';
	st = sse_put(&r.sse, text);
	ok(st == SSE_IDLE || st == SSE_QUEUED, "200000 bytes are taken without blocking (%d)", st);
	while (total < 200000) {
		int n = read_record(r.peer, buf);
		if (n <= 0) {
			sizes = false;
			break;
		}
		if (memcmp(buf, text + total, (size_t)n))
			order = false;
		total += (size_t)n;
		sse_flush(&r.sse);
	}
	ok(sizes && total == 200000, "they arrive whole, in records the protocol allows (%zu)", total);
	ok(order, "and in order");
	ok(sse_flush(&r.sse) == SSE_IDLE, "then nothing waits");
	free(text);
	rig_down(&r);
}

/* nobody reads: FULL past SSE_QUEUE_MAX, then gone after send-timeout */
static void stalled(void)
{
	struct rig r;
	char *chunk = malloc(65537);
	int st = SSE_IDLE, puts = 0;

	rig_up(&r, 200);
	memset(chunk, 'x', 65536);
	chunk[65536] = '\0';
	while (st != SSE_FULL && puts < 100) {
		st = sse_put(&r.sse, chunk);
		puts++;
	}
	ok(st == SSE_FULL, "a reader that takes nothing: the stream says FULL after %d puts of 64 KiB", puts);
	ok(sse_flush(&r.sse) == SSE_FULL, "and stays FULL before the send timeout");
	st = sse_wait(&r.sse, sb_mono_ms() + 60000);
	ok(st == SSE_GONE, "a wait returns once send-timeout (200 ms) passed without progress: gone");
	ok(r.sse.gone, "for good");
	free(chunk);
	rig_down(&r);
}

/* the send timeout counts from the last byte the reader took: the clock
 * is set back by hand, no test of how long anything takes */
static void slow(void)
{
	struct rig r;
	char *chunk = malloc(65537), buf[65536];
	int st = SSE_IDLE;

	rig_up(&r, 1000);
	memset(chunk, 'y', 65536);
	chunk[65536] = '\0';
	for (int i = 0; i < 8; i++)
		st = sse_put(&r.sse, chunk);
	ok(st > SSE_IDLE, "8 puts of 64 KiB wait for a reader (%d)", st);
	r.sse.stuck_ms = sb_mono_ms() - 999;
	ok(read_record(r.peer, buf) > 0 && (st = sse_flush(&r.sse)) != SSE_GONE,
	   "a reader that takes a record in time is not gone (%d)", st);
	ok(sb_mono_ms() - r.sse.stuck_ms < 999, "and its clock starts again");
	r.sse.stuck_ms = sb_mono_ms() - 1000;
	ok(sse_flush(&r.sse) == SSE_GONE, "one that took nothing for send-timeout is gone");
	free(chunk);
	rig_down(&r);
}

static void left(void)
{
	struct rig r;

	rig_up(&r, 60000);
	close(r.peer);
	r.peer = -1;
	ok(sse_wait(&r.sse, sb_mono_ms() + 60000) == SSE_GONE, "nginx hangs up: a wait on an idle stream says gone");
	ok(sse_put(&r.sse, "x") == SSE_GONE, "and so does the next write");
	rig_down(&r);
}

int main(void)
{
	framing();
	big();
	stalled();
	slow();
	left();
	return done_testing();
}
