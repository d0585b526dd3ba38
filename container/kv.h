/* LMDB helpers shared by the sandbox store (fcgi-app/store.c) and the
 * image registry (imagestore.c). */
#ifndef SB_KV_H
#define SB_KV_H

#include <lmdb.h>

#include "util.h"

/* An LMDB error as a 500: "lmdb <what>: <mdb_strerror>". */
int kv_fail(struct sb_err *err, int rc, const char *what);
/* One put of key -> val (text) in a write transaction of its own. */
int kv_put(MDB_env *env, MDB_dbi dbi, const char *key, const char *val, struct sb_err *err);

#endif
