/* The service's log on stderr (journald under systemd): one logfmt line
 * per request (http_access_log), per error behind a 5xx, and per sandbox
 * lifecycle event, each with the request id that caused it. */
#ifndef SBD_LOG_H
#define SBD_LOG_H

#include <stdio.h>

/* A logfmt value: bare when it can be, else quoted and escaped. */
void log_value(FILE *f, const char *v);
/* s made fit for a quoted value of log_event()'s as it is: quotes,
 * backslashes and control bytes become '_' (a message that may carry a
 * name the sandbox chose must not end its line or its value).  s. */
char *log_scrub(char *s);
/* ts=... level=error rid=RID msg="..." (and the same at level=warn) */
void log_error(const char *rid, const char *msg);
void log_warn(const char *rid, const char *msg);
/* The same line at any level ("info", "warn", "error"), the message
 * printf-style: the master's own lines (rid NULL: none) go through it. */
void log_printf(const char *level, const char *rid, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* ts=... event=EVENT id=ID [rid=RID] and the rest, already logfmt
 * (printf-style; values in it must need no quoting). */
void log_event(const char *rid, const char *event, const char *id, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
