/* How many sandboxes run at once, and stopping the idle ones.  A stopped
 * sandbox keeps its files; its next request starts it again. */
#ifndef SBD_CAPACITY_H
#define SBD_CAPACITY_H

#include <stdint.h>

#include "app.h"

/* Before starting sandbox `id`: when --max-running are running, stop the
 * least recently active idle one; none idle is an error with status 503. */
int capacity_make_room(struct app *app, const char *id, struct sb_err *err);
/* Stop every running sandbox idle (nothing but its init) for idle_ms. */
int capacity_stop_idle(struct app *app, int64_t idle_ms);
/* Stop one sandbox: kill its init and everything in it (files stay). */
int capacity_stop(struct app *app, const char *id, struct sb_err *err);

#endif
