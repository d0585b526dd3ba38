/* Per-sandbox cgroups, v1 (one hierarchy per controller) or v2 (unified),
 * detected at open.  Every decision is shared; only where the knobs live and
 * how a tree is killed differ.
 *
 * Layout, for a service instance whose cgroup parent is P:
 *   v1: <ctrl>/P/<id>/            the sandbox (init and everything it forks),
 *                                 for memory, pids, cpu, cpuacct and freezer
 *       freezer/P/<id>/e<n>/      the exec in flight of the worker with serial n
 *   v2: P/<id>/                   the sandbox, limits set here
 *       P/<id>/e<n>/              the exec in flight (no controllers, so the
 *                                 sandbox cgroup may keep its own processes)
 * An exec's processes are moved into the worker's child cgroup before they
 * run, so a timeout kills the whole tree (setsid and double-forked daemons
 * included): v2 writes cgroup.kill; v1 (and v2 before 5.14) freezes the
 * cgroup and kills what it holds by pidfd, each process confirmed a member
 * after it was pinned (a freeze may not complete, and retries run thawed:
 * a pid read from cgroup.procs may have been recycled).  Processes are never
 * moved into a memory cgroup on the exec path (that write stalls for
 * milliseconds on v1): the exec is born in it, forked by the sandbox's init. */
#ifndef SB_CGROUP_H
#define SB_CGROUP_H

#include <stdbool.h>

#include "util.h"

enum { CG_FREEZER, CG_PIDS, CG_MEMORY, CG_CPU, CG_CPUACCT, CG_NDIRS };

/* What touches the kernel: writing a knob, opening a cgroup.procs for a
 * writer, signalling a cgroup's members.  The service runs on cg_kernel; a
 * unit test injects its own (t/faketree.h: a tree of plain files, where a
 * knob is made as it is written and no process of the host is signalled).
 * Every decision (names, paths, limits, when to freeze, kill and wait) is
 * the same code on both. */
struct cg_ops {
	/* write val to dirfd/path; -1 and errno */
	int (*write)(int dirfd, const char *path, const char *val);
	/* dirfd/path (a cgroup.procs), open O_WRONLY|O_CLOEXEC; -1 and errno */
	int (*open_procs)(int dirfd, const char *path);
	/* signal the members pids[0..n) of dirfd/procs: cg_signal_members */
	int (*signal)(int dirfd, const char *procs, const pid_t *pids, int n, int sig);
};

extern const struct cg_ops cg_kernel;

struct sb_cgroups {
	int version;		/* 1 or 2 */
	const struct cg_ops *ops;
	int dir[CG_NDIRS];	/* v1: <root>/<ctrl>/P; v2: dir[0] = <root>/P, rest -1 */
};

struct cg_limits {
	long long memory_bytes;	/* 0: none */
	long pids;		/* 0: none */
	long cpu_millis;	/* 1000 = one CPU; 0: none */
};

struct cg_usage {
	long long memory_current, memory_peak;	/* bytes */
	long pids;
	long long cpu_usec;
	long long oom_kills;
};

/* Open (creating) the instance's parent cgroups under root ("/sys/fs/cgroup"). */
int cg_open(struct sb_cgroups *cg, const char *root, const char *parent, struct sb_err *err);
/* The same, through ops instead of cg_kernel (the unit tests' fake trees). */
int cg_open_ops(struct sb_cgroups *cg, const struct cg_ops *ops, const char *root,
		const char *parent, struct sb_err *err);
void cg_close(struct sb_cgroups *cg);

int cg_sandbox_create(struct sb_cgroups *cg, const char *id, const struct cg_limits *lim,
		      struct sb_err *err);
int cg_sandbox_enter(struct sb_cgroups *cg, const char *id, pid_t pid, struct sb_err *err);
int cg_sandbox_usage(struct sb_cgroups *cg, const char *id, struct cg_usage *u);
/* The same, from the files of the last few sandboxes read kept open in the
 * process (each name checked at every read: the same values; GET status). */
int cg_sandbox_usage_kept(struct sb_cgroups *cg, const char *id, struct cg_usage *u);
/* How many processes the kernel's OOM killer took in the sandbox so far. */
long long cg_sandbox_oom_kills(struct sb_cgroups *cg, const char *id);
/* Rename sandbox from's cgroups to `to`, processes and all (a warm sandbox
 * claimed by a projectId).  v1 only: cgroup2 has no rename (-1, ENOTSUP). */
int cg_sandbox_rename(struct sb_cgroups *cg, const char *from, const char *to, struct sb_err *err);
/* Freeze (frozen) or thaw every process of the sandbox, its init included
 * (a snapshot copies its disk meanwhile).  A freeze waits (bounded) until
 * the kernel says frozen; -1 when the freezer could not be asked, or when
 * the freeze did not complete in time (SB_E_BUSY: the cgroup is thawed
 * again, nothing is left frozen in part).  Whoever froze must thaw, on
 * every path. */
int cg_sandbox_freeze(struct sb_cgroups *cg, const char *id, bool frozen, struct sb_err *err);
/* The sandbox whose cgroup holds pid (one of the instance's, directly
 * below its parent: an init, not an exec): 0 with its name in id, -1 when
 * it is none (or gone).  The caller checks pid is still the process it
 * meant after (a pidfd), as for any read of /proc/PID. */
int cg_sandbox_of(struct sb_cgroups *cg, pid_t pid, char *id, size_t len);
/* The init among the processes of the sandbox's own cgroup (named
 * sandbox-init, its parent not of the cgroup: the one process that
 * listens on its control socket), or 0: none, or more than one.  As for
 * cg_sandbox_of, the caller checks the pid is still the process it meant
 * after (its start time). */
pid_t cg_sandbox_init(struct sb_cgroups *cg, const char *id);
/* Kill every process of the sandbox, its init included (a stop). */
int cg_sandbox_kill(struct sb_cgroups *cg, const char *id, struct sb_err *err);
/* Kill every process of the sandbox and remove its cgroups (a destroy):
 * 0 when none is left in any hierarchy. */
int cg_sandbox_destroy(struct sb_cgroups *cg, const char *id, struct sb_err *err);
/* The cgroup.procs file of exec cgroup `name` of sandbox id (created on
 * demand), open for writing.  The init's exec child writes "0" to it to
 * join: the kernel checks the credentials the file was opened with (ours),
 * and resolves pids in the writer's namespace, so the fd moves nothing but
 * the sandbox's own processes, and only there. */
int cg_exec_open(struct sb_cgroups *cg, const char *id, const char *name, struct sb_err *err);
/* Send sig to every process of the exec cgroup (frozen meanwhile, so
 * none escapes by forking); how many there were. */
int cg_exec_signal(struct sb_cgroups *cg, const char *id, const char *name, int sig);
/* Kill every process of the exec cgroup. */
int cg_exec_kill(struct sb_cgroups *cg, const char *id, const char *name, struct sb_err *err);
/* After an exec ended: what it left running moves up to the sandbox cgroup. */
int cg_exec_release(struct sb_cgroups *cg, const char *id, const char *name);
/* Remove the exec cgroup `name` once nothing runs in it (best effort). */
void cg_exec_remove(struct sb_cgroups *cg, const char *id, const char *name);
/* Send sig to each process of pids[0..n), read from the cgroup.procs file
 * dirfd/procs, that is still listed there once a pidfd pins it: never to a
 * process that took over the pid of one that exited since the list was
 * read (a freeze that did not complete, a thawed cgroup).  How many were
 * signalled.  The kill paths' own; exported for t/unit-cgroup.c. */
int cg_signal_members(int dirfd, const char *procs, const pid_t *pids, int n, int sig);
/* Kill and remove exec cgroup `name` in every sandbox (a worker died). */
void cg_exec_reap_all(struct sb_cgroups *cg, const char *name);
/* Kill and remove every exec cgroup of every sandbox (a starting master:
 * what the workers of a crashed one left); how many there were. */
int cg_exec_reap_every(struct sb_cgroups *cg);
/* Kill every process of every sandbox, inits included, and remove the cgroups. */
int cg_destroy_all(struct sb_cgroups *cg, const char *root, const char *parent);

/* Put cgroup2 (where mounted) in favordynmods mode: moving a process
 * between cgroups then no longer waits for an RCU grace period (7-15 ms
 * on this kind of VM, on every exec and sandbox start), at some cost to
 * fork and exit host-wide; systemd 254+ mounts it so.  The flag is the
 * kernel's one cgroup_threadgroup_rwsem, shared by v1 hierarchies too.
 * 1 when it was changed, 0 when set already or no cgroup2 is mounted. */
int cg_favor_dynmods(struct sb_err *err);

#endif
