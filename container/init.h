/* The sandbox init: PID 1 of a sandbox.  It holds the namespaces, reaps
 * every orphan, and forks the processes that workers ask for, so execs are
 * born inside the sandbox's namespaces and cgroups without any setns or
 * cgroup move of a fresh process (see docs/ARCHITECTURE.md). */
#ifndef SB_INIT_H
#define SB_INIT_H

/* Serve the control socket listen_fd until killed; never returns. */
__attribute__((noreturn)) void sb_init_serve(int listen_fd);

#endif
