/* What the init, and so every process of the sandbox (all its
 * descendants), carries: Docker's default capability bounding set,
 * no_new_privs, and a seccomp filter. */
#ifndef SB_LOCKDOWN_H
#define SB_LOCKDOWN_H

#include "util.h"

struct sock_fprog;

/* Compile the seccomp filter once (in the init, before it serves); the
 * program is kept for sb_lockdown_apply(). */
int sb_lockdown_prepare(struct sb_err *err);
/* In the init, once its namespaces and root are set up; -1 with errno. */
int sb_lockdown_apply(void);
/* The names of the calls denied outright (for the tests that check the
 * loaded program against it). */
const char *const *sb_lockdown_denied(size_t *n);
/* The calls that answer ENOSYS, as if the kernel had none (Linux AIO). */
const char *const *sb_lockdown_enosys(size_t *n);

#endif
