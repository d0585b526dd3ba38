/* The files the workers map MAP_SHARED (DATA/run/quota, LMDB's lock
 * files) on a full file system: a store into a page of them never written
 * before must not be a SIGBUS (it was: made sparse by ftruncate, a page
 * got its block only at its first store).  On a small tmpfs of the test's
 * own (in a mount namespace of its own), filled: a quota slot past the
 * first page takes a request, 100 readers at once take their reader slots
 * (past the lock file's first page), each in a child whose end says
 * whether it died of a signal; a file an older build left sparse fails its
 * open with ENOSPC (the service's start then refuses, t/0099). */
#define _GNU_SOURCE
#include "config.h"

#include "conf.h"
#include "kv.h"
#include "quota.h"
#include "tap.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char root[] = "/tmp/sbd-unit-fullmap.XXXXXX";

static void fill(void)
{
	static char buf[65536];
	char path[128];
	int fd;

	snprintf(path, sizeof path, "%s/filler", root);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	while (fd >= 0 && write(fd, buf, sizeof buf) > 0)
		;
	while (fd >= 0 && write(fd, buf, 1) > 0)
		;
	if (fd >= 0)
		close(fd);
}

/* fn in a child: its wait status */
static int in_child(int (*fn)(void))
{
	int st = 0;
	pid_t pid = fork();

	if (pid == 0)
		_exit(fn());
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return st;
}

static int quota_far_slot(void)
{
	struct sb_err err = SB_ERR_INIT;
	static struct conf c;	/* no caps: the slot is taken */

	if (quota_open(root, &err) < 0)
		return 2;
	/* slot 100: 136 bytes a slot, the file's fourth page */
	if (quota_enter(100, &c, "tenant", "sb", &err) < 0)
		return 3;
	quota_leave(100);
	return 0;
}

static int many_readers(void)
{
	struct sb_err err = SB_ERR_INIT;
	static const char *const names[] = { "d" };
	MDB_txn *txn[100];
	char dir[128];
	MDB_env *env;
	MDB_dbi dbi;

	snprintf(dir, sizeof dir, "%s/db", root);
	if (kv_open(&env, dir, 1 << 20, 0, names, &dbi, 1, &err) < 0)
		return 2;
	/* MDB_NOTLS: each read transaction alive at once has a reader slot */
	for (int i = 0; i < 100; i++)
		if (kv_begin(env, MDB_RDONLY, &txn[i], &err) < 0)
			return 3;
	for (int i = 0; i < 100; i++)
		mdb_txn_abort(txn[i]);
	mdb_env_close(env);
	return 0;
}

/* LMDB's shared lock on its lock file, byte 0, held by each process that
 * has the environment open: a close of any fd of the file in that process
 * drops it, and an open elsewhere then takes the file for unused and
 * re-initialises its mutexes. */
static int lock_held(void)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
	char path[128];
	int fd;

	snprintf(path, sizeof path, "%s/db/lock.mdb", root);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fcntl(fd, F_GETLK, &fl) < 0)
		return 2;
	return fl.l_type == F_UNLCK ? 1 : 0;
}

static const char *said(int st)
{
	static char buf[64];

	if (WIFSIGNALED(st))
		snprintf(buf, sizeof buf, "killed by %s", strsignal(WTERMSIG(st)));
	else
		snprintf(buf, sizeof buf, "exit %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	return buf;
}

int main(void)
{
	struct sb_err err = SB_ERR_INIT;
	static const char *const names[] = { "d" };
	char path[128];
	MDB_env *env;
	MDB_dbi dbi;
	int st;

	if (geteuid() != 0 || !mkdtemp(root)) {
		printf("1..0 # SKIP needs root (a tmpfs of its own)\n");
		return 0;
	}
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("t", root, "tmpfs", 0, "size=2m,mode=0700") < 0) {
		printf("1..0 # SKIP no tmpfs of its own: %s\n", strerror(errno));
		rmdir(root);
		return 0;
	}
	snprintf(path, sizeof path, "%s/run", root);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/db", root);
	mkdir(path, 0700);

	/* made with room, then the disk fills */
	ok(quota_open(root, &err) == 0, "the quota slots are made (%s)", err.msg);
	quota_close();
	ok(kv_open(&env, path, 1 << 20, 0, names, &dbi, 1, &err) == 0, "an LMDB store is made (%s)", err.msg);
	st = in_child(lock_held);
	ok(st == 0, "  and its opener still holds LMDB's lock on the lock file (%s): no open of ours dropped it",
	   said(st));
	if (env)
		mdb_env_close(env);
	fill();
	st = in_child(quota_far_slot);
	ok(st == 0, "full disk: a quota slot past the file's first page takes a request (%s)", said(st));
	st = in_child(many_readers);
	ok(st == 0, "full disk: 100 readers at once take their LMDB reader slots (%s)", said(st));

	/* a quota file an older build left sparse (ftruncate), the disk full */
	snprintf(path, sizeof path, "%s/run/quota", root);
	unlink(path);
	st = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ok(st >= 0 && ftruncate(st, 4096 * 136) == 0, "a sparse quota file as an older build made it");
	if (st >= 0)
		close(st);
	fill();	/* what the old file held */
	memset(&err, 0, sizeof err);
	ok(quota_open(root, &err) < 0 && err.errnum == ENOSPC,
	   "full disk: opening it fails with ENOSPC, not a mapping with holes (%s)", err.msg);
	quota_close();

	umount2(root, MNT_DETACH);
	rmdir(root);
	return done_testing();
}
