#include "config.h"

#include "quota.h"
#include "conf.h"
#include "pool.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define QUOTA_SLOTS POOL_SLOTS	/* by a worker's pool slot + 1, modulo this: unique among
				 * live workers (serials grow without bound) */

struct slot {
	pid_t pid;		/* the worker serving; 0: free */
	int streaming;
	char scope[64];		/* "": no tenant */
	char sandbox[64];	/* "": none */
};

/* What one tenant and one sandbox have in flight. */
struct counts {
	int scope, scope_streams, sandbox, sandbox_streams;
};

static struct slot *slots;
static int lock_fd = -1;
static pid_t opener;	/* a child has a lock file description of its own */

int quota_open(const char *data_dir, struct sb_err *err)
{
	size_t len = QUOTA_SLOTS * sizeof *slots;
	char path[PATH_MAX];
	void *p;
	int r;

	if (slots && opener == getpid())
		return 0;
	quota_close();
	opener = getpid();
	snprintf(path, sizeof path, "%s/run/quota", data_dir);
	lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lock_fd < 0) {
		sb_syserr(err, "quota slots %s", path);
		quota_close();
		return -1;
	}
	/* Every block of the mapping allocated now, at every open (a file of
	 * an older build was made sparse by ftruncate): a store into a hole
	 * of a MAP_SHARED file needs a block, and with the file system full
	 * that store is a SIGBUS (the worker dies at its request's first
	 * step).  Allocated, a full disk costs what writes a 507, never a
	 * worker; the master's open at start fails when it cannot be. */
	if ((r = posix_fallocate(lock_fd, 0, (off_t)len))) {
		errno = r;
		sb_syserr(err, "allocate quota slots %s", path);
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

/* The slots in use but `mine` of mine's tenant and sandbox.  Only the
 * quota slots a worker of the pool may hold are scanned (pool slot + 1 up
 * to the pool's slots used, and 0 where that wraps), not all 4096 of them
 * (half a megabyte, read at every request: 7 % of a status read's
 * samples in the worker, measured); a slot past them was never a live
 * worker's: at most one of an earlier run of the service, whose pid is
 * gone. */
static struct counts count(const struct slot *mine)
{
	struct counts n = { 0, 0, 0, 0 };
	int used = pool_slots_used();
	int end = used >= QUOTA_SLOTS ? QUOTA_SLOTS : used + 1;

	for (int i = 0; i < end; i++) {
		const struct slot *s = &slots[i];
		pid_t pid = __atomic_load_n(&s->pid, __ATOMIC_ACQUIRE);
		bool scope, sandbox;
		if (s == mine || pid <= 0)
			continue;
		scope = *mine->scope && !strcmp(s->scope, mine->scope);
		sandbox = *mine->sandbox && !strcmp(s->sandbox, mine->sandbox);
		if ((!scope && !sandbox) || (kill(pid, 0) < 0 && errno == ESRCH))
			continue;
		n.scope += scope;
		n.scope_streams += scope && s->streaming;
		n.sandbox += sandbox;
		n.sandbox_streams += sandbox && s->streaming;
	}
	return n;
}

/* Over a cap: its 429. */
static int over(struct sb_err *err, const char *whose, const char *name, int n, const char *what,
		const char *opt)
{
	return sb_fail(err, SB_E_LIMIT, 0, "%s %s has %d %s, its %s; retry when one ends", whose, name, n,
		       what, opt);
}

int quota_enter(unsigned qslot, const struct conf *c, const char *scope, const char *sandbox,
		struct sb_err *err)
{
	struct slot *mine = slots && qslot ? &slots[qslot % QUOTA_SLOTS] : NULL;
	struct counts n;
	int r = 0;

	if (!mine || ((!scope || !*scope) && !sandbox) || (scope && strlen(scope) >= sizeof mine->scope) ||
	    (sandbox && strlen(sandbox) >= sizeof mine->sandbox))
		return 0;
	flock(lock_fd, LOCK_EX);
	snprintf(mine->scope, sizeof mine->scope, "%s", scope ? scope : "");
	snprintf(mine->sandbox, sizeof mine->sandbox, "%s", sandbox ? sandbox : "");
	mine->streaming = 0;
	n = count(mine);
	if (c->max_requests_per_token > 0 && n.scope >= c->max_requests_per_token)
		r = over(err, "the tokens of scope", mine->scope, n.scope, "requests in flight",
			 "max-requests-per-token");
	else if (c->max_requests_per_sandbox > 0 && n.sandbox >= c->max_requests_per_sandbox)
		r = over(err, "sandbox", mine->sandbox, n.sandbox, "requests in flight",
			 "max-requests-per-sandbox");
	else
		__atomic_store_n(&mine->pid, getpid(), __ATOMIC_RELEASE);
	flock(lock_fd, LOCK_UN);
	return r;
}

int quota_stream(unsigned qslot, const struct conf *c, struct sb_err *err)
{
	struct slot *mine = slots && qslot ? &slots[qslot % QUOTA_SLOTS] : NULL;
	struct counts n;
	int r = 0;

	if (!mine || __atomic_load_n(&mine->pid, __ATOMIC_ACQUIRE) != getpid())
		return 0;	/* not counted (no tenant, no sandbox) */
	flock(lock_fd, LOCK_EX);
	n = count(mine);
	if (*mine->scope && c->max_streams_per_token > 0 && n.scope_streams >= c->max_streams_per_token)
		r = over(err, "the tokens of scope", mine->scope, n.scope_streams, "streams open",
			 "max-streams-per-token");
	else if (*mine->sandbox && c->max_streams_per_sandbox > 0 &&
		 n.sandbox_streams >= c->max_streams_per_sandbox)
		r = over(err, "sandbox", mine->sandbox, n.sandbox_streams, "streams open",
			 "max-streams-per-sandbox");
	else
		mine->streaming = 1;
	flock(lock_fd, LOCK_UN);
	return r;
}

void quota_leave(unsigned qslot)
{
	if (!slots || !qslot)
		return;
	__atomic_store_n(&slots[qslot % QUOTA_SLOTS].pid, 0, __ATOMIC_RELEASE);
}
