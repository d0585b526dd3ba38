#include "config.h"

#include "app.h"
#include "auth.h"
#include "netapply.h"
#include "preview.h"
#include "log.h"
#include "capacity.h"
#include "destroy.h"
#include "disk.h"
#include "images.h"
#include "imagestore.h"
#include "metrics.h"
#include "net.h"
#include "quota.h"
#include "sandbox.h"
#include "warm.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

void app_store_sizes(const struct conf *c, struct store_sizes *sz)
{
	sz->map_bytes[STORE_MAIN] = c->store_map_bytes;
	sz->map_bytes[STORE_HISTORY] = c->history_map_bytes;
	sz->tenants = auth_tenants(c->tokens);
}

int app_open(struct app *app, const struct conf *conf, struct sb_err *err)
{
	struct store_sizes sz;
	char path[PATH_MAX];

	memset(app, 0, sizeof *app);
	app->conf = conf;
	for (int i = 0; i < CG_NDIRS; i++)
		app->cg.dir[i] = -1;
	app->sandboxes_fd = -1;
	app->spares_fd = -1;
	app->capacity_lock = -1;
	snprintf(app->cgname, sizeof app->cgname, "e0");
	snprintf(path, sizeof path, "%s/db", conf->data_dir);
	app_store_sizes(conf, &sz);
	if (store_open(&app->store, path, &sz, err) < 0)
		return -1;
	if (cg_open(&app->cg, conf->cgroup_root, conf->cg_parent, err) < 0)
		return -1;
	snprintf(path, sizeof path, "%s/sandboxes", conf->data_dir);
	app->sandboxes_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (app->sandboxes_fd < 0)
		return sb_syserr(err, "open %s", path);
	snprintf(path, sizeof path, "%s/spares", conf->data_dir);
	app->spares_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (app->spares_fd < 0)
		return sb_syserr(err, "open %s", path);
	{
		struct sb_err qerr = SB_ERR_INIT;
		/* without it requests are served, only not counted */
		if (quota_open(conf->data_dir, &qerr) < 0)
			fprintf(stderr, "sandboxd: concurrency shares not counted: %s\n", qerr.msg);
	}
	return 0;
}

void app_close(struct app *app)
{
	store_close(&app->store);
	cg_close(&app->cg);
	sb_closep(&app->sandboxes_fd);
	sb_closep(&app->spares_fd);
	app->sandboxes_fd = app->spares_fd = -1;
}

void app_capacity_release(struct app *app)
{
	sb_closep(&app->capacity_lock);
	app->capacity_lock = -1;
}

void sandbox_ref_release(struct sandbox_ref *sb)
{
	if (sb->writer)
		metrics_writing(sb->writer - 1, 0);
	sb->writer = 0;
	sb_closep(&sb->dirfd);
	sb->dirfd = -1;
}

static const struct { const char *name; mode_t mode; } subdirs[] = {
	{ "upper", 0755 }, { "work", 0700 }, { "root", 0755 }, { "disk", 0700 },
};

static bool is_subdir(const char *name)
{
	for (size_t i = 0; i < sizeof subdirs / sizeof *subdirs; i++)
		if (!strcmp(name, subdirs[i].name))
			return true;
	return false;
}

/* Remove directory `name` of DATA/sandboxes if it holds nothing but (some
 * of) the subdirectories a create makes, empty; 0 when it is gone, -1 (and
 * nothing touched but empty subdirectories) otherwise. */
static int remove_empty(struct app *app, const char *name)
{
	cleanup_close int fd = openat(app->sandboxes_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
				      O_NOFOLLOW);
	cleanup_close int dfd = -1;
	struct dirent *e;
	bool other = false;
	DIR *d;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d)
		return -1;
	dfd = -1;	/* the DIR owns it */
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && !is_subdir(e->d_name))
			other = true;
	closedir(d);
	if (other) {
		errno = ENOTEMPTY;
		return -1;
	}
	for (size_t i = 0; i < sizeof subdirs / sizeof *subdirs; i++)
		if (unlinkat(fd, subdirs[i].name, AT_REMOVEDIR) < 0 && errno != ENOENT)
			return -1;
	return unlinkat(app->sandboxes_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT ? -1 : 0;
}

/* The directory stage, made, filled with its subdirectories and renamed to id. */
static int fill_and_publish(struct app *app, const char *stage, const char *id, struct sb_err *err)
{
	cleanup_close int fd = openat(app->sandboxes_fd, stage, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return sb_syserr(err, "open sandbox dir %s", id);
	for (size_t i = 0; i < sizeof subdirs / sizeof *subdirs; i++)
		if (mkdirat(fd, subdirs[i].name, subdirs[i].mode) < 0)
			return sb_syserr(err, "mkdir %s/%s", id, subdirs[i].name);
	sb_fault("create-staged");
	if (renameat2(app->sandboxes_fd, stage, app->sandboxes_fd, id, RENAME_NOREPLACE) < 0)
		return sb_syserr(err, "publish sandbox dir %s", id);
	sb_fault("create-published");
	return 0;
}

/* <data>/sandboxes/<id>/{upper,work,root,disk}, 0700 at the top so that no
 * host user can reach the sandbox's files: made whole under a staging name
 * (".new-<id>", one create at a time holds the create lock), then renamed
 * into place, so that a directory `id` is never half made.  A staged one a
 * killed create left is removed first. */
static int publish_dirs(struct app *app, const char *id, struct sb_err *err)
{
	char stage[128];

	snprintf(stage, sizeof stage, ".new-%s", id);
	if (remove_empty(app, stage) < 0)
		return sb_syserr(err, "remove a half-made %s", stage);
	if (mkdirat(app->sandboxes_fd, stage, 0700) < 0)
		return sb_syserr(err, "mkdir sandbox dir %s", id);
	if (fill_and_publish(app, stage, id, err) < 0) {
		remove_empty(app, stage);
		return -1;
	}
	return 0;
}

/* DATA/sandboxes/.create.lock, held (flock) for one create at a time; the
 * fd, or -1.  A process takes it once: a second open file of the same lock
 * would wait for the first forever. */
int app_create_lock(struct app *app, struct sb_err *err)
{
	cleanup_close int lock = openat(app->sandboxes_fd, ".create.lock",
					O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (lock < 0)
		return sb_syserr(err, "open create lock");
	while (flock(lock, LOCK_EX) < 0)
		if (errno != EINTR)
			return sb_syserr(err, "create lock");
	return steal_fd(&lock);
}

/* The sandbox's directory, made now if its record has none (what a
 * create from before the directory came first could leave); `locked`: the
 * caller holds the create lock, else it is taken to make it. */
static int open_dirs(struct app *app, const char *id, bool locked, struct sb_err *err)
{
	cleanup_close int lock = -1;
	int fd;

	if (!sb_name_safe(id))
		return sb_fail(err, SB_E_INVALID, EINVAL, "unsafe sandbox name '%.64s'", id);
	fd = openat(app->sandboxes_fd, id, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0)
		return fd;
	if (errno != ENOENT)
		return sb_syserr(err, "open sandbox dir %s", id);
	if (!locked && (lock = app_create_lock(app, err)) < 0)
		return -1;
	/* destroyed meanwhile (a destroy holds the lock): not made again */
	if (!locked && store_get(&app->store, id, &(struct sb_record){ 0 }, err) != 1)
		return sb_fail(err, SB_E_NOT_FOUND, ENOENT, "sandbox %s not found", id);
	/* again: another request may have made it while we waited */
	fd = openat(app->sandboxes_fd, id, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0)
		return fd;
	if (errno != ENOENT)
		return sb_syserr(err, "open sandbox dir %s", id);
	if (publish_dirs(app, id, err) < 0)
		return -1;
	fd = openat(app->sandboxes_fd, id, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	return fd < 0 ? sb_syserr(err, "open sandbox dir %s", id) : fd;
}

static int host_room(const struct conf *c, long long need, long long others, const char *what,
		     struct sb_err *err)
{
	long long avail, reserve = (long long)c->disk_reserve_mb << 20;
	struct statvfs vfs;

	if (statvfs(c->data_dir, &vfs) < 0)
		return 0;	/* unknown: the write itself will tell */
	avail = (long long)vfs.f_bavail * (long long)vfs.f_frsize;
	if (avail - need - others >= reserve)
		return 0;
	if (others)
		return sb_fail(err, SB_E_NO_SPACE, ENOSPC, "the host is short of disk space: %lld MiB free, %lld MiB "
			       "of it being written by other requests, %s needs %lld MiB and %lld MiB "
			       "stay in reserve; free some space and retry", avail >> 20, others >> 20,
			       what, need >> 20, reserve >> 20);
	return sb_fail(err, SB_E_NO_SPACE, ENOSPC, "the host is short of disk space: %lld MiB free, %s needs "
		       "%lld MiB and %lld MiB stay in reserve; free some space and retry",
		       avail >> 20, what, need >> 20, reserve >> 20);
}

int app_host_room(const struct conf *c, long long need, const char *what, struct sb_err *err)
{
	return host_room(c, need, 0, what, err);
}

int app_admit_write(struct app *app, struct sandbox_ref *sb, long long need, const char *what,
		    struct sb_err *err)
{
	long long others;

	/* a preallocated disk has its host blocks already */
	if (app->conf->disk_prealloc)
		return 0;
	/* nothing takes more host blocks than the sandbox's disk has */
	if (sb->rec.lim.disk_mb > 0 && need > (long long)sb->rec.lim.disk_mb << 20)
		need = (long long)sb->rec.lim.disk_mb << 20;
	/* ours counted before the check: of two concurrent writes at least
	 * one sees the other (metrics_writing), so together they cannot
	 * overrun what each alone would fit in */
	others = metrics_writing(app->serial, need);
	sb->writer = app->serial + 1;
	if (host_room(app->conf, need, others, what, err) == 0)
		return 0;
	metrics_writing(app->serial, 0);
	sb->writer = 0;
	return -1;
}

void app_disk_failed(struct app *app, const struct sandbox_ref *sb, struct sb_err *err)
{
	char msg[sizeof err->msg], logged[sizeof err->msg];

	if (!err || sb->dirfd < 0 || sb->rec.lim.disk_mb <= 0 || (err->errnum != EIO && err->errnum != EROFS))
		return;
	/* read-only by the sandbox's choice (a read-only mount of its own)
	 * stays the client's 403 */
	if (err->errnum == EROFS && disk_image_health(sb->dirfd) != 0)
		return;
	snprintf(msg, sizeof msg, "%s", err->msg);
	snprintf(logged, sizeof logged, "%s", msg);
	log_event(app->rid, "sandbox.disk_failed", sb->id, "error=\"%s\"", log_scrub(logged));
	if (!strstr(msg, SB_DISK_FAILED))
		sb_fail(err, SB_E_NO_SPACE, err->errnum, "%.200s: " SB_DISK_FAILED, msg);
}

int app_sandbox_open(struct app *app, const char *id, long long need, const char *what,
		     struct sandbox_ref *sb, struct sb_err *err)
{
	if (app_sandbox_get(app, id, true, NULL, sb, err) < 0 ||
	    (need >= 0 && app_admit_write(app, sb, need, what, err) < 0))
		return -1;
	return app_sandbox_connect(app, sb, err);
}

/* A directory `id` without a record is what a crash leaves in the middle
 * of a create (the directory is published, then the record written) or of
 * a warm claim: removed when it is the empty one a create makes, else its
 * processes are stopped and it is set aside, never adopted. */
void app_orphan_set_aside(struct app *app, const char *id)
{
	char aside[96];
	struct stat st;

	if (!sb_name_safe(id) || fstatat(app->sandboxes_fd, id, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	/* its cgroups go too: a warm claim of the id renames a warm
	 * sandbox's onto the name, which must be free (a claim killed before
	 * its record left them there) */
	cg_sandbox_destroy(&app->cg, id, NULL);
	/* a fork killed before its record: its copy goes, not aside */
	cleanup_close int fd = openat(app->sandboxes_fd, id, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0)
		snapshot_leftovers_clean(fd, true);
	if (remove_empty(app, id) == 0) {
		log_event(app->rid, "sandbox.orphan", id, "removed=empty");
		return;
	}
	snprintf(aside, sizeof aside, ".q%s-%lld", id, (long long)sb_now_ms());
	renameat2(app->sandboxes_fd, id, app->sandboxes_fd, aside, RENAME_NOREPLACE);
	log_event(app->rid, "sandbox.orphan", id, "aside=%s", aside);
}

static void count_sandbox(const char *id, const struct sb_record *r, void *arg)
{
	(void)r;
	*(int *)arg += !warm_name(id);
}

/* A token of one scope has at most max-sandboxes-per-token: its own are
 * the range of records its scope begins (counted under the create lock,
 * so two creates do not both take the last one). */
static int scope_room(struct app *app, struct sb_err *err)
{
	int n = 0, cap = app->conf->max_sandboxes_per_token;

	if (!app->scope || !*app->scope || cap <= 0)
		return 0;
	if (store_foreach_prefix(&app->store, app->scope, count_sandbox, &n, err) < 0)
		return -1;
	if (n >= cap)
		return sb_fail(err, SB_E_LIMIT, 0, "the token's scope %s has %d sandboxes, its "
			       "max-sandboxes-per-token: no new one", app->scope, n);
	return 0;
}

static void add_disk(const char *id, const struct sb_record *r, void *arg)
{
	(void)id;
	*(long long *)arg += r->lim.disk_mb;
}

/* Disks are sparse: what they may come to, summed (this one's mb
 * included), stays within disk-overcommit percent of the data dir's file
 * system, else 507 (the host's real free space is disk-reserve-mb's). */
static int disk_room(struct app *app, long mb, struct sb_err *err)
{
	long long sum = mb, room;
	struct statvfs vfs;

	if (app->conf->disk_overcommit <= 0 || mb <= 0 || statvfs(app->conf->data_dir, &vfs) < 0)
		return 0;
	room = (long long)vfs.f_blocks * (long long)vfs.f_frsize / 100 * app->conf->disk_overcommit >> 20;
	if (store_foreach(&app->store, add_disk, &sum, err) < 0)
		return -1;
	if (sum <= room)
		return 0;
	return sb_fail(err, SB_E_NO_SPACE, ENOSPC, "the sandboxes' disks would add up to %lld MiB, more than "
		       "the %lld MiB disk-overcommit admits on the host's file system: ask a smaller diskMb, "
		       "or the operator raises disk-overcommit", sum, room);
}

static void fork_done(struct sb_record *r, const void *arg)
{
	(void)arg;
	r->forking = false;
}

/* A new sandbox, from a warm one or cold.  One create at a time (a lock
 * over DATA/sandboxes): a warm claim renames a directory, cgroups and a
 * record that a concurrent create of the same id must find all renamed or
 * none.  Cold, the directory is published whole first and the record is
 * written last: a sandbox exists once its record does, and a create that
 * fails or is killed on the way leaves nothing the next one trips on. */
static int create_new(struct app *app, const char *id, const struct sb_want *want,
		      struct sandbox_ref *sb, struct sb_err *err)
{
	cleanup_close int lock = app_create_lock(app, err);
	cleanup_close int fork_lock = -1;
	const struct sb_fork *fork = want ? want->fork : NULL;
	int found, w;

	if (lock < 0)
		return -1;
	found = store_get(&app->store, id, &sb->rec, err);
	if (found < 0)
		return -1;
	if (found && want && want->image[0] && strcmp(want->image, sb->rec.image) != 0)
		return sb_fail(err, SB_E_CONFLICT, EEXIST, "sandbox %s runs image %s: an image is chosen "
			       "when the sandbox is created, for its life", id, sb->rec.image);
	/* a destroy of this id killed before it moved the old one out: done
	 * now, so the new one finds nothing of it */
	if (!found && destroy_move_pending(app, id, err) < 0)
		return -1;
	if (!found && scope_room(app, err) < 0)
		return -1;
	if (!found && !fork && (w = warm_claim(app, id, want, sb, err)) != 0)
		return w < 0 ? -1 : 0;
	if (!found)
		app_orphan_set_aside(app, id);
	if (!found) {
		const char *image = want && want->image[0] ? want->image : app->conf->default_image;
		memset(&sb->rec, 0, sizeof sb->rec);
		if (fork) {
			/* the copied upper layer goes with the lower it was made on */
			memcpy(sb->rec.image_version, fork->rec.image_version, sizeof sb->rec.image_version);
			sb->rec.lim = fork->rec.lim;
			/* until the copy is its disk: a worker killed before
			 * leaves a record that never starts on an empty disk */
			sb->rec.forking = true;
		} else {
			/* before the record: an unknown image creates nothing */
			if (images_resolve(app->conf, image, sb->rec.image_version,
					   sizeof sb->rec.image_version, err) < 0)
				return -1;
			/* the disk size is fixed at creation: the default is recorded too */
			sb_limits_for_create(want ? &want->lim : NULL, &app->conf->limits, &sb->rec.lim);
		}
		/* room on the host first: what making its disk takes at once,
		 * and what it may come to */
		if (disk_room(app, sb->rec.lim.disk_mb, err) < 0 ||
		    app_host_room(app->conf, disk_image_host_bytes((long long)sb->rec.lim.disk_mb << 20,
								   app->conf->disk_prealloc),
				  "a create", err) < 0 ||
		    publish_dirs(app, id, err) < 0)
			return -1;
		/* a fork's disk is in place before its record, and its ids
		 * shifted before anything can start it (its start lock) */
		if (fork && (fork_lock = snapshot_fork_copy(app, id, fork, err)) < 0) {
			remove_empty(app, id);
			return -1;
		}
		if (store_create(&app->store, id, image, app->conf->uid_base, app->conf->uid_slots,
				 &sb->rec, &sb->created, err) < 0) {
			if (fork)
				snapshot_fork_finish(app, id, NULL, 0, NULL);
			remove_empty(app, id);
			return -1;
		}
		/* the mark goes while the create lock and the fork's start
		 * lock are held: whoever holds either and finds a record still
		 * marked knows its fork died (or failed) on the way */
		if (fork) {
			sb_fault("fork-recorded");
			if (snapshot_fork_finish(app, id, fork, sb->rec.uid_base, err) < 0)
				return -1;
			sb_fault("fork-placed");
			if (store_update(&app->store, id, fork_done, NULL, err) < 0)
				return -1;
			sb->rec.forking = false;
		}
		if (sb->created)
			log_event(app->rid, "sandbox.created", id, "image=%s", image);
	}
	sb->dirfd = open_dirs(app, id, true, err);
	return sb->dirfd < 0 ? -1 : 0;
}

int app_sandbox_get(struct app *app, const char *id, bool create, const struct sb_want *want,
		    struct sandbox_ref *sb, struct sb_err *err)
{
	int found;

	memset(sb, 0, sizeof *sb);
	sb->id = id;
	sb->dirfd = -1;
	if (!sb_name_safe(id))
		return sb_fail(err, SB_E_INVALID, EINVAL, "unsafe sandbox name '%.64s'", id);
	found = store_get(&app->store, id, &sb->rec, err);
	if (found < 0)
		return -1;
	if (!found && !create)
		return sb_fail(err, SB_E_NOT_FOUND, ENOENT, "sandbox %s not found", id);
	if (found && want && want->image[0] && strcmp(want->image, sb->rec.image) != 0)
		return sb_fail(err, SB_E_CONFLICT, EEXIST, "sandbox %s runs image %s: an image is chosen "
			       "when the sandbox is created, for its life", id, sb->rec.image);
	if (!found)
		return create_new(app, id, want, sb, err);
	sb->dirfd = open_dirs(app, id, false, err);
	return sb->dirfd < 0 ? -1 : 0;
}



bool app_sandbox_running(const struct sandbox_ref *sb)
{
	return sandbox_alive(sb->rec.init_pid, sb->rec.init_start);
}

void app_sandbox_gone(const struct sandbox_ref *sb, struct sb_err *err)
{
	cleanup_close int pidfd = -1;
	struct pollfd p;

	if (!err || err->kind != SB_E_INTERNAL || (err->errnum != EPIPE && err->errnum != ECONNRESET))
		return;
	/* its socket closes as it exits, before it is a zombie: wait for that */
	pidfd = sb_pidfd_open(sb->rec.init_pid);
	if (pidfd >= 0 && app_sandbox_running(sb)) {
		p = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		while (poll(&p, 1, 1000) < 0 && errno == EINTR)
			;
	}
	if (app_sandbox_running(sb))
		return;
	sb_fail(err, SB_E_CONFLICT, err->errnum, "sandbox %s was stopped while the request ran (a restore or "
		"a stop killed its processes); retry", sb->id);
}

void app_sandbox_limits(const struct app *app, const struct sb_record *r, struct cg_limits *lim)
{
	struct sb_limits l;

	sb_limits_effective(&r->lim, &app->conf->limits, &l);
	lim->memory_bytes = (long long)l.memory_mb << 20;
	lim->pids = l.pids;
	lim->cpu_millis = l.cpu_millis;
}

static void set_limits(struct sb_record *r, const void *arg)
{
	sb_limits_update(&r->lim, arg);
}

int app_sandbox_set_limits(struct app *app, struct sandbox_ref *sb, const struct sb_limits *want,
			   struct sb_err *err)
{
	struct sb_record r = sb->rec;
	struct sb_limits was, now;
	struct cg_limits lim;

	/* the kernel first, then the record: it never says what is not enforced */
	set_limits(&r, want);
	app_sandbox_limits(app, &r, &lim);
	if (cg_sandbox_create(&app->cg, sb->id, &lim, err) < 0)
		return -1;
	sb_limits_effective(&sb->rec.lim, &app->conf->limits, &was);
	sb_limits_effective(&r.lim, &app->conf->limits, &now);
	if (net_caps_set(app, &r, &was, &now, err) < 0)
		return -1;
	sb->rec = r;
	return store_update(&app->store, sb->id, set_limits, want, err);
}

static int start_locked(struct app *app, struct sandbox_ref *sb, struct sb_err *err)
{
	const struct conf *c = app->conf;
	char dir[PATH_MAX], image[PATH_MAX], ca[PATH_MAX + 32];
	struct sb_net_spec net;
	struct sb_limits caps;
	struct cg_limits lim;
	pid_t pid;

	snprintf(dir, sizeof dir, "%s/sandboxes/%s", c->data_dir, sb->id);
	/* under the start lock: no copy of this sandbox is under way, what
	 * one left (a worker killed mid-copy) goes */
	snapshot_leftovers_clean(sb->dirfd, false);
	if (images_rootfs(c, sb->rec.image, sb->rec.image_version, image, sizeof image, err) < 0)
		return -1;
	struct sb_spec spec = {
		.id = sb->id, .sandbox_dir = dir, .image_dir = image,
		.uid_base = sb->rec.uid_base, .cg = &app->cg,
		.host_dirs = !strcmp(sb->rec.image, IMAGE_BUILTIN) || !sb->rec.image[0],
	};
	if (c->ca_bundle[0]) {
		snprintf(ca, sizeof ca, "%s/" CA_BUNDLE_COPY, c->data_dir);
		spec.ca_bundle = ca;
	}
	if (c->network) {
		if (net_spec(c, &sb->rec, &net, err) < 0)
			return -1;
		spec.net = &net;
	}
	app_sandbox_limits(app, &sb->rec, &lim);
	if (cg_sandbox_create(&app->cg, sb->id, &lim, err) < 0)
		return -1;
	spec.disk = sb->rec.lim.disk_mb > 0;
	if (spec.disk && disk_image_ensure(sb->dirfd, (long long)sb->rec.lim.disk_mb << 20,
					   sb->rec.uid_base, app->spares_fd, c->disk_prealloc, err) < 0)
		return -1;
	/* a file system that took an error (a write the host had no room for,
	 * before --disk-prealloc or on a full disk of its own) is repaired
	 * before it is mounted again, never left read-only */
	if (spec.disk && disk_image_health(sb->dirfd) == 0) {
		metrics_disk_error();
		log_event(app->rid, "sandbox.disk_errors", sb->id, "action=e2fsck");
		if (disk_image_repair(sb->dirfd, err) < 0)
			return -1;
		log_event(app->rid, "sandbox.disk_repaired", sb->id, "healthy=%d",
			  disk_image_health(sb->dirfd));
	}
	int64_t t0 = sb_mono_ms();
	struct sb_launch launch;
	if (sandbox_launch(&spec, &launch, &pid, err) < 0)
		return -1;
	/* recorded once its init is ready.  Recording it while the init built
	 * its root (to overlap the commit's fdatasync, 0.1-1.3 ms) let others
	 * act on an init not ready: a warm claim renamed one and set its
	 * hostname, which the init then set back; a status read the disk
	 * figures of /proc/PID/root before the init's pivot_root */
	if (sandbox_launch_wait(&launch, err) < 0)
		return -1;
	sb->rec.init_pid = pid;
	sb->rec.init_start = sb_proc_starttime(pid);
	/* runtime state, never synced (store_init_set): an fdatasync here
	 * (0.2 ms quiet, 1-7 ms loaded) protected nothing, every init dies
	 * with the host.  The record's activity stays the requests' (the
	 * touch after this start writes it, synced, when it is a second old:
	 * an idle destroy after a crash never finds a used sandbox idle) */
	if (store_init_set(&app->store, sb->id, &sb->rec, sb_now_ms(), err) < 0) {
		cg_sandbox_kill(&app->cg, sb->id, NULL);
		return -1;
	}
	sb_fault("start-recorded");
	log_event(app->rid, "sandbox.started", sb->id, "image=%s ms=%lld", sb->rec.image[0] ? sb->rec.image : IMAGE_BUILTIN,
		  (long long)(sb_mono_ms() - t0));
	/* a new network namespace: its exposed ports forwarded to localhost again */
	struct sb_err perr = SB_ERR_INIT;
	if (preview_net_apply(app, sb->id, &sb->rec, false, &perr) < 0)
		log_warn(app->rid, perr.msg);
	/* and its bandwidth caps: its links are new: their bandwidth caps, or it does not run (a
	 * sandbox left running uncapped would stay so: the next request
	 * finds it running and starts nothing) */
	sb_limits_effective(&sb->rec.lim, &app->conf->limits, &caps);
	if (net_caps_set(app, &sb->rec, NULL, &caps, err) < 0) {
		cg_sandbox_kill(&app->cg, sb->id, NULL);
		return -1;
	}
	return 0;
}

/* The record sb was found by is still there: not destroyed (and made
 * again, perhaps in the same slot) since. */
static bool still_ours_now(struct app *app, const struct sandbox_ref *sb, struct sb_record *now)
{
	if (store_get(&app->store, sb->id, now, NULL) != 1)
		return false;
	return now->uid_base == sb->rec.uid_base && now->created_ms == sb->rec.created_ms;
}

static bool still_ours(struct app *app, const struct sandbox_ref *sb)
{
	struct sb_record r;

	return still_ours_now(app, sb, &r);
}

void app_sandbox_destroyed(struct app *app, const struct sandbox_ref *sb, struct sb_err *err)
{
	if (err->kind == SB_E_INTERNAL && !still_ours(app, sb))
		sb_fail(err, SB_E_NOT_FOUND, ENOENT, "sandbox %s was destroyed while the request ran", sb->id);
}

int app_sandbox_lock(struct sandbox_ref *sb, struct sb_err *err)
{
	cleanup_close int lock = openat(sb->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (lock < 0 && errno == ENOENT)	/* destroyed, its directory removed */
		return sb_fail(err, SB_E_NOT_FOUND, ENOENT, "sandbox %s not found", sb->id);
	if (lock < 0)
		return sb_syserr(err, "open lock of %s", sb->id);
	while (flock(lock, LOCK_EX) < 0)
		if (errno != EINTR)
			return sb_syserr(err, "lock %s", sb->id);
	return steal_fd(&lock);
}

/* app_sandbox_lock, and the sandbox is still the one sb was found by: a
 * destroy that held the lock before us set its directory aside (what we
 * would do there is lost, or fails), and a create may have made another
 * of the id since.  404 then. */
int app_sandbox_lock_ours(struct app *app, struct sandbox_ref *sb, struct sb_err *err)
{
	cleanup_close int lock = app_sandbox_lock(sb, err);

	if (lock < 0)
		return -1;
	if (!still_ours(app, sb))
		return sb_fail(err, SB_E_NOT_FOUND, ENOENT, "sandbox %s not found (destroyed)", sb->id);
	return steal_fd(&lock);
}

/* sb's init answers on its control socket, but its record names none: a
 * start whose worker was killed between its init's readiness and its
 * runtime record, or inits that ran on across a change of the boot id (a
 * store of their own boot, never read).  Recorded now, under the start
 * lock, so status, the capacity scan and the listing count what runs: the
 * init of the sandbox's cgroup (the socket's peer credentials name the
 * process that bound it, a launcher's spare ahead, not the init). */
static void adopt_init(struct app *app, struct sandbox_ref *sb)
{
	cleanup_close int lock = -1;
	struct sb_record now;
	char name[64];
	pid_t pid;

	lock = app_sandbox_lock(sb, NULL);
	if (lock < 0 || !still_ours_now(app, sb, &now))
		return;
	if (sandbox_alive(now.init_pid, now.init_start)) {	/* its start recorded it meanwhile */
		sb->rec.init_pid = now.init_pid;
		sb->rec.init_start = now.init_start;
		return;
	}
	if ((pid = cg_sandbox_init(&app->cg, sb->id)) <= 0)
		return;
	sb->rec.init_pid = pid;
	sb->rec.init_start = sb_proc_starttime(pid);
	/* still that process, of this sandbox, once its start time is read */
	if (!sb->rec.init_start || cg_sandbox_of(&app->cg, pid, name, sizeof name) < 0 || strcmp(name, sb->id) ||
	    store_init_set(&app->store, sb->id, &sb->rec, sb_now_ms(), NULL) < 0) {
		sb->rec.init_pid = 0;
		sb->rec.init_start = 0;
		return;
	}
	log_event(app->rid, "sandbox.adopted", sb->id, "pid=%d", (int)pid);
}

struct id_list {
	char (*ids)[SB_NAME_MAX + 1];
	size_t n, cap;
};

static void collect_unrecorded(const char *id, const struct sb_record *r, void *arg)
{
	struct id_list *l = arg;
	void *more;

	if (sandbox_alive(r->init_pid, r->init_start) || strlen(id) > SB_NAME_MAX)
		return;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		if (!(more = realloc(l->ids, l->cap * sizeof *l->ids))) {
			l->cap = l->n;
			return;
		}
		l->ids = more;
	}
	snprintf(l->ids[l->n++], sizeof *l->ids, "%s", id);
}

int app_adopt_unrecorded(struct app *app)
{
	struct id_list l = { 0 };
	int n = 0;

	store_foreach(&app->store, collect_unrecorded, &l, NULL);
	for (size_t i = 0; i < l.n; i++) {
		struct sb_err err = SB_ERR_INIT;
		struct sandbox_ref sb;
		cleanup_close int dfd = -1;
		int fd;

		/* only one that answers (after a reboot: none, a failed
		 * connect each): what does not is stopped, as shown */
		dfd = openat(app->sandboxes_fd, l.ids[i], O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (dfd < 0 || (fd = sandbox_connect(dfd)) < 0)
			continue;
		close(fd);
		if (app_sandbox_get(app, l.ids[i], false, NULL, &sb, &err) < 0)
			continue;
		sb.rec.init_pid = 0;
		adopt_init(app, &sb);
		n += sb.rec.init_pid > 0;
		sandbox_ref_release(&sb);
	}
	free(l.ids);
	return n;
}

int app_sandbox_connect(struct app *app, struct sandbox_ref *sb, struct sb_err *err)
{
	cleanup_close int lock = -1;
	struct sb_record now;
	int fd = sandbox_connect(sb->dirfd);

	if (fd >= 0) {
		if (sb->rec.init_pid <= 0)
			adopt_init(app, sb);
		return fd;
	}
	if (errno == EAGAIN)
		return sb_fail(err, SB_E_BUSY, EAGAIN, "sandbox %s is not answering; try again later", sb->id);
	if (errno != ECONNREFUSED && errno != ENOENT)
		return sb_syserr(err, "connect to sandbox %s", sb->id);
	lock = app_sandbox_lock(sb, err);
	if (lock < 0)
		return -1;
	/* destroyed while we waited (a destroy holds this lock while it kills):
	 * never start an init in what is being removed */
	if (!still_ours_now(app, sb, &now))
		return sb_fail(err, SB_E_NOT_FOUND, ENOENT, "sandbox %s not found (destroyed)", sb->id);
	/* a fork holds this lock until its record is cleared of the mark: one
	 * still marked is a fork whose worker died (or failed) before its copy
	 * was its disk.  Never started (on an empty disk, or on a copy half
	 * given its ids); the sweep or a fork to the id replaces it */
	if (now.forking)
		return sb_fail(err, SB_E_CONFLICT, EAGAIN, "sandbox %s is a fork that did not finish (the request "
			       "that made it was cut short): fork again (it replaces this one), or destroy it",
			       sb->id);
	/* someone may have started it while we waited for the lock */
	fd = sandbox_connect(sb->dirfd);
	if (fd >= 0)
		return fd;
	if (errno == EAGAIN)	/* it runs, but does not accept: never start a second */
		return sb_fail(err, SB_E_BUSY, EAGAIN, "sandbox %s is not answering; try again later", sb->id);
	/* a start that could not record its init stops no other for room
	 * first; a warm sandbox starts outside the count: a claim makes the
	 * room */
	if (store_init_ready(&app->store, sb->id, err) < 0)
		return -1;
	int r = warm_name(sb->id) ? 0 : capacity_make_room(app, sb->id, err);
	if (r == 0)
		r = start_locked(app, sb, err);
	app_capacity_release(app);
	if (r < 0)
		return -1;
	fd = sandbox_connect(sb->dirfd);
	if (fd < 0)
		return sb_syserr(err, "connect to new sandbox %s", sb->id);
	return fd;
}

static void set_active(struct sb_record *r, const void *arg)
{
	r->active_ms = *(const int64_t *)arg;
}

void app_sandbox_touch(struct app *app, struct sandbox_ref *sb)
{
	int64_t now = sb_now_ms();

	/* one write transaction a second per sandbox at most */
	if (now - sb->rec.active_ms < 1000)
		return;
	sb->rec.active_ms = now;
	store_update(&app->store, sb->id, set_active, &now, NULL);
}
