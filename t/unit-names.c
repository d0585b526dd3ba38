/* Hostile names fed directly to every function below the router that turns
 * an id or a name into a path, a cgroup or a store key: each refuses them
 * itself, whatever its caller checked.  A ".." that reached the cgroup code
 * would kill every process of the host (cgroup ".." is the root cgroup), so
 * the cgroup checks run on fake cgroupfs trees of plain files, where
 * nothing is ever signalled, and look for what was written outside the
 * sandbox's own cgroup. */
#include "config.h"

#include "api.h"
#include "app.h"
#include "capacity.h"
#include "cgroup.h"
#include "procs.h"
#include "store.h"
#include "warm.h"
#include "tap.h"
#include "faketree.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char longname[SB_NAME_MAX + 2];

static const char *hostile[] = {
	"", ".", "..", "/", "a/b", "../x", "/etc", "x/..", "a\n", "a\x01", "\x7f", longname,
};
#define NHOSTILE (sizeof hostile / sizeof *hostile)

static const char *show(const char *s)
{
	static char buf[8][80];
	static int k;
	char *b = buf[k++ % 8];
	size_t n = 0;

	for (; *s && n < 40; s++)
		n += (size_t)snprintf(b + n, 80 - n, (*s < 0x20 || *s == 0x7f) ? "\\x%02x" : "%c", *s);
	if (*s)
		snprintf(b + n, 80 - n, "...");
	if (!n)
		snprintf(b, 80, "(empty)");
	return b;
}

/* Refused by the function's own check of its arguments, not only by the
 * last guard in front of a kill (each layer is checked on its own). */
static bool refused_by_name(const struct sb_err *err)
{
	return strstr(err->msg, "unsafe cgroup name") != NULL;
}

/* An error message for a test's name: the names in it are hostile */
static const char *msg(const struct sb_err *err)
{
	static char buf[8][sizeof err->msg];
	static int k;
	char *b = buf[k++ % 8];
	size_t i;

	for (i = 0; err->msg[i] && i < sizeof err->msg - 1; i++)
		b[i] = (unsigned char)err->msg[i] < 0x20 || err->msg[i] == 0x7f ? '?' : err->msg[i];
	b[i] = '\0';
	return b;
}

static bool exists(const char *rel)
{
	char path[512];

	snprintf(path, sizeof path, "%s/%s", root, rel);
	return access(path, F_OK) == 0;
}

static void mk(const char *rel)
{
	char path[512];

	snprintf(path, sizeof path, "%s/%s", root, rel);
	mkdir(path, 0755);
}

static void make_root(void)
{
	snprintf(root, sizeof root, "/tmp/sbd-names.XXXXXX");
	if (!mkdtemp(root))
		exit(1);
}

static void names(void)
{
	static const char *const good[] = { "a", "my-project", ".w0123abcd", "e1", "p-proc-1", "a.b",
					    "caf\xc3\xa9" };

	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		ok(sb_name_safe(good[i]), "sb_name_safe: '%s' is safe", good[i]);
	longname[SB_NAME_MAX] = '\0';
	ok(sb_name_safe(longname), "sb_name_safe: %d bytes are safe", SB_NAME_MAX);
	longname[SB_NAME_MAX] = 'a';
	for (size_t i = 0; i < NHOSTILE; i++)
		ok(!sb_name_safe(hostile[i]), "sb_name_safe: '%s' refused", show(hostile[i]));
	ok(!sb_name_safe(NULL), "sb_name_safe: NULL refused");
	ok(sb_relpath_safe("a/e1"), "sb_relpath_safe: a/e1");
	ok(sb_relpath_safe(".wx/e1"), "sb_relpath_safe: .wx/e1");
	static const char *const badrel[] = { "", "/", "/a", "a/", "a//b", "a/..", "../a", "a/./b",
					      "a/b\n", "..", "." };
	for (size_t i = 0; i < sizeof badrel / sizeof *badrel; i++)
		ok(!sb_relpath_safe(badrel[i]), "sb_relpath_safe: '%s' refused", show(badrel[i]));
}

/* v2: the instance's parent is root/P; root itself is "the host's root
 * cgroup", with a process listed.  Nothing may be written above P/sb1 by a
 * call about sandbox sb1, and nothing above P at all. */
static void v2(void)
{
	struct sb_err err = SB_ERR_INIT;
	struct cg_limits lim = { .memory_bytes = 1 << 20 };
	struct cg_usage u;
	struct sb_cgroups cg;

	make_root();
	put("cgroup.controllers", "memory pids cpu\n");
	put("cgroup.procs", "1\n");
	ok(cg_open_ops(&cg, &fake_cgroupfs, root, "P", &err) == 0,
	   "v2: open (%s)", err.msg);
	put("P/cgroup.procs", "1\n");
	ok(cg_sandbox_create(&cg, "sb1", &lim, &err) == 0, "v2: sandbox sb1 (%s)", err.msg);
	put("P/sb1/cgroup.procs", "");
	for (size_t i = 0; i < NHOSTILE; i++) {
		const char *h = hostile[i], *s = show(h);

		sb_err_clear(&err);
		ok(cg_sandbox_kill(&cg, h, &err) < 0 && api_status(&err) == 400 && refused_by_name(&err),
		   "v2: cg_sandbox_kill('%s') refused with a 400 (%s)", s, msg(&err));
		ok(cg_sandbox_create(&cg, h, &lim, &err) < 0, "v2: cg_sandbox_create('%s') refused", s);
		ok(cg_sandbox_enter(&cg, h, 4242, &err) < 0, "v2: cg_sandbox_enter('%s') refused", s);
		ok(cg_sandbox_usage(&cg, h, &u) < 0, "v2: cg_sandbox_usage('%s') refused", s);
		ok(cg_sandbox_oom_kills(&cg, h) < 0, "v2: cg_sandbox_oom_kills('%s') refused", s);
		ok(cg_exec_signal(&cg, "sb1", h, 0) == 0, "v2: cg_exec_signal(sb1, '%s') signals none", s);
		ok(cg_exec_signal(&cg, h, "sb1", 0) == 0, "v2: cg_exec_signal('%s', sb1) signals none", s);
		sb_err_clear(&err);
		ok(cg_exec_kill(&cg, "sb1", h, &err) < 0 && refused_by_name(&err),
		   "v2: cg_exec_kill(sb1, '%s') refused (%s)", s, msg(&err));
		ok(cg_exec_open(&cg, "sb1", h, &err) < 0, "v2: cg_exec_open(sb1, '%s') refused", s);
		ok(cg_exec_release(&cg, "sb1", h) < 0, "v2: cg_exec_release(sb1, '%s') refused", s);
		cg_exec_remove(&cg, h, "sb1");
		cg_exec_remove(&cg, "sb1", h);
		cg_exec_reap_all(&cg, h);
	}
	ok(!exists("cgroup.kill") && !exists("P/cgroup.kill"),
	   "v2: no cgroup.kill written in the root or the parent");
	ok(!exists("P/cgroup.freeze") && !exists("P/sb1/cgroup.freeze"), "v2: nothing frozen");
	is_str(slurp("cgroup.procs"), "1\n", "v2: the root's cgroup.procs untouched");
	is_str(slurp("P/cgroup.procs"), "1\n", "v2: the parent's cgroup.procs untouched");
	ok(!exists("x") && !exists("P/x") && !exists("P/a"), "v2: no cgroup made outside sb1");
	ok(exists("P/sb1"), "v2: sb1 not removed");
	/* the legitimate calls still work */
	ok(cg_exec_signal(&cg, "sb1", "e1", 0) == 0, "v2: exec cgroup e1 of sb1: none yet");
	ok(cg_sandbox_kill(&cg, "sb1", &err) == 0, "v2: cg_sandbox_kill(sb1) (%s)", err.msg);
	is_str(slurp("P/sb1/cgroup.kill"), "1", "v2: sb1's cgroup.kill written");
	cg_close(&cg);
	remove_root();
}

static void v1(void)
{
	static const char *const ctrl[] = { "freezer", "pids", "memory", "cpu", "cpuacct" };
	struct sb_err err = SB_ERR_INIT;
	struct cg_limits lim = { .pids = 10 };
	struct sb_cgroups cg;
	char rel[64];

	make_root();
	for (size_t i = 0; i < 5; i++) {
		mk(ctrl[i]);
		snprintf(rel, sizeof rel, "%s/cgroup.procs", ctrl[i]);
		put(rel, "1\n");
	}
	ok(cg_open_ops(&cg, &fake_cgroupfs, root, "P", &err) == 0,
	   "v1: open (%s)", err.msg);
	put("freezer/P/cgroup.procs", "1\n");
	ok(cg_sandbox_create(&cg, "sb1", &lim, &err) == 0, "v1: sandbox sb1 (%s)", err.msg);
	for (size_t i = 0; i < NHOSTILE; i++) {
		const char *h = hostile[i], *s = show(h);

		sb_err_clear(&err);
		ok(cg_sandbox_kill(&cg, h, &err) < 0 && api_status(&err) == 400 && refused_by_name(&err),
		   "v1: cg_sandbox_kill('%s') refused with a 400 (%s)", s, msg(&err));
		ok(cg_sandbox_rename(&cg, "sb1", h, &err) < 0, "v1: cg_sandbox_rename(sb1, '%s') refused", s);
		ok(cg_sandbox_rename(&cg, h, "sb2", &err) < 0, "v1: cg_sandbox_rename('%s', sb2) refused", s);
		ok(cg_sandbox_enter(&cg, h, 4242, &err) < 0, "v1: cg_sandbox_enter('%s') refused", s);
		ok(cg_exec_signal(&cg, "sb1", h, SIGKILL) == 0, "v1: cg_exec_signal(sb1, '%s') signals none", s);
		ok(cg_exec_kill(&cg, "sb1", h, &err) < 0, "v1: cg_exec_kill(sb1, '%s') refused", s);
		cg_exec_reap_all(&cg, h);
	}
	ok(!exists("freezer/freezer.state") && !exists("freezer/P/freezer.state"),
	   "v1: neither the root nor the parent frozen");
	is_str(slurp("freezer/cgroup.procs"), "1\n", "v1: the root's cgroup.procs untouched");
	is_str(slurp("pids/P/cgroup.procs"), NULL, "v1: nothing entered into the parent");
	ok(exists("freezer/P/sb1") && !exists("freezer/P/sb2"), "v1: sb1 not renamed");
	cg_close(&cg);
	remove_root();
}

static int records;

static void count(const char *id, const struct sb_record *r, void *arg)
{
	(void)id, (void)r, (void)arg;
	records++;
}

/* The store, and the app functions above it, on a data dir of their own;
 * app's cgroups on a fake tree. */
static void store_and_app(void)
{
	static struct conf conf;
	struct sb_err err = SB_ERR_INIT;
	struct sb_record r = { .image = "host" };
	struct sandbox_ref sb;
	struct app app;
	char path[128];
	bool created;

	make_root();
	mk("data");
	mk("data/sandboxes");
	snprintf(path, sizeof path, "%s/data", root);
	ok(store_open(&app.store, path, &(struct store_sizes){ { 64 << 20, 16 << 20 }, 1 }, &err) == 0, "store: open (%s)", err.msg);
	for (size_t i = 0; i < NHOSTILE; i++) {
		const char *h = hostile[i], *s = show(h);

		sb_err_clear(&err);
		ok(store_create(&app.store, h, "host", 100000, 10, &r, &created, &err) < 0 && api_status(&err) == 400,
		   "store_create('%s') refused with a 400 (%s)", s, msg(&err));
		ok(store_get(&app.store, h, &r, &err) < 0, "store_get('%s') refused", s);
		ok(store_drop(&app.store, h, &err) < 0, "store_drop('%s') refused", s);
		ok(store_claim(&app.store, ".wabc", h, &r, &err) < 0, "store_claim(.wabc, '%s') refused", s);
		ok(store_history_add(&app.store, h, "{}", 10, "", &err) < 0,
		   "store_history_add('%s') refused", s);
	}
	ok(store_foreach(&app.store, count, NULL, &err) == 0 && records == 0, "store: no record made");

	memset(&app.cg, 0, sizeof app.cg);
	mk("cg");
	put("cg/cgroup.controllers", "memory pids cpu\n");
	snprintf(path, sizeof path, "%s/cg", root);
	ok(cg_open_ops(&app.cg, &fake_cgroupfs, path, "P", &err) == 0,
	   "app: fake cgroups (%s)", err.msg);
	app.conf = &conf;
	snprintf(path, sizeof path, "%s/data/sandboxes", root);
	app.sandboxes_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	app.spares_fd = -1;
	app.capacity_lock = -1;
	app.rid = "unit";
	for (size_t i = 0; i < NHOSTILE; i++) {
		const char *h = hostile[i], *s = show(h);

		sb_err_clear(&err);
		ok(app_sandbox_get(&app, h, true, NULL, &sb, &err) < 0 && api_status(&err) == 400,
		   "app_sandbox_get('%s', create) refused with a 400 (%s)", s, msg(&err));
		sandbox_ref_release(&sb);
		sb_err_clear(&err);
		ok(warm_claim(&app, h, NULL, &sb, &err) < 0 && api_status(&err) == 400,
		   "warm_claim('%s') refused with a 400 (%s)", s, msg(&err));
		sb_err_clear(&err);
		ok(capacity_stop(&app, h, &err) < 0 && api_status(&err) == 400,
		   "capacity_stop('%s') refused with a 400 (%s)", s, msg(&err));
		if (h[0]) {	/* "" is SB_PROC_DIR itself: the check is all that stands */
			int out[2], e;
			errno = 0;
			ok(procs_prepare(h, out, &e) < 0 && errno == EINVAL, "procs_prepare('%s') refused", s);
		}
	}
	ok(!exists("data/x") && !exists("x") && !exists("data/lock") && !exists("lock") &&
	   !exists("cg/cgroup.kill") && !exists("cg/P/cgroup.kill"),
	   "app: nothing made or killed outside data/sandboxes and the parent cgroup");
	close(app.sandboxes_fd);
	cg_close(&app.cg);
	store_close(&app.store);
	remove_root();
}

int main(void)
{
	memset(longname, 'a', sizeof longname - 1);
	names();
	v2();
	v1();
	store_and_app();
	return done_testing();
}
