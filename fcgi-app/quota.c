#include "config.h"

#include "quota.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define QUOTA_SLOTS 4096	/* worker serials, modulo this */

struct slot {
	pid_t pid;		/* the worker serving; 0: free */
	int streaming;
	char scope[64];
};

static struct slot *slots;
static int lock_fd = -1;
static pid_t opener;	/* a child has a lock file description of its own */

int quota_open(const char *data_dir, struct sb_err *err)
{
	size_t len = QUOTA_SLOTS * sizeof *slots;
	char path[PATH_MAX];
	struct stat st;
	void *p;

	if (slots && opener == getpid())
		return 0;
	quota_close();
	opener = getpid();
	snprintf(path, sizeof path, "%s/run/quota", data_dir);
	lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lock_fd < 0 || fstat(lock_fd, &st) < 0 ||
	    ((size_t)st.st_size < len && ftruncate(lock_fd, (off_t)len) < 0)) {
		sb_syserr(err, "quota slots %s", path);
		quota_close();
		return -1;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, lock_fd, 0);
	if (p == MAP_FAILED) {
		sb_syserr(err, "map quota slots %s", path);
		quota_close();
		return -1;
	}
	slots = p;
	return 0;
}

void quota_close(void)
{
	if (slots)
		munmap(slots, QUOTA_SLOTS * sizeof *slots);
	slots = NULL;
	sb_closep(&lock_fd);
	lock_fd = -1;
}

/* The scope's slots in use but `mine`, and how many of them stream. */
static int count(const char *scope, const struct slot *mine, int *streams)
{
	int n = 0;

	*streams = 0;
	for (int i = 0; i < QUOTA_SLOTS; i++) {
		const struct slot *s = &slots[i];
		pid_t pid = __atomic_load_n(&s->pid, __ATOMIC_ACQUIRE);
		if (s == mine || pid <= 0 || strcmp(s->scope, scope) ||
		    (kill(pid, 0) < 0 && errno == ESRCH))
			continue;
		n++;
		*streams += s->streaming;
	}
	return n;
}

static struct slot *slot_of(unsigned serial, const char *scope)
{
	if (!slots || !serial || !scope || !*scope || strlen(scope) >= sizeof slots->scope)
		return NULL;
	return &slots[serial % QUOTA_SLOTS];
}

int quota_enter(unsigned serial, const char *scope, int max, struct sb_err *err)
{
	struct slot *mine = slot_of(serial, scope);
	int n, streams;

	if (!mine)
		return 0;
	flock(lock_fd, LOCK_EX);
	n = count(scope, mine, &streams);
	if (max > 0 && n >= max) {
		flock(lock_fd, LOCK_UN);
		return sb_fail(err, SB_E_LIMIT, 0, "the tokens of scope %s have %d requests in flight, their "
			       "max-requests-per-token; retry when one is answered", scope, n);
	}
	snprintf(mine->scope, sizeof mine->scope, "%s", scope);
	mine->streaming = 0;
	__atomic_store_n(&mine->pid, getpid(), __ATOMIC_RELEASE);
	flock(lock_fd, LOCK_UN);
	return 0;
}

int quota_stream(unsigned serial, const char *scope, int max, struct sb_err *err)
{
	struct slot *mine = slot_of(serial, scope);
	int streams;

	if (!mine)
		return 0;
	flock(lock_fd, LOCK_EX);
	count(scope, mine, &streams);
	if (max > 0 && streams >= max) {
		flock(lock_fd, LOCK_UN);
		return sb_fail(err, SB_E_LIMIT, 0, "the tokens of scope %s have %d streams open, their "
			       "max-streams-per-token; retry when one ends", scope, streams);
	}
	mine->streaming = 1;
	flock(lock_fd, LOCK_UN);
	return 0;
}

void quota_leave(unsigned serial)
{
	if (!slots || !serial)
		return;
	__atomic_store_n(&slots[serial % QUOTA_SLOTS].pid, 0, __ATOMIC_RELEASE);
}
