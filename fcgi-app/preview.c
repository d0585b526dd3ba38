/* Preview tokens and their store (see preview.h). */
#include "config.h"

#include "preview.h"
#include "conf.h"
#include "kv.h"
#include "net.h"
#include "store.h"

#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

void preview_base32(const unsigned char *in, size_t n, char *out, size_t outlen)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	unsigned buf = 0;
	size_t o = 0;
	int bits = 0;

	if (!outlen)
		return;
	for (size_t i = 0; i < n; i++) {
		buf = (buf << 8) | in[i];
		bits += 8;
		while (bits >= 5 && o + 1 < outlen) {
			out[o++] = alphabet[(buf >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0 && o + 1 < outlen)
		out[o++] = alphabet[(buf << (5 - bits)) & 31];
	out[o] = '\0';
}

int preview_token_new(char tok[PREVIEW_TOKEN_LEN + 1], struct sb_err *err)
{
	unsigned char rnd[16];
	ssize_t n;

	do
		n = getrandom(rnd, sizeof rnd, 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof rnd)
		return sb_syserr(err, "getrandom");
	preview_base32(rnd, sizeof rnd, tok, PREVIEW_TOKEN_LEN + 1);
	return 0;
}

int preview_token_hash(const char *tok, char hex[PREVIEW_HASH_HEX])
{
	unsigned char h[32];
	unsigned len = 0;

	if (!EVP_Digest(tok, strlen(tok), h, &len, EVP_sha256(), NULL) || len != sizeof h)
		return -1;
	for (size_t i = 0; i < sizeof h; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	return 0;
}

bool preview_label_parse(const char *label, unsigned *port, char tok[PREVIEW_TOKEN_LEN + 1])
{
	const char *p = label;
	unsigned v = 0;
	int digits = 0;

	if (*p == '0')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (++digits > 5)
			return false;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (!digits || v > 65535 || *p++ != '-')
		return false;
	for (int i = 0; i < PREVIEW_TOKEN_LEN; i++, p++) {
		char ch = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '2' && ch <= '7')))
			return false;
		tok[i] = ch;
	}
	if (*p)
		return false;
	tok[PREVIEW_TOKEN_LEN] = '\0';
	*port = v;
	return true;
}

void preview_url(const struct conf *c, unsigned port, const char *tok, bool path_form, char *buf,
		 size_t len)
{
	/* preview-domain is "[scheme://]host[:port]": https unless it says http */
	const char *scheme = "https", *host = c->preview_domain;

	buf[0] = '\0';
	if (!host[0])
		return;
	if (!strncmp(host, "http://", 7)) {
		scheme = "http";
		host += 7;
	} else if (!strncmp(host, "https://", 8)) {
		host += 8;
	}
	if (path_form)
		snprintf(buf, len, "%s://%s/preview/%u-%s/", scheme, host, port, tok);
	else
		snprintf(buf, len, "%s://%u-%s.%s/", scheme, port, tok, host);
}

int preview_sandbox_addr(const struct conf *c, const struct sb_record *r, char *buf, size_t len)
{
	if (len)
		buf[0] = '\0';
	return c->network ? net_record_addr(c, r, buf, len) : -1;
}

/* --- the store -------------------------------------------------------------- */

static void port_key(char *buf, size_t len, const char *id, unsigned port)
{
	/* five digits: a sandbox's ports list in numeric order */
	snprintf(buf, len, "p/%s/%05u", id, port);
}

static const char *encode(const struct preview_port *p, struct json_object **o)
{
	*o = json_object_new_object();
	json_object_object_add(*o, "projectId", json_object_new_string(p->id));
	json_object_object_add(*o, "port", json_object_new_int(p->port));
	json_object_object_add(*o, "hash", json_object_new_string(p->hash));
	json_object_object_add(*o, "createdAt", json_object_new_int64(p->created_ms));
	json_object_object_add(*o, "expiresAt", json_object_new_int64(p->expires_ms));
	return json_object_to_json_string_ext(*o, JSON_C_TO_STRING_PLAIN);
}

static int decode(const MDB_val *v, struct preview_port *p)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o, *f;
	int ret = -1;

	if (!tok)
		return -1;
	o = json_tokener_parse_ex(tok, v->mv_data, (int)v->mv_size);
	json_tokener_free(tok);
	memset(p, 0, sizeof *p);
	if (!o || !json_object_is_type(o, json_type_object))
		goto out;
	if (!json_object_object_get_ex(o, "projectId", &f))
		goto out;
	snprintf(p->id, sizeof p->id, "%s", json_object_get_string(f));
	if (!json_object_object_get_ex(o, "hash", &f))
		goto out;
	snprintf(p->hash, sizeof p->hash, "%s", json_object_get_string(f));
	if (json_object_object_get_ex(o, "port", &f))
		p->port = (unsigned)json_object_get_int(f);
	if (json_object_object_get_ex(o, "createdAt", &f))
		p->created_ms = json_object_get_int64(f);
	if (json_object_object_get_ex(o, "expiresAt", &f))
		p->expires_ms = json_object_get_int64(f);
	ret = 0;
out:
	json_object_put(o);
	return ret;
}

static MDB_val val_of(const char *s)
{
	MDB_val v = { strlen(s), (void *)s };

	return v;
}

/* Remove the exposure of key pk (and its token) in txn: 1 removed, 0 none,
 * else an LMDB error. */
static int del_in(MDB_txn *txn, MDB_dbi dbi, const char *pk)
{
	MDB_val k = val_of(pk), v;
	struct preview_port old;
	char tk[2 + PREVIEW_HASH_HEX];
	int rc;

	rc = mdb_get(txn, dbi, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return -rc;
	if (decode(&v, &old) == 0) {
		snprintf(tk, sizeof tk, "t/%s", old.hash);
		k = val_of(tk);
		if ((rc = mdb_del(txn, dbi, &k, NULL)) && rc != MDB_NOTFOUND)
			return -rc;
	}
	k = val_of(pk);
	if ((rc = mdb_del(txn, dbi, &k, NULL)))
		return -rc;
	return 1;
}

/* How many ports of id are exposed, pk's aside. */
static int count_others(MDB_txn *txn, MDB_dbi dbi, const char *id, const char *pk, int *n)
{
	char prefix[80];
	size_t plen = (size_t)snprintf(prefix, sizeof prefix, "p/%s/", id);
	MDB_val k = { plen, prefix }, v;
	MDB_cursor *cur;
	int rc;

	*n = 0;
	if ((rc = mdb_cursor_open(txn, dbi, &cur)))
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen))
			break;
		if (k.mv_size != strlen(pk) || memcmp(k.mv_data, pk, k.mv_size))
			(*n)++;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

int preview_put(struct store *s, const struct preview_port *p, struct sb_err *err)
{
	char pk[96], tk[2 + PREVIEW_HASH_HEX];
	struct json_object *o;
	const char *json;
	MDB_val k, v;
	MDB_txn *txn;
	int rc, n;

	port_key(pk, sizeof pk, p->id, p->port);
	snprintf(tk, sizeof tk, "t/%s", p->hash);
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)))
		return kv_fail(err, rc, "begin");
	if ((rc = count_others(txn, s->ports, p->id, pk, &n)))
		goto fail;
	if (n >= PREVIEW_MAX_PORTS) {
		mdb_txn_abort(txn);
		return sb_fail(err, SB_E_LIMIT, 0, "%d ports are exposed already: delete one first", n);
	}
	/* the port's old token goes in the same transaction as the new one comes */
	if ((n = del_in(txn, s->ports, pk)) < 0) {
		rc = -n;
		goto fail;
	}
	json = encode(p, &o);
	v = val_of(json);
	k = val_of(pk);
	if (!(rc = mdb_put(txn, s->ports, &k, &v, 0))) {
		k = val_of(tk);
		rc = mdb_put(txn, s->ports, &k, &v, 0);
	}
	json_object_put(o);
	if (rc)
		goto fail;
	if ((rc = mdb_txn_commit(txn)))
		return kv_fail(err, rc, "commit");
	return 0;
fail:
	mdb_txn_abort(txn);
	return kv_fail(err, rc, "expose");
}

int preview_del(struct store *s, const char *id, unsigned port, struct sb_err *err)
{
	MDB_txn *txn;
	char pk[96];
	int rc;

	port_key(pk, sizeof pk, id, port);
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)))
		return kv_fail(err, rc, "begin");
	rc = del_in(txn, s->ports, pk);
	if (rc < 0) {
		mdb_txn_abort(txn);
		return kv_fail(err, -rc, "revoke");
	}
	if (rc == 0) {
		mdb_txn_abort(txn);
		return 0;
	}
	if ((rc = mdb_txn_commit(txn)))
		return kv_fail(err, rc, "commit");
	return 1;
}

struct list_scan {
	void (*fn)(const struct preview_port *p, void *arg);
	void *arg;
};

static bool each_port(const MDB_val *k, const MDB_val *v, void *arg)
{
	struct list_scan *ls = arg;
	struct preview_port p;

	(void)k;
	if (decode(v, &p) == 0)
		ls->fn(&p, ls->arg);
	return true;
}

int preview_list(struct store *s, const char *id, void (*fn)(const struct preview_port *p, void *arg),
		 void *arg, struct sb_err *err)
{
	struct list_scan ls = { fn, arg };
	char prefix[80];
	size_t plen = (size_t)snprintf(prefix, sizeof prefix, "p/%s/", id);

	return kv_scan(s->env, s->ports, prefix, plen, each_port, &ls, err);
}

int preview_lookup(struct store *s, const char *hash, struct preview_port *p, struct sb_err *err)
{
	char tk[2 + PREVIEW_HASH_HEX];
	MDB_val k, v;
	MDB_txn *txn;
	int rc, found;

	snprintf(tk, sizeof tk, "t/%s", hash);
	k = val_of(tk);
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)))
		return kv_fail(err, rc, "read");
	rc = mdb_get(txn, s->ports, &k, &v);
	found = rc == 0 && decode(&v, p) == 0 && !strcmp(p->hash, hash);
	if (found) {
		/* and the port's own entry names this token still: a lookup key
		 * left behind (never, as both are written together) opens nothing */
		struct preview_port cur;
		char pk[96];

		port_key(pk, sizeof pk, p->id, p->port);
		k = val_of(pk);
		rc = mdb_get(txn, s->ports, &k, &v);
		found = rc == 0 && decode(&v, &cur) == 0 && !strcmp(cur.hash, hash);
	}
	mdb_txn_abort(txn);
	if (rc && rc != MDB_NOTFOUND)
		return kv_fail(err, rc, "get");
	return found;
}
