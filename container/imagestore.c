#include "config.h"

#include "imagestore.h"
#include "kv.h"

#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct imgstore {
	MDB_env *env;
	MDB_dbi dbi;
};

bool image_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > IMAGE_NAME_MAX || !((*name >= 'a' && *name <= 'z') ||
					      (*name >= '0' && *name <= '9')))
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '_' || *p == '-'))
			return false;
	return true;
}


int imgstore_open(const char *dir, bool create, struct imgstore **out, struct sb_err *err)
{
	static const char *const names[] = { "images" };
	char path[PATH_MAX];
	struct imgstore *st;
	struct stat sbuf;

	*out = NULL;
	if (snprintf(path, sizeof path, "%s/.registry", dir) >= (int)sizeof path)
		return sb_fail(err, 500, ENAMETOOLONG, "images dir path too long");
	if (stat(path, &sbuf) < 0) {
		if (errno != ENOENT)
			return sb_syserr(err, "stat %s", path);
		if (!create)
			return 0;
		if (sb_mkdir_p(path, 0700) < 0)
			return sb_syserr(err, "mkdir %s", path);
	}
	st = calloc(1, sizeof *st);
	if (!st)
		return sb_syserr(err, "calloc");
	if (kv_open(&st->env, path, (size_t)64 << 20, 0, names, &st->dbi, 1, err) < 0) {
		free(st);
		return -1;
	}
	*out = st;
	return 0;
}

void imgstore_close(struct imgstore *st)
{
	if (!st)
		return;
	mdb_env_close(st->env);
	free(st);
}

static struct json_object *decode(const MDB_val *v)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	if (!tok)
		return NULL;
	o = json_tokener_parse_ex(tok, v->mv_data, (int)v->mv_size);
	json_tokener_free(tok);
	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

int imgstore_get(struct imgstore *st, const char *name, struct json_object **rec,
		 struct sb_err *err)
{
	MDB_val k = { strlen(name), (void *)name }, v;
	MDB_txn *txn;
	int rc;

	*rec = NULL;
	if (!st)
		return 0;
	if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn)))
		return kv_fail(err, rc, "read");
	rc = mdb_get(txn, st->dbi, &k, &v);
	if (rc == 0)
		*rec = decode(&v);
	mdb_txn_abort(txn);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return kv_fail(err, rc, "get");
	if (!*rec)
		return sb_fail(err, 500, 0, "image registry: record of %s is not JSON", name);
	return 1;
}

int imgstore_put(struct imgstore *st, const char *name, struct json_object *rec,
		 struct sb_err *err)
{
	return kv_put(st->env, st->dbi, name,
		      json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN), err);
}

static bool add_image(const MDB_val *k, const MDB_val *v, void *arr)
{
	struct json_object *o = decode(v);

	(void)k;
	if (o)
		json_object_array_add(arr, o);
	return true;
}

int imgstore_list(struct imgstore *st, struct json_object **arr, struct sb_err *err)
{
	*arr = json_object_new_array();
	if (!st)
		return 0;
	return kv_scan(st->env, st->dbi, NULL, 0, add_image, *arr, err);
}

int image_rootfs_path(const char *dir, const char *name, const char *version, char *buf,
		      size_t len)
{
	int n = snprintf(buf, len, "%s/%s/%s/rootfs", dir, name, version);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}
