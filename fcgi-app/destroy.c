/* Destroy: see destroy.h for the steps and why each is where it is. */
#include "config.h"

#include "destroy.h"
#include "expiry.h"
#include "log.h"
#include "metrics.h"
#include "netapply.h"
#include "netpolicy.h"
#include "preview.h"
#include "router.h"
#include "sandbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define DYING_MAX 256	/* slots one sweep finishes */

struct dying {
	uint32_t slot[DYING_MAX];
	char id[DYING_MAX][64];
	const char *only;	/* NULL: every id */
	int n;
};

static void collect(uint32_t slot, const char *id, void *arg)
{
	struct dying *d = arg;

	if (d->n >= DYING_MAX || (d->only && strcmp(d->only, id)))
		return;
	d->slot[d->n] = slot;
	snprintf(d->id[d->n++], sizeof d->id[0], "%s", id);
}

static void gone_name(char *buf, size_t len, uint32_t slot)
{
	snprintf(buf, len, ".gone-%u", slot);
}

struct level {
	char *name;	/* in its parent */
	dev_t dev;	/* the parent's: ".." must lead back there */
	ino_t ino;
};

static int open_dir(int at, const char *name)
{
	return openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
}

/* Empty directory fd of what is no directory and of empty directories.
 * 0: it is empty; 1: *sub (malloc'ed) names a directory in it that is
 * not; -1 on a failure.  unlinkat never follows a symlink. */
static int empty_level(int fd, char **sub)
{
	int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0), ret = 0, saved;
	struct dirent *e;
	DIR *d;

	if (dfd < 0)
		return -1;
	if (!(d = fdopendir(dfd))) {
		close(dfd);
		return -1;
	}
	rewinddir(d);	/* the dup shares the offset of a scan before */
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(fd, e->d_name, 0) == 0 || errno == ENOENT)
			continue;
		if (errno == EISDIR && (unlinkat(fd, e->d_name, AT_REMOVEDIR) == 0 || errno == ENOENT))
			continue;
		if (errno == ENOTEMPTY || errno == EEXIST) {
			*sub = strdup(e->d_name);
			ret = *sub ? 1 : -1;
		} else {
			ret = -1;
		}
		break;
	}
	saved = errno;
	closedir(d);
	errno = saved;
	return ret;
}

/* Remove name of directory at and everything below it, never following a
 * symlink (what a sandbox made is the tenant's: a link to /etc stays a
 * link), with two fds at most however deep the tree is (a tree deeper
 * than the fd limit would keep the slot for ever): down by name, back up
 * by "..", checked to be the directory we came from (the tree is set
 * aside and nothing of the sandbox runs).  0, or -1 with errno of the
 * first failure (the removal stops there; the sweep retries). */
static int remove_at(int at, const char *name)
{
	struct level *lv = NULL;
	size_t n = 0, cap = 0;
	int fd = open_dir(at, name), ret = 0, saved = 0, r;
	struct stat st;
	char *sub;

	if (fd < 0) {
		if (errno != ENOTDIR && errno != ELOOP)
			return errno == ENOENT ? 0 : -1;
		return unlinkat(at, name, 0) < 0 && errno != ENOENT ? -1 : 0;
	}
	for (;;) {
		if ((r = empty_level(fd, &sub)) < 0)
			break;
		if (r > 0) {
			int child = -1;

			if (n == cap) {
				struct level *nl = realloc(lv, (cap ? cap * 2 : 64) * sizeof *lv);

				if (!nl) {
					free(sub);
					r = -1;
					break;
				}
				lv = nl;
				cap = cap ? cap * 2 : 64;
			}
			if (fstat(fd, &st) < 0 || (child = open_dir(fd, sub)) < 0) {
				free(sub);
				r = -1;
				break;
			}
			lv[n++] = (struct level){ .name = sub, .dev = st.st_dev, .ino = st.st_ino };
			close(fd);
			fd = child;
			continue;
		}
		if (n == 0)
			break;
		/* fd is empty now: back up, and it goes */
		r = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		close(fd);
		fd = r;
		n--;
		r = -1;
		if (fd >= 0 && fstat(fd, &st) == 0) {
			if (st.st_dev != lv[n].dev || st.st_ino != lv[n].ino)
				errno = ESTALE;
			else if (unlinkat(fd, lv[n].name, AT_REMOVEDIR) == 0 || errno == ENOENT)
				r = 0;
		}
		saved = errno;
		free(lv[n].name);
		errno = saved;
		if (r < 0)
			break;
	}
	if (r < 0) {
		saved = errno;
		ret = -1;
	}
	if (fd >= 0)
		close(fd);
	for (size_t i = 0; i < n; i++)
		free(lv[i].name);
	free(lv);
	if (!ret && unlinkat(at, name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
		saved = errno;
		ret = -1;
	}
	errno = saved;
	return ret;
}

struct ports {
	unsigned port[64];
	int n;
};

static void collect_port(const struct preview_port *p, void *arg)
{
	struct ports *ps = arg;

	if (ps->n < (int)(sizeof ps->port / sizeof *ps->port))
		ps->port[ps->n++] = p->port;
}

/* Its exposed ports (their preview tokens stop working: a new sandbox of
 * the id must not answer the old links), what the kernel tracks of its
 * connections, and its network policy (its elements in the table are
 * keyed by the slot's address, which the slot's next owner gets) go. */
static int drop_network(struct app *app, const char *id, uint32_t slot, struct sb_err *err)
{
	struct sandbox_ref sb = { .id = id, .dirfd = -1 };
	struct ports ps = { .n = 0 };
	struct netpol p;
	int r;

	do {
		ps.n = 0;
		if (preview_list(&app->store, id, collect_port, &ps, err) < 0)
			return -1;
		for (int i = 0; i < ps.n; i++)
			if (preview_del(&app->store, id, ps.port[i], err) < 0)
				return -1;
	} while (ps.n);
	/* the address as its record had it (store_create: the uid slot's) */
	sb.rec.uid_base = app->conf->uid_base + slot * 65536u;
	sb.rec.net_slot = slot + 1;
	net_forget(app, &sb);
	if ((r = store_net_get(&app->store, id, &p, err)) <= 0)
		return r;
	if (net_unapply(app, &sb, &p, err) < 0)
		return -1;
	return store_net_del(&app->store, id, err);
}

/* Step 2 for slot's owner id (the caller holds the create lock, and no
 * record id exists): what is named by the id goes or moves aside. */
static int move_out(struct app *app, const char *id, uint32_t slot, struct sb_err *err)
{
	char gone[32];

	if (cg_sandbox_destroy(&app->cg, id, err) < 0 || store_history_drop(&app->store, id, err) < 0 ||
	    drop_network(app, id, slot, err) < 0)
		return -1;
	gone_name(gone, sizeof gone, slot);
	if (renameat2(app->sandboxes_fd, id, app->sandboxes_fd, gone, RENAME_NOREPLACE) == 0 || errno == ENOENT)
		return 0;
	if (errno != EEXIST)
		return sb_syserr(err, "move sandbox dir %s aside", id);
	/* a killed step 3 of this slot left part of it: that goes first */
	if (remove_at(app->sandboxes_fd, gone) < 0 ||
	    renameat2(app->sandboxes_fd, id, app->sandboxes_fd, gone, RENAME_NOREPLACE) < 0)
		return sb_syserr(err, "move sandbox dir %s aside", id);
	return 0;
}

struct dying_one {
	uint32_t slot;
	bool found;
	char id[64];
};

static void find_slot(uint32_t slot, const char *id, void *arg)
{
	struct dying_one *o = arg;

	if (slot != o->slot)
		return;
	o->found = true;
	snprintf(o->id, sizeof o->id, "%s", id);
}

/* Whether name is in DATA/sandboxes (an error other than ENOENT counts as
 * there: a slot is never returned on a doubt). */
static bool present(struct app *app, const char *name)
{
	struct stat st;

	return fstatat(app->sandboxes_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT;
}

/* The end of step 3, under the create lock: every move to a .gone-<slot>
 * is made under it, to a slot it found dying.  The removal before ran
 * without it, on a slot found dying then; meanwhile a destroy of a new
 * sandbox of the same id may have moved that one's directory to the same
 * .gone-<slot> (the first dying slot of the id), and another remover may
 * have returned the slot, which a create took and a destroy marked again.
 * So the slot is returned only if it is still dying, its .gone-<slot> is
 * empty, and the id it is dying for now has no directory left to move
 * (a destroy killed after its mark; a record of the id again is a new
 * sandbox's).  0 returned (or returned already), 1 not now (what waits is
 * its mover's or the sweep's to finish), -1 err. */
static int return_slot(struct app *app, uint32_t slot, struct sb_err *err)
{
	cleanup_close int lock = app_create_lock(app, err);
	struct dying_one o = { .slot = slot };
	struct sb_record r;
	char gone[32];
	int found;

	if (lock < 0 || store_dying_foreach(&app->store, find_slot, &o, err) < 0)
		return -1;
	if (!o.found)
		return 0;
	gone_name(gone, sizeof gone, slot);
	if (present(app, gone))
		return 1;
	if (present(app, o.id) && (found = store_get(&app->store, o.id, &r, err)) <= 0)
		return found < 0 ? -1 : 1;
	return store_destroy_done(&app->store, app->conf->uid_base, slot, err) < 0 ? -1 : 0;
}

/* Step 3: the files go, then the slot is returned (return_slot).  0 done,
 * 1 the slot stays dying for now, -1 err.  Never with the create lock
 * held (return_slot takes it). */
static int remove_slot(struct app *app, uint32_t slot, struct sb_err *err)
{
	char gone[32];

	gone_name(gone, sizeof gone, slot);
	if (remove_at(app->sandboxes_fd, gone) < 0)
		return sb_syserr(err, "remove %s", gone);
	sb_fault("destroy-removed");
	sb_fault_pause("destroy-removed-pause");
	return return_slot(app, slot, err);
}

int destroy_move_pending(struct app *app, const char *id, struct sb_err *err)
{
	struct dying d = { .only = id };

	if (store_dying_foreach(&app->store, collect, &d, err) < 0)
		return -1;
	for (int i = 0; i < d.n; i++)
		if (move_out(app, id, d.slot[i], err) < 0)
			return -1;
	return 0;
}

/* The sandbox's own lock (app_sandbox_connect starts it under it): a start
 * under way ends first, and one that follows finds no record.  -1: no
 * directory, nothing can start there. */
static int sandbox_lock(struct app *app, const char *id)
{
	cleanup_close int dfd = openat(app->sandboxes_fd, id, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	cleanup_close int fd = -1;

	if (dfd < 0)
		return -1;
	fd = openat(dfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return -1;
	return steal_fd(&fd);
}

/* destroy_sandbox; with `still`, only while the record is the one still()
 * accepts (checked in the mark's transaction): 1 destroyed, 0 not (no
 * record, or kept), -1 err. */
static int destroy_if(struct app *app, const char *id,
		      bool (*still)(const struct sb_record *r, const void *arg), const void *arg,
		      struct sb_err *err)
{
	struct dying d = { .only = id };
	cleanup_close int lock = -1, sblock = -1;
	int64_t t0 = sb_mono_ms();
	struct sb_err rerr = SB_ERR_INIT;
	struct sb_record r;
	uint32_t slot = 0;
	int found;

	if (!sb_name_safe(id))
		return sb_fail(err, SB_E_INVALID, EINVAL, "unsafe sandbox name '%.64s'", id);
	if ((lock = app_create_lock(app, err)) < 0)
		return -1;
	sblock = sandbox_lock(app, id);
	found = store_destroy_mark(&app->store, id, app->conf->uid_base, still, arg, &r, &slot, err);
	if (found < 0)
		return -1;
	if (found == STORE_KEPT)
		return 0;	/* a live record: nothing of the id is to move */
	sb_fault("destroy-marked");
	/* this one's, and any a killed destroy of the same id left */
	if (destroy_move_pending(app, id, err) < 0)
		return -1;
	sb_fault_pause("destroy-moved-pause");
	if (store_dying_foreach(&app->store, collect, &d, err) < 0)
		return -1;
	sb_fault("destroy-moved");
	sb_closep(&sblock);
	sb_closep(&lock);
	sblock = lock = -1;
	/* gone for the API and for a new sandbox of that id now; a slot whose
	 * files cannot go stays dying (the sweep retries), never reused */
	for (int i = 0; i < d.n; i++) {
		int rc = remove_slot(app, d.slot[i], &rerr);

		if (rc < 0)
			log_printf("error", app->rid, "destroy %s: %s (the slot stays unused; retried by the sweep)",
				   id, rerr.msg);
		else if (rc > 0)
			log_printf("info", app->rid, "destroy %s: slot %u not returned yet: a directory was "
				   "set aside for it since (its destroy or the sweep returns it)", id, d.slot[i]);
	}
	if (found > 0) {
		metrics_destroyed();
		log_event(app->rid, "sandbox.destroyed", id, "slot=%u ms=%lld", slot,
			  (long long)(sb_mono_ms() - t0));
	}
	return found > 0;
}

int destroy_sandbox(struct app *app, const char *id, struct sb_err *err)
{
	return destroy_if(app, id, NULL, NULL, err) < 0 ? -1 : 0;
}

struct expired {
	char id[DYING_MAX][64];
	bool idle[DYING_MAX];
	bool fork[DYING_MAX];	/* a fork that did not finish */
	int64_t created[DYING_MAX];	/* the record collected */
	int64_t now;
	int64_t idle_ms;
	int64_t next;	/* the earliest ttl still to come; 0: none */
	int n, nidle;
};

static void collect_expired(const char *id, const struct sb_record *r, void *arg)
{
	struct expired *e = arg;
	bool ttl = r->expires_ms && e->now >= r->expires_ms;
	bool idle = e->idle_ms > 0 && e->now - r->active_ms >= e->idle_ms;

	if (r->expires_ms > e->now && (!e->next || r->expires_ms < e->next))
		e->next = r->expires_ms;
	/* warm sandboxes (".w...") are nobody's: never expired */
	if (!project_id_valid(id) || !(ttl || idle || r->forking))
		return;
	/* idle ones by their record may not be quiet (a process runs): at most
	 * half the room, so they never keep a ttl or a fork from the sweep */
	if (!ttl && !r->forking && e->nidle >= DYING_MAX / 2)
		return;
	if (e->n >= DYING_MAX) {
		e->next = e->now;	/* more than a sweep takes: another soon */
		return;
	}
	e->nidle += !ttl && !r->forking;
	e->fork[e->n] = r->forking;
	e->idle[e->n] = !ttl;
	e->created[e->n] = r->created_ms;
	snprintf(e->id[e->n++], sizeof e->id[0], "%s", id);
}

/* Idle: stopped, or nothing but its init runs (an exec or a background
 * process is activity, however long since the last request). */
static bool quiet(struct app *app, const char *id)
{
	struct sb_record r;
	struct cg_usage u;

	if (store_get(&app->store, id, &r, NULL) != 1)
		return false;
	if (!sandbox_alive(r.init_pid, r.init_start))
		return true;
	return cg_sandbox_usage(&app->cg, id, &u) == 0 && u.pids <= 1;
}

struct still_expired {
	int64_t created;
	int64_t idle_ms;	/* 0: the ttl */
};

/* In the mark's transaction: the record is the one the sweep collected
 * (not destroyed and made again since) and still expired (a POST may have
 * extended its ttl, a request made it active, while the sweep destroyed
 * the ones before it). */
static bool still_expired(const struct sb_record *r, const void *arg)
{
	const struct still_expired *x = arg;
	int64_t now = sb_now_ms();

	if (r->created_ms != x->created)
		return false;
	if (x->idle_ms)
		return now - r->active_ms >= x->idle_ms;
	return r->expires_ms && now >= r->expires_ms;
}

/* In the mark's transaction, under the create lock (which a fork holds
 * from its copy until its record is cleared of `forking`): still the fork
 * collected, and still marked, so its fork is not under way but died. */
static bool unfinished(const struct sb_record *r, const void *arg)
{
	return r->forking && r->created_ms == *(const int64_t *)arg;
}

int destroy_unfinished_fork(struct app *app, const char *id, int64_t created_ms, struct sb_err *err)
{
	int r = destroy_if(app, id, unfinished, &created_ms, err);

	if (r > 0)
		log_event(app->rid, "sandbox.fork_unfinished", id, "removed=1");
	return r;
}

int destroy_expired(struct app *app)
{
	static struct expired e;
	struct sb_err err = SB_ERR_INIT;
	int done = 0, hint;

	memset(&e, 0, sizeof e);
	e.now = sb_now_ms();
	e.idle_ms = app->conf->destroy_idle_ms;
	/* the expiry hint's lock across the read: a ttl set after it is
	 * written after this sweep's hint (expiry.h) */
	hint = expiry_sweep_begin(app->conf);
	if (store_foreach(&app->store, collect_expired, &e, &err) < 0) {
		log_printf("error", NULL, "expiry sweep: %s", err.msg);
		expiry_sweep_end(hint, e.now);	/* read again soon */
		return 0;
	}
	expiry_sweep_end(hint, e.next);
	for (int i = 0; i < e.n; i++) {
		struct still_expired x = { .created = e.created[i], .idle_ms = e.idle[i] ? e.idle_ms : 0 };
		int r;

		if (e.fork[i]) {
			if (destroy_unfinished_fork(app, e.id[i], e.created[i], &err) < 0) {
				log_printf("error", NULL, "sweep: remove the unfinished fork %s: %s", e.id[i], err.msg);
				sb_err_clear(&err);
			}
			continue;
		}
		if (e.idle[i] && !quiet(app, e.id[i]))
			continue;
		if ((r = destroy_if(app, e.id[i], still_expired, &x, &err)) < 0) {
			log_printf("error", NULL, "expiry sweep: destroy %s: %s", e.id[i], err.msg);
			sb_err_clear(&err);
			continue;
		}
		if (!r)
			continue;	/* extended, active again, or another one now */
		metrics_expired();
		log_event(NULL, "sandbox.expired", e.id[i], "reason=%s", e.idle[i] ? "idle" : "ttl");
		done++;
	}
	return done;
}

int destroy_finish_pending(struct app *app)
{
	static struct dying d;
	struct sb_err err = SB_ERR_INIT;
	cleanup_close int lock = -1;
	bool moved[DYING_MAX];
	int done = 0, rc;

	memset(&d, 0, sizeof d);
	if (store_dying_foreach(&app->store, collect, &d, &err) < 0) {
		log_printf("error", NULL, "destroy sweep: %s", err.msg);
		return -1;
	}
	if (d.n == 0)
		return 0;
	if ((lock = app_create_lock(app, &err)) < 0) {
		log_printf("error", NULL, "destroy sweep: %s", err.msg);
		return d.n;
	}
	/* again under the lock: a slot a destroy returned meanwhile (and a
	 * create took) is not one to move a directory aside for */
	memset(&d, 0, sizeof d);
	if (store_dying_foreach(&app->store, collect, &d, &err) < 0) {
		log_printf("error", NULL, "destroy sweep: %s", err.msg);
		return -1;
	}
	for (int i = 0; i < d.n; i++) {
		struct sb_record r;
		int found = store_get(&app->store, d.id[i], &r, &err);

		/* a record of the id again: its create moved the old one out */
		moved[i] = found > 0 || (found == 0 && move_out(app, d.id[i], d.slot[i], &err) == 0);
		if (!moved[i])
			log_printf("error", NULL, "destroy sweep: %s: %s", d.id[i], err.msg);
		sb_err_clear(&err);
	}
	sb_closep(&lock);
	lock = -1;
	for (int i = 0; i < d.n; i++) {
		if (!moved[i])
			continue;
		if ((rc = remove_slot(app, d.slot[i], &err)) != 0) {
			if (rc < 0)
				log_printf("error", NULL, "destroy sweep: %s: %s", d.id[i], err.msg);
			sb_err_clear(&err);
			continue;
		}
		log_event(NULL, "sandbox.destroy_finished", d.id[i], "slot=%u", d.slot[i]);
		done++;
	}
	return d.n - done;
}
