/* Concurrency shares: how many requests, and of them streams, the tokens
 * of one scope (a tenant) and one sandbox have in flight at once across
 * the pool.
 *
 * Each worker owns one slot of a shared file (DATA/run/quota), by its
 * pool slot (+ 1), and says there what it serves now: the tenant, the sandbox and
 * whether it streams.  Counting is reading the slots (under a lock, so two
 * workers do not both take the last place); a slot of a worker that died
 * mid-request (its pid gone) counts no more.  The operator's tokens (scope
 * *) and requests without tokens have no tenant cap; a request names a
 * sandbox when its path does. */
#ifndef SBD_QUOTA_H
#define SBD_QUOTA_H

struct conf;
struct sb_err;

/* Map the slots (each process that serves requests, once); -1 with the
 * error when it cannot: then nothing is counted. */
int quota_open(const char *data_dir, struct sb_err *err);
void quota_close(void);
/* The worker of `qslot` (its pool slot + 1) takes a request of scope ("": none) on sandbox (NULL:
 * none): -1 with a 429 (SB_E_LIMIT) when either has its max in flight
 * already (conf's max-requests-per-token and -per-sandbox; 0: no cap). */
int quota_enter(unsigned qslot, const struct conf *c, const char *scope, const char *sandbox,
		struct sb_err *err);
/* ... that request becomes a stream: -1 with a 429 past max streams. */
int quota_stream(unsigned qslot, const struct conf *c, struct sb_err *err);
/* The request is answered: the slot is free. */
void quota_leave(unsigned qslot);

#endif
