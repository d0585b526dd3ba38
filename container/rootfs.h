/* The sandbox's root filesystem: the `host` image on disk, and the mount
 * setup its init performs (as host root, in its fresh mount namespace,
 * before it enters its user namespace). */
#ifndef SB_ROOTFS_H
#define SB_ROOTFS_H

#include <stdbool.h>

#include "util.h"

struct rootfs_spec {
	const char *image_dir;	/* overlay lower dir */
	const char *sandbox_dir;/* holds upper/, work/, root/ */
	const char *hostname;
	uid_t uid_base;		/* host uid of the sandbox's root */
	int usernsfd;		/* its user namespace: the image is idmapped through it */
	bool disk;		/* upper/work live in sandbox_dir/disk.img (disk quota) */
	bool host_dirs;		/* the `host` image: bind the host's /usr and friends */
	const char *resolv;	/* a host file bound read-only at /etc/resolv.conf; NULL: none */
	const char *ca_bundle;	/* one bound read-only at /etc/ssl/certs/ca-certificates.crt */
};

/* The ptys one sandbox may hold (its devpts' max=): each is a terminal, a
 * tmux or screen pane, an `expect` or a Jupyter terminal; 256 is more than
 * any interactive use and small enough that every sandbox of a host gets
 * all of its own (fcgi-app/hostlimits.c sizes kernel.pty.max for them). */
#define SB_PTY_MAX 256
#define SB_STR_(x) #x
#define SB_STR(x) SB_STR_(x)

/* Build the `host` image skeleton at dir if it is not there yet: a minimal
 * /etc, the top-level directories, and the host's merged-/usr symlinks. */
int image_host_ensure(const char *dir, struct sb_err *err);

/* Copy src over dst (a new file, mode 0644, renamed over the old), unless
 * !always and dst is a regular file of src's size and an mtime not older.
 * 1 (errno set) when src cannot be opened or is not a regular file. */
int sb_file_sync(const char *src, const char *dst, bool always, struct sb_err *err);

/* Mount everything and pivot into the new root; the old root is detached.
 * Runs in the init before it drops into the user namespace. */
int rootfs_setup(const struct rootfs_spec *spec, struct sb_err *err);

#endif
