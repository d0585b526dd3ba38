/* Starting a sandbox and talking to its init, from a worker. */
#ifndef SB_SANDBOX_H
#define SB_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgroup.h"
#include "util.h"

/* A sandbox's network: a routed veth pair, no bridge.  The host end
 * (host_if) holds gw, the sandbox's eth0 holds addr: one /31. */
struct sb_net_spec {
	char host_if[16];
	uint32_t addr, gw;		/* network byte order */
	const char *resolv;		/* bound read-only at /etc/resolv.conf */
};

struct sb_spec {
	const char *id;
	const char *sandbox_dir;	/* <data>/sandboxes/<id>: upper/ work/ root/ ctl */
	const char *image_dir;
	uid_t uid_base;
	bool host_dirs;			/* the `host` image: the host's /usr bound in */
	bool disk;			/* the writable layer is in disk.img */
	struct sb_cgroups *cg;
	const struct sb_net_spec *net;	/* NULL: loopback only */
	const char *ca_bundle;		/* bound read-only at /etc/ssl/certs/ca-certificates.crt; NULL: the image's */
};

/* Find sandboxd-init (installed, or beside this program in a build tree)
 * and open it for every later sandbox_start; path gets where it was. */
int sandbox_init_open(char *path, size_t len, struct sb_err *err);

/* Start the sandbox's init; it is not our child (it outlives the worker).
 * On success *pid is its host pid.  It hands the settings to the launcher
 * sandbox_prepare() exec'd ahead when there is one, and execs the next. */
int sandbox_start(const struct sb_spec *spec, pid_t *pid, struct sb_err *err);
/* Exec a launcher (sandboxd-init, given the cgroup dirs of cg) ahead of the
 * next sandbox_start of this process, unless one waits already. */
void sandbox_prepare(const struct sb_cgroups *cg);
/* End the launcher waiting for this process's next start (killed and
 * reaped), and exec none ahead from now on: for a worker that leaves the
 * pool for a long-lived request, which would keep it (a process and a
 * network namespace) for the request's life.  A start after this still
 * works: it forks a launcher of its own, as before launchers were exec'd
 * ahead. */
void sandbox_prepare_drop(void);
/* Sandboxes get a network (--network): every launcher makes its sandbox's
 * veth pair while it waits for its settings, the host end named prefix and
 * the launcher's pid in hex until the start gives it the sandbox's name
 * (sandboxd-init.c, veth_ahead).  prefix: at most 8 characters, none of
 * the sandboxes' own link names. */
void sandbox_prepare_net(const char *prefix);
/* The sandboxes' directory (DATA/sandboxes): every launcher binds its
 * sandbox's control socket while it waits, as .ctl-PID/ctl there (PID:
 * the process that starts sandboxes, a worker or the filler), and the
 * start renames it into the sandbox's directory (sandboxd-init.c,
 * ctl_ahead). */
void sandbox_prepare_ctl(const char *sandboxes_dir);
/* What a process that started sandboxes (pid) left of a control socket
 * bound ahead, removed: for the master, when it reaps a worker or the
 * filler (a launcher killed with it), and at its start (pid 0: every
 * one, of an earlier master). */
void sandbox_ctl_leftovers(const char *sandboxes_dir, pid_t pid);

/* sandbox_start in two halves: sandbox_launch() hands the settings over and
 * returns once the init is forked (*pid: its host pid), before it has
 * built its root; sandbox_launch_wait() once it serves, or failed (it is
 * killed then).  What the caller does between (its store commit) overlaps
 * the init's setup; sandbox_launch_abort() kills an init not waited for. */
struct sb_launch {
	int ready;
	pid_t init;
	const char *id;
	const struct sb_cgroups *cg;
};
int sandbox_launch(const struct sb_spec *spec, struct sb_launch *l, pid_t *pid, struct sb_err *err);
int sandbox_launch_wait(struct sb_launch *l, struct sb_err *err);
void sandbox_launch_abort(struct sb_launch *l);

/* Connect to the init of the sandbox whose directory is sbdirfd; -1 with
 * errno ECONNREFUSED or ENOENT when it is not running. */
int sandbox_connect(int sbdirfd);

/* Kill every process of the sandbox except its init; *killed = how many. */
int sandbox_killall(int ctl, int *killed, struct sb_err *err);

struct sb_fs_info;
/* Size and use of the sandbox's writable layer (its disk quota). */
int sandbox_statfs(int ctl, struct sb_fs_info *fi, struct sb_err *err);

struct sb_file_req;
struct sb_file_info;
/* File operations (fileops.h): send the request; *data is our end of the
 * data pipe for READ, LIST (read it) and WRITE (write it, then close it). */
int sandbox_file_request(int ctl, const struct sb_file_req *rq, const char *path,
			 const char *path2, int *data, struct sb_err *err);
/* The child's answer: FILE_INFO, or an error of the kind its errno means
 * (missing, a directory or not a regular file, exists, too large, denied,
 * out of space). */
int sandbox_file_reply(int ctl, struct sb_file_info *info, int timeout_ms, struct sb_err *err);
/* The child's exit: 0 when it succeeded. */
int sandbox_file_end(int ctl, int timeout_ms, struct sb_err *err);

/* Whether the process pid, started at start (clock ticks since boot), lives. */
bool sandbox_alive(pid_t pid, unsigned long long start);
/* Set the hostname of the sandbox whose init is pid (started at start):
 * the caller (host root) enters the init's UTS namespace, which the host's
 * user namespace owns, and comes back.  A failure to come back ends the
 * process (it would answer from the wrong namespace). */
int sandbox_set_hostname(pid_t pid, unsigned long long start, const char *name, struct sb_err *err);

struct sb_buf {
	char *data;
	size_t len, cap;
};
void sb_buf_release(struct sb_buf *b);

/* Where a streaming client stands (struct sb_exec_req's sink and drain). */
enum {
	SB_SINK_IDLE,		/* it has everything */
	SB_SINK_QUEUED,		/* output waits for it: watch_fd's POLLOUT, then drain */
	SB_SINK_FULL,		/* as much waits as may: the pipes are not read */
};

struct sb_exec_req {
	const char *command;
	const char *cwd;
	const char *const *env;	/* "K=V" */
	size_t nenv;
	int64_t timeout_ms;
	size_t max_output;	/* per stream, when buffered */
	/* Streaming: output goes to sink as it arrives (stream 1 or 2), never
	 * into the buffers; stream 0 with no data is a heartbeat after
	 * heartbeat_ms of quiet; stream -1 says the command runs.  Sink and
	 * drain (which sends what the client takes now) return an
	 * SB_SINK_* state, or -1: the client is gone, the exec's tree is
	 * killed.  The client never blocks the loop: it may fall behind only
	 * as far as the sink holds, and the deadline fires all the same. */
	int (*sink)(void *arg, int stream, const char *data, size_t n);
	int (*drain)(void *arg);
	void *sink_arg;
	int heartbeat_ms;
	/* Buffered or streamed: an fd whose hang-up means the client is gone
	 * (the FastCGI connection: nginx closes it when its client leaves);
	 * polled for POLLOUT while output waits for the client. */
	int watch_fd;
	/* Called when the command has run long_ms (0: never), and every
	 * long_ms after: a buffered exec that lasts leaves the short-request
	 * pool then, and one whose token a reload revoked ends (-1: as a
	 * client gone).  The loop's poll wakes for it: no busy work. */
	int64_t long_ms;
	int (*on_long)(void *arg);
	void *long_arg;
};

struct sb_exec_res {
	struct sb_buf out, err;
	int exit_code;		/* 128+signal when killed */
	bool timed_out, truncated, oom_killed;
	bool client_gone;	/* killed because nobody listens any more */
	int64_t duration_ms;
	int64_t cpu_us;		/* user + system of the command and what it waited for */
	int64_t maxrss_kb;	/* the largest process of it */
};

/* Run a command in the sandbox through its init (ctl); the exec's tree lives
 * in cgroup `cgname` of the sandbox for its duration. */
int sandbox_exec(int ctl, struct sb_cgroups *cg, const char *id, const char *cgname,
		 const struct sb_exec_req *req, struct sb_exec_res *res, struct sb_err *err);
void sb_exec_res_release(struct sb_exec_res *res);

/* Start a background process `procid` (its output to its logs in the
 * sandbox, its tree in cgroup p-<procid>); *pid is its pid in the sandbox. */
int sandbox_spawn(int ctl, struct sb_cgroups *cg, const char *id, const char *procid,
		  const struct sb_exec_req *rq, pid_t *pid, struct sb_err *err);
struct sb_proc_info;
/* The init's table of background processes: how many were put in out. */
int sandbox_plist(int ctl, struct sb_proc_info *out, int max, struct sb_err *err);

#endif
