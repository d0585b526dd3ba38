/* What the cgroup code writes where, on fake cgroupfs trees of plain files:
 * the v2 path cannot run on this machine (cgroup v1), so this is how it is
 * checked; the v1 path is checked the same way and for real end to end.
 * Then, as root on a real cgroup hierarchy, the kill path with real
 * processes and a pid recycled on purpose. */
#include "config.h"

#include "cgroup.h"
#include "tap.h"
#include "faketree.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *slurp_at(int dirfd, const char *rel)
{
	static char buf[4096];

	if (sb_read_file_at(dirfd, rel, buf, sizeof buf) < 0)
		return NULL;
	return buf;
}

static void make_root(const char *const *dirs)
{
	char path[512];

	snprintf(root, sizeof root, "/tmp/sbd-fakecg.XXXXXX");
	if (!mkdtemp(root))
		exit(1);
	for (; dirs && *dirs; dirs++) {
		snprintf(path, sizeof path, "%s/%s", root, *dirs);
		mkdir(path, 0755);
	}
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
	ok(cg_open_ops(&cg, &fake_cgroupfs, root, "sandboxd-t", &err) == 0,
	   "v2: open (%s)", err.msg);
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
	ok(cg_open_ops(&cg, &fake_cgroupfs, root, "sandboxd-t", &err) == 0,
	   "v1: open (%s)", err.msg);
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

/* A child that joins the exec cgroup through procs_fd and waits to be
 * killed, SIGUSR1 blocked: one sent stays pending, for us to see; returned
 * once it has joined. */
static pid_t child(int procs_fd)
{
	sigset_t usr1;
	int p[2];
	char c = 0;
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		sigprocmask(SIG_BLOCK, &usr1, NULL);
		if (procs_fd >= 0 && write(procs_fd, "0", 1) != 1)
			_exit(1);
		if (write(p[1], "j", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (pid > 0 && read(p[0], &c, 1) != 1)
		pid = -1;
	close(p[0]);
	return pid;
}

/* A child outside the exec cgroup with exactly the pid `want` (free: its
 * holder was reaped), as a process of the host that took the number over
 * would have it: clone3's set_tid (root).  SIGUSR1 blocked, as child()'s.
 * -1 with errno when the kernel will not. */
static pid_t child_with_pid(pid_t want)
{
	struct clone_args ca;
	sigset_t usr1, old;
	pid_t tid = want;
	long r;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &old);	/* inherited by the child */
	memset(&ca, 0, sizeof ca);
	ca.exit_signal = SIGCHLD;
	ca.set_tid = (uint64_t)(uintptr_t)&tid;
	ca.set_tid_size = 1;
	r = syscall(SYS_clone3, &ca, sizeof ca);
	if (r == 0)
		for (;;)
			pause();
	sigprocmask(SIG_SETMASK, &old, NULL);
	return (pid_t)r;
}

/* Whether sig is pending for the process pid (blocked there: the kill(2)
 * or pidfd_send_signal(2) that sent it queued it before returning). */
static bool pending(pid_t pid, int sig)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if (sb_read_file_at(AT_FDCWD, path, buf, sizeof buf) < 0 || !(p = strstr(buf, "\nShdPnd:")))
		return false;
	return strtoull(p + 8, NULL, 16) >> (sig - 1) & 1;
}

/* How pid ended: its signal number, 0 when it is still running. */
static int ended_by(pid_t pid)
{
	int st;

	for (int i = 0; i < 5000; i++) {	/* a SIGKILL is delivered at once */
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFSIGNALED(st) ? WTERMSIG(st) : -1;
		if (r < 0)
			return -1;
		usleep(1000);
	}
	return 0;
}

/* The kill path against a real cgroup with real processes.  A pid read
 * from cgroup.procs may be taken over by a process of the host once its
 * holder has exited and been reaped (a freeze that did not complete, a
 * thawed cgroup): here that happens on purpose, and the stranger with the
 * recycled pid must not get the signal that a member of the list gets. */
static void real(void)
{
	struct sb_err err = SB_ERR_INIT;
	struct cg_limits lim = { 0, 0, 0 };
	struct sb_cgroups cg;
	char parent[64];
	pid_t list[2], gone, member, stranger, d1, d2;
	int fd, dirfd, sent;

	snprintf(parent, sizeof parent, "sandboxd-unit-%d", (int)getpid());
	if (geteuid() != 0 || cg_open(&cg, "/sys/fs/cgroup", parent, &err) < 0) {
		ok(1, "# SKIP real cgroups need root and a cgroup hierarchy (%s)", err.msg);
		return;
	}
	dirfd = cg.version == 2 ? cg.dir[0] : cg.dir[CG_FREEZER];
	ok(cg_sandbox_create(&cg, "sb", &lim, &err) == 0, "real v%d: sandbox cgroup (%s)", cg.version, err.msg);
	fd = cg_exec_open(&cg, "sb", "e1", &err);
	ok(fd >= 0, "real: exec cgroup (%s)", err.msg);
	gone = child(fd);
	member = child(fd);
	ok(gone > 0 && member > 0, "real: two children joined the exec cgroup");
	/* the list as a kill reads it; then the first one exits, is reaped,
	 * and its pid is taken by a process outside the cgroup */
	list[0] = gone;
	list[1] = member;
	kill(gone, SIGKILL);
	ok(ended_by(gone) == SIGKILL, "real: the first exits and is reaped (pid %d free)", (int)gone);
	stranger = child_with_pid(gone);
	if (stranger < 0)
		ok(1, "# SKIP clone3 set_tid refused (%s): no recycled pid to test", strerror(errno));
	else
		ok(stranger == gone, "real: a process outside the cgroup now holds pid %d", (int)gone);
	sent = cg_signal_members(dirfd, "sb/e1/cgroup.procs", list, 2, SIGUSR1);
	ok(pending(member, SIGUSR1), "real: the member still listed gets the signal");
	if (stranger > 0) {
		ok(!pending(stranger, SIGUSR1), "real: the process that took the listed pid over does not");
		ok(sent == 1, "real: one process signalled (got %d)", sent);
		kill(stranger, SIGKILL);
		ended_by(stranger);
	}
	kill(member, SIGKILL);
	ended_by(member);
	/* the whole kill path: freeze, signal by pidfd, thaw, until empty */
	d1 = child(fd);
	d2 = child(fd);
	ok(d1 > 0 && d2 > 0, "real: two more children in the exec cgroup");
	ok(cg_exec_kill(&cg, "sb", "e1", &err) == 0, "real: exec kill (%s)", err.msg);
	ok(ended_by(d1) == SIGKILL && ended_by(d2) == SIGKILL, "real: both killed");
	is_str(slurp_at(dirfd, "sb/e1/cgroup.procs"), "", "real: the exec cgroup is empty");
	if (fd >= 0)
		close(fd);
	cg_exec_remove(&cg, "sb", "e1");
	ok(cg_destroy_all(&cg, "/sys/fs/cgroup", parent) == 0, "real: cgroups removed");
}

int main(void)
{
	v2();
	v1();
	real();
	return done_testing();
}
