#include "config.h"

#include "store.h"
#include "kv.h"
#include "netpolicy.h"

#include <json-c/json.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void json_putp(struct json_object **o)
{
	json_object_put(*o);
}
#define cleanup_json __attribute__((cleanup(json_putp)))

/* The inits' runtime state (store.h): an environment of its own, never
 * synced, DATA/db/run/<boot id>.  An fdatasync per start would protect
 * nothing: after a crash of the host every init is dead, and after a crash
 * of a process the page cache keeps the write.  The records stay in the
 * synced environment: a NOSYNC commit followed by a host crash may tear an
 * environment whole (its meta page on disk before its data pages), which
 * is why this one is never read after a boot but its own. */
static int decode(const MDB_val *v, struct sb_record *r);
static int record_get(struct store *s, MDB_txn *txn, const char *id, struct sb_record *r, struct sb_err *err);

/* A key as a C string in buf (false: too long for it, or empty). */
static bool key_str(const MDB_val *k, char *buf, size_t len)
{
	if (k->mv_size == 0 || k->mv_size >= len)
		return false;
	memcpy(buf, k->mv_data, k->mv_size);
	buf[k->mv_size] = '\0';
	return true;
}

struct run_init {
	int64_t pid;
	uint64_t start;
	int64_t active_ms;	/* the start's (the record keeps the requests') */
};

#define RUN_MAP_BYTES (32u << 20)

/* A uid base as a key: big-endian, so the keys sort as the slots. */
struct ukey {
	unsigned char b[4];
};

static MDB_val ukey(struct ukey *k, uid_t base)
{
	uint32_t u = (uint32_t)base;

	k->b[0] = (unsigned char)(u >> 24);
	k->b[1] = (unsigned char)(u >> 16);
	k->b[2] = (unsigned char)(u >> 8);
	k->b[3] = (unsigned char)u;
	return (MDB_val){ sizeof k->b, k->b };
}

/* The slots index (main environment): uid base -> the activity and id of
 * the record that owns it, for every record (kept by every record write,
 * encode_put; gone with the record).  It names the runtime entries' owners
 * for the capacity scan, which reads the inits that may run, not every
 * record. */
static int slot_put(MDB_txn *txn, MDB_dbi dbi, const char *id, const struct sb_record *r)
{
	char buf[sizeof(int64_t) + 64];
	size_t n = strlen(id);
	struct ukey kb;
	MDB_val k = ukey(&kb, r->uid_base), v = { sizeof(int64_t) + n, buf };

	if (n > 64)
		n = 64;
	v.mv_size = sizeof(int64_t) + n;
	memcpy(buf, &r->active_ms, sizeof(int64_t));
	memcpy(buf + sizeof(int64_t), id, n);
	return mdb_put(txn, dbi, &k, &v, 0);
}

static int slot_del(MDB_txn *txn, MDB_dbi dbi, uid_t base)
{
	struct ukey kb;
	MDB_val k = ukey(&kb, base);
	int rc = mdb_del(txn, dbi, &k, NULL);

	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The owner of base in txn: true (its id in id, its activity in *active). */
static bool slot_get(MDB_txn *txn, MDB_dbi dbi, uid_t base, char *id, size_t len, int64_t *active)
{
	struct ukey kb;
	MDB_val k = ukey(&kb, base), v;

	if (mdb_get(txn, dbi, &k, &v) || v.mv_size <= sizeof(int64_t) ||
	    v.mv_size - sizeof(int64_t) >= len)
		return false;
	memcpy(active, v.mv_data, sizeof(int64_t));
	memcpy(id, (char *)v.mv_data + sizeof(int64_t), v.mv_size - sizeof(int64_t));
	id[v.mv_size - sizeof(int64_t)] = '\0';
	return true;
}

/* This boot's id, as a directory name ([0-9a-f-], the kernel's; the boot
 * time where it has none). */
static bool boot_id(char *buf, size_t len)
{
	cleanup_close int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	char raw[64], *p;
	ssize_t n = fd >= 0 ? read(fd, raw, sizeof raw - 1) : -1;
	FILE *f;

	if (n > 0) {
		raw[n] = '\0';
		raw[strcspn(raw, "\n")] = '\0';
		for (p = raw; *p && (isxdigit((unsigned char)*p) || *p == '-'); p++)
			;
		if (!*p && p != raw && (size_t)(p - raw) < len) {
			snprintf(buf, len, "%s", raw);
			return true;
		}
	}
	if (!(f = fopen("/proc/stat", "re")))
		return false;
	while (fgets(raw, sizeof raw, f))
		if (!strncmp(raw, "btime ", 6)) {
			fclose(f);
			snprintf(buf, len, "btime-%llu", strtoull(raw + 6, NULL, 10));
			return true;
		}
	fclose(f);
	return false;
}

/* This process removed another boot's runtime state (run_sweep). */
static bool run_swept;

/* Every environment of DATA/db/run but this boot's goes, whole, unread
 * (no process of this boot has one open). */
static void run_sweep(int runfd, const char *keep)
{
	int dfd = fcntl(runfd, F_DUPFD_CLOEXEC, 0);
	struct dirent *e;
	DIR *d;

	if (dfd < 0 || !(d = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		return;
	}
	while ((e = readdir(d))) {
		cleanup_close int sub = -1;
		struct dirent *f;
		DIR *sd;

		if (e->d_name[0] == '.' || !strcmp(e->d_name, keep))
			continue;
		sub = openat(runfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (sub < 0 || !(sd = fdopendir(sub)))
			continue;
		while ((f = readdir(sd)))
			if (f->d_name[0] != '.' || (strcmp(f->d_name, ".") && strcmp(f->d_name, "..")))
				unlinkat(sub, f->d_name, 0);
		closedir(sd);
		sub = -1;	/* closedir closed it */
		unlinkat(runfd, e->d_name, AT_REMOVEDIR);
		run_swept = true;
	}
	closedir(d);
}

bool store_runtime_swept(void)
{
	return run_swept;
}

/* The lock file of a new environment, made whole before LMDB sees it.
 * LMDB makes its own by ftruncate, sparse, and sets its first page up
 * through its MAP_SHARED mapping: on a full disk (a reboot makes this
 * environment anew) that store is a SIGBUS of the process opening it (a
 * master's start, seen).  Made aside, every block allocated, and renamed
 * in (RENAME_NOREPLACE: one another process made stays; LMDB takes the
 * size it finds, at least its own): ENOSPC then, never a SIGBUS.  No
 * environment of this path is open in this process (renv is NULL), so
 * closing an fd of it drops no record lock LMDB relies on (kv.c). */
#define RUN_LOCK_BYTES (64 << 10)
static int run_lock_make(const char *dir, struct sb_err *err)
{
	char tmp[PATH_MAX + 160], lock[PATH_MAX + 160];
	cleanup_close int fd = -1;
	int rc;

	snprintf(lock, sizeof lock, "%s/lock.mdb", dir);
	if (access(lock, F_OK) == 0)
		return 0;
	snprintf(tmp, sizeof tmp, "%s/.lock.mdb.%d", dir, (int)getpid());
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return sb_syserr(err, "create %s", tmp);
	if ((rc = posix_fallocate(fd, 0, RUN_LOCK_BYTES)) != 0) {
		unlink(tmp);
		errno = rc;
		return sb_syserr(err, "allocate %s", tmp);
	}
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, lock, RENAME_NOREPLACE) < 0) {
		rc = errno;
		unlink(tmp);
		if (rc != EEXIST) {
			errno = rc;
			return sb_syserr(err, "rename %s", tmp);
		}
	}
	return 0;
}

/* The runtime environment, opened if it is not (0), or why not (-1: a
 * start cannot record its init; what reads finds none). */
static int run_env(struct store *s, struct sb_err *err)
{
	static const char *const names[] = { "inits" };
	char boot[64], path[PATH_MAX + 80];
	cleanup_close int runfd = -1;
	MDB_dbi dbi;

	if (s->renv)
		return 0;
	if (!boot_id(boot, sizeof boot))
		return sb_fail(err, SB_E_INTERNAL, 0, "the runtime store: no boot id");
	if (mkdir(s->rdir, 0700) < 0 && errno != EEXIST)
		return sb_syserr(err, "mkdir %s", s->rdir);
	/* DATA/db/run may be the admin's symlink (runtime state on a tmpfs),
	 * followed as DATA/db is (LMDB's open): both are the admin's alone */
	runfd = open(s->rdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (runfd < 0)
		return sb_syserr(err, "open %s", s->rdir);
	run_sweep(runfd, boot);
	if (mkdirat(runfd, boot, 0700) < 0 && errno != EEXIST)
		return sb_syserr(err, "mkdir %s/%s", s->rdir, boot);
	snprintf(path, sizeof path, "%s/%s", s->rdir, boot);
	if (run_lock_make(path, err) < 0 ||
	    kv_open(&s->renv, path, RUN_MAP_BYTES, MDB_NOSYNC, names, &dbi, 1, err) < 0)
		return -1;
	s->inits = dbi;
	return 0;
}

static bool run_get(MDB_txn *rtxn, MDB_dbi dbi, uid_t base, struct run_init *ri)
{
	struct ukey kb;
	MDB_val k = ukey(&kb, base), v;

	if (!rtxn || mdb_get(rtxn, dbi, &k, &v) || v.mv_size != sizeof *ri)
		return false;
	memcpy(ri, v.mv_data, sizeof *ri);
	return true;
}

/* r as every reader sees it: its init from the runtime state (none: 0),
 * the later of the two activities.  rtxn: a read transaction of renv
 * (NULL: none to read). */
static void run_fill(struct store *s, MDB_txn *rtxn, struct sb_record *r)
{
	struct run_init ri;

	r->init_pid = 0;
	r->init_start = 0;
	if (!run_get(rtxn, s->inits, r->uid_base, &ri))
		return;
	r->init_pid = (pid_t)ri.pid;
	r->init_start = ri.start;
	if (ri.active_ms > r->active_ms)
		r->active_ms = ri.active_ms;
}

/* A read transaction of the runtime state, or NULL (none: no inits).
 * Unavailable here, it is opened again (another process may record
 * inits in it by now: the capacity scan counts them). */
static MDB_txn *run_read(struct store *s)
{
	MDB_txn *txn = NULL;

	if ((!s->renv && run_env(s, NULL) < 0) || mdb_txn_begin(s->renv, NULL, MDB_RDONLY, &txn))
		return NULL;
	return txn;
}

static void run_fill_now(struct store *s, struct sb_record *r)
{
	cleanup_txn MDB_txn *rtxn = run_read(s);

	run_fill(s, rtxn, r);
}

/* The entry of base goes (when pid: only while it names that init). */
static int run_del(struct store *s, uid_t base, pid_t pid, struct sb_err *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	struct run_init ri;
	struct ukey kb;
	MDB_val k = ukey(&kb, base);
	int rc;

	if (run_env(s, err) < 0 || kv_begin(s->renv, 0, &txn, err) < 0)
		return -1;
	if (!run_get(txn, s->inits, base, &ri) || (pid && ri.pid != pid))
		return 0;
	if ((rc = mdb_del(txn, s->inits, &k, NULL)) && rc != MDB_NOTFOUND)
		return kv_fail(err, rc, "runtime del");
	return kv_commit(&txn, err);
}

/* The slots entry of id's record, made when it has none and still owns
 * base (1): a record an older build wrote after the split, on a data dir
 * open to this build and that one at once (runtime_split mends the index
 * at the next open after such a build's).  A record destroyed meanwhile
 * has none, and gets none (0). */
static int slot_mend(struct store *s, const char *id, uid_t base)
{
	cleanup_txn MDB_txn *txn = NULL;
	struct sb_record r;
	int64_t act;
	char owner[64];

	if (kv_begin(s->env, 0, &txn, NULL) < 0)
		return -1;
	if (slot_get(txn, s->slots, base, owner, sizeof owner, &act))
		return 1;	/* made since (by whatever id: a warm claim's) */
	if (record_get(s, txn, id, &r, NULL) != 1 || r.uid_base != base || slot_put(txn, s->slots, id, &r))
		return 0;
	return kv_commit(&txn, NULL) < 0 ? -1 : 1;
}

int store_init_ready(struct store *s, const char *id, struct sb_err *err)
{
	struct sb_err rerr = SB_ERR_INIT;

	if (!sb_name_safe(id))
		return sb_fail(err, SB_E_INVALID, EINVAL, "unsafe sandbox name '%.64s'", id);
	if (run_env(s, &rerr) < 0) {
		/* the why (host paths) for the log, not for the client */
		fprintf(stderr, "sandboxd: the inits' runtime store: %s\n", rerr.msg);
		return sb_fail(err, rerr.kind == SB_E_NO_SPACE ? SB_E_NO_SPACE : SB_E_BUSY, rerr.errnum,
			       "the host cannot record sandbox %s's init (%s): try again later", id,
			       rerr.kind == SB_E_NO_SPACE ? "its disk is full" : "its runtime store is unavailable");
	}
	return 0;
}

int store_init_set(struct store *s, const char *id, const struct sb_record *r, int64_t active,
		   struct sb_err *err)
{
	struct run_init ri = { r->init_pid, r->init_start, active };
	cleanup_txn MDB_txn *txn = NULL;
	struct ukey kb;
	MDB_val k = ukey(&kb, r->uid_base), v = { sizeof ri, &ri };
	char owner[64];
	int64_t act;
	bool owned;
	int rc;

	if (store_init_ready(s, id, err) < 0 || kv_begin(s->renv, 0, &txn, err) < 0)
		return -1;
	if ((rc = mdb_put(txn, s->inits, &k, &v, 0)))
		return kv_fail(err, rc, "runtime put");
	if (kv_commit(&txn, err) < 0)
		return -1;
	/* then its owner is still a record (by whatever id: a warm claim may
	 * have taken it since it runs): a drop or a destroy of the record
	 * removes its entry after the record, so one of the two sees the other */
	if (kv_begin(s->env, MDB_RDONLY, &txn, err) < 0)
		return -1;
	owned = slot_get(txn, s->slots, r->uid_base, owner, sizeof owner, &act);
	mdb_txn_abort(steal_pointer(&txn));
	if (owned || slot_mend(s, id, r->uid_base) == 1)
		return 0;
	run_del(s, r->uid_base, r->init_pid, NULL);
	return sb_fail(err, SB_E_NOT_FOUND, ENOENT, "sandbox %s was destroyed while it started", id);
}

int store_foreach_started(struct store *s,
			  void (*fn)(const char *id, pid_t pid, unsigned long long start, int64_t active_ms,
				     void *arg),
			  void *arg, struct sb_err *err)
{
	cleanup_txn MDB_txn *rtxn = run_read(s);
	cleanup_txn MDB_txn *txn = NULL;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if (!rtxn)
		return 0;	/* none recorded */
	if (kv_begin(s->env, MDB_RDONLY, &txn, err) < 0)
		return -1;
	if ((rc = mdb_cursor_open(rtxn, s->inits, &cur)))
		return kv_fail(err, rc, "cursor");
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
		struct run_init ri;
		int64_t active;
		char id[64];
		uid_t base;

		if (k.mv_size != 4 || v.mv_size != sizeof ri)
			continue;
		base = (uid_t)((uint32_t)((unsigned char *)k.mv_data)[0] << 24 |
			       (uint32_t)((unsigned char *)k.mv_data)[1] << 16 |
			       (uint32_t)((unsigned char *)k.mv_data)[2] << 8 | ((unsigned char *)k.mv_data)[3]);
		/* an entry whose record is gone (destroyed, dropped) names no one */
		if (!slot_get(txn, s->slots, base, id, sizeof id, &active))
			continue;
		memcpy(&ri, v.mv_data, sizeof ri);
		fn(id, (pid_t)ri.pid, ri.start, ri.active_ms > active ? ri.active_ms : active, arg);
	}
	mdb_cursor_close(cur);
	return 0;
}

int store_forget_started(struct store *s, const char *const *ids, const pid_t *pids, size_t n,
			 struct sb_err *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	struct sb_record r;
	int ret = 0;

	for (size_t i = 0; i < n; i++) {
		if (kv_begin(s->env, MDB_RDONLY, &txn, err) < 0)
			return -1;
		/* not one started again since it was found dead (run_del: the pid) */
		if (record_get(s, txn, ids[i], &r, NULL) == 1) {
			mdb_txn_abort(steal_pointer(&txn));
			if (run_del(s, r.uid_base, pids[i], err) < 0)
				ret = -1;
		}
		if (txn)
			mdb_txn_abort(steal_pointer(&txn));
	}
	return ret;
}

/* An older build opened this data dir since the last split: its open
 * makes its "started" index (a named database), which the split drops.
 * Such a build writes records without their slots entries (and with their
 * inits in them), destroys records without dropping their entries, and
 * gives their uid bases to others. */
static bool older_build_ran(MDB_txn *txn)
{
	MDB_val k = { 7, (void *)"started" }, v;
	MDB_dbi main;

	return mdb_dbi_open(txn, NULL, 0, &main) == 0 && mdb_get(txn, main, &k, &v) == 0;
}

/* The init a record of an older build names, into the runtime state: over
 * an entry there only while it runs (the older build's is the newer word;
 * one it never saw, say a start of ours before the downgrade that its
 * record lost, stays while that init runs and the record's is dead). */
static int split_init(MDB_txn *rtxn, MDB_dbi dbi, const struct sb_record *r)
{
	struct run_init ri = { r->init_pid, r->init_start, r->active_ms }, had;
	struct ukey kb;
	MDB_val rk = ukey(&kb, r->uid_base), rv = { sizeof ri, &ri };

	if (run_get(rtxn, dbi, r->uid_base, &had) && had.pid > 0 && had.start &&
	    sb_proc_starttime((pid_t)had.pid) == had.start &&
	    (!r->init_start || sb_proc_starttime(r->init_pid) != r->init_start))
		return 0;
	return mdb_put(rtxn, dbi, &rk, &rv, 0);
}

/* The slots index made from the records, and the inits that records of an
 * older build name moved to the runtime state (a record write no longer
 * keeps them; without it now, a full disk, they are not: an older build's
 * stop killed them).  Once per data dir (a meta key says it is done), and
 * again after every open of it by an older build (a downgrade, then an
 * upgrade): the index made anew, whole. */
static int runtime_split(struct store *s, struct sb_err *err)
{
	MDB_val mk = { 12, (void *)"init_runtime" }, ik = { 13, (void *)"started_index" }, mv, k, v;
	cleanup_txn MDB_txn *txn = NULL;
	cleanup_txn MDB_txn *rtxn = NULL;
	MDB_cursor *cur;
	MDB_dbi old;
	bool again;
	int rc;

	if (kv_begin(s->env, MDB_RDONLY, &txn, err) < 0)
		return -1;
	rc = mdb_get(txn, s->meta, &mk, &mv);
	again = older_build_ran(txn);
	mdb_txn_abort(steal_pointer(&txn));
	if (rc == 0 && !again)
		return 0;
	if (kv_begin(s->env, 0, &txn, err) < 0)
		return -1;
	again = older_build_ran(txn);
	if (mdb_get(txn, s->meta, &mk, &mv) == 0 && !again)	/* another process did it */
		return 0;
	if (s->renv && kv_begin(s->renv, 0, &rtxn, NULL) < 0)
		rtxn = NULL;
	/* the older build's index goes, and the meta key that says it was
	 * built: its next open builds it again from the records (a record of
	 * ours names no init, as it finds it after every upgrade) */
	if (again && ((rc = mdb_dbi_open(txn, "started", 0, &old)) || (rc = mdb_drop(txn, old, 1))))
		return kv_fail(err, rc, "runtime split");
	if ((rc = mdb_del(txn, s->meta, &ik, NULL)) && rc != MDB_NOTFOUND)
		return kv_fail(err, rc, "runtime split");
	if ((rc = mdb_drop(txn, s->slots, 0)))
		return kv_fail(err, rc, "runtime split");
	if ((rc = mdb_cursor_open(txn, s->sandboxes, &cur)))
		return kv_fail(err, rc, "runtime split");
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
		struct sb_record r;
		char id[64];
		if (!key_str(&k, id, sizeof id) || decode(&v, &r) < 0)
			continue;
		if ((rc = slot_put(txn, s->slots, id, &r)))
			break;
		if (rtxn && r.init_pid > 0 && (rc = split_init(rtxn, s->inits, &r)))
			break;
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return kv_fail(err, rc, "runtime split");
	if (rtxn && kv_commit(&rtxn, err) < 0)
		return -1;
	mv.mv_size = 1;
	mv.mv_data = (void *)"1";
	if ((rc = mdb_put(txn, s->meta, &mk, &mv, 0)))
		return kv_fail(err, rc, "runtime split");
	return kv_commit(&txn, err);
}

static int usage_build(MDB_env *env, MDB_dbi data, MDB_dbi usage, struct sb_err *err);

int store_open(struct store *s, const char *dir, const struct store_sizes *sz, struct sb_err *err)
{
	/* "slots" replaced the "started" index an older build kept (which
	 * named the inits: runtime state now) */
	static const char *const names[] = { "sandboxes", "meta", "processes", "slots", "ports", "network",
					     "usage" };
	static const char *const hnames[] = { "history", "usage" };
	struct sb_err herr = SB_ERR_INIT;
	char hdir[PATH_MAX];
	MDB_dbi dbis[7] = { 0 };

	memset(s, 0, sizeof *s);
	for (int w = 0; w < STORE_N; w++) {
		s->budget[w] = (long long)(sz->map_bytes[w] / 2);
		s->share[w] = s->budget[w] / (sz->tenants > 1 ? sz->tenants : 1);
	}
	/* NOMETASYNC: a crash may lose the last transaction, never integrity */
	if (kv_open(&s->env, dir, sz->map_bytes[STORE_MAIN], MDB_NOMETASYNC, names, dbis, 7, err) < 0)
		return -1;
	s->sandboxes = dbis[0];
	s->meta = dbis[1];
	s->procs = dbis[2];
	s->slots = dbis[3];
	s->ports = dbis[4];
	s->network = dbis[5];
	s->usage[STORE_MAIN] = dbis[6];
	if (usage_build(s->env, s->procs, s->usage[STORE_MAIN], err) < 0) {
		store_close(s);
		return -1;
	}
	/* the inits' runtime state: unavailable (a full disk: its lock file
	 * needs blocks), the service still serves, and a start opens it again */
	snprintf(s->rdir, sizeof s->rdir, "%s/run", dir);
	if (run_env(s, &herr) < 0) {
		fprintf(stderr, "sandboxd: the inits' runtime store is unavailable for now: %s\n", herr.msg);
		sb_err_clear(&herr);
	}
	if (runtime_split(s, err) < 0) {
		store_close(s);
		return -1;
	}
	/* The audit history in an environment of its own, never synced on
	 * commit: an entry per exec must not cost an fdatasync (~0.7 ms here)
	 * on every exec's path.  A machine crash may lose its newest entries
	 * (or, at worst, this file): never the sandbox records above. */
	snprintf(hdir, sizeof hdir, "%s/history", dir);
	if ((mkdir(hdir, 0700) < 0 && errno != EEXIST) ||
	    kv_open(&s->henv, hdir, sz->map_bytes[STORE_HISTORY], MDB_NOSYNC, hnames, dbis, 2, &herr) < 0) {
		fprintf(stderr, "sandboxd: history unavailable: %s\n", herr.msg[0] ? herr.msg : strerror(errno));
		s->henv = NULL;
	}
	s->history = dbis[0];
	s->usage[STORE_HISTORY] = dbis[1];
	if (s->henv && usage_build(s->henv, s->history, s->usage[STORE_HISTORY], &herr) < 0) {
		fprintf(stderr, "sandboxd: history unavailable: %s\n", herr.msg);
		mdb_env_close(s->henv);
		s->henv = NULL;
	}
	return 0;
}

void store_close(struct store *s)
{
	if (s->env)
		mdb_env_close(s->env);
	if (s->henv)
		mdb_env_close(s->henv);
	if (s->renv)
		mdb_env_close(s->renv);
	s->env = s->henv = s->renv = NULL;
}

/* A record as json-c reads it: what decode() falls back to, and what its
 * fast form must equal (t/unit-store). */
int store_decode_json(const char *p, size_t n, struct sb_record *r)
{
	struct json_tokener *tok = json_tokener_new();
	cleanup_json struct json_object *o = NULL;
	struct json_object *f;

	if (!tok)
		return -1;
	o = json_tokener_parse_ex(tok, p, (int)n);
	json_tokener_free(tok);
	if (!o || !json_object_is_type(o, json_type_object))
		return -1;
	memset(r, 0, sizeof *r);
	if (json_object_object_get_ex(o, "image", &f))
		snprintf(r->image, sizeof r->image, "%s", json_object_get_string(f));
	if (json_object_object_get_ex(o, "imageVersion", &f))
		snprintf(r->image_version, sizeof r->image_version, "%s", json_object_get_string(f));
	if (json_object_object_get_ex(o, "uidBase", &f))
		r->uid_base = (uid_t)json_object_get_int64(f);
	if (json_object_object_get_ex(o, "createdAt", &f))
		r->created_ms = json_object_get_int64(f);
	if (json_object_object_get_ex(o, "lastActiveAt", &f))
		r->active_ms = json_object_get_int64(f);
	if (json_object_object_get_ex(o, "initPid", &f))
		r->init_pid = (pid_t)json_object_get_int64(f);
	if (json_object_object_get_ex(o, "initStart", &f))
		r->init_start = (unsigned long long)json_object_get_uint64(f);
	sb_limits_decode(o, &r->lim);
	if (json_object_object_get_ex(o, "netSlot", &f))
		r->net_slot = (uint32_t)json_object_get_int64(f);
	if (json_object_object_get_ex(o, "expiresAt", &f))
		r->expires_ms = json_object_get_int64(f);
	if (json_object_object_get_ex(o, "forking", &f))
		r->forking = json_object_get_int64(f) != 0;
	return 0;
}

/* A string of the fast form at *p: '"', printable ASCII but '"' and '\\'
 * (nothing json-c would decode into other bytes), '"'. */
static bool fast_str(const char **p, const char *end, const char **s, size_t *len)
{
	const char *q = *p;

	if (q >= end || *q++ != '"')
		return false;
	*s = q;
	while (q < end && *q != '"') {
		if (*q < 0x20 || *q > 0x7e || *q == '\\')
			return false;
		q++;
	}
	if (q >= end)
		return false;
	*len = (size_t)(q - *s);
	*p = q + 1;
	return true;
}

/* An integer of the fast form: -?(0|[1-9][0-9]{0,17}), no fraction or
 * exponent after it (within int64 whatever its digits: json-c's range
 * rules never apply). */
static bool fast_int(const char **p, const char *end, long long *v)
{
	const char *q = *p, *digits;
	bool neg = false;
	long long n = 0;

	if (q < end && *q == '-') {
		neg = true;
		q++;
	}
	digits = q;
	/* 18 digits at most: they fit; a 19th is left for the check below */
	while (q < end && *q >= '0' && *q <= '9' && q - digits < 18)
		n = n * 10 + (*q++ - '0');
	if (q == digits || (*digits == '0' && q - digits > 1) ||
	    (q < end && (*q == '.' || *q == 'e' || *q == 'E' || (*q >= '0' && *q <= '9'))))
		return false;
	*v = neg ? -n : n;
	*p = q;
	return true;
}

/* One member into *r as store_decode_json() reads it; false: a type it
 * reads otherwise (json-c's to decide). */
static bool fast_member(struct sb_record *r, const char *k, size_t klen, bool str, const char *v,
			size_t vlen, long long n)
{
#define KEY(name) (klen == sizeof(name) - 1 && !memcmp(k, name, klen))
	if (KEY("image") || KEY("imageVersion")) {
		if (!str)
			return false;
		if (KEY("image"))
			snprintf(r->image, sizeof r->image, "%.*s", (int)vlen, v);
		else
			snprintf(r->image_version, sizeof r->image_version, "%.*s", (int)vlen, v);
		return true;
	}
	if (KEY("uidBase"))
		r->uid_base = (uid_t)n;
	else if (KEY("createdAt"))
		r->created_ms = n;
	else if (KEY("lastActiveAt"))
		r->active_ms = n;
	else if (KEY("initPid"))
		r->init_pid = (pid_t)n;
	else if (KEY("initStart")) {
		if (n < 0)
			return false;	/* json_object_get_uint64: 0 */
		r->init_start = (unsigned long long)n;
	} else if (KEY("netSlot"))
		r->net_slot = (uint32_t)n;
	else if (KEY("expiresAt"))
		r->expires_ms = n;
	else if (KEY("forking"))
		r->forking = n != 0;
	else {
		for (int i = 0; i < SB_NSETTINGS; i++)
			if (strlen(sb_settings[i].key) == klen && !memcmp(sb_settings[i].key, k, klen)) {
				if (str)
					return false;
				*sb_limit(&r->lim, &sb_settings[i]) = (long)n;
				return true;
			}
		return true;	/* a key decode does not read: any string or integer */
	}
	return !str;
#undef KEY
}

int store_decode_fast(const char *p, size_t n, struct sb_record *r)
{
	const char *end = p + n, *k, *v = NULL;
	struct sb_record t;
	size_t klen, vlen = 0;
	long long num;
	bool str;

	memset(&t, 0, sizeof t);
	if (n < 2 || *p++ != '{')
		return 0;
	if (*p == '}') {
		if (p + 1 != end)
			return 0;
		*r = t;
		return 1;
	}
	for (;;) {
		num = 0;
		if (!fast_str(&p, end, &k, &klen) || p >= end || *p++ != ':')
			return 0;
		str = p < end && *p == '"';
		if (str ? !fast_str(&p, end, &v, &vlen) : !fast_int(&p, end, &num))
			return 0;
		if (!fast_member(&t, k, klen, str, v, vlen, num))
			return 0;
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p + 1 == end && *p == '}')
			break;
		return 0;
	}
	*r = t;
	return 1;
}

/* Most records in the fast form (encode_put() writes nothing else); json-c
 * parses what is not. */
static int decode(const MDB_val *v, struct sb_record *r)
{
	return store_decode_fast(v->mv_data, v->mv_size, r) ? 0 : store_decode_json(v->mv_data, v->mv_size, r);
}

struct rec_scan {
	void (*fn)(const char *id, const struct sb_record *r, void *arg);
	void *arg;
	struct store *s;
	MDB_txn *rtxn;
};

static bool each_record(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct rec_scan *rs = arg;
	struct sb_record r;
	char id[64];

	if (key_str(k, id, sizeof id) && decode(v, &r) == 0) {
		run_fill(rs->s, rs->rtxn, &r);
		rs->fn(id, &r, rs->arg);
	}
	return true;
}


static struct json_object *encode(const struct sb_record *r)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "image", json_object_new_string(r->image));
	if (r->image_version[0])
		json_object_object_add(o, "imageVersion", json_object_new_string(r->image_version));
	json_object_object_add(o, "uidBase", json_object_new_int64(r->uid_base));
	json_object_object_add(o, "createdAt", json_object_new_int64(r->created_ms));
	json_object_object_add(o, "lastActiveAt", json_object_new_int64(r->active_ms));
	json_object_object_add(o, "initPid", json_object_new_int64(r->init_pid));
	json_object_object_add(o, "initStart", json_object_new_uint64(r->init_start));
	sb_limits_encode(&r->lim, o);
	if (r->net_slot)
		json_object_object_add(o, "netSlot", json_object_new_int64(r->net_slot));
	if (r->expires_ms)
		json_object_object_add(o, "expiresAt", json_object_new_int64(r->expires_ms));
	if (r->forking)
		json_object_object_add(o, "forking", json_object_new_int64(1));
	return o;
}

char *store_encode_json(const struct sb_record *r)
{
	cleanup_json struct json_object *o = encode(r);

	return strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
}

/* The record as stored: never its init (runtime state, store_init_set),
 * and its owner in the slots index. */
static int encode_put(struct store *s, MDB_txn *txn, const char *id, const struct sb_record *rec)
{
	struct sb_record m = *rec, *r = &m;
	cleanup_json struct json_object *o = NULL;
	MDB_val k = { strlen(id), (void *)id }, v;
	const char *json;
	int rc;

	m.init_pid = 0;
	m.init_start = 0;
	o = encode(r);
	json = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	v.mv_size = strlen(json);
	v.mv_data = (void *)json;
	rc = mdb_put(txn, s->sandboxes, &k, &v, 0);
	return rc ? rc : slot_put(txn, s->slots, id, r);
}

/* Every key is a sandbox's name (or begins with it): one that could not be
 * its directory or its cgroup (sb_name_safe) never gets a record, so no scan
 * of the records can hand one to the code that kills and removes. */
static int unsafe_id(struct sb_err *err, const char *id)
{
	return sb_fail(err, SB_E_INVALID, EINVAL, "unsafe sandbox name '%.64s'", id);
}

/* The record of id in txn: 1 found (*r), 0 missing, -1 error. */
static int record_get(struct store *s, MDB_txn *txn, const char *id, struct sb_record *r, struct sb_err *err)
{
	MDB_val k = { strlen(id), (void *)id }, v;
	int rc = mdb_get(txn, s->sandboxes, &k, &v);

	if (rc)
		return rc == MDB_NOTFOUND ? 0 : kv_fail(err, rc, "get");
	return decode(&v, r) < 0 ? sb_fail(err, SB_E_INTERNAL, 0, "corrupt record for %s", id) : 1;
}

int store_get(struct store *s, const char *id, struct sb_record *r, struct sb_err *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	int rc;

	if (!sb_name_safe(id))
		return unsafe_id(err, id);
	if (kv_begin(s->env, MDB_RDONLY, &txn, err) < 0)
		return -1;
	if ((rc = record_get(s, txn, id, r, err)) == 1)
		run_fill_now(s, r);
	return rc;
}

/* Slots destroys returned, meta keys "free/<8 hex digits>" (in order: the
 * lowest first); those under way, "dying/<8 hex digits>" = the id. */
#define FREE_PREFIX "free/"
#define DYING_PREFIX "dying/"

static void slot_key(char *buf, size_t len, const char *prefix, uint32_t slot)
{
	snprintf(buf, len, "%s%08x", prefix, slot);
}

/* The lowest returned slot below `slots`, taken (deleted) in txn: 1 (*slot),
 * 0 none, -rc on an LMDB error. */
static int free_slot_take(struct store *s, MDB_txn *txn, uint32_t slots, uint32_t *slot)
{
	MDB_val k = { 5, (void *)FREE_PREFIX }, v;
	MDB_cursor *cur;
	char hex[9];
	int rc;

	if ((rc = mdb_cursor_open(txn, s->meta, &cur)))
		return -rc;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc || k.mv_size != 13 || memcmp(k.mv_data, FREE_PREFIX, 5)) {
		mdb_cursor_close(cur);
		return rc && rc != MDB_NOTFOUND ? -rc : 0;
	}
	memcpy(hex, (char *)k.mv_data + 5, 8);
	hex[8] = '\0';
	*slot = (uint32_t)strtoul(hex, NULL, 16);
	if (*slot >= slots) {	/* --uid-slots made smaller since */
		mdb_cursor_close(cur);
		return 0;
	}
	rc = mdb_cursor_del(cur, 0);
	mdb_cursor_close(cur);
	return rc ? -rc : 1;
}

/* Delete every key of dbi that starts with prefix, in txn. */
static int del_prefix(MDB_txn *txn, MDB_dbi dbi, const char *prefix)
{
	size_t plen = strlen(prefix);
	MDB_val k = { plen, (void *)prefix }, v;
	MDB_cursor *cur;
	int rc;

	if ((rc = mdb_cursor_open(txn, dbi, &cur)))
		return rc;
	/* a seek per key: simple, and what follows a deletion is not in doubt */
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) == 0 && k.mv_size >= plen &&
	       !memcmp(k.mv_data, prefix, plen)) {
		if ((rc = mdb_cursor_del(cur, 0)))
			break;
		k.mv_size = plen;
		k.mv_data = (void *)prefix;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

static int usage_forget(MDB_txn *txn, MDB_dbi usage, const char *id);

int store_destroy_mark(struct store *s, const char *id, uid_t base,
		       bool (*still)(const struct sb_record *r, const void *arg), const void *arg,
		       struct sb_record *r, uint32_t *slot, struct sb_err *err)
{
	MDB_val k = { strlen(id), (void *)id }, dk, dv = { strlen(id), (void *)id };
	cleanup_txn MDB_txn *txn = NULL;
	char key[32], procs[80];
	int rc;

	if (!sb_name_safe(id))
		return unsafe_id(err, id);
	if (kv_begin(s->env, 0, &txn, err) < 0)
		return -1;
	if ((rc = record_get(s, txn, id, r, err)) <= 0)
		return rc;
	/* its init as every reader sees it (it runs until the destroy kills
	 * it: the entry goes with the slot, store_destroy_done) */
	run_fill_now(s, r);
	if (still && !still(r, arg))
		return STORE_KEPT;
	if (r->uid_base < base || (r->uid_base - base) % 65536u)
		return sb_fail(err, SB_E_INTERNAL, 0, "sandbox %s: uid base %u is not a slot of --uid-base %u",
			       id, (unsigned)r->uid_base, (unsigned)base);
	*slot = (r->uid_base - base) / 65536u;
	slot_key(key, sizeof key, DYING_PREFIX, *slot);
	dk.mv_size = strlen(key);
	dk.mv_data = key;
	snprintf(procs, sizeof procs, "%s/", id);
	if ((rc = mdb_put(txn, s->meta, &dk, &dv, 0)) || (rc = mdb_del(txn, s->sandboxes, &k, NULL)) ||
	    (rc = slot_del(txn, s->slots, r->uid_base)) || (rc = del_prefix(txn, s->procs, procs)) ||
	    (rc = usage_forget(txn, s->usage[STORE_MAIN], id)))
		return kv_fail(err, rc, "destroy");
	return kv_commit(&txn, err) < 0 ? -1 : 1;
}

int store_destroy_done(struct store *s, uid_t base, uint32_t slot, struct sb_err *err)
{
	struct sb_err rerr = SB_ERR_INIT;
	cleanup_txn MDB_txn *txn = NULL;
	char dkey[32], fkey[32];
	MDB_val dk, fk, fv = { 1, (void *)"1" };
	int rc;

	slot_key(dkey, sizeof dkey, DYING_PREFIX, slot);
	slot_key(fkey, sizeof fkey, FREE_PREFIX, slot);
	dk.mv_size = strlen(dkey);
	dk.mv_data = dkey;
	fk.mv_size = strlen(fkey);
	fk.mv_data = fkey;
	/* its last init's entry first: the slot's next owner never finds it
	 * (killed before this: it stays dying, and this is done again).  A
	 * runtime store this process cannot open (a lock file on a full
	 * disk, an unusable DATA/db/run) does not keep the slot dying: the
	 * entry it may hold names an init the destroy killed, which no
	 * reader takes for a live one (every one checks the pid's start
	 * time: sandbox_alive; the capacity scan forgets it), and the next
	 * owner's start puts its own over it */
	if (run_env(s, &rerr) < 0) {
		fprintf(stderr, "sandboxd: slot %u returned without its runtime entry: %s\n", slot, rerr.msg);
		sb_err_clear(&rerr);
	} else if (run_del(s, base + slot * 65536u, 0, err) < 0) {
		return -1;
	}
	if (kv_begin(s->env, 0, &txn, err) < 0)
		return -1;
	/* done twice (a crash after the first): returned once */
	if ((rc = mdb_del(txn, s->meta, &dk, NULL)) == MDB_NOTFOUND)
		return 0;
	if (rc || (rc = mdb_put(txn, s->meta, &fk, &fv, 0)))
		return kv_fail(err, rc, "destroy done");
	return kv_commit(&txn, err);
}

struct dying_scan {
	void (*fn)(uint32_t slot, const char *id, void *arg);
	void *arg;
};

static bool each_dying(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct dying_scan *ds = arg;
	char hex[9], id[64];

	if (k->mv_size != 14 || !key_str(v, id, sizeof id) || !sb_name_safe(id))
		return true;
	memcpy(hex, (char *)k->mv_data + 6, 8);
	hex[8] = '\0';
	ds->fn((uint32_t)strtoul(hex, NULL, 16), id, ds->arg);
	return true;
}

int store_dying_foreach(struct store *s, void (*fn)(uint32_t slot, const char *id, void *arg),
			void *arg, struct sb_err *err)
{
	struct dying_scan ds = { fn, arg };

	return kv_scan(s->env, s->meta, DYING_PREFIX, strlen(DYING_PREFIX), each_dying, &ds, err);
}

int store_create(struct store *s, const char *id, const char *image, uid_t base, uint32_t slots,
		 struct sb_record *r, bool *created, struct sb_err *err)
{
	MDB_val nk = { 13, (void *)"next_uid_slot" }, nv;
	cleanup_txn MDB_txn *txn = NULL;
	uint32_t slot = 0, mine = 0;
	int rc;

	if (!sb_name_safe(id))
		return unsafe_id(err, id);
	*created = false;
	if (kv_begin(s->env, 0, &txn, err) < 0)
		return -1;
	if ((rc = record_get(s, txn, id, r, err))) {
		if (rc > 0)
			run_fill_now(s, r);
		return rc < 0 ? -1 : 0;	/* it exists: *r */
	}
	if (mdb_get(txn, s->meta, &nk, &nv) == 0 && nv.mv_size == sizeof slot)
		memcpy(&slot, nv.mv_data, sizeof slot);
	/* a slot a destroy returned first (the lowest), else the next new one */
	if ((rc = free_slot_take(s, txn, slots, &mine)) < 0)
		return kv_fail(err, -rc, "free slots");
	if (!rc && slot >= slots)
		return sb_fail(err, SB_E_BUSY, ENOSPC, "no uid range left for a new sandbox");
	snprintf(r->image, sizeof r->image, "%s", image);
	/* a range is reused only once a destroy removed everything of its
	 * previous owner (store_destroy_done) */
	r->uid_base = base + (rc ? mine : slot) * 65536u;
	/* and its /31 in the network pool, the same slot: kept for life, and a
	 * warm sandbox's goes with it to the id that claims it */
	r->net_slot = (rc ? mine : slot) + 1;
	r->created_ms = r->active_ms = sb_now_ms();
	if (!rc) {
		slot++;
		nv.mv_size = sizeof slot;
		nv.mv_data = &slot;
		if ((rc = mdb_put(txn, s->meta, &nk, &nv, 0)))
			return kv_fail(err, rc, "create");
	}
	if ((rc = encode_put(s, txn, id, r)))
		return kv_fail(err, rc, "create");
	if (kv_commit(&txn, err) < 0)
		return -1;
	*created = true;
	return 0;
}

int store_update(struct store *s, const char *id, void (*fn)(struct sb_record *, const void *),
		 const void *arg, struct sb_err *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	struct sb_record r;
	int rc;

	if (!sb_name_safe(id))
		return unsafe_id(err, id);
	if (kv_begin(s->env, 0, &txn, err) < 0)
		return -1;
	if ((rc = record_get(s, txn, id, &r, err)) <= 0)
		return rc < 0 ? -1 : kv_fail(err, MDB_NOTFOUND, "update");
	fn(&r, arg);
	if ((rc = encode_put(s, txn, id, &r)))
		return kv_fail(err, rc, "put");
	return kv_commit(&txn, err);
}

int store_foreach(struct store *s, void (*fn)(const char *id, const struct sb_record *r, void *arg),
		  void *arg, struct sb_err *err)
{
	cleanup_txn MDB_txn *rtxn = run_read(s);
	struct rec_scan rs = { fn, arg, s, rtxn };

	return kv_scan(s->env, s->sandboxes, NULL, 0, each_record, &rs, err);
}

int store_foreach_prefix(struct store *s, const char *prefix,
			 void (*fn)(const char *id, const struct sb_record *r, void *arg), void *arg,
			 struct sb_err *err)
{
	cleanup_txn MDB_txn *rtxn = run_read(s);
	struct rec_scan rs = { fn, arg, s, rtxn };

	return kv_scan(s->env, s->sandboxes, prefix, strlen(prefix), each_record, &rs, err);
}

int store_claim(struct store *s, const char *from, const char *to, struct sb_record *r, struct sb_err *err)
{
	MDB_val fk = { strlen(from), (void *)from }, tk = { strlen(to), (void *)to }, v;
	cleanup_txn MDB_txn *txn = NULL;
	int rc;

	if (!sb_name_safe(from) || !sb_name_safe(to))
		return unsafe_id(err, sb_name_safe(from) ? to : from);
	if (kv_begin(s->env, 0, &txn, err) < 0)
		return -1;
	if ((rc = mdb_get(txn, s->sandboxes, &tk, &v)) != MDB_NOTFOUND)
		return rc ? kv_fail(err, rc, "get") : 0;	/* `to` exists by now */
	if ((rc = mdb_get(txn, s->sandboxes, &fk, &v)) || decode(&v, r) < 0)
		return rc == MDB_NOTFOUND ? 0 : sb_fail(err, SB_E_INTERNAL, 0, "warm sandbox %s: no usable record", from);
	r->created_ms = r->active_ms = sb_now_ms();
	/* it was started with the defaults: the claimed one follows them */
	sb_limits_follow_defaults(&r->lim);
	/* the uid base goes with it, and with it the init's runtime entry:
	 * the slots index names `to` its owner now (encode_put) */
	if ((rc = mdb_del(txn, s->sandboxes, &fk, NULL)) || (rc = encode_put(s, txn, to, r)))
		return kv_fail(err, rc, "claim");
	if (kv_commit(&txn, err) < 0)
		return -1;
	run_fill_now(s, r);
	return 1;
}

int store_drop(struct store *s, const char *id, struct sb_err *err)
{
	MDB_val k = { strlen(id), (void *)id };
	cleanup_txn MDB_txn *txn = NULL;
	struct sb_record r;
	int rc, found;

	if (!sb_name_safe(id))
		return unsafe_id(err, id);
	if (kv_begin(s->env, 0, &txn, err) < 0)
		return -1;
	if ((found = record_get(s, txn, id, &r, err)) < 0)
		return -1;
	if (((rc = mdb_del(txn, s->sandboxes, &k, NULL)) && rc != MDB_NOTFOUND) ||
	    (found && (rc = slot_del(txn, s->slots, r.uid_base))))
		return kv_fail(err, rc, "drop");
	if (kv_commit(&txn, err) < 0)
		return -1;
	/* after the record: a start that records its init meanwhile finds the
	 * slot without an owner, or its entry goes here (store_init_set) */
	return found ? run_del(s, r.uid_base, 0, err) : 0;
}


/* --- fair shares (store.h) ------------------------------------------------ */

static const char *const store_names[STORE_N] = { "process records", "history" };
#define TOTAL_KEY "~total"	/* '~' is in no sandbox name */
#define REFUSED_KEY "~refused"

static MDB_env *env_of(struct store *s, enum store_which w)
{
	return w == STORE_MAIN ? s->env : s->henv;
}

/* What an entry costs: a value over half a page goes to overflow pages
 * of its own, whole. */
static long long charge(size_t klen, size_t vlen)
{
	if (vlen > 2000)
		return (long long)((vlen + 16 + 4095) / 4096 * 4096);
	return (long long)(klen + vlen + 16);
}

static long long usage_get(MDB_txn *txn, MDB_dbi dbi, const char *key, size_t klen)
{
	MDB_val k = { klen, (void *)key }, v;
	long long n = 0;

	if (mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size == sizeof n)
		memcpy(&n, v.mv_data, sizeof n);
	return n;
}

static int usage_add(MDB_txn *txn, MDB_dbi dbi, const char *key, size_t klen, long long delta)
{
	MDB_val k = { klen, (void *)key }, v;
	long long n = usage_get(txn, dbi, key, klen) + delta;

	/* never below 0, whatever an entry's charge was then */
	if (n < 0)
		n = 0;
	v.mv_size = sizeof n;
	v.mv_data = &n;
	return mdb_put(txn, dbi, &k, &v, 0);
}

/* A destroyed sandbox's charge leaves its store's usage with it (its
 * tenant's share and the total), in the caller's transaction. */
static int usage_forget(MDB_txn *txn, MDB_dbi usage, const char *id)
{
	MDB_val k = { strlen(id), (void *)id };
	long long n = usage_get(txn, usage, id, k.mv_size);
	int rc;

	if (!n)
		return 0;
	if ((rc = mdb_del(txn, usage, &k, NULL)) && rc != MDB_NOTFOUND)
		return rc;
	return usage_add(txn, usage, TOTAL_KEY, strlen(TOTAL_KEY), -n);
}

static bool sum_one(const MDB_val *k, const MDB_val *v, void *arg)
{
	long long n;

	(void)k;
	if (v->mv_size == sizeof n) {
		memcpy(&n, v->mv_data, sizeof n);
		*(long long *)arg += n;
	}
	return true;
}

/* What the tenant of scope keeps: its sandboxes are a range of keys. */
static long long scope_use(MDB_txn *txn, MDB_dbi dbi, const char *scope)
{
	MDB_val k = { strlen(scope), (void *)scope }, v;
	size_t plen = k.mv_size;
	long long sum = 0;
	MDB_cursor *cur;
	int rc;

	if (mdb_cursor_open(txn, dbi, &cur))
		return 0;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && k.mv_size >= plen &&
	     !memcmp(k.mv_data, scope, plen) && sum_one(&k, &v, &sum);
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		;
	mdb_cursor_close(cur);
	return sum;
}

/* 0 when `add` more bytes of scope's fit in store w, as txn sees it. */
static int share_check(struct store *s, enum store_which w, MDB_txn *txn, const char *scope,
		       long long add, struct sb_err *err)
{
	long long total, mine;

	if (!scope || add <= 0)
		return 0;
	total = usage_get(txn, s->usage[w], TOTAL_KEY, strlen(TOTAL_KEY));
	if (*scope && (mine = scope_use(txn, s->usage[w], scope)) + add > s->share[w])
		return sb_fail(err, SB_E_NO_SPACE, 0, "the sandboxes of scope %s keep %lld KiB of the %s "
			       "store, their share is %lld KiB: nothing more is kept for them (the operator "
			       "sizes the store: %s)", scope, mine >> 10, store_names[w], s->share[w] >> 10,
			       w == STORE_MAIN ? "store-map-mb" : "history-map-mb, history-max");
	if (total + add > s->budget[w])
		return sb_fail(err, SB_E_NO_SPACE, 0, "the %s store is full (%lld of %lld KiB; the operator "
			       "sizes it: %s)", store_names[w], total >> 10, s->budget[w] >> 10,
			       w == STORE_MAIN ? "store-map-mb" : "history-map-mb");
	return 0;
}

/* A refusal counted, for /metrics (a transaction of its own). */
static void refused(struct store *s, enum store_which w)
{
	cleanup_txn MDB_txn *txn = NULL;

	if (kv_begin(env_of(s, w), 0, &txn, NULL) == 0 &&
	    usage_add(txn, s->usage[w], REFUSED_KEY, strlen(REFUSED_KEY), 1) == 0)
		kv_commit(&txn, NULL);
}

/* Charge delta bytes to the sandbox of key ("<id>/...") and the total;
 * refused as share_check() says when it adds. */
static int charge_entry(struct store *s, enum store_which w, MDB_txn *txn, const char *key,
			const char *scope, long long delta, struct sb_err *err)
{
	size_t idlen = strcspn(key, "/");
	int rc;

	if (share_check(s, w, txn, scope, delta, err) < 0)
		return -1;
	if (delta && ((rc = usage_add(txn, s->usage[w], key, idlen, delta)) ||
		      (rc = usage_add(txn, s->usage[w], TOTAL_KEY, strlen(TOTAL_KEY), delta))))
		return kv_fail(err, rc, "usage");
	return 0;
}

/* Once per store (a key says it is done): the charges of the entries
 * written before the accounting was, so a data dir carried over from an
 * older sandboxd counts what it keeps. */
static int usage_build(MDB_env *env, MDB_dbi data, MDB_dbi usage, struct sb_err *err)
{
	static const char built[] = "~built";
	MDB_val bk = { sizeof built - 1, (void *)built }, k, v;
	cleanup_txn MDB_txn *txn = NULL;
	long long total = 0;
	MDB_cursor *cur;
	int rc;

	if (kv_begin(env, 0, &txn, err) < 0)
		return -1;
	if (mdb_get(txn, usage, &bk, &v) == 0)
		return 0;
	if ((rc = mdb_cursor_open(txn, data, &cur)))
		return kv_fail(err, rc, "usage");
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
		const char *slash = memchr(k.mv_data, '/', k.mv_size);
		long long c = charge(k.mv_size, v.mv_size);
		if (!slash)
			continue;
		if ((rc = usage_add(txn, usage, k.mv_data, (size_t)(slash - (const char *)k.mv_data), c)))
			break;
		total += c;
	}
	mdb_cursor_close(cur);
	v.mv_size = 1;
	v.mv_data = (void *)"1";
	if (rc != MDB_NOTFOUND || (rc = usage_add(txn, usage, TOTAL_KEY, strlen(TOTAL_KEY), total)) ||
	    (rc = mdb_put(txn, usage, &bk, &v, 0)))
		return kv_fail(err, rc, "usage");
	return kv_commit(&txn, err);
}

int store_admit(struct store *s, enum store_which w, const char *scope, long long need,
		struct sb_err *err)
{
	cleanup_txn MDB_txn *txn = NULL;

	if (!env_of(s, w))
		return 0;	/* no history: nothing is kept, nothing to refuse */
	if (kv_begin(env_of(s, w), MDB_RDONLY, &txn, err) < 0)
		return -1;
	if (share_check(s, w, txn, scope, need, err) == 0)
		return 0;
	mdb_txn_abort(steal_pointer(&txn));
	refused(s, w);
	return -1;
}

void store_use(struct store *s, enum store_which w, long long *used, long long *budget,
	       long long *nrefused)
{
	cleanup_txn MDB_txn *txn = NULL;

	*used = *nrefused = 0;
	*budget = s->budget[w];
	if (!env_of(s, w) || kv_begin(env_of(s, w), MDB_RDONLY, &txn, NULL) < 0)
		return;
	*used = usage_get(txn, s->usage[w], TOTAL_KEY, strlen(TOTAL_KEY));
	*nrefused = usage_get(txn, s->usage[w], REFUSED_KEY, strlen(REFUSED_KEY));
}

/* In txn: the sandbox of key (its "<projectId>/" part) is still owner,
 * the one the caller found: 1, 0 (destroyed, perhaps made again), -1. */
static int proc_owner_is(struct store *s, MDB_txn *txn, const char *key, const struct sb_record *owner,
			 struct sb_err *err)
{
	size_t idlen = strcspn(key, "/");
	struct sb_record cur;
	char id[128];
	int rc;

	if (idlen >= sizeof id)
		return 0;
	memcpy(id, key, idlen);
	id[idlen] = '\0';
	if ((rc = record_get(s, txn, id, &cur, err)) <= 0)
		return rc;
	return cur.uid_base == owner->uid_base && cur.created_ms == owner->created_ms;
}

int store_proc_put(struct store *s, const char *key, const char *json, const char *scope,
		   const struct sb_record *owner, struct sb_err *err)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	cleanup_txn MDB_txn *txn = NULL;
	long long delta = charge(k.mv_size, strlen(json));
	int rc;

	if (kv_begin(s->env, 0, &txn, err) < 0)
		return -1;
	/* checked in the write transaction: a destroy's mark (which drops the
	 * id's records) is before or after it, never between; a record
	 * written after it would be listed by the next sandbox of the id */
	if (owner && (rc = proc_owner_is(s, txn, key, owner, err)) <= 0)
		return rc < 0 ? -1 : sb_fail(err, SB_E_NOT_FOUND, ENOENT, "sandbox %.*s was destroyed",
					     (int)strcspn(key, "/"), key);
	if (mdb_get(txn, s->procs, &k, &v) == 0)
		delta -= charge(k.mv_size, v.mv_size);
	if (charge_entry(s, STORE_MAIN, txn, key, scope, delta, err) < 0) {
		mdb_txn_abort(steal_pointer(&txn));
		if (err && err->kind == SB_E_NO_SPACE)
			refused(s, STORE_MAIN);
		return -1;
	}
	v.mv_size = strlen(json);
	v.mv_data = (void *)json;
	if ((rc = mdb_put(txn, s->procs, &k, &v, 0)))
		return kv_fail(err, rc, "put");
	return kv_commit(&txn, err);
}

int store_proc_get(struct store *s, const char *key, char **json, struct sb_err *err)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	cleanup_txn MDB_txn *txn = NULL;
	int rc;

	*json = NULL;
	if (kv_begin(s->env, MDB_RDONLY, &txn, err) < 0)
		return -1;
	rc = mdb_get(txn, s->procs, &k, &v);
	if (rc)
		return rc == MDB_NOTFOUND ? 0 : kv_fail(err, rc, "get");
	*json = strndup(v.mv_data, v.mv_size);
	return *json ? 1 : sb_fail(err, SB_E_INTERNAL, ENOMEM, "out of memory");
}

struct text_scan {
	void (*fn)(const char *key, const char *json, void *arg);
	void *arg;
};

static bool each_text(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct text_scan *ts = arg;
	cleanup_free char *json = NULL;
	char key[160];

	if (key_str(k, key, sizeof key) && (json = strndup(v->mv_data, v->mv_size)))
		ts->fn(key, json, ts->arg);
	return true;
}

int store_proc_foreach(struct store *s, const char *prefix,
		       void (*fn)(const char *key, const char *json, void *arg), void *arg,
		       struct sb_err *err)
{
	struct text_scan ts = { fn, arg };

	return kv_scan(s->env, s->procs, prefix, strlen(prefix), each_text, &ts, err);
}

int store_proc_del(struct store *s, const char *key, struct sb_err *err)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	cleanup_txn MDB_txn *txn = NULL;
	int rc;

	if (kv_begin(s->env, 0, &txn, err) < 0)
		return -1;
	if (mdb_get(txn, s->procs, &k, &v) == 0 &&
	    charge_entry(s, STORE_MAIN, txn, key, NULL, -charge(k.mv_size, v.mv_size), err) < 0)
		return -1;
	rc = mdb_del(txn, s->procs, &k, NULL);
	if (rc && rc != MDB_NOTFOUND)
		return kv_fail(err, rc, "del");
	return kv_commit(&txn, err);
}

/* Keys "<projectId>/<16 hex digits of a sequence>": a sandbox's entries are
 * adjacent, in order, and numbered without gaps (each new one is the
 * newest + 1, only the oldest are dropped), so the oldest and the newest
 * say how many there are: two cursor seeks, whatever history-max is. */
static bool history_key(const MDB_val *k, const char *prefix, size_t plen, unsigned long long *seq)
{
	char hex[17];

	if (k->mv_size != plen + 16 || memcmp(k->mv_data, prefix, plen))
		return false;
	memcpy(hex, (char *)k->mv_data + plen, 16);
	hex[16] = '\0';
	*seq = strtoull(hex, NULL, 16);
	return true;
}

/* The oldest and newest entries of id (prefix "<id>/"): true when it has
 * any. */
static bool history_span(MDB_txn *txn, MDB_dbi dbi, const char *id, const char *prefix, size_t plen,
			 unsigned long long *first, unsigned long long *last)
{
	MDB_val k = { plen, (void *)prefix }, v;
	char after[80];
	MDB_cursor *cur;
	bool any = false;
	int rc;

	if (mdb_cursor_open(txn, dbi, &cur))
		return false;
	if (mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) == 0 && history_key(&k, prefix, plen, first)) {
		/* "<id>0" sorts right after every "<id>/...": the newest is before it */
		snprintf(after, sizeof after, "%s0", id);
		k.mv_size = strlen(after);
		k.mv_data = after;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		rc = mdb_cursor_get(cur, &k, &v, rc == 0 ? MDB_PREV : MDB_LAST);
		any = rc == 0 && history_key(&k, prefix, plen, last) && *last >= *first;
	}
	mdb_cursor_close(cur);
	return any;
}

bool store_history_full(struct store *s, const char *id, int max)
{
	char prefix[80];
	size_t plen = (size_t)snprintf(prefix, sizeof prefix, "%s/", id);
	unsigned long long first = 0, last = 0;
	cleanup_txn MDB_txn *txn = NULL;

	if (!sb_name_safe(id) || !s->henv || max <= 0 || kv_begin(s->henv, MDB_RDONLY, &txn, NULL) < 0)
		return false;
	return history_span(txn, s->history, id, prefix, plen, &first, &last) &&
	       last - first + 1 >= (unsigned long long)max;
}

int store_history_add(struct store *s, const char *id, const char *json, int max, const char *scope,
		      struct sb_err *err)
{
	long long delta = 0;
	char prefix[80], key[100];
	size_t plen = (size_t)snprintf(prefix, sizeof prefix, "%s/", id);
	unsigned long long first = 0, last = 0, next = 0;
	MDB_val k, v;
	cleanup_txn MDB_txn *txn = NULL;
	int rc;

	if (!sb_name_safe(id))
		return unsafe_id(err, id);
	if (!s->henv)
		return sb_fail(err, SB_E_BUSY, 0, "the history database is unavailable (see the service log)");
	if (kv_begin(s->henv, 0, &txn, err) < 0)
		return -1;
	if (history_span(txn, s->history, id, prefix, plen, &first, &last)) {
		next = last + 1;
		/* the oldest go while max or more are kept */
		for (unsigned long long n = last - first + 1; n >= (unsigned long long)max && n > 0; n--) {
			snprintf(key, sizeof key, "%s%016llx", prefix, first++);
			k.mv_size = strlen(key);
			k.mv_data = key;
			if (mdb_get(txn, s->history, &k, &v) == 0)
				delta -= charge(k.mv_size, v.mv_size);
			if ((rc = mdb_del(txn, s->history, &k, NULL)) && rc != MDB_NOTFOUND)
				break;
		}
	}
	snprintf(key, sizeof key, "%s%016llx", prefix, next);
	k.mv_size = strlen(key);
	k.mv_data = key;
	v.mv_size = strlen(json);
	v.mv_data = (void *)json;
	delta += charge(k.mv_size, v.mv_size);
	if (charge_entry(s, STORE_HISTORY, txn, key, scope, delta, err) < 0) {
		mdb_txn_abort(steal_pointer(&txn));
		if (err && err->kind == SB_E_NO_SPACE)
			refused(s, STORE_HISTORY);
		return -1;
	}
	if ((rc = mdb_put(txn, s->history, &k, &v, 0)))
		return kv_fail(err, rc, "put");
	return kv_commit(&txn, err);
}

int store_history_drop(struct store *s, const char *id, struct sb_err *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	char prefix[80];
	int rc;

	if (!sb_name_safe(id))
		return unsafe_id(err, id);
	if (!s->henv)
		return 0;
	snprintf(prefix, sizeof prefix, "%s/", id);
	if (kv_begin(s->henv, 0, &txn, err) < 0)
		return -1;
	if ((rc = del_prefix(txn, s->history, prefix)) ||
	    (rc = usage_forget(txn, s->usage[STORE_HISTORY], id)))
		return kv_fail(err, rc, "history drop");
	return kv_commit(&txn, err);
}

struct history_scan {
	void (*fn)(const char *json, void *arg);
	void *arg;
	size_t plen;
};

static bool each_history(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct history_scan *hs = arg;
	cleanup_free char *json = NULL;

	/* "<id>/" and 16 hex digits: not "<id>/x" of some other shape */
	if (k->mv_size == hs->plen + 16 && (json = strndup(v->mv_data, v->mv_size)))
		hs->fn(json, hs->arg);
	return true;
}

int store_history_foreach(struct store *s, const char *id, void (*fn)(const char *json, void *arg),
			  void *arg, struct sb_err *err)
{
	char prefix[80];
	struct history_scan hs = { fn, arg, (size_t)snprintf(prefix, sizeof prefix, "%s/", id) };

	if (!sb_name_safe(id))
		return unsafe_id(err, id);
	if (!s->henv)
		return sb_fail(err, SB_E_BUSY, 0, "the history database is unavailable (see the service log)");
	return kv_scan(s->henv, s->history, prefix, hs.plen, each_history, &hs, err);
}

static int net_decode(const MDB_val *v, struct netpol *p)
{
	struct json_tokener *tok = json_tokener_new();
	cleanup_json struct json_object *o = NULL;

	if (!tok)
		return -1;
	o = json_tokener_parse_ex(tok, v->mv_data, (int)v->mv_size);
	json_tokener_free(tok);
	return o ? netpol_from_json(o, p) : -1;
}

int store_net_get(struct store *s, const char *id, struct netpol *p, struct sb_err *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	MDB_val k = { strlen(id), (void *)id }, v;
	int rc;

	if (!sb_name_safe(id))
		return unsafe_id(err, id);
	if (kv_begin(s->env, MDB_RDONLY, &txn, err) < 0)
		return -1;
	if ((rc = mdb_get(txn, s->network, &k, &v)))
		return rc == MDB_NOTFOUND ? 0 : kv_fail(err, rc, "get");
	return net_decode(&v, p) < 0 ? sb_fail(err, SB_E_INTERNAL, 0, "corrupt network policy for %s", id) : 1;
}

int store_net_put(struct store *s, const char *id, const struct netpol *p,
		  int (*apply)(void *arg, struct sb_err *err), void *arg, struct sb_err *err)
{
	cleanup_json struct json_object *o = NULL;
	cleanup_txn MDB_txn *txn = NULL;
	MDB_val k = { strlen(id), (void *)id }, v;
	const char *json;
	int rc;

	if (!sb_name_safe(id))
		return unsafe_id(err, id);
	if (kv_begin(s->env, 0, &txn, err) < 0)
		return -1;
	o = netpol_json(p);
	json = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	v.mv_size = strlen(json);
	v.mv_data = (void *)json;
	if ((rc = mdb_put(txn, s->network, &k, &v, 0)))
		return kv_fail(err, rc, "put");
	if (apply && apply(arg, err) < 0)
		return -1;
	return kv_commit(&txn, err);
}

int store_net_del(struct store *s, const char *id, struct sb_err *err)
{
	cleanup_txn MDB_txn *txn = NULL;
	MDB_val k = { strlen(id), (void *)id };
	int rc;

	if (!sb_name_safe(id))
		return unsafe_id(err, id);
	if (kv_begin(s->env, 0, &txn, err) < 0)
		return -1;
	if ((rc = mdb_del(txn, s->network, &k, NULL)) && rc != MDB_NOTFOUND)
		return kv_fail(err, rc, "del");
	return kv_commit(&txn, err);
}

struct net_scan {
	void (*fn)(const char *id, const struct netpol *p, void *arg);
	void *arg;
};

static bool each_net(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct net_scan *ns = arg;
	struct netpol p;
	char id[64];

	if (key_str(k, id, sizeof id) && net_decode(v, &p) == 0)
		ns->fn(id, &p, ns->arg);
	return true;
}

int store_net_foreach(struct store *s, void (*fn)(const char *id, const struct netpol *p, void *arg),
		      void *arg, struct sb_err *err)
{
	struct net_scan ns = { fn, arg };

	return kv_scan(s->env, s->network, NULL, 0, each_net, &ns, err);
}

long long store_bytes(struct store *s)
{
	MDB_envinfo info;
	MDB_stat st;

	if (mdb_env_info(s->env, &info) || mdb_env_stat(s->env, &st))
		return -1;
	return (long long)(info.me_last_pgno + 1) * st.ms_psize;
}
