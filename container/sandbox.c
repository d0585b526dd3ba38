/* Sandbox start, the worker's side.  A worker forks; the child keeps only
 * the ready pipe, the instance's cgroup dirs and a pipe with the launch
 * settings (launch.h), and execs sandboxd-init through the fd the service
 * opened at start (sandbox_init_open).  The launcher and the init run in
 * that clean image (sandboxd-init.c), never in a copy of the worker. */
#include "config.h"

#include "sandbox.h"
#include "launch.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* sandboxd-init, opened O_PATH once at start: the binary every sandbox
 * start execs, whatever happens to its path afterwards (an upgrade that
 * replaces it keeps running sandboxes and workers on one build). */
static int init_binary = -1;

static void reset_signals(void)
{
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

__attribute__((noreturn)) static void exec_fail(int readyfd, const char *what)
{
	struct sb_ready r = { .kind = SB_READY_ERR, .val = errno };

	snprintf(r.msg, sizeof r.msg, "%s: %s", what, strerrordesc_np(r.val));
	sb_write_full(readyfd, &r, sizeof r);
	_exit(1);
}

/* Keep exactly the fds listed (renumbered from 3 up, in order, without
 * O_CLOEXEC unless it is the last, the binary); everything else the worker
 * had open (FastCGI sockets, LMDB, logs) is closed so that nothing of the
 * service reaches the sandbox (runc CVE-2024-21626). */
static int keep_fds(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if ((fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 1000 + i)) < 0)
			return -1;
	syscall(SYS_close_range, 3U, 999U, 0U);
	for (int i = 0; i < n; i++)
		if ((fds[i] = fcntl(fds[i], i < n - 1 ? F_DUPFD : F_DUPFD_CLOEXEC, 3 + i)) != 3 + i)
			return -1;
	sb_close_fds_from(1000);
	return 0;
}

static int launch_conf(const struct sb_spec *s, struct sb_launch_conf *c)
{
	memset(c, 0, sizeof *c);
	c->magic = SB_LAUNCH_MAGIC;
	c->size = sizeof *c;
	c->cg_version = s->cg->version;
	for (int i = 0; i < CG_NDIRS; i++)
		c->cg_present[i] = s->cg->dir[i] >= 0;
	c->host_dirs = s->host_dirs;
	c->disk = s->disk;
	c->uid_base = s->uid_base;
	if (s->net) {
		const char *resolv = s->net->resolv ? s->net->resolv : "";

		c->net = 1;
		c->net_addr = s->net->addr;
		c->net_gw = s->net->gw;
		if (strlen(s->net->host_if) >= sizeof c->net_host_if || strlen(resolv) >= sizeof c->net_resolv) {
			errno = ENAMETOOLONG;
			return -1;
		}
		strcpy(c->net_host_if, s->net->host_if);
		strcpy(c->net_resolv, resolv);
	}
	if ((size_t)snprintf(c->ca_bundle, sizeof c->ca_bundle, "%s", s->ca_bundle ? s->ca_bundle : "") >=
		    sizeof c->ca_bundle ||
	    (size_t)snprintf(c->id, sizeof c->id, "%s", s->id) >= sizeof c->id ||
	    (size_t)snprintf(c->sandbox_dir, sizeof c->sandbox_dir, "%s", s->sandbox_dir) >= sizeof c->sandbox_dir ||
	    (size_t)snprintf(c->image_dir, sizeof c->image_dir, "%s", s->image_dir) >= sizeof c->image_dir) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* The child of the worker: hand over to sandboxd-init.  The settings go
 * through a pipe, written before the exec (they fit its buffer), not
 * argv: a sandbox could read its init's command line. */
__attribute__((noreturn)) static void launch_exec(const struct sb_spec *s, int readyfd)
{
	static struct sb_launch_conf conf;
	char *argv[] = { (char *)"sandbox-init", NULL }, *envp[] = { NULL };
	int keep[3 + CG_NDIRS], n = 0, p[2];

	reset_signals();
	if (launch_conf(s, &conf) < 0)
		exec_fail(readyfd, "sandbox settings");
	if (pipe2(p, O_CLOEXEC) < 0)
		exec_fail(readyfd, "pipe");
	if (sb_write_full(p[1], &conf, sizeof conf) < 0)
		exec_fail(readyfd, "write the sandbox settings");
	close(p[1]);
	keep[n++] = readyfd;
	keep[n++] = p[0];
	for (int i = 0; i < CG_NDIRS; i++)
		if (s->cg->dir[i] >= 0)
			keep[n++] = s->cg->dir[i];
	keep[n++] = init_binary;
	if (keep_fds(keep, n) < 0)
		exec_fail(readyfd, "pass fds to the sandbox init");
	readyfd = keep[0];
	syscall(SYS_execveat, keep[n - 1], "", argv, envp, AT_EMPTY_PATH);
	exec_fail(readyfd, "exec sandboxd-init");
}

/* Where sandboxd-init is: installed, SB_INIT_DIR; relocated under a
 * DESTDIR (t/0019 runs an install there), the same path below the root
 * the running sandboxd was installed into; in a build tree, beside it. */
static int find_init(char *out, size_t len, struct sb_err *err)
{
	const char *sbin = SB_SBINDIR "/sandboxd";
	char exe[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	size_t el, sl = strlen(sbin);
	struct stat st;

	if (n < 0)
		return sb_syserr(err, "readlink /proc/self/exe");
	exe[n] = '\0';
	el = (size_t)n;
	if (el >= sl && !strcmp(exe + el - sl, sbin)) {
		snprintf(out, len, "%.*s%s/sandboxd-init", (int)(el - sl), exe, SB_INIT_DIR);
		if (stat(out, &st) == 0)
			return 0;
	}
	slash = strrchr(exe, '/');
	snprintf(out, len, "%.*s/sandboxd-init", (int)(slash ? slash - exe : 0), exe);
	if (stat(out, &st) == 0)
		return 0;
	snprintf(out, len, "%s/sandboxd-init", SB_INIT_DIR);
	if (stat(out, &st) == 0)
		return 0;
	return sb_fail(err, SB_E_INTERNAL, ENOENT, "no sandboxd-init in %s nor beside %s: install it (make install)",
		       SB_INIT_DIR, exe);
}

int sandbox_init_open(char *path, size_t len, struct sb_err *err)
{
	struct stat st, self;
	int fd;

	if (find_init(path, len, err) < 0)
		return -1;
	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return sb_syserr(err, "open %s", path);
	/* what every sandbox's PID 1 runs may be replaced by root, or by
	 * whoever could replace this program already (a build tree), and by
	 * nobody else */
	if (fstat(fd, &st) < 0 || stat("/proc/self/exe", &self) < 0 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != 0 && st.st_uid != self.st_uid) || (st.st_mode & 022)) {
		close(fd);
		return sb_fail(err, SB_E_INTERNAL, EPERM, "%s: not a regular file that only root (or the owner "
			       "of sandboxd) may write", path);
	}
	if (init_binary >= 0)
		close(init_binary);
	init_binary = fd;
	return 0;
}

int sandbox_start(const struct sb_spec *s, pid_t *pid, struct sb_err *err)
{
	cleanup_close int rd = -1;
	int ready[2], status;
	struct sb_ready r;
	pid_t l, init = 0;

	if (init_binary < 0)
		return sb_fail(err, SB_E_INTERNAL, EBADF, "sandbox %s: sandboxd-init was not opened", s->id);
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
		launch_exec(s, ready[1]);
	}
	close(ready[1]);
	rd = ready[0];
	while (waitpid(l, &status, 0) < 0 && errno == EINTR)
		;
	/* records: the launcher's READY_PID, then the init's OK or anyone's ERR */
	while (sb_read_full(rd, &r, sizeof r) == (ssize_t)sizeof r) {
		r.msg[sizeof r.msg - 1] = '\0';
		if (r.kind == SB_READY_PID) {
			init = r.val;
		} else if (r.kind == SB_READY_OK && init > 0) {
			*pid = init;
			return 0;
		} else if (r.kind == SB_READY_ERR) {
			if (init > 0)
				kill(init, SIGKILL);
			sb_fail(err, SB_E_INTERNAL, 0, "sandbox %s failed to start: %s", s->id, r.msg);
			err->errnum = r.val;
			return -1;
		}
	}
	if (init > 0)
		kill(init, SIGKILL);
	return sb_fail(err, SB_E_INTERNAL, 0, "sandbox %s failed to start (launcher status %d)", s->id, status);
}
