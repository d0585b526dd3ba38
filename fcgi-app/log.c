#include "config.h"

#include "log.h"
#include "util.h"

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

void log_value(FILE *f, const char *v)
{
	bool bare = *v != '\0';

	for (const char *p = v; *p && bare; p++)
		bare = (unsigned char)*p > 0x20 && *p != 0x7f && !strchr("\"=\\", *p);
	if (bare) {
		fputs(v, f);
		return;
	}
	fputc('"', f);
	for (const char *p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', f);
		if ((unsigned char)*p >= 0x20 && *p != 0x7f)
			fputc(*p, f);
	}
	fputc('"', f);
}

char *log_scrub(char *s)
{
	for (char *p = s; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '_';
	return s;
}

static void stamp(void)
{
	char ts[40];

	sb_iso8601(sb_now_ms(), ts, sizeof ts);
	fprintf(stderr, "ts=%s ", ts);
}

static void log_msg(const char *level, const char *rid, const char *msg)
{
	flockfile(stderr);
	stamp();
	fprintf(stderr, "level=%s rid=%s msg=", level, rid ? rid : "-");
	log_value(stderr, msg);
	fputc('\n', stderr);
	funlockfile(stderr);
}

void log_error(const char *rid, const char *msg)
{
	log_msg("error", rid, msg);
}

void log_warn(const char *rid, const char *msg)
{
	log_msg("warn", rid, msg);
}

void log_printf(const char *level, const char *rid, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_msg(level, rid, msg);
}

void log_event(const char *rid, const char *event, const char *id, const char *fmt, ...)
{
	va_list ap;

	flockfile(stderr);
	stamp();
	fprintf(stderr, "event=%s id=%s", event, id);
	if (rid)
		fprintf(stderr, " rid=%s", rid);
	if (fmt && *fmt) {
		fputc(' ', stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	fputc('\n', stderr);
	funlockfile(stderr);
}
