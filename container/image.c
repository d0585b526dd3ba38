/* The `host` image: the host's own /usr (bind-mounted read-only at start)
 * under a generated skeleton, so a sandbox is ready without any download.
 * Only the skeleton lives here; of the host's /etc, only public files are
 * copied (host_files: the linker cache and the CA bundle). */
#include "config.h"

#include "rootfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const host_top[] = { "bin", "sbin", "lib", "lib32", "lib64", "libx32" };

static const struct { const char *path; mode_t mode; } skel_dirs[] = {
	{ "usr", 0755 }, { "etc", 0755 }, { "etc/ssl", 0755 }, { "etc/ssl/certs", 0755 }, { "proc", 0555 }, { "dev", 0755 },
	{ "sys", 0555 }, { "tmp", 01777 }, { "workspace", 0755 }, { "root", 0700 },
	{ "home", 0755 }, { "home/user", 0755 }, { "var", 0755 }, { "var/tmp", 01777 },
	{ "var/log", 0755 }, { "var/cache", 0755 }, { "var/lib", 0755 }, { "run", 0755 },
	{ "opt", 0755 }, { "srv", 0755 }, { "mnt", 0755 },
};

static const struct { const char *path; const char *text; } skel_files[] = {
	{ "etc/passwd",
	  "root:x:0:0:root:/root:/bin/sh\n"
	  "user:x:1000:1000:user:/home/user:/bin/sh\n"
	  "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n" },
	{ "etc/group", "root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n" },
	{ "etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" },
	{ "etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n" },
	{ "etc/resolv.conf", "# no network egress in this sandbox\n" },
	{ "etc/profile",
	  "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
	  "export LANG=C.UTF-8\n" },
	{ "etc/os-release", "NAME=\"sandboxd host image\"\nID=sandboxd-host\n" },
};

static int write_skel_file(int dirfd, const char *path, const char *text, struct sb_err *err)
{
	int fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);

	if (fd < 0)
		return sb_syserr(err, "create %s", path);
	if (sb_write_full(fd, text, strlen(text)) < 0) {
		close(fd);
		return sb_syserr(err, "write %s", path);
	}
	close(fd);
	return 0;
}

/* Top-level entries mirror the host: a symlink where the host has one
 * (merged /usr), an empty mount point where it has a real directory. */
static int mirror_top(int dirfd, const char *name, struct sb_err *err)
{
	char target[PATH_MAX], host[64];
	struct stat st;
	ssize_t n;

	snprintf(host, sizeof host, "/%s", name);
	if (lstat(host, &st) < 0)
		return 0;
	if (S_ISLNK(st.st_mode)) {
		n = readlink(host, target, sizeof target - 1);
		if (n < 0)
			return sb_syserr(err, "readlink %s", host);
		target[n] = '\0';
		if (symlinkat(target, dirfd, name) < 0)
			return sb_syserr(err, "symlink %s", name);
	} else if (S_ISDIR(st.st_mode)) {
		if (mkdirat(dirfd, name, 0755) < 0)
			return sb_syserr(err, "mkdir %s", name);
	}
	return 0;
}

static int build_skeleton(const char *dir, struct sb_err *err)
{
	cleanup_close int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	size_t i;

	if (dirfd < 0)
		return sb_syserr(err, "open %s", dir);
	for (i = 0; i < sizeof skel_dirs / sizeof *skel_dirs; i++) {
		if (mkdirat(dirfd, skel_dirs[i].path, 0700) < 0 ||
		    fchmodat(dirfd, skel_dirs[i].path, skel_dirs[i].mode, 0) < 0)
			return sb_syserr(err, "mkdir %s", skel_dirs[i].path);
	}
	/* ids as the sandbox sees them: the image is idmapped at mount */
	if (fchownat(dirfd, "home/user", 1000, 1000, AT_SYMLINK_NOFOLLOW) < 0)
		return sb_syserr(err, "chown home/user");
	for (i = 0; i < sizeof skel_files / sizeof *skel_files; i++)
		if (write_skel_file(dirfd, skel_files[i].path, skel_files[i].text, err) < 0)
			return -1;
	for (i = 0; i < sizeof host_top / sizeof *host_top; i++)
		if (mirror_top(dirfd, host_top[i], err) < 0)
			return -1;
	if (fchmod(dirfd, 0755) < 0)
		return sb_syserr(err, "chmod %s", dir);
	return 0;
}

int sb_file_sync(const char *src, const char *dst, bool always, struct sb_err *err)
{
	char tmp[PATH_MAX + 16], buf[65536];
	cleanup_close int in = open(src, O_RDONLY | O_CLOEXEC);
	cleanup_close int out = -1;
	struct stat hs, is;
	ssize_t n;

	if (in < 0 || fstat(in, &hs) < 0)
		return 1;
	if (!S_ISREG(hs.st_mode)) {
		errno = EINVAL;
		return 1;
	}
	if (!always && lstat(dst, &is) == 0 && S_ISREG(is.st_mode) && is.st_size == hs.st_size &&
	    is.st_mtime >= hs.st_mtime)
		return 0;
	if (snprintf(tmp, sizeof tmp, "%s.%d", dst, (int)getpid()) >= (int)sizeof tmp)
		return sb_fail(err, SB_E_INTERNAL, ENAMETOOLONG, "path too long: %s", dst);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (out < 0)
		return sb_syserr(err, "create %s", tmp);
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (sb_write_full(out, buf, (size_t)n) < 0)
			break;
	if (n != 0 || fchmod(out, 0644) < 0 || rename(tmp, dst) < 0) {
		sb_syserr(err, "install %s", dst);
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Public files of the host's /etc the image needs, kept in step at every
 * service start (a new file renamed over the old); a host without one
 * leaves the image without it.
 *  - the dynamic linker cache: without it every dynamic program the
 *    sandbox starts probes a score of hwcaps directories for each library;
 *    it names library paths of the host's /usr, which the image shares;
 *  - the CA bundle (Debian's path: what curl, git, python, npm's cafile
 *    and OpenSSL's default file read), so that TLS works with the host's
 *    /usr.  Not the hashed links of /etc/ssl/certs (OpenSSL's CApath):
 *    everything above reads the file, and OpenSSL looks in both. */
static const char *const host_files[] = { "etc/ld.so.cache", "etc/ssl/certs/ca-certificates.crt" };

static int sync_host_files(const char *dir, struct sb_err *err)
{
	static const char *const parents[] = { "etc/ssl", "etc/ssl/certs" };	/* skeletons of before */
	char path[PATH_MAX], host[PATH_MAX];

	for (size_t i = 0; i < sizeof parents / sizeof *parents; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, parents[i]);
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return sb_syserr(err, "mkdir %s", path);
	}
	for (size_t i = 0; i < sizeof host_files / sizeof *host_files; i++) {
		snprintf(host, sizeof host, "/%s", host_files[i]);
		if (snprintf(path, sizeof path, "%s/%s", dir, host_files[i]) >= (int)sizeof path)
			return sb_fail(err, SB_E_INTERNAL, ENAMETOOLONG, "image path too long");
		if (sb_file_sync(host, path, false, err) < 0)
			return -1;
	}
	return 0;
}

/* The host's /etc/alternatives links (awk, editor, pager, ...): they point
 * into the host's /usr, which the image shares; missing ones are added at
 * every service start. */
static int sync_alternatives(const char *dir, struct sb_err *err)
{
	char path[PATH_MAX], target[PATH_MAX];
	cleanup_close int out = -1;
	struct dirent *e;
	DIR *d = opendir("/etc/alternatives");

	if (!d)
		return 0;
	snprintf(path, sizeof path, "%s/etc/alternatives", dir);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		closedir(d);
		return sb_syserr(err, "mkdir %s", path);
	}
	out = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	while (out >= 0 && (e = readdir(d))) {
		ssize_t n = readlinkat(dirfd(d), e->d_name, target, sizeof target - 1);
		if (n <= 0 || target[0] != '/')
			continue;
		target[n] = '\0';
		symlinkat(target, out, e->d_name);	/* EEXIST: there already */
	}
	closedir(d);
	return out < 0 ? sb_syserr(err, "open %s", path) : 0;
}

int image_host_ensure(const char *dir, struct sb_err *err)
{
	char tmp[PATH_MAX];
	struct stat st;

	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return sync_host_files(dir, err) < 0 ? -1 : sync_alternatives(dir, err);
	/* build aside, then rename: a half-built image is never used */
	if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", dir, (int)getpid()) >= (int)sizeof tmp)
		return sb_fail(err, SB_E_INTERNAL, ENAMETOOLONG, "image path too long");
	if (mkdir(tmp, 0700) < 0)
		return sb_syserr(err, "mkdir %s", tmp);
	if (build_skeleton(tmp, err) < 0)
		return -1;
	if (rename(tmp, dir) < 0 && errno != EEXIST && errno != ENOTEMPTY)
		return sb_syserr(err, "rename %s", tmp);
	return sync_host_files(dir, err) < 0 ? -1 : sync_alternatives(dir, err);
}
