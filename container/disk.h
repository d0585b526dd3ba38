/* A sandbox's disk quota: its writable layer lives in an ext4 file system
 * inside a sparse (or, --disk-prealloc, preallocated) image file of its own (DATA/sandboxes/ID/disk.img), on a
 * loop device mounted only in the sandbox's mount namespace.  Writes past
 * the size fail with ENOSPC (blocks or inodes) inside that sandbox and
 * nowhere else.  Chosen over project quotas because it needs nothing of the
 * host's file system (no prjquota mount option, any fs type), and over a
 * tmpfs because the files persist; the loop device goes away by itself
 * (autoclear) when the sandbox's mount namespace does. */
#ifndef SB_DISK_H
#define SB_DISK_H

#include "util.h"

/* Create DIR/disk.img (sparse, `bytes` long, ext4 whose root belongs to
 * owner) if it is not there: a spare of that size from sparesfd (-1: none)
 * when there is one, else mke2fs now. */
int disk_image_ensure(int sbdirfd, long long bytes, uid_t owner, int sparesfd, bool prealloc,
		      struct sb_err *err);

/* Spares: images made ahead of time (DATA/spares), so that a create need
 * not wait for mke2fs (about 10 ms).  How many of a size there are; make
 * one more; remove half-made ones (at start, when no maker runs). */
int disk_spare_count(int sparesfd, long long bytes);
/* Host bytes a new disk image of `bytes` takes at once: all of it when
 * preallocated, else what mke2fs writes (superblocks, group descriptors,
 * bitmaps, the journal's first blocks: ~2.2 MiB for 4 GiB, ~4.7 MiB for
 * 64 GiB measured), rounded up. */
long long disk_image_host_bytes(long long bytes, bool prealloc);
int disk_spare_make(int sparesfd, long long bytes, bool prealloc, struct sb_err *err);
/* At the master's start: remove half-made spares (.new) and the .held-*.img
 * an earlier build's waiting launchers held. */
void disk_spare_sweep(int sparesfd);

/* The health of DIR/disk.img's ext4, from its superblock: 1 clean, 0 the
 * kernel recorded errors (a write the host had no room for, say: it then
 * turned the file system read-only), -1 no image or not ext4. */
int disk_image_health(int sbdirfd);
/* e2fsck -p the image (not mounted: the sandbox is stopped), -y when -p
 * leaves something; 0 when the file system is fine after. */
int disk_image_repair(int sbdirfd, struct sb_err *err);

/* Copy the image file src (of srcdir) to a new file dst (of dstdir, made
 * with mode; EEXIST when there) as a snapshot or a restore does:
 * copy-on-write (FICLONE) where the host file system shares blocks
 * (XFS, btrfs), else sparse: only the data extents (SEEK_DATA/SEEK_HOLE,
 * copy_file_range), so holes stay holes.  Synced before it returns;
 * *stored = the host bytes of the copy; *reflinked says which way.  A
 * failed copy leaves no dst. */
int disk_image_copy(int srcdir, const char *src, int dstdir, const char *dst, mode_t mode,
		    long long *stored, bool *reflinked, struct sb_err *err);

/* Give the files of the image `image` (of the sandbox directory sbdirfd,
 * whose empty disk/ it is mounted on, in a child's mount namespace of its
 * own) owned by the 65536 ids from `from` to those from `to`, keeping
 * setuid/setgid bits (a chown drops them; file capabilities it drops too,
 * and ACLs naming ids are not rewritten): a fork's copy made its own.
 * Symlinks are never followed. */
int disk_image_shift_ids(int sbdirfd, const char *image, uid_t from, uid_t to, struct sb_err *err);

/* In the init: attach the image to a free loop device and mount it on
 * mountpoint (inside the current mount namespace); returns 0 or -1. */
int disk_mount(const char *image, const char *mountpoint, struct sb_err *err);

#endif
