/* A fake tree under a temporary directory `root` (a cgroupfs stand-in),
 * for the unit tests that must watch what a function writes there: read,
 * write and make files by their path relative to root, remove the tree;
 * and the cgroup code's way to it (fake_cgroupfs, for cg_open_ops): a knob
 * is a plain file made as it is written, and no process is ever signalled. */
#ifndef SBD_T_FAKETREE_H
#define SBD_T_FAKETREE_H

#include "cgroup.h"
#include "util.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static char root[64];

static const char *slurp(const char *rel)
{
	static char buf[4096];
	char path[512];

	snprintf(path, sizeof path, "%s/%s", root, rel);
	if (sb_read_file_at(AT_FDCWD, path, buf, sizeof buf) < 0)
		return NULL;
	return buf;
}

/* The tree and all in it, at the end. */
static void remove_root(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", root);
}

static void put(const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", root, rel);
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static int fake_write(int dirfd, const char *path, const char *val)
{
	return sb_write_file_atf(dirfd, path, val, O_CREAT | O_TRUNC);
}

static int fake_open_procs(int dirfd, const char *path)
{
	return openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_CREAT, 0644);
}

/* The pids listed are not ours to signal (made up, or the host's): a
 * SIGKILL only takes them off the list, as the kernel would once they died. */
static int fake_signal(int dirfd, const char *procs, const pid_t *pids, int n, int sig)
{
	(void)pids;
	if (sig == SIGKILL)
		sb_write_file_atf(dirfd, procs, "", O_TRUNC);
	return n;
}

static const struct cg_ops fake_cgroupfs = {
	.write = fake_write,
	.open_procs = fake_open_procs,
	.signal = fake_signal,
};

#endif
