/* Sandbox start, the worker's side.  A worker forks; the child keeps only
 * the ready pipe, the instance's cgroup dirs and a pipe with the launch
 * settings (launch.h), and execs sandboxd-init through the fd the service
 * opened at start (sandbox_init_open).  The launcher and the init run in
 * that clean image (sandboxd-init.c), never in a copy of the worker. */
#include "config.h"

#include "sandbox.h"
#include "launch.h"

#include <dirent.h>
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
 * service reaches the sandbox (runc CVE-2024-21626).  Everything else goes
 * first: the moves need no fd number above 3 + 2n, so any soft
 * RLIMIT_NOFILE that holds those works (a fixed number to move them to,
 * once 1000, is refused under a limit at or below it).  No room: EMFILE. */
static int keep_fds(int *fds, int n)
{
	int sorted[3 + CG_NDIRS], lo = 3;

	if (n < 1 || n > (int)(sizeof sorted / sizeof *sorted)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(sorted, fds, (size_t)n * sizeof *fds);
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
			int t = sorted[j];

			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	for (int i = 0; i < n; i++) {
		if (sorted[i] > lo)
			syscall(SYS_close_range, (unsigned)lo, (unsigned)sorted[i] - 1, 0U);
		if (sorted[i] >= lo)
			lo = sorted[i] + 1;
	}
	sb_close_fds_from(lo);
	/* out of the way of 3 .. 3 + n - 1, then down there in order (a
	 * limit at or below 3 + n: EINVAL, no room either) */
	for (int i = 0; i < n; i++)
		if ((fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3 + n)) < 0) {
			if (errno == EINVAL)
				errno = EMFILE;
			return -1;
		}
	syscall(SYS_close_range, 3U, (unsigned)(3 + n - 1), 0U);
	for (int i = 0; i < n; i++)
		if ((fds[i] = fcntl(fds[i], i < n - 1 ? F_DUPFD : F_DUPFD_CLOEXEC, 3 + i)) != 3 + i)
			return -1;
	sb_close_fds_from(3 + n);
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

/* sandbox_prepare_net: the prefix of the host end's name of the veth a
 * launcher makes ahead (nothing of a sandbox's); empty without a network */
static char net_prefix[9];

void sandbox_prepare_net(const char *prefix)
{
	snprintf(net_prefix, sizeof net_prefix, "%s", prefix);
}

/* sandbox_prepare_ctl: DATA/sandboxes, where a launcher binds its control
 * socket ahead (.ctl-PID/ctl); empty: none bound ahead */
static char ctl_base[PATH_MAX];

void sandbox_prepare_ctl(const char *sandboxes_dir)
{
	if ((size_t)snprintf(ctl_base, sizeof ctl_base, "%s", sandboxes_dir) >= sizeof ctl_base - 32)
		ctl_base[0] = '\0';
}

/* The directory of pid's launchers' control sockets bound ahead; false
 * when there is none (no base, a path too long). */
static bool ctl_dir(const char *base, pid_t pid, char *out, size_t len)
{
	return base[0] && (size_t)snprintf(out, len, "%s/.ctl-%d", base, (int)pid) < len;
}

/* A control socket pid's launcher bound ahead and did not take into a
 * sandbox (killed, dropped, failed), and the directory it was bound in. */
static void ctl_remove(const char *base, pid_t pid)
{
	char dir[PATH_MAX], sock[PATH_MAX + 8];

	if (!ctl_dir(base, pid, dir, sizeof dir))
		return;
	snprintf(sock, sizeof sock, "%s/ctl", dir);
	unlink(sock);
	rmdir(dir);
}

void sandbox_ctl_leftovers(const char *sandboxes_dir, pid_t pid)
{
	cleanup_close int fd = -1;
	struct dirent *e;
	DIR *d;

	if (pid > 0) {
		ctl_remove(sandboxes_dir, pid);
		return;
	}
	fd = open(sandboxes_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d)
		return;
	fd = -1;	/* the DIR owns it */
	while ((e = readdir(d))) {
		char *end;
		long p;

		if (strncmp(e->d_name, ".ctl-", 5))
			continue;
		p = strtol(e->d_name + 5, &end, 10);
		if (p > 0 && !*end)
			ctl_remove(sandboxes_dir, (pid_t)p);
	}
	closedir(d);
}

/* The child of the worker: hand over to sandboxd-init, which waits for
 * its settings on the conf pipe (written by the worker when a sandbox is to
 * start, launch_conf: not argv, which a sandbox could read on its init's
 * command line). */
__attribute__((noreturn)) static void launch_exec(const struct sb_cgroups *cg, int readyfd, int conffd)
{
	char *argv[] = { (char *)"sandbox-init", NULL }, *envp[] = { NULL };
	int keep[3 + CG_NDIRS], n = 0;

	reset_signals();
	keep[n++] = readyfd;
	keep[n++] = conffd;
	for (int i = 0; i < CG_NDIRS; i++)
		if (cg->dir[i] >= 0)
			keep[n++] = cg->dir[i];
	keep[n++] = init_binary;
	if (keep_fds(keep, n) < 0)
		exec_fail(readyfd, "pass fds to the sandbox init");
	readyfd = keep[0];
	syscall(SYS_execveat, keep[n - 1], "", argv, envp, AT_EMPTY_PATH);
	exec_fail(readyfd, "exec sandboxd-init");
}

/* A launcher exec'd ahead of its start: sandboxd-init running in a fresh
 * image of its own (no byte of the worker), its libraries loaded and its
 * seccomp filter compiled, blocked reading the settings of the sandbox it
 * will start.  One per process, used once, for one sandbox: never a fork
 * of anything that saw another sandbox's settings.  It holds no sandbox's
 * cgroup, namespace or file until its settings come; a worker that exits
 * closes the conf pipe and the launcher ends on the EOF. */
struct launcher {
	pid_t pid;			/* 0: none */
	int conf, ready;		/* our ends of its conf and ready pipes */
	const struct sb_cgroups *cg;	/* the cgroup dirs it was given */
	bool present[CG_NDIRS];
};

static struct launcher spare;

static void launcher_drop(struct launcher *l)
{
	if (l->pid > 0) {
		kill(l->pid, SIGKILL);
		while (waitpid(l->pid, NULL, 0) < 0 && errno == EINTR)
			;
		/* the control socket it bound ahead: a launcher killed cannot
		 * remove it (one killed before it bound one: nothing there) */
		ctl_remove(ctl_base, getpid());
	}
	if (l->conf >= 0)
		close(l->conf);
	if (l->ready >= 0)
		close(l->ready);
	*l = (struct launcher){ .pid = 0, .conf = -1, .ready = -1 };
}

static int launcher_spawn(const struct sb_cgroups *cg, struct launcher *l)
{
	int ready[2], conf[2];

	if (init_binary < 0) {
		errno = EBADF;
		return -1;
	}
	if (pipe2(ready, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(conf, O_CLOEXEC) < 0) {
		close(ready[0]);
		close(ready[1]);
		return -1;
	}
	l->pid = fork();
	if (l->pid == 0)
		launch_exec(cg, ready[1], conf[0]);
	close(ready[1]);
	close(conf[0]);
	if (l->pid < 0) {
		close(ready[0]);
		close(conf[1]);
		l->pid = 0;
		return -1;
	}
	l->ready = ready[0];
	l->conf = conf[1];
	l->cg = cg;
	for (int i = 0; i < CG_NDIRS; i++)
		l->present[i] = cg->dir[i] >= 0;
	/* what it makes while it waits; the fault makes it build the pair at
	 * the start, as when the pair could not be made ahead (t/0085
	 * compares both) */
	struct sb_launch_ahead a = { .magic = SB_LAUNCH_AHEAD_MAGIC };
	if (!sb_fault_on("net-no-ahead"))
		memcpy(a.net_prefix, net_prefix, sizeof net_prefix);
	/* and its control socket, in a directory of this process's (one
	 * launcher of ours waits at a time); the fault binds it at the
	 * start, as before (t/0025 compares both) */
	if (!sb_fault_on("ctl-no-ahead") && !ctl_dir(ctl_base, getpid(), a.ctl_dir, sizeof a.ctl_dir))
		a.ctl_dir[0] = '\0';
	if (sb_write_full(l->conf, &a, sizeof a) < 0) {
		launcher_drop(l);
		return -1;
	}
	return 0;
}

static bool same_cg(const struct launcher *l, const struct sb_cgroups *cg)
{
	if (l->cg != cg)
		return false;
	for (int i = 0; i < CG_NDIRS; i++)
		if (l->present[i] != (cg->dir[i] >= 0))
			return false;
	return true;
}

/* Whether launcher pid has ended (not reaped: launcher_drop does that). */
static bool launcher_ended(pid_t pid)
{
	siginfo_t si = { 0 };

	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid != 0;
}

/* The spare launcher if it is still waiting and was given these cgroup
 * dirs, else a new one. */
static int launcher_get(const struct sb_cgroups *cg, struct launcher *l)
{
	if (spare.pid > 0 && (!same_cg(&spare, cg) || launcher_ended(spare.pid)))
		launcher_drop(&spare);
	if (spare.pid > 0) {
		*l = spare;
		spare = (struct launcher){ .pid = 0, .conf = -1, .ready = -1 };
		return 0;
	}
	*l = (struct launcher){ .pid = 0, .conf = -1, .ready = -1 };
	return launcher_spawn(cg, l);
}

/* Set by sandbox_prepare_drop(): no launcher exec'd ahead any more. */
static bool prepare_off;

void sandbox_prepare(const struct sb_cgroups *cg)
{
	if (spare.pid > 0 || prepare_off)
		return;
	spare = (struct launcher){ .pid = 0, .conf = -1, .ready = -1 };
	launcher_spawn(cg, &spare);
}

void sandbox_prepare_drop(void)
{
	prepare_off = true;
	if (spare.pid > 0)
		launcher_drop(&spare);
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

/* The next record of the ready pipe; 0 at EOF. */
static int ready_next(int fd, struct sb_ready *r)
{
	if (sb_read_full(fd, r, sizeof *r) != (ssize_t)sizeof *r)
		return 0;
	r->msg[sizeof r->msg - 1] = '\0';
	return 1;
}

static int launch_failed(struct sb_launch *l, const struct sb_ready *r, int status, struct sb_err *err)
{
	if (r && (r->val == EMFILE || r->val == ENFILE)) {
		/* the service's fd limit (or the host's): not a bug of ours */
		sb_fail(err, SB_E_BUSY, r->val, "sandbox %s failed to start: %s (the service's RLIMIT_NOFILE "
			"or the host's file table has no room)", l->id, r->msg);
	} else if (r && (r->val == ENOSPC || r->val == EDQUOT)) {
		/* a full disk (the host's data disk, or the sandbox's own),
		 * as every other full disk answers: 507, not a bug of ours */
		sb_fail(err, SB_E_NO_SPACE, r->val, "sandbox %s failed to start: %s (no space left on a "
			"disk it needs)", l->id, r->msg);
	} else if (r) {
		sb_fail(err, SB_E_INTERNAL, 0, "sandbox %s failed to start: %s", l->id, r->msg);
		err->errnum = r->val;
	} else if (WIFSIGNALED(status)) {
		/* killed by someone else (the OOM killer, an admin) */
		sb_fail(err, SB_E_BUSY, EINTR, "sandbox %s failed to start: its launcher was killed (signal %d); "
			"try again", l->id, WTERMSIG(status));
	} else {
		sb_fail(err, SB_E_INTERNAL, 0, "sandbox %s failed to start (launcher status %d)", l->id, status);
	}
	sandbox_launch_abort(l);
	return -1;
}

/* One launcher given the settings and waited for: 1 when its word (the
 * init's pid) came, or any record from a launcher that exited; 0 when it
 * was killed (a signal: someone else's, the OOM killer's) before its word,
 * and nothing of the sandbox runs (nothing it made holds the ready pipe,
 * or the init it forked was killed); -1 on any other failure. */
static int launch_once(const struct sb_spec *s, const struct sb_launch_conf *conf, struct sb_launch *out,
		       struct sb_ready *r, int *statusp, struct sb_err *err)
{
	struct launcher l;
	int status = 0;

	if (launcher_get(s->cg, &l) < 0)
		return sb_syserr(err, "fork launcher");
	/* it fits the pipe's buffer: written whole before the launcher reads */
	if (sb_write_full(l.conf, conf, sizeof *conf) < 0) {
		bool gone = errno == EPIPE;

		sb_syserr(err, "sandbox %s: hand the settings to its launcher", s->id);
		launcher_drop(&l);
		/* gone before it read them: a wait status "killed" */
		*statusp = SIGKILL;
		return gone ? 0 : -1;
	}
	close(l.conf);
	l.conf = -1;
	while (waitpid(l.pid, &status, 0) < 0 && errno == EINTR)
		;
	l.pid = 0;
	/* it took its control socket into the sandbox's dir, or removed it
	 * on a failure, unless it was killed */
	if (!WIFEXITED(status))
		ctl_remove(ctl_base, getpid());
	*statusp = status;
	out->ready = l.ready;
	l.ready = -1;
	if (!ready_next(out->ready, r))
		return WIFSIGNALED(status) ? 0 : launch_failed(out, NULL, status, err);
	if (r->kind == SB_READY_PID || !WIFSIGNALED(status))
		return 1;
	/* killed between the init's fork and its word: the init runs (its
	 * records came first), and nothing knows its pid.  It goes, with
	 * whatever it made (we hold the start lock: nothing else of the
	 * sandbox runs), and a new launcher starts the sandbox */
	if (cg_sandbox_kill(s->cg, s->id, err) < 0)
		return launch_failed(out, NULL, status, err);
	return 0;
}

int sandbox_launch(const struct sb_spec *s, struct sb_launch *out, pid_t *pid, struct sb_err *err)
{
	static struct sb_launch_conf conf;
	struct sb_ready r;
	int got, status = 0;

	*out = (struct sb_launch){ .ready = -1, .id = s->id, .cg = s->cg };
	if (init_binary < 0)
		return sb_fail(err, SB_E_INTERNAL, EBADF, "sandbox %s: sandboxd-init was not opened", s->id);
	if (launch_conf(s, &conf) < 0)
		return sb_syserr(err, "sandbox %s: settings", s->id);
	/* a launcher killed before a word: once more, with a new one */
	for (int tries = 2; (got = launch_once(s, &conf, out, &r, &status, err)) == 0;) {
		sb_closep(&out->ready);
		out->ready = -1;
		if (--tries == 0)
			return launch_failed(out, NULL, status, err);
	}
	if (got < 0)
		return -1;
	/* records: the launcher's READY_PID, then the init's OK or anyone's ERR */
	if (r.kind != SB_READY_PID || r.val <= 0)
		return launch_failed(out, r.kind == SB_READY_ERR ? &r : NULL, status, err);
	out->init = r.val;
	*pid = r.val;
	return 0;
}

int sandbox_launch_wait(struct sb_launch *l, struct sb_err *err)
{
	struct sb_ready r;
	int got = ready_next(l->ready, &r);

	if (!got || r.kind != SB_READY_OK)
		return launch_failed(l, got && r.kind == SB_READY_ERR ? &r : NULL, 0, err);
	sb_closep(&l->ready);
	l->ready = -1;
	/* the next start's launcher, exec'd while this request is answered */
	sandbox_prepare(l->cg);
	return 0;
}

void sandbox_launch_abort(struct sb_launch *l)
{
	if (l->init > 0)
		kill(l->init, SIGKILL);
	l->init = 0;
	if (l->ready >= 0)
		close(l->ready);
	l->ready = -1;
	sandbox_prepare(l->cg);
}

int sandbox_start(const struct sb_spec *s, pid_t *pid, struct sb_err *err)
{
	struct sb_launch l;

	if (sandbox_launch(s, &l, pid, err) < 0)
		return -1;
	return sandbox_launch_wait(&l, err);
}
