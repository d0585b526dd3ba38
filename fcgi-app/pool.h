/* The master and its workers: a pool that sizes itself as php-fpm's
 * pm = dynamic does, and long-lived requests (streams) that leave it. */
#ifndef SBD_POOL_H
#define SBD_POOL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct conf;
struct http_req;

/* Bind, fork the workers, supervise until SIGTERM/SIGINT; returns the exit code. */
int master_run(struct conf *conf);
/* A worker's life: open LMDB and cgroups, serve requests until told to
 * stop (or until it served a stream); its execs run in cgroups named
 * "e<serial>", its state is pool slot `slot`. */
__attribute__((noreturn)) void worker_run(const struct conf *conf, int listen_fd, unsigned serial,
					  int slot);

/* Each worker's state, in the mapping the master makes before it forks
 * any worker (the metrics' one), indexed by the worker's slot (its place in the master's table):
 * the master counts the idle workers and the streams from it, a worker the
 * streams when it admits one.  No counter: a dead worker's slot is freed by
 * the master, so nothing drifts when a worker dies mid-request. */
enum pool_state {
	POOL_FREE,	/* no worker */
	POOL_STARTING,	/* forked, not accepting yet: counted as a spare */
	POOL_IDLE,	/* in accept() */
	POOL_BUSY,	/* on a short request */
	POOL_STREAM,	/* on a long-lived request: out of the pool */
};
#define POOL_SLOTS 4096	/* > max-workers + max-streams + workers retiring at a reload */

/* The master, once, after metrics_init() and before any worker: -1 when
 * there is no shared mapping. */
int pool_init(void);
/* The settings /metrics shows (the master, at its start and each reload). */
void pool_settings(const struct conf *c);
void pool_set(int slot, enum pool_state s);
enum pool_state pool_get(int slot);
/* The master, at each reload, before it tells the old workers (SIGTERM):
 * the reloads count one more (never 0); returned. */
uint32_t pool_reload_begin(void);
/* The reloads so far (0: none). */
uint32_t pool_reloads(void);
/* A stream's worker of an old generation, told of a reload (SIGTERM),
 * found its request's token still valid in the tokens file as it read it
 * after pool_reloads() returned `reload`: that reload need not wait for it
 * (the master's "reload: done").  pool_kept() is true only while no later
 * reload came: a later one may have revoked the token, and the stream
 * checks again (worker.c stream_revoked()).  Cleared when the slot is
 * freed or forked again. */
void pool_keep(int slot, uint32_t reload);
bool pool_kept(int slot);
/* Workers in state s, over every slot. */
int pool_count(enum pool_state s);
/* Every slot from this one up has always been free (POOL_SLOTS without
 * the shared mapping): what the per-request scans need look at. */
int pool_slots_used(void);
/* A worker about to serve a long-lived request: 0 when it may (its slot is
 * then POOL_STREAM), -1 when max-streams are open already (it stays busy;
 * counted as refused). */
int pool_stream_admit(int slot, int max_streams);
/* The master, reaping a worker of the pool that was in state was: counted
 * by why it ended (a stream's end, retired, died). */
void pool_ended(enum pool_state was, bool died);
/* Whether req, routed and with its body read, is long-lived: a streamed
 * exec, a log follow, a clone. */
bool pool_long_request(const struct http_req *req);
/* The pool's gauges and counters, Prometheus text. */
void pool_metrics_write(FILE *f);

#endif
