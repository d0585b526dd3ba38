/* The sandbox settings table (fcgi-app/settings.c) and the options table
 * of conf.c that is partly made from it: a request's limits parsed and
 * clamped between each row's least and the server's maximum; the store's
 * keys (records written before the table read back the same); effective
 * limits; the options and config keys of every row. */
#include "config.h"

#include "conf.h"
#include "settings.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse(const char *json, const struct sb_limits *max, struct sb_limits *out, char *why)
{
	struct json_object *o = json_tokener_parse(json);
	int r = sb_limits_parse(o, max, out, why, 128);

	json_object_put(o);
	return r;
}

static void test_parse(void)
{
	struct sb_limits max = { .memory_mb = 512, .pids = 256, .cpu_millis = 1500, .disk_mb = 128 }, w;
	char why[128] = "";

	ok(parse("{\"memoryMb\":100,\"pids\":50,\"cpus\":0.5,\"diskMb\":40}", &max, &w, why) == 0 &&
	   w.memory_mb == 100 && w.pids == 50 && w.cpu_millis == 500 && w.disk_mb == 40,
	   "limits in range are taken (cpus in thousandths)");
	ok(parse("{\"memoryMb\":100000,\"pids\":100000,\"cpus\":64,\"diskMb\":100000}", &max, &w, why) == 0 &&
	   w.memory_mb == 512 && w.pids == 256 && w.cpu_millis == 1500 && w.disk_mb == 128,
	   "larger ones are clamped to the maxima");
	ok(parse("{\"memoryMb\":1,\"pids\":1,\"cpus\":0.001,\"diskMb\":1}", &max, &w, why) == 0 &&
	   w.memory_mb == 16 && w.pids == 8 && w.cpu_millis == 10 && w.disk_mb == 16,
	   "smaller ones are raised to the least the options accept (16 MiB, 8, 0.01 CPUs, 16 MiB)");
	ok(parse("{\"pids\":null}", &max, &w, why) == 0 && sb_limits_none(&w), "null and absent ask nothing");
	ok(parse("{\"cpus\":0}", &max, &w, why) < 0 && !strcmp(why, "limits.cpus must be a positive number"),
	   "0 is refused, named: %s", why);
	ok(parse("{\"memoryMb\":\"64\"}", &max, &w, why) < 0 && strstr(why, "memoryMb"), "a string is refused");
	ok(parse("{\"diskMb\":40}", &max, &w, why) == 0 && !sb_limits_change(&w),
	   "the disk alone changes nothing of an existing sandbox");
	ok(parse("{\"pids\":40}", &max, &w, why) == 0 && sb_limits_change(&w), "pids do");
}

static void test_record(void)
{
	struct sb_limits def = { .memory_mb = 256, .pids = 128, .cpu_millis = 1000, .disk_mb = 64 };
	struct sb_limits rec = { .pids = 77 }, eff, made, back = { 0 };
	struct json_object *o = json_object_new_object(), *f;

	sb_limits_effective(&rec, &def, &eff);
	ok(eff.memory_mb == 256 && eff.pids == 77 && eff.cpu_millis == 1000 && eff.disk_mb == 0,
	   "effective: the record's own, the defaults for the rest, never a default disk (fixed at creation)");
	sb_limits_for_create(&rec, &def, &made);
	ok(made.memory_mb == 0 && made.pids == 77 && made.disk_mb == 64,
	   "a new record: what was asked, and the default disk recorded");
	made.cpu_millis = 2500;
	sb_limits_encode(&made, o);
	ok(json_object_object_get_ex(o, "cpuMillis", &f) && json_object_get_int64(f) == 2500 &&
	   json_object_object_get_ex(o, "diskMb", &f) && json_object_get_int64(f) == 64 &&
	   json_object_object_get_ex(o, "memoryMb", &f) && json_object_object_get_ex(o, "pids", &f),
	   "the store's keys are those of records written before the table: %s",
	   json_object_to_json_string(o));
	sb_limits_decode(o, &back);
	ok(sb_limits_equal(&back, &made), "and read back the same");
	sb_limits_follow_defaults(&back);
	ok(back.memory_mb == 0 && back.pids == 0 && back.cpu_millis == 0 && back.disk_mb == 64,
	   "a claimed warm sandbox follows the defaults, but keeps its disk");
	json_object_put(o);
	o = sb_limits_json(&eff);
	is_str(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
	       "{\"memoryMb\":256,\"pids\":77,\"cpus\":1.0,\"diskMb\":0,\"egressMbps\":0,\"ingressMbps\":0}", "GET's limits");
	json_object_put(o);
}

/* A record of the build before the floors: its create (or a later limits
 * change, answered 200) clamped at 1, so pids 1, cpus 0.001, memoryMb 1
 * are stored.  It reads back the same, but what the sandbox runs with
 * (its cgroups, GET's limits) must be raised to the floors as a new
 * request's are: else every start of it stays a 500 after the upgrade
 * ("clone user namespace: Resource temporarily unavailable" under
 * pids.max 1, "write cpu.cfs_quota_us: Invalid argument" for 100 us). */
static void test_record_below_floor(void)
{
	struct sb_limits def = { .memory_mb = 256, .pids = 128, .cpu_millis = 1000, .disk_mb = 64 };
	struct sb_limits rec = { .memory_mb = 1, .pids = 1, .cpu_millis = 1, .disk_mb = 16 }, eff;

	sb_limits_effective(&rec, &def, &eff);
	ok(eff.memory_mb == 16 && eff.pids == 8 && eff.cpu_millis == 10 && eff.disk_mb == 16,
	   "an old record below the floors runs with the floors (16 MiB, 8 pids, 0.01 CPUs): "
	   "got %ld MiB, %ld pids, %ld millis", eff.memory_mb, eff.pids, eff.cpu_millis);
}

/* An argv as main() gets it (writable strings), from a list. */
static char **args(const char *const *v, int *argc)
{
	char **a = calloc(32, sizeof *a);

	for (*argc = 0; v[*argc]; (*argc)++)
		a[*argc] = strdup(v[*argc]);
	return a;
}

static void test_conf(void)
{
	static const char *const opts[] = { "sandboxd", "--memory-mb", "32", "--max-cpus", "2", "--cpus", "3",
					    "--disk-mb=0", "--max-pids", "64", "--idle-stop", "5", "--max-file-mb",
					    "2", "--disk-prealloc", "--routes", NULL };
	char path[] = "/tmp/unit-settings-XXXXXX";
	const char *const fopts[] = { "sandboxd", "--config", path, "--routes", NULL };
	int argc, fargc;
	char **argv = args(opts, &argc), **fargv = args(fopts, &fargc);
	struct conf c;
	FILE *f;
	int fd;

	ok(conf_parse(&c, argc, argv) == 0, "the options of the settings table are options");
	ok(c.limits.memory_mb == 32 && c.max_limits.cpu_millis == 2000 && c.limits.cpu_millis == 2000 &&
	   c.limits.disk_mb == 0 && c.max_limits.pids == 64 && c.limits.pids == 64,
	   "defaults and maxima set, each default capped by its maximum");
	ok(c.idle_stop_ms == 5000 && c.max_file_bytes == 2ULL << 20 && c.disk_prealloc && c.print_routes,
	   "rows of the other types: seconds to ms, MiB to bytes, a flag");
	fd = mkstemp(path);
	free(fargv[2]);
	fargv[2] = strdup(path);
	f = fdopen(fd, "w");
	fputs("# limits\nmax-memory-mb = 100\nmemory-mb = 200\npids-max=9\ncpus = 0.25\n", f);
	fclose(f);
	ok(conf_parse(&c, fargc, fargv) == 0 && c.limits.memory_mb == 100 && c.max_limits.memory_mb == 100 &&
	   c.limits.pids == 9 && c.limits.cpu_millis == 250, "and config keys");
	f = fopen(path, "w");
	fputs("disk-mb = 5\n", f);
	fclose(f);
	ok(conf_parse(&c, fargc, fargv) < 0, "a disk of 5 MiB is refused (0 or at least 16)");
	unlink(path);
}

static void test_usage(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	sb_settings_usage(f);
	fclose(f);
	ok(strstr(buf, "  --memory-mb N       memory per sandbox") &&
	   strstr(buf, "  --max-memory-mb N   most memory") && strstr(buf, "  --cpus X            CPUs"),
	   "--help lines of every row, aligned with the others");
	free(buf);
}

int main(void)
{
	test_parse();
	test_record();
	test_record_below_floor();
	test_conf();
	test_usage();
	return done_testing();
}
