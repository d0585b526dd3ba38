/* The audit history of a sandbox: the last --history-max commands run in
 * it (exec, streamed exec, background process), kept in LMDB. */
#ifndef SBD_HISTORY_H
#define SBD_HISTORY_H

#include <stdint.h>

struct app;
struct http_req;

struct history_entry {
	const char *kind;		/* "exec" or "process" */
	const char *command, *cwd;
	const char *process_id;		/* a process's id, else NULL */
	int exit_code;			/* HISTORY_NO_EXIT: not known (yet) */
	int64_t started_ms, duration_ms;
	uint64_t stdout_bytes, stderr_bytes;
};

#define HISTORY_NO_EXIT (-1000)

struct sb_err;

/* Before a command runs in sandbox id: may req's tenant add an entry to
 * the history?  -1 with the 507 of its share (store.h) when it may not
 * (a sandbox at history-max may: its entry replaces its oldest). */
int history_admit(struct app *app, const struct http_req *req, const char *id, struct sb_err *err);
/* Best effort: a failure to record is logged, never fails the request
 * (history_admit() was asked first).  An entry's JSON is cut to fit
 * STORE_ENTRY_MAX, and says "truncated" then. */
void history_add(struct app *app, const struct http_req *req, const char *id,
		 const struct history_entry *e);

#endif
