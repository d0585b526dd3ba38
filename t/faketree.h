/* A fake tree under a temporary directory `root` (a cgroupfs stand-in),
 * for the unit tests that must watch what a function writes there: read,
 * write and make files by their path relative to root. */
#ifndef SBD_T_FAKETREE_H
#define SBD_T_FAKETREE_H

#include "util.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

static char root[64];

static const char *slurp(const char *rel)
{
	static char buf[4096];
	char path[512];

	snprintf(path, sizeof path, "%s/%s", root, rel);
	if (sb_read_file_at(AT_FDCWD, path, buf, sizeof buf) < 0)
		return NULL;
	return buf;
}

static void put(const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", root, rel);
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

#endif
