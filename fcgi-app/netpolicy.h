/* A sandbox's network policy: what its egress may reach, and its
 * bandwidth caps.  Parsed and checked here (a bad one is a 400 and changes
 * nothing), kept in LMDB beside the sandbox's record (store_net_*), and
 * turned into elements of the nft table's per-sandbox sets by netapply.c.
 * The platform deny set is not here: no policy can open it. */
#ifndef SBD_NETPOLICY_H
#define SBD_NETPOLICY_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "util.h"

/* public: anything but the platform deny set (and denyOut); allowlist:
 * only allowOut (minus denyOut); none: nothing (DNS still answers) */
enum egress_mode { EGRESS_PUBLIC, EGRESS_ALLOWLIST, EGRESS_NONE };

/* entries per list: nft sets take far more; this bounds the record and
 * the transaction a PUT makes (Daytona allows 10) */
#define NETPOL_MAX_CIDRS 64
/* the most a sandbox may ask of limits.egressMbps / ingressMbps */
#define NETPOL_MAX_MBPS 100000

struct cidr4 {
	uint32_t addr;	/* host order, host bits zero */
	uint8_t len;	/* 0..32 */
};

struct net_policy {
	enum egress_mode mode;
	int nallow, ndeny;
	struct cidr4 allow[NETPOL_MAX_CIDRS];
	struct cidr4 deny[NETPOL_MAX_CIDRS];
	long egress_mbps, ingress_mbps;	/* 0: no cap */
};

/* "public" | "allowlist" | "none" -> mode; -1 for anything else. */
int egress_mode_parse(const char *s, enum egress_mode *mode);
const char *egress_mode_name(enum egress_mode mode);

/* "203.0.113.0/24", or an address alone (/32).  Dotted quad only (no
 * 127.1, no octal, no hex: what nft and every reader take the same way),
 * host bits zero.  0, or -1 with why (a static string) said. */
int cidr4_parse(const char *s, struct cidr4 *out, const char **why);
/* "a.b.c.d/len" into buf (at least 19 bytes) */
void cidr4_format(const struct cidr4 *c, char *buf, size_t len);
bool cidr4_contains(const struct cidr4 *c, uint32_t addr);

/* The server's default for a sandbox that asks nothing. */
void net_policy_default(struct net_policy *p, enum egress_mode mode);

/* The "network" object of a create or a PUT .../network: egress, allowOut,
 * denyOut, each optional.  A field missing keeps what *p holds (the
 * caller starts from the default, or from the sandbox's policy).  On a
 * bad value, a 400 in err and *p unchanged. */
int net_policy_parse(struct json_object *o, struct net_policy *p, struct sb_err *err);
/* {"egress", "allowOut", "denyOut"} as status shows (and the store keeps);
 * with limits, also "egressMbps"/"ingressMbps" (the store's form). */
struct json_object *net_policy_json(const struct net_policy *p, bool with_limits);
/* The store's form back (as net_policy_json(p, true) wrote it): -1 when
 * it is not one. */
int net_policy_from_json(struct json_object *o, struct net_policy *p);

#endif
