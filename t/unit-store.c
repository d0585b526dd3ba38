/* The stores' fair shares (store.h): a tenant filling its share of the
 * history or of the process records is refused, as 507, while another
 * tenant's writes go on; a rotation that adds nothing is never refused;
 * what is charged comes back when an entry goes. */
#include "config.h"

#include "api.h"
#include "store.h"
#include "tap.h"

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char root[] = "/tmp/sbd-unit-store.XXXXXX";

static void cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", root);
}

/* The fast decode of a record equals json-c's wherever it takes one. */
static bool same_record(const struct sb_record *a, const struct sb_record *b)
{
	return !strcmp(a->image, b->image) && !strcmp(a->image_version, b->image_version) &&
	       a->uid_base == b->uid_base && a->created_ms == b->created_ms &&
	       a->active_ms == b->active_ms && a->init_pid == b->init_pid &&
	       a->init_start == b->init_start && !memcmp(&a->lim, &b->lim, sizeof a->lim) &&
	       a->net_slot == b->net_slot && a->expires_ms == b->expires_ms && a->forking == b->forking;
}

/* 1: fast took it and agrees; 0: fast declined (json-c's); -1: disagree */
static int fast_vs_json(const char *json)
{
	struct sb_record f, j;
	int jr, fr;

	memset(&f, 0x5a, sizeof f);
	memset(&j, 0x5a, sizeof j);
	fr = store_decode_fast(json, strlen(json), &f);
	jr = store_decode_json(json, strlen(json), &j);
	if (!fr)
		return 0;
	if (jr != 0 || !same_record(&f, &j)) {
		fprintf(stderr, "# fast and json-c differ on %s\n", json);
		return -1;
	}
	return 1;
}

static long long rnd64(void)
{
	long long v = (long long)(((unsigned long long)random() << 33) ^ ((unsigned long long)random() << 2) ^
				  (unsigned long long)(random() & 3));

	switch (random() % 64) {
	case 0: return v;
	case 1: return (long long)((unsigned long long)v | (1ULL << 63));	/* negative or huge */
	case 2 ... 9: return -(v % 100000);
	case 10 ... 29: return v % 100;
	default: return v % 2000000000000LL;
	}
}

static void rnd_str(char *b, size_t cap)
{
	static const char plain[] = "abcdefghijklmnopqrstuvwxyz0123456789-_.:@ ";
	static const char odd[] = "\"\\/\t\n\x01\xc3\xa9\x7f";
	size_t n = (size_t)random() % cap;
	bool plain_only = random() % 4;

	for (size_t i = 0; i < n; i++)
		b[i] = plain_only || random() % 8 ? plain[random() % (sizeof plain - 1)] : odd[random() % (sizeof odd - 1)];
	b[n] = '\0';
}

static void test_decode_fast(void)
{
	static const char *const edges[] = {
		"{}", "{} ", " {}", "{", "", "{\"image\":\"a\"}x", "{\"image\":\"a\",}",
		"{\"image\": \"a\"}", "{\"image\":\"a\" }", "{\"image\":\"a\\/b\"}",
		"{\"image\":\"\\u0041\"}", "{\"image\":null}", "{\"image\":7}", "{\"image\":true}",
		"{\"uidBase\":\"7\"}", "{\"uidBase\":7.5}", "{\"uidBase\":7e3}", "{\"uidBase\":-}",
		"{\"uidBase\":01}", "{\"uidBase\":-0}", "{\"uidBase\":0}", "{\"uidBase\":[1]}",
		"{\"uidBase\":{\"a\":1}}", "{\"initStart\":-5}", "{\"initStart\":18446744073709551615}",
		"{\"createdAt\":999999999999999999}", "{\"createdAt\":1000000000000000000}",
		"{\"createdAt\":-999999999999999999}", "{\"initPid\":4294967297}",
		"{\"netSlot\":4294967297}", "{\"memoryMb\":5,\"memoryMb\":7}",
		"{\"forking\":1}", "{\"forking\":0}", "{\"forking\":2}", "{\"forking\":\"1\"}",
		"{\"image\":\"a\",\"image\":\"b\"}", "{\"memoryMb\":\"5\"}",
		"{\"unknown\":\"x\",\"other\":-3,\"image\":\"c\"}", "{\"unknown\":1.5}",
		"{\"unknown\":null,\"image\":\"c\"}", "{\"im\\u0061ge\":\"c\"}",
		"{\"image\":\"0123456789012345678901234567890123456789012345678901234567890123456789\"}",
		"[1]", "\"x\"", "{\"image\":\"a\"}{}",
		/* 19 digits: past int64 (json-c clamps), the fast form must
		 * decline without computing past it (signed overflow: UB) */
		"{\"createdAt\":9999999999999999999}", "{\"createdAt\":-9999999999999999999}",
		"{\"createdAt\":9223372036854775808}", "{\"initStart\":9999999999999999999}",
	};
	int took = 0, bad = 0, r;
	char js[8][80];

	for (size_t i = 0; i < sizeof edges / sizeof *edges; i++) {
		r = fast_vs_json(edges[i]);
		took += r > 0;
		bad += r < 0;
	}
	ok(bad == 0, "decode: the fast form agrees with json-c on every edge it takes (%d of %zu taken)", took,
	   sizeof edges / sizeof *edges);

	/* records as the store writes them, with odd strings and numbers */
	srandom(18);
	took = bad = 0;
	for (int i = 0; i < 20000; i++) {
		struct sb_record rec;
		char *json;

		memset(&rec, 0, sizeof rec);
		rnd_str(rec.image, sizeof rec.image);
		if (random() % 2)
			rnd_str(rec.image_version, sizeof rec.image_version);
		rec.uid_base = (uid_t)rnd64();
		rec.created_ms = rnd64();
		rec.active_ms = rnd64();
		rec.init_pid = (pid_t)rnd64();
		rec.init_start = (unsigned long long)rnd64();
		rec.lim.memory_mb = (long)rnd64();
		rec.lim.pids = (long)rnd64();
		rec.lim.cpu_millis = (long)rnd64();
		rec.lim.disk_mb = (long)rnd64();
		rec.lim.egress_mbps = (long)rnd64();
		rec.lim.ingress_mbps = (long)rnd64();
		rec.net_slot = (uint32_t)rnd64();
		rec.expires_ms = rnd64();
		rec.forking = random() % 2;
		json = store_encode_json(&rec);
		r = json ? fast_vs_json(json) : -1;
		if (r < 0 && bad < 8)
			snprintf(js[bad], sizeof js[bad], "%.79s", json ? json : "(null)");
		took += r > 0;
		bad += r < 0;
		free(json);
	}
	ok(bad == 0, "decode: 20000 records as the store writes them: fast agrees with json-c (%d taken)",
	   took);
	ok(took > 2000, "decode: the fast form takes the plain ones (%d of 20000)", took);
	for (int i = 0; i < bad && i < 8; i++)
		fprintf(stderr, "# %s\n", js[i]);
}

struct seen {
	char id[64];
	pid_t pid;
	int n;
};

static void saw(const char *id, pid_t pid, unsigned long long start, int64_t active_ms, void *arg)
{
	struct seen *sn = arg;

	(void)start;
	(void)active_ms;
	snprintf(sn->id, sizeof sn->id, "%s", id);
	sn->pid = pid;
	sn->n++;
}

static void no_op(struct sb_record *r, const void *arg)
{
	(void)r;
	(void)arg;
}

/* The init is runtime state (store_init_set): every read of the record
 * sees it, a record write never stores it, a claim keeps it, a destroy's
 * slot reused never shows it. */
static void test_runtime(struct store *s)
{
	struct sb_err err = SB_ERR_INIT;
	struct sb_record r = { .init_pid = 0 }, g, w;
	struct seen sn = { .n = 0 };
	const char *ids[1];
	pid_t pids[1];
	uint32_t slot;
	bool created;

	ok(store_create(s, ".wr1", "host", 200000, 8, &w, &created, &err) == 0 && created, "warm .wr1 made");
	ok(store_get(s, ".wr1", &g, &err) == 1 && g.init_pid == 0, "  no init recorded: 0");
	w.init_pid = 4242;
	w.init_start = 77;
	ok(store_init_set(s, ".wr1", &w, w.active_ms + 5, &err) == 0, "  its init recorded (%s)", err.msg);
	ok(store_get(s, ".wr1", &g, &err) == 1 && g.init_pid == 4242 && g.init_start == 77 &&
	   g.active_ms == w.active_ms + 5, "  store_get sees it, and the start's activity");
	ok(store_update(s, ".wr1", no_op, NULL, &err) == 0 && store_get(s, ".wr1", &g, &err) == 1 &&
	   g.init_pid == 4242, "  a record write keeps it (and stores none: runtime state)");
	ok(store_foreach_started(s, saw, &sn, &err) == 0 && sn.n == 1 && !strcmp(sn.id, ".wr1") &&
	   sn.pid == 4242, "  the started scan names it (%d, %s)", sn.n, sn.id);
	ok(store_claim(s, ".wr1", "cl-1", &r, &err) == 1 && r.init_pid == 4242 && r.init_start == 77,
	   "a claim of it: the claimed record has its init");
	ok(store_get(s, "cl-1", &g, &err) == 1 && g.init_pid == 4242, "  and so has store_get");
	sn.n = 0;
	ok(store_foreach_started(s, saw, &sn, &err) == 0 && sn.n == 1 && !strcmp(sn.id, "cl-1"),
	   "  the started scan names the claimed id (%s)", sn.id);
	ids[0] = "cl-1";
	pids[0] = 1;
	ok(store_forget_started(s, ids, pids, 1, &err) == 0 && store_get(s, "cl-1", &g, &err) == 1 &&
	   g.init_pid == 4242, "a forget of another pid (started again since) keeps it");
	ok(store_destroy_mark(s, "cl-1", 200000, NULL, NULL, &g, &slot, &err) == 1 && g.init_pid == 4242,
	   "destroy: the mark reads its init");
	sn.n = 0;
	ok(store_foreach_started(s, saw, &sn, &err) == 0 && sn.n == 0, "  then the started scan names no one");
	ok(store_destroy_done(s, 200000, slot, &err) == 0, "  the slot returned");
	ok(store_create(s, "cl-2", "host", 200000, 8, &r, &created, &err) == 0 && created &&
	   r.uid_base == w.uid_base, "a new sandbox in that slot");
	ok(store_get(s, "cl-2", &g, &err) == 1 && g.init_pid == 0 && g.init_start == 0,
	   "  sees no init of the old one");
	r.init_pid = 4343;
	r.init_start = 78;
	ok(store_init_set(s, "cl-2", &r, r.active_ms, &err) == 0 && store_get(s, "cl-2", &g, &err) == 1 &&
	   g.init_pid == 4343, "  its own recorded");
	ids[0] = "cl-2";
	pids[0] = 4343;
	ok(store_forget_started(s, ids, pids, 1, &err) == 0 && store_get(s, "cl-2", &g, &err) == 1 &&
	   g.init_pid == 0, "  found dead and forgotten: none");
	ok(store_create(s, ".wr2", "host", 200000, 8, &w, &created, &err) == 0 && store_drop(s, ".wr2", &err) == 0,
	   "a warm record dropped");
	w.init_pid = 4444;
	ok(store_init_set(s, ".wr2", &w, w.active_ms, &err) < 0, "  its init is not recorded after (%s)", err.msg);
	sb_err_clear(&err);
	sn.n = 0;
	ok(store_foreach_started(s, saw, &sn, &err) == 0 && sn.n == 0, "  nor named by the scan");
}

/* What an older build does to the main environment (it keeps a "started"
 * index, made at its open, and no slots entries): "started" made, base's
 * slots entry deleted.  *started: whether "started" was there. */
static bool older_build(uid_t base, bool make, bool *started)
{
	unsigned char kb[4] = { (unsigned char)(base >> 24), (unsigned char)(base >> 16),
				(unsigned char)(base >> 8), (unsigned char)base };
	MDB_val k = { 4, kb };
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi slots, old;
	bool done;

	*started = false;
	if (mdb_env_create(&env))
		return false;
	mdb_env_set_maxdbs(env, 16);
	mdb_env_set_mapsize(env, 1 << 20);
	done = mdb_env_open(env, root, MDB_NOTLS, 0600) == 0 && mdb_txn_begin(env, NULL, 0, &txn) == 0;
	if (done) {
		*started = mdb_dbi_open(txn, "started", 0, &old) == 0;
		done = (!make || mdb_dbi_open(txn, "started", MDB_CREATE, &old) == 0) &&
		       (!base || (mdb_dbi_open(txn, "slots", 0, &slots) == 0 && mdb_del(txn, slots, &k, NULL) == 0)) &&
		       mdb_txn_commit(txn) == 0;
	}
	mdb_env_close(env);
	return done;
}

/* Whether base has its slots entry. */
static bool slot_there(uid_t base)
{
	unsigned char kb[4] = { (unsigned char)(base >> 24), (unsigned char)(base >> 16),
				(unsigned char)(base >> 8), (unsigned char)base };
	MDB_val k = { 4, kb }, v;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi slots;
	bool there = false;

	if (mdb_env_create(&env))
		return false;
	mdb_env_set_maxdbs(env, 16);
	if (mdb_env_open(env, root, MDB_NOTLS | MDB_RDONLY, 0600) == 0 &&
	    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0) {
		there = mdb_dbi_open(txn, "slots", 0, &slots) == 0 && mdb_get(txn, slots, &k, &v) == 0;
		mdb_txn_abort(txn);
	}
	mdb_env_close(env);
	return there;
}

/* A downgrade and an upgrade: a record without its slots entry gets one,
 * at the next open (the older build's index seen, and dropped) or at its
 * start (store_init_set). */
static void test_older_build(const struct store_sizes *sz)
{
	struct sb_err err = SB_ERR_INIT;
	struct sb_record r = { .init_pid = 0 }, g;
	struct store s;
	bool created, started;

	ok(store_open(&s, root, sz, &err) == 0 && store_create(&s, "ob-1", "host", 200000, 8, &r, &created, &err) == 0,
	   "older build: ob-1 made (%s)", err.msg);
	store_close(&s);
	ok(older_build(r.uid_base, true, &started) && !started,
	   "  an older build's open: its index made, ob-1's slots entry gone");
	ok(store_open(&s, root, sz, &err) == 0, "  open again (%s)", err.msg);
	ok(slot_there(r.uid_base), "  the open made the slots index again");
	r.init_pid = 4545;
	r.init_start = 79;
	ok(store_init_set(&s, "ob-1", &r, r.active_ms, &err) == 0 && store_get(&s, "ob-1", &g, &err) == 1 &&
	   g.init_pid == 4545, "  its init recorded (the index made again at the open: %s)", err.msg);
	store_close(&s);
	ok(older_build(r.uid_base, false, &started) && !started, "  the older build's index dropped at the open");
	ok(store_open(&s, root, sz, &err) == 0, "  open again, ob-1's entry gone meanwhile (%s)", err.msg);
	r.init_pid = 4546;
	ok(store_init_set(&s, "ob-1", &r, r.active_ms, &err) == 0 && store_get(&s, "ob-1", &g, &err) == 1 &&
	   g.init_pid == 4546, "  a start writes the missing entry (%s)", err.msg);
	store_close(&s);
}

int main(void)
{
	struct store_sizes sz = { { 1 << 20, 1 << 20 }, 2 };
	struct sb_err err = SB_ERR_INIT;
	long long used, budget, refused, before;
	struct store s;
	char entry[3001];
	int n = 0, rc;

	if (!mkdtemp(root))
		return 1;
	atexit(cleanup);
	memset(entry, 'x', sizeof entry - 1);
	entry[sizeof entry - 1] = '\0';
	ok(store_open(&s, root, &sz, &err) == 0, "store: open (%s)", err.msg);
	ok(s.budget[STORE_HISTORY] == 512 << 10 && s.share[STORE_HISTORY] == 256 << 10,
	   "the budget is half the map, a share the budget over 2 tenants");

	/* a's entries: each a whole overflow page, 4 KiB */
	while (n < 1000 && (rc = store_history_add(&s, "a-1", entry, 100000, "a-", &err)) == 0)
		n++;
	ok(n == 64, "tenant a keeps 64 entries of 4 KiB, its 256 KiB share (%d)", n);
	ok(api_status(&err) == 507 && strstr(err.msg, "scope a-"), "then it is refused, 507 (%s)", err.msg);
	sb_err_clear(&err);
	ok(store_admit(&s, STORE_HISTORY, "a-", 4096, &err) < 0 && api_status(&err) == 507,
	   "and so is its next command, before it runs");
	sb_err_clear(&err);
	ok(store_history_add(&s, "b-1", entry, 100000, "b-", &err) == 0, "tenant b's entry is kept (%s)", err.msg);
	ok(store_admit(&s, STORE_HISTORY, "b-", 4096, &err) == 0, "and its next command admitted");
	ok(store_history_full(&s, "a-1", 64) && !store_history_full(&s, "a-1", 65) &&
	   !store_history_full(&s, "c-1", 1), "a sandbox with history-max entries is full, not one with fewer");
	ok(store_history_add(&s, "a-1", entry, 64, "a-", &err) == 0,
	   "a's entry that replaces its oldest (history-max reached) adds nothing: kept (%s)", err.msg);
	ok(store_history_add(&s, "a-1", "{}", 100000, NULL, &err) == 0,
	   "the service's own write is never refused");
	store_use(&s, STORE_HISTORY, &used, &budget, &refused);
	/* 65 entries of 4 KiB, and "{}" under a 20-byte key, + 16 */
	ok(used == 65 * 4096 + 38 && refused == 2,
	   "the store's use (%lld) and refusals (%lld) are counted", used, refused);

	/* process records: charged, and given back when one goes */
	store_use(&s, STORE_MAIN, &before, &budget, &refused);
	ok(store_proc_put(&s, "b-1/p1", entry, "b-", NULL, &err) == 0, "b's process record is kept");
	ok(store_proc_put(&s, "b-1/p1", "{\"status\":\"completed\"}", NULL, NULL, &err) == 0, "and updated");
	store_use(&s, STORE_MAIN, &used, &budget, &refused);
	ok(used > before && used < before + 100, "charged as it is now (%lld)", used - before);
	ok(store_proc_del(&s, "b-1/p1", &err) == 0, "and deleted");
	store_use(&s, STORE_MAIN, &used, &budget, &refused);
	ok(used == before, "which gives its bytes back");
	n = 0;
	while (n < 1000 && store_proc_put(&s, "a-1/p", entry, "a-", NULL, &err) == 0)
		n++;
	ok(n == 1000, "a record rewritten in place adds nothing");

	/* a record written for a sandbox the id no longer names is refused:
	 * the next sandbox of the id would list it */
	{
		struct sb_record r = { .init_pid = 0 }, r2 = { .init_pid = 0 }, gone;
		uint32_t slot;
		bool created;
		char *json = NULL;

		ok(store_create(&s, "o-1", "host", 100000, 4, &r, &created, &err) == 0 && created,
		   "o-1 is made (%s)", err.msg);
		ok(store_proc_put(&s, "o-1/p", "{}", NULL, &r, &err) == 0, "its record is kept while it is the one");
		ok(store_destroy_mark(&s, "o-1", 100000, NULL, NULL, &gone, &slot, &err) == 1, "o-1 destroyed (mark)");
		ok(store_proc_put(&s, "o-1/p", "{}", NULL, &r, &err) < 0 && api_status(&err) == 404,
		   "then a record for it is refused, 404 (%s)", err.msg);
		sb_err_clear(&err);
		ok(store_create(&s, "o-1", "host", 100000, 4, &r2, &created, &err) == 0, "o-1 made again");
		r2.created_ms++;	/* another sandbox of the id, same slot */
		ok(store_proc_put(&s, "o-1/q", "{}", NULL, &r2, &err) < 0 && api_status(&err) == 404,
		   "and so is one for another record of the id");
		sb_err_clear(&err);
		ok(store_proc_get(&s, "o-1/p", &json, &err) == 0 && store_proc_get(&s, "o-1/q", &json, &err) == 0,
		   "the new o-1 has no record of the old one");
		free(json);
	}
	test_runtime(&s);
	store_use(&s, STORE_HISTORY, &before, &budget, &refused);
	store_close(&s);
	ok(store_open(&s, root, &sz, &err) == 0, "store: open again (%s)", err.msg);
	store_use(&s, STORE_HISTORY, &used, &budget, &refused);
	ok(used == before, "what was charged is charged once after a reopen (%lld, %lld)", used, before);
	store_close(&s);
	test_older_build(&sz);
	test_decode_fast();
	return done_testing();
}
