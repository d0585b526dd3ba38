#include "config.h"

#include "warm.h"
#include "capacity.h"
#include "images.h"
#include "log.h"
#include "sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define WARM_MAX 64

bool warm_name(const char *id)
{
	return !strncmp(id, WARM_PREFIX, strlen(WARM_PREFIX));
}

struct warm_list {
	char id[WARM_MAX][16];
	struct sb_record rec[WARM_MAX];
	int n;
};

static void collect(const char *id, const struct sb_record *r, void *arg)
{
	struct warm_list *l = arg;

	if (l->n < WARM_MAX && strlen(id) < sizeof l->id[0]) {
		snprintf(l->id[l->n], sizeof l->id[0], "%s", id);
		l->rec[l->n++] = *r;
	}
}

/* A warm sandbox fits a create of the defaults: the default image as it is
 * now, started with the default limits as they are now. */
static bool fits(const struct app *app, const struct sb_record *r, const char *version)
{
	const struct conf *c = app->conf;

	return !strcmp(r->image, c->default_image) && !strcmp(r->image_version, version) &&
	       sb_limits_equal(&r->lim, &c->limits);
}

static bool asks_defaults(const struct app *app, const struct sb_want *want)
{
	return !want || (sb_limits_none(&want->lim) &&
			 (!want->image[0] || !strcmp(want->image, app->conf->default_image)));
}

static bool exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, 0) != 0;
}

/* The warm record r's init, if it still runs, killed where it is.  A claim
 * killed between its renames and its record (store_claim) left it running
 * under the projectId it was claiming: directory and cgroups of that name,
 * and no record, so no request and no kill of the warm name's cgroups
 * reaches it.  It is found by its recorded pid and start time (a pidfd),
 * its sandbox by its cgroup, which goes as any directory without a record
 * does (the caller holds the create lock: no claim is under way). */
static void kill_init(struct app *app, const char *id, const struct sb_record *r)
{
	cleanup_close int pidfd = r->init_pid > 0 ? sb_pidfd_open(r->init_pid) : -1;
	struct sb_record none;
	char name[64];

	if (pidfd < 0 || !sandbox_alive(r->init_pid, r->init_start))
		return;
	/* the cgroup read, then the pidfd says the pid was still the init's */
	if (cg_sandbox_of(&app->cg, r->init_pid, name, sizeof name) == 0 && !exited(pidfd) &&
	    strcmp(name, id) != 0 && store_get(&app->store, name, &none, NULL) == 0)
		app_orphan_set_aside(app, name);
	/* pid 1 of its pid namespace: everything else in it goes with it */
	sb_pidfd_send_signal(pidfd, SIGKILL);
}

/* A warm sandbox that is of no use any more (the default image or limits
 * changed, its init died, or a crash left its record without its
 * directory): stopped, its directory set aside (never reused: its uid range
 * goes with it), its record dropped.  Under the create lock. */
static void discard(struct app *app, const char *id, const struct sb_record *r)
{
	char aside[96];

	cg_sandbox_kill(&app->cg, id, NULL);
	kill_init(app, id, r);
	snprintf(aside, sizeof aside, ".q%s-%lld", id, (long long)sb_now_ms());
	renameat2(app->sandboxes_fd, id, app->sandboxes_fd, aside, RENAME_NOREPLACE);
	store_drop(&app->store, id, NULL);
	log_event(NULL, "sandbox.discarded", id, "aside=%s", aside);
}

/* Ours now (its directory renamed to id, under the create lock): its
 * cgroups and hostname follow, then the record, last, so that whoever finds
 * record `id` finds all of it renamed.  On a failure before the record,
 * everything goes back (or, if that fails too, the warm sandbox is stopped:
 * never left half renamed and running). */
static int take_steps(struct app *app, const char *from, const char *id, struct sandbox_ref *sb,
		      bool *cg_done, struct sb_err *err)
{
	if (cg_sandbox_rename(&app->cg, from, id, err) < 0)
		return -1;
	*cg_done = true;
	if (sandbox_set_hostname(sb->rec.init_pid, sb->rec.init_start, id, err) < 0)
		return -1;
	/* 0: its record is gone: `id` is made cold */
	return store_claim(&app->store, from, id, &sb->rec, err);
}

static int take(struct app *app, const char *from, const char *id, struct sandbox_ref *sb,
		struct sb_err *err)
{
	bool cg_done = false;
	int r = take_steps(app, from, id, sb, &cg_done, err);

	if (r <= 0) {
		/* its init died under the claim (the OOM killer, an operator):
		 * of no use, and no fault of the create's, which goes on with
		 * another warm one, or cold */
		bool lost = r < 0 && !sandbox_alive(sb->rec.init_pid, sb->rec.init_start);

		if ((cg_done && cg_sandbox_rename(&app->cg, id, from, NULL) < 0) ||
		    renameat2(app->sandboxes_fd, id, app->sandboxes_fd, from, RENAME_NOREPLACE) < 0 ||
		    sandbox_set_hostname(sb->rec.init_pid, sb->rec.init_start, from, NULL) < 0) {
			cg_sandbox_kill(&app->cg, cg_done ? id : from, NULL);
			cg_sandbox_kill(&app->cg, from, NULL);
		}
		if (lost) {
			char msg[sizeof err->msg];

			snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
			log_event(app->rid, "sandbox.warm_lost", from, "claim=%s error=\"%s\"", id,
				  log_scrub(msg));
			discard(app, from, &sb->rec);
			if (err)
				sb_err_clear(err);
			return 0;
		}
		return r;
	}
	sb->created = true;
	sb->dirfd = openat(app->sandboxes_fd, id, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (sb->dirfd < 0)
		return sb_syserr(err, "open sandbox dir %s", id);
	log_event(app->rid, "sandbox.created", id, "image=%s warm=%s", sb->rec.image, from);
	return 1;
}

int warm_claim(struct app *app, const char *id, const struct sb_want *want, struct sandbox_ref *sb,
	       struct sb_err *err)
{
	struct warm_list l = { .n = 0 };
	char version[64];
	int r = 0, i;

	if (!sb_name_safe(id))
		return sb_fail(err, SB_E_INVALID, EINVAL, "unsafe sandbox name '%.64s'", id);

	if (app->conf->warm_sandboxes <= 0 || app->cg.version != 1 || warm_name(id) ||
	    !asks_defaults(app, want))
		return 0;
	if (images_resolve(app->conf, app->conf->default_image, version, sizeof version, err) < 0 ||
	    store_foreach_prefix(&app->store, WARM_PREFIX, collect, &l, err) < 0)
		return -1;
	for (i = 0; i < l.n; i++)
		if (fits(app, &l.rec[i], version) && sandbox_alive(l.rec[i].init_pid, l.rec[i].init_start))
			break;
	if (i == l.n)
		return 0;
	/* as a cold start would: room first (the capacity lock is held until
	 * the claim is done) */
	if (capacity_make_room(app, id, err) < 0)
		r = -1;
	/* under the create lock no other claim runs: a rename that fails is a
	 * warm sandbox a crash left without its directory (the filler discards
	 * it), or a directory `id` without a record (made cold, which sets it
	 * aside) */
	for (; r == 0 && i < l.n; i++) {
		if (!fits(app, &l.rec[i], version) || !sandbox_alive(l.rec[i].init_pid, l.rec[i].init_start))
			continue;
		if (renameat2(app->sandboxes_fd, l.id[i], app->sandboxes_fd, id, RENAME_NOREPLACE) < 0) {
			if (errno == EEXIST)
				break;
			continue;
		}
		sb->rec = l.rec[i];
		r = take(app, l.id[i], id, sb, err);
	}
	app_capacity_release(app);
	return r;
}

static int start_one(struct app *app, const char *id, bool create, struct sb_err *err)
{
	/* the limits it starts with, recorded: a claim checks they are still
	 * the defaults (a reload may have changed them) */
	struct sb_want want = { .lim = app->conf->limits };
	struct sandbox_ref sb;
	cleanup_close int fd = -1;

	if (app_sandbox_get(app, id, create, &want, &sb, err) == 0 &&
	    (fd = app_sandbox_connect(app, &sb, err)) >= 0 && create)
		log_event(NULL, "sandbox.warm", id, "image=%s", sb.rec.image);
	sandbox_ref_release(&sb);
	return fd >= 0 ? 0 : -1;
}

/* The warm sandboxes of no use any more discarded, under the create lock:
 * a claim renames a warm sandbox's directory first and its record last, so
 * a check between the two, outside the lock, would take the one being
 * claimed for a leftover without its directory.  The usable ones stay in l. */
static int sort_out(struct app *app, const char *version, struct warm_list *l, struct sb_err *err)
{
	cleanup_close int lock = app_create_lock(app, err);
	struct warm_list all = { .n = 0 };

	if (lock < 0 || store_foreach_prefix(&app->store, WARM_PREFIX, collect, &all, err) < 0)
		return -1;
	l->n = 0;
	for (int i = 0; i < all.n; i++) {
		struct stat st;
		if (!fits(app, &all.rec[i], version) ||
		    fstatat(app->sandboxes_fd, all.id[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			discard(app, all.id[i], &all.rec[i]);
			continue;
		}
		memcpy(l->id[l->n], all.id[i], sizeof l->id[0]);
		l->rec[l->n++] = all.rec[i];
	}
	return 0;
}

int warm_fill(struct app *app, struct sb_err *err)
{
	static struct warm_list l;
	char version[64];
	int usable = 0;

	if (app->conf->warm_sandboxes <= 0 || app->cg.version != 1)
		return 0;
	if (images_resolve(app->conf, app->conf->default_image, version, sizeof version, err) < 0 ||
	    sort_out(app, version, &l, err) < 0)
		return -1;
	for (int i = 0; i < l.n; i++) {
		/* stopped with the service: nothing ever ran in it, so it
		 * starts again as it was (a claim never takes one that is not
		 * running: no claim races this start) */
		if (!sandbox_alive(l.rec[i].init_pid, l.rec[i].init_start) &&
		    start_one(app, l.id[i], false, err) < 0)
			return -1;
		usable++;
	}
	for (; usable < app->conf->warm_sandboxes; usable++) {
		unsigned int rnd;
		char id[16];

		if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
			return sb_syserr(err, "getrandom");
		snprintf(id, sizeof id, WARM_PREFIX "%08x", rnd);
		if (start_one(app, id, true, err) < 0)
			return -1;
	}
	return 0;
}
