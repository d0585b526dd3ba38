/* LMDB helpers shared by the sandbox store (fcgi-app/store.c) and the
 * image registry (imagestore.c). */
#ifndef SB_KV_H
#define SB_KV_H

#include <lmdb.h>
#include <stdbool.h>

#include "util.h"

/* An LMDB error (no space for a full map or disk, else internal):
 * "lmdb <what>: <mdb_strerror>". */
int kv_fail(struct sb_err *err, int rc, const char *what);
/* Open the environment at dir (mapsize bytes, extra env flags beyond
 * MDB_NOTLS), clear reader slots of dead processes, and open (creating)
 * the n named databases into dbis.  *env is NULL on error. */
int kv_open(MDB_env **env, const char *dir, size_t mapsize, unsigned flags,
	    const char *const *names, MDB_dbi *dbis, int n, struct sb_err *err);
/* fn for every entry of dbi whose key starts with prefix (plen 0: every
 * entry), in key order, in one read transaction; fn returns false to stop. */
int kv_scan(MDB_env *env, MDB_dbi dbi, const void *prefix, size_t plen,
	    bool (*fn)(const MDB_val *k, const MDB_val *v, void *arg), void *arg, struct sb_err *err);
/* A transaction aborted when it goes out of scope, unless committed (or
 * handed on) by then: `cleanup_txn MDB_txn *txn = NULL;`. */
static inline void kv_txn_abortp(MDB_txn **txn)
{
	if (*txn)
		mdb_txn_abort(*txn);
}
#define cleanup_txn __attribute__((cleanup(kv_txn_abortp)))
/* Begin a transaction (flags: 0 or MDB_RDONLY) into *txn. */
int kv_begin(MDB_env *env, unsigned flags, MDB_txn **txn, struct sb_err *err);
/* Commit *txn, which is gone after (NULL) whatever the outcome. */
int kv_commit(MDB_txn **txn, struct sb_err *err);
/* One put of key -> val (text) in a write transaction of its own. */
int kv_put(MDB_env *env, MDB_dbi dbi, const char *key, const char *val, struct sb_err *err);

#endif
