#include "config.h"

#include "kv.h"

#include <string.h>

int kv_fail(struct sb_err *err, int rc, const char *what)
{
	return sb_fail(err, 500, 0, "lmdb %s: %s", what, mdb_strerror(rc));
}

int kv_put(MDB_env *env, MDB_dbi dbi, const char *key, const char *val, struct sb_err *err)
{
	MDB_val k = { strlen(key), (void *)key }, v = { strlen(val), (void *)val };
	MDB_txn *txn;
	int rc;

	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)))
		return kv_fail(err, rc, "begin");
	if ((rc = mdb_put(txn, dbi, &k, &v, 0))) {
		mdb_txn_abort(txn);
		return kv_fail(err, rc, "put");
	}
	if ((rc = mdb_txn_commit(txn)))
		return kv_fail(err, rc, "commit");
	return 0;
}
