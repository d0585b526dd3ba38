/* The master and its workers. */
#ifndef SBD_POOL_H
#define SBD_POOL_H

struct conf;

/* Bind, fork the workers, supervise until SIGTERM/SIGINT; returns the exit code. */
int master_run(struct conf *conf);
/* A worker's life: open LMDB and cgroups, serve requests until told to
 * stop; its execs run in cgroups named "e<serial>". */
__attribute__((noreturn)) void worker_run(const struct conf *conf, int listen_fd, unsigned serial);

#endif
