/* A sandbox's network policy: what its egress may reach (its bandwidth
 * caps are limits, settings.c).  Parsed and checked here (a bad one is a 400 and changes
 * nothing), kept in LMDB beside the sandbox's record (store_net_*), and
 * turned into elements of the nft table's per-sandbox sets by netapply.c.
 * The platform deny set is not here: no policy can open it. */
#ifndef SBD_NETPOLICY_H
#define SBD_NETPOLICY_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "net.h"
#include "util.h"

/* the most entries per list: nft sets take far more; this bounds the
 * record and the transaction a PUT makes (Daytona allows 10) */
#define NETPOL_MAX_CIDRS 64

/* public: anything but the platform deny set (and denyOut); allowlist:
 * only allowOut (minus denyOut); none: nothing (DNS still answers) */
struct netpol {
	enum net_mode mode;
	int nallow, ndeny;
	struct net_cidr allow[NETPOL_MAX_CIDRS];
	struct net_cidr deny[NETPOL_MAX_CIDRS];
};

/* "public" | "allowlist" | "none" -> mode; -1 for anything else. */
int egress_mode_parse(const char *s, enum net_mode *mode);
const char *egress_mode_name(enum net_mode mode);

/* The server's default for a sandbox that asks nothing. */
void netpol_default(struct netpol *p, enum net_mode mode);
/* The same mode and lists (in the same order). */
bool netpol_same_lists(const struct netpol *a, const struct netpol *b);
/* What net_policy_set() takes: a view of p's lists. */
struct net_policy netpol_sets(const struct netpol *p);
/* Whether p refuses a connection to dst (host order): none, not in an
 * allowlist, or in denyOut (the platform's own refusals aside). */
bool netpol_refuses(const struct netpol *p, uint32_t dst);

/* The "network" object of a create or a PUT .../network: egress, allowOut,
 * denyOut, each optional.  A field missing keeps what *p holds (the
 * caller starts from the default).  On a bad value, a 400 in err and *p
 * unchanged. */
int netpol_parse(struct json_object *o, struct netpol *p, struct sb_err *err);
/* {"egress", "allowOut", "denyOut"}: as status shows it, as the store
 * keeps it. */
struct json_object *netpol_json(const struct netpol *p);
/* The store's form back: -1 when it is not one (it is checked as a
 * request's body is). */
int netpol_from_json(struct json_object *o, struct netpol *p);

#endif
