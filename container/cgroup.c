#include "config.h"

#include "cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define CG_ROOT "/sys/fs/cgroup"

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int mkdir_p_at(int dirfd, const char *rel, struct sb_err *err)
{
	char buf[4096], *p;

	if (strlen(rel) >= sizeof buf)
		return sb_fail(err, 500, ENAMETOOLONG, "cgroup path too long");
	strcpy(buf, rel);
	for (p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdirat(dirfd, buf, 0755) < 0 && errno != EEXIST)
				return sb_syserr(err, "mkdir cgroup %s", buf);
			*p = c;
			if (!c)
				break;
		}
	}
	return 0;
}

static int open_ctrl(const char *ctrl, const char *parent, struct sb_err *err)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof path, CG_ROOT "/%s", ctrl);
	int root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return sb_syserr(err, "open %s (cgroup v1 %s hierarchy needed)", path, ctrl);
	if (mkdir_p_at(root, parent, err) < 0) {
		close(root);
		return -1;
	}
	fd = openat(root, parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	close(root);
	if (fd < 0)
		return sb_syserr(err, "open cgroup %s/%s", ctrl, parent);
	return fd;
}

int cg_open(struct sb_cgroups *cg, const char *parent, struct sb_err *err)
{
	cg->freezer = open_ctrl("freezer", parent, err);
	if (cg->freezer < 0)
		return -1;
	cg->pids = open_ctrl("pids", parent, err);
	if (cg->pids < 0) {
		close(cg->freezer);
		cg->freezer = -1;
		return -1;
	}
	return 0;
}

void cg_close(struct sb_cgroups *cg)
{
	if (cg->freezer >= 0)
		close(cg->freezer);
	if (cg->pids >= 0)
		close(cg->pids);
	cg->freezer = cg->pids = -1;
}

int cg_sandbox_create(struct sb_cgroups *cg, const char *id, long pids_max, struct sb_err *err)
{
	char path[128], val[32];

	if (mkdirat(cg->freezer, id, 0755) < 0 && errno != EEXIST)
		return sb_syserr(err, "mkdir freezer cgroup of %s", id);
	if (mkdirat(cg->pids, id, 0755) < 0 && errno != EEXIST)
		return sb_syserr(err, "mkdir pids cgroup of %s", id);
	if (pids_max > 0) {
		snprintf(path, sizeof path, "%s/pids.max", id);
		snprintf(val, sizeof val, "%ld", pids_max);
		if (sb_write_file_at(cg->pids, path, val) < 0)
			return sb_syserr(err, "set pids.max of %s", id);
	}
	return 0;
}

static int enter(int dirfd, const char *rel, pid_t pid, struct sb_err *err)
{
	char path[4096], val[24];

	snprintf(path, sizeof path, "%s/cgroup.procs", rel);
	snprintf(val, sizeof val, "%d", (int)pid);
	if (sb_write_file_at(dirfd, path, val) < 0)
		return sb_syserr(err, "enter cgroup %s", rel);
	return 0;
}

int cg_sandbox_enter(struct sb_cgroups *cg, const char *id, pid_t pid, struct sb_err *err)
{
	if (enter(cg->pids, id, pid, err) < 0 || enter(cg->freezer, id, pid, err) < 0)
		return -1;
	return 0;
}

int cg_exec_enter(struct sb_cgroups *cg, const char *id, const char *name, pid_t pid,
		  struct sb_err *err)
{
	char rel[256];

	snprintf(rel, sizeof rel, "%s/%s", id, name);
	if (mkdirat(cg->freezer, rel, 0755) < 0 && errno != EEXIST)
		return sb_syserr(err, "mkdir exec cgroup %s", rel);
	return enter(cg->freezer, rel, pid, err);
}

/* Signal every process listed in cgroup.procs of dirfd/rel and below;
 * returns how many were listed. */
static int signal_tree(int dirfd, const char *rel, int sig)
{
	char path[4096], buf[65536], *p, *end;
	int count = 0;
	DIR *d;
	int fd;

	snprintf(path, sizeof path, "%s/cgroup.procs", rel);
	if (sb_read_file_at(dirfd, path, buf, sizeof buf) >= 0) {
		for (p = buf; *p; p = end) {
			long pid = strtol(p, &end, 10);
			if (end == p)
				break;
			if (pid > 0) {
				if (sig)
					kill((pid_t)pid, sig);
				count++;
			}
			while (*end == '\n')
				end++;
		}
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
		count += signal_tree(dirfd, path, sig);
	}
	closedir(d);
	return count;
}

static int set_freezer(int dirfd, const char *rel, const char *state)
{
	char path[4096], buf[64];

	snprintf(path, sizeof path, "%s/freezer.state", rel);
	if (sb_write_file_at(dirfd, path, state) < 0)
		return -1;
	if (strcmp(state, "FROZEN") != 0)
		return 0;
	/* FREEZING until every task has stopped; bounded wait */
	for (int i = 0; i < 2000; i++) {
		if (sb_read_file_at(dirfd, path, buf, sizeof buf) < 0)
			return -1;
		if (strncmp(buf, "FROZEN", 6) == 0)
			return 0;
		sleep_ms(1);
	}
	errno = ETIMEDOUT;
	return -1;
}

/* Freeze, SIGKILL everything, thaw, wait until empty. */
static int kill_tree(int dirfd, const char *rel, struct sb_err *err)
{
	int frozen = set_freezer(dirfd, rel, "FROZEN") == 0;

	signal_tree(dirfd, rel, SIGKILL);
	if (frozen)
		set_freezer(dirfd, rel, "THAWED");
	for (int i = 0; i < 5000; i++) {
		if (signal_tree(dirfd, rel, 0) == 0)
			return 0;
		if (i % 100 == 99)
			signal_tree(dirfd, rel, SIGKILL);
		sleep_ms(1);
	}
	return sb_fail(err, 500, EBUSY, "processes of cgroup %s survive SIGKILL", rel);
}

int cg_exec_kill(struct sb_cgroups *cg, const char *id, const char *name, struct sb_err *err)
{
	char rel[256];

	snprintf(rel, sizeof rel, "%s/%s", id, name);
	return kill_tree(cg->freezer, rel, err);
}

int cg_exec_release(struct sb_cgroups *cg, const char *id, const char *name)
{
	char path[256], buf[65536], *p, *end;

	snprintf(path, sizeof path, "%s/%s/cgroup.procs", id, name);
	/* a process forking while we move it leaves a child behind: repeat */
	for (int round = 0; round < 16; round++) {
		if (sb_read_file_at(cg->freezer, path, buf, sizeof buf) <= 0)
			return 0;
		for (p = buf; *p; p = end) {
			long pid = strtol(p, &end, 10);
			if (end == p)
				break;
			enter(cg->freezer, id, (pid_t)pid, NULL);
			while (*end == '\n')
				end++;
		}
	}
	return -1;
}

static void remove_tree(int dirfd, const char *rel)
{
	char path[4096];
	int fd = openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

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

void cg_exec_reap_all(struct sb_cgroups *cg, const char *name)
{
	char rel[512];
	int fd = openat(cg->freezer, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	for (struct dirent *de; (de = readdir(d));) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(rel, sizeof rel, "%s/%s", de->d_name, name);
		if (faccessat(cg->freezer, rel, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		kill_tree(cg->freezer, rel, NULL);
		unlinkat(cg->freezer, rel, AT_REMOVEDIR);
	}
	closedir(d);
}

/* Call fn on every sandbox cgroup directory below dirfd. */
static void for_each_sandbox(int dirfd, void (*fn)(int dirfd, const char *id))
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	for (struct dirent *de; (de = readdir(d));)
		if (de->d_type == DT_DIR && de->d_name[0] != '.')
			fn(dirfd, de->d_name);
	closedir(d);
}

static void kill_and_remove(int dirfd, const char *id)
{
	kill_tree(dirfd, id, NULL);
	remove_tree(dirfd, id);
}

int cg_destroy_all(struct sb_cgroups *cg, const char *parent)
{
	static const char *const ctrls[] = { "freezer", "pids" };
	char path[4096];
	int ret = 0;

	for_each_sandbox(cg->freezer, kill_and_remove);
	for_each_sandbox(cg->pids, remove_tree);
	cg_close(cg);
	for (size_t i = 0; i < sizeof ctrls / sizeof *ctrls; i++) {
		snprintf(path, sizeof path, CG_ROOT "/%s/%s", ctrls[i], parent);
		if (rmdir(path) < 0 && errno != ENOENT)
			ret = -1;
	}
	return ret;
}
