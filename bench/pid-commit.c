/* bench/pid-commit.c: the start's pid commit step, the old way (a synced
 * commit of the record in the main environment, as store_update(set_init)
 * did) against the new (store_init_set: the runtime environment, never
 * synced), alternating, N/2 each, on the file system of DIR (a fresh store
 * there).  Not built by make; from a configured build dir:
 *   gcc -O2 -std=gnu11 -I container -I fcgi-app -I build -o /tmp/pid-commit \
 *     bench/pid-commit.c build/libsandboxd.a build/libsandbox.a -lfcgi -ljson-c \
 *     -llmdb -lgit2 -lz -lseccomp -lcap -lcrypto -lnftables -lmnl
 *   /tmp/pid-commit "$(mktemp -d /var/tmp/pc.XXXX)" 400
 * docs/ARCHITECTURE.md ("Create", fourth round) has figures. */
#include "store.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
static void set_init(struct sb_record *r, const void *arg)
{
	const struct sb_record *n = arg;
	r->init_pid = n->init_pid; r->init_start = n->init_start; r->active_ms = n->active_ms;
}
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[2]) : 200;
	struct store_sizes sz = { { 64 << 20, 16 << 20 }, 1 };
	struct sb_err err = SB_ERR_INIT;
	struct store s;
	struct sb_record r;
	bool created;
	double *a = calloc(n, sizeof *a), *b = calloc(n, sizeof *b);
	if (store_open(&s, argv[1], &sz, &err) < 0) { fprintf(stderr, "%s\n", err.msg); return 1; }
	for (int i = 0; i < 40; i++) {
		char id[32]; snprintf(id, sizeof id, "p%d", i);
		store_create(&s, id, "host", 1 << 30, 64, &r, &created, &err);
	}
	for (int i = 0; i < n; i++) {
		char id[32]; snprintf(id, sizeof id, "p%d", i % 40);
		store_get(&s, id, &r, &err);
		r.init_pid = 1000 + i; r.init_start = 5000 + i; r.active_ms++;
		double t0 = now();
		if (i % 2 == 0) {
			store_update(&s, id, set_init, &r, &err); a[i / 2] = now() - t0;
			t0 = now(); store_init_set(&s, id, &r, r.active_ms, &err); b[i / 2] = now() - t0;
		} else {
			store_init_set(&s, id, &r, r.active_ms, &err); b[i / 2] = now() - t0;
			t0 = now(); store_update(&s, id, set_init, &r, &err); a[i / 2] = now() - t0;
		}
	}
	qsort(a, n / 2, sizeof *a, cmp); qsort(b, n / 2, sizeof *b, cmp);
	printf("synced record commit (old): median %.3f ms p10 %.3f p90 %.3f\n", a[n / 4], a[n / 20], a[n / 2 * 9 / 10]);
	printf("runtime env, nosync (new):  median %.3f ms p10 %.3f p90 %.3f\n", b[n / 4], b[n / 20], b[n / 2 * 9 / 10]);
	store_close(&s);
	return 0;
}
