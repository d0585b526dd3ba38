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
 * "sizeBytes", "files", "packages": {name: version}}. */
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

/* <dir>/<name>/<version>/rootfs of a record, into buf */
int image_rootfs_path(const char *dir, const char *name, const char *version, char *buf,
		      size_t len);

#endif
