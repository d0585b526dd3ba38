/* Images as the service sees them: the built-in `host` image and those in
 * the registry that sandboxd-image keeps (imagestore.h). */
#ifndef SBD_IMAGES_H
#define SBD_IMAGES_H

#include <stddef.h>

#include "conf.h"
#include "util.h"

/* The version a new sandbox on image `name` gets ("" for host): 400 when
 * the name is unknown, 503 when its files are gone. */
int images_resolve(const struct conf *c, const char *name, char *version, size_t len,
		   struct sb_err *err);
/* The overlay lower dir of a sandbox's image and version. */
int images_rootfs(const struct conf *c, const char *name, const char *version, char *buf,
		  size_t len, struct sb_err *err);

#endif
