/* /sandboxes/:id/snapshots: named, immutable copies of a sandbox's disk
 * image (DATA/sandboxes/ID/snapshots/NAME.img), taken with its processes
 * frozen, listed, deleted, restored.  A copy shares blocks where the host
 * file system can (FICLONE), else only the image's data extents are
 * copied (container/disk.c, disk_image_copy).  The snapshots live in the
 * sandbox's directory: whatever removes the sandbox removes them too. */
#include "config.h"

#include "api.h"
#include "app.h"
#include "disk.h"
#include "http.h"
#include "log.h"
#include "router.h"
#include "sandbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SNAP_DIR "snapshots"
#define SNAP_MAX 16		/* snapshots per sandbox */

/* ".../snapshots/NAME[/restore]": the name, checked as a projectId is
 * (it becomes a file name); NULL with err filled when it is not one. */
static const char *name_ok(const char *name, struct sb_err *err)
{
	if (!name || !project_id_valid(name)) {
		sb_fail(err, SB_E_INVALID, EINVAL, "snapshot name must match [A-Za-z0-9][A-Za-z0-9_-]{0,62}");
		return NULL;
	}
	return name;
}

static void file_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s.img", name);
}

/* The sandbox, with a disk image (the only thing a snapshot copies: the
 * writable layer of a sandbox without one is a host directory). */
static int sandbox_with_disk(struct app *app, const char *id, struct sandbox_ref *sb,
			     struct sb_err *err)
{
	/* an origin with a record but no directory (a create of an older
	 * version cut short) has no files to copy; opening it would make the
	 * directory under the create lock, which a fork already holds */
	if (faccessat(app->sandboxes_fd, id, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
		return sb_fail(err, SB_E_NOT_FOUND, ENOENT, "sandbox %s not found", id);
	if (app_sandbox_get(app, id, false, NULL, sb, err) < 0)
		return -1;
	if (sb->rec.lim.disk_mb <= 0)
		return sb_fail(err, SB_E_CONFLICT, EINVAL, "sandbox %s has no disk image (diskMb 0): "
			       "snapshots copy a sandbox's disk", id);
	return 0;
}

/* DATA/sandboxes/ID/snapshots, made when create; -1 (ENOENT) when absent. */
static int snap_dir(struct sandbox_ref *sb, bool create, struct sb_err *err)
{
	int fd;

	if (create && mkdirat(sb->dirfd, SNAP_DIR, 0700) < 0 && errno != EEXIST)
		return sb_syserr(err, "mkdir snapshots of %s", sb->id);
	fd = openat(sb->dirfd, SNAP_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT)
		return sb_fail(err, SB_E_NOT_FOUND, ENOENT, "sandbox %s has no snapshots", sb->id);
	return fd < 0 ? sb_syserr(err, "open snapshots of %s", sb->id) : fd;
}

/* A snapshot's entry as the API shows it; NULL when name is not one. */
static struct json_object *snap_json(int dirfd, const char *file)
{
	size_t n = strlen(file);
	char name[64];
	struct json_object *o;
	struct stat st;

	if (n < 5 || n - 4 >= sizeof name || strcmp(file + n - 4, ".img"))
		return NULL;
	memcpy(name, file, n - 4);
	name[n - 4] = 0;
	if (!project_id_valid(name) || fstatat(dirfd, file, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode))
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "createdAt", api_iso((int64_t)st.st_mtim.tv_sec * 1000 +
							st.st_mtim.tv_nsec / 1000000));
	/* the disk's size, and what the copy takes on the host (blocks shared
	 * by a reflink are counted in full: the file system does not say) */
	json_object_object_add(o, "sizeBytes", json_object_new_int64((int64_t)st.st_size));
	json_object_object_add(o, "storedBytes", json_object_new_int64((int64_t)st.st_blocks * 512));
	return o;
}

static int by_created(const void *a, const void *b)
{
	struct json_object *x = *(struct json_object *const *)a, *y = *(struct json_object *const *)b, *vx, *vy;

	json_object_object_get_ex(x, "createdAt", &vx);
	json_object_object_get_ex(y, "createdAt", &vy);
	return strcmp(json_object_get_string(vx), json_object_get_string(vy));
}

/* The sandbox's snapshots (oldest first), their count and stored bytes. */
static struct json_object *snap_list(int dirfd, int *count, long long *stored)
{
	struct json_object *a = json_object_new_array();
	int dfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *e;

	*count = 0;
	*stored = 0;
	if (!d) {
		sb_closep(&dfd);
		return a;
	}
	while ((e = readdir(d))) {
		struct json_object *o = snap_json(dirfd, e->d_name), *v;

		if (!o)
			continue;
		json_object_object_get_ex(o, "storedBytes", &v);
		*stored += json_object_get_int64(v);
		(*count)++;
		json_object_array_add(a, o);
	}
	closedir(d);
	json_object_array_sort(a, by_created);
	return a;
}

static bool exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, 0) != 0;
}

/* Make sure what the sandbox wrote is in its image file: sync its file
 * system (its root is an overlay whose upper layer is the disk: an
 * overlay's syncfs syncs that) through its init's root, from the host.
 * pidfd is the init's (opened before its start time was checked): a root
 * opened while it still runs after the open is the init's, never that of a
 * process given its pid since.  An init gone meanwhile (the OOM killer, a
 * stop) is a 409: the copy is not taken, whether its file system is
 * unmounted yet or not (other processes of it, frozen, may hold it). */
static int sync_disk(const struct sandbox_ref *sb, int pidfd, struct sb_err *err)
{
	char root[64];
	cleanup_close int fd = -1;

	snprintf(root, sizeof root, "/proc/%d/root", (int)sb->rec.init_pid);
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (exited(pidfd))
		return sb_fail(err, SB_E_CONFLICT, ESRCH, "sandbox %s stopped while its processes were frozen for "
			       "the copy (its init exited): nothing was copied; retry", sb->id);
	if (fd < 0 || syncfs(fd) < 0)
		return sb_syserr(err, "sync the file system of %s", sb->id);
	return 0;
}

/* A guard for a freeze: a child that thaws the sandbox when the pipe's
 * write end (*wr, ours) closes, whether we close it after the copy or die
 * during it (a worker killed mid-copy would leave the sandbox frozen for
 * good).  Its pid, or -1. */
static pid_t thaw_guard(struct app *app, const char *id, int *wr)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[1]);
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		cg_sandbox_freeze(&app->cg, id, false, NULL);
		_exit(0);
	}
	close(p[0]);
	*wr = p[1];
	return pid;
}

static void thaw(struct app *app, const char *id, pid_t guard, int wr)
{
	cg_sandbox_freeze(&app->cg, id, false, NULL);
	close(wr);
	while (waitpid(guard, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Copy the sandbox's disk image to the snapshot `file` of dirfd, its
 * processes frozen meanwhile when it runs (the caller holds its start
 * lock: no init starts under the copy). */
static int take(struct app *app, struct sandbox_ref *sb, int dirfd, const char *file,
		long long *stored, bool *reflinked, struct sb_err *err)
{
	/* whether it runs, through a pidfd of its init: the sync below
	 * reaches the init by it, never by a bare stored pid */
	cleanup_close int pidfd = sb->rec.init_pid > 0 ? sb_pidfd_open(sb->rec.init_pid) : -1;
	bool running = pidfd >= 0 && app_sandbox_running(sb);
	pid_t guard = -1;
	int r, wr = -1;

	/* a record whose sandbox never started has no disk yet */
	if (faccessat(sb->dirfd, "disk.img", F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return sb_fail(err, SB_E_CONFLICT, ENOENT, "sandbox %s has not started yet: no files to copy",
			       sb->id);

	if (running && (guard = thaw_guard(app, sb->id, &wr)) < 0)
		return sb_syserr(err, "fork a thaw guard");
	if (running && cg_sandbox_freeze(&app->cg, sb->id, true, err) < 0) {
		thaw(app, sb->id, guard, wr);
		return -1;
	}
	r = running ? sync_disk(sb, pidfd, err) : 0;
	if (r == 0)
		r = disk_image_copy(sb->dirfd, "disk.img", dirfd, file, 0400, stored, reflinked, err);
	sb_fault("snapshot-copied");
	if (running)
		thaw(app, sb->id, guard, wr);
	return r;
}

/* Room for one more snapshot of n host bytes: SNAP_MAX of them, and
 * together no more host bytes than the sandbox's disk may take (the
 * snapshots count against its disk budget a second time, not against the
 * disk itself, which stays the sandbox's). */
static int budget(struct app *app, struct sandbox_ref *sb, int dirfd, long long n, struct sb_err *err)
{
	long long stored, quota = (long long)sb->rec.lim.disk_mb << 20;
	int count;

	json_object_put(snap_list(dirfd, &count, &stored));
	if (count >= SNAP_MAX)
		return sb_fail(err, SB_E_LIMIT, 0, "sandbox %s has %d snapshots, the most it may keep; "
			       "delete one first", sb->id, count);
	if (stored + n > quota)
		return sb_fail(err, SB_E_NO_SPACE, ENOSPC, "the snapshots of %s would take %lld MiB, more "
			       "than its disk budget (diskMb %ld); delete one first", sb->id,
			       (stored + n) >> 20, (long)sb->rec.lim.disk_mb);
	return app_host_room(app->conf, n, "a snapshot", err);
}

static long long image_stored(int dirfd, const char *file)
{
	struct stat st;

	return fstatat(dirfd, file, &st, AT_SYMLINK_NOFOLLOW) < 0 ? 0 : (long long)st.st_blocks * 512;
}

#define FORK_TMP "disk.img.fork"
#define RESTORE_TMP "disk.img.restore"

void snapshot_leftovers_clean(int sbfd, bool orphan)
{
	cleanup_close int fd = openat(sbfd, SNAP_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (d) {
		fd = -1;	/* the DIR owns it */
		for (struct dirent *e; (e = readdir(d));)
			if (!strncmp(e->d_name, ".new-", 5))
				unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
	}
	if (unlinkat(sbfd, FORK_TMP, 0) == 0 && orphan)
		unlinkat(sbfd, "lock", 0);
	unlinkat(sbfd, RESTORE_TMP, 0);
}

static int snapshot_create(struct app *app, struct http_req *req, const char *id,
			   struct json_object **out, struct sb_err *err)
{
	cleanup_json struct json_object *o = http_json_body(req);
	cleanup_sandbox_ref struct sandbox_ref sb = { .dirfd = -1 };
	cleanup_close int dirfd = -1, lock = -1;
	struct json_object *v;
	char file[80], tmp[96];
	long long stored;
	bool reflinked;
	int64_t t0 = sb_mono_ms();
	const char *name;

	if (!o)
		return 1;	/* answered */
	if (!json_object_object_get_ex(o, "name", &v) || !json_object_is_type(v, json_type_string))
		return sb_fail(err, SB_E_INVALID, EINVAL, "name (a string) is required");
	if (!(name = name_ok(json_object_get_string(v), err)) ||
	    strlen(name) != (size_t)json_object_get_string_len(v))
		return name ? sb_fail(err, SB_E_INVALID, EINVAL, "name must not contain NUL") : -1;
	if (sandbox_with_disk(app, id, &sb, err) < 0 || (dirfd = snap_dir(&sb, true, err)) < 0 ||
	    (lock = app_sandbox_lock_ours(app, &sb, err)) < 0)
		return -1;
	file_of(file, sizeof file, name);
	if (faccessat(dirfd, file, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return sb_fail(err, SB_E_CONFLICT, EEXIST, "sandbox %s has a snapshot %s", id, name);
	/* a worker killed mid-copy left its half (of any name): gone before
	 * the budget is reckoned, they never take host bytes unaccounted */
	snapshot_leftovers_clean(sb.dirfd, false);
	if (budget(app, &sb, dirfd, image_stored(sb.dirfd, "disk.img"), err) < 0)
		return -1;
	/* made aside, renamed: a listed snapshot is always whole */
	snprintf(tmp, sizeof tmp, ".new-%s", file);
	if (take(app, &sb, dirfd, tmp, &stored, &reflinked, err) < 0)
		return -1;
	if (renameat2(dirfd, tmp, dirfd, file, RENAME_NOREPLACE) < 0) {
		unlinkat(dirfd, tmp, 0);
		return errno == EEXIST ? sb_fail(err, SB_E_CONFLICT, EEXIST, "sandbox %s has a snapshot %s", id, name)
				       : sb_syserr(err, "publish snapshot %s", name);
	}
	fsync(dirfd);
	log_event(req->rid, "sandbox.snapshot", id, "name=%s bytes=%lld reflink=%d ms=%lld", name, stored,
		  reflinked, (long long)(sb_mono_ms() - t0));
	*out = snap_json(dirfd, file);
	if (!*out)
		return sb_fail(err, SB_E_INTERNAL, 0, "snapshot %s vanished", name);
	json_object_object_add(*out, "reflinked", json_object_new_boolean(reflinked));
	json_object_object_add(*out, "durationMs", json_object_new_int64(sb_mono_ms() - t0));
	return 0;
}

void api_snapshot_create(struct app *app, struct http_req *req, const char *id)
{
	struct sb_err err = SB_ERR_INIT;
	struct json_object *d = NULL;
	int r = snapshot_create(app, req, id, &d, &err);

	if (r < 0)
		api_reply_err(req, &err);
	else if (r == 0)
		http_reply_data(req, 201, d);
}

void api_snapshot_list(struct app *app, struct http_req *req, const char *id)
{
	struct sb_err err = SB_ERR_INIT;
	cleanup_sandbox_ref struct sandbox_ref sb = { .dirfd = -1 };
	cleanup_close int dirfd = -1;
	struct json_object *d;
	long long stored = 0;
	int count = 0;

	if (app_sandbox_get(app, id, false, NULL, &sb, &err) < 0) {
		api_reply_err(req, &err);
		return;
	}
	d = json_object_new_object();
	dirfd = openat(sb.dirfd, SNAP_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	json_object_object_add(d, "projectId", json_object_new_string(id));
	json_object_object_add(d, "snapshots", dirfd >= 0 ? snap_list(dirfd, &count, &stored)
							  : json_object_new_array());
	json_object_object_add(d, "storedBytes", json_object_new_int64(stored));
	http_reply_data(req, 200, d);
}

/* The sandbox and its snapshot named by the path's 4th segment: the
 * snapshots' directory fd, the file's name in it. */
static int snap_named(struct app *app, struct http_req *req, const char *id, struct sandbox_ref *sb,
		      char *file, size_t len, struct sb_err *err)
{
	const char *name = name_ok(req->nsegs > 3 ? req->segs[3] : NULL, err);
	int dirfd;

	if (!name || sandbox_with_disk(app, id, sb, err) < 0 || (dirfd = snap_dir(sb, false, err)) < 0)
		return -1;
	file_of(file, len, name);
	if (faccessat(dirfd, file, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		close(dirfd);
		return sb_fail(err, SB_E_NOT_FOUND, ENOENT, "sandbox %s has no snapshot %s", id, name);
	}
	return dirfd;
}

void api_snapshot_delete(struct app *app, struct http_req *req, const char *id)
{
	struct sb_err err = SB_ERR_INIT;
	cleanup_sandbox_ref struct sandbox_ref sb = { .dirfd = -1 };
	cleanup_close int dirfd = -1;
	struct json_object *d;
	char file[80];

	dirfd = snap_named(app, req, id, &sb, file, sizeof file, &err);
	if (dirfd < 0 || (unlinkat(dirfd, file, 0) < 0 &&
			  (errno == ENOENT ? sb_fail(&err, SB_E_NOT_FOUND, ENOENT, "sandbox %s has no snapshot %s",
						     id, req->segs[3])
					   : sb_syserr(&err, "delete snapshot %s", req->segs[3])) < 0)) {
		api_reply_err(req, &err);
		return;
	}
	log_event(req->rid, "sandbox.snapshot_deleted", id, "name=%s", req->segs[3]);
	d = json_object_new_object();
	json_object_object_add(d, "projectId", json_object_new_string(id));
	json_object_object_add(d, "name", json_object_new_string(req->segs[3]));
	json_object_object_add(d, "status", json_object_new_string("deleted"));
	http_reply_data(req, 200, d);
}

/* The snapshot copied beside the sandbox's image first (it runs on
 * meanwhile), then, under its start lock, its processes killed (the init
 * too: its mount holds the old image) and the copy renamed over the image;
 * the next request starts it on the restored files.  The old image's
 * inode lives on until its loop device lets go of it. */
static int restore(struct app *app, struct http_req *req, const char *id, struct json_object **out,
		   struct sb_err *err)
{
	cleanup_sandbox_ref struct sandbox_ref sb = { .dirfd = -1 };
	cleanup_close int dirfd = -1, lock = -1;
	static const char tmp[] = RESTORE_TMP;
	char file[80];
	long long stored;
	bool reflinked, running;
	int64_t t0 = sb_mono_ms();

	if ((dirfd = snap_named(app, req, id, &sb, file, sizeof file, err)) < 0 ||
	    app_host_room(app->conf, image_stored(dirfd, file), "a restore", err) < 0 ||
	    (lock = app_sandbox_lock_ours(app, &sb, err)) < 0)
		return -1;
	unlinkat(sb.dirfd, tmp, 0);
	if (disk_image_copy(dirfd, file, sb.dirfd, tmp, 0600, &stored, &reflinked, err) < 0)
		return -1;
	running = app_sandbox_running(&sb);
	if (running && cg_sandbox_kill(&app->cg, id, err) < 0) {
		unlinkat(sb.dirfd, tmp, 0);
		return -1;
	}
	if (renameat(sb.dirfd, tmp, sb.dirfd, "disk.img") < 0) {
		unlinkat(sb.dirfd, tmp, 0);
		return sb_syserr(err, "restore snapshot %s", req->segs[3]);
	}
	log_event(req->rid, "sandbox.restored", id, "name=%s killed=%d bytes=%lld ms=%lld", req->segs[3],
		  running, stored, (long long)(sb_mono_ms() - t0));
	*out = json_object_new_object();
	json_object_object_add(*out, "projectId", json_object_new_string(id));
	json_object_object_add(*out, "snapshot", json_object_new_string(req->segs[3]));
	json_object_object_add(*out, "status", json_object_new_string("restored"));
	json_object_object_add(*out, "stopped", json_object_new_boolean(running));
	json_object_object_add(*out, "durationMs", json_object_new_int64(sb_mono_ms() - t0));
	return 0;
}

void api_snapshot_restore(struct app *app, struct http_req *req, const char *id)
{
	struct sb_err err = SB_ERR_INIT;
	struct json_object *d = NULL;

	if (restore(app, req, id, &d, &err) < 0)
		api_reply_err(req, &err);
	else
		http_reply_data(req, 200, d);
}

/* Forks (create_new, app.c): the copy is made into the new directory,
 * whose start lock is held from here to snapshot_fork_finish(). */

static void fork_clean(int dirfd)
{
	unlinkat(dirfd, FORK_TMP, 0);
	unlinkat(dirfd, "lock", 0);
}

/* The origin's current files, frozen for the copy (under its start lock). */
static int fork_current(struct app *app, const struct sb_fork *f, int newdirfd, struct sb_err *err)
{
	cleanup_sandbox_ref struct sandbox_ref sb = { .dirfd = -1 };
	cleanup_close int lock = -1;
	long long stored;
	bool reflinked;

	if (sandbox_with_disk(app, f->from, &sb, err) < 0 ||
	    app_host_room(app->conf, image_stored(sb.dirfd, "disk.img"), "a fork", err) < 0 ||
	    (lock = app_sandbox_lock_ours(app, &sb, err)) < 0)
		return -1;
	snapshot_leftovers_clean(sb.dirfd, false);
	return take(app, &sb, newdirfd, FORK_TMP, &stored, &reflinked, err);
}

/* One of its snapshots (immutable: no lock). */
static int fork_snapshot(struct app *app, const struct sb_fork *f, int newdirfd, struct sb_err *err)
{
	cleanup_sandbox_ref struct sandbox_ref sb = { .dirfd = -1 };
	cleanup_close int dirfd = -1;
	long long stored;
	bool reflinked;
	char file[80];

	if (!name_ok(f->snapshot, err) || sandbox_with_disk(app, f->from, &sb, err) < 0 ||
	    (dirfd = snap_dir(&sb, false, err)) < 0)
		return -1;
	file_of(file, sizeof file, f->snapshot);
	if (faccessat(dirfd, file, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return sb_fail(err, SB_E_NOT_FOUND, ENOENT, "sandbox %s has no snapshot %s", f->from, f->snapshot);
	if (app_host_room(app->conf, image_stored(dirfd, file), "a fork", err) < 0)
		return -1;
	return disk_image_copy(dirfd, file, newdirfd, FORK_TMP, 0600, &stored, &reflinked, err);
}

int snapshot_fork_copy(struct app *app, const char *id, const struct sb_fork *f, struct sb_err *err)
{
	struct sandbox_ref nb = { .id = id, .dirfd = -1 };
	cleanup_close int lock = -1;
	int64_t t0 = sb_mono_ms();
	int r;

	nb.dirfd = openat(app->sandboxes_fd, id, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (nb.dirfd < 0)
		return sb_syserr(err, "open sandbox dir %s", id);
	lock = app_sandbox_lock(&nb, err);
	r = lock < 0 ? -1 : f->snapshot ? fork_snapshot(app, f, nb.dirfd, err) : fork_current(app, f, nb.dirfd, err);
	if (r < 0)
		fork_clean(nb.dirfd);
	else
		log_event(app->rid, "sandbox.fork_copied", id, "from=%s snapshot=%s ms=%lld", f->from,
			  f->snapshot ? f->snapshot : "-", (long long)(sb_mono_ms() - t0));
	sandbox_ref_release(&nb);
	return r < 0 ? -1 : steal_fd(&lock);
}

int snapshot_fork_finish(struct app *app, const char *id, const struct sb_fork *f, uid_t to,
			 struct sb_err *err)
{
	cleanup_close int dirfd = openat(app->sandboxes_fd, id, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	int64_t t0 = sb_mono_ms();

	if (dirfd < 0)
		return sb_syserr(err, "open sandbox dir %s", id);
	if (!f) {
		fork_clean(dirfd);
		return 0;
	}
	if (disk_image_shift_ids(dirfd, FORK_TMP, f->rec.uid_base, to, err) < 0 ||
	    renameat(dirfd, FORK_TMP, dirfd, "disk.img") < 0) {
		if (err && !err->msg[0])
			sb_syserr(err, "place the fork's disk");
		unlinkat(dirfd, FORK_TMP, 0);
		return -1;
	}
	log_event(app->rid, "sandbox.forked", id, "from=%s snapshot=%s shift_ms=%lld", f->from,
		  f->snapshot ? f->snapshot : "-", (long long)(sb_mono_ms() - t0));
	return 0;
}
