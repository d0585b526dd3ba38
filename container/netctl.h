/* Host-side netlink for a sandbox's network, in-process over libmnl (no
 * `conntrack` or `tc` process per call): cut its tracked connections, cap
 * its bandwidth, read its interface's byte counters. */
#ifndef SBD_NETCTL_H
#define SBD_NETCTL_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

/* Whether the nf_tables table family/name is there: 1, 0, or -1 (errno),
 * one netlink request that fetches the table alone (an nft "list" reads
 * every set's elements: 0.15 s at 50000). */
int nft_table_exists(uint8_t family, const char *name);

/* Whether a connection from the sandbox to dst (host order) is refused. */
typedef bool (*ct_refused_fn)(uint32_t dst, void *arg);

/* Delete every IPv4 conntrack entry whose original source is src (host
 * order) and whose destination refused() says is refused: its next packet
 * is a new connection to the forward chain, which refuses it (an open
 * connection is cut; one the policy still allows is left alone).
 * *deleted counts them. */
int ct_flush_from(uint32_t src, ct_refused_fn refused, void *arg, int *deleted,
		  struct sb_err *err);

/* A token bucket of bits_per_sec on ifname's egress (its root qdisc),
 * replacing what was there; 0 removes it.  netns_fd: the network namespace
 * the interface is in (-1: ours). */
int tc_tbf_set(int netns_fd, const char *ifname, uint64_t bits_per_sec, struct sb_err *err);

/* ifname's byte counters in our network namespace: rx (what it received)
 * and tx.  0, or -1 with errno (ENODEV: no such interface). */
int link_bytes(const char *ifname, uint64_t *rx, uint64_t *tx);

/* fn for every interface of our namespace whose name starts with prefix,
 * with its counters (one dump). */
int link_bytes_foreach(const char *prefix,
		       void (*fn)(const char *ifname, uint64_t rx, uint64_t tx, void *arg), void *arg);

#endif
