/* Sandbox start.  A worker forks a launcher (host root), which joins the
 * sandbox's cgroups, binds the control socket and forks the init into a new
 * pid namespace.  The init (PID 1 there) unshares mount, net, uts, ipc and
 * cgroup namespaces, builds the root filesystem while it still has host privilege,
 * pivots into it, then enters a fresh user namespace whose root is the
 * sandbox's own uid range, mapped by the launcher.  The namespaces other
 * than the user one stay owned by the host, so the sandbox's root has no
 * power over its mounts, network or hostname.  The launcher exits; the init
 * is reparented away from the worker and outlives it. */
#include "config.h"

#include "sandbox.h"
#include "init.h"
#include "lockdown.h"
#include "rootfs.h"

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

struct ready_rec {
	int32_t kind;	/* READY_PID, READY_OK, READY_ERR */
	int32_t val;
	char msg[248];
};
enum { READY_PID = 1, READY_OK, READY_ERR };

static void ready_send(int fd, int kind, int val, const char *msg)
{
	struct ready_rec r = { .kind = kind, .val = val };

	if (msg)
		snprintf(r.msg, sizeof r.msg, "%s", msg);
	sb_write_full(fd, &r, sizeof r);
}

__attribute__((noreturn)) static void child_fail(int readyfd, const struct sb_err *err)
{
	ready_send(readyfd, READY_ERR, err->errnum, err->msg);
	_exit(1);
}

static void reset_signals(void)
{
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Keep exactly the fds listed (renumbered from 3 up, in order); everything
 * else the worker had open (FastCGI sockets, LMDB, logs) is closed so that
 * nothing of the service reaches the sandbox (runc CVE-2024-21626). */
static void keep_fds(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 1000 + i);
	syscall(SYS_close_range, 3U, 999U, 0U);
	for (int i = 0; i < n; i++)
		fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3 + i);
	sb_close_fds_from(1000);
}

static int write_id_maps(pid_t pid, uid_t base, struct sb_err *err)
{
	char path[64], map[64];

	snprintf(map, sizeof map, "0 %u 65536\n", (unsigned)base);
	snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
	if (sb_write_file_at(AT_FDCWD, path, map) < 0)
		return sb_syserr(err, "write uid_map");
	snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
	if (sb_write_file_at(AT_FDCWD, path, map) < 0)
		return sb_syserr(err, "write gid_map");
	return 0;
}

struct holder { int rd, wr; };

static int hold_userns(void *arg)
{
	struct holder *h = arg;
	char c;

	close(h->wr);
	while (read(h->rd, &c, 1) < 0 && errno == EINTR)
		;
	return 0;
}

/* The sandbox's user namespace (0..65535 -> its uid range), as an fd: made
 * by a throwaway child that shares our memory (no copy of the worker's
 * pages) and lives just long enough to be mapped.  The init idmaps its
 * image with it, then enters it last. */
static int make_userns(uid_t base, struct sb_err *err)
{
	static char stack[8192] __attribute__((aligned(16)));
	struct holder h;
	int p[2], fd = -1, status;
	char path[64];
	pid_t c;

	if (pipe2(p, O_CLOEXEC) < 0)
		return sb_syserr(err, "pipe");
	h.rd = p[0];
	h.wr = p[1];
	c = clone(hold_userns, stack + sizeof stack, CLONE_NEWUSER | CLONE_VM | SIGCHLD, &h);
	if (c < 0) {
		sb_syserr(err, "clone user namespace");
	} else if (write_id_maps(c, base, err) == 0) {
		snprintf(path, sizeof path, "/proc/%d/ns/user", (int)c);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			sb_syserr(err, "open %s", path);
	}
	close(p[0]);
	close(p[1]);
	if (c > 0)
		while (waitpid(c, &status, 0) < 0 && errno == EINTR)
			;
	return fd;
}

__attribute__((noreturn)) static void init_child(const struct sb_spec *s, int readyfd,
						 int listenfd, int usernsfd)
{
	struct sb_err err = SB_ERR_INIT;
	int null;

	struct rootfs_spec rs = {
		.image_dir = s->image_dir, .sandbox_dir = s->sandbox_dir, .hostname = s->id,
		.uid_base = s->uid_base, .disk = s->disk, .usernsfd = usernsfd,
		.host_dirs = s->host_dirs,
	};
	if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP) < 0) {
		sb_syserr(&err, "unshare namespaces");
		child_fail(readyfd, &err);
	}
	if (rootfs_setup(&rs, &err) < 0)
		child_fail(readyfd, &err);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0) {
		sb_syserr(&err, "open /dev/null");
		child_fail(readyfd, &err);
	}
	close(null);
	/* last: the other namespaces stay owned by the host's user namespace */
	if (setns(usernsfd, CLONE_NEWUSER) < 0) {
		sb_syserr(&err, "enter the user namespace");
		child_fail(readyfd, &err);
	}
	close(usernsfd);
	if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
		sb_syserr(&err, "become the sandbox's root");
		child_fail(readyfd, &err);
	}
	/* the init itself is locked down: every process of the sandbox is its
	 * descendant and inherits the bounding set, no_new_privs and the
	 * filter (one filter, compiled and loaded once per sandbox start) */
	if (sb_lockdown_prepare(&err) < 0)
		child_fail(readyfd, &err);
	if (sb_lockdown_apply() < 0) {
		sb_syserr(&err, "lock down the init");
		child_fail(readyfd, &err);
	}
	sb_proctitle_set("sandbox-init");
	ready_send(readyfd, READY_OK, 0, NULL);
	if (dup2(listenfd, 3) < 0)
		_exit(1);
	sb_close_fds_from(4);
	sb_init_serve(3);
}

static int bind_ctl(int sbdirfd, struct sb_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	/* a relative name keeps us within sun_path whatever the data dir */
	snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/ctl", sbdirfd);
	unlinkat(sbdirfd, "ctl", 0);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sb_syserr(err, "socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    fchmodat(sbdirfd, "ctl", 0600, 0) < 0 || listen(fd, 64) < 0) {
		sb_syserr(err, "bind control socket");
		close(fd);
		return -1;
	}
	return fd;
}

__attribute__((noreturn)) static void launcher(const struct sb_spec *s, int readyfd)
{
	struct sb_err err = SB_ERR_INIT;
	struct sb_cgroups cg;
	int keep[2 + CG_NDIRS], listenfd, usernsfd;
	pid_t init;

	reset_signals();
	setsid();
	keep[0] = readyfd;
	keep[1] = open(s->sandbox_dir, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (keep[1] < 0) {
		sb_syserr(&err, "open sandbox dir");
		child_fail(readyfd, &err);
	}
	/* the cgroup directories survive the fd sweep: we enter them below */
	for (int i = 0; i < CG_NDIRS; i++)
		keep[2 + i] = s->cg->dir[i] >= 0 ? s->cg->dir[i] : keep[1];
	keep_fds(keep, 2 + CG_NDIRS);
	readyfd = keep[0];
	cg = *s->cg;
	for (int i = 0; i < CG_NDIRS; i++) {
		cg.dir[i] = s->cg->dir[i] >= 0 ? keep[2 + i] : -1;
		if (cg.dir[i] < 0)
			close(keep[2 + i]);	/* a placeholder copy */
	}
	if (cg_sandbox_enter(&cg, s->id, getpid(), &err) < 0)
		child_fail(readyfd, &err);
	cg_close(&cg);
	listenfd = bind_ctl(keep[1], &err);
	if (listenfd < 0)
		child_fail(readyfd, &err);
	close(keep[1]);
	/* before the pid namespace: its first child would be that one's PID 1 */
	usernsfd = make_userns(s->uid_base, &err);
	if (usernsfd < 0)
		child_fail(readyfd, &err);
	/* the next child is PID 1 of a new pid namespace; the other namespaces
	 * are the init's alone (pivot_root would move us along otherwise) */
	if (unshare(CLONE_NEWPID) < 0) {
		sb_syserr(&err, "unshare pid namespace");
		child_fail(readyfd, &err);
	}
	init = fork();
	if (init < 0) {
		sb_syserr(&err, "fork init");
		child_fail(readyfd, &err);
	}
	if (init == 0)
		init_child(s, readyfd, listenfd, usernsfd);
	ready_send(readyfd, READY_PID, init, NULL);
	_exit(0);
}

int sandbox_start(const struct sb_spec *s, pid_t *pid, struct sb_err *err)
{
	cleanup_close int rd = -1;
	int ready[2], status;
	struct ready_rec r;
	pid_t l, init = 0;

	if (pipe2(ready, O_CLOEXEC) < 0)
		return sb_syserr(err, "pipe");
	l = fork();
	if (l < 0) {
		close(ready[0]);
		close(ready[1]);
		return sb_syserr(err, "fork launcher");
	}
	if (l == 0) {
		close(ready[0]);
		launcher(s, ready[1]);
	}
	close(ready[1]);
	rd = ready[0];
	while (waitpid(l, &status, 0) < 0 && errno == EINTR)
		;
	/* records: the launcher's READY_PID, then the init's OK or anyone's ERR */
	while (sb_read_full(rd, &r, sizeof r) == (ssize_t)sizeof r) {
		r.msg[sizeof r.msg - 1] = '\0';
		if (r.kind == READY_PID) {
			init = r.val;
		} else if (r.kind == READY_OK && init > 0) {
			*pid = init;
			return 0;
		} else if (r.kind == READY_ERR) {
			if (init > 0)
				kill(init, SIGKILL);
			sb_fail(err, 500, 0, "sandbox %s failed to start: %s", s->id, r.msg);
			err->errnum = r.val;
			return -1;
		}
	}
	if (init > 0)
		kill(init, SIGKILL);
	return sb_fail(err, 500, 0, "sandbox %s failed to start (launcher status %d)", s->id, status);
}
