/* The parts of sandboxd-image that build and import share: a stage
 * directory under a per-name lock, commands run with their output logged,
 * and the publication of a finished rootfs as a new registered version. */
#include "config.h"

#include "imagestore.h"
#include "imagetool.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

void step(struct stage *s, int n, int of, const char *what)
{
	fprintf(stderr, "[%d/%d] %s (%.1f s)\n", n, of, what, (sb_mono_ms() - s->t0) / 1000.0);
	if (s->logfd >= 0)
		dprintf(s->logfd, "==> [%d/%d] %s\n", n, of, what);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT ? -1 : 0;
}

/* rm -rf that never follows a symlink nor leaves its file system */
static int rm_tree(const char *dir)
{
	return nftw(dir, rm_entry, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT ? -1 : 0;
}

/* Stages of builds that died: their pid is gone (we hold the name's lock). */
static void sweep_stages(const char *namedir)
{
	char path[PATH_MAX * 2];
	struct dirent *e;
	DIR *d = opendir(namedir);

	if (!d)
		return;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, ".stage-", 7)) {
			snprintf(path, sizeof path, "%s/%s", namedir, e->d_name);
			rm_tree(path);
		}
	closedir(d);
}

int stage_begin(const struct imagetool *t, const char *name, struct stage *s, struct sb_err *err)
{
	char namedir[PATH_MAX - 128], lock[PATH_MAX];
	int fd;

	memset(s, 0, sizeof *s);
	s->logfd = -1;
	s->t0 = sb_mono_ms();
	if (!image_name_ok(name) || !strcmp(name, IMAGE_BUILTIN))
		return sb_fail(err, SB_E_INVALID, EINVAL, "bad image name '%s' (want [a-z0-9][a-z0-9._-]*, "
			       "at most %d characters, not '%s')", name, IMAGE_NAME_MAX, IMAGE_BUILTIN);
	if (snprintf(namedir, sizeof namedir, "%s/%s", t->images_dir, name) >= (int)sizeof namedir)
		return sb_fail(err, SB_E_INVALID, ENAMETOOLONG, "images dir path too long");
	/* root's only, the stage too: its files are the tarball's or the
	 * packages' (setuid programs, 1777 dirs) until publish clears them */
	if (sb_mkdir_p(namedir, 0700) < 0)
		return sb_syserr(err, "mkdir %s", namedir);
	snprintf(lock, sizeof lock, "%s/.lock", namedir);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return sb_syserr(err, "open %s", lock);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "sandboxd-image: another build of %s runs; waiting for it\n", name);
		if (flock(fd, LOCK_EX) < 0)
			return sb_syserr(err, "lock %s", lock);
	}
	/* the lock fd stays open (and locked) until we exit */
	sweep_stages(namedir);
	snprintf(s->dir, sizeof s->dir, "%s/.stage-%d", namedir, (int)getpid());
	snprintf(s->rootfs, sizeof s->rootfs, "%s/rootfs", s->dir);
	snprintf(s->log, sizeof s->log, "%s/build.log", s->dir);
	if (mkdir(s->dir, 0700) < 0 || mkdir(s->rootfs, 0755) < 0)
		return sb_syserr(err, "mkdir %s", s->rootfs);
	s->logfd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (s->logfd < 0)
		return sb_syserr(err, "open %s", s->log);
	return 0;
}

void stage_abort(struct stage *s)
{
	if (s->dir[0])
		fprintf(stderr, "sandboxd-image: failed; the stage and its log %s are removed\n", s->log);
	stage_drop(s);
}

void stage_drop(struct stage *s)
{
	if (!s->dir[0])
		return;
	if (s->logfd >= 0)
		close(s->logfd);
	s->logfd = -1;
	rm_tree(s->dir);
	s->dir[0] = '\0';
}

/* Copy the child's output to the log and, line-prefixed, to stderr. */
static void pump(const struct imagetool *t, struct stage *s, int outfd, int errfd,
		 struct sb_strbuf *out)
{
	struct pollfd p[2] = { { .fd = outfd, .events = POLLIN }, { .fd = errfd, .events = POLLIN } };
	int open_fds = outfd >= 0 ? 2 : 1;
	char buf[8192];
	bool bol = true;

	if (outfd < 0)
		p[0].fd = -1;
	while (open_fds > 0) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		for (int i = 0; i < 2; i++) {
			if (!p[i].revents)
				continue;
			ssize_t n = read(p[i].fd, buf, sizeof buf);
			if (n <= 0) {
				p[i].fd = -1;
				open_fds--;
				continue;
			}
			if (i == 0 && out) {
				sb_strbuf_addf(out, "%.*s", (int)n, buf);
				continue;
			}
			sb_write_full(s->logfd, buf, (size_t)n);
			if (t->quiet)
				continue;
			for (ssize_t j = 0; j < n; j++) {
				if (bol)
					fputs("    ", stderr);
				fputc(buf[j], stderr);
				bol = buf[j] == '\n';
			}
		}
	}
	if (!bol)
		fputc('\n', stderr);
}

int stage_run(const struct imagetool *t, struct stage *s, const char *const *argv,
	      struct sb_strbuf *out, struct sb_err *err)
{
	static const char *const envp[] = {
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"DEBIAN_FRONTEND=noninteractive", "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "HOME=/root",
		NULL,
	};
	int po[2] = { -1, -1 }, pe[2], status;
	pid_t pid;

	if (pipe2(pe, O_CLOEXEC) < 0 || (out && pipe2(po, O_CLOEXEC) < 0))
		return sb_syserr(err, "pipe");
	pid = fork();
	if (pid < 0)
		return sb_syserr(err, "fork");
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		dup2(null, 0);
		dup2(out ? po[1] : pe[1], 1);
		dup2(pe[1], 2);
		signal(SIGPIPE, SIG_DFL);
		execvpe(argv[0], (char *const *)argv, (char *const *)envp);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pe[1]);
	if (out)
		close(po[1]);
	pump(t, s, out ? po[0] : -1, pe[0], out);
	close(pe[0]);
	if (out)
		close(po[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return sb_syserr(err, "wait %s", argv[0]);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return sb_fail(err, SB_E_INTERNAL, 0, "%s failed (%s %d)", argv[0],
			       WIFEXITED(status) ? "exit" : "signal",
			       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return 0;
}

/* Where the runtime mounts: real directories, never symlinks. */
int stage_mountpoints(struct stage *s, struct sb_err *err)
{
	static const struct { const char *path; mode_t mode; } dirs[] = {
		{ "proc", 0555 }, { "dev", 0755 }, { "sys", 0555 }, { "tmp", 01777 },
		{ "workspace", 0755 }, { "etc", 0755 }, { "root", 0700 },
	};
	cleanup_close int rfd = open(s->rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;

	if (rfd < 0)
		return sb_syserr(err, "open %s", s->rootfs);
	for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
		if (fstatat(rfd, dirs[i].path, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (!S_ISDIR(st.st_mode))
				return sb_fail(err, SB_E_INVALID, ENOTDIR, "the image's /%s is not a directory "
					       "(the runtime mounts there)", dirs[i].path);
			continue;
		}
		if (mkdirat(rfd, dirs[i].path, dirs[i].mode) < 0 ||
		    fchmodat(rfd, dirs[i].path, dirs[i].mode, 0) < 0)
			return sb_syserr(err, "mkdir /%s", dirs[i].path);
	}
	return 0;
}

/* Bytes on disk (hard links once) and entries of a tree. */
static struct { long long bytes, files; struct { dev_t dev; ino_t ino; } *seen; size_t n, cap; } du;

static int du_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)path;
	(void)flag;
	(void)f;
	du.files++;
	if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
		for (size_t i = 0; i < du.n; i++)
			if (du.seen[i].ino == st->st_ino && du.seen[i].dev == st->st_dev)
				return 0;
		if (du.n == du.cap) {
			size_t cap = du.cap ? du.cap * 2 : 256;
			void *p = realloc(du.seen, cap * sizeof *du.seen);
			if (!p)
				return -1;
			du.seen = p;
			du.cap = cap;
		}
		du.seen[du.n].dev = st->st_dev;
		du.seen[du.n++].ino = st->st_ino;
	}
	du.bytes += (long long)st->st_blocks * 512;
	return 0;
}

static int tree_size(const char *dir, long long *bytes, long long *files)
{
	int r;

	du.bytes = du.files = 0;
	du.n = 0;
	r = nftw(dir, du_entry, 64, FTW_PHYS | FTW_MOUNT);
	free(du.seen);
	du.seen = NULL;
	du.cap = du.n = 0;
	*bytes = du.bytes;
	*files = du.files;
	return r;
}

int stage_publish(const struct imagetool *t, const char *name, struct stage *s,
		  struct json_object *rec, struct sb_err *err)
{
	char version[64], dest[PATH_MAX + 80], stamp[32];
	struct imgstore *st = NULL;
	long long bytes, files;
	long cleared;
	time_t now = time(NULL);
	struct tm tm;
	int r;

	if (image_make_inert(s->rootfs, &cleared, err) < 0)
		return -1;
	if (cleared) {
		fprintf(stderr, "sandboxd-image: cleared the setuid/setgid bits and capabilities "
			"of %ld file%s (sandboxes mount images nosuid: they would do nothing there)\n",
			cleared, cleared == 1 ? "" : "s");
		dprintf(s->logfd, "==> cleared the setuid/setgid bits and capabilities of %ld file%s\n",
			cleared, cleared == 1 ? "" : "s");
	}
	if (tree_size(s->rootfs, &bytes, &files) < 0)
		return sb_syserr(err, "measure %s", s->rootfs);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	for (int i = 0;; i++) {
		snprintf(version, sizeof version, i ? "%s.%d" : "%s", stamp, i);
		snprintf(dest, sizeof dest, "%s/%s/%s", t->images_dir, name, version);
		if (access(dest, F_OK) < 0)
			break;
	}
	json_object_object_add(rec, "name", json_object_new_string(name));
	json_object_object_add(rec, "version", json_object_new_string(version));
	json_object_object_add(rec, "createdAt", json_object_new_int64(sb_now_ms()));
	json_object_object_add(rec, "sizeBytes", json_object_new_int64(bytes));
	json_object_object_add(rec, "files", json_object_new_int64(files));
	json_object_object_add(rec, "buildSeconds",
			       json_object_new_double((double)(sb_mono_ms() - s->t0) / 1000.0));
	close(s->logfd);
	s->logfd = -1;
	if (rename(s->dir, dest) < 0)
		return sb_syserr(err, "rename %s", s->dir);
	s->dir[0] = '\0';
	r = imgstore_open(t->images_dir, true, &st, err);
	if (r == 0)
		r = imgstore_put(st, name, rec, err);
	imgstore_close(st);
	if (r < 0)
		return -1;
	fprintf(stderr, "sandboxd-image: %s %s: %.1f MiB, %lld files, in %.1f s\n", name, version,
		bytes / 1048576.0, files, (sb_mono_ms() - s->t0) / 1000.0);
	return 0;
}

int imagetool_list(const struct imagetool *t, struct sb_err *err)
{
	struct imgstore *st = NULL;
	struct json_object *arr = NULL, *v;
	char when[40];

	if (imgstore_open(t->images_dir, false, &st, err) < 0 || imgstore_list(st, &arr, err) < 0) {
		imgstore_close(st);
		json_object_put(arr);
		return -1;
	}
	imgstore_close(st);
	printf("%-16s %-20s %10s  %-24s %s\n", "NAME", "VERSION", "SIZE", "CREATED", "SOURCE");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		const char *f[3] = { "", "", "" };
		static const char *const keys[] = { "name", "version", "source" };
		for (int k = 0; k < 3; k++)
			if (json_object_object_get_ex(o, keys[k], &v))
				f[k] = json_object_get_string(v);
		sb_iso8601(json_object_object_get_ex(o, "createdAt", &v) ? json_object_get_int64(v) : 0,
			   when, sizeof when);
		printf("%-16s %-20s %8.1f M  %-24s %s\n", f[0], f[1],
		       json_object_object_get_ex(o, "sizeBytes", &v) ?
		       json_object_get_int64(v) / 1048576.0 : 0.0, when, f[2]);
	}
	json_object_put(arr);
	return 0;
}
