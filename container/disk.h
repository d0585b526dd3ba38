/* A sandbox's disk quota: its writable layer lives in an ext4 file system
 * inside a sparse image file of its own (DATA/sandboxes/ID/disk.img), on a
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
 * owner) if it is not there; runs mke2fs once. */
int disk_image_ensure(int sbdirfd, long long bytes, uid_t owner, struct sb_err *err);

/* In the init: attach the image to a free loop device and mount it on
 * mountpoint (inside the current mount namespace); returns 0 or -1. */
int disk_mount(const char *image, const char *mountpoint, struct sb_err *err);

#endif
