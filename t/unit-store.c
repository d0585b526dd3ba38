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
	return done_testing();
}
