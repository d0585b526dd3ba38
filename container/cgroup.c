#include "config.h"

#include "cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>

static const char *const v1_ctrl[CG_NDIRS] = { "freezer", "pids", "memory", "cpu", "cpuacct" };

#define FOR_EACH_DIR(cg, i) for (int i = 0; i < CG_NDIRS; i++) if ((cg)->dir[i] >= 0)

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Refused before any path is built: a name that could leave the instance's
 * own cgroup (sb_name_safe), whoever passed it. */
static int unsafe(struct sb_err *err, const char *name)
{
	return sb_fail(err, SB_E_INVALID, EINVAL, "unsafe cgroup name '%.64s'", name ? name : "(null)");
}

static bool names_safe(const char *id, const char *name)
{
	return sb_name_safe(id) && sb_name_safe(name);
}

/* The directory that holds processes and exec cgroups. */
static int procs_dir(const struct sb_cgroups *cg)
{
	return cg->version == 2 ? cg->dir[0] : cg->dir[CG_FREEZER];
}

static int kernel_write(int dirfd, const char *path, const char *val)
{
	return sb_write_file_atf(dirfd, path, val, 0);
}

static int kernel_open_procs(int dirfd, const char *path)
{
	return openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
}

const struct cg_ops cg_kernel = {
	.write = kernel_write,
	.open_procs = kernel_open_procs,
	.signal = cg_signal_members,
};

static int knob_write(const struct sb_cgroups *cg, int dirfd, const char *path, const char *val)
{
	return cg->ops->write(dirfd, path, val);
}

static int knob_writef(const struct sb_cgroups *cg, int dirfd, const char *id, const char *knob,
		       const char *val, struct sb_err *err)
{
	char path[512];

	snprintf(path, sizeof path, "%.255s/%.200s", id, knob);
	if (knob_write(cg, dirfd, path, val) < 0)
		return sb_syserr(err, "write %s", path);
	return 0;
}

/* A knob's value in its text buf (NUL-terminated): the number, or the
 * value of line "key VALUE"; -1 when it has none. */
static long long knob_parse(const char *buf, const char *key)
{
	const char *p;

	if (!key)
		return strtoll(buf, NULL, 10);
	/* "key value" lines (memory.events, cpu.stat, memory.oom_control) */
	for (p = buf; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		size_t n = strlen(key);
		if (strncmp(p, key, n) == 0 && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
	}
	return -1;
}

static long long knob_read(int dirfd, const char *id, const char *knob, const char *key)
{
	char path[256], buf[4096];

	snprintf(path, sizeof path, "%s/%s", id, knob);
	if (dirfd < 0 || sb_read_file_at(dirfd, path, buf, sizeof buf) < 0)
		return -1;
	return knob_parse(buf, key);
}

static int open_dir(int at, const char *name, bool create, struct sb_err *err)
{
	int fd;

	if (create && mkdirat(at, name, 0755) < 0 && errno != EEXIST)
		return sb_syserr(err, "mkdir cgroup %s", name);
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return sb_syserr(err, "open cgroup %s", name);
	return fd;
}

int cg_open(struct sb_cgroups *cg, const char *root, const char *parent, struct sb_err *err)
{
	return cg_open_ops(cg, &cg_kernel, root, parent, err);
}

int cg_open_ops(struct sb_cgroups *cg, const struct cg_ops *ops, const char *root,
		const char *parent, struct sb_err *err)
{
	cleanup_close int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	cg->ops = ops;
	for (int i = 0; i < CG_NDIRS; i++)
		cg->dir[i] = -1;
	if (rootfd < 0)
		return sb_syserr(err, "open %s", root);
	if (faccessat(rootfd, "cgroup.controllers", F_OK, 0) == 0) {
		cg->version = 2;
		cg->dir[0] = open_dir(rootfd, parent, true, err);
		if (cg->dir[0] < 0)
			return -1;
		/* the sandboxes below us get these controllers' knobs */
		if (knob_write(cg, cg->dir[0], "cgroup.subtree_control", "+memory +pids +cpu") < 0) {
			sb_syserr(err, "enable controllers in %s/%s", root, parent);
			cg_close(cg);
			return -1;
		}
		return 0;
	}
	cg->version = 1;
	for (int i = 0; i < CG_NDIRS; i++) {
		cleanup_close int ctrl = open_dir(rootfd, v1_ctrl[i], false, err);
		if (ctrl < 0 || (cg->dir[i] = open_dir(ctrl, parent, true, err)) < 0) {
			sb_err_prefix(err, "cgroup v1 %s hierarchy needed", v1_ctrl[i]);
			cg_close(cg);
			return -1;
		}
	}
	return 0;
}

static void kept_drop_all(void);

void cg_close(struct sb_cgroups *cg)
{
	kept_drop_all();
	for (int i = 0; i < CG_NDIRS; i++) {
		if (cg->dir[i] >= 0)
			close(cg->dir[i]);
		cg->dir[i] = -1;
	}
}

/* v1 memory with no swap: memsw (memory + swap) equal to memory.  The kernel
 * keeps memory <= memsw at every step, so a lower limit goes in memory
 * first and a higher one in memsw first: try the first order, and on
 * EINVAL the other. */
static int v1_memory(const struct sb_cgroups *cg, const char *id, const char *mem, struct sb_err *err)
{
	int d = cg->dir[CG_MEMORY];
	bool memsw = faccessat(d, "memory.memsw.limit_in_bytes", F_OK, 0) == 0;

	if (!memsw)
		return knob_writef(cg, d, id, "memory.limit_in_bytes", mem, err);
	if (knob_writef(cg, d, id, "memory.limit_in_bytes", mem, NULL) == 0)
		return knob_writef(cg, d, id, "memory.memsw.limit_in_bytes", mem, err);
	if (errno != EINVAL)
		return sb_syserr(err, "write %s/memory.limit_in_bytes", id);
	if (knob_writef(cg, d, id, "memory.memsw.limit_in_bytes", mem, err) < 0)
		return -1;
	return knob_writef(cg, d, id, "memory.limit_in_bytes", mem, err);
}

int cg_sandbox_create(struct sb_cgroups *cg, const char *id, const struct cg_limits *lim,
		      struct sb_err *err)
{
	char mem[32] = "max", pids[32] = "max", quota[32] = "-1", cpumax[48] = "max 100000";

	if (!sb_name_safe(id))
		return unsafe(err, id);
	FOR_EACH_DIR(cg, i)
		if (mkdirat(cg->dir[i], id, 0755) < 0 && errno != EEXIST)
			return sb_syserr(err, "mkdir cgroup %s", id);
	if (lim->memory_bytes > 0)
		snprintf(mem, sizeof mem, "%lld", lim->memory_bytes);
	if (lim->pids > 0)
		snprintf(pids, sizeof pids, "%ld", lim->pids);
	if (lim->cpu_millis > 0) {
		snprintf(quota, sizeof quota, "%ld", lim->cpu_millis * 100);
		snprintf(cpumax, sizeof cpumax, "%ld 100000", lim->cpu_millis * 100);
	}
	if (cg->version == 2)
		return knob_writef(cg, cg->dir[0], id, "memory.max", mem, err) < 0 ||
		       knob_writef(cg, cg->dir[0], id, "memory.swap.max", "0", err) < 0 ||
		       knob_writef(cg, cg->dir[0], id, "pids.max", pids, err) < 0 ||
		       knob_writef(cg, cg->dir[0], id, "cpu.max", cpumax, err) < 0 ? -1 : 0;
	/* v1: "max" is spelt -1 for memory */
	if (!strcmp(mem, "max"))
		strcpy(mem, "-1");
	if (v1_memory(cg, id, mem, err) < 0 ||
	    knob_writef(cg, cg->dir[CG_PIDS], id, "pids.max", pids, err) < 0 ||
	    knob_writef(cg, cg->dir[CG_CPU], id, "cpu.cfs_period_us", "100000", err) < 0 ||
	    knob_writef(cg, cg->dir[CG_CPU], id, "cpu.cfs_quota_us", quota, err) < 0)
		return -1;
	return 0;
}

static int enter(const struct sb_cgroups *cg, int dirfd, const char *rel, pid_t pid,
		 struct sb_err *err)
{
	char val[24];

	snprintf(val, sizeof val, "%d", (int)pid);
	return knob_writef(cg, dirfd, rel, "cgroup.procs", val, err);
}

int cg_sandbox_enter(struct sb_cgroups *cg, const char *id, pid_t pid, struct sb_err *err)
{
	if (!sb_name_safe(id))
		return unsafe(err, id);
	FOR_EACH_DIR(cg, i)
		if (enter(cg, cg->dir[i], id, pid, err) < 0)
			return -1;
	return 0;
}

int cg_sandbox_usage(struct sb_cgroups *cg, const char *id, struct cg_usage *u)
{
	memset(u, 0, sizeof *u);
	if (!sb_name_safe(id))
		return -1;
	if (cg->version == 2) {
		int d = cg->dir[0];
		u->memory_current = knob_read(d, id, "memory.current", NULL);
		u->memory_peak = knob_read(d, id, "memory.peak", NULL);
		u->pids = (long)knob_read(d, id, "pids.current", NULL);
		u->cpu_usec = knob_read(d, id, "cpu.stat", "usage_usec");
		u->oom_kills = knob_read(d, id, "memory.events", "oom_kill");
	} else {
		long long ns = knob_read(cg->dir[CG_CPUACCT], id, "cpuacct.usage", NULL);
		u->memory_current = knob_read(cg->dir[CG_MEMORY], id, "memory.usage_in_bytes", NULL);
		u->memory_peak = knob_read(cg->dir[CG_MEMORY], id, "memory.max_usage_in_bytes", NULL);
		u->pids = (long)knob_read(cg->dir[CG_PIDS], id, "pids.current", NULL);
		u->cpu_usec = ns < 0 ? -1 : ns / 1000;
		u->oom_kills = knob_read(cg->dir[CG_MEMORY], id, "memory.oom_control", "oom_kill");
	}
	return u->pids < 0 ? -1 : 0;
}

/* GET status reads a sandbox's usage at every request: the five knobs'
 * files of the last KEPT sandboxes read stay open in the process, each
 * read again from its start (a cgroup file answers the values of the
 * moment at every read), not opened, read to its end and closed each time
 * (20 system calls, a kernfs open each: 11 % of a status read's samples
 * in the worker, measured).  They are the files cg_sandbox_usage() would
 * open: the name id is looked up in each hierarchy at every read, and when
 * it is not the directory they were opened in (the sandbox destroyed, made
 * again, a warm one's cgroup renamed), they are closed and opened again by
 * name; a read that fails (ENODEV: the cgroup was removed since) too. */
#define KEPT 8
#define NKNOBS 5

struct kept_knob {
	int dir;		/* in cg->dir[] */
	const char *name, *key;
};

/* in cg_usage's order: cpu, memory, peak, pids, OOM kills */
static const struct kept_knob kept_v1[NKNOBS] = {
	{ CG_CPUACCT, "cpuacct.usage", NULL },
	{ CG_MEMORY, "memory.usage_in_bytes", NULL },
	{ CG_MEMORY, "memory.max_usage_in_bytes", NULL },
	{ CG_PIDS, "pids.current", NULL },
	{ CG_MEMORY, "memory.oom_control", "oom_kill" },
};
static const struct kept_knob kept_v2[NKNOBS] = {
	{ 0, "cpu.stat", "usage_usec" },
	{ 0, "memory.current", NULL },
	{ 0, "memory.peak", NULL },
	{ 0, "pids.current", NULL },
	{ 0, "memory.events", "oom_kill" },
};

static struct kept {
	char id[64];			/* "": free */
	dev_t dev[CG_NDIRS];		/* the directory id was in each hierarchy */
	ino_t ino[CG_NDIRS];
	int fd[NKNOBS];
	unsigned long long used;
} kept[KEPT];
static unsigned long long kept_clock;

static void kept_close(int *fd)
{
	sb_closep(fd);
	*fd = -1;
}

static void kept_drop(struct kept *k)
{
	for (int i = 0; i < NKNOBS; i++)
		if (k->used && k->fd[i] >= 0)
			close(k->fd[i]);
	memset(k, 0, sizeof *k);
	for (int i = 0; i < NKNOBS; i++)
		k->fd[i] = -1;
}

static void kept_drop_all(void)
{
	for (int i = 0; i < KEPT; i++)
		kept_drop(&kept[i]);
}

/* id's entry, or the least recently used one made id's. */
static struct kept *kept_find(const char *id)
{
	struct kept *lru = &kept[0];

	for (int i = 0; i < KEPT; i++) {
		if (kept[i].used && !strcmp(kept[i].id, id))
			return &kept[i];
		if (kept[i].used < lru->used)
			lru = &kept[i];
	}
	kept_drop(lru);
	snprintf(lru->id, sizeof lru->id, "%s", id);
	return lru;
}

/* The files of a hierarchy whose id is not the directory they were opened
 * in any more: closed (opened again by name below). */
static void kept_check(const struct sb_cgroups *cg, struct kept *k, const struct kept_knob *kn)
{
	bool seen[CG_NDIRS] = { false };
	struct stat st;

	for (int i = 0; i < NKNOBS; i++) {
		int d = kn[i].dir;

		if (seen[d])
			continue;
		seen[d] = true;
		if (cg->dir[d] < 0 || fstatat(cg->dir[d], k->id, &st, AT_SYMLINK_NOFOLLOW) < 0)
			st.st_dev = 0, st.st_ino = 0;
		if (st.st_dev == k->dev[d] && st.st_ino == k->ino[d])
			continue;
		for (int j = 0; j < NKNOBS; j++)
			if (kn[j].dir == d)
				kept_close(&k->fd[j]);
		k->dev[d] = st.st_dev;
		k->ino[d] = st.st_ino;
	}
}

static long long kept_read(const struct sb_cgroups *cg, struct kept *k, int i, const struct kept_knob *kn)
{
	char path[256], buf[4096];
	ssize_t n = -1;

	/* one read from the start: a knob's text is one short seq_file
	 * record, read whole (as sb_read_file_at reads it, to cap - 1) */
	if (k->fd[i] >= 0 && (n = pread(k->fd[i], buf, sizeof buf - 1, 0)) < 0)
		kept_close(&k->fd[i]);
	if (k->fd[i] < 0) {
		if (cg->dir[kn->dir] < 0)
			return -1;
		snprintf(path, sizeof path, "%s/%s", k->id, kn->name);
		k->fd[i] = openat(cg->dir[kn->dir], path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (k->fd[i] < 0 || (n = pread(k->fd[i], buf, sizeof buf - 1, 0)) < 0) {
			kept_close(&k->fd[i]);
			return -1;
		}
	}
	buf[n] = '\0';
	return knob_parse(buf, kn->key);
}

int cg_sandbox_usage_kept(struct sb_cgroups *cg, const char *id, struct cg_usage *u)
{
	const struct kept_knob *kn = cg->version == 2 ? kept_v2 : kept_v1;
	long long v[NKNOBS];
	struct kept *k;

	if (!sb_name_safe(id) || strlen(id) >= sizeof k->id)
		return cg_sandbox_usage(cg, id, u);
	memset(u, 0, sizeof *u);
	k = kept_find(id);
	kept_check(cg, k, kn);
	for (int i = 0; i < NKNOBS; i++)
		v[i] = kept_read(cg, k, i, &kn[i]);
	k->used = ++kept_clock;
	u->cpu_usec = cg->version == 2 ? v[0] : v[0] < 0 ? -1 : v[0] / 1000;
	u->memory_current = v[1];
	u->memory_peak = v[2];
	u->pids = (long)v[3];
	u->oom_kills = v[4];
	return u->pids < 0 ? -1 : 0;
}

long long cg_sandbox_oom_kills(struct sb_cgroups *cg, const char *id)
{
	if (!sb_name_safe(id))
		return -1;
	return cg->version == 2 ? knob_read(cg->dir[0], id, "memory.events", "oom_kill")
				: knob_read(cg->dir[CG_MEMORY], id, "memory.oom_control", "oom_kill");
}

/* cgroup.procs is read whole into this many bytes (a pid and a newline
 * each: no sandbox holds that many processes), and lists at most half as
 * many pids. */
#define PROCS_BYTES 65536
#define PROCS_MAX (PROCS_BYTES / 2)

/* The pids listed in the cgroup.procs file dirfd/path, into pids (up to
 * PROCS_MAX; counted only when pids is NULL); -1 when it cannot be read. */
static int read_procs(int dirfd, const char *path, pid_t *pids)
{
	cleanup_free char *buf = malloc(PROCS_BYTES);
	char *p, *end;
	int n = 0;

	if (!buf || sb_read_file_at(dirfd, path, buf, PROCS_BYTES) < 0)
		return -1;
	for (p = buf; *p && n < PROCS_MAX; p = end) {
		long pid = strtol(p, &end, 10);
		if (end == p)
			break;
		if (pid > 0) {
			if (pids)
				pids[n] = (pid_t)pid;
			n++;
		}
		while (*end == '\n')
			end++;
	}
	return n;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

int cg_signal_members(int dirfd, const char *procs, const pid_t *pids, int n, int sig)
{
	enum { BATCH = 64 };	/* pidfds open at once */
	cleanup_free pid_t *now = malloc(PROCS_MAX * sizeof *now);
	int fds[BATCH], sent = 0;

	if (!now)
		return 0;
	for (int at = 0; at < n; at += BATCH) {
		int k = n - at < BATCH ? n - at : BATCH, m;

		/* pin first, then look: a pid listed after its pidfd was
		 * opened is the pidfd's process (alive, or a zombie whose
		 * pid is not free yet); one that has gone since answers the
		 * signal with ESRCH and reaches no one */
		for (int i = 0; i < k; i++)
			fds[i] = sb_pidfd_open(pids[at + i]);
		m = read_procs(dirfd, procs, now);
		if (m > 0)
			qsort(now, (size_t)m, sizeof *now, cmp_pid);
		for (int i = 0; i < k; i++) {
			if (fds[i] < 0)
				continue;
			if (m > 0 && bsearch(&pids[at + i], now, (size_t)m, sizeof *now, cmp_pid) &&
			    sb_pidfd_send_signal(fds[i], sig) == 0)
				sent++;
			close(fds[i]);
		}
	}
	return sent;
}

/* Signal every process listed in cgroup.procs of dirfd/rel and below (by
 * pidfd, as members: see cg_signal_members); returns how many were listed. */
static int signal_tree(const struct sb_cgroups *cg, int dirfd, const char *rel, int sig)
{
	char path[4096];
	cleanup_free pid_t *pids = sig ? malloc(PROCS_MAX * sizeof *pids) : NULL;
	int count = 0, n;
	DIR *d;
	int fd;

	/* only ever below the instance's parent cgroup (dirfd): "", ".." or
	 * "/..." would reach the root cgroup, every process of the host */
	if (!sb_relpath_safe(rel))
		return 0;
	snprintf(path, sizeof path, "%s/cgroup.procs", rel);
	n = read_procs(dirfd, path, pids);
	if (n > 0) {
		count = n;
		if (pids)
			cg->ops->signal(dirfd, path, pids, n, sig);
	}
	fd = openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return count;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return count;
	}
	for (struct dirent *de; (de = readdir(d));) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", rel, de->d_name);
		count += signal_tree(cg, dirfd, path, sig);
	}
	closedir(d);
	return count;
}

/* Ask the freezer (v1 freezer.state, v2 cgroup.freeze) to stop every task
 * of rel, and wait (bounded) until it has. Returns false only when the
 * request itself failed; true means the cgroup is frozen or still freezing
 * (a task in uninterruptible sleep delays it), and either way the caller
 * must thaw it when done. */
static bool freeze(const struct sb_cgroups *cg, int dirfd, const char *rel)
{
	char path[4096], buf[64];

	if (cg->version == 2) {
		if (knob_writef(cg, dirfd, rel, "cgroup.freeze", "1", NULL) < 0)
			return false;
		for (int64_t deadline = sb_mono_ms() + 2000; sb_mono_ms() < deadline; sleep_ms(1))
			if (knob_read(dirfd, rel, "cgroup.events", "frozen") != 0)
				break;
		return true;
	}
	snprintf(path, sizeof path, "%s/freezer.state", rel);
	if (knob_write(cg, dirfd, path, "FROZEN") < 0)
		return false;
	for (int64_t deadline = sb_mono_ms() + 2000; sb_mono_ms() < deadline; sleep_ms(1))
		if (sb_read_file_at(dirfd, path, buf, sizeof buf) < 0 || !strncmp(buf, "FROZEN", 6))
			break;
	return true;
}

/* Whether the kernel says every task of rel is frozen now. */
static bool frozen_now(const struct sb_cgroups *cg, int dirfd, const char *rel)
{
	char path[4096], buf[64];

	if (cg->version == 2)
		return knob_read(dirfd, rel, "cgroup.events", "frozen") > 0;
	snprintf(path, sizeof path, "%s/freezer.state", rel);
	return sb_read_file_at(dirfd, path, buf, sizeof buf) >= 0 && !strncmp(buf, "FROZEN", 6);
}

static void thaw(const struct sb_cgroups *cg, int dirfd, const char *rel)
{
	char path[4096];

	if (cg->version == 2) {
		knob_writef(cg, dirfd, rel, "cgroup.freeze", "0", NULL);
		return;
	}
	snprintf(path, sizeof path, "%s/freezer.state", rel);
	knob_write(cg, dirfd, path, "THAWED");
}

static bool v2_populated(int dirfd, const char *rel)
{
	return knob_read(dirfd, rel, "cgroup.events", "populated") > 0;
}

/* Kill every process of the cgroup rel (and below), wait until it is empty.
 * v2 has the kernel do it (cgroup.kill, 5.14); elsewhere the processes are
 * frozen and signalled by pidfd, as members only: a freeze may not complete
 * (a task in uninterruptible sleep), and the cgroup is thawed before the
 * retries, so a pid read from cgroup.procs may be a recycled one. */
static int kill_rel(const struct sb_cgroups *cg, const char *rel, struct sb_err *err)
{
	int dirfd = procs_dir(cg);

	/* the last guard, whatever the caller checked */
	if (!sb_relpath_safe(rel))
		return sb_fail(err, SB_E_INVALID, EINVAL, "refusing to kill cgroup '%.64s': not inside the instance's tree",
			       rel);
	if (cg->version == 2) {
		if (knob_writef(cg, dirfd, rel, "cgroup.kill", "1", err) == 0) {
			for (int i = 0; i < 5000; i++) {
				if (!v2_populated(dirfd, rel))
					return 0;
				sleep_ms(1);
			}
			return sb_fail(err, SB_E_INTERNAL, EBUSY, "cgroup %s still populated after kill", rel);
		}
		if (errno != ENOENT)
			return -1;
		if (faccessat(dirfd, rel, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
			return 0;	/* no such cgroup: nothing to kill */
		if (err)	/* no cgroup.kill (a kernel before 5.14) */
			sb_err_clear(err);
	}
	bool frozen = freeze(cg, dirfd, rel);

	signal_tree(cg, dirfd, rel, SIGKILL);
	if (frozen)
		thaw(cg, dirfd, rel);
	for (int i = 0; i < 5000; i++) {
		if (signal_tree(cg, dirfd, rel, 0) == 0)
			return 0;
		if (i % 100 == 99)
			signal_tree(cg, dirfd, rel, SIGKILL);
		sleep_ms(1);
	}
	return sb_fail(err, SB_E_INTERNAL, EBUSY, "processes of cgroup %s survive SIGKILL", rel);
}

int cg_exec_signal(struct sb_cgroups *cg, const char *id, const char *name, int sig)
{
	char rel[256];
	int dirfd = procs_dir(cg), n;
	bool frozen;

	if (!names_safe(id, name))
		return 0;
	snprintf(rel, sizeof rel, "%s/%s", id, name);
	frozen = freeze(cg, dirfd, rel);
	n = signal_tree(cg, dirfd, rel, sig);
	if (frozen)
		thaw(cg, dirfd, rel);
	return n;
}

int cg_sandbox_rename(struct sb_cgroups *cg, const char *from, const char *to, struct sb_err *err)
{
	struct stat st;

	if (!sb_name_safe(from) || !sb_name_safe(to))
		return unsafe(err, sb_name_safe(from) ? to : from);
	if (cg->version == 2)
		return sb_fail(err, SB_E_INTERNAL, ENOTSUP, "cgroup2 cannot rename a cgroup");
	FOR_EACH_DIR(cg, i) {
		if (renameat(cg->dir[i], from, cg->dir[i], to) == 0)
			continue;
		/* two controllers in one hierarchy (cpu,cpuacct): done already */
		if (errno == ENOENT && fstatat(cg->dir[i], to, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    fstatat(cg->dir[i], from, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		return sb_syserr(err, "rename cgroup %s to %s", from, to);
	}
	return 0;
}

int cg_sandbox_freeze(struct sb_cgroups *cg, const char *id, bool frozen, struct sb_err *err)
{
	if (!sb_name_safe(id))
		return unsafe(err, id);
	if (!frozen) {
		thaw(cg, procs_dir(cg), id);
		return 0;
	}
	if (!freeze(cg, procs_dir(cg), id))
		return sb_syserr(err, "freeze sandbox %s", id);
	/* still freezing after the wait (a task in uninterruptible sleep):
	 * a copy now would be of files still being written, so the caller
	 * gets nothing frozen, never a freeze in name only */
	if (!frozen_now(cg, procs_dir(cg), id) || sb_fault_hit("freeze-incomplete")) {
		thaw(cg, procs_dir(cg), id);
		return sb_fail(err, SB_E_BUSY, EBUSY, "sandbox %s did not freeze within 2 s (a process of it "
			       "in uninterruptible sleep?): nothing was copied and it runs on; try again later",
			       id);
	}
	return 0;
}

/* Whether controller list `ctrls` ("a,b,c", up to end) names ctrl. */
static bool ctrl_listed(const char *ctrls, const char *end, const char *ctrl)
{
	size_t n = strlen(ctrl);

	for (const char *p = ctrls; p < end;) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		const char *e = c ? c : end;
		if ((size_t)(e - p) == n && !memcmp(p, ctrl, n))
			return true;
		p = e + 1;
	}
	return false;
}

int cg_sandbox_of(struct sb_cgroups *cg, pid_t pid, char *id, size_t len)
{
	char path[64], buf[4096];

	snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
	if (sb_read_file_at(AT_FDCWD, path, buf, sizeof buf) < 0)
		return -1;
	/* "N:ctrl,ctrl:/path" lines (v1), "0::/path" (v2): the line of the
	 * hierarchy that holds the processes, its last component */
	for (char *line = buf, *next; line && *line; line = next) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL, *name;
		struct stat st;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!c2 || (cg->version == 2 ? c2 != c1 + 1 : !ctrl_listed(c1 + 1, c2, v1_ctrl[CG_FREEZER])))
			continue;
		name = strrchr(c2 + 1, '/');
		if (!name || !sb_name_safe(++name) || strlen(name) >= len ||
		    fstatat(procs_dir(cg), name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			return -1;
		snprintf(id, len, "%s", name);
		return 0;
	}
	return -1;
}

/* The ppid in a /proc/PID/stat line (after the comm's last ')'). */
static pid_t stat_ppid(pid_t pid)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (sb_read_file_at(AT_FDCWD, path, buf, sizeof buf) <= 0 || !(p = strrchr(buf, ')')))
		return -1;
	return (pid_t)strtol(p + 3, NULL, 10);	/* ") S ppid" */
}

pid_t cg_sandbox_init(struct sb_cgroups *cg, const char *id)
{
	char path[300], buf[16384], comm[32], *p, *end;
	pid_t pids[1024], found = 0;
	int n = 0;

	if (!sb_name_safe(id))
		return 0;
	snprintf(path, sizeof path, "%s/cgroup.procs", id);
	if (sb_read_file_at(procs_dir(cg), path, buf, sizeof buf) <= 0)
		return 0;
	for (p = buf; *p && n < (int)(sizeof pids / sizeof *pids); p = end) {
		long v = strtol(p, &end, 10);
		if (end == p)
			break;
		pids[n++] = (pid_t)v;
		while (*end == '\n')
			end++;
	}
	for (int i = 0; i < n; i++) {
		pid_t pp;
		bool child = false;

		snprintf(path, sizeof path, "/proc/%d/comm", (int)pids[i]);
		if (sb_read_file_at(AT_FDCWD, path, comm, sizeof comm) <= 0 || strcmp(comm, "sandbox-init\n"))
			continue;
		/* a child of the init (a clone or file-op helper) has it there */
		pp = stat_ppid(pids[i]);
		for (int j = 0; j < n && !child; j++)
			child = pids[j] == pp;
		if (child || pp < 0)
			continue;
		if (found)
			return 0;	/* two: neither is named */
		found = pids[i];
	}
	return found;
}

int cg_sandbox_kill(struct sb_cgroups *cg, const char *id, struct sb_err *err)
{
	if (!sb_name_safe(id))
		return unsafe(err, id);
	return kill_rel(cg, id, err);
}

int cg_exec_open(struct sb_cgroups *cg, const char *id, const char *name, struct sb_err *err)
{
	char rel[256], path[300];
	int fd;

	if (!names_safe(id, name))
		return unsafe(err, sb_name_safe(id) ? name : id);
	snprintf(rel, sizeof rel, "%s/%s", id, name);
	snprintf(path, sizeof path, "%s/cgroup.procs", rel);
	/* a worker's exec cgroup stays between its execs: made on the first */
	fd = cg->ops->open_procs(procs_dir(cg), path);
	if (fd < 0 && errno == ENOENT) {
		if (mkdirat(procs_dir(cg), rel, 0755) < 0 && errno != EEXIST)
			return sb_syserr(err, "mkdir exec cgroup %s", rel);
		fd = cg->ops->open_procs(procs_dir(cg), path);
	}
	if (fd < 0)
		return sb_syserr(err, "open %s", path);
	return fd;
}

int cg_exec_kill(struct sb_cgroups *cg, const char *id, const char *name, struct sb_err *err)
{
	char rel[256];

	if (!names_safe(id, name))
		return unsafe(err, sb_name_safe(id) ? name : id);
	snprintf(rel, sizeof rel, "%s/%s", id, name);
	return kill_rel(cg, rel, err);
}

void cg_exec_remove(struct sb_cgroups *cg, const char *id, const char *name)
{
	char rel[256];

	if (!names_safe(id, name))
		return;
	snprintf(rel, sizeof rel, "%s/%s", id, name);
	/* EBUSY while a process lives in it (a detached child): it stays */
	unlinkat(procs_dir(cg), rel, AT_REMOVEDIR);
}

int cg_exec_release(struct sb_cgroups *cg, const char *id, const char *name)
{
	char rel[256], path[300], buf[65536], *p, *end;
	int ret = -1;

	if (!names_safe(id, name))
		return -1;
	snprintf(rel, sizeof rel, "%s/%s", id, name);
	snprintf(path, sizeof path, "%s/cgroup.procs", rel);
	if (sb_read_file_at(procs_dir(cg), path, buf, sizeof buf) <= 0)
		return 0;	/* the common case: nothing left behind */
	/* frozen while we move them: no pid read here can exit and be reused
	 * by a process of the host before we write it (unless the freeze
	 * does not complete: a pid can only be written, not pinned) */
	freeze(cg, procs_dir(cg), rel);
	for (int round = 0; round < 16; round++) {
		if (sb_read_file_at(procs_dir(cg), path, buf, sizeof buf) <= 0) {
			ret = 0;
			break;
		}
		for (p = buf; *p; p = end) {
			long pid = strtol(p, &end, 10);
			if (end == p)
				break;
			enter(cg, procs_dir(cg), id, (pid_t)pid, NULL);
			while (*end == '\n')
				end++;
		}
	}
	thaw(cg, procs_dir(cg), rel);
	return ret;
}

static void remove_tree(int dirfd, const char *rel)
{
	char path[4096];
	int fd;
	DIR *d;

	if (!sb_relpath_safe(rel))
		return;	/* never remove outside the instance's parent */
	fd = openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	d = fd >= 0 ? fdopendir(fd) : NULL;

	if (d) {
		for (struct dirent *de; (de = readdir(d));) {
			if (de->d_type != DT_DIR || de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s/%s", rel, de->d_name);
			remove_tree(dirfd, path);
		}
		closedir(d);
	} else if (fd >= 0) {
		close(fd);
	}
	unlinkat(dirfd, rel, AT_REMOVEDIR);
}

int cg_sandbox_destroy(struct sb_cgroups *cg, const char *id, struct sb_err *err)
{
	if (!sb_name_safe(id))
		return unsafe(err, id);
	if (kill_rel(cg, id, err) < 0)
		return -1;
	FOR_EACH_DIR(cg, i) {
		remove_tree(cg->dir[i], id);
		/* a directory left has something in it still: never reused */
		if (faccessat(cg->dir[i], id, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			return sb_fail(err, SB_E_INTERNAL, EBUSY, "cgroup %s stays after its processes were killed", id);
	}
	return 0;
}

/* Names of the sandbox cgroups (directories) below the parent. */
static int list_sandboxes(const struct sb_cgroups *cg, char names[][64], int max)
{
	int fd = openat(procs_dir(cg), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	int n = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	for (struct dirent *de; (de = readdir(d)) && n < max;) {
		/* "." and "..", not a warm sandbox's ".w..." */
		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    strlen(de->d_name) >= 64)
			continue;
		strcpy(names[n++], de->d_name);
	}
	closedir(d);
	return n;
}

#define MAX_LISTED 4096

void cg_exec_reap_all(struct sb_cgroups *cg, const char *name)
{
	static char names[MAX_LISTED][64];
	int n = list_sandboxes(cg, names, MAX_LISTED);
	char rel[256];

	if (!sb_name_safe(name))
		return;
	for (int i = 0; i < n; i++) {
		snprintf(rel, sizeof rel, "%.63s/%.150s", names[i], name);
		if (faccessat(procs_dir(cg), rel, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		kill_rel(cg, rel, NULL);
		unlinkat(procs_dir(cg), rel, AT_REMOVEDIR);
	}
}

/* "e" and digits: an exec cgroup's name */
static bool exec_name(const char *name)
{
	return name[0] == 'e' && name[1] && strspn(name + 1, "0123456789") == strlen(name + 1);
}

int cg_exec_reap_every(struct sb_cgroups *cg)
{
	static char names[MAX_LISTED][64];
	int n = list_sandboxes(cg, names, MAX_LISTED), reaped = 0;
	char rel[256];

	for (int i = 0; i < n; i++) {
		int fd = openat(procs_dir(cg), names[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

		if (!d) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		for (struct dirent *de; (de = readdir(d));) {
			if (de->d_type != DT_DIR || !exec_name(de->d_name) || strlen(de->d_name) > 32)
				continue;
			snprintf(rel, sizeof rel, "%.63s/%s", names[i], de->d_name);
			kill_rel(cg, rel, NULL);
			unlinkat(procs_dir(cg), rel, AT_REMOVEDIR);
			reaped++;
		}
		closedir(d);
	}
	return reaped;
}

int cg_destroy_all(struct sb_cgroups *cg, const char *root, const char *parent)
{
	static char names[MAX_LISTED][64];
	int n = list_sandboxes(cg, names, MAX_LISTED);
	char path[4096];
	int ret = 0;

	for (int i = 0; i < n; i++) {
		kill_rel(cg, names[i], NULL);
		FOR_EACH_DIR(cg, j)
			remove_tree(cg->dir[j], names[i]);
	}
	cg_close(cg);
	for (int i = 0; i < (cg->version == 2 ? 1 : CG_NDIRS); i++) {
		if (cg->version == 2)
			snprintf(path, sizeof path, "%s/%s", root, parent);
		else
			snprintf(path, sizeof path, "%s/%s/%s", root, v1_ctrl[i], parent);
		if (rmdir(path) < 0 && errno != ENOENT)
			ret = -1;
	}
	return ret;
}

/* cgroup2's superblock flags: a reconfigure sets exactly those it is given */
static const char *const v2_flags[] = {
	"nsdelegate", "favordynmods", "memory_localevents", "memory_recursiveprot",
	"memory_hugetlb_accounting", "pids_localevents",
};

static bool has_flag(const char *opts, const char *flag)
{
	size_t n = strlen(flag);

	for (const char *p = opts; (p = strstr(p, flag)); p += n)
		if ((p == opts || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

/* The first cgroup2 mount in our mount table: its mount point and
 * superblock options. */
static int find_cgroup2(char *mnt, size_t mlen, char *opts, size_t olen)
{
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int found = 0;

	if (!f)
		return -1;
	while (!found && fgets(line, sizeof line, f)) {
		char *sep = strstr(line, " - "), fstype[32], src[256], so[1024], point[1024];
		if (!sep || sscanf(sep + 3, "%31s %255s %1023s", fstype, src, so) != 3 ||
		    strcmp(fstype, "cgroup2") != 0 ||
		    sscanf(line, "%*s %*s %*s %*s %1023s", point) != 1)
			continue;
		snprintf(mnt, mlen, "%s", point);
		snprintf(opts, olen, "%s", so);
		found = 1;
	}
	fclose(f);
	return found;
}

int cg_favor_dynmods(struct sb_err *err)
{
	char mnt[1024], opts[1024];
	cleanup_close int fs = -1;
	int r = find_cgroup2(mnt, sizeof mnt, opts, sizeof opts);

	if (r <= 0)
		return 0;	/* no cgroup2 mounted: nothing to tune */
	if (has_flag(opts, "favordynmods"))
		return 0;
	fs = fspick(AT_FDCWD, mnt, FSPICK_CLOEXEC);
	if (fs < 0)
		return sb_syserr(err, "fspick %s", mnt);
	for (size_t i = 0; i < sizeof v2_flags / sizeof *v2_flags; i++)
		if ((has_flag(opts, v2_flags[i]) || !strcmp(v2_flags[i], "favordynmods")) &&
		    fsconfig(fs, FSCONFIG_SET_FLAG, v2_flags[i], NULL, 0) < 0)
			return sb_syserr(err, "cgroup2 option %s", v2_flags[i]);
	if (fsconfig(fs, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) < 0)
		return sb_syserr(err, "reconfigure cgroup2 at %s", mnt);
	return 1;
}
