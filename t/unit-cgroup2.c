/* The cgroup v2 code on a real cgroup2 hierarchy, with real processes: this
 * machine (like CI) runs the service on v1, and most production hosts are
 * v2-only.  cgroup2 is mounted in a private mount namespace (it vanishes
 * with us); the instance's parent is a cgroup of our own in it, removed at
 * the end.
 *
 * Where the hierarchy offers the memory, pids and cpu controllers (a
 * v2-only host), cg_open is the service's own and the limits are checked
 * in the v2 files.  Where v1 holds them (a hybrid host, as here: cgroup2
 * has no controller to give), cg_open must refuse with a reason, and the
 * rest runs on the same parent made by hand: what needs no controller is
 * what kills, moves and freezes processes (cgroup.procs, cgroup.kill,
 * cgroup.freeze, cgroup.events), the exec path and every stop. */
#include "config.h"

#include "cgroup.h"
#include "tap.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char mnt[64], parent[64];

static void nap(void)
{
	struct timespec ts = { 0, 2000000 };

	nanosleep(&ts, NULL);
}

static const char *slurp(const char *rel)
{
	static char buf[4096];
	char path[256];

	snprintf(path, sizeof path, "%s/%s/%s", mnt, parent, rel);
	if (sb_read_file_at(AT_FDCWD, path, buf, sizeof buf) < 0)
		return NULL;
	return buf;
}

static bool exists(const char *rel)
{
	char path[256];

	snprintf(path, sizeof path, "%s/%s/%s", mnt, parent, rel);
	return access(path, F_OK) == 0;
}

/* pid is listed in rel's cgroup.procs */
static bool member(const char *rel, pid_t pid)
{
	char file[160];
	const char *s;

	snprintf(file, sizeof file, "%s/cgroup.procs", rel);
	s = slurp(file);
	for (const char *p = s; p && *p;) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p)
			break;
		if (v == pid)
			return true;
		p = end + (*end == '\n');
	}
	return false;
}

/* wait (bounded) until pid is reaped; its wait status, or -1 */
static int reap(pid_t pid)
{
	int st;

	for (int i = 0; i < 2500; i++, nap()) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r < 0)
			return -1;
	}
	return -1;
}

static pid_t sleeper(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	return pid;
}

/* As an exec child of the init does: join the exec cgroup by writing "0"
 * to the fd cg_exec_open gave, then leave a setsid'd grandchild behind.
 * The grandchild's pid comes back on a pipe; both wait to be killed. */
static pid_t exec_child(int cgfd, pid_t *grandchild)
{
	int p[2];
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		pid_t g;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (write(cgfd, "0", 1) != 1)
			_exit(1);
		g = fork();
		if (g == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			setsid();
			for (;;)
				pause();
		}
		if (write(p[1], &g, sizeof g) != sizeof g)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (pid < 0 || read(p[0], grandchild, sizeof *grandchild) != sizeof *grandchild)
		*grandchild = -1;
	close(p[0]);
	return pid;
}

static bool has_controllers(void)
{
	char path[128], buf[512];

	snprintf(path, sizeof path, "%s/cgroup.controllers", mnt);
	if (sb_read_file_at(AT_FDCWD, path, buf, sizeof buf) < 0)
		return false;
	return strstr(buf, "memory") && strstr(buf, "pids") && strstr(buf, "cpu");
}

/* Limits in the v2 files: only where the controllers are ours. */
static void check_limits(struct sb_cgroups *cg)
{
	struct sb_err err = SB_ERR_INIT;
	struct cg_limits lim = { .memory_bytes = 100 << 20, .pids = 50, .cpu_millis = 500 };

	ok(cg_sandbox_create(cg, "lim", &lim, &err) == 0, "cg_sandbox_create with limits (%s)", err.msg);
	is_str(slurp("lim/memory.max"), "104857600\n", "memory.max is 100 MiB");
	is_str(slurp("lim/memory.swap.max"), "0\n", "memory.swap.max is 0");
	is_str(slurp("lim/pids.max"), "50\n", "pids.max is 50");
	is_str(slurp("lim/cpu.max"), "50000 100000\n", "cpu.max is 50000 of 100000");
}

/* The sandbox's own cgroup: made by cg_sandbox_create where the controllers
 * are ours, by hand otherwise (its knobs are the controllers'). */
static void make_sandbox(struct sb_cgroups *cg, bool controllers)
{
	struct sb_err err = SB_ERR_INIT;
	struct cg_limits none = { 0 };
	char path[256];

	if (controllers) {
		ok(cg_sandbox_create(cg, "sb1", &none, &err) == 0, "cg_sandbox_create sb1 (%s)", err.msg);
		return;
	}
	snprintf(path, sizeof path, "%s/%s/sb1", mnt, parent);
	ok(mkdir(path, 0755) == 0, "the sandbox's cgroup sb1 (made by hand: no controllers here)");
}

static void run(struct sb_cgroups *cg, bool controllers)
{
	struct sb_err err = SB_ERR_INIT;
	pid_t init, b, c, d, d2;
	int fd, st;

	if (controllers)
		check_limits(cg);
	make_sandbox(cg, controllers);

	/* a sandbox's init enters its cgroup */
	init = sleeper();
	ok(cg_sandbox_enter(cg, "sb1", init, &err) == 0, "cg_sandbox_enter moves the init (%s)", err.msg);
	ok(member("sb1", init), "sb1/cgroup.procs lists it");

	/* an exec: the child joins e1 by the fd, leaves a setsid'd grandchild */
	fd = cg_exec_open(cg, "sb1", "e1", &err);
	ok(fd >= 0, "cg_exec_open sb1/e1 (%s)", err.msg);
	b = exec_child(fd, &c);
	close(fd);
	ok(b > 0 && c > 0 && member("sb1/e1", b) && member("sb1/e1", c),
	   "the exec child joined e1 through the fd, and its setsid'd child is there too");
	ok(!member("sb1", b), "and is not in the sandbox's own cgroup any more");

	/* a signal to the exec's processes: frozen meanwhile, thawed after */
	ok(cg_exec_signal(cg, "sb1", "e1", SIGCONT) == 2, "cg_exec_signal reaches both");
	is_str(slurp("sb1/e1/cgroup.freeze"), "0\n", "and leaves e1 thawed");

	/* a timeout: everything of the exec dies, the setsid'd one included */
	ok(cg_exec_kill(cg, "sb1", "e1", &err) == 0, "cg_exec_kill (cgroup.kill) (%s)", err.msg);
	st = reap(b);
	ok(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the exec child was killed");
	st = reap(c);
	ok(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "its setsid'd child too");
	ok(member("sb1", init), "the init lives on");
	cg_exec_remove(cg, "sb1", "e1");
	ok(!exists("sb1/e1"), "cg_exec_remove removes the empty e1");

	/* an exec that ended with a child still running: it moves up */
	fd = cg_exec_open(cg, "sb1", "e2", &err);
	d = exec_child(fd, &d2);
	close(fd);
	ok(member("sb1/e2", d) && member("sb1/e2", d2), "a second exec in e2");
	ok(cg_exec_release(cg, "sb1", "e2") == 0, "cg_exec_release");
	ok(member("sb1", d) && member("sb1", d2) && !member("sb1/e2", d),
	   "moves what the exec left running to the sandbox's cgroup");
	is_str(slurp("sb1/e2/cgroup.freeze"), "0\n", "and thaws e2");
	cg_exec_remove(cg, "sb1", "e2");
	ok(!exists("sb1/e2"), "which then goes");

	/* a master restarting after a crash: exec cgroups left behind */
	fd = cg_exec_open(cg, "sb1", "e7", &err);
	b = exec_child(fd, &c);
	close(fd);
	ok(member("sb1/e7", b), "an exec in e7 of a worker that died");
	ok(cg_exec_reap_every(cg) == 1, "cg_exec_reap_every finds that one exec cgroup");
	ok(reap(b) >= 0 && reap(c) >= 0 && !exists("sb1/e7"), "kills its processes and removes it");
	ok(member("sb1", init) && member("sb1", d), "and leaves the sandbox's own processes");

	/* a stop: the whole sandbox */
	ok(cg_sandbox_kill(cg, "sb1", &err) == 0, "cg_sandbox_kill (%s)", err.msg);
	ok(reap(init) >= 0 && reap(d) >= 0 && reap(d2) >= 0, "the init and everything left are dead");
	is_str(slurp("sb1/cgroup.procs"), "", "sb1 is empty");

	/* the service's stop: every sandbox and the parent */
	b = sleeper();
	ok(cg_sandbox_enter(cg, "sb1", b, &err) == 0 && cg_sandbox_rename(cg, "sb1", "sb2", &err) < 0,
	   "cgroup2 has no rename: cg_sandbox_rename refuses (%s)", err.msg);
	ok(cg_destroy_all(cg, mnt, parent) == 0, "cg_destroy_all");
	ok(reap(b) >= 0, "kills the sandboxes' processes");
	ok(!exists(""), "and removes the instance's cgroup");
}

int main(void)
{
	struct sb_cgroups cg;
	struct sb_err err = SB_ERR_INIT;
	char path[256];
	bool controllers;
	int rc;

	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root (mounts cgroup2)\n");
		return 0;
	}
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		printf("1..0 # SKIP no private mount namespace: %s\n", strerror(errno));
		return 0;
	}
	snprintf(mnt, sizeof mnt, "/tmp/sbd-cg2.XXXXXX");
	if (!mkdtemp(mnt))
		return 1;
	if (mount("cgroup2", mnt, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		printf("1..0 # SKIP this kernel mounts no cgroup2: %s\n", strerror(errno));
		rmdir(mnt);
		return 0;
	}
	/* the grandchildren left by exec_child are ours to reap */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	snprintf(parent, sizeof parent, "sandboxd-unit-cg2-%d", (int)getpid());
	controllers = has_controllers();
	printf("# cgroup2 at %s; memory, pids, cpu %s\n", mnt,
	       controllers ? "available: the service's own cg_open" : "held by v1: the parent made by hand");
	if (controllers) {
		rc = cg_open(&cg, mnt, parent, &err);
		ok(rc == 0 && cg.version == 2, "cg_open finds cgroup2 (%s)", err.msg);
	} else {
		rc = cg_open(&cg, mnt, parent, &err);
		ok(rc < 0 && strstr(err.msg, "enable controllers"),
		   "cg_open refuses a cgroup2 without the controllers, saying so (%s)", err.msg);
		snprintf(path, sizeof path, "%s/%s", mnt, parent);
		mkdir(path, 0755);
		cg = (struct sb_cgroups){ .version = 2, .ops = &cg_kernel };
		for (int i = 0; i < CG_NDIRS; i++)
			cg.dir[i] = -1;
		cg.dir[0] = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		rc = cg.dir[0] >= 0 ? 0 : -1;
	}
	if (rc == 0)
		run(&cg, controllers);
	/* whatever failed: nothing of ours stays in the host's cgroup2 */
	if (exists("")) {
		static const char *const left[] = { "sb1/e1", "sb1/e2", "sb1/e7", "sb1", "lim", "" };
		snprintf(path, sizeof path, "%s/%s/cgroup.kill", mnt, parent);
		sb_write_file_at(AT_FDCWD, path, "1");
		for (int i = 0; i < 500 && !strstr(slurp("cgroup.events") ?: "", "populated 0"); i++)
			nap();
		for (size_t i = 0; i < sizeof left / sizeof *left; i++) {
			snprintf(path, sizeof path, "%s/%s/%s", mnt, parent, left[i]);
			rmdir(path);
		}
	}
	umount2(mnt, MNT_DETACH);
	rmdir(mnt);
	return done_testing();
}
