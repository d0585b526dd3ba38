/* Destroy: a sandbox removed for good, its uid slot (and /31) returned.
 *
 * In three steps, each safe to repeat, so that a destroy killed anywhere
 * is finished later (by a create of the same id, and by the master's sweep
 * at every start):
 *  1. mark (one LMDB transaction): the record and its process records go,
 *     the slot is marked dying with the id.  The sandbox is gone for the API.
 *  2. move (under the create lock): its processes killed, its cgroups and
 *     history removed, its directory renamed to DATA/sandboxes/.gone-<slot>:
 *     the name, its cgroups and history are free for a new sandbox.
 *  3. remove (no lock): that directory removed; only then the slot is
 *     returned (store_destroy_done), under the create lock and only while
 *     nothing was moved to its .gone-<slot> since (a destroy of a new
 *     sandbox of the id moves it there while the slot is dying).  A slot
 *     whose files or cgroups could not be removed stays dying, never
 *     reused; the next sweep retries. */
#ifndef SBD_DESTROY_H
#define SBD_DESTROY_H

#include "app.h"

/* Destroy sandbox id, whether it exists or not (then: finish what a killed
 * destroy of it left).  0 done, -1 err (the slot stays dying). */
int destroy_sandbox(struct app *app, const char *id, struct sb_err *err);
/* Under the create lock, before a new sandbox `id` is made: step 2 of every
 * dying slot of that id, so the new one never finds the old one's
 * directory, cgroups or history. */
int destroy_move_pending(struct app *app, const char *id, struct sb_err *err);
/* Steps 2 and 3 of every dying slot (the master's sweep): how many stay
 * dying (a step failed: the next sweep tries again), -1 if they could
 * not be listed. */
int destroy_finish_pending(struct app *app);

/* Destroy every sandbox past its ttl/expiresAt, or idle (nothing but its
 * init runs, or stopped) for --destroy-after-idle: the master's sweep.  How
 * many; each logged (sandbox.expired) and counted in /metrics.  Unfinished
 * forks too (destroy_unfinished_fork; not counted as expired).  The expiry
 * hint (expiry.h) becomes the earliest ttl its read saw still to come (its
 * own time when it left expired ones for another sweep). */
int destroy_expired(struct app *app);
/* A fork's record still marked `forking` (its worker died before the copy
 * became its disk): destroyed, when it is still that record (created_ms)
 * and still marked under the create lock, which a fork under way holds.
 * 1 destroyed, 0 not (finished by now, or gone), -1 err.  destroy_expired
 * does it to every such record; a fork to the id does it first. */
int destroy_unfinished_fork(struct app *app, const char *id, int64_t created_ms, struct sb_err *err);

#endif
