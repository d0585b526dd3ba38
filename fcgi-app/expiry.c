/* The expiry hint (expiry.h): one number, the earliest expiry still to
 * sweep for.  A worker writes the earlier of it and its own, after the
 * record; the sweep replaces it with the earliest it read, holding the
 * file's flock from before its read to the write, so an expiry set after
 * the read (which the sweep did not see) is written after the sweep's.  A
 * hint is only ever replaced by an earlier one or by a sweep that read the
 * records after it was set: none is lost.  The master reads it without the
 * lock: a number half written reads smaller, which only brings a sweep
 * sooner. */
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
#include <sys/stat.h>
#include <unistd.h>

/* hint-brought sweeps at most this often: a tenant setting ttls of 1 s
 * over and over, or a sweep that dies before its write, cannot make one a
 * tick */
#define HINT_SWEEP_MIN_MS 1000

/* The hint file, opened: a regular file only (a FIFO there never blocks
 * the master). */
static int hint_open(const struct conf *c, int flags)
{
	char path[PATH_MAX];
	struct stat st;
	int fd;

	snprintf(path, sizeof path, "%s/run/expiry-hint", c->data_dir);
	fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

/* The number in fd's file; 0 when there is none. */
static int64_t hint_read(int fd)
{
	char buf[32], *end;
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	long long v;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	v = strtoll(buf, &end, 10);
	return end != buf && v > 0 ? (int64_t)v : 0;
}

static void hint_write(int fd, int64_t v)
{
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%" PRId64 "\n", v);

	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		log_printf("warn", NULL, "expiry hint: write: %s", strerror(errno));
}

/* The hint file open and locked; -1 (logged) if it cannot be. */
static int hint_lock(const struct conf *c)
{
	int fd = hint_open(c, O_RDWR | O_CREAT);

	if (fd >= 0 && flock(fd, LOCK_EX) == 0)
		return fd;
	log_printf("warn", NULL, "expiry hint: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

void expiry_hint(const struct conf *c, int64_t at)
{
	cleanup_close int fd = -1;
	int64_t cur;

	if (at <= 0 || (fd = hint_lock(c)) < 0)
		return;
	cur = hint_read(fd);
	if (!cur || at < cur)
		hint_write(fd, at);
}

int expiry_sweep_begin(const struct conf *c)
{
	return hint_lock(c);
}

void expiry_sweep_end(int lock, int64_t next)
{
	if (lock < 0)
		return;
	hint_write(lock, next);
	close(lock);
}

bool expiry_due(const struct conf *c, int64_t *last)
{
	cleanup_close int fd = -1;
	int64_t now = sb_mono_ms(), at;

	if (now - *last < HINT_SWEEP_MIN_MS || (fd = hint_open(c, O_RDONLY)) < 0)
		return false;
	at = hint_read(fd);
	if (!at || at > sb_now_ms())
		return false;
	*last = now;
	return true;
}
