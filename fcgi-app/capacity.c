#include "config.h"

#include "capacity.h"
#include "log.h"
#include "sandbox.h"
#include "warm.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

struct cand {
	char id[64];
	int64_t active_ms;
};

struct scan {
	struct app *app;
	const char *except;
	int running, warm;
	struct cand *cands;	/* the running ones but `except`: who may make room */
	size_t ncands, cap;
	struct cand *dead;	/* in the index, but their init is gone */
	pid_t *dead_pids;
	size_t ndead, dcap;
	int64_t idle_before;	/* stop_idle: inactive since before this */
	int stopped;
};

static void push(struct cand **v, size_t *n, size_t *cap, pid_t **pids, const char *id, int64_t active,
		 pid_t pid)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 64;
		struct cand *nv = realloc(*v, c * sizeof **v);
		pid_t *np = pids ? realloc(*pids, c * sizeof **pids) : NULL;
		if (nv)
			*v = nv;
		if (np)
			*pids = np;
		if (!nv || (pids && !np))
			return;	/* one less: not stopped, or not forgotten yet */
		*cap = c;
	}
	snprintf((*v)[*n].id, sizeof (*v)[*n].id, "%s", id);
	(*v)[*n].active_ms = active;
	if (pids)
		(*pids)[*n] = pid;
	(*n)++;
}

static void scan_release(struct scan *sc)
{
	free(sc->cands);
	free(sc->dead);
	free(sc->dead_pids);
}
#define cleanup_scan __attribute__((cleanup(scan_release)))

/* Those found dead leave the index (one write, only when there are any). */
static void forget_dead(struct scan *sc)
{
	cleanup_free const char **ids = NULL;

	if (!sc->ndead || !(ids = calloc(sc->ndead, sizeof *ids)))
		return;
	for (size_t i = 0; i < sc->ndead; i++)
		ids[i] = sc->dead[i].id;
	store_forget_started(&sc->app->store, ids, sc->dead_pids, sc->ndead, NULL);
}

/* Idle: running, and nothing runs in it but its init. */
static bool idle(struct app *app, const char *id)
{
	struct cg_usage u;

	return cg_sandbox_usage(&app->cg, id, &u) == 0 && u.pids <= 1;
}

/* One pass over the records: how many run, and who they are.  Whether one
 * is idle (files of its cgroups) is asked later, of the oldest first, and
 * only when there is no room: a create among 1,000 running sandboxes does
 * not read 5,000 cgroup files. */
static void count(const char *id, pid_t pid, unsigned long long start, int64_t active_ms, void *arg)
{
	struct scan *sc = arg;

	if (!sandbox_alive(pid, start)) {
		push(&sc->dead, &sc->ndead, &sc->dcap, &sc->dead_pids, id, active_ms, pid);
		return;
	}
	if (warm_name(id)) {
		sc->warm++;	/* started ahead: counted once claimed, but
				 * its pids and memory are taken now */
		return;
	}
	sc->running++;
	if (strcmp(id, sc->except) != 0)
		push(&sc->cands, &sc->ncands, &sc->cap, NULL, id, active_ms, pid);
}

static int by_activity(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	return x->active_ms < y->active_ms ? -1 : x->active_ms > y->active_ms;
}

int capacity_stop(struct app *app, const char *id, struct sb_err *err)
{
	cleanup_close int dirfd = -1;
	cleanup_close int lock = -1;

	if (!sb_name_safe(id))
		return sb_fail(err, SB_E_INVALID, EINVAL, "unsafe sandbox name '%.64s'", id);
	dirfd = openat(app->sandboxes_fd, id, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dirfd < 0)
		return sb_syserr(err, "open sandbox dir %s", id);
	/* not while someone starts it (and never wait for that: a starter may
	 * hold the capacity lock we are under) */
	lock = openat(dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lock < 0)
		return sb_syserr(err, "open lock of %s", id);
	if (flock(lock, LOCK_EX | LOCK_NB) < 0)
		return sb_fail(err, SB_E_BUSY, EBUSY, "sandbox %s is starting; try again later", id);
	return cg_sandbox_kill(&app->cg, id, err);
}

/* What the running sandboxes may take of the host: the pids their
 * limits allow, summed, stay below pid_max less an eighth kept for the
 * host (every process of a sandbox is one of the host's); their memory
 * limits, summed, within memory-overcommit percent of the host's RAM. */
struct take {
	long long pids, memory_mb;
};

/* id's effective limits ("" or a missing record: the defaults). */
static struct take take_of(struct app *app, const char *id)
{
	struct sb_err err = SB_ERR_INIT;
	struct sb_record r;
	struct sb_limits l;

	memset(&r, 0, sizeof r);
	if (!*id || store_get(&app->store, id, &r, &err) <= 0)
		memset(&r.lim, 0, sizeof r.lim);
	sb_limits_effective(&r.lim, &app->conf->limits, &l);
	return (struct take){ l.pids, l.memory_mb };
}

/* The number in a /proc file, after key (NULL: at its start); -1: none. */
static long long proc_number(const char *path, const char *key)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	char buf[4096], *p;
	ssize_t n;

	if (fd < 0 || (n = read(fd, buf, sizeof buf - 1)) <= 0)
		return -1;
	buf[n] = '\0';
	p = key ? strstr(buf, key) : buf;
	return p ? strtoll(p + (key ? strlen(key) : 0), NULL, 10) : -1;
}

/* The host's room, as struct take; -1 where it is not checked. */
static struct take host_room(const struct app *app)
{
	long long pid_max = proc_number("/proc/sys/kernel/pid_max", NULL);
	long long mem_kb = proc_number("/proc/meminfo", "MemTotal:");
	struct take t = { -1, -1 };

	if (pid_max > 0)
		t.pids = pid_max - pid_max / 8;
	if (mem_kb > 0 && app->conf->memory_overcommit > 0)
		t.memory_mb = mem_kb / 1024 * app->conf->memory_overcommit / 100;
	return t;
}

/* Why one more, taking need, does not fit; NULL when it does. */
static const char *no_room(const struct app *app, const struct scan *sc, struct take used,
			   struct take need, struct take room)
{
	if (app->conf->max_running > 0 && sc->running >= app->conf->max_running)
		return "max-running";
	if (room.pids >= 0 && used.pids + need.pids > room.pids)
		return "pids (7/8 of the host's pid_max)";
	if (room.memory_mb >= 0 && used.memory_mb + need.memory_mb > room.memory_mb)
		return "memory (the host's RAM x memory-overcommit)";
	return NULL;
}

int capacity_make_room(struct app *app, const char *id, struct sb_err *err)
{
	cleanup_scan struct scan sc = { .app = app, .except = id };
	cleanup_close int lock = -1;
	struct take used, need, room = host_room(app), dflt;
	const char *why;

	/* one decision at a time, or two starts could both take the last place;
	 * held until this process starts its sandbox (released with the fd) */
	lock = openat(app->sandboxes_fd, ".capacity.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lock < 0 || flock(lock, LOCK_EX) < 0)
		return sb_syserr(err, "capacity lock");
	app->capacity_lock = steal_fd(&lock);
	if (store_foreach_started(&app->store, count, &sc, err) < 0)
		return -1;
	forget_dead(&sc);
	need = take_of(app, id);
	dflt = take_of(app, "");
	used = (struct take){ dflt.pids * sc.warm, dflt.memory_mb * sc.warm };
	for (size_t i = 0; i < sc.ncands; i++) {
		struct take t = take_of(app, sc.cands[i].id);
		used.pids += t.pids;
		used.memory_mb += t.memory_mb;
	}
	if (!(why = no_room(app, &sc, used, need, room)))
		return 0;
	/* the least recently active idle ones go, until it fits */
	qsort(sc.cands, sc.ncands, sizeof *sc.cands, by_activity);
	for (size_t i = 0; i < sc.ncands && why; i++) {
		struct take t;
		if (!idle(app, sc.cands[i].id) || capacity_stop(app, sc.cands[i].id, NULL) < 0)
			continue;
		log_event(app->rid, "sandbox.stopped", sc.cands[i].id, "reason=capacity for=%s", id);
		t = take_of(app, sc.cands[i].id);
		used.pids -= t.pids;
		used.memory_mb -= t.memory_mb;
		sc.running--;
		why = no_room(app, &sc, used, need, room);
	}
	if (!why)
		return 0;
	if (!strcmp(why, "max-running"))
		return sb_fail(err, SB_E_BUSY, EBUSY, "all %d sandboxes are busy; try again later",
			       app->conf->max_running);
	return sb_fail(err, SB_E_BUSY, EBUSY, "no room on the host for sandbox %s: the running ones' "
		       "limits take the %s; try again later", id, why);
}

static void stop_if_idle(const char *id, pid_t pid, unsigned long long start, int64_t active_ms, void *arg)
{
	struct scan *sc = arg;

	if (!sandbox_alive(pid, start)) {
		push(&sc->dead, &sc->ndead, &sc->dcap, &sc->dead_pids, id, active_ms, pid);
		return;
	}
	if (warm_name(id) || active_ms >= sc->idle_before || !idle(sc->app, id))
		return;
	if (capacity_stop(sc->app, id, NULL) == 0) {
		log_event(NULL, "sandbox.stopped", id, "reason=idle idle_since_ms=%lld", (long long)active_ms);
		sc->stopped++;
	}
}

int capacity_stop_idle(struct app *app, int64_t idle_ms)
{
	cleanup_scan struct scan sc = { .app = app, .except = "", .idle_before = sb_now_ms() - idle_ms };

	if (store_foreach_started(&app->store, stop_if_idle, &sc, NULL) < 0)
		return -1;
	forget_dead(&sc);
	return sc.stopped;
}
