/* The wire protocol between a worker and a sandbox init: one SOCK_SEQPACKET
 * connection per operation, one message per packet, fds as SCM_RIGHTS.
 *
 *   worker                         init
 *   EXEC {cwd,cmd,env} +[out,err,procs] ->
 *                                  (the child joins the exec cgroup through
 *                                   procs, then execs)
 *                                  <- STARTED {pid}
 *                                  <- EXITED {wait status}
 *
 *   KILLALL                        ->
 *                                  <- KILLED {count}
 *
 *   STATFS                         ->
 *                                  <- FSINFO {sizes}
 *
 * Any request may be answered by ERROR {errnum, text}.  When the worker's end
 * closes while its child runs, the init kills the child's process group. */
#ifndef SB_PROTO_H
#define SB_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum sb_msg_type {
	SB_MSG_EXEC = 1,
	SB_MSG_GO_UNUSED,	/* was the start gate; the child joins its cgroup itself */
	SB_MSG_KILLALL,
	SB_MSG_STATFS,
	SB_MSG_FILE,		/* payload: struct sb_file_req + paths (fileops.h) */
	SB_MSG_SPAWN,		/* as EXEC, plus an id; fds [procs]: output goes to logs */
	SB_MSG_PLIST,		/* -> PROCS {struct sb_proc_info[]} */
	SB_MSG_STARTED = 100,
	SB_MSG_EXITED,
	SB_MSG_KILLED,
	SB_MSG_ERROR,
	SB_MSG_FSINFO,		/* payload: struct sb_fs_info */
	SB_MSG_FILE_INFO,	/* payload: struct sb_file_info */
	SB_MSG_PROCS,		/* payload: struct sb_proc_info[] */
	/* clone broker (clone.h), on a socket pair of their own */
	SB_MSG_CA = 200,	/* worker -> child: the host's CA bundle as an fd (or none) */
	SB_MSG_CONNECT,		/* child -> worker: payload "host\0port\0" */
	SB_MSG_CONNECTED,	/* worker -> child: a connected socket as an fd */
	SB_MSG_PROGRESS,	/* child -> worker: struct sb_clone_progress */
};

/* The payload of FSINFO: the sandbox's writable layer, as statfs("/") says. */
struct sb_fs_info {
	uint64_t total_bytes, used_bytes, total_inodes, used_inodes;
};

struct sb_msg {
	uint32_t type;
	int32_t val;		/* pid, wait status, count or errnum; EXEC: flags */
	/* EXEC: lengths of the NUL-terminated strings that follow the header */
	uint32_t cwd_len;
	uint32_t cmd_len;
	uint32_t env_len;	/* "K=V\0K=V\0..." */
	uint32_t env_count;
	uint32_t id_len;	/* SPAWN: the process id, after the environment */
};

/* EXEC's val: run the command with /bin/sh -c even when it could skip
 * the shell (tests compare the two ways; init.c exec_direct()). */
#define SB_EXEC_SHELL 1
/* EXEC's val: STARTED only once the command has run SB_LATE_START_MS (an
 * EXITED before then says it started): a buffered exec needs no word of
 * the start, and a short command then costs the worker one wake-up, not
 * two.  A stream's start is told at once (its `start` event). */
#define SB_EXEC_LATE_START 2
#define SB_LATE_START_MS 20

/* The payload of STARTED: how long ago the child was forked (a late
 * start's; the worker's timeout counts from the fork, as for one told at
 * once). */
struct sb_start_info {
	int64_t age_us;
};

/* The payload of EXITED: what wait4() said of the child and the
 * descendants it waited for. */
struct sb_exit_info {
	int64_t utime_us, stime_us;
	int64_t maxrss_kb;	/* the largest resident set of one process */
	/* a service child (a file operation's) the init killed because a
	 * sandbox process stopped it: the stop signal (SIGCONT when it was
	 * stopped and continued before the init looked); 0 otherwise, and
	 * from an init that predates it (the payload is zero-filled) */
	int32_t stopped_by;
	int32_t unused;
};

/* A background process as its init knows it (procs.c). */
struct sb_proc_info {
	char id[64];
	int32_t pid;		/* in the sandbox */
	int32_t status;		/* wait status, when exited */
	uint32_t exited;
	uint32_t pad;
	uint64_t out_bytes, err_bytes;	/* logged (at most SB_PROC_LOG_MAX each) */
	uint64_t out_dropped, err_dropped;
};
#define SB_PROC_MAX 64
#define SB_PROC_LOG_MAX (8ULL << 20)
#define SB_PROC_DIR "/.sandboxd/processes"

struct sb_clone_progress {
	uint64_t received_objects, total_objects, received_bytes;
};

/* The largest packet: a command at the kernel's single-argument limit
 * (MAX_ARG_STRLEN, 128 KiB) plus environment and cwd. */
#define SB_MSG_MAX (sizeof(struct sb_msg) + 131072 + 32768 + 4096)
#define SB_MSG_MAXFDS 4

/* Send one packet with up to SB_MSG_MAXFDS fds; 0 or -1 with errno. */
int sb_msg_send(int sock, const struct sb_msg *hdr, const void *payload,
		size_t len, const int *fds, int nfds);
/* Receive one packet into buf (cap bytes); received fds (CLOEXEC) land in
 * fds[], *nfds is set.  Returns the packet length, 0 on EOF, -1 on error
 * (EMSGSIZE when truncated: any fds that came are closed). */
ssize_t sb_msg_recv(int sock, void *buf, size_t cap, int *fds, int *nfds);

/* How long the init may take to answer: a request it answers at once (a
 * start, statfs, the process list), and a kill-all, which waits for the
 * kills.  Silence past either is SB_E_TIMEOUT, wherever it is met. */
#define SB_INIT_REPLY_MS 10000
#define SB_INIT_KILL_MS 30000
/* proto_recv()'s timeout when the caller's own poll said the socket is
 * readable (or hung up): a poll that does not wait, as any timeout of 0
 * or less */
#define SB_PROTO_READY 0
/* The largest answer payload: the process list */
#define SB_REPLY_MAX (SB_PROC_MAX * sizeof(struct sb_proc_info))

struct sb_err;
/* The next answer on ctl (from the init, or a child of it), waited for at
 * most timeout_ms (0 or less, SB_PROTO_READY among them: what is there
 * now, a poll that does not wait; there is no "forever"), retried on
 * EINTR: its header in
 * *m, up to len bytes of its payload in payload (zero-filled past what
 * came; NULL: dropped), fds it carried closed.  Returns the payload's
 * length as sent; -1 with err filled: SB_E_TIMEOUT for silence, else
 * SB_E_INTERNAL (the peer went away, a broken packet). */
ssize_t proto_recv(int ctl, struct sb_msg *m, void *payload, size_t len, int timeout_ms,
		   struct sb_err *err);
/* Send the request m (no payload, no fds) and wait for its answer, as
 * proto_recv(), into m. */
ssize_t proto_call(int ctl, struct sb_msg *m, void *payload, size_t len, int timeout_ms,
		   struct sb_err *err);

#endif
