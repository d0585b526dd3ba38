/* The worker's side of an exec and of a kill-all: requests to the init over
 * its control socket, output pumped from two pipes, the wall timeout. */
#include "config.h"

#include "proto.h"
#include "sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sched.h>
#include <unistd.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

/* After a kill, how long the init may take to report the exit. */
#define EXIT_GRACE_MS 5000

void sb_buf_release(struct sb_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void sb_exec_res_release(struct sb_exec_res *res)
{
	sb_buf_release(&res->out);
	sb_buf_release(&res->err);
}

bool sandbox_alive(pid_t pid, unsigned long long start)
{
	/* the start time and the state from one read of the same process: a
	 * recycled pid has another start time, a zombie is not alive (called
	 * for every record when capacity counts: one open, one read) */
	return pid > 0 && start && sb_proc_live_start(pid) == start;
}

int sandbox_set_hostname(pid_t pid, unsigned long long start, const char *name, struct sb_err *err)
{
	char path[64];
	cleanup_close int pidfd = sb_pidfd_open(pid), self = -1, uts = -1;
	int r = 0;

	/* the pidfd pins pid while its namespace is opened */
	if (pidfd < 0 || !sandbox_alive(pid, start))
		return sb_fail(err, SB_E_INTERNAL, ESRCH, "the sandbox's init is gone");
	snprintf(path, sizeof path, "/proc/%d/ns/uts", (int)pid);
	uts = open(path, O_RDONLY | O_CLOEXEC);
	self = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
	if (uts < 0 || self < 0 || !sandbox_alive(pid, start))
		return sb_syserr(err, "open the sandbox's uts namespace");
	if (setns(uts, CLONE_NEWUTS) < 0)
		return sb_syserr(err, "enter the sandbox's uts namespace");
	if (sethostname(name, strlen(name)) < 0)
		r = sb_syserr(err, "sethostname");
	if (setns(self, CLONE_NEWUTS) < 0) {
		perror("sandboxd: leave a sandbox's uts namespace");
		_exit(1);
	}
	return r;
}

int sandbox_connect(int sbdirfd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/ctl", sbdirfd);
	/* non-blocking: an init that stopped accepting (its backlog full) must
	 * not hold the worker; EAGAIN says busy */
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	do
		r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	fcntl(fd, F_SETFL, 0);
	return fd;
}

int sandbox_killall(int ctl, int *killed, struct sb_err *err)
{
	struct sb_msg m = { .type = SB_MSG_KILLALL };

	if (proto_call(ctl, &m, NULL, 0, SB_INIT_KILL_MS, err) < 0)
		return -1;
	if (m.type != SB_MSG_KILLED)
		return sb_fail(err, SB_E_INTERNAL, m.val, "kill request failed");
	*killed = m.val;
	return 0;
}

int sandbox_statfs(int ctl, struct sb_fs_info *fi, struct sb_err *err)
{
	struct sb_msg m = { .type = SB_MSG_STATFS };

	if (proto_call(ctl, &m, fi, sizeof *fi, SB_INIT_REPLY_MS, err) < 0)
		return -1;
	if (m.type != SB_MSG_FSINFO)
		return sb_fail(err, SB_E_INTERNAL, EPROTO, "statfs request failed");
	return 0;
}

/* EXEC with the two pipe ends, or (procid set) SPAWN without; both with
 * the exec cgroup's cgroup.procs, which the child joins before it execs. */
static int send_exec(int ctl, const struct sb_exec_req *rq, const char *procid, int out, int errw,
		     int procs, bool late_start, struct sb_err *err)
{
	size_t cwd_len = strlen(rq->cwd) + 1, cmd_len = strlen(rq->command) + 1, env_len = 0;
	size_t id_len = procid ? strlen(procid) + 1 : 0;
	cleanup_free char *payload = NULL;
	/* (test builds: the corpus test compares with and without a shell) */
	struct sb_msg m = { .type = procid ? SB_MSG_SPAWN : SB_MSG_EXEC,
			    .val = (sb_fault_on("exec-shell") ? SB_EXEC_SHELL : 0) |
				   (late_start ? SB_EXEC_LATE_START : 0) };
	int fds[3] = { out, errw, procs };
	char *p;

	for (size_t i = 0; i < rq->nenv; i++)
		env_len += strlen(rq->env[i]) + 1;
	if (sizeof m + cwd_len + cmd_len + env_len + id_len > SB_MSG_MAX)
		return sb_fail(err, SB_E_TOO_LARGE, E2BIG, "command and environment too large");
	payload = malloc(cwd_len + cmd_len + env_len + id_len + 1);
	if (!payload)
		return sb_fail(err, SB_E_INTERNAL, ENOMEM, "out of memory");
	p = payload;
	memcpy(p, rq->cwd, cwd_len);
	p += cwd_len;
	memcpy(p, rq->command, cmd_len);
	p += cmd_len;
	for (size_t i = 0; i < rq->nenv; i++) {
		size_t n = strlen(rq->env[i]) + 1;
		memcpy(p, rq->env[i], n);
		p += n;
	}
	if (procid)
		memcpy(p, procid, id_len);
	m.cwd_len = (uint32_t)cwd_len;
	m.cmd_len = (uint32_t)cmd_len;
	m.env_len = (uint32_t)env_len;
	m.env_count = (uint32_t)rq->nenv;
	m.id_len = (uint32_t)id_len;
	if (sb_msg_send(ctl, &m, payload, cwd_len + cmd_len + env_len + id_len,
			procid ? fds + 2 : fds, procid ? 1 : 3) < 0)
		return sb_syserr(err, "send exec request");
	return 0;
}

/* One read of a non-blocking pipe, retried on EINTR. */
static ssize_t read_now(int fd, void *buf, size_t len)
{
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

/* What a pump returns when a read gave n <= 0: 0 at EOF, 1 when nothing
 * is there yet, -1 on error. */
static int pump_end(ssize_t n)
{
	return n == 0 ? 0 : errno == EAGAIN ? 1 : -1;
}

/* Read what is there (non-blocking) into b, up to cap; the excess is read
 * and dropped so the writer never blocks on us.  Returns 0 at EOF. */
static int pump(int fd, struct sb_buf *b, size_t cap, bool *truncated)
{
	char scratch[65536];

	for (;;) {
		char *dst = scratch;
		size_t room = sizeof scratch;
		ssize_t n;

		if (b->len < cap) {
			if (b->cap - b->len < 65536 && b->cap < cap) {
				size_t ncap = b->cap ? b->cap * 2 : 65536;
				if (ncap > cap)
					ncap = cap;
				char *nd = realloc(b->data, ncap + 1);
				if (!nd)
					return -1;
				b->data = nd;
				b->cap = ncap;
			}
			dst = b->data + b->len;
			room = b->cap - b->len;
		}
		n = read_now(fd, dst, room);
		if (n <= 0)
			return pump_end(n);
		if (dst == scratch)
			*truncated = true;
		else
			b->len += (size_t)n;
	}
}

/* Streaming: hand what is there to the sink, chunk by chunk; 2 when the
 * sink holds all it may (the rest stays in the pipe, the command blocks on
 * it), else as pump_end.  Once the client is gone, what comes is dropped. */
static int pump_stream(int fd, int which, const struct sb_exec_req *rq, struct sb_exec_res *res)
{
	char buf[65536];

	for (;;) {
		ssize_t n = read_now(fd, buf, sizeof buf);
		int st;

		if (n <= 0)
			return pump_end(n);
		if (res->client_gone)
			continue;
		st = rq->sink(rq->sink_arg, which, buf, (size_t)n);
		if (st < 0)
			res->client_gone = true;
		else if (st == SB_SINK_FULL)
			return 2;
	}
}

static int pump_any(int fd, int which, const struct sb_exec_req *rq, struct sb_exec_res *res)
{
	if (rq->sink)
		return pump_stream(fd, which, rq, res);
	return pump(fd, which == 1 ? &res->out : &res->err, rq->max_output, &res->truncated);
}

/* The init's first answer to EXEC or SPAWN: ERROR (its errno mapped, as
 * the request's error) or STARTED.  pid is non-NULL for a background
 * process (SPAWN). */
static int start_answer(const struct sb_msg *m, const char *text, pid_t *pid, struct sb_err *err)
{
	if (m->type == SB_MSG_ERROR) {
		/* An init of an older build (one started before an upgrade
		 * runs until its sandbox stops) says ENOSPC, text "process",
		 * for its full process table and for logs it could not make
		 * alike: its answer stays what it was, a 429.  This build's
		 * says EMFILE for the table, text "process files". */
		bool older = pid && m->val == ENOSPC && !strcmp(text, "process");

		if (m->val == ENOENT || m->val == ENOTDIR)
			return sb_fail(err, SB_E_INVALID, m->val, "cwd is not a directory in the sandbox");
		if (m->val == EEXIST)
			return sb_fail(err, SB_E_CONFLICT, m->val, "a process with this id is running");
		if (pid && (m->val == EMFILE || older))
			return sb_fail(err, SB_E_LIMIT, m->val, "too many background processes in this sandbox");
		/* the sandbox's disk (its quota) has no block or inode left
		 * for the process's logs */
		if (m->val == ENOSPC || m->val == EDQUOT)
			return sb_fail(err, SB_E_NO_SPACE, m->val, "no room on the sandbox's disk%s",
				       pid ? " for the process's logs (" SB_PROC_DIR "/<processId>/)" : "");
		/* the init opens a process's logs only as regular files: the
		 * sandbox put a FIFO, device, symlink or directory there */
		if (pid && (m->val == ENXIO || m->val == EINVAL || m->val == ELOOP || m->val == EISDIR))
			return sb_fail(err, SB_E_CONFLICT, m->val, "the sandbox has something other than regular files "
				       "where this process's logs go (" SB_PROC_DIR "/<processId>/)");
		/* the process's logs go to the sandbox's disk */
		if (m->val == EIO || m->val == EROFS)
			return sb_fail(err, SB_E_NO_SPACE, m->val, "sandbox init could not start it: " SB_DISK_FAILED);
		return sb_fail(err, SB_E_INTERNAL, m->val, "sandbox init refused the exec");
	}
	if (m->type != SB_MSG_STARTED || m->val <= 0)
		return sb_fail(err, SB_E_INTERNAL, EPROTO, "unexpected answer from sandbox init");
	if (pid)
		*pid = m->val;
	return 0;
}

static int wait_started(int ctl, pid_t *pid, struct sb_err *err)
{
	char text[32];	/* an ERROR's (a STARTED's payload, when read, is not looked at) */
	struct sb_msg m;

	if (proto_recv(ctl, &m, text, sizeof text - 1, SB_INIT_REPLY_MS, err) < 0)
		return -1;
	text[sizeof text - 1] = '\0';
	return start_answer(&m, text, pid, err);
}

/* A buffered exec sent with SB_EXEC_LATE_START: its start is told by a
 * STARTED once it has run SB_LATE_START_MS, or by its EXITED, whichever
 * comes first, within SB_INIT_REPLY_MS as any start (silence: the same
 * timeout).  The pipes are read meanwhile (a command may fill them before
 * its start is told).  Returns 0 when it started (*start: when, on our
 * clock), 1 when it has exited (*status, res's figures), -1 on error. */
static int wait_late_start(int ctl, int pout, int perr, bool *out_open, bool *err_open,
			   const struct sb_exec_req *rq, struct sb_exec_res *res, int64_t *start,
			   int *status, struct sb_err *err)
{
	int64_t bound = sb_mono_ms() + SB_INIT_REPLY_MS;

	for (;;) {
		struct pollfd p[3] = {
			{ .fd = ctl, .events = POLLIN },
			{ .fd = *out_open ? pout : -1, .events = POLLIN },
			{ .fd = *err_open ? perr : -1, .events = POLLIN },
		};
		int64_t left = bound - sb_mono_ms();
		int r;

		if (left <= 0)
			return sb_fail(err, SB_E_TIMEOUT, ETIMEDOUT, "the sandbox's init did not answer in time");
		r = poll(p, 3, (int)left);
		if (r < 0 && errno != EINTR)
			return sb_syserr(err, "poll");
		if (r <= 0)
			continue;
		if (p[1].revents && pump_any(pout, 1, rq, res) <= 0)
			*out_open = false;
		if (p[2].revents && pump_any(perr, 2, rq, res) <= 0)
			*err_open = false;
		if (p[0].revents) {
			union {
				struct sb_exit_info x;
				struct sb_start_info si;
			} u;
			struct sb_msg m;

			if (proto_recv(ctl, &m, &u, sizeof u, SB_PROTO_READY, err) < 0)
				return -1;
			if (m.type == SB_MSG_EXITED) {
				*status = m.val;
				res->cpu_us = u.x.utime_us + u.x.stime_us;
				res->maxrss_kb = u.x.maxrss_kb;
				return 1;
			}
			if (start_answer(&m, "", NULL, err) < 0)
				return -1;
			*start = sb_mono_ms() - u.si.age_us / 1000;
			return 0;
		}
	}
}

/* A streaming client's state: its sink's drain sends what it takes now. */
static int client_state(const struct sb_exec_req *rq, struct sb_exec_res *res)
{
	int st;

	if (!rq->sink || !rq->drain || res->client_gone)
		return SB_SINK_IDLE;
	st = rq->drain(rq->sink_arg);
	if (st < 0) {
		res->client_gone = true;
		return SB_SINK_IDLE;
	}
	return st;
}

/* The command has exited: what is left in its pipes goes to a streaming
 * client as fast as it takes it (a slow reader still gets the whole
 * output), until the pipes are empty, the client is gone (the sink's drain
 * says so after its send timeout without progress) or until: the exec's
 * deadline (what children left behind keep writing is not waited for). */
static void drain_pipes(int pout, bool out_open, int perr, bool err_open, int64_t until,
			const struct sb_exec_req *rq, struct sb_exec_res *res)
{
	while ((out_open || err_open) && !res->client_gone && sb_mono_ms() < until) {
		int sink = client_state(rq, res);

		if (res->client_gone)
			break;
		if (sink == SB_SINK_FULL) {
			struct pollfd p = { .fd = rq->watch_fd, .events = POLLOUT | POLLRDHUP };
			if (poll(&p, rq->watch_fd >= 0 ? 1 : 0, 1000) > 0 &&
			    (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)))
				res->client_gone = true;
			continue;
		}
		if (out_open && pump_any(pout, 1, rq, res) != 2)
			out_open = false;
		if (err_open && pump_any(perr, 2, rq, res) != 2)
			err_open = false;
	}
}

/* Pump both pipes and the control socket until the command has exited and
 * we have what it wrote; kill the exec's cgroup at the deadline. */
static int run_loop(int ctl, int pout, int perr, struct sb_cgroups *cg, const char *id,
		    const char *cgname, bool late_start, const struct sb_exec_req *rq,
		    struct sb_exec_res *res, struct sb_err *err)
{
	int64_t start = sb_mono_ms(), deadline;
	long long oom_before = cg_sandbox_oom_kills(cg, id);
	bool exited = false, out_open = true, err_open = true;
	int status = 0;

	if (late_start) {
		int r = wait_late_start(ctl, pout, perr, &out_open, &err_open, rq, res, &start, &status, err);

		if (r < 0)
			return -1;
		exited = r == 1;
	}
	deadline = start + rq->timeout_ms;

	int64_t quiet_since = start;
	bool killed_for_client = false;
	int64_t next_long = start + rq->long_ms;

	while (!exited) {
		/* what waits for the client goes as far as it takes it now */
		int sink = client_state(rq, res);
		struct pollfd p[4] = {
			{ .fd = ctl, .events = POLLIN },
			{ .fd = out_open && sink != SB_SINK_FULL ? pout : -1, .events = POLLIN },
			{ .fd = err_open && sink != SB_SINK_FULL ? perr : -1, .events = POLLIN },
			{ .fd = res->client_gone ? -1 : rq->watch_fd,
			  .events = POLLRDHUP | (sink > SB_SINK_IDLE ? POLLOUT : 0) },
		};
		int64_t left = deadline - sb_mono_ms();
		int r, wait = left > 1000 ? 1000 : (int)left;

		if (rq->on_long && rq->long_ms > 0 && !res->client_gone) {
			int64_t until = next_long - sb_mono_ms();

			if (until <= 0) {
				next_long += rq->long_ms;
				if (rq->on_long(rq->long_arg) < 0)
					res->client_gone = true;
				continue;
			} else if (until < wait)
				wait = (int)until;
		}

		if (res->client_gone && !killed_for_client) {
			/* nobody reads what it says: the whole tree goes */
			killed_for_client = true;
			cg_exec_kill(cg, id, cgname, NULL);
			deadline = sb_mono_ms() + EXIT_GRACE_MS;
			continue;
		}
		/* (a client with output waiting for it needs no heartbeat) */
		if (rq->sink && !res->client_gone && rq->heartbeat_ms > 0 && sink == SB_SINK_IDLE) {
			int64_t idle = sb_mono_ms() - quiet_since;
			if (idle >= rq->heartbeat_ms) {
				if (rq->sink(rq->sink_arg, 0, NULL, 0) < 0)
					res->client_gone = true;
				quiet_since = sb_mono_ms();
				continue;
			}
			if (rq->heartbeat_ms - idle < wait)
				wait = (int)(rq->heartbeat_ms - idle);
		}
		if (left <= 0) {
			if (res->timed_out) {
				/* killed in its cgroup and still not reported: it was
				 * stopped before it could join (a sandbox process can
				 * SIGSTOP it); the init SIGKILLs it when we hang up */
				status = W_EXITCODE(0, SIGKILL);
				break;
			}
			res->timed_out = true;
			if (cg_exec_kill(cg, id, cgname, err) < 0)
				return -1;
			deadline = sb_mono_ms() + EXIT_GRACE_MS;
			continue;
		}
		r = poll(p, rq->watch_fd >= 0 ? 4 : 3, wait);
		if (r < 0 && errno != EINTR)
			return sb_syserr(err, "poll");
		if (r <= 0)
			continue;
		if (p[3].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))
			res->client_gone = true;
		if (p[1].revents || p[2].revents)
			quiet_since = sb_mono_ms();
		if (p[1].revents && (r = pump_any(pout, 1, rq, res)) <= 0)
			out_open = false;
		if (p[2].revents && (r = pump_any(perr, 2, rq, res)) <= 0)
			err_open = false;
		if (p[0].revents) {
			struct sb_msg m;
			struct sb_exit_info x;
			if (proto_recv(ctl, &m, &x, sizeof x, SB_PROTO_READY, err) < 0)
				return -1;
			if (m.type == SB_MSG_EXITED) {
				exited = true;
				status = m.val;
				res->cpu_us = x.utime_us + x.stime_us;
				res->maxrss_kb = x.maxrss_kb;
			}
		}
	}
	/* what the command wrote before it exited is in the pipes now; what
	 * children it left behind write later is not ours to wait for */
	if (rq->sink)
		drain_pipes(pout, out_open, perr, err_open,
			    deadline > sb_mono_ms() + EXIT_GRACE_MS ? deadline : sb_mono_ms() + EXIT_GRACE_MS,
			    rq, res);
	else {
		if (out_open)
			pump_any(pout, 1, rq, res);
		if (err_open)
			pump_any(perr, 2, rq, res);
	}
	res->exit_code = WIFEXITED(status) ? WEXITSTATUS(status)
		       : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
	/* the sandbox's OOM count went up while the command ran: the memory
	 * limit killed one of its processes (the shell may survive it and
	 * exit 137).  With concurrent execs in one sandbox, each of them that
	 * overlapped the kill says so. */
	if (cg_sandbox_oom_kills(cg, id) > oom_before)
		res->oom_killed = true;
	res->duration_ms = sb_mono_ms() - start;
	return 0;
}

int sandbox_exec(int ctl, struct sb_cgroups *cg, const char *id, const char *cgname,
		 const struct sb_exec_req *rq, struct sb_exec_res *res, struct sb_err *err)
{
	cleanup_close int pout = -1, perr = -1, procs = -1;
	int po[2], pe[2], ret;
	bool late;

	memset(res, 0, sizeof *res);
	procs = cg_exec_open(cg, id, cgname, err);
	if (procs < 0)
		return -1;
	if (pipe2(po, O_CLOEXEC) < 0)
		return sb_syserr(err, "pipe");
	if (pipe2(pe, O_CLOEXEC) < 0) {
		close(po[0]);
		close(po[1]);
		return sb_syserr(err, "pipe");
	}
	pout = po[0];
	perr = pe[0];
	fcntl(pout, F_SETFL, O_NONBLOCK);
	fcntl(perr, F_SETFL, O_NONBLOCK);
	/* a buffered exec needs no word of its start before its end (a
	 * timeout shorter than the wait for a late start: told at once, its
	 * kill on time) */
	late = !rq->sink && rq->timeout_ms > SB_LATE_START_MS;
	ret = send_exec(ctl, rq, NULL, po[1], pe[1], procs, late, err);
	close(po[1]);
	close(pe[1]);
	if (ret < 0)
		return -1;
	/* the child joins the exec's cgroup before it execs: its whole tree is
	 * ours; a start we did not see confirmed is killed there (run_loop()'s
	 * failures too) */
	if (!late && wait_started(ctl, NULL, err) < 0) {
		cg_exec_kill(cg, id, cgname, NULL);
		return -1;
	}
	if (rq->sink && rq->sink(rq->sink_arg, -1, NULL, 0) < 0)
		res->client_gone = true;
	ret = run_loop(ctl, pout, perr, cg, id, cgname, late, rq, res, err);
	if (ret < 0)
		cg_exec_kill(cg, id, cgname, NULL);
	cg_exec_release(cg, id, cgname);
	if (res->out.data)
		res->out.data[res->out.len] = '\0';
	if (res->err.data)
		res->err.data[res->err.len] = '\0';
	return ret;
}

int sandbox_spawn(int ctl, struct sb_cgroups *cg, const char *id, const char *procid,
		  const struct sb_exec_req *rq, pid_t *pid, struct sb_err *err)
{
	cleanup_close int procs = -1;
	char cgname[80];

	/* its tree lives in a cgroup of its own, for kills with any signal */
	snprintf(cgname, sizeof cgname, "p-%s", procid);
	procs = cg_exec_open(cg, id, cgname, err);
	if (procs < 0)
		return -1;
	if (send_exec(ctl, rq, procid, -1, -1, procs, false, err) < 0)
		return -1;
	if (wait_started(ctl, pid, err) < 0) {
		/* a refusal (that id runs; a bad cwd; too many) started
		 * nothing, and p-<id> may hold the running namesake: only a
		 * start we lost track of is killed */
		if (err->kind != SB_E_CONFLICT && err->kind != SB_E_INVALID && err->kind != SB_E_LIMIT)
			cg_exec_kill(cg, id, cgname, NULL);
		return -1;
	}
	return 0;
}

int sandbox_plist(int ctl, struct sb_proc_info *out, int max, struct sb_err *err)
{
	struct sb_msg m = { .type = SB_MSG_PLIST };
	struct sb_proc_info tab[SB_PROC_MAX];
	ssize_t len;
	int n;

	len = proto_call(ctl, &m, tab, sizeof tab, SB_INIT_REPLY_MS, err);
	if (len < 0)
		return -1;
	if (m.type != SB_MSG_PROCS)
		return sb_fail(err, SB_E_INTERNAL, EPROTO, "unexpected answer from sandbox init");
	n = (int)((size_t)len / sizeof *out);
	if (n > max)
		n = max;
	if (n > SB_PROC_MAX)
		n = SB_PROC_MAX;
	memcpy(out, tab, (size_t)n * sizeof *out);
	for (int i = 0; i < n; i++)
		out[i].id[sizeof out[i].id - 1] = '\0';
	return n;
}
