/* Concurrency shares per tenant: how many requests, and of them streams,
 * the tokens of one scope have in flight at once across the pool.
 *
 * Each worker owns one slot of a shared file (DATA/run/quota), by its
 * serial, and says there what it serves now: the tenant and whether it
 * streams.  Counting a tenant's is reading the slots (under a lock, so two
 * workers do not both take the last place); a slot of a worker that died
 * mid-request (its pid gone) counts no more.  The operator's tokens
 * (scope *) and requests without tokens are not counted. */
#ifndef SBD_QUOTA_H
#define SBD_QUOTA_H

struct sb_err;

/* Map the slots (each process that serves requests, once); -1 with the
 * error when it cannot: then nothing is counted. */
int quota_open(const char *data_dir, struct sb_err *err);
void quota_close(void);
/* Worker `serial` takes a request of scope: -1 with a 429 (SB_E_LIMIT)
 * when the scope has max in flight already (max 0: no cap). */
int quota_enter(unsigned serial, const char *scope, int max, struct sb_err *err);
/* ... that request becomes a stream: -1 with a 429 past max streams. */
int quota_stream(unsigned serial, const char *scope, int max, struct sb_err *err);
/* The request is answered: the slot is free. */
void quota_leave(unsigned serial);

#endif
