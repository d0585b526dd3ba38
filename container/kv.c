#include "config.h"

#include "kv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int kv_fail(struct sb_err *err, int rc, const char *what)
{
	/* a full map or a full host disk: like any other lack of room */
	enum sb_err_kind kind = rc == MDB_MAP_FULL ? SB_E_NO_SPACE : rc > 0 ? sb_errno_kind(rc) : SB_E_INTERNAL;

	return sb_fail(err, kind, 0, "lmdb %s: %s", what, mdb_strerror(rc));
}

int kv_begin(MDB_env *env, unsigned flags, MDB_txn **txn, struct sb_err *err)
{
	int rc = mdb_txn_begin(env, NULL, flags, txn);

	if (rc) {
		*txn = NULL;
		return kv_fail(err, rc, flags & MDB_RDONLY ? "read" : "begin");
	}
	return 0;
}

int kv_commit(MDB_txn **txn, struct sb_err *err)
{
	int rc = mdb_txn_commit(*txn);

	*txn = NULL;
	return rc ? kv_fail(err, rc, "commit") : 0;
}

/* LMDB makes its lock file (the reader table and the writer's lock) by
 * ftruncate, sparse, and maps it MAP_SHARED: its first page gets blocks
 * when the environment is set up, a reader slot on a later page (past
 * about 60 reader processes) only at its first store, which on a full
 * file system is a SIGBUS.  So every block of it is allocated once it is
 * open (then it stays allocated; one an older build left sparse gets them
 * at its next open); a file system too full for that fails the open with
 * ENOSPC.  The data file needs nothing of the kind: without MDB_WRITEMAP
 * LMDB writes it with pwrite, which fails with ENOSPC (and maps it
 * read-only).
 *
 * Never by an fd of this process: LMDB tells whether it is the only user
 * (and so sets the lock file up afresh, its mutexes too) by POSIX record
 * locks, which a close of ANY fd of the file drops: a later open would
 * then re-initialise mutexes other processes hold (a worker's SIGSEGV in
 * pthread_mutex_unlock, seen).  A stat says whether anything is missing
 * (the common case: nothing); a child allocates it. */
static int lock_allocate(MDB_env *env, unsigned flags)
{
	const char *dir = NULL;
	char path[PATH_MAX];
	struct stat st;
	int status;
	pid_t pid;

	if (mdb_env_get_path(env, &dir) || !dir)
		return EINVAL;
	snprintf(path, sizeof path, flags & MDB_NOSUBDIR ? "%s-lock" : "%s/lock.mdb", dir);
	if (stat(path, &st) < 0)
		return errno;
	if (st.st_blocks * 512 >= st.st_size)
		return 0;
	pid = fork();
	if (pid < 0)
		return errno;
	if (pid == 0) {
		int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		_exit(fd < 0 ? errno : posix_fallocate(fd, 0, st.st_size));
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : EIO;
}

int kv_open(MDB_env **env, const char *dir, size_t mapsize, unsigned flags,
	    const char *const *names, MDB_dbi *dbis, int n, struct sb_err *err)
{
	MDB_txn *txn;
	int rc, dead;

	if ((rc = mdb_env_create(env))) {
		*env = NULL;
		return kv_fail(err, rc, "env create");
	}
	/* one more: a database an older build kept, opened to be dropped
	 * (store.c, runtime_split) */
	mdb_env_set_maxdbs(*env, (MDB_dbi)n + 1);
	mdb_env_set_mapsize(*env, mapsize);
	if ((rc = mdb_env_open(*env, dir, MDB_NOTLS | flags, 0600)) || (rc = lock_allocate(*env, flags)))
		goto fail;
	/* reader slots of processes that were killed mid-transaction */
	mdb_reader_check(*env, &dead);
	if ((rc = mdb_txn_begin(*env, NULL, 0, &txn)))
		goto fail;
	for (int i = 0; i < n; i++)
		if ((rc = mdb_dbi_open(txn, names[i], MDB_CREATE, &dbis[i]))) {
			mdb_txn_abort(txn);
			goto fail;
		}
	if ((rc = mdb_txn_commit(txn)))
		goto fail;
	return 0;
fail:
	mdb_env_close(*env);
	*env = NULL;
	return kv_fail(err, rc, dir);
}

int kv_scan(MDB_env *env, MDB_dbi dbi, const void *prefix, size_t plen,
	    bool (*fn)(const MDB_val *k, const MDB_val *v, void *arg), void *arg, struct sb_err *err)
{
	MDB_val k = { plen, (void *)prefix }, v;
	MDB_cursor *cur;
	MDB_txn *txn;
	int rc;

	if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)))
		return kv_fail(err, rc, "read");
	if ((rc = mdb_cursor_open(txn, dbi, &cur))) {
		mdb_txn_abort(txn);
		return kv_fail(err, rc, "cursor");
	}
	for (rc = mdb_cursor_get(cur, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		if (k.mv_size < plen || (plen && memcmp(k.mv_data, prefix, plen)) || !fn(&k, &v, arg))
			break;
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return 0;
}

int kv_put(MDB_env *env, MDB_dbi dbi, const char *key, const char *val, struct sb_err *err)
{
	MDB_val k = { strlen(key), (void *)key }, v = { strlen(val), (void *)val };
	MDB_txn *txn;
	int rc;

	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)))
		return kv_fail(err, rc, "begin");
	if ((rc = mdb_put(txn, dbi, &k, &v, 0))) {
		mdb_txn_abort(txn);
		return kv_fail(err, rc, "put");
	}
	if ((rc = mdb_txn_commit(txn)))
		return kv_fail(err, rc, "commit");
	return 0;
}
