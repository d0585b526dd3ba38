/* Per-sandbox cgroups (v1 here: pids + freezer hierarchies).
 *
 * Layout, for a service instance whose cgroup parent is P:
 *   <ctrl>/P/<projectId>/          the sandbox: its init and everything it forks
 *   freezer/P/<projectId>/w<pid>/  the exec in flight of worker <pid>
 * An exec's processes are moved into the worker's child cgroup before they
 * run, so a timeout kills the whole tree (setsid and double-forked daemons
 * included) by freezing the cgroup and killing what it holds: frozen
 * processes can neither fork nor exit, so no pid read from cgroup.procs can
 * be recycled before it is killed.  Processes are never moved into a memory
 * cgroup on the exec path (that write stalls for milliseconds on v1). */
#ifndef SB_CGROUP_H
#define SB_CGROUP_H

#include "util.h"

struct sb_cgroups {
	int freezer;	/* dirfd of freezer/P */
	int pids;	/* dirfd of pids/P */
};

#define SB_CGROUPS_INIT { -1, -1 }

/* Create (if needed) and open the instance's parent cgroups. */
int cg_open(struct sb_cgroups *cg, const char *parent, struct sb_err *err);
void cg_close(struct sb_cgroups *cg);

int cg_sandbox_create(struct sb_cgroups *cg, const char *id, long pids_max, struct sb_err *err);
int cg_sandbox_enter(struct sb_cgroups *cg, const char *id, pid_t pid, struct sb_err *err);
/* Move pid into the exec cgroup `name` of sandbox id (created on demand). */
int cg_exec_enter(struct sb_cgroups *cg, const char *id, const char *name, pid_t pid,
		  struct sb_err *err);
/* Kill every process of the exec cgroup (and below). */
int cg_exec_kill(struct sb_cgroups *cg, const char *id, const char *name, struct sb_err *err);
/* After an exec ended: what it left running moves up to the sandbox cgroup. */
int cg_exec_release(struct sb_cgroups *cg, const char *id, const char *name);
/* Kill and remove exec cgroup `name` in every sandbox (a worker died). */
void cg_exec_reap_all(struct sb_cgroups *cg, const char *name);
/* Kill every process of every sandbox, inits included, and remove the cgroups. */
int cg_destroy_all(struct sb_cgroups *cg, const char *parent);

#endif
