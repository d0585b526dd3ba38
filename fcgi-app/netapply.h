/* A network policy put in force: the sandbox's elements of the nft
 * table's per-sandbox sets, its open connections, its tc caps, and its
 * byte counters.  Built on the datapath (the sandbox's address and veth). */
#ifndef SBD_NETAPPLY_H
#define SBD_NETAPPLY_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "netpolicy.h"

struct app;
struct sandbox_ref;
struct sb_err;

struct net_counters {
	uint64_t in_bytes;	/* to the sandbox */
	uint64_t out_bytes;	/* from it */
};

/* From old to new: the sets in one nft transaction. */
int net_apply(struct app *app, const struct sandbox_ref *sb, const struct netpol *old,
	      const struct netpol *n, struct sb_err *err);
/* All of the sandbox's elements out of the sets (a destroy): its address
 * follows --default-egress again. */
int net_unapply(struct app *app, const struct sandbox_ref *sb, const struct netpol *old,
		struct sb_err *err);
/* The sandbox's open connections that p refuses are forgotten (their
 * conntrack entries deleted), so the next packet of each meets the policy
 * and is refused: an open connection is cut.  Those p allows go on. */
int net_cut(struct app *app, const struct sandbox_ref *sb, const struct netpol *p,
	    struct sb_err *err);
/* A destroyed sandbox's connections, what the kernel still tracks from
 * its address (a half-open SYN 2 min, an established flow days), are
 * forgotten: the slot's next owner gets the address with none of them
 * counted against its --net-conn-max.  Best effort: a failure is logged. */
void net_forget(struct app *app, const struct sandbox_ref *sb);
/* Bandwidth caps (effective limits) on a running sandbox's links: those
 * of n that differ from old's, or with old NULL (a start: its links are
 * new) those n has.  Not running, or networking off: nothing to do. */
struct sb_limits;
struct sb_record;
int net_caps_set(struct app *app, const struct sb_record *r, const struct sb_limits *old,
		 const struct sb_limits *n, struct sb_err *err);
/* The table and every stored policy's elements in one nft transaction
 * (the master at start, before any worker serves; net_restore), then the
 * running sandboxes' connections their policies refuse cut.  How many
 * policies, or -1 with the table left as it was. */
struct conf;
struct store;
int net_apply_all(const struct conf *c, struct store *s, struct sb_err *err);
/* The table put back with every policy (net_apply_all) if it is gone:
 * 1 when it was, 0 when it is there, -1. */
int net_restore(const struct conf *c, struct store *s, struct sb_err *err);
/* 1 with the sandbox's IPv4 address in buf, 0 when it has none yet. */
int net_sandbox_address(struct app *app, const struct sandbox_ref *sb, char *buf, size_t len);
/* Bytes through its interface since it started: 0, or -1 (not running). */
int net_sandbox_counters(struct app *app, const struct sandbox_ref *sb, struct net_counters *nc);
/* Per running sandbox, its bytes out and in (Prometheus text). */
void net_metrics_write(struct app *app, FILE *f);

#endif
