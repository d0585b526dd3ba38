/* Mount setup of a sandbox, done by its init as host root inside its own,
 * still privileged mount namespace.  Every mount is made with the new mount
 * API and attached to a target opened with openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_SYMLINKS): the upper layer is the sandbox's to shape between
 * starts, so a symlink it planted where we mount must make the start fail,
 * never redirect a mount to the host (runc CVE-2019-19921, CVE-2023-27561). */
#include "config.h"

#include "rootfs.h"
#include "disk.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

static int open_in_root(int rootfd, const char *rel, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};

	return (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof how);
}

/* Attach the detached mount mntfd at rel below rootfd; consumes mntfd. */
static int attach(int mntfd, int rootfd, const char *rel, struct sb_err *err)
{
	cleanup_close int m = mntfd;
	cleanup_close int target = open_in_root(rootfd, rel, O_PATH | O_NOFOLLOW);

	if (target < 0)
		return sb_syserr(err, "refusing mount target /%s", rel);
	if (move_mount(m, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return sb_syserr(err, "mount on /%s", rel);
	return 0;
}

/* A new filesystem instance as a detached mount, options as "k=v" strings. */
static int new_fs(const char *type, const char *const *opts, unsigned attrs, struct sb_err *err)
{
	cleanup_close int fs = fsopen(type, FSOPEN_CLOEXEC);
	int mnt;

	if (fs < 0)
		return sb_syserr(err, "fsopen %s", type);
	for (; opts && *opts; opts++) {
		char key[64];
		const char *eq = strchr(*opts, '=');
		int r;

		if (eq) {
			snprintf(key, sizeof key, "%.*s", (int)(eq - *opts), *opts);
			r = fsconfig(fs, FSCONFIG_SET_STRING, key, eq + 1, 0);
		} else {
			r = fsconfig(fs, FSCONFIG_SET_FLAG, *opts, NULL, 0);
		}
		if (r < 0)
			return sb_syserr(err, "%s option %s", type, *opts);
	}
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return sb_syserr(err, "create %s", type);
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
	if (mnt < 0)
		return sb_syserr(err, "fsmount %s", type);
	return mnt;
}

/* A (recursive) clone of a host path, detached, with attrs set; with a
 * user namespace fd, idmapped through it: host uid 0 shows as the sandbox's
 * root, and so on for its 65536 ids (what is outside shows as nobody). */
static int host_bind_idmapped(const char *path, unsigned attrs, int usernsfd, struct sb_err *err)
{
	struct mount_attr attr = { .attr_set = attrs };
	int fd = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);

	if (fd < 0)
		return sb_syserr(err, "clone mount of %s", path);
	if (usernsfd >= 0) {
		attr.attr_set |= MOUNT_ATTR_IDMAP;
		attr.userns_fd = (uint64_t)usernsfd;
	}
	if (attr.attr_set && mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
		sb_syserr(err, "set attributes of %s", path);
		close(fd);
		return -1;
	}
	return fd;
}

static int host_bind(const char *path, unsigned attrs, struct sb_err *err)
{
	return host_bind_idmapped(path, attrs, -1, err);
}

/* The overlay's options name its layers with paths that say nothing of the
 * host (the sandbox reads them in its mountinfo): the upper and work dirs
 * relative to the sandbox directory, which is our cwd for the mount, and
 * the image, a read-only idmapped clone, through a /proc/self/fd link.
 * The image's files are host-owned and shared by every sandbox; idmapped,
 * they show as owned by this sandbox's own ids, and a copy-up keeps that. */
static int mount_overlay(const struct rootfs_spec *s, struct sb_err *err)
{
	char lower[64], upper[64], work[64], root[PATH_MAX], updir[32];
	const char *opts[] = { lower, upper, work, NULL };
	cleanup_close int imgfd = -1;
	const char *layer = "";
	int mnt;

	imgfd = host_bind_idmapped(s->image_dir, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
				   MOUNT_ATTR_NODEV, s->usernsfd, err);
	if (imgfd < 0)
		return -1;
	if (chdir(s->sandbox_dir) < 0)
		return sb_syserr(err, "chdir to the sandbox dir");
	if (s->disk) {
		if (disk_mount("disk.img", "disk", err) < 0)
			return -1;
		/* the file system's top is ours; only upper/ is the sandbox's */
		if ((mkdir("disk/upper", 0755) < 0 && errno != EEXIST) ||
		    (mkdir("disk/work", 0700) < 0 && errno != EEXIST))
			return sb_syserr(err, "make layers in the disk image");
		layer = "disk/";
	}
	/* the merged root directory takes its owner from the upper dir */
	snprintf(updir, sizeof updir, "%supper", layer);
	if (fchownat(AT_FDCWD, updir, s->uid_base, s->uid_base, AT_SYMLINK_NOFOLLOW) < 0)
		return sb_syserr(err, "chown the upper layer");
	snprintf(lower, sizeof lower, "lowerdir=/proc/self/fd/%d", imgfd);
	snprintf(upper, sizeof upper, "upperdir=%s", updir);
	snprintf(work, sizeof work, "workdir=%swork", layer);
	snprintf(root, sizeof root, "%s/root", s->sandbox_dir);
	mnt = new_fs("overlay", opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, err);
	if (mnt < 0)
		return -1;
	if (move_mount(mnt, "", AT_FDCWD, root, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
		sb_syserr(err, "mount overlay on %s", root);
		close(mnt);
		return -1;
	}
	/* the mount fd stays a handle on the new root's top directory */
	return mnt;
}

/* The host's /usr (and any top-level library directory that is not a
 * symlink into it) read-only, nosuid, nodev, and not idmapped: the host's
 * ids are outside the sandbox's user namespace, so its files show as the
 * overflow id and the sandbox's root holds no capability over them.  It
 * reads what any host user reads, and nothing the host keeps from its
 * users (a 0700 directory of root's or of a system user's, a 0600 file):
 * an idmapped bind made host root's files the sandbox root's own. */
static int bind_host_dirs(int rootfd, struct sb_err *err)
{
	static const char *const dirs[] = { "usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32" };
	struct stat st;
	char host[32];

	for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
		snprintf(host, sizeof host, "/%s", dirs[i]);
		if (lstat(host, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		int fd = host_bind(host, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, err);
		if (fd < 0 || attach(fd, rootfd, dirs[i], err) < 0)
			return -1;
	}
	return 0;
}

/* runc's MaskedPaths and ReadonlyPaths, relative to the new /proc, and
 * more: the kernel command line, and the host's device lists (partitions,
 * diskstats, swaps, fs/ext4/DEV): the loop devices there count the other
 * sandboxes and show their I/O, a swap file is a host path.  sysrq-trigger
 * and fs are masked where runc makes them read-only. */
static const char *const proc_masked_files[] = {
	"kcore", "keys", "latency_stats", "timer_list", "timer_stats", "sched_debug",
	"sysrq-trigger", "kallsyms", "kmsg", "interrupts", "cmdline",
	"partitions", "diskstats", "swaps",
};
static const char *const proc_masked_dirs[] = { "acpi", "scsi", "asound", "driver", "fs" };
static const char *const proc_readonly[] = { "bus", "irq", "sys" };

/* An empty, read-only directory over path below dirfd. */
static int mask_dir(int dirfd, const char *path, struct sb_err *err)
{
	static const char *const o[] = { "size=0", "mode=0", NULL };
	int fd = new_fs("tmpfs", o, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
			MOUNT_ATTR_NOEXEC, err);

	if (fd < 0 || attach(fd, dirfd, path, err) < 0)
		return -1;
	return 0;
}

static int mask_proc(int procfd, struct sb_err *err)
{
	size_t i;

	for (i = 0; i < sizeof proc_masked_files / sizeof *proc_masked_files; i++) {
		if (faccessat(procfd, proc_masked_files[i], F_OK, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		int fd = host_bind("/dev/null", 0, err);
		if (fd < 0 || attach(fd, procfd, proc_masked_files[i], err) < 0)
			return -1;
	}
	for (i = 0; i < sizeof proc_masked_dirs / sizeof *proc_masked_dirs; i++) {
		if (faccessat(procfd, proc_masked_dirs[i], F_OK, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (mask_dir(procfd, proc_masked_dirs[i], err) < 0)
			return -1;
	}
	for (i = 0; i < sizeof proc_readonly / sizeof *proc_readonly; i++) {
		struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
							MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC };
		int fd = open_tree(procfd, proc_readonly[i],
				   OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_SYMLINK_NOFOLLOW);
		if (fd < 0)
			continue;
		if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0) {
			close(fd);
			return sb_syserr(err, "read-only /proc/%s", proc_readonly[i]);
		}
		if (attach(fd, procfd, proc_readonly[i], err) < 0)
			return -1;
	}
	return 0;
}

/* Per-netns knobs, set while we still hold the privilege: the sandbox's root
 * can bind low ports and ping without owning its network namespace. */
static void net_sysctls(int procfd)
{
	sb_write_file_at(procfd, "sys/net/ipv4/ip_unprivileged_port_start", "0");
	sb_write_file_at(procfd, "sys/net/ipv4/ping_group_range", "0 2147483647");
}

static int mount_proc(int rootfd, struct sb_err *err)
{
	static const char *const o[] = { NULL };
	int mnt = new_fs("proc", o, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, err);
	cleanup_close int procfd = -1;

	if (mnt < 0)
		return -1;
	procfd = fcntl(mnt, F_DUPFD_CLOEXEC, 3);
	if (attach(mnt, rootfd, "proc", err) < 0)
		return -1;
	net_sysctls(procfd);
	return mask_proc(procfd, err);
}

static int mount_dev(int rootfd, struct sb_err *err)
{
	static const char *const devs[] = { "null", "zero", "full", "random", "urandom", "tty" };
	static const char *const links[][2] = {
		{ "/proc/self/fd", "fd" }, { "/proc/self/fd/0", "stdin" },
		{ "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
		{ "pts/ptmx", "ptmx" },
	};
	static const char *const tmpfs_o[] = { "mode=0755", "size=65536", "nr_inodes=64", NULL };
	/* max=: the ptys are one pool for every devpts of the host but its
	 * first (kernel.pty.max - kernel.pty.reserve): one sandbox took them
	 * all and its neighbours' openpty() failed ENOSPC */
	static const char *const pts_o[] = { "ptmxmode=0666", "mode=0620", "max=" SB_STR(SB_PTY_MAX), NULL };
	static const char *const shm_o[] = { "mode=1777", "size=67108864", NULL };
	cleanup_close int devfd = -1;
	int mnt;
	size_t i;

	mnt = new_fs("tmpfs", tmpfs_o, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, err);
	if (mnt < 0)
		return -1;
	devfd = fcntl(mnt, F_DUPFD_CLOEXEC, 3);
	if (attach(mnt, rootfd, "dev", err) < 0)
		return -1;
	for (i = 0; i < sizeof devs / sizeof *devs; i++) {
		char host[32];
		int fd = openat(devfd, devs[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd < 0)
			return sb_syserr(err, "create /dev/%s", devs[i]);
		close(fd);
		snprintf(host, sizeof host, "/dev/%s", devs[i]);
		fd = host_bind(host, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, err);
		if (fd < 0 || attach(fd, devfd, devs[i], err) < 0)
			return -1;
	}
	for (i = 0; i < sizeof links / sizeof *links; i++)
		if (symlinkat(links[i][0], devfd, links[i][1]) < 0)
			return sb_syserr(err, "symlink /dev/%s", links[i][1]);
	if (mkdirat(devfd, "pts", 0755) < 0 || mkdirat(devfd, "shm", 01777) < 0)
		return sb_syserr(err, "mkdir in /dev");
	mnt = new_fs("devpts", pts_o, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, err);
	if (mnt < 0 || attach(mnt, devfd, "pts", err) < 0)
		return -1;
	mnt = new_fs("tmpfs", shm_o, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, err);
	if (mnt < 0 || attach(mnt, devfd, "shm", err) < 0)
		return -1;
	return 0;
}

/* What programs read of /sys, and all they get: the CPUs (sysconf, nproc,
 * lscpu, libnuma), the NUMA nodes, and the network devices, which sysfs
 * shows per network namespace (the sandbox's lo).  The rest names the host:
 * the loop devices' backing files (every sandbox's data path, any
 * instance), the block devices, the firmware, the kernel's own tree, the
 * modules, the cgroups.  An allowlist, so what a newer kernel adds to sysfs
 * stays out too. */
static const char *const sys_exposed[] = {
	"devices/system/cpu", "devices/system/node", "devices/virtual/net", "class/net",
};
/* the tmpfs's directories, parents first; fs/cgroup stays empty, as it was */
static const char *const sys_dirs[] = {
	"devices", "devices/system", "devices/system/cpu", "devices/system/node",
	"devices/virtual", "devices/virtual/net", "class", "class/net", "fs", "fs/cgroup",
};

/* Docker masks the CPUs' thermal throttle counters (a side channel on
 * what the neighbours run).  One driver (Intel's) makes them for every
 * CPU, so where cpu0 has none, as on AMD and in most VMs, none has, and
 * the CPUs are not walked. */
static int mask_thermal(int sysfd, struct sb_err *err)
{
	cleanup_close int cpufd = openat(sysfd, "devices/system/cpu", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *e;
	char path[sizeof e->d_name + 32];
	DIR *d;
	int fd, r = 0;

	if (cpufd < 0)
		return errno == ENOENT ? 0 : sb_syserr(err, "open /sys/devices/system/cpu");
	if (faccessat(cpufd, "cpu0/thermal_throttle", F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	fd = fcntl(cpufd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return sb_syserr(err, "read /sys/devices/system/cpu");
	}
	while (r == 0 && (e = readdir(d))) {
		if (strncmp(e->d_name, "cpu", 3) || e->d_name[3] < '0' || e->d_name[3] > '9')
			continue;
		snprintf(path, sizeof path, "%s/thermal_throttle", e->d_name);
		if (faccessat(cpufd, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			r = mask_dir(cpufd, path, err);
	}
	closedir(d);
	return r;
}

/* The exposed subtrees are clones of a fresh sysfs (one of the sandbox's
 * network namespace), and a clone needs a source in our mount namespace:
 * it is mounted over the old root's /sys, which the pivot detaches with the
 * old root (no unmount of its own, no RCU grace period to wait for).  A
 * small read-only tmpfs holds the clones at the new root's /sys. */
static int mount_sys(int rootfd, struct sb_err *err)
{
	static const char *const none[] = { NULL };
	static const char *const tmpfs_o[] = { "mode=0755", "size=4096", "nr_inodes=32", NULL };
	const unsigned ro = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
	int clones[sizeof sys_exposed / sizeof *sys_exposed];
	cleanup_close int sysfs = -1, sysfd = -1;
	size_t i, n = sizeof clones / sizeof *clones;
	int mnt, r = -1;

	for (i = 0; i < n; i++)
		clones[i] = -1;
	sysfs = new_fs("sysfs", none, ro, err);
	if (sysfs < 0)
		return -1;
	if (move_mount(sysfs, "", AT_FDCWD, "/sys", MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return sb_syserr(err, "mount a sysfs on the old root's /sys");
	for (i = 0; i < n; i++) {
		clones[i] = open_tree(sysfs, sys_exposed[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
				      AT_RECURSIVE | AT_SYMLINK_NOFOLLOW);
		if (clones[i] < 0 && errno != ENOENT) {	/* no NUMA: no node/ */
			sb_syserr(err, "clone /sys/%s", sys_exposed[i]);
			goto out;
		}
	}
	mnt = new_fs("tmpfs", tmpfs_o, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, err);
	if (mnt < 0)
		goto out;
	sysfd = fcntl(mnt, F_DUPFD_CLOEXEC, 3);
	for (i = 0; i < sizeof sys_dirs / sizeof *sys_dirs; i++)
		if (mkdirat(mnt, sys_dirs[i], 0755) < 0) {
			sb_syserr(err, "mkdir /sys/%s", sys_dirs[i]);
			close(mnt);
			goto out;
		}
	if (attach(mnt, rootfd, "sys", err) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (clones[i] < 0)
			continue;
		int fd = clones[i];
		clones[i] = -1;
		if (attach(fd, sysfd, sys_exposed[i], err) < 0)
			goto out;
	}
	if (mask_thermal(sysfd, err) < 0)
		goto out;
	if (mount_setattr(sysfd, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) {
		sb_syserr(err, "read-only /sys");
		goto out;
	}
	r = 0;
out:
	for (i = 0; i < n; i++)
		if (clones[i] >= 0)
			close(clones[i]);
	return r;
}

static int mount_misc(int rootfd, struct sb_err *err)
{
	static const char *const tmp_o[] = { "mode=1777", "size=536870912", "nr_inodes=65536", NULL };
	int mnt;

	mnt = new_fs("tmpfs", tmp_o, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, err);
	if (mnt < 0 || attach(mnt, rootfd, "tmp", err) < 0)
		return -1;
	return mount_sys(rootfd, err);
}

/* pivot_root(".", ".") stacks the old root under the new one; detaching
 * "." then drops the old root so nothing of the host stays reachable. */
static int pivot(int rootfd, struct sb_err *err)
{
	if (fchdir(rootfd) < 0)
		return sb_syserr(err, "chdir to new root");
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return sb_syserr(err, "pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		return sb_syserr(err, "detach old root");
	if (chdir("/") < 0)
		return sb_syserr(err, "chdir /");
	return 0;
}

static int loopback_up(struct sb_err *err)
{
	cleanup_close int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr;

	if (s < 0)
		return sb_syserr(err, "socket");
	memset(&ifr, 0, sizeof ifr);
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return sb_syserr(err, "get lo flags");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		return sb_syserr(err, "bring lo up");
	return 0;
}

/* The directories of rel below rootfd, made where missing (owned by the
 * sandbox's root: uid).  0 when one is not a directory (a symlink the
 * sandbox planted): the caller leaves that file alone. */
static int make_parents(int rootfd, const char *rel, uid_t uid, struct sb_err *err)
{
	cleanup_close int parent = -1;
	char name[NAME_MAX + 1];
	const char *slash;

	for (const char *p = rel; (slash = strchr(p, '/')); p = slash + 1) {
		int at = parent >= 0 ? parent : rootfd, fd;
		size_t n = (size_t)(slash - p);

		if (n == 0 || n >= sizeof name)
			return 0;
		memcpy(name, p, n);
		name[n] = '\0';
		/* one name at a time, in the directory opened at the step before */
		fd = open_in_root(at, name, O_PATH | O_DIRECTORY | O_NOFOLLOW);
		if (fd < 0 && errno == ENOENT) {
			if (mkdirat(at, name, 0755) < 0 && errno != EEXIST)
				return sb_syserr(err, "mkdir %s", name);
			fd = open_in_root(at, name, O_PATH | O_DIRECTORY | O_NOFOLLOW);
			if (fd >= 0 && fchownat(fd, "", uid, uid, AT_EMPTY_PATH) < 0) {
				close(fd);
				return sb_syserr(err, "chown %s", name);
			}
		}
		if (fd < 0)
			return 0;
		if (parent >= 0)
			close(parent);
		parent = fd;
	}
	return 1;
}

/* A file the service owns, read-only over rel (/etc/resolv.conf as Docker
 * does, the CA bundle), so the sandbox's own file stays as it was below.
 * Made empty when missing (and its directories); a sandbox that made it,
 * or a directory on its way, something else (a symlink) keeps its own
 * choice: its start must not fail for it. */
static int bind_file(int rootfd, const char *src, const char *rel, uid_t uid, struct sb_err *err)
{
	struct open_how how = {
		.flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, .mode = 0644,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	cleanup_close int t = -1;
	struct stat st;
	int fd, r = make_parents(rootfd, rel, uid, err);

	if (r <= 0)
		return r;
	t = open_in_root(rootfd, rel, O_PATH | O_NOFOLLOW);
	if (t < 0 && errno == ENOENT)
		t = (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof how);
	if (t < 0 || fstat(t, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	fd = host_bind(src, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, err);
	if (fd < 0)
		return -1;
	return attach(fd, rootfd, rel, err);
}

int rootfs_setup(const struct rootfs_spec *s, struct sb_err *err)
{
	cleanup_close int rootfd = -1;

	/* nothing we mount may propagate back to the host, nor the host's to us */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return sb_syserr(err, "make / private");
	rootfd = mount_overlay(s, err);
	if (rootfd < 0)
		return -1;
	if ((s->host_dirs && bind_host_dirs(rootfd, err) < 0) ||
	    mount_proc(rootfd, err) < 0 ||
	    mount_dev(rootfd, err) < 0 || mount_misc(rootfd, err) < 0 ||
	    (s->resolv && bind_file(rootfd, s->resolv, "etc/resolv.conf", s->uid_base, err) < 0) ||
	    (s->ca_bundle && bind_file(rootfd, s->ca_bundle, "etc/ssl/certs/ca-certificates.crt",
				       s->uid_base, err) < 0))
		return -1;
	if (pivot(rootfd, err) < 0)
		return -1;
	if (sethostname(s->hostname, strlen(s->hostname)) < 0)
		return sb_syserr(err, "sethostname");
	return loopback_up(err);
}
