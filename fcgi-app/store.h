/* Project metadata in LMDB, shared by every worker (each opens the
 * environment after fork).  One record per sandbox, keyed by projectId. */
#ifndef SBD_STORE_H
#define SBD_STORE_H

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "settings.h"
#include "util.h"

/* The two shared stores, each an LMDB map of its own size. */
enum store_which { STORE_MAIN, STORE_HISTORY, STORE_N };

/* Their sizes, from the config, and how many tenants share them. */
struct store_sizes {
	size_t map_bytes[STORE_N];
	int tenants;		/* distinct token scopes (not "*"); 0 or 1: one */
};

struct store {
	MDB_env *env;
	MDB_dbi sandboxes, meta, procs;
	MDB_dbi slots;			/* uid base -> its record's id and activity */
	MDB_dbi ports;			/* exposed ports: preview.c */
	MDB_dbi network;		/* id -> its network policy (netpolicy.h) */
	MDB_env *henv;			/* the audit history (NULL: unavailable) */
	/* The inits' runtime state, never synced (DATA/db/run/<boot id>):
	 * uid base -> the init that runs there.  NULL: unavailable (a full
	 * disk): opened again when a start needs it */
	MDB_env *renv;
	MDB_dbi inits;
	char rdir[4096];
	MDB_dbi history;
	/* what each sandbox keeps in each store, "~total" and "~refused" */
	MDB_dbi usage[STORE_N];
	long long budget[STORE_N];	/* bytes all may keep: half the map */
	long long share[STORE_N];	/* bytes one tenant may keep */
};

struct sb_record {
	char image[64];
	char image_version[64];			/* "" for the built-in host image */
	uid_t uid_base;
	int64_t created_ms, active_ms;
	pid_t init_pid;
	unsigned long long init_start;
	struct sb_limits lim;			/* 0: the server's default (those
						 * fixed at creation: recorded then) */
	uint32_t net_slot;			/* 1 + its /31 in --net-pool, for life; 0: from uid_base */
	int64_t expires_ms;			/* destroyed by the service from then; 0: never */
	bool forking;				/* a fork's record before its copy is its
						 * disk (snapshot_fork_finish): one
						 * whose fork died is never started */
};

/* A record's stored form (JSON, as store_create and the updates write it),
 * and back: json-c's parse (0, -1 not a record), and the fast one that
 * reads the form the store writes without it (1 decoded, as json-c's
 * would; 0 declined: not of that form).  For t/unit-store's equivalence. */
char *store_encode_json(const struct sb_record *r);
int store_decode_json(const char *p, size_t n, struct sb_record *r);
int store_decode_fast(const char *p, size_t n, struct sb_record *r);

int store_open(struct store *s, const char *dir, const struct store_sizes *sz, struct sb_err *err);

/* The init's pid, start time and the start's activity are runtime state:
 * kept apart from the record, in an environment never synced, keyed by the
 * record's uid base (which a warm claim keeps: the claim writes nothing
 * there), and made anew at every boot (one of another boot is removed
 * whole, never read: nothing in it is true any more, and a crash may have
 * torn it).  Every read of a record (store_get, the scans, a claim's, a
 * destroy's) fills init_pid and init_start from it (0: none) and takes the
 * later of the two activities; a record write never stores them.
 *
 * store_init_set records r's new init (r->init_pid, r->init_start, and
 * `active`), once it is ready, for the record of id found as *r: 0; -1
 * (nothing left recorded) when that record's uid base has no owner any
 * more (dropped, destroyed meanwhile: 404).  A record without its slots
 * entry (an older build's, written beside this one) gets it then. */
int store_init_set(struct store *s, const char *id, const struct sb_record *r, int64_t active,
		   struct sb_err *err);
/* Whether a start of id could record its init now (the runtime store
 * open): 0, or the error store_init_set would answer (503, 507), asked
 * before the capacity scan stops another sandbox for a start that would
 * fail. */
int store_init_ready(struct store *s, const char *id, struct sb_err *err);
void store_close(struct store *s);
/* 1 found, 0 missing, -1 error */
int store_get(struct store *s, const char *id, struct sb_record *r, struct sb_err *err);
/* Create-or-get in one write transaction (LMDB serialises writers across
 * processes): at most one record, and one uid range, per id.  A new record
 * takes the next free range of `slots` ranges of 65536 from `base`, and the
 * limits and image version the caller put in *r; an existing one is
 * returned in *r. */
int store_create(struct store *s, const char *id, const char *image, uid_t base, uint32_t slots,
		 struct sb_record *r, bool *created, struct sb_err *err);
/* Call fn for every record (in one read transaction; fn must not write). */
int store_foreach(struct store *s, void (*fn)(const char *id, const struct sb_record *r, void *arg),
		  void *arg, struct sb_err *err);

/* This process removed another boot's runtime state (a store_open, the
 * first of this boot): an init that runs now (the boot id changed with
 * the host up) is recorded nowhere this boot reads. */
bool store_runtime_swept(void);

/* fn for every sandbox whose record names an init (it may run; whether it
 * does is the caller's to check): O(those), not O(sandboxes). */
int store_foreach_started(struct store *s,
			  void (*fn)(const char *id, pid_t pid, unsigned long long start, int64_t active_ms,
				     void *arg),
			  void *arg, struct sb_err *err);
/* Drop ids found dead from that index, each unless its entry names another
 * init than pids[i] by now (started again meanwhile). */
int store_forget_started(struct store *s, const char *const *ids, const pid_t *pids, size_t n,
			 struct sb_err *err);

/* fn for every record whose id starts with prefix (one range of keys). */
int store_foreach_prefix(struct store *s, const char *prefix,
			 void (*fn)(const char *id, const struct sb_record *r, void *arg), void *arg,
			 struct sb_err *err);
/* Record `from` becomes record `to` (created and active now), in one write
 * transaction: 1 done (*r is the record), 0 when `to` exists or `from` does
 * not (by now), -1 on error. */
int store_claim(struct store *s, const char *from, const char *to, struct sb_record *r, struct sb_err *err);

/* Remove a record (only a warm sandbox's: a sandbox's are kept for life). */
int store_drop(struct store *s, const char *id, struct sb_err *err);

/* Destroy, step 1, in one write transaction: record id (*r) goes, with its
 * process records, and its slot (*slot, counted from base) is marked
 * "dying" (with the id) until store_destroy_done().  1 done, 0 no such
 * record, -1 error; with `still`, STORE_KEPT (nothing done) when still(record,
 * arg) says, in the transaction, that it is not the one to destroy. */
#define STORE_KEPT 2
int store_destroy_mark(struct store *s, const char *id, uid_t base,
		       bool (*still)(const struct sb_record *r, const void *arg), const void *arg,
		       struct sb_record *r, uint32_t *slot, struct sb_err *err);
/* Destroy, last step: nothing of the slot's owner is left; the slot is
 * returned for store_create() to reuse (once, whatever the calls), its
 * init's runtime entry gone first (a new owner never sees it). */
int store_destroy_done(struct store *s, uid_t base, uint32_t slot, struct sb_err *err);
/* fn for every slot marked dying (fn must not write). */
int store_dying_foreach(struct store *s, void (*fn)(uint32_t slot, const char *id, void *arg),
			void *arg, struct sb_err *err);

/* Fair shares of the stores.  Every entry of a process record or of the
 * history is charged to its sandbox (key and value and 16 bytes; whole
 * pages for a value that takes overflow pages); a store's budget is half
 * its map (the rest: the tree's own pages, and the copies readers keep),
 * and a tenant's share the budget over the tenants.  A write that adds
 * bytes is refused (SB_E_NO_SPACE, 507) when its tenant would keep more
 * than its share, or the store more than its budget: the tenant that fills
 * a store gets the error, the others do not.
 *
 * scope names the tenant: a token's scope (the prefix of its sandboxes),
 * "" for a token of every sandbox (or no tokens: the budget alone), NULL
 * for the service's own update of a record it keeps (never refused). */
#define STORE_ENTRY_MAX 4000	/* the largest entry we write: one overflow page */
/* Would `need` more bytes of scope's be admitted in store w?  0, or -1
 * with the 507 (a read: the write itself checks again). */
int store_admit(struct store *s, enum store_which w, const char *scope, long long need,
		struct sb_err *err);
/* A store's use for /metrics: bytes charged, budget, refusals so far. */
void store_use(struct store *s, enum store_which w, long long *used, long long *budget,
	       long long *refused);

/* Background process records (JSON text), keyed "<projectId>/<processId>";
 * scope as above.  With owner, written only while the sandbox's record is
 * that one (same uid base and createdAt): else SB_E_NOT_FOUND. */
int store_proc_put(struct store *s, const char *key, const char *json, const char *scope,
		   const struct sb_record *owner, struct sb_err *err);
/* 1 found (*json is malloc'd), 0 missing, -1 error */
int store_proc_get(struct store *s, const char *key, char **json, struct sb_err *err);
int store_proc_del(struct store *s, const char *key, struct sb_err *err);
/* fn for every record whose key starts with prefix */
int store_proc_foreach(struct store *s, const char *prefix,
		       void (*fn)(const char *key, const char *json, void *arg), void *arg,
		       struct sb_err *err);

/* Read-modify-write of one record in a single write transaction. */
int store_update(struct store *s, const char *id, void (*fn)(struct sb_record *, const void *),
		 const void *arg, struct sb_err *err);

/* A sandbox's network policy: 1 found, 0 none (it follows the server's
 * default), -1 error. */
struct netpol;
int store_net_get(struct store *s, const char *id, struct netpol *p, struct sb_err *err);
/* Write it, and in the same write transaction (LMDB serialises writers
 * across workers) call apply(arg): a policy is in force exactly when it
 * is stored, and two changes of one sandbox never interleave.  apply < 0
 * aborts (nothing stored; apply said why in err). */
int store_net_put(struct store *s, const char *id, const struct netpol *p,
		  int (*apply)(void *arg, struct sb_err *err), void *arg, struct sb_err *err);
/* Forget it (a destroy, once its elements are out of the table). */
int store_net_del(struct store *s, const char *id, struct sb_err *err);
/* fn for every stored policy (one read transaction). */
int store_net_foreach(struct store *s, void (*fn)(const char *id, const struct netpol *p, void *arg),
		      void *arg, struct sb_err *err);

/* The audit history: JSON entries per sandbox, oldest first; adding one
 * drops the oldest beyond max, in the same write transaction. */
int store_history_add(struct store *s, const char *id, const char *json, int max, const char *scope,
		      struct sb_err *err);
/* Whether id keeps max entries already (its next one replaces its oldest). */
bool store_history_full(struct store *s, const char *id, int max);
int store_history_foreach(struct store *s, const char *id, void (*fn)(const char *json, void *arg),
			  void *arg, struct sb_err *err);
/* Every history entry of id goes. */
int store_history_drop(struct store *s, const char *id, struct sb_err *err);
/* Bytes of the environment in use (pages up to the last one written). */
long long store_bytes(struct store *s);

#endif
