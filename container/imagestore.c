#include "config.h"

#include "imagestore.h"
#include "kv.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

struct imgstore {
	MDB_env *env;
	MDB_dbi dbi;
};

bool image_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > IMAGE_NAME_MAX || !((*name >= 'a' && *name <= 'z') ||
					      (*name >= '0' && *name <= '9')))
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '_' || *p == '-'))
			return false;
	return true;
}


int imgstore_open(const char *dir, bool create, struct imgstore **out, struct sb_err *err)
{
	static const char *const names[] = { "images" };
	char path[PATH_MAX];
	struct imgstore *st;
	struct stat sbuf;

	*out = NULL;
	if (snprintf(path, sizeof path, "%s/.registry", dir) >= (int)sizeof path)
		return sb_fail(err, SB_E_INTERNAL, ENAMETOOLONG, "images dir path too long");
	if (stat(path, &sbuf) < 0) {
		if (errno != ENOENT)
			return sb_syserr(err, "stat %s", path);
		if (!create)
			return 0;
		if (sb_mkdir_p(path, 0700) < 0)
			return sb_syserr(err, "mkdir %s", path);
	}
	st = calloc(1, sizeof *st);
	if (!st)
		return sb_syserr(err, "calloc");
	if (kv_open(&st->env, path, (size_t)64 << 20, 0, names, &st->dbi, 1, err) < 0) {
		free(st);
		return -1;
	}
	*out = st;
	return 0;
}

void imgstore_close(struct imgstore *st)
{
	if (!st)
		return;
	mdb_env_close(st->env);
	free(st);
}

static struct json_object *decode(const MDB_val *v)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	if (!tok)
		return NULL;
	o = json_tokener_parse_ex(tok, v->mv_data, (int)v->mv_size);
	json_tokener_free(tok);
	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

int imgstore_get(struct imgstore *st, const char *name, struct json_object **rec,
		 struct sb_err *err)
{
	MDB_val k = { strlen(name), (void *)name }, v;
	MDB_txn *txn;
	int rc;

	*rec = NULL;
	if (!st)
		return 0;
	if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)))
		return kv_fail(err, rc, "read");
	rc = mdb_get(txn, st->dbi, &k, &v);
	if (rc == 0)
		*rec = decode(&v);
	mdb_txn_abort(txn);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return kv_fail(err, rc, "get");
	if (!*rec)
		return sb_fail(err, SB_E_INTERNAL, 0, "image registry: record of %s is not JSON", name);
	return 1;
}

int imgstore_put(struct imgstore *st, const char *name, struct json_object *rec,
		 struct sb_err *err)
{
	return kv_put(st->env, st->dbi, name,
		      json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN), err);
}

static bool add_image(const MDB_val *k, const MDB_val *v, void *arr)
{
	struct json_object *o = decode(v);

	(void)k;
	if (o)
		json_object_array_add(arr, o);
	return true;
}

int imgstore_list(struct imgstore *st, struct json_object **arr, struct sb_err *err)
{
	*arr = json_object_new_array();
	if (!st)
		return 0;
	return kv_scan(st->env, st->dbi, NULL, 0, add_image, *arr, err);
}

/* file capabilities (linux/xattr.h: XATTR_NAME_CAPS) */
#define CAPS_XATTR "security.capability"

static long inert_cleared;

/* A regular file with a setuid/setgid bit or a capability loses them.  The
 * change goes through an O_PATH fd of the inode that is checked again, not
 * through the path: an older store's 1777 dirs were open to every local
 * user, who may still hold one open and swap a file for a symlink. */
static int inert_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	char self[40];
	cleanup_close int fd = -1;
	struct stat now;
	bool caps;

	(void)f;
	if (flag != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	caps = lgetxattr(path, CAPS_XATTR, NULL, 0) >= 0;
	if (!(st->st_mode & (S_ISUID | S_ISGID)) && !caps)
		return 0;
	fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)	/* gone, or a symlink now: nothing to run */
		return errno == ENOENT || errno == ELOOP ? 0 : -1;
	if (fstat(fd, &now) < 0)
		return -1;
	if (!S_ISREG(now.st_mode))
		return 0;
	snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
	if (caps && removexattr(self, CAPS_XATTR) < 0 && errno != ENODATA)
		return -1;
	if ((now.st_mode & (S_ISUID | S_ISGID)) &&
	    chmod(self, now.st_mode & 07777 & ~(mode_t)(S_ISUID | S_ISGID)) < 0)
		return -1;
	inert_cleared++;
	return 0;
}

int image_make_inert(const char *rootfs, long *cleared, struct sb_err *err)
{
	inert_cleared = 0;
	if (nftw(rootfs, inert_entry, 64, FTW_PHYS | FTW_MOUNT) < 0)
		return sb_syserr(err, "clear the setuid bits of %s", rootfs);
	if (cleared)
		*cleared = inert_cleared;
	return 0;
}

static int chmod_0700(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -1;
	/* no write where there is nothing to change (a read-only store) */
	return (st.st_mode & 07777) == 0700 ? 0 : fchmod(fd, 0700);
}

/* A directory entry of dirfd, never through a symlink; -1 with errno
 * ENOTDIR or ELOOP when it is something else. */
static int open_dir_at(int dirfd, const char *name)
{
	return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* after open_dir_at failed: an entry that is no directory (or just went) */
static bool not_a_dir(void)
{
	return errno == ENOTDIR || errno == ELOOP || errno == ENOENT;
}

static DIR *list_dir(int fd)
{
	int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	DIR *d = copy < 0 ? NULL : fdopendir(copy);

	if (!d && copy >= 0)
		close(copy);
	return d;
}

/* The versions of <dir>/<name> (not its .lock, nor a stage: a stage is
 * made 0700 and inert by the builder that owns it). */
static int secure_versions(const char *dir, const char *name, int namefd, struct sb_err *err)
{
	char rootfs[PATH_MAX];
	struct dirent *e;
	struct stat st;
	int r = 0;
	DIR *d = list_dir(namefd);

	if (!d)
		return sb_syserr(err, "read %s/%s", dir, name);
	while (r == 0 && (e = readdir(d))) {
		cleanup_close int vfd = -1;

		if (e->d_name[0] == '.')
			continue;
		vfd = open_dir_at(namefd, e->d_name);
		if (vfd < 0) {
			if (!not_a_dir())
				r = sb_syserr(err, "open %s/%s/%s", dir, name, e->d_name);
			continue;
		}
		if (fstat(vfd, &st) < 0) {
			r = sb_syserr(err, "stat %s/%s/%s", dir, name, e->d_name);
			continue;
		}
		if ((st.st_mode & 07777) == 0700)
			continue;	/* 0700 is set last: this one is done */
		/* made by an older sandboxd-image: inert first, then closed */
		if (snprintf(rootfs, sizeof rootfs, "%s/%s/%s/rootfs", dir, name, e->d_name) >=
		    (int)sizeof rootfs) {
			r = sb_fail(err, SB_E_INTERNAL, ENAMETOOLONG, "images dir path too long");
			continue;
		}
		if (faccessat(vfd, "rootfs", F_OK, AT_SYMLINK_NOFOLLOW) == 0 &&
		    image_make_inert(rootfs, NULL, err) < 0)
			r = -1;
		else if (fchmod(vfd, 0700) < 0)
			r = sb_syserr(err, "chmod %s/%s/%s", dir, name, e->d_name);
	}
	closedir(d);
	return r;
}

int imgstore_secure(const char *dir, struct sb_err *err)
{
	/* the dir itself as configured (it may be a link); nothing below it */
	cleanup_close int top = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *e;
	int r = 0;
	DIR *d;

	if (top < 0)
		return errno == ENOENT ? 0 : sb_syserr(err, "open the images dir %s", dir);
	if (chmod_0700(top) < 0)
		return sb_syserr(err, "chmod %s", dir);
	d = list_dir(top);
	if (!d)
		return sb_syserr(err, "read %s", dir);
	while (r == 0 && (e = readdir(d))) {
		cleanup_close int fd = -1;
		bool registry = !strcmp(e->d_name, ".registry");

		if (!registry && (!image_name_ok(e->d_name) || !strcmp(e->d_name, IMAGE_BUILTIN)))
			continue;
		fd = open_dir_at(top, e->d_name);
		if (fd < 0) {
			if (!not_a_dir())
				r = sb_syserr(err, "open %s/%s", dir, e->d_name);
			continue;
		}
		if (chmod_0700(fd) < 0)
			r = sb_syserr(err, "chmod %s/%s", dir, e->d_name);
		else if (!registry)
			r = secure_versions(dir, e->d_name, fd, err);
	}
	closedir(d);
	return r;
}

int image_rootfs_path(const char *dir, const char *name, const char *version, char *buf,
		      size_t len)
{
	int n = snprintf(buf, len, "%s/%s/%s/rootfs", dir, name, version);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}
