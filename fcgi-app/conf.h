/* Service settings: command-line options with defaults. */
#ifndef SBD_CONF_H
#define SBD_CONF_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "clone_policy.h"
#include "net.h"
#include "settings.h"

struct auth_tokens;

struct conf {
	char data_dir[3584];		/* absolute; room left for what we append */
	char socket_path[PATH_MAX];
	char instance[48];		/* names this service's cgroups */
	char cg_parent[64];		/* "sandboxd-<instance>" */
	char image_dir[PATH_MAX];	/* <data>/images/host */
	char images_dir[PATH_MAX - 256];/* sandboxd-image's registry and images */
	char default_image[64];
	const char *socket_group;
	mode_t socket_mode;		/* 0600, 0660 or 0666 */
	const char *cors_origin;	/* with tokens: Access-Control-Allow-Origin */
	/* without tokens: the names a request's Host may give (any port), and
	 * the web origins whose pages may call us; lists of entries separated
	 * by commas or blanks, checked by conf_set, matched by auth.c */
	const char *allowed_hosts;
	const char *allowed_origins;
	const char *pidfile;
	const char *config;		/* --config FILE, re-read at SIGHUP; NULL: none */
	const char *tokens_file;	/* NULL: no tokens, loopback only */
	struct auth_tokens *tokens;	/* loaded from it by the master */
	bool allow_remote_no_auth;	/* no tokens, and yet serve non-loopback */
	int history_max;		/* audit entries kept per sandbox */
	size_t store_map_bytes;		/* LMDB map of the sandbox records */
	size_t history_map_bytes;	/* ... of the history */
	int max_sandboxes_per_token;	/* a scoped token's sandboxes; 0: no cap */
	int memory_overcommit;		/* running sandboxes' memory limits, in % of RAM; 0: unchecked */
	int max_requests_per_token;	/* a scope's requests in flight; 0: no cap */
	int max_streams_per_token;	/* ... of them streams */
	int max_requests_per_sandbox;	/* as those, per sandbox */
	int max_streams_per_sandbox;
	int disk_overcommit;		/* all sandboxes' disks, in % of the data fs; 0: unchecked */
	bool print_routes;		/* --routes: print them and exit */
	/* the pool, as php-fpm's pm = dynamic: workers at start (and at a
	 * reload), spawned when fewer than min-spare are idle, retired when
	 * more than max-spare are, at most max-workers on short requests;
	 * long-lived requests (streams) leave it, at most max-streams */
	int workers;
	int min_spare_workers, max_spare_workers, max_workers, max_streams;
	uid_t uid_base;			/* first host uid handed to sandboxes */
	uint32_t uid_slots;		/* how many 65536-id ranges from there */
	size_t max_body;
	unsigned long long max_file_bytes;	/* raw file upload/download */
	int64_t default_timeout_ms, max_timeout_ms;
	size_t max_output;
	/* streams (exec, clone, log follow): a client that takes no byte for
	 * send_timeout_ms is gone; follows end after log_follow_max_ms; quiet
	 * streams send a comment every heartbeat_ms */
	int64_t send_timeout_ms, log_follow_max_ms, heartbeat_ms;
	/* per-sandbox limits (settings.h): defaults, and the most a create may ask */
	struct sb_limits limits, max_limits;
	int spare_disks;			/* disk images made ahead */
	bool disk_prealloc;			/* images take their blocks at once */
	long disk_reserve_mb;			/* host space creates and writes leave */
	int warm_sandboxes;			/* sandboxes started ahead */
	bool no_favordynmods;			/* leave cgroup2's options alone */
	bool no_host_sysctls;			/* leave fs.file-max, kernel.pty.max alone */
	int max_running;			/* sandboxes running at once; 0: no cap */
	int64_t idle_stop_ms;			/* stop sandboxes idle this long; 0: never */
	int64_t destroy_idle_ms;		/* destroy sandboxes idle this long; 0: never */
	char cgroup_root[256];
	struct clone_allow clone_allow[CLONE_MAX_ALLOW];	/* ranges a clone may reach */
	int nclone_allow;
	int64_t clone_timeout_ms;
	unsigned long long clone_max_bytes;
	/* exposed ports: "[http(s)://]name[:port]" the preview URLs are made
	 * on ("": previews off), and the preview pool (preview.h) */
	char preview_domain[256];
	char preview_socket[PATH_MAX];
	int preview_workers;
	/* networking (net.h): off, sandboxes have loopback only */
	bool network;
	struct net_cidr net_pool;		/* a /31 per sandbox, the last the resolver's */
	struct net_cidr egress_allow[NET_MAX_ALLOW];	/* platform ranges sandboxes may reach */
	int negress_allow;
	const char *net_resolv_conf;		/* the resolvers dnsmasq forwards to */
	int default_egress;			/* enum net_mode of a sandbox that asks none */
	int net_conn_rate;			/* new connections a second per sandbox; 0: any */
	int net_conn_max;			/* its connections open at once (out, and to the resolver); 0: any */
	/* --ca-bundle: the trust of every sandbox ("": each image's own);
	 * copied at start to <data>/CA_BUNDLE_COPY, bound from there */
	char ca_bundle[PATH_MAX];
};

#define CA_BUNDLE_COPY "run/ca-certificates.crt"
#define CA_BUNDLE_MAX (16 << 20)
/* where the bundle shows in a sandbox, whatever its image */
#define CA_BUNDLE_PATH "/etc/ssl/certs/ca-certificates.crt"

/* Defaults, then the --config file, then the other options of argv, into c;
 * says what is wrong (file, line, key) on stderr and returns -1. */
int conf_parse(struct conf *c, int argc, char **argv);
/* SIGHUP: the same argv parsed again (so the file is re-read) into *n,
 * with what the running service is built on (data, socket, instance, uid
 * range, cgroup root, images) kept from old; -1 (said on stderr) when
 * the new settings are bad. */
int conf_reload(const struct conf *old, struct conf *n);

#endif
