/* Files: read, write, delete, list, mkdir, rename.  Every operation is done
 * by a child of the sandbox's init, inside the sandbox (container/fileops.c);
 * here the HTTP side: paths, encodings, streaming through a pipe. */
#include "config.h"

#include "api.h"
#include "app.h"
#include "fileops.h"
#include "http.h"
#include "log.h"
#include "router.h"
#include "sandbox.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define FILE_TIMEOUT_MS 30000
/* the data pipe: no progress for this long and the operation is abandoned
 * (closing ctl kills the child).  A child the sandbox stops is not waited
 * for: its init kills it at once (init.c kill_stopped()), the pipe ends and
 * the answer is a 409; this bounds a child that is live but makes none */
#define DATA_IDLE_MS 30000
#define LIST_MAX_ENTRIES 10000

/* A sandbox path: absolute, or relative to /workspace; no NUL (JSON may
 * carry one), at most 4095 bytes.  NULL (400 sent) otherwise. */
static const char *sandbox_path(struct http_req *req, const char *in, size_t inlen, char *buf,
				size_t len)
{
	if (!in || strlen(in) != inlen || !*in) {
		http_reply_error(req, 400, "path must be a non-empty string without NUL characters");
		return NULL;
	}
	if ((size_t)snprintf(buf, len, "%s%s", *in == '/' ? "" : "/workspace/", in) >= len ||
	    strlen(buf) > 4095) {
		http_reply_error(req, 400, "path is too long");
		return NULL;
	}
	return buf;
}

/* /sandboxes/:id/files/<path>: the segments after "files", rejoined. */
static const char *url_path(struct http_req *req, char *buf, size_t len)
{
	size_t off = 0;

	for (int i = 3; i < req->nsegs; i++) {
		int n = snprintf(buf + off, len - off, "/%s", req->segs[i]);
		if (n < 0 || (size_t)n >= len - off) {
			http_reply_error(req, 400, "path is too long");
			return NULL;
		}
		off += (size_t)n;
	}
	if (!off) {
		http_reply_error(req, 400, "a file path is required after /files/");
		return NULL;
	}
	return buf;
}

/* err of an operation of the sandbox's init: destroyed under it (its init
 * killed mid-way) is a 404, stopped under it (a restore, a stop) a 409 to
 * retry, as an exec's; never "the sandbox's init went away" as a 500. */
static void reply_op_err(struct app *app, struct http_req *req, const struct sandbox_ref *sb,
			 struct sb_err *err)
{
	app_sandbox_destroyed(app, sb, err);
	app_sandbox_gone(sb, err);
	api_reply_err(req, err);
}

/* The wait of a read or write of the data pipe: DATA_IDLE_MS without a
 * byte, and never past end (sb_mono_ms()); 0 when end has passed (a last
 * try that does not wait: what is in the pipe by then still counts). */
static int data_wait(int64_t end)
{
	int64_t left = end - sb_mono_ms();

	return left <= 0 ? 0 : left < DATA_IDLE_MS ? (int)left : DATA_IDLE_MS;
}

/* Read at most cap bytes from fd (until EOF) into a new buffer, by end at
 * the latest: *late when the child had not finished by then, or sent
 * nothing for DATA_IDLE_MS (a child its sandbox starves still sends a
 * chunk now and then: the idle bound alone held the worker for hours). */
static char *slurp(int fd, size_t cap, int64_t end, size_t *len, bool *over, bool *late)
{
	size_t n = 0, size = 65536;
	char *buf = malloc(size + 1);

	*over = *late = false;
	while (buf) {
		ssize_t r;
		int wait = data_wait(end);
		if (n == size) {
			if (size >= cap) {
				char c;
				r = sb_read_wait(fd, &c, 1, wait);
				*over = r > 0;
				*late = r < 0 && errno == ETIMEDOUT;
				break;
			}
			size = size * 2 > cap ? cap : size * 2;
			char *nb = realloc(buf, size + 1);
			if (!nb) {
				free(buf);
				return NULL;
			}
			buf = nb;
		}
		r = sb_read_wait(fd, buf + n, size - n, wait);
		if (r < 0 && errno == ETIMEDOUT)
			*late = true;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	if (buf)
		buf[n] = '\0';
	*len = n;
	return buf;
}

/* The wait for the child's exit after its data: what is left of end, at
 * least a second (the data is all there: the exit follows at once). */
static int end_wait(int64_t end)
{
	int64_t left = end - sb_mono_ms();

	return left < 1000 ? 1000 : left > FILE_TIMEOUT_MS ? FILE_TIMEOUT_MS : (int)left;
}

/* The answer to a read or listing the sandbox did not send in time. */
static void reply_late(struct http_req *req, const char *what)
{
	struct sb_err err = SB_ERR_INIT;

	sb_fail(&err, SB_E_TIMEOUT, ETIMEDOUT, "the sandbox did not send the %s within %d s",
		what, FILE_TIMEOUT_MS / 1000);
	api_reply_err(req, &err);
}

static const char *mime_of(const char *path, bool binary)
{
	static const struct { const char *ext, *type; } types[] = {
		{ ".txt", "text/plain" }, { ".md", "text/markdown" }, { ".html", "text/html" },
		{ ".htm", "text/html" }, { ".css", "text/css" }, { ".js", "text/javascript" },
		{ ".mjs", "text/javascript" }, { ".ts", "text/typescript" }, { ".json", "application/json" },
		{ ".xml", "application/xml" }, { ".csv", "text/csv" }, { ".py", "text/x-python" },
		{ ".c", "text/x-c" }, { ".h", "text/x-c" }, { ".sh", "text/x-shellscript" },
		{ ".yaml", "application/yaml" }, { ".yml", "application/yaml" }, { ".svg", "image/svg+xml" },
		{ ".png", "image/png" }, { ".jpg", "image/jpeg" }, { ".jpeg", "image/jpeg" },
		{ ".gif", "image/gif" }, { ".webp", "image/webp" }, { ".pdf", "application/pdf" },
		{ ".zip", "application/zip" }, { ".gz", "application/gzip" }, { ".tar", "application/x-tar" },
		{ ".wasm", "application/wasm" },
	};
	const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');

	if (dot && (!slash || dot > slash))
		for (size_t i = 0; i < sizeof types / sizeof *types; i++)
			if (strcasecmp(dot, types[i].ext) == 0)
				return types[i].type;
	return binary ? "application/octet-stream" : "text/plain";
}

/* checked in place: a copy of 32 MiB is a worker's memory too */
static bool utf8_text(const char *s, size_t len)
{
	return !memchr(s, '\0', len) && utf8_valid(s, len);
}

static bool wants_raw(struct http_req *req)
{
	char v[16];
	const char *q = http_query(req, "raw", v, sizeof v);

	return (q && strcmp(q, "0") != 0) || strstr(http_param(req, "HTTP_ACCEPT"), "application/octet-stream");
}

/* Copy n bytes to the client by end; -1 with req->cut said otherwise. */
static int put_until(struct http_req *req, const char *buf, size_t n, int64_t end)
{
	if (http_put_until(req, buf, n, end) == 0)
		return 0;
	req->cut = sb_mono_ms() >= end ? "max-timeout" : "client";
	return -1;
}

/* Stream exactly size bytes from the pipe to the client. */
static int stream_out(struct http_req *req, int fd, uint64_t size)
{
	char buf[65536];
	/* a reader slow but steady ends too: --max-timeout in all, as an
	 * archive's stream_all(); every write is bounded by it, not only
	 * checked between them (a reader of 4 KiB a second held a worker
	 * and every reload past it) */
	int64_t end = sb_mono_ms() + req->conf->max_timeout_ms;

	while (size > 0) {
		int64_t left = end - sb_mono_ms();
		ssize_t n;

		if (left <= 0) {
			req->cut = "max-timeout";
			return -1;
		}
		n = sb_read_wait(fd, buf, size < sizeof buf ? size : sizeof buf,
				 left < DATA_IDLE_MS ? (int)left : DATA_IDLE_MS);
		if (n <= 0) {
			req->cut = sb_mono_ms() >= end ? "max-timeout" : "sandbox";
			return -1;
		}
		if (put_until(req, buf, (size_t)n, end) < 0)
			return -1;
		size -= (uint64_t)n;
	}
	return 0;
}

/* Range: bytes=a-b, a- or -n (*suffix, n in *first).  Anything else
 * (several ranges, another unit, a malformed or reversed one) is ignored,
 * as RFC 9110 allows: the answer is then the whole file. */
static bool parse_range(const char *h, uint64_t *first, uint64_t *last, bool *suffix)
{
	const char *p = h + 6;
	char *end;

	if (strncmp(h, "bytes=", 6))
		return false;
	while (*p == ' ' || *p == '\t')
		p++;
	*suffix = *p == '-';
	*last = UINT64_MAX;
	if (*suffix)
		p++;
	if (!isdigit((unsigned char)*p))
		return false;
	errno = 0;
	*first = strtoull(p, &end, 10);
	if (!*suffix) {
		if (errno || *end != '-')
			return false;
		p = end + 1;
		end = (char *)p;
		if (isdigit((unsigned char)*p)) {
			*last = strtoull(p, &end, 10);
			if (*last < *first)
				return false;
		}
	}
	if (errno)
		return false;
	while (*end == ' ' || *end == '\t')
		end++;
	return !*end;
}

/* The raw answer of a HEAD, a ranged or a whole read, its bytes streamed
 * from the pipe.  rq: what was asked of the child (its offset, max_bytes). */
static void send_bytes(struct http_req *req, int ctl, int data, const char *path,
		       const struct sb_file_req *rq, const struct sb_file_info *info, bool head)
{
	const char *base = strrchr(path, '/');
	uint64_t size = info->size, start = 0, len = size;
	char extra[160] = "Accept-Ranges: bytes\r\n";
	int status = 200;

	base = base ? base + 1 : path;
	if (head) {
		len = 0;
	} else if (rq->flags & SB_FILE_RANGE) {
		bool suffix = rq->flags & SB_FILE_SUFFIX;
		if (suffix ? rq->offset == 0 || size == 0 : rq->offset >= size) {
			sandbox_file_end(ctl, FILE_TIMEOUT_MS, NULL);
			http_reply_416(req, size);
			return;
		}
		start = suffix ? size - (rq->offset < size ? rq->offset : size) : rq->offset;
		len = size - start < rq->max_bytes ? size - start : rq->max_bytes;
		snprintf(extra, sizeof extra, "Accept-Ranges: bytes\r\nContent-Range: bytes %llu-%llu/%llu\r\n",
			 (unsigned long long)start, (unsigned long long)(start + len - 1),
			 (unsigned long long)size);
		status = 206;
	}
	/* streamed, never whole in memory; the size is known up front */
	http_begin_bytes(req, status, mime_of(path, true), head ? size : len, base, extra);
	if (stream_out(req, data, len) < 0) {
		/* cut short: the client sees it.  No end asked of the child:
		 * it is blocked on the pipe we no longer read, and would
		 * answer only after FILE_TIMEOUT_MS; closing ctl ends it */
		FCGX_SetExitStatus(1, req->fcgi->out);
		return;
	}
	sandbox_file_end(ctl, FILE_TIMEOUT_MS, NULL);
}

void api_file_read(struct app *app, struct http_req *req, const char *id)
{
	struct sb_err err = SB_ERR_INIT;
	cleanup_sandbox_ref struct sandbox_ref sb = { .dirfd = -1 };
	struct sb_file_req rq = { .op = SB_FILE_READ };
	struct sb_file_info info;
	char path[API_PATH_BUF], enc[16];
	bool raw = wants_raw(req), b64, over;
	const char *e = http_query(req, "encoding", enc, sizeof enc);
	cleanup_close int ctl = -1, data = -1;

	/* HEAD and a Range are about bytes: both answer as the raw form */
	bool head = !strcmp(req->method, "HEAD"), suffix;
	uint64_t first, last;

	if (!url_path(req, path, sizeof path))
		return;
	if (e && strcmp(e, "base64") && strcmp(e, "utf-8") && strcmp(e, "utf8")) {
		http_reply_error(req, 400, "encoding must be utf-8 or base64");
		return;
	}
	rq.max_bytes = raw ? req->conf->max_file_bytes : JSON_FILE_MAX;
	if (head) {
		raw = true;
		rq.flags |= SB_FILE_RANGE;	/* the size, no bytes */
		rq.max_bytes = 0;
	} else if (parse_range(http_param(req, "HTTP_RANGE"), &first, &last, &suffix)) {
		raw = true;
		rq.flags |= SB_FILE_RANGE | (suffix ? SB_FILE_SUFFIX : 0);
		rq.offset = first;
		rq.max_bytes = suffix ? first : last == UINT64_MAX ? UINT64_MAX : last - first + 1;
		/* a range over the cap is cut there: Content-Range says so */
		if (rq.max_bytes > req->conf->max_file_bytes)
			rq.max_bytes = req->conf->max_file_bytes;
	}
	/* bytes go as fast as the client takes them: out of the pool
	 * (pool_long_request()), counted as a stream; HEAD sends none */
	if (raw && !head && api_stream_admit(app, req) < 0)
		return;
	ctl = api_sandbox_open(app, req, id, -1, NULL, &sb);
	if (ctl < 0)
		return;
	int64_t end = sb_mono_ms() + FILE_TIMEOUT_MS;	/* a JSON read's, in all */
	if (sandbox_file_request(ctl, &rq, path, NULL, &data, &err) < 0 ||
	    sandbox_file_reply(ctl, &info, FILE_TIMEOUT_MS, &err) < 0) {
		reply_op_err(app, req, &sb, &err);
		return;
	}
	if (raw) {
		send_bytes(req, ctl, data, path, &rq, &info, head);
		return;
	}
	size_t len;
	bool late;
	char *buf = slurp(data, info.size < JSON_FILE_MAX ? info.size : JSON_FILE_MAX, end, &len, &over,
			  &late);
	if (buf && late) {
		free(buf);
		reply_late(req, "file");
		return;
	}
	if (!buf || sandbox_file_end(ctl, end_wait(end), &err) < 0) {
		free(buf);
		if (!buf) {
			sb_fail(&err, SB_E_INTERNAL, ENOMEM, "out of memory");
			api_reply_err(req, &err);
			return;
		}
		reply_op_err(app, req, &sb, &err);
		return;
	}
	bool binary = !utf8_text(buf, len);
	b64 = binary || (e && !strcmp(e, "base64"));
	struct json_object *d = json_object_new_object();
	json_object_object_add(d, "path", json_object_new_string(path));
	json_object_object_add(d, "encoding", json_object_new_string(b64 ? "base64" : "utf-8"));
	json_object_object_add(d, "size", json_object_new_int64((int64_t)info.size));
	json_object_object_add(d, "isBinary", json_object_new_boolean(binary));
	json_object_object_add(d, "mimeType", json_object_new_string(mime_of(path, binary)));
	/* the content is encoded as it is written: the file (at most
	 * JSON_FILE_MAX) is all this worker holds, never its escaped text (a
	 * file of control characters is 6 times its size escaped) */
	struct http_blob content = { .key = "content", .buf = buf, .len = len, .base64 = b64 };
	http_reply_data_blobs(req, 200, d, &content, 1);
	free(buf);
}

/* Feed the child the upload: from the request body as it arrives (raw), or
 * from memory (decoded JSON content). */
static int feed(struct http_req *req, int data, const char *mem, size_t len, bool from_body)
{
	char buf[65536];
	unsigned long long left = from_body ? http_content_length(http_param(req, "CONTENT_LENGTH")) : len;
	int64_t end = sb_mono_ms() + req->conf->max_timeout_ms;
	int ret = 0;

	while (left > 0) {
		const char *src = mem;
		size_t n = left < sizeof buf ? (size_t)left : sizeof buf;
		if (from_body) {
			/* none of its reads waits past --send-timeout without
			 * a byte (as nginx's client_body_timeout), nor past
			 * --max-timeout after the first (a byte a second is
			 * progress, but not for ever) */
			size_t have = 0;

			/* the buffer filled before the child is woken: one
			 * write of 64 KiB, not one a refill of libfcgi's */
			while (have < n && ret == 0) {
				ssize_t got = http_body_read(req, buf + have, n - have, end);
				if (got < 0)
					ret = -1;	/* cut, timed out or gone: the child, short, refuses */
				else
					have += (size_t)got;
			}
			if (ret < 0)
				break;
			src = buf;
		}
		/* a child that stopped reading (its answer says why), or
		 * reads a chunk now and then past --max-timeout (-2) */
		if (sb_write_wait(data, src, n, data_wait(end)) < 0) {
			if (errno == ETIMEDOUT && sb_mono_ms() >= end)
				ret = -2;
			break;
		}
		if (!from_body)
			mem += n;
		left -= n;
	}
	return ret;
}

/* Op rq on path with the body (content, or the request's own when raw)
 * fed to it, and the child's answer in *info: 0, or -1 with the error
 * answered (a write that found the disk full marks it for repair).  The
 * child is told the body's length (SB_FILE_EXACT): one that ends before
 * it (the client gone, cut or timed out; this worker gone) changes
 * nothing, and is the client's 400, whatever the child said of it. */
static int put_body(struct app *app, struct http_req *req, struct sandbox_ref *sb, int ctl,
		    const struct sb_file_req *rq, const char *path, const char *content, size_t clen,
		    bool raw, struct sb_file_info *info)
{
	struct sb_err err = SB_ERR_INIT;
	struct sb_file_req exact = *rq;
	cleanup_close int data = -1;
	int fed, r;

	exact.flags |= SB_FILE_EXACT;
	exact.offset = raw ? http_content_length(http_param(req, "CONTENT_LENGTH")) : clen;
	if (sandbox_file_request(ctl, &exact, path, NULL, &data, &err) < 0) {
		reply_op_err(app, req, sb, &err);
		return -1;
	}
	fed = feed(req, data, content, clen, raw);
	close(data);
	data = -1;
	r = sandbox_file_reply(ctl, info, FILE_TIMEOUT_MS, &err) < 0 ||
	    sandbox_file_end(ctl, FILE_TIMEOUT_MS, &err) < 0 ? -1 : 0;
	if (r < 0)
		app_disk_failed(app, sb, &err);
	if (fed == -2) {
		sb_fail(&err, SB_E_TIMEOUT, ETIMEDOUT, "the sandbox did not take the upload within --max-timeout (%lld s): nothing was written",
			(long long)(req->conf->max_timeout_ms / 1000));
		api_reply_err(req, &err);
		return -1;
	}
	if (fed < 0) {
		http_reply_error(req, 400, "request body shorter than its Content-Length: nothing was written");
		return -1;
	}
	if (r < 0) {
		reply_op_err(app, req, sb, &err);
		return -1;
	}
	return 0;
}

void api_file_write(struct app *app, struct http_req *req, const char *id)
{
	cleanup_sandbox_ref struct sandbox_ref sb = { .dirfd = -1 };
	struct sb_file_req rq = { .op = SB_FILE_WRITE, .flags = SB_FILE_MKPARENTS };
	struct sb_file_info info;
	cleanup_json struct json_object *o = NULL;
	struct json_object *v;
	char path[API_PATH_BUF];
	cleanup_free char *decoded = NULL;
	const char *content = NULL;
	size_t clen = 0;
	bool raw = !req->body;	/* the worker left the body unread: a raw upload */
	cleanup_close int ctl = -1;

	if (!url_path(req, path, sizeof path))
		return;
	if (!raw) {
		o = http_json_body(req);
		if (!o)
			return;
		if (!json_object_object_get_ex(o, "content", &v) || !json_object_is_type(v, json_type_string)) {
			http_reply_error(req, 400, "content must be a string");
			return;
		}
		content = json_object_get_string(v);
		clen = (size_t)json_object_get_string_len(v);
		if (json_object_object_get_ex(o, "encoding", &v)) {
			const char *e = json_object_get_string(v);
			if (!json_object_is_type(v, json_type_string) ||
			    (strcmp(e, "base64") && strcmp(e, "utf-8") && strcmp(e, "utf8"))) {
				http_reply_error(req, 400, "encoding must be utf-8 or base64");
				return;
			}
			if (!strcmp(e, "base64")) {
				decoded = malloc(clen / 4 * 3 + 3);
				ssize_t n = decoded ? sb_base64_decode(content, clen, decoded) : -1;
				if (n < 0) {
					http_reply_error(req, 400, "content is not valid base64");
					return;
				}
				content = decoded;
				clen = (size_t)n;
			}
		}
		if (json_object_object_get_ex(o, "mode", &v)) {
			int64_t m = json_object_get_int64(v);
			if (!json_object_is_type(v, json_type_int) || m < 0 || m > 07777) {
				http_reply_error(req, 400, "mode must be a number from 0 to 4095 (e.g. 420 for 0644)");
				return;
			}
			rq.flags |= SB_FILE_MODE;
			rq.mode = (uint32_t)m;
		}
	} else if (http_content_length(http_param(req, "CONTENT_LENGTH")) > req->conf->max_file_bytes) {
		http_reply_error(req, 413, "file larger than %llu bytes", req->conf->max_file_bytes);
		return;
	}
	/* a sparse sandbox disk takes host blocks as it fills: a write that
	 * would leave the host short of its reserve is refused before it can
	 * fail underneath (a preallocated disk has its blocks already) */
	/* out of the pool (pool_long_request()): counted as a stream */
	if (raw && api_stream_admit(app, req) < 0)
		return;
	ctl = api_sandbox_open(app, req, id, raw ? (long long)http_content_length(http_param(req, "CONTENT_LENGTH"))
					  : (long long)clen, "this write", &sb);
	if (ctl < 0)
		return;
	rq.max_bytes = req->conf->max_file_bytes;
	if (put_body(app, req, &sb, ctl, &rq, path, content, clen, raw, &info) < 0)
		return;
	struct json_object *d = json_object_new_object();
	json_object_object_add(d, "path", json_object_new_string(path));
	json_object_object_add(d, "message", json_object_new_string("File written successfully"));
	json_object_object_add(d, "size", json_object_new_int64((int64_t)info.size));
	json_object_object_add(d, "mode", json_object_new_int((int)info.mode));
	http_reply_data(req, 200, d);
}

/* An operation without data: DELETE, MKDIR, RENAME. */
static int simple_op(struct app *app, struct http_req *req, const char *id, struct sb_file_req *rq,
		     const char *path, const char *path2, struct sb_file_info *info)
{
	struct sb_err err = SB_ERR_INIT;
	cleanup_sandbox_ref struct sandbox_ref sb = { .dirfd = -1 };
	/* each writes metadata; a delete too: it frees blocks of the
	 * sandbox's disk, never of the host (a sparse image does not shrink),
	 * and its journal commit may need host blocks like any other write */
	cleanup_close int ctl = api_sandbox_open(app, req, id, 0, "this file operation", &sb), data = -1;

	if (ctl < 0)
		return -1;
	if (sandbox_file_request(ctl, rq, path, path2, &data, &err) < 0 ||
	    sandbox_file_reply(ctl, info, FILE_TIMEOUT_MS, &err) < 0 ||
	    sandbox_file_end(ctl, FILE_TIMEOUT_MS, &err) < 0) {
		app_disk_failed(app, &sb, &err);
		reply_op_err(app, req, &sb, &err);
		return -1;
	}
	return 0;
}

static bool flag(struct http_req *req, const char *key, bool dflt)
{
	char v[16];
	const char *q = http_query(req, key, v, sizeof v);

	if (!q)
		return dflt;
	return strcmp(q, "0") && strcmp(q, "false") && strcmp(q, "no");
}

void api_file_delete(struct app *app, struct http_req *req, const char *id)
{
	struct sb_file_req rq = { .op = SB_FILE_DELETE };
	struct sb_file_info info;
	char path[API_PATH_BUF];

	if (!url_path(req, path, sizeof path))
		return;
	if (flag(req, "recursive", false))
		rq.flags |= SB_FILE_RECURSIVE;
	if (simple_op(app, req, id, &rq, path, NULL, &info) < 0)
		return;
	struct json_object *d = json_object_new_object();
	json_object_object_add(d, "path", json_object_new_string(path));
	json_object_object_add(d, "message", json_object_new_string("File deleted successfully"));
	http_reply_data(req, 200, d);
}

/* A path field of a JSON body, resolved as a sandbox path. */
static const char *body_path(struct http_req *req, struct json_object *o, const char *key,
			     char *buf, size_t len)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string)) {
		http_reply_error(req, 400, "%s must be a string", key);
		return NULL;
	}
	return sandbox_path(req, json_object_get_string(v), (size_t)json_object_get_string_len(v), buf, len);
}

void api_mkdir(struct app *app, struct http_req *req, const char *id)
{
	cleanup_json struct json_object *o = http_json_body(req);
	struct json_object *v;
	struct sb_file_req rq = { .op = SB_FILE_MKDIR };
	struct sb_file_info info;
	char path[API_PATH_BUF];

	if (!o)
		return;
	if (!body_path(req, o, "path", path, sizeof path))
		return;
	if (json_object_object_get_ex(o, "recursive", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			http_reply_error(req, 400, "recursive must be a boolean");
			return;
		}
		if (json_object_get_boolean(v))
			rq.flags |= SB_FILE_RECURSIVE;
	}
	if (simple_op(app, req, id, &rq, path, NULL, &info) == 0) {
		struct json_object *d = json_object_new_object();
		json_object_object_add(d, "path", json_object_new_string(path));
		json_object_object_add(d, "message", json_object_new_string("Directory created successfully"));
		http_reply_data(req, 200, d);
	}
}

void api_rename(struct app *app, struct http_req *req, const char *id)
{
	cleanup_json struct json_object *o = http_json_body(req);
	struct sb_file_req rq = { .op = SB_FILE_RENAME };
	struct sb_file_info info;
	char from[API_PATH_BUF], to[API_PATH_BUF];

	if (!o)
		return;
	if (body_path(req, o, "from", from, sizeof from) && body_path(req, o, "to", to, sizeof to) &&
	    simple_op(app, req, id, &rq, from, to, &info) == 0) {
		struct json_object *d = json_object_new_object();
		json_object_object_add(d, "from", json_object_new_string(from));
		json_object_object_add(d, "to", json_object_new_string(to));
		json_object_object_add(d, "message", json_object_new_string("Renamed successfully"));
		http_reply_data(req, 200, d);
	}
}

/* "drwxr-xr-x" */
static void perms(int mode, char *out)
{
	const char *rwx = "rwxrwxrwx";

	out[0] = S_ISDIR(mode) ? 'd' : S_ISLNK(mode) ? 'l' : S_ISREG(mode) ? '-' : S_ISFIFO(mode) ? 'p'
	       : S_ISSOCK(mode) ? 's' : S_ISCHR(mode) ? 'c' : S_ISBLK(mode) ? 'b' : '?';
	for (int i = 0; i < 9; i++)
		out[1 + i] = mode & (0400 >> i) ? rwx[i] : '-';
	if (mode & S_ISUID)
		out[3] = mode & 0100 ? 's' : 'S';
	if (mode & S_ISGID)
		out[6] = mode & 0010 ? 's' : 'S';
	if (mode & S_ISVTX)
		out[9] = mode & 0001 ? 't' : 'T';
	out[10] = '\0';
}

static void listing_line(struct json_object *e, struct sb_strbuf *b)
{
	struct json_object *v;
	char p[16], when[32];
	int raw = json_object_object_get_ex(e, "rawMode", &v) ? json_object_get_int(v) : 0;
	time_t t = (time_t)((json_object_object_get_ex(e, "mtime", &v) ? json_object_get_int64(v) : 0) / 1000);
	struct tm tm = { 0 };	/* a time gmtime_r cannot hold: the epoch's */

	perms(raw, p);
	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%b %e %H:%M", &tm);
	sb_strbuf_addf(b, "%s %ld %s %s %lld %s %s", p,
		       (long)(json_object_object_get_ex(e, "nlink", &v) ? json_object_get_int64(v) : 1),
		       json_object_object_get_ex(e, "user", &v) ? json_object_get_string(v) : "?",
		       json_object_object_get_ex(e, "group", &v) ? json_object_get_string(v) : "?",
		       (long long)(json_object_object_get_ex(e, "size", &v) ? json_object_get_int64(v) : 0),
		       when, json_object_object_get_ex(e, "name", &v) ? json_object_get_string(v) : "");
	if (json_object_object_get_ex(e, "target", &v))
		sb_strbuf_addf(b, " -> %s", json_object_get_string(v));
	sb_strbuf_addf(b, "\n");
}

/* A listing entry's strings as JSON text must be (RFC 8259): a name or
 * symlink target of bytes that are not UTF-8 (a sandbox may make any) is
 * sent with U+FFFD for those, and its bytes in nameBase64 (targetBase64),
 * from which a client can name the file; owner names are only shown. */
static void entry_utf8(struct json_object *e)
{
	static const char *const keys[] = { "name", "target", "user", "group" };

	for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
		struct json_object *v;
		if (!json_object_object_get_ex(e, keys[k], &v) || !json_object_is_type(v, json_type_string))
			continue;
		const char *str = json_object_get_string(v);
		size_t len = (size_t)json_object_get_string_len(v);
		if (utf8_valid(str, len))
			continue;
		struct json_object *lossy = json_string_lossy(str, len);
		if (k < 2) {
			char key[16], *b64 = malloc(4 * ((len + 2) / 3) + 1);
			if (b64) {
				sb_base64_encode(str, len, b64);
				snprintf(key, sizeof key, "%sBase64", keys[k]);
				json_object_object_add(e, key, json_object_new_string(b64));
				free(b64);
			}
		}
		json_object_object_add(e, keys[k], lossy);	/* frees v, and str */
	}
}

void api_ls(struct app *app, struct http_req *req, const char *id)
{
	struct sb_err err = SB_ERR_INIT;
	cleanup_sandbox_ref struct sandbox_ref sb = { .dirfd = -1 };
	struct sb_file_req rq = { .op = SB_FILE_LIST, .max_bytes = LIST_MAX_ENTRIES };
	struct sb_file_info info;
	cleanup_json struct json_object *arr = NULL;
	struct sb_strbuf listing = SB_STRBUF_INIT;
	char qp[API_PATH_BUF], path[API_PATH_BUF];
	const char *q = http_query(req, "path", qp, sizeof qp);
	cleanup_close int ctl = -1, data = -1;
	long long blocks = 0;
	bool over;

	if (!sandbox_path(req, q ? q : "/workspace", q ? strlen(q) : 10, path, sizeof path))
		return;
	if (flag(req, "recursive", false))
		rq.flags |= SB_FILE_RECURSIVE;
	if (flag(req, "hidden", true))	/* ls -la shows dot files */
		rq.flags |= SB_FILE_HIDDEN;
	ctl = api_sandbox_open(app, req, id, -1, NULL, &sb);
	if (ctl < 0)
		return;
	int64_t end = sb_mono_ms() + FILE_TIMEOUT_MS;	/* a listing's, in all */
	if (sandbox_file_request(ctl, &rq, path, NULL, &data, &err) < 0 ||
	    sandbox_file_reply(ctl, &info, FILE_TIMEOUT_MS, &err) < 0) {
		reply_op_err(app, req, &sb, &err);
		return;
	}
	size_t len;
	/* the child stops at 8 MiB of listing (fileops.c); more is a broken child */
	bool late;
	char *json = slurp(data, 16u << 20, end, &len, &over, &late);
	struct json_object *top = NULL, *tr;
	if (json && late) {
		free(json);
		reply_late(req, "listing");
		return;
	}
	if (!json || over || sandbox_file_end(ctl, end_wait(end), &err) < 0 ||
	    !(top = json_tokener_parse(json)) || !json_object_is_type(top, json_type_object) ||
	    !json_object_object_get_ex(top, "entries", &arr) || !json_object_is_type(arr, json_type_array)) {
		json_object_put(top);
		arr = NULL;
		free(json);
		if (!err.msg[0])
			sb_fail(&err, SB_E_INTERNAL, 0, "bad listing from the sandbox");
		reply_op_err(app, req, &sb, &err);
		return;
	}
	free(json);
	bool truncated = json_object_object_get_ex(top, "truncated", &tr) && json_object_get_boolean(tr);
	arr = json_object_get(arr);
	json_object_put(top);
	/* the seed's `ls -la` text, from the same entries */
	size_t n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++) {
		struct json_object *v;
		if (json_object_object_get_ex(json_object_array_get_idx(arr, i), "size", &v))
			blocks += (json_object_get_int64(v) + 1023) / 1024;
	}
	sb_strbuf_addf(&listing, "total %lld\n", blocks);
	for (size_t i = 0; i < n; i++)
		listing_line(json_object_array_get_idx(arr, i), &listing);
	for (size_t i = 0; i < n; i++) {
		json_object_object_del(json_object_array_get_idx(arr, i), "rawMode");
		entry_utf8(json_object_array_get_idx(arr, i));
	}
	struct json_object *d = json_object_new_object();
	json_object_object_add(d, "path", json_object_new_string(path));
	json_object_object_add(d, "listing", json_string_lossy(listing.buf ? listing.buf : "", listing.len));
	sb_strbuf_release(&listing);
	json_object_object_add(d, "entries", json_object_get(arr));
	json_object_object_add(d, "truncated", json_object_new_boolean(truncated));
	http_reply_data(req, 200, d);
}

/* Copy the pipe to the client until the child closes it, for at most
 * max_ms in all (a worker is not held longer than by an exec): past it
 * the stream is cut, as by any failure midway. */
static int stream_all(struct http_req *req, int fd, int64_t max_ms)
{
	char buf[65536];
	int64_t end = sb_mono_ms() + max_ms;

	for (;;) {
		int64_t left = end - sb_mono_ms();
		if (left <= 0) {
			req->cut = "max-timeout";
			return -1;
		}
		ssize_t n = sb_read_wait(fd, buf, sizeof buf, left < DATA_IDLE_MS ? (int)left : DATA_IDLE_MS);
		if (n == 0)
			return 0;
		if (n < 0) {
			req->cut = sb_mono_ms() >= end ? "max-timeout" : "sandbox";
			return -1;
		}
		if (put_until(req, buf, (size_t)n, end) < 0)
			return -1;
	}
}

/* GET /sandboxes/:id/archive?path=&format=: a tar.gz (or tar) of a
 * directory, made inside the sandbox (container/archive.c) and streamed as
 * it is made: no Content-Length, nginx sends it chunked. */
void api_archive_get(struct app *app, struct http_req *req, const char *id)
{
	struct sb_err err = SB_ERR_INIT;
	cleanup_sandbox_ref struct sandbox_ref sb = { .dirfd = -1 };
	/* at most --max-file-mb of file content (their apparent sizes: a
	 * sparse file is streamed whole): 413 before the first byte */
	struct sb_file_req rq = { .op = SB_FILE_ARCHIVE_OUT, .max_bytes = req->conf->max_file_bytes };
	struct sb_file_info info;
	char qp[API_PATH_BUF], path[API_PATH_BUF], fmt[16], name[300];
	const char *q = http_query(req, "path", qp, sizeof qp), *f = http_query(req, "format", fmt, sizeof fmt);
	const char *base;
	cleanup_close int ctl = -1, data = -1;
	bool gz;

	if (!sandbox_path(req, q ? q : "/workspace", q ? strlen(q) : 10, path, sizeof path))
		return;
	if (f && strcmp(f, "tar.gz") && strcmp(f, "tgz") && strcmp(f, "tar")) {
		http_reply_error(req, 400, "format must be tar.gz (the default) or tar");
		return;
	}
	gz = f ? strcmp(f, "tar") != 0 : !strstr(http_param(req, "HTTP_ACCEPT"), "application/x-tar");
	if (gz)
		rq.flags |= SB_FILE_GZIP;
	/* the download's name: the directory's, "root" for / */
	while (strlen(path) > 1 && path[strlen(path) - 1] == '/')
		path[strlen(path) - 1] = '\0';
	base = strrchr(path, '/') + 1;
	snprintf(name, sizeof name, "%.200s%s", *base ? base : "root", gz ? ".tar.gz" : ".tar");
	/* as slow as its client: out of the pool, counted as a stream */
	if (strcmp(req->method, "HEAD") && api_stream_admit(app, req) < 0)
		return;
	ctl = api_sandbox_open(app, req, id, -1, NULL, &sb);
	if (ctl < 0)
		return;
	if (sandbox_file_request(ctl, &rq, path, NULL, &data, &err) < 0 ||
	    sandbox_file_reply(ctl, &info, FILE_TIMEOUT_MS, &err) < 0) {
		reply_op_err(app, req, &sb, &err);
		return;
	}
	http_begin_bytes(req, 200, gz ? "application/gzip" : "application/x-tar", HTTP_LEN_UNKNOWN, name, NULL);
	if (!strcmp(req->method, "HEAD"))
		return;	/* closing ctl ends the child */
	/* a failure now can only cut the stream short: a tar.gz then fails
	 * its gzip check, a tar lacks its end blocks */
	if (stream_all(req, data, req->conf->max_timeout_ms) < 0 || sandbox_file_end(ctl, FILE_TIMEOUT_MS, NULL) < 0)
		FCGX_SetExitStatus(1, req->fcgi->out);
}

/* PUT /sandboxes/:id/archive?path=: a tar or tar.gz extracted inside the
 * sandbox under path (made if missing), with image import's refusals
 * (container/archive.c).  Streamed from the body with Content-Type
 * application/octet-stream; another type is a body read whole (--max-body). */
void api_archive_put(struct app *app, struct http_req *req, const char *id)
{
	cleanup_sandbox_ref struct sandbox_ref sb = { .dirfd = -1 };
	/* the most it may unpack in all: a bomb stops there, or at the
	 * sandbox's disk quota (507), whichever comes first */
	struct sb_file_req rq = { .op = SB_FILE_ARCHIVE_IN, .max_bytes = req->conf->max_file_bytes };
	struct sb_file_info info;
	char qp[API_PATH_BUF], path[API_PATH_BUF];
	const char *q = http_query(req, "path", qp, sizeof qp);
	bool raw = !req->body;
	unsigned long long len = raw ? http_content_length(http_param(req, "CONTENT_LENGTH")) : req->body_len;
	cleanup_close int ctl = -1;

	if (!sandbox_path(req, q ? q : "/workspace", q ? strlen(q) : 10, path, sizeof path))
		return;
	/* a sparse disk takes host blocks as it fills: at least the upload's
	 * size must leave the host its reserve (it may unpack to more) */
	if (raw && api_stream_admit(app, req) < 0)
		return;
	ctl = api_sandbox_open(app, req, id, (long long)len, "this archive", &sb);
	if (ctl < 0)
		return;
	if (put_body(app, req, &sb, ctl, &rq, path, req->body, req->body_len, raw, &info) < 0)
		return;
	struct json_object *d = json_object_new_object();
	json_object_object_add(d, "path", json_object_new_string(path));
	json_object_object_add(d, "message", json_object_new_string("Archive extracted"));
	json_object_object_add(d, "entries", json_object_new_int64(info.uid));
	json_object_object_add(d, "bytes", json_object_new_int64((int64_t)info.size));
	http_reply_data(req, 200, d);
}
