/* The few rtnetlink requests a sandbox's network needs, in-process over
 * libmnl (a process per `ip` command costs 20-30 times as much).  A socket
 * stays bound to the network namespace it was opened in, whatever the
 * caller unshares later: the init opens one in the host's namespace before
 * it makes its own, and speaks through both. */
#ifndef SB_NETLINK_H
#define SB_NETLINK_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "util.h"

struct mnl_socket;

struct mnl_socket *nl_open(struct sb_err *err);
void nl_close(struct mnl_socket *nl);

/* a request fits a page; an answer (a link dump of one) 16 KiB */
#define NL_BUF 16384

/* Requests sent together (one sendmsg), each acknowledged: the first
 * error is the batch's.  A batch holds a few requests (NL_BUF bytes). */
struct nl_batch {
	char buf[NL_BUF];
	size_t len;
	int n;
};
void nl_batch_init(struct nl_batch *b);
/* Up; with no_ipv6, no IPv6 address is ever generated on it (no
 * link-local: nothing is reachable over IPv6 through this link). */
void nl_batch_up(struct nl_batch *b, unsigned ifindex, bool no_ipv6);
/* No IPv6 address ever generated on it (nl_batch_up's no_ipv6 alone, for
 * a link brought up later) */
void nl_batch_no_ipv6(struct nl_batch *b, unsigned ifindex);
void nl_batch_addr(struct nl_batch *b, unsigned ifindex, in_addr_t addr, int prefix);
/* The default route via gw, onlink. */
void nl_batch_route_default(struct nl_batch *b, unsigned ifindex, in_addr_t gw);
/* Send; what names the batch in an error. */
int nl_batch_send(struct mnl_socket *nl, struct nl_batch *b, const char *what, struct sb_err *err);

/* The interface index of name in the socket's namespace; 0 (ENODEV) if none. */
unsigned nl_ifindex(struct mnl_socket *nl, const char *name, struct sb_err *err);
/* A veth pair: name here, its peer made directly in the namespace of
 * peer_nsfd as peer_name, with index peer_index (0: any).  The index of
 * name; 0 on error (errno EEXIST when name is taken). */
unsigned nl_veth_add(struct mnl_socket *nl, const char *name, const char *peer_name, int peer_nsfd,
		     unsigned peer_index, struct sb_err *err);
/* A link that is down renamed (EEXIST when name is taken) */
int nl_link_rename(struct mnl_socket *nl, unsigned ifindex, const char *name, struct sb_err *err);
int nl_link_del(struct mnl_socket *nl, const char *name, struct sb_err *err);
/* excl: EEXIST when the interface has the address already */
int nl_addr_add(struct mnl_socket *nl, unsigned ifindex, in_addr_t addr, int prefix, bool excl,
		struct sb_err *err);
int nl_addr_del(struct mnl_socket *nl, unsigned ifindex, in_addr_t addr, int prefix, struct sb_err *err);
/* An unreachable route to dst/prefix in the main table (add: EEXIST when
 * a route to that prefix is there already), or that one removed */
int nl_route_unreachable(struct mnl_socket *nl, in_addr_t dst, int prefix, bool add, struct sb_err *err);

#endif
