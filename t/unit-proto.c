/* The worker's side of the init protocol against a fake init on a socket
 * pair: a signal that lands while the worker waits for the answer is not
 * the init going away (every request/reply retries on EINTR). */
#include "config.h"

#include "proto.h"
#include "sandbox.h"
#include "tap.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_signal(int sig) { (void)sig; }

/* The fake init: take one request, let the worker be interrupted while it
 * waits (signals, no SA_RESTART), then answer with type and payload. */
static pid_t fake_init(int sock, uint32_t type, int32_t val, const void *payload, size_t len)
{
	pid_t pid = fork();

	if (pid == 0) {
		char buf[SB_MSG_MAX];
		int fds[SB_MSG_MAXFDS], nfds;
		struct sb_msg m = { .type = type, .val = val };

		if (sb_msg_recv(sock, buf, sizeof buf, fds, &nfds) < (ssize_t)sizeof m)
			_exit(1);
		for (int i = 0; i < 20; i++) {
			kill(getppid(), SIGUSR1);
			usleep(2000);
		}
		_exit(sb_msg_send(sock, &m, payload, len, NULL, 0) < 0);
	}
	return pid;
}

static void reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
}

/* A case: a socket pair of its own (a late answer must not reach the
 * next case) and the fake init on its far end. */
static pid_t begin(int sv[2], uint32_t type, int32_t val, const void *payload, size_t len)
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		exit(99);
	return fake_init(sv[1], type, val, payload, len);
}

static void end(pid_t pid, int sv[2], struct sb_err *err)
{
	reap(pid);
	close(sv[0]);
	close(sv[1]);
	sb_err_clear(err);
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART */
	struct sb_proc_info tab[SB_PROC_MAX], one = { .id = "p1", .pid = 7 };
	struct sb_fs_info fi = { .total_bytes = 1 << 20 }, got;
	struct sb_err err = SB_ERR_INIT;
	int sv[2], killed = 0, n;
	pid_t pid;

	sigaction(SIGUSR1, &sa, NULL);

	pid = begin(sv, SB_MSG_PROCS, 0, &one, sizeof one);
	n = sandbox_plist(sv[0], tab, SB_PROC_MAX, &err);
	ok(n == 1 && tab[0].pid == 7, "process list: interrupted by signals, still the init's answer (%d: %s)",
	   n, n < 0 ? err.msg : "");
	end(pid, sv, &err);

	pid = begin(sv, SB_MSG_FSINFO, 0, &fi, sizeof fi);
	ok(sandbox_statfs(sv[0], &got, &err) == 0 && got.total_bytes == fi.total_bytes,
	   "statfs: interrupted by signals, still the init's answer (%s)", err.msg);
	end(pid, sv, &err);

	pid = begin(sv, SB_MSG_KILLED, 3, NULL, 0);
	ok(sandbox_killall(sv[0], &killed, &err) == 0 && killed == 3,
	   "kill-all: interrupted by signals, still the init's answer (%s)", err.msg);
	end(pid, sv, &err);

	/* silence is a timeout, whichever call meets it */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return 99;
	ok(proto_recv(sv[0], &(struct sb_msg){ 0 }, NULL, 0, 1, &err) < 0 && err.kind == SB_E_TIMEOUT,
	   "no answer in time: an SB_E_TIMEOUT (%s)", err.msg);
	/* 0 or less: what is there now, never a wait (an alarm ends the test
	 * if it blocks) */
	alarm(10);
	ok(proto_recv(sv[0], &(struct sb_msg){ 0 }, NULL, 0, 0, &err) < 0 && err.kind == SB_E_TIMEOUT,
	   "timeout 0, nothing there: an SB_E_TIMEOUT at once (%s)", err.msg);
	ok(proto_recv(sv[0], &(struct sb_msg){ 0 }, NULL, 0, -1, &err) < 0 && err.kind == SB_E_TIMEOUT,
	   "timeout -1, nothing there: an SB_E_TIMEOUT at once (%s)", err.msg);
	alarm(0);
	close(sv[0]);
	close(sv[1]);
	return done_testing();
}
