/* Service settings: command-line options with defaults. */
#ifndef SBD_CONF_H
#define SBD_CONF_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "clone_policy.h"

struct conf {
	char data_dir[3584];		/* absolute; room left for what we append */
	char socket_path[PATH_MAX];
	char instance[48];		/* names this service's cgroups */
	char cg_parent[64];		/* "sandboxd-<instance>" */
	char image_dir[PATH_MAX];	/* <data>/images/host */
	char images_dir[PATH_MAX - 256];/* sandboxd-image's registry and images */
	char default_image[64];
	const char *socket_group;
	const char *cors_origin;
	const char *pidfile;
	int workers;
	uid_t uid_base;			/* first host uid handed to sandboxes */
	uint32_t uid_slots;		/* how many 65536-id ranges from there */
	size_t max_body;
	unsigned long long max_file_bytes;	/* raw file upload/download */
	int64_t default_timeout_ms, max_timeout_ms;
	size_t max_output;
	/* per-sandbox limits: defaults, and the most a create may ask */
	long memory_mb, max_memory_mb;
	long pids_max, max_pids;
	long cpu_millis, max_cpu_millis;	/* 1000 = one CPU */
	long disk_mb, max_disk_mb;		/* 0: no disk quota */
	int spare_disks;			/* disk images made ahead */
	bool no_favordynmods;			/* leave cgroup2's options alone */
	int max_running;			/* sandboxes running at once; 0: no cap */
	int64_t idle_stop_ms;			/* stop sandboxes idle this long; 0: never */
	char cgroup_root[256];
	struct clone_allow clone_allow[CLONE_MAX_ALLOW];	/* ranges a clone may reach */
	int nclone_allow;
	int64_t clone_timeout_ms;
	unsigned long long clone_max_bytes;
};

/* Parse argv into c; prints usage and returns -1 on bad options. */
int conf_parse(struct conf *c, int argc, char **argv);

#endif
