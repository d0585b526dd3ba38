#include "config.h"

#include "app.h"
#include "log.h"
#include "capacity.h"
#include "disk.h"
#include "images.h"
#include "imagestore.h"
#include "sandbox.h"
#include "warm.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

int app_open(struct app *app, const struct conf *conf, struct sb_err *err)
{
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
	if (store_open(&app->store, path, err) < 0)
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
	return 0;
}

void app_close(struct app *app)
{
	store_close(&app->store);
	cg_close(&app->cg);
	if (app->sandboxes_fd >= 0)
		close(app->sandboxes_fd);
	if (app->spares_fd >= 0)
		close(app->spares_fd);
	app->sandboxes_fd = app->spares_fd = -1;
}

void sandbox_ref_release(struct sandbox_ref *sb)
{
	if (sb->dirfd >= 0)
		close(sb->dirfd);
	sb->dirfd = -1;
}

/* <data>/sandboxes/<id>/{upper,work,root}: 0700 at the top, so no host
 * user can reach the sandbox's files; idempotent. */
static int open_dirs(struct app *app, const char *id, struct sb_err *err)
{
	static const struct { const char *name; mode_t mode; } sub[] = {
		{ "upper", 0755 }, { "work", 0700 }, { "root", 0755 }, { "disk", 0700 },
	};
	int fd;

	if (!sb_name_safe(id))
		return sb_fail(err, 400, EINVAL, "unsafe sandbox name '%.64s'", id);
	fd = openat(app->sandboxes_fd, id, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0)
		return fd;
	if (errno != ENOENT)
		return sb_syserr(err, "open sandbox dir %s", id);
	if (mkdirat(app->sandboxes_fd, id, 0700) < 0 && errno != EEXIST)
		return sb_syserr(err, "mkdir sandbox dir %s", id);
	fd = openat(app->sandboxes_fd, id, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return sb_syserr(err, "open sandbox dir %s", id);
	for (size_t i = 0; i < sizeof sub / sizeof *sub; i++) {
		if (mkdirat(fd, sub[i].name, sub[i].mode) < 0 && errno != EEXIST) {
			sb_syserr(err, "mkdir %s/%s", id, sub[i].name);
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* A directory `id` without a record is what a crash in the middle of a warm
 * claim leaves (a record is written before its directory otherwise): its
 * processes are stopped and it is set aside, never adopted. */
static void set_aside_orphan(struct app *app, const char *id)
{
	char aside[96];
	struct stat st;

	if (!sb_name_safe(id) || fstatat(app->sandboxes_fd, id, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	cg_sandbox_kill(&app->cg, id, NULL);
	snprintf(aside, sizeof aside, ".q%s-%lld", id, (long long)sb_now_ms());
	renameat2(app->sandboxes_fd, id, app->sandboxes_fd, aside, RENAME_NOREPLACE);
	log_event(app->rid, "sandbox.orphan", id, "aside=%s", aside);
}

/* A new sandbox, from a warm one or cold.  One create at a time (a lock
 * over DATA/sandboxes): a warm claim renames a directory, cgroups and a
 * record that a concurrent create of the same id must find all renamed or
 * none. */
static int create_new(struct app *app, const char *id, const struct sb_record *want,
		      struct sandbox_ref *sb, struct sb_err *err)
{
	cleanup_close int lock = openat(app->sandboxes_fd, ".create.lock",
					O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	int found, w;

	if (lock < 0)
		return sb_syserr(err, "open create lock");
	while (flock(lock, LOCK_EX) < 0)
		if (errno != EINTR)
			return sb_syserr(err, "create lock");
	found = store_get(&app->store, id, &sb->rec, err);
	if (found < 0)
		return -1;
	if (found && want && want->image[0] && strcmp(want->image, sb->rec.image) != 0)
		return sb_fail(err, 409, EEXIST, "sandbox %s runs image %s: an image is chosen "
			       "when the sandbox is created, for its life", id, sb->rec.image);
	if (!found && (w = warm_claim(app, id, want, sb, err)) != 0)
		return w < 0 ? -1 : 0;
	if (!found)
		set_aside_orphan(app, id);
	if (!found) {
		const char *image = want && want->image[0] ? want->image : app->conf->default_image;
		memset(&sb->rec, 0, sizeof sb->rec);
		/* before the record: an unknown image creates nothing */
		if (images_resolve(app->conf, image, sb->rec.image_version,
				   sizeof sb->rec.image_version, err) < 0)
			return -1;
		if (want) {
			sb->rec.memory_mb = want->memory_mb;
			sb->rec.pids = want->pids;
			sb->rec.cpu_millis = want->cpu_millis;
			sb->rec.disk_mb = want->disk_mb;
		}
		/* the disk size is fixed at creation: record the default too */
		if (!sb->rec.disk_mb)
			sb->rec.disk_mb = app->conf->disk_mb;
		if (store_create(&app->store, id, image, app->conf->uid_base, app->conf->uid_slots,
				 &sb->rec, &sb->created, err) < 0)
			return -1;
		if (sb->created)
			log_event(app->rid, "sandbox.created", id, "image=%s", image);
	}
	sb->dirfd = open_dirs(app, id, err);
	return sb->dirfd < 0 ? -1 : 0;
}

int app_sandbox_get(struct app *app, const char *id, bool create, const struct sb_record *want,
		    struct sandbox_ref *sb, struct sb_err *err)
{
	int found;

	memset(sb, 0, sizeof *sb);
	sb->id = id;
	sb->dirfd = -1;
	if (!sb_name_safe(id))
		return sb_fail(err, 400, EINVAL, "unsafe sandbox name '%.64s'", id);
	found = store_get(&app->store, id, &sb->rec, err);
	if (found < 0)
		return -1;
	if (!found && !create)
		return sb_fail(err, 404, ENOENT, "sandbox %s not found", id);
	if (found && want && want->image[0] && strcmp(want->image, sb->rec.image) != 0)
		return sb_fail(err, 409, EEXIST, "sandbox %s runs image %s: an image is chosen "
			       "when the sandbox is created, for its life", id, sb->rec.image);
	if (!found)
		return create_new(app, id, want, sb, err);
	sb->dirfd = open_dirs(app, id, err);
	return sb->dirfd < 0 ? -1 : 0;
}



bool app_sandbox_running(const struct sandbox_ref *sb)
{
	return sandbox_alive(sb->rec.init_pid, sb->rec.init_start);
}

void app_sandbox_limits(const struct app *app, const struct sb_record *r, struct cg_limits *lim)
{
	const struct conf *c = app->conf;

	lim->memory_bytes = (long long)(r->memory_mb ? r->memory_mb : c->memory_mb) << 20;
	lim->pids = r->pids ? r->pids : c->pids_max;
	lim->cpu_millis = r->cpu_millis ? r->cpu_millis : c->cpu_millis;
}

static void set_limits(struct sb_record *r, const void *arg)
{
	const struct sb_record *w = arg;

	r->memory_mb = w->memory_mb ? w->memory_mb : r->memory_mb;
	r->pids = w->pids ? w->pids : r->pids;
	r->cpu_millis = w->cpu_millis ? w->cpu_millis : r->cpu_millis;
}

int app_sandbox_set_limits(struct app *app, struct sandbox_ref *sb, const struct sb_record *want,
			   struct sb_err *err)
{
	struct sb_record r = sb->rec;
	struct cg_limits lim;

	/* the kernel first, then the record: it never says what is not enforced */
	set_limits(&r, want);
	app_sandbox_limits(app, &r, &lim);
	if (cg_sandbox_create(&app->cg, sb->id, &lim, err) < 0)
		return -1;
	sb->rec = r;
	return store_update(&app->store, sb->id, set_limits, want, err);
}

static void set_init(struct sb_record *r, const void *arg)
{
	const struct sb_record *n = arg;

	r->init_pid = n->init_pid;
	r->init_start = n->init_start;
	r->active_ms = n->active_ms;
}

static int start_locked(struct app *app, struct sandbox_ref *sb, struct sb_err *err)
{
	const struct conf *c = app->conf;
	char dir[PATH_MAX], image[PATH_MAX];
	struct cg_limits lim;
	pid_t pid;

	snprintf(dir, sizeof dir, "%s/sandboxes/%s", c->data_dir, sb->id);
	if (images_rootfs(c, sb->rec.image, sb->rec.image_version, image, sizeof image, err) < 0)
		return -1;
	struct sb_spec spec = {
		.id = sb->id, .sandbox_dir = dir, .image_dir = image,
		.uid_base = sb->rec.uid_base, .cg = &app->cg,
		.host_dirs = !strcmp(sb->rec.image, IMAGE_BUILTIN) || !sb->rec.image[0],
	};
	app_sandbox_limits(app, &sb->rec, &lim);
	if (cg_sandbox_create(&app->cg, sb->id, &lim, err) < 0)
		return -1;
	spec.disk = sb->rec.disk_mb > 0;
	if (spec.disk && disk_image_ensure(sb->dirfd, (long long)sb->rec.disk_mb << 20,
					   sb->rec.uid_base, app->spares_fd, err) < 0)
		return -1;
	int64_t t0 = sb_mono_ms();
	if (sandbox_start(&spec, &pid, err) < 0)
		return -1;
	log_event(app->rid, "sandbox.started", sb->id, "image=%s ms=%lld", sb->rec.image[0] ? sb->rec.image : IMAGE_BUILTIN,
		  (long long)(sb_mono_ms() - t0));
	sb->rec.init_pid = pid;
	sb->rec.init_start = sb_proc_starttime(pid);
	sb->rec.active_ms = sb_now_ms();
	return store_update(&app->store, sb->id, set_init, &sb->rec, err);
}

int app_sandbox_connect(struct app *app, struct sandbox_ref *sb, struct sb_err *err)
{
	cleanup_close int lock = -1;
	int fd = sandbox_connect(sb->dirfd);

	if (fd >= 0)
		return fd;
	if (errno == EAGAIN)
		return sb_fail(err, 503, EAGAIN, "sandbox %s is not answering; try again later", sb->id);
	if (errno != ECONNREFUSED && errno != ENOENT)
		return sb_syserr(err, "connect to sandbox %s", sb->id);
	lock = openat(sb->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lock < 0)
		return sb_syserr(err, "open lock of %s", sb->id);
	while (flock(lock, LOCK_EX) < 0)
		if (errno != EINTR)
			return sb_syserr(err, "lock %s", sb->id);
	/* someone may have started it while we waited for the lock */
	fd = sandbox_connect(sb->dirfd);
	if (fd >= 0)
		return fd;
	if (errno == EAGAIN)	/* it runs, but does not accept: never start a second */
		return sb_fail(err, 503, EAGAIN, "sandbox %s is not answering; try again later", sb->id);
	/* a warm sandbox starts outside the count: a claim makes the room */
	int r = warm_name(sb->id) ? 0 : capacity_make_room(app, sb->id, err);
	if (r == 0)
		r = start_locked(app, sb, err);
	if (app->capacity_lock >= 0) {
		close(app->capacity_lock);
		app->capacity_lock = -1;
	}
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
