/* How a worker hands a sandbox start to sandboxd-init.  The worker forks;
 * the child keeps only the fds below and execs the init binary (through the
 * fd the service opened at start), with an empty environment.  Everything
 * else the init needs is one struct read from a pipe, so no byte of the
 * worker's memory (other tenants' requests, the LMDB maps) reaches a
 * sandbox's PID 1. */
#ifndef SB_LAUNCH_H
#define SB_LAUNCH_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"

/* The fds sandboxd-init is started with; nothing else is open above 2. */
enum {
	SB_LAUNCH_READY_FD = 3,	/* the worker's ready pipe (struct sb_ready records) */
	SB_LAUNCH_CONF_FD = 4,	/* a pipe: one struct sb_launch_ahead, one struct sb_launch_conf, EOF */
	SB_LAUNCH_CG_FD = 5,	/* the instance's cgroup dirs present in conf.cg_present, in order */
};

#define SB_LAUNCH_MAGIC 0x73626932u	/* "sbi2": a worker and an init of the same build */

struct sb_launch_conf {
	uint32_t magic;
	uint32_t size;			/* sizeof(struct sb_launch_conf) */
	int32_t cg_version;
	uint8_t cg_present[CG_NDIRS];
	uint8_t host_dirs, disk;
	uint32_t uid_base;
	char id[64];
	uint8_t net;			/* a veth (below); 0: loopback only */
	char net_host_if[16];
	uint32_t net_addr, net_gw;
	char net_resolv[PATH_MAX];
	char ca_bundle[PATH_MAX];	/* "": the image's own */
	char sandbox_dir[PATH_MAX];
	char image_dir[PATH_MAX];
};

/* Written on the conf pipe as soon as the launcher is forked, before its
 * settings: what it may make ahead, the same for every start of the
 * service (not argv: a sandbox reads its init's command line). */
#define SB_LAUNCH_AHEAD_MAGIC 0x73626134u	/* "sba4" */
struct sb_launch_ahead {
	uint32_t magic;
	char net_prefix[12];	/* "": none; else its veth pair, the host end named this + its pid */
	char ctl_dir[PATH_MAX];	/* "": none; else its control socket, bound as ctl_dir/ctl
				 * (DATA/sandboxes/.ctl-PID, PID the worker's) and renamed
				 * into the sandbox's dir at the start */
};

/* Records on the ready pipe: the launcher's READY_PID, then the init's
 * READY_OK, or anyone's READY_ERR. */
struct sb_ready {
	int32_t kind;
	int32_t val;
	char msg[248];
};
enum { SB_READY_PID = 1, SB_READY_OK, SB_READY_ERR };

#endif
