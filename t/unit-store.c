/* The stores' fair shares (store.h): a tenant filling its share of the
 * history or of the process records is refused, as 507, while another
 * tenant's writes go on; a rotation that adds nothing is never refused;
 * what is charged comes back when an entry goes. */
#include "config.h"

#include "api.h"
#include "store.h"
#include "tap.h"

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
	       a->net_slot == b->net_slot && a->expires_ms == b->expires_ms;
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
	store_use(&s, STORE_HISTORY, &before, &budget, &refused);
	store_close(&s);
	ok(store_open(&s, root, &sz, &err) == 0, "store: open again (%s)", err.msg);
	store_use(&s, STORE_HISTORY, &used, &budget, &refused);
	ok(used == before, "what was charged is charged once after a reopen (%lld, %lld)", used, before);
	store_close(&s);
	test_decode_fast();
	return done_testing();
}
