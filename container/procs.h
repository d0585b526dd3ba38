/* Background processes, on the init's side: it forks them like execs, but
 * keeps them when the worker leaves, pumps their output into bounded log
 * files in the sandbox (SB_PROC_DIR/ID/stdout, stderr), and records their
 * exit (SB_PROC_DIR/ID/exit) when it reaps them, whether or not anyone
 * asks. */
#ifndef SB_PROCS_H
#define SB_PROCS_H

#include <poll.h>
#include <stddef.h>
#include <sys/types.h>

/* Make the logs and pipes for process id; -1 with errno (EEXIST: an id of a
 * running process, ENOSPC: too many).  *out, *err: the write ends. */
int procs_prepare(const char *id, int *out, int *err);
void procs_started(int slot, pid_t pid);
void procs_abandon(int slot);
/* Poll set: the open pipes; then hand back what poll said. */
int procs_pollfds(struct pollfd *p, int max);
void procs_handle(const struct pollfd *p, int n);
/* A reaped pid: 1 if it was a background process (exit recorded). */
int procs_reaped(pid_t pid, int status);
/* The table, as struct sb_proc_info[]; returns the bytes written. */
size_t procs_list(void *buf, size_t cap);

#endif
