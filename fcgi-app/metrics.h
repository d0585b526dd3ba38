/* Counters every worker adds to and GET /metrics reads: one shared
 * anonymous mapping made by the master before it forks the pool, so they
 * outlive worker respawns and reloads.  Updates are relaxed atomics. */
#ifndef SBD_METRICS_H
#define SBD_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* The master, once, before any worker: -1 (errno) when the mapping fails. */
int metrics_init(void);
/* A worker, at its start: its own children do not inherit the mapping. */
void metrics_worker_init(void);
/* One answered request: its route (router_index, -1 for none), method,
 * status and duration. */
void metrics_request(int route, const char *method, int status, int64_t usec);
/* Worker `serial` starts or ends a request; the master clears a dead
 * worker's mark and says how many workers live. */
void metrics_worker_busy(unsigned serial, bool busy);
void metrics_workers(int live);
/* Worker `serial` is about to write `bytes` into a sandbox's disk (0: done;
 * its end of request clears it too): the bytes the other workers are
 * writing, which the host's free space does not show yet. */
int64_t metrics_writing(unsigned serial, int64_t bytes);
int metrics_workers_live(void);
int metrics_busy_count(void);
void metrics_exec(bool timed_out, bool oom_killed);
/* A preview token check: 0 allowed, 1 refused, 2 failed (ours). */
void metrics_preview(int result);
/* A sandbox's file system was found with errors at a start (and repaired). */
void metrics_disk_error(void);
/* Prometheus text format of the counters; the caller adds the gauges. */
void metrics_write(FILE *f);

#endif
