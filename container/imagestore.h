/* The image registry: every image but the built-in `host` one lives in an
 * images directory shared by sandboxd and sandboxd-image:
 *
 *   <images>/.registry/        LMDB: name -> JSON record (below)
 *   <images>/<name>/<version>/rootfs   the read-only overlay lower dir
 *
 * A build or import makes a new version directory and then points the name
 * at it in one write transaction; a sandbox records the version it was made
 * on, so a rebuild never changes the files under a running sandbox.
 * Record: {"name", "version", "source", "recipe", "createdAt" (ms),
 * "sizeBytes", "files", "packages": {name: version}}.
 *
 * An image's files keep the owners and modes of their tarball or packages,
 * setuid-root programs and 1777 directories included: the store is root's
 * only (0700 from <images> down to each <version>), else any local user
 * would have a root shell and places to write in it.  The stored copy is
 * also inert: no setuid/setgid bit, no file capability (sandboxes mount
 * images nosuid, where they would do nothing anyway). */
#ifndef SB_IMAGESTORE_H
#define SB_IMAGESTORE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "util.h"

#define IMAGE_NAME_MAX 63
#define IMAGE_BUILTIN "host"

/* [a-z0-9][a-z0-9._-]{0,62}: a directory name of its own, never a path */
bool image_name_ok(const char *name);

struct imgstore;

/* Open the registry of images dir `dir`; with create, make it if missing.
 * Without create, a missing registry opens as empty (*out NULL, 0). */
int imgstore_open(const char *dir, bool create, struct imgstore **out, struct sb_err *err);
void imgstore_close(struct imgstore *st);

/* 1 and the record (caller puts it), 0 when unknown, -1 on error */
int imgstore_get(struct imgstore *st, const char *name, struct json_object **rec,
		 struct sb_err *err);
int imgstore_put(struct imgstore *st, const char *name, struct json_object *rec,
		 struct sb_err *err);
/* every record, in name order, as a new array */
int imgstore_list(struct imgstore *st, struct json_object **arr, struct sb_err *err);

/* Make the store at dir root's only, as older versions did not: dir, its
 * registry and each <name> dir 0700 (not the built-in host image, a root
 * file system of its own in DATA/images), and each <version> dir that is
 * not 0700 yet made inert (below), then 0700.  A missing dir is fine.
 * Run as root whenever a store is opened for use: sandboxd at start,
 * sandboxd-image at every command. */
int imgstore_secure(const char *dir, struct sb_err *err);

/* Clear the setuid and setgid bits and the file capabilities of every
 * regular file in the tree at rootfs (not crossing mounts, not following
 * links); *cleared (if given) counts the files changed. */
int image_make_inert(const char *rootfs, long *cleared, struct sb_err *err);

/* <dir>/<name>/<version>/rootfs of a record, into buf */
int image_rootfs_path(const char *dir, const char *name, const char *version, char *buf,
		      size_t len);

#endif
