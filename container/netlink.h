/* The few rtnetlink requests a sandbox's network needs, in-process over
 * libmnl (a process per `ip` command costs 20-30 times as much).  A socket
 * stays bound to the network namespace it was opened in, whatever the
 * caller unshares later: the init opens one in the host's namespace before
 * it makes its own, and speaks through both. */
#ifndef SB_NETLINK_H
#define SB_NETLINK_H

#include <stdint.h>
#include <netinet/in.h>

#include "util.h"

struct mnl_socket;

struct mnl_socket *nl_open(struct sb_err *err);
void nl_close(struct mnl_socket *nl);

/* The interface index of name in the socket's namespace; 0 (ENODEV) if none. */
unsigned nl_ifindex(struct mnl_socket *nl, const char *name, struct sb_err *err);
/* A veth pair: name here, its peer made directly in the namespace of
 * peer_nsfd as peer_name.  EEXIST when name is taken. */
int nl_veth_add(struct mnl_socket *nl, const char *name, const char *peer_name, int peer_nsfd,
		struct sb_err *err);
int nl_link_del(struct mnl_socket *nl, const char *name, struct sb_err *err);
/* Up, and no IPv6 address generated on it (no link-local: nothing of the
 * host is reachable over IPv6 through this link). */
int nl_link_up(struct mnl_socket *nl, unsigned ifindex, int no_ipv6, struct sb_err *err);
int nl_addr_add(struct mnl_socket *nl, unsigned ifindex, in_addr_t addr, int prefix, struct sb_err *err);
/* The same, EEXIST when the interface has it already. */
int nl_addr_add_excl(struct mnl_socket *nl, unsigned ifindex, in_addr_t addr, int prefix,
		     struct sb_err *err);
int nl_addr_del(struct mnl_socket *nl, unsigned ifindex, in_addr_t addr, int prefix, struct sb_err *err);
/* The default route via gw, onlink (gw is on no prefix of ifindex's). */
int nl_route_default(struct mnl_socket *nl, unsigned ifindex, in_addr_t gw, struct sb_err *err);

#endif
