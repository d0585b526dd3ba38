/* Warm sandboxes: --warm-sandboxes started ahead under names no request can
 * give (".w" and 8 hex digits), each with its uid range, disk, cgroups and
 * running init.  A create that asks for nothing but the defaults claims one:
 * its directory, record and cgroups are renamed to the projectId and its
 * hostname set; the master's filler makes another in the background. */
#ifndef SBD_WARM_H
#define SBD_WARM_H

#include <stdbool.h>

#include "app.h"

#define WARM_PREFIX ".w"

/* A name of a warm sandbox (never a valid projectId). */
bool warm_name(const char *id);
/* Create id from a warm sandbox if want asks nothing else: 1 claimed (sb
 * filled, its init running), 0 none to claim (create it cold), -1 error. */
int warm_claim(struct app *app, const char *id, const struct sb_want *want, struct sandbox_ref *sb,
	       struct sb_err *err);
/* The filler (a child of the master): start the warm sandboxes that are
 * not running, make new ones until there are --warm-sandboxes. */
int warm_fill(struct app *app, struct sb_err *err);

#endif
