#include "config.h"

#include "util.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

/* The host (or a sandbox's disk) out of room is not our bug, so a client
 * knows to free space or retry later, wherever it was met. */
enum sb_err_kind sb_errno_kind(int errnum)
{
	switch (errnum) {
	case ENOSPC: case EDQUOT: return SB_E_NO_SPACE;
	default: return SB_E_INTERNAL;
	}
}

int sb_fail(struct sb_err *err, enum sb_err_kind kind, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->errnum = errnum;
		err->kind = kind != SB_E_INTERNAL ? kind : sb_errno_kind(errnum);
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
		/* the system's word helps with our bugs, not with a client's error */
		if (errnum && kind == SB_E_INTERNAL) {
			size_t n = strlen(err->msg);
			snprintf(err->msg + n, sizeof err->msg - n, ": %s", strerror(errnum));
		}
	}
	return -1;
}

int sb_syserr(struct sb_err *err, const char *fmt, ...)
{
	int errnum = errno;
	va_list ap;
	size_t n;

	if (err) {
		err->errnum = errnum;
		err->kind = sb_errno_kind(errnum);
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
		n = strlen(err->msg);
		snprintf(err->msg + n, sizeof err->msg - n, ": %s", strerror(errnum));
	}
	errno = errnum;
	return -1;
}

void sb_err_prefix(struct sb_err *err, const char *fmt, ...)
{
	char pre[128], old[sizeof err->msg];
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof pre, fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	/* truncation of a long message is fine */
	snprintf(err->msg, sizeof err->msg, "%.120s: %.380s", pre, old);
}

void sb_err_clear(struct sb_err *err)
{
	memset(err, 0, sizeof *err);
}

ssize_t sb_read_full(int fd, void *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = read(fd, (char *)buf + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		off += (size_t)n;
	}
	return (ssize_t)off;
}

static int wait_fd(int fd, short events, int idle_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;

	do
		r = poll(&p, 1, idle_ms);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		errno = ETIMEDOUT;
	return r > 0 ? 0 : -1;
}

ssize_t sb_read_wait(int fd, void *buf, size_t len, int idle_ms)
{
	for (;;) {
		ssize_t n = read(fd, buf, len);
		if (n >= 0 || (errno != EINTR && errno != EAGAIN))
			return n;
		if (errno == EAGAIN && wait_fd(fd, POLLIN, idle_ms) < 0)
			return -1;
	}
}

ssize_t sb_write_wait(int fd, const void *buf, size_t len, int idle_ms)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = write(fd, (const char *)buf + off, len - off);
		if (n < 0 && errno == EAGAIN) {
			if (wait_fd(fd, POLLOUT, idle_ms) < 0)
				return -1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		off += (size_t)n;
	}
	return (ssize_t)off;
}

ssize_t sb_write_full(int fd, const void *buf, size_t len)
{
	/* on a blocking fd EAGAIN never comes, so this never waits in poll */
	return sb_write_wait(fd, buf, len, -1);
}

ssize_t sb_read_file_at(int dirfd, const char *path, char *buf, size_t cap)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = sb_read_full(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

int sb_write_file_at(int dirfd, const char *path, const char *s)
{
	return sb_write_file_atf(dirfd, path, s, 0);
}

int sb_write_file_atf(int dirfd, const char *path, const char *s, int flags)
{
	int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | flags, 0644);
	ssize_t n;
	int saved;

	if (fd < 0)
		return -1;
	n = sb_write_full(fd, s, strlen(s));
	saved = errno;
	close(fd);
	errno = saved;
	return n < 0 ? -1 : 0;
}

int64_t sb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sb_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sb_close_fds_from(int lowfd)
{
	if (syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0) == 0)
		return;
	for (int fd = lowfd; fd < 65536; fd++)
		close(fd);
}

int sb_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

int sb_pidfd_send_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

int sb_proc_stat_parse(const char *line, struct sb_proc_stat *st)
{
	/* comm (field 2) may hold spaces and parens: it ends at the last ')' */
	const char *p = strrchr(line, ')');
	char *end;

	if (!p || p[1] != ' ' || !p[2] || p[2] == ' ')
		return -1;
	st->state = p[2];
	p += 2;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -1;
		p++;
	}
	st->start = strtoull(p, &end, 10);
	return end == p ? -1 : 0;
}

int sb_proc_stat(pid_t pid, struct sb_proc_stat *st)
{
	char path[64], buf[1024];

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (sb_read_file_at(AT_FDCWD, path, buf, sizeof buf) < 0)
		return -1;
	return sb_proc_stat_parse(buf, st);
}

unsigned long long sb_proc_starttime(pid_t pid)
{
	struct sb_proc_stat st;

	return sb_proc_stat(pid, &st) < 0 ? 0 : st.start;
}

unsigned long long sb_proc_live_start(pid_t pid)
{
	struct sb_proc_stat st;

	return sb_proc_stat(pid, &st) < 0 || !sb_proc_running(&st) ? 0 : st.start;
}

void sb_iso8601(int64_t ms, char *buf, size_t len)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(ms % 1000));
}

static char *title_start, *title_end;

void sb_proctitle_init(int argc, char **argv)
{
	extern char **environ;
	char *end, **env;
	int n = 0;

	if (argc < 1 || !argv[0])
		return;
	end = argv[0] + strlen(argv[0]) + 1;
	for (int i = 1; i < argc; i++)
		if (argv[i] == end)
			end += strlen(argv[i]) + 1;
	for (; environ && environ[n]; n++)
		if (environ[n] == end)
			end += strlen(environ[n]) + 1;
	/* the environment moves to the heap, so the area can be overwritten
	 * by any process (as nginx does); argv strings stay where they are
	 * until a title is set, so copy what is kept of them first */
	env = calloc((size_t)n + 1, sizeof *env);
	if (!env)
		return;
	for (int i = 0; i < n; i++)
		env[i] = strdup(environ[i]);
	environ = env;
	title_start = argv[0];
	title_end = end;
}

void sb_proctitle_set(const char *title)
{
	size_t room;

	if (!title_start)
		return;
	room = (size_t)(title_end - title_start);
	memset(title_start, 0, room);
	snprintf(title_start, room, "%s", title);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void sb_base64_encode(const char *in, size_t n, char *out)
{
	const unsigned char *u = (const unsigned char *)in;
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)u[i] << 16 | (unsigned)u[i + 1] << 8 | u[i + 2];
		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = b64[(v >> 6) & 63];
		out[o++] = b64[v & 63];
	}
	if (i < n) {
		unsigned v = (unsigned)u[i] << 16 | (i + 1 < n ? (unsigned)u[i + 1] << 8 : 0);
		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
}

ssize_t sb_base64_decode(const char *in, size_t n, char *out)
{
	unsigned v = 0;
	int bits = 0, pad = 0;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		const char *p;

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad || !c || !(p = strchr(b64, c)))
			return -1;	/* data after padding, or not base64 */
		v = v << 6 | (unsigned)(p - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((v >> bits) & 0xFF);
		}
	}
	if (pad > 2 || bits >= 6)
		return -1;
	return (ssize_t)o;
}

void sb_strbuf_addf(struct sb_strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		n = vsnprintf(b->buf ? b->buf + b->len : NULL, b->buf ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->buf && (size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t ncap = (b->cap ? b->cap * 2 : 256) + (size_t)n + 1;
		char *nb = realloc(b->buf, ncap);
		if (!nb)
			return;
		b->buf = nb;
		b->cap = ncap;
	}
}

void sb_strbuf_release(struct sb_strbuf *b)
{
	free(b->buf);
	b->buf = NULL;
	b->len = b->cap = 0;
}

bool sb_name_safe(const char *name)
{
	size_t n = name ? strnlen(name, SB_NAME_MAX + 1) : 0;

	if (n == 0 || n > SB_NAME_MAX || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p == '/' || *p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

bool sb_relpath_safe(const char *rel)
{
	char part[SB_NAME_MAX + 1];

	if (!rel || !*rel)
		return false;
	for (const char *p = rel, *end;; p = end + 1) {
		end = strchrnul(p, '/');
		if ((size_t)(end - p) > SB_NAME_MAX)
			return false;
		memcpy(part, p, (size_t)(end - p));
		part[end - p] = '\0';
		if (!sb_name_safe(part))
			return false;
		if (!*end)
			return true;
	}
}

int sb_mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || !*p) {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, mode) < 0 && errno != EEXIST)
				return -1;
			*p = c;
			if (!c)
				return 0;
		}
	}
}
