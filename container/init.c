#include "config.h"

#include "fileops.h"
#include "init.h"
#include "procs.h"
#include "proto.h"
#include "shcmd.h"
#include "util.h"

#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>

#define MAX_CONN 64

struct conn {
	int fd;
	pid_t child;	/* 0: none, >0 running, <0 reaped */
	char *leftover;	/* a clone's sibling directory, removed if it is killed */
	/* an exec's output pipes (write ends), held until the worker hangs
	 * up: the child's exit then hangs up nothing, and the worker wakes
	 * once, for EXITED, instead of once per pipe and again for EXITED
	 * (it reads them to EAGAIN after EXITED: what the command wrote is
	 * there); closed in the wake-up for the hang-up, not in EXITED's */
	int out, err;
	/* an exec whose STARTED waits (SB_EXEC_LATE_START): when it was
	 * forked (CLOCK_MONOTONIC, us); 0: nothing waits */
	int64_t start_due_from;
	/* the child is a service child (a file operation's, a clone's): our
	 * code, never a command, so a stop is the sandbox's doing
	 * (kill_stopped()); stopped_by: the stop that made us kill it */
	bool service;
	int stopped_by;
};

static struct conn conns[MAX_CONN];
static int nconns;
static char msgbuf[SB_MSG_MAX];

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void reply_started(int fd, pid_t pid, int64_t age_us)
{
	struct sb_msg m = { .type = SB_MSG_STARTED, .val = pid };
	struct sb_start_info si = { .age_us = age_us };

	sb_msg_send(fd, &m, &si, sizeof si, NULL, 0);
}

static void reply(int fd, uint32_t type, int32_t val, const char *text)
{
	struct sb_msg m = { .type = type, .val = val };

	sb_msg_send(fd, &m, text, text ? strlen(text) + 1 : 0, NULL, 0);
}

/* The init installs no handler and ignores no signal (its launcher reset
 * them all); it only blocks them, for its signalfd.  A child unblocks. */
static void reset_signals(void)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* An exec's child runs the init's own code and libc's until it execs; the
 * other libraries the init links (libgit2 and its TLS, Kerberos and ssh
 * libraries for clones, json-c, libseccomp, libmnl: ~100 of its ~127
 * mappings) are not copied into it (MADV_DONTFORK), so that a fork copies
 * and its exec tears down a fifth of the mappings: fork + _exit 183 ->
 * 105 us here.  Safe because the child never reaches them: the init is
 * linked -z now (no lazy binding walks their symbol tables), the child is
 * made by _Fork() (no atfork handler of theirs runs), and what it calls is
 * the init's code and libc's.  A file operation's child (a clone runs
 * libgit2) gets them all (fork_whole()).  Not with a sanitizer's runtime,
 * whose interceptors and lazy bindings may reach anything. */
struct lib_seg {
	void *addr;
	size_t len;
};
static struct lib_seg lib_segs[256];
static int nlib_segs;
static bool lib_segs_off;

static bool lib_kept(const char *name)
{
	static const char *const kept[] = { "libc.so", "ld-linux", "linux-vdso", "linux-gate" };
	const char *base = strrchr(name, '/');

	base = base ? base + 1 : name;
	if (!*base)
		return true;	/* the init itself */
	for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
		if (strncmp(base, kept[i], strlen(kept[i])) == 0)
			return true;
	return false;
}

static int lib_seg_add(struct dl_phdr_info *info, size_t size, void *data)
{
	long page = sysconf(_SC_PAGESIZE);

	(void)size;
	(void)data;
	if (strstr(info->dlpi_name, "san.so"))	/* libasan, libubsan, liblsan... */
		lib_segs_off = true;
	if (lib_kept(info->dlpi_name))
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t start = (info->dlpi_addr + ph->p_vaddr) & ~(uintptr_t)(page - 1);
		uintptr_t end = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz + page - 1) & ~(uintptr_t)(page - 1);

		if (ph->p_type != PT_LOAD || end <= start)
			continue;
		if (nlib_segs == (int)(sizeof lib_segs / sizeof *lib_segs)) {
			lib_segs_off = true;
			return 1;
		}
		lib_segs[nlib_segs++] = (struct lib_seg){ (void *)start, end - start };
	}
	return 0;
}

/* advice: MADV_DONTFORK or MADV_DOFORK over every segment; a failure
 * leaves them all copied (MADV_DOFORK), as a fork always did. */
static void lib_segs_advise(int advice)
{
	if (lib_segs_off)
		return;
	for (int i = 0; i < nlib_segs; i++)
		if (madvise(lib_segs[i].addr, lib_segs[i].len, advice) < 0 && advice == MADV_DONTFORK) {
			lib_segs_advise(MADV_DOFORK);
			lib_segs_off = true;
			return;
		}
}

static void lean_forks(void)
{
	dl_iterate_phdr(lib_seg_add, NULL);
	lib_segs_advise(MADV_DONTFORK);
}

/* A child that may run anything the init links (a file operation's). */
static pid_t fork_whole(void)
{
	pid_t pid;
	int saved;

	lib_segs_advise(MADV_DOFORK);
	pid = fork();
	if (pid == 0)
		return 0;
	saved = errno;
	lib_segs_advise(MADV_DONTFORK);
	errno = saved;
	return pid;
}

/* What an exec child needs. */
struct child_args {
	int procs, out, err;	/* the exec cgroup's cgroup.procs, stdout, stderr */
	const char *cwd, *cmd;
	char **envp;
	bool direct;		/* /bin/sh is a dash we know: try without it */
};

static void child_say(const char *what, const char *arg, int e)
{
	const char *parts[] = { "sandbox: ", what, arg, ": ", strerrordesc_np(e), "\n" };

	for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
		if (parts[i] && write(2, parts[i], strlen(parts[i])) < 0)
			return;
}

static size_t env_count(char **envp)
{
	size_t n = 0;

	while (envp[n])
		n++;
	return n;
}

/* Does the sandbox have an /etc/ld.so.preload?  The loader preloads it
 * into dash as into the command (its errors twice, its code in both), so
 * with one the shell runs.  One lstat per exec, from the init's root (the
 * sandbox's own: nothing outside it is looked at); anything there, even a
 * link to nowhere, is reason enough. */
static bool has_ld_preload(void)
{
	struct stat st;

	return lstat("/etc/ld.so.preload", &st) == 0 || (errno != ENOENT && errno != ENOTDIR);
}

/* Is /bin/sh a dash this code was checked against (shcmd.c)?  One stat per
 * exec; the file is read and hashed again only when it changed. */
static bool sh_is_known_dash(void)
{
	static struct stat seen;
	static bool valid, known;
	char buf[65536];
	struct stat st, fst;
	uint64_t h = SB_FNV1A_INIT;
	size_t total = 0;
	ssize_t n;
	int fd;

	if (stat("/bin/sh", &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	if (valid && st.st_dev == seen.st_dev && st.st_ino == seen.st_ino &&
	    st.st_size == seen.st_size && st.st_mtim.tv_sec == seen.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == seen.st_mtim.tv_nsec && st.st_ctim.tv_sec == seen.st_ctim.tv_sec &&
	    st.st_ctim.tv_nsec == seen.st_ctim.tv_nsec)
		return known;
	valid = false;
	if (st.st_size > 4 << 20)
		return false;
	/* the sandbox owns /bin/sh: never block on what it put there */
	fd = open("/bin/sh", O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (fstat(fd, &fst) < 0 || !S_ISREG(fst.st_mode) || fst.st_dev != st.st_dev ||
	    fst.st_ino != st.st_ino) {
		close(fd);
		return false;
	}
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		h = sb_fnv1a(buf, (size_t)n, h);
		total += (size_t)n;
	}
	close(fd);
	if (n < 0)
		return false;
	seen = st;
	valid = true;
	known = total == (size_t)st.st_size && sb_sh_known(h, total);
	return known;
}

static char *path_join(const char *dir, size_t dlen, const char *name)
{
	size_t nlen = strlen(name);
	char *p = malloc(dlen + nlen + 2), *q = p;

	if (!p)
		return NULL;
	/* an empty entry of PATH is the current directory, as in dash's
	 * padvance(): the bare name */
	if (dlen) {
		memcpy(q, dir, dlen);
		q += dlen;
		*q++ = '/';
	}
	memcpy(q, name, nlen + 1);
	return p;
}

/* The candidates dash would execve for argv0, in its order (a name with a
 * '/' as it is, else each entry of PATH); NULL if we cannot tell. */
static char **candidates(const char *argv0, char *const *envp)
{
	const char *path = NULL, *p;
	size_t n = 1;
	char **c;

	if (strchr(argv0, '/')) {
		c = calloc(2, sizeof *c);
		if (c && !(c[0] = strdup(argv0))) {
			free(c);
			return NULL;
		}
		return c;
	}
	for (char *const *e = envp; *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			path = *e + 5;
	if (!path)
		return NULL;	/* dash's own default: leave it to dash */
	for (p = path; *p; p++)
		n += *p == ':';
	c = calloc(n + 1, sizeof *c);
	if (!c)
		return NULL;
	n = 0;
	for (p = path;;) {
		const char *end = strchrnul(p, ':');
		if (!(c[n++] = path_join(p, (size_t)(end - p), argv0)))
			return NULL;
		if (!*end)
			break;
		p = end + 1;
	}
	return c;
}

/* What the vfork child below tries, and what it says when nothing would
 * exec (it shares our memory; statics: nothing of our stack frame). */
static struct {
	char **cand, **argv, **envp;
	volatile int failed;
} direct;

static __attribute__((noinline, noreturn)) void try_candidates(void)
{
	for (char **c = direct.cand; *c; c++) {
		execve(*c, direct.argv, direct.envp);
		/* as dash goes on: not there; anything else (not executable,
		 * not a binary, a directory) is for dash to run or report */
		if (errno != ENOENT && errno != ENOTDIR)
			break;
	}
	direct.failed = 1;
	_exit(127);
}

static __attribute__((noinline)) pid_t spawn_direct(void)
{
	pid_t pid;

	direct.failed = 0;
	pid = vfork();
	if (pid == 0)
		try_candidates();
	return pid;
}

/* The stand-in's signals, as dash 0.5.12 in -c mode has them: SIGINT and
 * SIGCHLD caught (/proc's SigCgt 0x10002, what a command sees of its
 * parent).  A SIGINT is remembered (dash's onsig() with interrupts off
 * while it waits), and once the command has ended the stand-in dies of it
 * (dash's onint(): the default action, raised): the command runs on, its
 * output stays, the answer is 130. */
static volatile sig_atomic_t got_sigint;

static void on_sigint(int sig)
{
	(void)sig;
	got_sigint = 1;
}

static void on_sigchld(int sig)
{
	(void)sig;
}

/* One of them ignored from the start stays so, as in dash's setsignal()
 * (S_HARD_IGN). */
static void catch_one(int sig, void (*handler)(int))
{
	struct sigaction sa = { 0 }, old;

	if (sigaction(sig, NULL, &old) < 0 || old.sa_handler == SIG_IGN)
		return;
	sigfillset(&sa.sa_mask);
	sa.sa_handler = handler;
	sigaction(sig, &sa, NULL);
}

/* A sanitizer build's runtime catches SIGSEGV, SIGBUS, SIGFPE... in the
 * init, and the stand-in, a fork of it, would show them in SigCgt where
 * dash has none: dropped (a normal build's init catches nothing). */
static void drop_inherited_handlers(void)
{
#ifdef __SANITIZE_ADDRESS__
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction old;

		if (sigaction(sig, NULL, &old) == 0 && old.sa_handler != SIG_DFL &&
		    old.sa_handler != SIG_IGN)
			signal(sig, SIG_DFL);
	}
#endif
}

static void catch_as_dash(void)
{
	drop_inherited_handlers();
	catch_one(SIGINT, on_sigint);
	catch_one(SIGCHLD, on_sigchld);
}

static __attribute__((noreturn)) void die_of_sigint(void)
{
	sigset_t none;

	signal(SIGINT, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	raise(SIGINT);
	_exit(128 + SIGINT);
}

/* Back to the defaults before dash takes over (nothing of the command
 * ran).  A SIGINT that came meanwhile would have killed dash had it been
 * there: it kills us (once the default is back, one still pending does). */
static void uncatch(void)
{
	sigset_t both, none;

	sigemptyset(&both);
	sigaddset(&both, SIGINT);
	sigaddset(&both, SIGCHLD);
	sigprocmask(SIG_BLOCK, &both, NULL);
	if (got_sigint)
		die_of_sigint();
	if (signal(SIGINT, SIG_DFL) == SIG_IGN)
		signal(SIGINT, SIG_IGN);
	if (signal(SIGCHLD, SIG_DFL) == SIG_IGN)
		signal(SIGCHLD, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Run a command without a shell, as dash would: the same argv, the
 * environment dash exports (its order, and PWD), from a process that
 * stands where dash would (the session leader, the command's parent, its
 * signals caught as dash's) and reports the end as it does: a signal's
 * name on stderr (not for SIGINT or SIGPIPE) and 128 + the signal, or its
 * own death by a SIGINT it got meanwhile.  The init chose the command (plain
 * words, a plain environment, a known dash).  Returns (for /bin/sh -c)
 * when no candidate would exec or anything is unusual: then nothing of it
 * has run, and dash does it all, its errors included. */
static void exec_direct(const struct child_args *a)
{
	size_t len = strlen(a->cmd), nenv = 0;
	char *words = strdup(a->cmd), **argv = calloc(len / 2 + 2, sizeof *argv);
	char cwd[PATH_MAX + 4] = "PWD=", **envp, **cand;
	int status, sig;
	pid_t pid;

	if (!words || !argv || sb_sh_split(words, argv, len / 2 + 2) < 0)
		return;
	nenv = env_count(a->envp);
	if (!getcwd(cwd + 4, PATH_MAX))
		return;
	envp = calloc(nenv + 2, sizeof *envp);
	if (!envp)
		return;
	memcpy(envp, a->envp, nenv * sizeof *envp);
	envp[nenv] = cwd;
	sb_sh_env_order((const char **)envp, nenv + 1);
	cand = candidates(argv[0], envp);
	if (!cand)
		return;
	prctl(PR_SET_NAME, "sh", 0, 0, 0);
	direct.cand = cand;
	direct.argv = argv;
	direct.envp = envp;
	catch_as_dash();
	pid = spawn_direct();
	if (pid < 0) {
		uncatch();
		return;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (direct.failed) {
		uncatch();
		return;
	}
	if (WIFEXITED(status)) {
		if (got_sigint)
			die_of_sigint();
		_exit(WEXITSTATUS(status));
	}
	sig = WTERMSIG(status);
	if (sig != SIGINT && sig != SIGPIPE) {
		const char *name = strsignal(sig);
		const char *core = WCOREDUMP(status) ? " (core dumped)" : "";
		char msg[128];
		int n = snprintf(msg, sizeof msg, "%s%s\n", name ? name : "", core);

		/* a stderr that fails: the end is the same */
		if (n > 0 && write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1) < 0)
			n = 0;
	}
	if (got_sigint)
		die_of_sigint();
	_exit(128 + sig);
}

/* The child between fork and exec.  It joins the exec's cgroup itself
 * before anything of the command runs; the capabilities, no_new_privs and
 * seccomp filter are the init's, inherited.  (A fork, not a CLONE_VFORK:
 * a sandbox process could stop a vfork child before its exec, and with it
 * the init.) */
__attribute__((noreturn)) static void exec_child(const struct child_args *a)
{
	char *argv[] = { (char *)"sh", (char *)"-c", (char *)a->cmd, NULL };
	sigset_t none;
	int null;

	if (setsid() < 0)
		_exit(127);
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(a->out, 1) < 0 || dup2(a->err, 2) < 0)
		_exit(127);
	if (write(a->procs, "0", 1) != 1) {
		child_say("cannot join the exec cgroup", "", errno);
		_exit(127);
	}
	sb_close_fds_from(3);
	if (chdir(a->cwd) < 0) {
		child_say("cannot enter ", a->cwd, errno);
		_exit(127);
	}
	/* the init blocks every signal (for its signalfd) and handles none */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (a->direct)
		exec_direct(a);
	execve("/bin/sh", argv, a->envp);
	child_say("exec ", "/bin/sh", errno);
	_exit(127);
}

/* Split "K=V\0K=V\0" into an argv-style array (static, bounded). */
static char **split_env(char *env, uint32_t len, uint32_t count)
{
	static char *envp[1025];
	uint32_t n = 0;

	for (char *p = env; p < env + len && n < count && n < 1024; p += strlen(p) + 1)
		envp[n++] = p;
	envp[n] = NULL;
	return envp;
}

/* EXEC (output to the worker's pipes, the child is the connection's) or
 * SPAWN (a background process: output to its logs, the child outlives the
 * connection). */
static void handle_exec(struct conn *c, const struct sb_msg *m, size_t len, int *fds, int nfds,
			bool spawn)
{
	char *p = msgbuf + sizeof *m;
	size_t need = (size_t)m->cwd_len + m->cmd_len + m->env_len + (spawn ? m->id_len : 0);
	struct child_args a = { .procs = nfds ? fds[nfds - 1] : -1, .out = -1, .err = -1 };
	int slot = -1;
	struct stat st;
	pid_t pid;

	if (c->child || nfds != (spawn ? 1 : 3) || need != len - sizeof *m || m->cwd_len == 0 ||
	    m->cmd_len == 0 || p[m->cwd_len - 1] || p[m->cwd_len + m->cmd_len - 1] ||
	    (m->env_len && p[m->cwd_len + m->cmd_len + m->env_len - 1]) ||
	    (spawn && (m->id_len < 2 || m->id_len > 64 || p[need - 1]))) {
		reply(c->fd, SB_MSG_ERROR, EINVAL, "malformed exec request");
		return;
	}
	if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode)) {
		reply(c->fd, SB_MSG_ERROR, stat(p, &st) < 0 ? errno : ENOTDIR, "cwd");
		return;
	}
	if (spawn) {
		slot = procs_prepare(p + need - m->id_len, &a.out, &a.err);
		if (slot < 0) {
			/* not "process", an older init's text for a full
			 * table and full disk alike (both ENOSPC then) */
			reply(c->fd, SB_MSG_ERROR, errno, "process files");
			return;
		}
	} else {
		a.out = fds[0];
		a.err = fds[1];
	}
	a.cwd = p;
	a.cmd = p + m->cwd_len;
	a.envp = split_env(p + m->cwd_len + m->cmd_len, m->env_len, m->env_count);
	/* an exec's command may skip the shell; a background process always
	 * has one (its speed is not the point) */
	a.direct = !spawn && !(m->val & SB_EXEC_SHELL) && sb_sh_simple(a.cmd) &&
		   sb_sh_env_plain((const char *const *)a.envp, env_count(a.envp)) && sh_is_known_dash() &&
		   !has_ld_preload();
	/* _Fork: no atfork handler (the libraries' are not in the child) */
	pid = _Fork();
	if (pid == 0)
		exec_child(&a);
	if (spawn) {
		close(a.out);
		close(a.err);
	}
	if (pid < 0) {
		reply(c->fd, SB_MSG_ERROR, errno, "fork");
		if (spawn)
			procs_abandon(slot);
		return;
	}
	if (spawn) {
		procs_started(slot, pid);
	} else {
		c->child = pid;
		c->out = fds[0];
		c->err = fds[1];
		fds[0] = fds[1] = -1;	/* not closed with the request's */
		if (m->val & SB_EXEC_LATE_START) {
			/* told in SB_LATE_START_MS, or by its EXITED */
			c->start_due_from = mono_us();
			return;
		}
	}
	reply_started(c->fd, pid, 0);
}

/* A clone works in a sibling of its directory ("url\nbranch\nsibling"),
 * renamed into place at the end; the one a killed clone leaves is ours to
 * remove (the worker that asked may be gone). */
static char *clone_sibling(const char *path2)
{
	const char *nl = strchr(path2, '\n');

	nl = nl ? strchr(nl + 1, '\n') : NULL;
	return nl && nl[1] == '/' ? strdup(nl + 1) : NULL;
}

/* Remove a dead clone's sibling in a child of ours, as the sandbox. */
static void remove_clone_leftover(const char *dir)
{
	if (fork_whole() == 0) {
		reset_signals();
		sb_close_fds_from(3);
		sb_remove_tree(dir);
		_exit(0);
	}
}

/* A file operation: a child does it inside the sandbox (fileops.c). */
static void handle_file(struct conn *c, size_t len, int *fds, int nfds)
{
	struct sb_file_req rq;
	char *paths = msgbuf + sizeof(struct sb_msg) + sizeof rq;
	pid_t pid;

	if (c->child || nfds > 1 || len < sizeof(struct sb_msg) + sizeof rq) {
		reply(c->fd, SB_MSG_ERROR, EINVAL, "malformed file request");
		return;
	}
	memcpy(&rq, msgbuf + sizeof(struct sb_msg), sizeof rq);
	if (rq.path_len == 0 || rq.path_len > 8192 || rq.path2_len > 8192 ||
	    len != sizeof(struct sb_msg) + sizeof rq + rq.path_len + rq.path2_len ||
	    paths[rq.path_len - 1] || (rq.path2_len && paths[rq.path_len + rq.path2_len - 1])) {
		reply(c->fd, SB_MSG_ERROR, EINVAL, "malformed file request");
		return;
	}
	pid = fork_whole();
	if (pid == 0) {
		int sock = fcntl(c->fd, F_DUPFD_CLOEXEC, 100);
		int data = nfds ? fcntl(fds[0], F_DUPFD_CLOEXEC, 101) : -1;

		reset_signals();
		/* nothing of the init's (its listening socket, other workers'
		 * connections) stays with a child */
		if (sock < 0 || dup2(sock, 3) < 0 || (data >= 0 && dup2(data, 4) < 0))
			_exit(127);
		sb_close_fds_from(data >= 0 ? 5 : 4);
		sb_fileop_child(3, data >= 0 ? 4 : -1, &rq, paths,
				rq.path2_len ? paths + rq.path_len : "");
	}
	if (pid < 0) {
		reply(c->fd, SB_MSG_ERROR, errno, "fork");
		return;
	}
	c->child = pid;
	c->service = true;
	if (rq.op == SB_FILE_CLONE)
		c->leftover = clone_sibling(rq.path2_len ? paths + rq.path_len : "");
}

static void reap(void);

/* Live (non-zombie) processes of the sandbox other than us. */
static int count_live(void)
{
	int count = 0;
	DIR *d = opendir("/proc");

	if (!d)
		return 0;
	for (struct dirent *de; (de = readdir(d));) {
		long pid = strtol(de->d_name, NULL, 10);
		struct sb_proc_stat st;

		if (pid > 1 && sb_proc_stat((pid_t)pid, &st) == 0 && sb_proc_running(&st))
			count++;
	}
	closedir(d);
	return count;
}

/* Kill every process of the sandbox but us.  kill(-1) from PID 1 reaches
 * every other process of the namespace, setsid and double-forked daemons
 * included; repeat (reaping as we go) until nothing is left to signal. */
static int kill_all(void)
{
	int count = count_live();
	struct timespec ms = { 0, 1000000 };

	for (int i = 0; i < 5000; i++) {
		int r = kill(-1, SIGKILL), kill_errno = errno;
		reap();
		if (r < 0 && kill_errno == ESRCH)
			break;
		nanosleep(&ms, NULL);
	}
	return count;
}

static void handle_packet(struct conn *c)
{
	int fds[SB_MSG_MAXFDS], nfds = 0;
	ssize_t n = sb_msg_recv(c->fd, msgbuf, sizeof msgbuf, fds, &nfds);
	struct sb_msg m;

	if (n <= 0) {
		if (n == 0 || errno != EMSGSIZE) {
			close(c->fd);
			c->fd = -1;
		} else {
			reply(c->fd, SB_MSG_ERROR, EMSGSIZE, "request too large");
		}
		return;
	}
	if ((size_t)n < sizeof m) {
		reply(c->fd, SB_MSG_ERROR, EINVAL, "short request");
		goto out;
	}
	memcpy(&m, msgbuf, sizeof m);
	switch (m.type) {
	case SB_MSG_EXEC:
	case SB_MSG_SPAWN:
		handle_exec(c, &m, (size_t)n, fds, nfds, m.type == SB_MSG_SPAWN);
		break;
	case SB_MSG_PLIST: {
		static char table[SB_PROC_MAX * sizeof(struct sb_proc_info)];
		struct sb_msg r = { .type = SB_MSG_PROCS };
		sb_msg_send(c->fd, &r, table, procs_list(table, sizeof table), NULL, 0);
		break;
	}
	case SB_MSG_KILLALL:
		reply(c->fd, SB_MSG_KILLED, kill_all(), NULL);
		break;
	case SB_MSG_FILE:
		handle_file(c, (size_t)n, fds, nfds);
		break;
	case SB_MSG_STATFS: {
		struct statfs sf;
		struct sb_fs_info fi = { 0 };
		struct sb_msg r = { .type = SB_MSG_FSINFO };
		if (statfs("/", &sf) == 0) {
			fi.total_bytes = (uint64_t)sf.f_blocks * (uint64_t)sf.f_bsize;
			fi.used_bytes = (uint64_t)(sf.f_blocks - sf.f_bfree) * (uint64_t)sf.f_bsize;
			fi.total_inodes = sf.f_files;
			fi.used_inodes = sf.f_files - sf.f_ffree;
		}
		sb_msg_send(c->fd, &r, &fi, sizeof fi, NULL, 0);
		break;
	}
	default:
		reply(c->fd, SB_MSG_ERROR, EINVAL, "unknown request");
	}
out:
	for (int i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* The exec's pipes go with its connection. */
static void release_pipes(struct conn *c)
{
	if (c->out >= 0)
		close(c->out);
	if (c->err >= 0)
		close(c->err);
	c->out = c->err = -1;
}

static void reap(void)
{
	int status;
	pid_t pid;

	struct rusage ru;

	while ((pid = wait4(-1, &status, WNOHANG, &ru)) > 0) {
		if (procs_reaped(pid, status))
			continue;
		for (int i = 0; i < nconns; i++) {
			if (conns[i].child != pid)
				continue;
			conns[i].child = -1;
			conns[i].start_due_from = 0;	/* EXITED says it */
			/* a clone killed in the sandbox could not remove its sibling */
			if (WIFSIGNALED(status) && conns[i].leftover)
				remove_clone_leftover(conns[i].leftover);
			if (conns[i].fd >= 0) {
				struct sb_msg m = { .type = SB_MSG_EXITED, .val = status };
				struct sb_exit_info x = {
					.utime_us = ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec,
					.stime_us = ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec,
					.maxrss_kb = ru.ru_maxrss,
					.stopped_by = conns[i].stopped_by,
				};
				sb_msg_send(conns[i].fd, &m, &x, sizeof x, NULL, 0);
			}
		}
	}
}

/* A service child (a file operation's, a clone's) that a sandbox process
 * stopped: killed, now.  It runs in the sandbox's pid namespace as the
 * sandbox's root, so any process of the sandbox may SIGSTOP it, and its
 * worker then waited for it as for a slow child (30 s on its data pipe, 30 s
 * for its answer), holding a reload or a shutdown as long (the stop signals
 * are blocked while a request is served).  A SIGCONT would be undone by the
 * next SIGSTOP; nothing of ours ever stops it, so a stop is an attack on the
 * operation, and the operation ends as if a sandbox process had killed it
 * (a write's unnamed file goes with it: the target keeps its content).  A
 * stop and a continue in between our looks is seen too (WCONTINUED).  The
 * kernel tells us of a stop with SIGCHLD (CLD_STOPPED: we never set
 * SA_NOCLDSTOP), our signalfd wakes us, and waitid() here says which: called
 * after each read of the signalfd, so a SIGCHLD merged with another pending
 * one is not lost.  A command (an exec, a background process) is the
 * sandbox's own: it may stop it, and its own timeout bounds it. */
static void kill_stopped(void)
{
	for (int i = 0; i < nconns; i++) {
		struct conn *c = &conns[i];
		siginfo_t si = { 0 };

		if (!c->service || c->child <= 0 || c->stopped_by)
			continue;
		if (waitid(P_PID, (id_t)c->child, &si, WSTOPPED | WCONTINUED | WNOHANG) < 0 ||
		    si.si_pid != c->child)
			continue;
		c->stopped_by = si.si_code == CLD_CONTINUED ? SIGCONT : si.si_status;
		kill(c->child, SIGKILL);
	}
}

/* A connection whose worker went away: its child's tree goes too (the
 * worker's cgroup clean-up catches what left the process group). */
static void drop_closed(void)
{
	int j = 0;

	for (int i = 0; i < nconns; i++) {
		struct conn *c = &conns[i];
		if (c->fd < 0) {
			if (c->child > 0) {
				kill(-c->child, SIGKILL);
				kill(c->child, SIGKILL);
				/* a dead clone writes no more: then its sibling goes */
				if (c->leftover) {
					int status;

					while (waitpid(c->child, &status, 0) < 0 && errno == EINTR)
						;
					remove_clone_leftover(c->leftover);
				}
			}
			free(c->leftover);
			release_pipes(c);
			continue;
		}
		conns[j++] = *c;
	}
	nconns = j;
}

/* Late starts that are due: told now.  Returns poll()'s timeout until the
 * next one (-1: none waits). */
static int tell_late_starts(void)
{
	int64_t now = mono_us(), next = -1;

	for (int i = 0; i < nconns; i++) {
		struct conn *c = &conns[i];
		int64_t due;

		if (!c->start_due_from)
			continue;
		due = c->start_due_from + SB_LATE_START_MS * 1000LL;
		if (c->fd >= 0 && due <= now) {
			reply_started(c->fd, c->child, now - c->start_due_from);
			c->start_due_from = 0;
			continue;
		}
		if (next < 0 || due - now < next)
			next = due - now;
	}
	return next < 0 ? -1 : (int)((next + 999) / 1000);
}

void sb_init_serve(int listen_fd)
{
	struct pollfd pfd[MAX_CONN + 2 + 2 * SB_PROC_MAX];
	sigset_t mask;
	int sfd;

	prctl(PR_SET_NAME, "sandbox-init", 0, 0, 0);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	sigfillset(&mask);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		_exit(1);
	lean_forks();
	for (;;) {
		int n = 0;

		pfd[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = nconns < MAX_CONN ? listen_fd : -1, .events = POLLIN };
		for (int i = 0; i < nconns; i++)
			pfd[n++] = (struct pollfd){ .fd = conns[i].fd, .events = POLLIN };
		int nprocs = procs_pollfds(pfd + n, 2 * SB_PROC_MAX);
		if (poll(pfd, (nfds_t)(n + nprocs), tell_late_starts()) < 0)
			continue;
		procs_handle(pfd + n, nprocs);
		if (pfd[0].revents) {
			/* one read takes what is queued (a read that fills the
			 * array may leave more) */
			struct signalfd_siginfo si[16];
			while (read(sfd, si, sizeof si) == sizeof si)
				;
			reap();
			kill_stopped();
		}
		for (int i = 0; i < nconns; i++)
			if (pfd[i + 2].revents & (POLLIN | POLLHUP | POLLERR))
				handle_packet(&conns[i]);
		drop_closed();
		if (pfd[1].revents & POLLIN) {
			int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				conns[nconns++] = (struct conn){ .fd = fd, .child = 0, .out = -1, .err = -1 };
		}
	}
}
