/* Sandbox networking, the service's side: addresses from --net-pool, the
 * nft table every sandbox's traffic crosses, the resolver the sandboxes
 * use (dnsmasq, supervised by the master), and the per-sandbox policy sets
 * the API changes.  The datapath itself (a routed veth pair per sandbox) is
 * made by the sandbox's init (sandboxd-init.c, container/netlink.c).
 *
 * IPv4 only: a sandbox has no IPv6 but its loopback's, and the table drops
 * every IPv6 packet from a sandbox link. */
#ifndef SBD_NET_H
#define SBD_NET_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

struct conf;
struct sb_record;
struct sb_net_spec;

/* An IPv4 range, host byte order, addr & ~mask == 0 */
struct net_cidr {
	uint32_t addr;
	int prefix;
};

#define NET_MAX_ALLOW 16

/* "203.0.113.0/24" or a lone address (/32); the host bits must be zero.
 * -1 when malformed (IPv6 too: sandboxes have none). */
int net_cidr_parse(const char *s, struct net_cidr *c);
/* "a.b.c.d/n" into buf (at least 19 bytes) */
const char *net_cidr_str(const struct net_cidr *c, char *buf, size_t len);

/* How many sandboxes a pool of that prefix holds: one /31 each, the last
 * /31 the resolver's. */
uint32_t net_pool_slots(int prefix);
/* The sandbox's end of its /31 and the host's (network byte order), and the
 * host end's interface name (IFNAMSIZ): "vs" + the instance's 4-hex tag +
 * the slot in hex, unique on the host among instances with other names. */
void net_slot_addr(const struct conf *c, uint32_t slot, uint32_t *addr, uint32_t *gw);
void net_slot_ifname(const struct conf *c, uint32_t slot, char *buf, size_t len);
/* The name prefix of a host end made ahead by a waiting launcher, before
 * a start renames it to its slot's (sandbox_prepare_net): "vt" and the
 * instance's tag, which no table rule (vs<tag>*) matches. */
void net_ahead_prefix(const struct conf *c, char *buf, size_t len);
/* A record's /31, kept for its life: its slot (store.c), 1-based, or
 * derived from its uid range for records made before networking. */
int net_record_slot(const struct conf *c, const struct sb_record *r, uint32_t *slot,
		    struct sb_err *err);
/* What sandboxd-init needs to make the pair for the record; -1 (503) when
 * the pool has no room for it. */
int net_spec(const struct conf *c, const struct sb_record *r, struct sb_net_spec *out,
	     struct sb_err *err);
/* The sandbox's address as text ("10.89.0.7"): for status and previews. */
int net_record_addr(const struct conf *c, const struct sb_record *r, char *buf, size_t len);
uint32_t net_resolver(const struct conf *c);	/* network byte order */

/* The master, once at start before the workers: ip_forward, the resolver's
 * address on lo, the resolv.conf sandboxes see, the nft table (replaced
 * whole: per-sandbox elements are put back by the caller).  Stop: the
 * table and the address go. */
int net_start(const struct conf *c, struct sb_err *err);
/* The table alone (net_start's last step), replaced whole. */
int net_table_load(const struct conf *c, struct sb_err *err);
void net_stop(const struct conf *c);
/* Whether this instance's table is there (someone may have removed it:
 * nft flush ruleset). */
bool net_table_present(const struct conf *c);
/* The table with policies (net_load_policy for each), loaded whole in one
 * transaction by net_load_run (which frees l): a failure leaves the table
 * that was there.  net_load_free: dropped unloaded. */
struct net_load;
struct net_policy;
struct net_load *net_load_new(const struct conf *c);
void net_load_policy(struct net_load *l, uint32_t addr, const struct net_policy *p);
int net_load_run(struct net_load *l, struct sb_err *err);
void net_load_free(struct net_load *l);
/* This process's nft context (and its netlink socket) gone: the master's,
 * before it forks, once it is done with the table. */
void net_nft_free(void);
/* Start dnsmasq on the resolver's address (its pid; the master restarts
 * it when it ends).  orig: the signal mask the child gets. */
pid_t net_dns_spawn(const struct conf *c, const sigset_t *orig);

/* Per-sandbox policy, as sets keyed by the sandbox's address (changing a
 * policy changes elements, never rules).  The platform deny set and the
 * other sandboxes stay refused whatever is listed here. */
enum net_mode { NET_PUBLIC = 0, NET_ALLOWLIST, NET_NONE };
struct net_policy {
	enum net_mode mode;
	const struct net_cidr *allow;	/* reached in allowlist mode */
	int nallow;
	const struct net_cidr *deny;	/* refused in every mode */
	int ndeny;
};
/* Replace sandbox addr's elements (old: what was set before, NULL when
 * nothing) by new's, in one nft transaction; from then on the sandbox
 * follows its own policy, not --default-egress (set own4). */
int net_policy_set(const struct conf *c, uint32_t addr, const struct net_policy *old,
		   const struct net_policy *new, struct sb_err *err);

/* Every element of sandbox addr (old: its policy's lists) goes, own4's too:
 * a destroyed sandbox's address is as a new one's. */
int net_policy_clear(const struct conf *c, uint32_t addr, const struct net_policy *old,
		     struct sb_err *err);

#endif
