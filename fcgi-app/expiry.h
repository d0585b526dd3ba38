/* When the master's sweep should next run for a ttl: DATA/run/expiry-hint
 * holds the earliest expiry (wall-clock ms) that someone set or the last
 * sweep left, so an expired sandbox goes within a tick of its time, not at
 * the next periodic sweep (every 30 s).  A hint only makes a sweep come
 * sooner: a lost one (a write that failed) leaves the periodic sweep. */
#ifndef SBD_EXPIRY_H
#define SBD_EXPIRY_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"

/* A sandbox expires at `at`: the hint becomes `at` unless an earlier one
 * is still to come. */
void expiry_hint(const struct conf *c, int64_t at);
/* The sweep that started at `swept` is done; `next` is the earliest expiry
 * after it (0: none): the hint of what the sweep saw, unless an earlier one
 * set meanwhile is still to come. */
void expiry_hint_swept(const struct conf *c, int64_t swept, int64_t next);
/* The master, each tick: whether a hint is due that has not been swept
 * for yet (*seen: the last one it swept for). */
bool expiry_due(const struct conf *c, int64_t *seen);

#endif
