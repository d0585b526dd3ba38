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

/* Best effort: a failure to record is logged, never fails the request. */
void history_add(struct app *app, const struct http_req *req, const char *id,
		 const struct history_entry *e);

#endif
