/* What sandboxd-image does: build an image from a recipe (debootstrap plus
 * Debian packages), import one from a root filesystem tarball, and list
 * the registry.  Each publishes a new version directory and registers it
 * (imagestore.h); a half-built image is never visible. */
#ifndef SB_IMAGETOOL_H
#define SB_IMAGETOOL_H

#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>

#include "util.h"

struct imagetool {
	const char *images_dir;	/* registry and image versions */
	const char *cache_dir;	/* downloaded packages, kept between builds */
	const char *mirror;	/* Debian mirror */
	const char *security;	/* Debian security mirror */
	bool refresh;		/* build even when the recipe has not changed */
	bool quiet;		/* no output of the tools, only the steps */
};

/* The recipes this builder knows, by image name. */
const char *const *imagetool_recipes(void);
int imagetool_build(const struct imagetool *t, const char *name, struct sb_err *err);
int imagetool_import(const struct imagetool *t, const char *name, const char *tarball,
		     struct sb_err *err);
int imagetool_list(const struct imagetool *t, struct sb_err *err);

/* Shared by build and import (imagetool.c). */
struct stage {
	char dir[PATH_MAX - 64];	/* <images>/<name>/.stage-<pid> */
	char rootfs[PATH_MAX];	/* dir/rootfs */
	char log[PATH_MAX];	/* dir/build.log */
	int logfd;
	int64_t t0;
};
int stage_begin(const struct imagetool *t, const char *name, struct stage *s,
		struct sb_err *err);
/* Run argv (PATH search) with a clean environment; its output goes to the
 * build log and, unless quiet, to our stderr.  With out, its stdout is
 * captured there instead.  0 when it exits 0. */
int stage_run(const struct imagetool *t, struct stage *s, const char *const *argv,
	      struct sb_strbuf *out, struct sb_err *err);
/* Make sure the directories the runtime mounts on exist in the rootfs. */
int stage_mountpoints(struct stage *s, struct sb_err *err);
/* Rename the stage to its version directory and register the record
 * (sizes are filled in here); prints the summary. */
int stage_publish(const struct imagetool *t, const char *name, struct stage *s,
		  struct json_object *rec, struct sb_err *err);
void stage_abort(struct stage *s);	/* says so, then drops */
void stage_drop(struct stage *s);	/* remove the stage */
void step(struct stage *s, int n, int of, const char *what);

#endif
