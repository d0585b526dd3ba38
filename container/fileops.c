#include "config.h"

#include "clone.h"
#include "fileops.h"
#include "proto.h"
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* ms since the epoch, clamped: a tmpfs keeps any 64-bit time a sandbox
 * sets, beyond what ms hold */
static int64_t ms_of(const struct timespec *t)
{
	if (t->tv_sec >= INT64_MAX / 1000)
		return INT64_MAX;
	if (t->tv_sec <= INT64_MIN / 1000)
		return INT64_MIN;
	return (int64_t)t->tv_sec * 1000 + t->tv_nsec / 1000000;
}

static void send_info(int sock, const struct stat *st)
{
	struct sb_msg m = { .type = SB_MSG_FILE_INFO };
	struct sb_file_info fi = {
		.type = S_ISREG(st->st_mode) ? SB_FT_FILE : S_ISDIR(st->st_mode) ? SB_FT_DIR
			: S_ISLNK(st->st_mode) ? SB_FT_SYMLINK : SB_FT_OTHER,
		.mode = st->st_mode & 07777,
		.size = (uint64_t)st->st_size,
		.mtime_ms = ms_of(&st->st_mtim),
		.uid = st->st_uid,
		.gid = st->st_gid,
	};

	sb_msg_send(sock, &m, &fi, sizeof fi, NULL, 0);
}

/* The answer says what failed and why: "open: No such file or directory". */
__attribute__((noreturn)) static void fail(int sock, int errnum, const char *what)
{
	struct sb_msg m = { .type = SB_MSG_ERROR, .val = errnum };
	char text[256];

	snprintf(text, sizeof text, "%s: %s", what, strerror(errnum));
	sb_msg_send(sock, &m, text, strlen(text) + 1, NULL, 0);
	_exit(1);
}

static void copy_out(int fd, int datafd, uint64_t size)
{
	char buf[65536];

	while (size > 0) {
		ssize_t n = read(fd, buf, size < sizeof buf ? size : sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		/* at its end before the size sent: the sandbox truncated it */
		if (n == 0)
			_exit(SB_FILE_EXIT_CHANGED);
		if (n < 0 || sb_write_full(datafd, buf, (size_t)n) < 0)
			_exit(1);
		size -= (uint64_t)n;
	}
}

/* O_NONBLOCK: a FIFO must not hang us at open; only regular files are read.
 * A unix socket (a file's, or one of ours through /proc/self/fd) cannot be
 * opened at all (ENXIO): it is "not a regular file" as a FIFO is. */
static void do_read(int sock, int datafd, const struct sb_file_req *rq, const char *path)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat st;

	if (fd < 0 && errno == ENXIO && stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		fail(sock, EINVAL, "not a regular file");
	if (fd < 0)
		fail(sock, errno, "open");
	if (fstat(fd, &st) < 0)
		fail(sock, errno, "stat");
	if (S_ISDIR(st.st_mode))
		fail(sock, EISDIR, "is a directory");
	if (!S_ISREG(st.st_mode))
		fail(sock, EINVAL, "not a regular file");
	uint64_t size = (uint64_t)st.st_size, off = rq->offset < size ? rq->offset : size, len;
	if (rq->flags & SB_FILE_SUFFIX)
		off = size - off;	/* the last `offset` bytes */
	len = size - off;
	/* a range is cut at max_bytes (the answer says which bytes it holds) */
	if ((rq->flags & SB_FILE_RANGE) && len > rq->max_bytes)
		len = rq->max_bytes;
	else if (len > rq->max_bytes)
		fail(sock, EFBIG, "file too large");
	if (off && lseek(fd, (off_t)off, SEEK_SET) < 0)
		fail(sock, errno, "seek");
	fcntl(fd, F_SETFL, 0);
	/* size: the whole file; the bytes that follow: from the offset on */
	send_info(sock, &st);
	copy_out(fd, datafd, len);
}

/* mkdir -p of path (every component), as the sandbox's root */
static int mkdirs(const char *path, mode_t mode)
{
	return sb_mkdir_p(path, mode);
}

static void split(const char *path, char *dir, char *base)
{
	const char *slash = strrchr(path, '/');

	if (!slash) {
		strcpy(dir, ".");
		strcpy(base, path);
	} else {
		size_t d = slash == path ? 1 : (size_t)(slash - path);
		memcpy(dir, path, d);
		dir[d] = '\0';
		strcpy(base, slash + 1);
	}
}

/* What the files API acknowledges is on stable storage: the sandbox's disk
 * (ext4 on a loop device) passes a flush on to its image file on the host.
 * fsync of the directory that holds path (a name created, renamed or
 * removed); with `all`, of the whole file system (directories made on the
 * way).  0, or -1 with errno. */
static int sync_parent(const char *path, bool all)
{
	char dir[PATH_MAX], base[PATH_MAX];
	cleanup_close int fd = -1;

	if (strlen(path) >= sizeof dir) {
		errno = ENAMETOOLONG;
		return -1;
	}
	split(path, dir, base);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	return all ? syncfs(fd) : fsync(fd);
}

/* Write to an unnamed file (O_TMPFILE) in the target's directory, then
 * give it a temporary name and rename it over the target: a reader sees the
 * old content or the new, never half; an upload that ends before the length
 * it announced (SB_FILE_EXACT: the client gone, cut or timed out, the
 * worker gone) is refused and the target keeps its old content, or stays
 * absent; the data, then the name, reach the
 * disk before the answer (an error then is the client's no space, never a 200
 * for bytes the disk had no room for).  A write that fails or is killed
 * leaves nothing behind: the unnamed file goes with its last descriptor
 * (or with e2fsck, on a disk that failed); only a file system without
 * O_TMPFILE gets a named temporary from the start, removed on failure. */
static void do_write(int sock, int datafd, const struct sb_file_req *rq, const char *path)
{
	char dir[PATH_MAX], base[PATH_MAX], tmp[64], buf[65536], self[64];
	uint64_t total = 0;
	mode_t mode = 0644;
	bool named = false;
	struct stat st;
	int dfd, fd, e;

	if (strlen(path) >= sizeof dir)
		fail(sock, ENAMETOOLONG, "path");
	split(path, dir, base);
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		fail(sock, EISDIR, "not a file name");
	if ((rq->flags & SB_FILE_MKPARENTS) && mkdirs(dir, 0755) < 0)
		fail(sock, errno, "mkdir");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		fail(sock, errno, "open directory");
	if (fstatat(dfd, base, &st, 0) == 0) {
		if (S_ISDIR(st.st_mode))
			fail(sock, EISDIR, "is a directory");
		if (!S_ISREG(st.st_mode))
			fail(sock, EINVAL, "not a regular file");
		mode = st.st_mode & 07777;
	}
	if (rq->flags & SB_FILE_MODE)
		mode = rq->mode & 07777;
	snprintf(tmp, sizeof tmp, ".sandboxd-write-%d", (int)getpid());
	fd = openat(dfd, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		named = true;
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		fail(sock, errno, "create");
	for (;;) {
		ssize_t n = read(datafd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			break;
		e = n < 0 ? errno : (total += (uint64_t)n) > rq->max_bytes ? EFBIG
			: sb_write_full(fd, buf, (size_t)n) < 0 ? errno : 0;
		if (e) {
			if (named)
				unlinkat(dfd, tmp, 0);
			fail(sock, e, e == EFBIG ? "file too large" : n < 0 ? "read" : "write");
		}
	}
	if ((rq->flags & SB_FILE_EXACT) && total != rq->offset) {
		if (named)
			unlinkat(dfd, tmp, 0);
		fail(sock, EINVAL, "the upload ended before its announced length: nothing written");
	}
	snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
	if (fchmod(fd, mode) < 0 || fstat(fd, &st) < 0 || fsync(fd) < 0) {
		e = errno;
		if (named)
			unlinkat(dfd, tmp, 0);
		fail(sock, e, "finish");
	}
	/* a name for the unnamed file: rename(2) has no "from a descriptor" */
	if (!named && linkat(AT_FDCWD, self, dfd, tmp, AT_SYMLINK_FOLLOW) < 0)
		fail(sock, errno, "finish");
	if (renameat(dfd, tmp, dfd, base) < 0) {
		e = errno;
		unlinkat(dfd, tmp, 0);
		fail(sock, e, "finish");
	}
	if (((rq->flags & SB_FILE_MKPARENTS) ? syncfs(dfd) : fsync(dfd)) < 0)
		fail(sock, errno, "sync");
	send_info(sock, &st);
}

/* Owner names from the sandbox's own /etc/passwd and /etc/group, read as
 * text: no NSS module is ever loaded on the sandbox's say-so, and the files
 * are the sandbox's: only a regular file, read once, at most 1 MiB (a FIFO
 * or /dev/zero there must not hang or spin us). */
static char *id_table(const char *file)
{
	int fd = open(file, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;
	ssize_t n;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (buf = malloc(1 << 20)) &&
	    (n = sb_read_full(fd, buf, (1 << 20) - 1)) >= 0)
		buf[n] = '\0';
	else if (buf) {
		free(buf);
		buf = NULL;
	}
	close(fd);
	return buf;
}

static const char *id_name(const char *table, unsigned id, char *buf, size_t len)
{
	snprintf(buf, len, "%u", id);
	for (const char *line = table; line && *line;) {
		const char *end = strchr(line, '\n'), *c1 = strchr(line, ':');
		const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!end)
			end = line + strlen(line);
		if (c1 && c2 && c2 < end && c1 > line && (unsigned)strtoul(c2 + 1, NULL, 10) == id) {
			snprintf(buf, len, "%.*s", (int)(c1 - line < 63 ? c1 - line : 63), line);
			break;
		}
		line = *end ? end + 1 : end;
	}
	return buf;
}

/* A listing's JSON stays under this: a worker parses it whole. */
#define LIST_MAX_BYTES (8u << 20)

struct lister {
	struct json_object *arr;
	uint64_t max, count, bytes;
	int flags;
	char *passwd, *group;
};

/* d: dir, open (closed here); a subdirectory we cannot open is listed
 * as an entry, without its contents */
static void list_dir(struct lister *l, DIR *d, const char *dir, const char *prefix, int depth)
{
	char path[PATH_MAX], rel[PATH_MAX], target[PATH_MAX], who[64];
	DIR *sub;

	for (struct dirent *de; (de = readdir(d)) && l->count < l->max && l->bytes < LIST_MAX_BYTES;) {
		struct json_object *e;
		struct stat st;
		ssize_t n;

		target[0] = '\0';
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (de->d_name[0] == '.' && !(l->flags & SB_FILE_HIDDEN))
			continue;
		snprintf(path, sizeof path, "%s/%s", strcmp(dir, "/") ? dir : "", de->d_name);
		snprintf(rel, sizeof rel, "%s%s", prefix, de->d_name);
		if (lstat(path, &st) < 0)
			continue;
		e = json_object_new_object();
		json_object_object_add(e, "name", json_object_new_string(rel));
		json_object_object_add(e, "type", json_object_new_string(
			S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "directory"
			: S_ISLNK(st.st_mode) ? "symlink" : "other"));
		json_object_object_add(e, "size", json_object_new_int64(st.st_size));
		json_object_object_add(e, "mode", json_object_new_int(st.st_mode & 07777));
		json_object_object_add(e, "rawMode", json_object_new_int((int)st.st_mode));
		json_object_object_add(e, "nlink", json_object_new_int64((int64_t)st.st_nlink));
		json_object_object_add(e, "mtime", json_object_new_int64(ms_of(&st.st_mtim)));
		json_object_object_add(e, "user", json_object_new_string(
			id_name(l->passwd, st.st_uid, who, sizeof who)));
		json_object_object_add(e, "group", json_object_new_string(
			id_name(l->group, st.st_gid, who, sizeof who)));
		if (S_ISLNK(st.st_mode) && (n = readlink(path, target, sizeof target - 1)) >= 0) {
			target[n] = '\0';
			json_object_object_add(e, "target", json_object_new_string(target));
		}
		json_object_array_add(l->arr, e);
		l->count++;
		/* what it adds to the answer, escaped (a control byte is six) */
		size_t len = 0;
		json_object_to_json_string_length(e, JSON_C_TO_STRING_PLAIN, &len);
		l->bytes += len + 1;
		if ((l->flags & SB_FILE_RECURSIVE) && S_ISDIR(st.st_mode) && depth < 64) {
			snprintf(rel, sizeof rel, "%s%s/", prefix, de->d_name);
			if ((sub = opendir(path)))
				list_dir(l, sub, path, rel, depth + 1);
		}
	}
	closedir(d);
}

static void do_list(int sock, int datafd, const struct sb_file_req *rq, const char *path)
{
	struct lister l = { .arr = json_object_new_array(), .max = rq->max_bytes, .flags = (int)rq->flags };
	struct stat st;
	const char *s;
	DIR *d;

	if (stat(path, &st) < 0)
		fail(sock, errno, "stat");
	if (!S_ISDIR(st.st_mode))
		fail(sock, ENOTDIR, "not a directory");
	/* one we may not read is refused (forbidden), never an empty listing */
	d = opendir(path);
	if (!d)
		fail(sock, errno, "open directory");
	send_info(sock, &st);
	l.passwd = id_table("/etc/passwd");
	l.group = id_table("/etc/group");
	list_dir(&l, d, path, "", 0);
	/* {"entries": [...], "truncated": bool}: stopped by a cap or not */
	struct json_object *out = json_object_new_object();
	json_object_object_add(out, "entries", l.arr);
	json_object_object_add(out, "truncated",
			       json_object_new_boolean(l.count >= l.max || l.bytes >= LIST_MAX_BYTES));
	s = json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN);
	sb_write_full(datafd, s, strlen(s));
}

int sb_remove_tree(const char *path)
{
	struct stat st;
	DIR *d;

	if (lstat(path, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	d = opendir(path);
	if (!d)
		return -1;
	for (struct dirent *de; (de = readdir(d));) {
		char sub[PATH_MAX];
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
		if (sb_remove_tree(sub) < 0) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return rmdir(path);
}

static void do_delete(int sock, const struct sb_file_req *rq, const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		fail(sock, errno, "stat");
	if (S_ISDIR(st.st_mode)) {
		if (!(rq->flags & SB_FILE_RECURSIVE) ? rmdir(path) < 0 : sb_remove_tree(path) < 0)
			fail(sock, errno, "remove directory");
	} else if (unlink(path) < 0) {
		fail(sock, errno, "remove");
	}
	if (sync_parent(path, false) < 0)
		fail(sock, errno, "sync");
	send_info(sock, &st);
}

static void do_mkdir(int sock, const struct sb_file_req *rq, const char *path)
{
	struct stat st;

	if ((rq->flags & SB_FILE_RECURSIVE) ? mkdirs(path, 0755) < 0 : mkdir(path, 0755) < 0)
		fail(sock, errno, "mkdir");
	if (stat(path, &st) < 0)
		fail(sock, errno, "stat");
	if (!S_ISDIR(st.st_mode))
		fail(sock, EEXIST, "exists and is not a directory");
	if (sync_parent(path, rq->flags & SB_FILE_RECURSIVE) < 0)
		fail(sock, errno, "sync");
	send_info(sock, &st);
}

static void do_rename(int sock, const char *from, const char *to)
{
	struct stat st;

	if (rename(from, to) < 0)
		fail(sock, errno, "rename");
	if (lstat(to, &st) < 0)
		fail(sock, errno, "stat");
	if (sync_parent(to, false) < 0 || sync_parent(from, false) < 0)
		fail(sock, errno, "sync");
	send_info(sock, &st);
}

void sb_fileop_child(int sock, int datafd, const struct sb_file_req *rq, const char *path,
		     const char *path2)
{
	if (chdir("/workspace") < 0 && chdir("/") < 0)
		fail(sock, errno, "chdir");
	umask(022);
	/* locked down already: the init's capabilities and seccomp filter */
	switch (rq->op) {
	case SB_FILE_READ: do_read(sock, datafd, rq, path); break;
	case SB_FILE_WRITE: do_write(sock, datafd, rq, path); break;
	case SB_FILE_LIST: do_list(sock, datafd, rq, path); break;
	case SB_FILE_DELETE: do_delete(sock, rq, path); break;
	case SB_FILE_MKDIR: do_mkdir(sock, rq, path); break;
	case SB_FILE_RENAME: do_rename(sock, path, path2); break;
	case SB_FILE_CLONE: sb_clone_child(sock, datafd, path, path2, rq->max_bytes);
	case SB_FILE_ARCHIVE_OUT: case SB_FILE_ARCHIVE_IN: sb_archive_child(sock, datafd, rq, path);
	default: fail(sock, EINVAL, "unknown file operation");
	}
	_exit(0);
}
