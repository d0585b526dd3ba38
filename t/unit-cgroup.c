/* What the cgroup code writes where, on fake cgroupfs trees of plain files:
 * the v2 path cannot run on this machine (cgroup v1), so this is how it is
 * checked; the v1 path is checked the same way and for real end to end. */
#include "config.h"

#include "cgroup.h"
#include "tap.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64];

static const char *slurp(const char *rel)
{
	static char buf[4096];
	char path[512];

	snprintf(path, sizeof path, "%s/%s", root, rel);
	if (sb_read_file_at(AT_FDCWD, path, buf, sizeof buf) < 0)
		return NULL;
	return buf;
}

static void put(const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", root, rel);
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void make_root(const char *const *dirs)
{
	char path[512];

	snprintf(root, sizeof root, "/tmp/sbd-fakecg.XXXXXX");
	if (!mkdtemp(root))
		exit(1);
	put(".sandboxd-fake-cgroupfs", "");
	for (; dirs && *dirs; dirs++) {
		snprintf(path, sizeof path, "%s/%s", root, *dirs);
		mkdir(path, 0755);
	}
}

static void remove_root(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", root);
}

static void v2(void)
{
	struct sb_err err = SB_ERR_INIT;
	int fd;
	struct sb_cgroups cg;
	struct cg_limits lim = { .memory_bytes = 512LL << 20, .pids = 100, .cpu_millis = 1500 };
	struct cg_usage u;

	make_root(NULL);
	put("cgroup.controllers", "cpuset cpu io memory pids\n");
	ok(cg_open(&cg, root, "sandboxd-t", &err) == 0, "v2: open (%s)", err.msg);
	ok(cg.version == 2, "v2: detected from cgroup.controllers");
	is_str(slurp("sandboxd-t/cgroup.subtree_control"), "+memory +pids +cpu",
	       "v2: the parent hands memory, pids and cpu to the sandboxes");
	ok(cg_sandbox_create(&cg, "sb1", &lim, &err) == 0, "v2: sandbox cgroup created");
	is_str(slurp("sandboxd-t/sb1/memory.max"), "536870912", "v2: memory.max");
	is_str(slurp("sandboxd-t/sb1/memory.swap.max"), "0", "v2: no swap");
	is_str(slurp("sandboxd-t/sb1/pids.max"), "100", "v2: pids.max");
	is_str(slurp("sandboxd-t/sb1/cpu.max"), "150000 100000", "v2: cpu.max for 1.5 CPUs");
	ok(cg_sandbox_enter(&cg, "sb1", 4242, &err) == 0, "v2: enter");
	is_str(slurp("sandboxd-t/sb1/cgroup.procs"), "4242", "v2: the init goes into the sandbox cgroup");
	fd = cg_exec_open(&cg, "sb1", "w7", &err);
	ok(fd >= 0 && write(fd, "0", 1) == 1, "v2: the exec cgroup's procs file opens for writing");
	close(fd);
	is_str(slurp("sandboxd-t/sb1/w7/cgroup.procs"), "0", "v2: the exec joins its child cgroup");
	ok(cg_exec_kill(&cg, "sb1", "w7", &err) == 0, "v2: exec kill");
	is_str(slurp("sandboxd-t/sb1/w7/cgroup.kill"), "1", "v2: a tree kill is one write to cgroup.kill");
	put("sandboxd-t/sb1/memory.current", "1000\n");
	put("sandboxd-t/sb1/memory.peak", "2000\n");
	put("sandboxd-t/sb1/pids.current", "3\n");
	put("sandboxd-t/sb1/cpu.stat", "usage_usec 4000\nuser_usec 3000\nsystem_usec 1000\n");
	put("sandboxd-t/sb1/memory.events", "low 0\nhigh 0\nmax 5\noom 2\noom_kill 1\n");
	ok(cg_sandbox_usage(&cg, "sb1", &u) == 0, "v2: usage");
	ok(u.memory_current == 1000 && u.memory_peak == 2000 && u.pids == 3 && u.cpu_usec == 4000 &&
	   u.oom_kills == 1, "v2: usage read from memory.current/peak, pids.current, cpu.stat, memory.events");
	lim = (struct cg_limits){ 0, 0, 0 };
	ok(cg_sandbox_create(&cg, "sb2", &lim, &err) == 0, "v2: a sandbox without limits");
	is_str(slurp("sandboxd-t/sb2/memory.max"), "max", "v2: no memory limit is max");
	is_str(slurp("sandboxd-t/sb2/cpu.max"), "max 100000", "v2: no CPU limit is max");
	cg_close(&cg);
	remove_root();
}

static void v1(void)
{
	static const char *const ctrls[] = { "freezer", "pids", "memory", "cpu", "cpuacct", NULL };
	struct sb_err err = SB_ERR_INIT;
	int fd;
	struct sb_cgroups cg;
	struct cg_limits lim = { .memory_bytes = 256LL << 20, .pids = 64, .cpu_millis = 500 };

	make_root(ctrls);
	/* the kernel makes the knob in every memory cgroup when swap is accounted */
	mkdir(strcat(strcpy((char[512]){ 0 }, root), "/memory/sandboxd-t"), 0755);
	put("memory/sandboxd-t/memory.memsw.limit_in_bytes", "");
	ok(cg_open(&cg, root, "sandboxd-t", &err) == 0, "v1: open (%s)", err.msg);
	ok(cg.version == 1, "v1: detected (no cgroup.controllers at the root)");
	ok(cg_sandbox_create(&cg, "sb1", &lim, &err) == 0, "v1: sandbox cgroups created");
	is_str(slurp("memory/sandboxd-t/sb1/memory.limit_in_bytes"), "268435456", "v1: memory limit");
	is_str(slurp("memory/sandboxd-t/sb1/memory.memsw.limit_in_bytes"), "268435456",
	       "v1: memory+swap equal to memory: no swap");
	is_str(slurp("pids/sandboxd-t/sb1/pids.max"), "64", "v1: pids.max");
	is_str(slurp("cpu/sandboxd-t/sb1/cpu.cfs_quota_us"), "50000", "v1: CPU quota for half a CPU");
	is_str(slurp("cpu/sandboxd-t/sb1/cpu.cfs_period_us"), "100000", "v1: CPU period");
	ok(cg_sandbox_enter(&cg, "sb1", 4242, &err) == 0, "v1: enter");
	is_str(slurp("cpuacct/sandboxd-t/sb1/cgroup.procs"), "4242", "v1: the init joins every hierarchy");
	is_str(slurp("memory/sandboxd-t/sb1/cgroup.procs"), "4242", "v1: memory too (once, at start)");
	fd = cg_exec_open(&cg, "sb1", "w7", &err);
	ok(fd >= 0 && write(fd, "0", 1) == 1, "v1: the exec cgroup's procs file opens for writing");
	close(fd);
	is_str(slurp("freezer/sandboxd-t/sb1/w7/cgroup.procs"), "0", "v1: the exec joins only its freezer cgroup");
	ok(!slurp("memory/sandboxd-t/sb1/w7/cgroup.procs"), "v1: never a memory cgroup on the exec path");
	ok(cg_exec_kill(&cg, "sb1", "w7", &err) == 0, "v1: exec kill");
	is_str(slurp("freezer/sandboxd-t/sb1/w7/freezer.state"), "THAWED", "v1: frozen, killed, thawed");
	cg_close(&cg);
	remove_root();
}

int main(void)
{
	v2();
	v1();
	return done_testing();
}
