/* spawn-floor: what starting a command costs this machine, the floor of an
 * exec: fork + exec /bin/true + wait, plain and after setns() into the six
 * namespaces a sandbox's init holds (user, mnt, pid, net, uts, ipc; uid 0
 * mapped to 100000 as a sandbox's is), one after the other and from LOOPS
 * processes at once.  As root.  ./dev bench runs it.
 *
 *	spawn-floor [N [LOOPS [rates]]]
 *
 * Prints one JSON object a line: latencies (median, p90, p99 in ms over N
 * spawns; not with "rates") and rates (spawns a second, LOOPS loops of N
 * each). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SANDBOX_NS (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC)

static int init_pidfd = -1;

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void run_true(void)
{
	static char prog[] = "/bin/true";
	char *argv[] = { prog, NULL };

	execv(prog, argv);
	_exit(127);
}

/* One spawn as sandboxd's exec makes it: into the init's namespaces (a pid
 * namespace applies to children: one fork more), then fork + exec. */
static int spawn(int in_sandbox)
{
	pid_t p = fork();
	int st;

	if (p < 0)
		return -1;
	if (p == 0) {
		if (!in_sandbox)
			run_true();
		if (setns(init_pidfd, SANDBOX_NS) < 0)
			_exit(126);
		p = fork();
		if (p == 0)
			run_true();
		if (p < 0 || waitpid(p, &st, 0) < 0)
			_exit(125);
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 124);
	}
	if (waitpid(p, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		return -1;
	return 0;
}

static int latency(const char *name, int in_sandbox, int n)
{
	double *v = calloc(n, sizeof(*v));

	if (!v)
		return -1;
	for (int i = 0; i < n; i++) {
		double t = now_ms();

		if (spawn(in_sandbox) < 0) {
			fprintf(stderr, "spawn-floor: %s failed\n", name);
			free(v);
			return -1;
		}
		v[i] = now_ms() - t;
	}
	qsort(v, n, sizeof(*v), cmp);
	printf("{\"name\": \"%s\", \"median\": %.4f, \"p90\": %.4f, \"p99\": %.4f, \"n\": %d}\n", name,
	       v[n / 2], v[n * 9 / 10], v[n * 99 / 100], n);
	free(v);
	return 0;
}

/* LOOPS processes, each spawning N one after the other, started together
 * (they wait for the pipe to close): spawns a second over all of them. */
static int rate(const char *name, int in_sandbox, int n, int loops)
{
	int go[2], bad = 0, st;
	pid_t pids[64];
	double t;
	char c;

	if (loops > 64 || pipe(go) < 0)
		return -1;
	for (int k = 0; k < loops; k++) {
		pid_t p = pids[k] = fork();

		if (p < 0)
			return -1;
		if (p == 0) {
			close(go[1]);
			if (read(go[0], &c, 1) < 0)
				_exit(1);
			for (int i = 0; i < n; i++)
				if (spawn(in_sandbox) < 0)
					_exit(1);
			_exit(0);
		}
	}
	close(go[0]);
	t = now_ms();
	close(go[1]);
	for (int k = 0; k < loops; k++)
		bad |= waitpid(pids[k], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st);
	t = now_ms() - t;
	if (bad) {
		fprintf(stderr, "spawn-floor: %s failed\n", name);
		return -1;
	}
	printf("{\"name\": \"%s, %d loops\", \"rate\": %.1f, \"loops\": %d, \"n\": %d}\n", name, loops,
	       loops * n / (t / 1e3), loops, loops * n);
	return 0;
}

static int write_file(pid_t pid, const char *file, const char *text)
{
	char path[64];
	int fd, r;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
	close(fd);
	return r;
}

/* A stand-in for a sandbox's init: a process in new namespaces (its parent
 * unshared them; the init is its child, pid 1 of the new pid namespace)
 * that waits until `hold` closes.  Returns the init's pidfd. */
static int start_holder(int hold[2])
{
	int ready[2], go[2], pfd[2];
	pid_t holder, init = 0;
	char c;

	if (pipe(ready) < 0 || pipe(go) < 0 || pipe(pfd) < 0)
		return -1;
	holder = fork();
	if (holder < 0)
		return -1;
	if (holder == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(hold[1]);
		if (unshare(SANDBOX_NS) < 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(1);
		init = fork();
		if (init == 0) {
			while (read(hold[0], &c, 1) > 0)
				;
			_exit(0);
		}
		if (init < 0 || write(pfd[1], &init, sizeof(init)) != sizeof(init))
			_exit(1);
		waitpid(init, NULL, 0);
		_exit(0);
	}
	close(hold[0]);
	if (read(ready[0], &c, 1) != 1 || write_file(holder, "uid_map", "0 100000 65536\n") < 0 ||
	    write_file(holder, "setgroups", "deny\n") < 0 || write_file(holder, "gid_map", "0 100000 65536\n") < 0 ||
	    write(go[1], "g", 1) != 1 || read(pfd[0], &init, sizeof(init)) != sizeof(init)) {
		fprintf(stderr, "spawn-floor: no sandbox stand-in (%s; as root?)\n", strerror(errno));
		return -1;
	}
	return (int)syscall(SYS_pidfd_open, init, 0);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 200;
	int loops = argc > 2 ? atoi(argv[2]) : 2;
	int rates_only = argc > 3 && !strcmp(argv[3], "rates");
	int hold[2];

	if (n < 1 || loops < 1) {
		fprintf(stderr, "usage: spawn-floor [N [LOOPS]]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pipe(hold) < 0)
		return 1;
	init_pidfd = start_holder(hold);
	if (init_pidfd < 0)
		return 1;
	if ((!rates_only && (latency("fork+exec+wait", 0, n) < 0 || latency("setns+fork+exec+wait", 1, n) < 0)) ||
	    rate("fork+exec+wait", 0, n, loops) < 0 || rate("setns+fork+exec+wait", 1, n, loops) < 0)
		return 1;
	close(hold[1]);
	while (wait(NULL) > 0)
		;
	return 0;
}
