/* The expiry hint (expiry.h).  Writers (a worker that sets a ttl, the
 * sweep) hold an flock on the file while they read and replace it; the
 * master reads without one: a number half written reads smaller, which
 * only brings the sweep sooner. */
#include "config.h"

#include "expiry.h"
#include "log.h"
#include "util.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static void hint_path(const struct conf *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s/run/expiry-hint", c->data_dir);
}

/* The number in fd's file; 0 when there is none. */
static int64_t hint_read(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	char *end;
	long long v;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	v = strtoll(buf, &end, 10);
	return end != buf && v > 0 ? (int64_t)v : 0;
}

static int hint_write(int fd, int64_t v)
{
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%" PRId64 "\n", v);

	return ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)n, 0) == n ? 0 : -1;
}

/* Replace the hint with `at` (0: none) unless one after `after` and no
 * later than `at` (or any, for none) is still to come. */
static void hint_set(const struct conf *c, int64_t after, int64_t at)
{
	char path[PATH_MAX];
	cleanup_close int fd = -1;
	int64_t cur;

	hint_path(c, path, sizeof path);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		log_printf("warn", NULL, "expiry hint: %s: %s", path, strerror(errno));
		return;
	}
	cur = hint_read(fd);
	if (cur > after && (!at || cur <= at))
		return;
	if (hint_write(fd, at) < 0)
		log_printf("warn", NULL, "expiry hint: write %s: %s", path, strerror(errno));
}

void expiry_hint(const struct conf *c, int64_t at)
{
	if (at > 0)
		hint_set(c, sb_now_ms(), at);
}

void expiry_hint_swept(const struct conf *c, int64_t swept, int64_t next)
{
	hint_set(c, swept, next);
}

bool expiry_due(const struct conf *c, int64_t *seen)
{
	char path[PATH_MAX];
	cleanup_close int fd = -1;
	int64_t v;

	hint_path(c, path, sizeof path);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	v = hint_read(fd);
	if (!v || v > sb_now_ms() || v == *seen)
		return false;
	*seen = v;
	return true;
}
