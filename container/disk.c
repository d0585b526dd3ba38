#include "config.h"

#include "disk.h"

#include <dirent.h>
#include <ftw.h>
#include <sched.h>
#include <endian.h>
#include <signal.h>
#include <stdlib.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>

#define MKE2FS "/sbin/mke2fs"
#define E2FSCK "/sbin/e2fsck"

/* Run one of e2fsprogs' tools on the image open at imgfd (its path
 * argument is "/proc/self/fd/3"), with /dev/null for stdin and stdout and no
 * other fd of ours; *code is its exit status (8, "operational error", for a
 * tool that could not run or was killed). */
static int run_e2tool(const char *path, char *const argv[], int imgfd, int *code,
		      struct sb_err *err)
{
	char *envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return sb_syserr(err, "fork %s", path);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		sigset_t none;

		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
		}
		if (imgfd != 3 && dup2(imgfd, 3) < 0)
			_exit(8);
		sb_close_fds_from(4);
		/* a worker serves with its stop signals blocked: not the tool */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execve(path, argv, envp);
		_exit(8);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return sb_syserr(err, "wait %s", path);
	*code = WIFEXITED(status) ? WEXITSTATUS(status) : 8;
	return 0;
}

static int run_mke2fs(int imgfd, uid_t owner, struct sb_err *err)
{
	char opts[160];
	char *argv[] = { (char *)"mke2fs", (char *)"-q", (char *)"-F", (char *)"-t", (char *)"ext4",
			 (char *)"-m", (char *)"0", (char *)"-E", opts, (char *)"/proc/self/fd/3",
			 NULL };
	int code;

	/* lazy init: the image stays sparse; no reserved blocks: the quota is
	 * the sandbox's whole; nodiscard: mke2fs would punch the blocks of a
	 * preallocated image out again */
	snprintf(opts, sizeof opts,
		 "lazy_itable_init=1,lazy_journal_init=1,nodiscard,root_owner=%u:%u",
		 (unsigned)owner, (unsigned)owner);
	if (run_e2tool(MKE2FS, argv, imgfd, &code, err) < 0)
		return -1;
	if (code != 0)
		return sb_fail(err, SB_E_INTERNAL, 0, "mke2fs failed (status %d)", code);
	return 0;
}

long long disk_image_host_bytes(long long bytes, bool prealloc)
{
	return prealloc ? bytes : (2LL << 20) + bytes / 16384;
}

/* Take the image's blocks on the host now (a preallocated image: the file
 * system inside never meets a full host), or only its size (sparse). */
static int size_image(int fd, long long bytes, bool prealloc, struct sb_err *err)
{
	if (!prealloc)
		return ftruncate(fd, bytes) < 0 ? sb_syserr(err, "size disk image") : 0;
	if (fallocate(fd, 0, 0, bytes) == 0)
		return 0;
	if (errno == ENOSPC || errno == EDQUOT)
		return sb_fail(err, SB_E_NO_SPACE, errno, "the host has no room for a %lld MiB sandbox disk",
			       bytes >> 20);
	return sb_syserr(err, "preallocate disk image");
}

#ifdef SB_FAULT_INJECTION
/* Test builds only (configure --enable-fault-injection): with
 * SANDBOXD_FAULTS=DIR in the environment, the process that reaches point P
 * is killed if DIR/P exists (removed first: it fires once). */
void sb_fault(const char *point)
{
	const char *dir = getenv("SANDBOXD_FAULTS");
	char path[PATH_MAX];

	if (!dir)
		return;
	snprintf(path, sizeof path, "%s/%s", dir, point);
	if (unlink(path) == 0) {
		fprintf(stderr, "sandboxd: fault injected at %s\n", point);
		raise(SIGKILL);
	}
}

bool sb_fault_hit(const char *point)
{
	const char *dir = getenv("SANDBOXD_FAULTS");
	char path[PATH_MAX];

	if (!dir)
		return false;
	snprintf(path, sizeof path, "%s/%s", dir, point);
	if (unlink(path) < 0)
		return false;
	fprintf(stderr, "sandboxd: fault injected at %s\n", point);
	return true;
}

bool sb_fault_on(const char *point)
{
	const char *dir = getenv("SANDBOXD_FAULTS");
	char path[PATH_MAX];

	if (!dir)
		return false;
	snprintf(path, sizeof path, "%s/%s", dir, point);
	return access(path, F_OK) == 0;
}

void sb_fault_pause(const char *point)
{
	const char *dir = getenv("SANDBOXD_FAULTS");
	char path[PATH_MAX], paused[PATH_MAX + 8];
	struct timespec ts = { 0, 10000000 };

	if (!dir)
		return;
	snprintf(path, sizeof path, "%s/%s", dir, point);
	snprintf(paused, sizeof paused, "%s.paused", path);
	if (rename(path, paused) < 0)
		return;
	fprintf(stderr, "sandboxd: fault injected at %s (paused)\n", point);
	for (int i = 0; i < 3000 && access(paused, F_OK) == 0; i++)
		nanosleep(&ts, NULL);
}
#endif

/* "<bytes>-" names the spares of one size. */
static bool spare_of(const char *name, long long bytes)
{
	char prefix[32];
	size_t n = strlen(name);

	snprintf(prefix, sizeof prefix, "%lld-", bytes);
	return !strncmp(name, prefix, strlen(prefix)) && n > 4 && !strcmp(name + n - 4, ".img");
}

int disk_spare_count(int sparesfd, long long bytes)
{
	cleanup_close int fd = openat(sparesfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *e;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	int n = 0;

	if (!d)
		return 0;
	fd = -1;	/* the DIR owns it */
	while ((e = readdir(d)))
		n += spare_of(e->d_name, bytes);
	closedir(d);
	return n;
}

/* Claim any spare of the size: a rename, which only one claimant wins. */
static int spare_take(int sparesfd, long long bytes, int sbdirfd)
{
	cleanup_close int fd = openat(sparesfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *e;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	int r = -1;

	if (!d)
		return -1;
	fd = -1;
	while (r < 0 && (e = readdir(d)))
		if (spare_of(e->d_name, bytes))
			r = (int)syscall(SYS_renameat2, sparesfd, e->d_name, sbdirfd, "disk.img",
					 RENAME_NOREPLACE);
	closedir(d);
	return r;
}

int disk_spare_make(int sparesfd, long long bytes, bool prealloc, struct sb_err *err)
{
	char tmp[64], name[96];
	cleanup_close int fd = -1;

	snprintf(tmp, sizeof tmp, "%lld-%d.new", bytes, (int)getpid());
	snprintf(name, sizeof name, "%lld-%d-%lld.img", bytes, (int)getpid(), (long long)sb_mono_ms());
	unlinkat(sparesfd, tmp, 0);
	fd = openat(sparesfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return sb_syserr(err, "create spare disk image");
	if (size_image(fd, bytes, prealloc, err) < 0 || run_mke2fs(fd, 0, err) < 0 ||
	    fsync(fd) < 0 || renameat(sparesfd, tmp, sparesfd, name) < 0) {
		if (!err->msg[0])
			sb_syserr(err, "make spare disk image");
		unlinkat(sparesfd, tmp, 0);
		return -1;
	}
	return 0;
}

void disk_spare_sweep(int sparesfd)
{
	cleanup_close int fd = openat(sparesfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *e;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d)
		return;
	fd = -1;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		/* .held-PID.img: a spare a waiting launcher of an earlier build
		 * held (removed for a race, see docs/ARCHITECTURE.md): no
		 * launcher holds one now, so it is a leftover at the start */
		if ((n > 4 && !strcmp(e->d_name + n - 4, ".new")) ||
		    !strncmp(e->d_name, ".held-", 6))
			unlinkat(sparesfd, e->d_name, 0);
	}
	closedir(d);
}

/* A spare made sparse (before a change of --disk-prealloc) takes its
 * blocks when claimed: fallocate fills the holes, the data stays. */
static int spare_prealloc(int sbdirfd, long long bytes, struct sb_err *err)
{
	cleanup_close int fd = openat(sbdirfd, "disk.img", O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;

	if (fd < 0)
		return sb_syserr(err, "open disk image");
	if (fstat(fd, &st) == 0 && (long long)st.st_blocks * 512 >= bytes)
		return 0;
	if (size_image(fd, bytes, true, err) < 0) {
		/* back to the spares' pool is not worth it: made again later */
		unlinkat(sbdirfd, "disk.img", 0);
		return -1;
	}
	return 0;
}

int disk_image_ensure(int sbdirfd, long long bytes, uid_t owner, int sparesfd, bool prealloc,
		      struct sb_err *err)
{
	cleanup_close int fd = -1;

	if (faccessat(sbdirfd, "disk.img", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	/* a spare made ahead of time saves the mke2fs (the owner of its top
	 * directory does not matter: only upper/ is the sandbox's, chowned at
	 * every start) */
	if (sparesfd >= 0 && spare_take(sparesfd, bytes, sbdirfd) == 0)
		return prealloc ? spare_prealloc(sbdirfd, bytes, err) : 0;
	/* made aside and renamed: a half-made image is never mounted */
	unlinkat(sbdirfd, "disk.img.new", 0);
	fd = openat(sbdirfd, "disk.img.new", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return sb_syserr(err, "create disk image");
	if (size_image(fd, bytes, prealloc, err) < 0) {
		unlinkat(sbdirfd, "disk.img.new", 0);
		return -1;
	}
	sb_fault("disk-made");
	if (run_mke2fs(fd, owner, err) < 0 || fsync(fd) < 0 ||
	    renameat(sbdirfd, "disk.img.new", sbdirfd, "disk.img") < 0) {
		if (!err->msg[0])
			sb_syserr(err, "finish disk image");
		unlinkat(sbdirfd, "disk.img.new", 0);
		return -1;
	}
	return 0;
}

/* ext4's superblock, 1024 bytes in: s_magic at 56, s_state at 58 (bit 1:
 * errors were detected, cleared by e2fsck). */
#define SB_OFF 1024
#define EXT4_MAGIC 0xEF53
#define EXT4_ERROR_FS 0x0002

int disk_image_health(int sbdirfd)
{
	cleanup_close int fd = openat(sbdirfd, "disk.img", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	unsigned char sb[1024];
	uint16_t magic, state;

	if (fd < 0 || pread(fd, sb, sizeof sb, SB_OFF) != (ssize_t)sizeof sb)
		return -1;
	memcpy(&magic, sb + 56, 2);
	memcpy(&state, sb + 58, 2);
	if (le16toh(magic) != EXT4_MAGIC)
		return -1;
	/* not s_error_count: it stays as a record of the past after a repair */
	return le16toh(state) & EXT4_ERROR_FS ? 0 : 1;
}

static int run_e2fsck(int sbdirfd, const char *mode, int *code, struct sb_err *err)
{
	cleanup_close int fd = openat(sbdirfd, "disk.img", O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	char *argv[] = { (char *)"e2fsck", (char *)mode, (char *)"-f", (char *)"/proc/self/fd/3",
			 NULL };

	if (fd < 0)
		return sb_syserr(err, "open disk image");
	return run_e2tool(E2FSCK, argv, fd, code, err);
}

int disk_image_repair(int sbdirfd, struct sb_err *err)
{
	int code = 0;

	/* -p fixes what is safe without a question; what it leaves (4: "run
	 * fsck manually") -y answers yes to: nobody is there to ask, and a
	 * sandbox that cannot start is worse than lost+found */
	if (run_e2fsck(sbdirfd, "-p", &code, err) < 0)
		return -1;
	if (code & 4 && run_e2fsck(sbdirfd, "-y", &code, err) < 0)
		return -1;
	if (code & ~3)
		return sb_fail(err, SB_E_INTERNAL, 0, "e2fsck of the sandbox's disk failed (exit %d)", code);
	return 0;
}

/* A free loop device bound to imgfd, autoclear; its fd, or -1. */
static int loop_attach(int imgfd, char *dev, size_t devlen, struct sb_err *err)
{
	cleanup_close int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);

	if (ctl < 0)
		return sb_syserr(err, "open /dev/loop-control");
	/* another sandbox starting may take the same free device: retry */
	for (int tries = 0; tries < 64; tries++) {
		struct loop_config cfg;
		int n = ioctl(ctl, LOOP_CTL_GET_FREE);
		int fd;

		if (n < 0)
			return sb_syserr(err, "get a free loop device");
		snprintf(dev, devlen, "/dev/loop%d", n);
		fd = open(dev, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		memset(&cfg, 0, sizeof cfg);
		cfg.fd = (uint32_t)imgfd;
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		if (ioctl(fd, LOOP_CONFIGURE, &cfg) == 0)
			return fd;
		close(fd);
		if (errno != EBUSY)
			return sb_syserr(err, "configure %s", dev);
	}
	return sb_fail(err, SB_E_INTERNAL, EBUSY, "no free loop device");
}

/* The data extents of in, copied to the same offsets of out (as long). */
static int copy_sparse(int in, int out, off_t size)
{
	off_t data = 0, hole;

	if (ftruncate(out, size) < 0)
		return -1;
	for (;;) {
		data = lseek(in, data, SEEK_DATA);
		if (data < 0)
			return errno == ENXIO ? 0 : -1;		/* no data after: done */
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			return -1;
		for (off_t at = data; at < hole;) {
			loff_t ri = at, wo = at;
			ssize_t n = copy_file_range(in, &ri, out, &wo, (size_t)(hole - at), 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -1;
			if (n == 0)	/* the file shrank under us: what is there is copied */
				return 0;
			at += n;
		}
		data = hole;
	}
}

int disk_image_copy(int srcdir, const char *src, int dstdir, const char *dst, mode_t mode,
		    long long *stored, bool *reflinked, struct sb_err *err)
{
	cleanup_close int in = openat(srcdir, src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	cleanup_close int out = -1;
	struct stat st;

	*reflinked = false;
	if (in < 0 || fstat(in, &st) < 0)
		return sb_syserr(err, "open disk image %s", src);
	if (!S_ISREG(st.st_mode))
		return sb_fail(err, SB_E_INTERNAL, EINVAL, "disk image %s is not a regular file", src);
	out = openat(dstdir, dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (out < 0)
		return errno == EEXIST ? sb_fail(err, SB_E_CONFLICT, EEXIST, "%s exists", dst)
				       : sb_syserr(err, "create %s", dst);
	if (ioctl(out, FICLONE, in) == 0)
		*reflinked = true;
	else if (copy_sparse(in, out, st.st_size) < 0)
		goto fail;
	if (fsync(out) < 0 || fstat(out, &st) < 0)
		goto fail;
	*stored = (long long)st.st_blocks * 512;
	return 0;
fail:
	sb_syserr(err, "copy disk image to %s", dst);
	unlinkat(dstdir, dst, 0);
	return -1;
}

static uid_t shift_from, shift_to;

static bool shifted(unsigned id, unsigned *out)
{
	if (id < shift_from || id - shift_from >= 65536)
		return false;
	*out = id - shift_from + shift_to;
	return true;
}

/* A POSIX ACL xattr (the host sees its named entries as host ids, of the
 * origin's range): the ids of its ACL_USER and ACL_GROUP entries shifted
 * like owners.  Little endian: a u32 version, then {u16 tag, u16 perm,
 * u32 id} entries. */
static int shift_acl(const char *name, const char *attr)
{
	unsigned char buf[4 + 8 * 512];
	ssize_t n = lgetxattr(name, attr, buf, sizeof buf);
	bool changed = false;

	if (n < 0)
		return errno == ENODATA || errno == ENOTSUP ? 0 : -1;
	for (size_t off = 4; off + 8 <= (size_t)n; off += 8) {
		uint16_t tag = (uint16_t)(buf[off] | buf[off + 1] << 8);
		uint32_t id, out;
		if (tag != 0x02 && tag != 0x08)	/* ACL_USER, ACL_GROUP */
			continue;
		memcpy(&id, buf + off + 4, 4);
		if (!shifted(le32toh(id), &out))
			continue;
		out = htole32(out);
		memcpy(buf + off + 4, &out, 4);
		changed = true;
	}
	return changed && lsetxattr(name, attr, buf, (size_t)n, 0) < 0 ? -1 : 0;
}

/* A file capability as the host reads it: a capability set inside the
 * origin is a v3 one (24 bytes) naming the origin's root, its rootid (the
 * last u32) shifted to the fork's; len 0: none. */
static void shift_cap(unsigned char *cap, ssize_t len)
{
	uint32_t magic, root, out;

	if (len != 24)
		return;
	memcpy(&magic, cap, 4);
	memcpy(&root, cap + 20, 4);
	if ((le32toh(magic) & 0xff000000) != 0x03000000 || !shifted(le32toh(root), &out))
		return;
	out = htole32(out);
	memcpy(cap + 20, &out, 4);
}

/* nftw, FTW_CHDIR: the entry is path + f->base in the cwd */
static int shift_one(const char *path, const struct stat *st, int type, struct FTW *f)
{
	const char *name = path + f->base;
	unsigned u = (unsigned)-1, g = (unsigned)-1;
	bool su = shifted(st->st_uid, &u), sg = shifted(st->st_gid, &g);
	bool lnk = S_ISLNK(st->st_mode);
	unsigned char cap[64];
	ssize_t caplen = -1;

	if (type == FTW_NS)
		return 0;
	/* what an owner is does not end at st_uid: ACL entries too */
	if (!lnk && (shift_acl(name, "system.posix_acl_access") < 0 ||
		     (S_ISDIR(st->st_mode) && shift_acl(name, "system.posix_acl_default") < 0)))
		return -1;
	/* a file capability, read before the chown drops it */
	if (S_ISREG(st->st_mode)) {
		caplen = lgetxattr(name, "security.capability", cap, sizeof cap);
		if (caplen < 0 && errno != ENODATA && errno != ENOTSUP)
			return -1;
	}
	if (su || sg) {
		if (fchownat(AT_FDCWD, name, su ? u : (uid_t)-1, sg ? g : (gid_t)-1, AT_SYMLINK_NOFOLLOW) < 0)
			return -1;
		/* the chown dropped them */
		if (!lnk && !S_ISDIR(st->st_mode) && (st->st_mode & (S_ISUID | S_ISGID)) &&
		    fchmodat(AT_FDCWD, name, st->st_mode & 07777, 0) < 0)
			return -1;
	}
	if (caplen > 0) {
		shift_cap(cap, caplen);
		if (lsetxattr(name, "security.capability", cap, (size_t)caplen, 0) < 0)
			return -1;
	}
	return 0;
}

/* The child: nobody but it sees the mount, which goes with it. */
static int shift_child(int sbdirfd, const char *image)
{
	struct sb_err err = SB_ERR_INIT;
	cleanup_close int fd = -1;

	/* the cwd first: unshare moves it into the new namespace's copy (an
	 * fd opened before names the old one, where no mount may go) */
	if (fchdir(sbdirfd) < 0 || unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 || disk_mount(image, "disk", &err) < 0) {
		fprintf(stderr, "sandboxd: id shift: %s\n", err.msg[0] ? err.msg : strerror(errno));
		return 2;
	}
	if (nftw("disk", shift_one, 32, FTW_PHYS | FTW_MOUNT | FTW_CHDIR) != 0)
		return 3;
	fd = open("disk", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 || syncfs(fd) < 0 ? 4 : 0;
}

int disk_image_shift_ids(int sbdirfd, const char *image, uid_t from, uid_t to, struct sb_err *err)
{
	int status;
	pid_t pid;

	if (from == to)
		return 0;
	pid = fork();
	if (pid < 0)
		return sb_syserr(err, "fork");
	if (pid == 0) {
		shift_from = from;
		shift_to = to;
		_exit(shift_child(sbdirfd, image));
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return sb_syserr(err, "wait for the id shift");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return sb_fail(err, SB_E_INTERNAL, 0, "shifting the ids of the copied disk failed (status %#x)",
			       (unsigned)status);
	return 0;
}

int disk_mount(const char *image, const char *mountpoint, struct sb_err *err)
{
	cleanup_close int img = open(image, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	cleanup_close int loop = -1, fs = -1;
	struct stat st;
	bool prealloc;
	char dev[32];
	int mnt;

	if (img < 0 || fstat(img, &st) < 0)
		return sb_syserr(err, "open disk image");
	/* a preallocated image keeps its blocks: no discard (the loop device
	 * would punch a hole for every freed block) and no lazy zeroing of the
	 * inode tables (a write of zeroes may unmap too) */
	prealloc = (long long)st.st_blocks * 512 >= (long long)st.st_size;
	loop = loop_attach(img, dev, sizeof dev, err);
	if (loop < 0)
		return -1;
	fs = fsopen("ext4", FSOPEN_CLOEXEC);
	if (fs < 0)
		return sb_syserr(err, "fsopen ext4");
	if (fsconfig(fs, FSCONFIG_SET_STRING, "source", dev, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_FLAG, prealloc ? "nodiscard" : "discard", NULL, 0) < 0 ||
	    (prealloc && fsconfig(fs, FSCONFIG_SET_FLAG, "noinit_itable", NULL, 0) < 0) ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return sb_syserr(err, "mount %s", dev);
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	if (mnt < 0)
		return sb_syserr(err, "fsmount %s", dev);
	if (move_mount(mnt, "", AT_FDCWD, mountpoint, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
		sb_syserr(err, "mount disk on %s", mountpoint);
		close(mnt);
		return -1;
	}
	close(mnt);
	/* our loop fd goes; the mount holds the device until the namespace dies */
	return 0;
}
