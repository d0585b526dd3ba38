/* When the master's sweep should next run for a ttl: DATA/run/expiry-hint
 * holds the earliest expiry (wall-clock ms) still to sweep for, so an
 * expired sandbox goes within a second of its time, not at the next
 * periodic sweep (every 30 s).  A hint only brings a sweep sooner: one
 * lost (a write that failed) leaves the periodic sweep. */
#ifndef SBD_EXPIRY_H
#define SBD_EXPIRY_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"

/* A sandbox's expiry was set to `at` (its record written first): the hint
 * becomes the earlier of the two. */
void expiry_hint(const struct conf *c, int64_t at);
/* The sweep, around its read of the records: begin takes the hint's lock,
 * end writes what
 * the read saw coming (`next`, 0: nothing) and lets go.  Every expiry set
 * after the read waits for the lock and is written after it.  begin's -1:
 * the file could not be opened or locked (logged); the sweep goes on and
 * writes nothing. */
int expiry_sweep_begin(const struct conf *c);
void expiry_sweep_end(int lock, int64_t next);
/* The master, each tick, when no sweep runs: whether the hint is due
 * (*last: the monotonic time of the last sweep this brought, at least a
 * second ago). */
bool expiry_due(const struct conf *c, int64_t *last);

#endif
