/* rtnetlink requests over libmnl: one message, one acknowledgement. */
#include "config.h"

#include "netlink.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* a request fits a page; an answer (a link dump of one) 16 KiB */
#define NL_BUF 16384

struct mnl_socket *nl_open(struct sb_err *err)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);

	if (!nl) {
		sb_syserr(err, "netlink socket");
		return NULL;
	}
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		sb_syserr(err, "bind netlink socket");
		mnl_socket_close(nl);
		return NULL;
	}
	return nl;
}

void nl_close(struct mnl_socket *nl)
{
	if (nl)
		mnl_socket_close(nl);
}

/* Send and wait for the kernel's answer; cb sees data messages (GETLINK).
 * -1 with errno set from the kernel's error. */
static int talk(struct mnl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *arg)
{
	char buf[NL_BUF];
	unsigned portid = mnl_socket_get_portid(nl);
	ssize_t n;
	int r;

	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = (uint32_t)time(NULL) ^ (uint32_t)nlh->nlmsg_type;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	do {
		n = mnl_socket_recvfrom(nl, buf, sizeof buf);
		if (n < 0)
			return -1;
		r = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, portid, cb, arg);
	} while (r > 0);
	return r < 0 ? -1 : 0;
}

static struct nlmsghdr *link_msg(char *buf, uint16_t type, uint16_t flags, unsigned ifindex)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	return nlh;
}

static int ifindex_cb(const struct nlmsghdr *nlh, void *arg)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type == RTM_NEWLINK)
		*(unsigned *)arg = (unsigned)ifi->ifi_index;
	return MNL_CB_OK;
}

unsigned nl_ifindex(struct mnl_socket *nl, const char *name, struct sb_err *err)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = link_msg(buf, RTM_GETLINK, 0, 0);
	unsigned idx = 0;

	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (talk(nl, nlh, ifindex_cb, &idx) < 0 || !idx) {
		if (!idx && errno == 0)
			errno = ENODEV;
		sb_syserr(err, "find interface %s", name);
		return 0;
	}
	return idx;
}

int nl_veth_add(struct mnl_socket *nl, const char *name, const char *peer_name, int peer_nsfd,
		struct sb_err *err)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, 0);
	struct nlattr *linkinfo, *data, *peer;
	struct ifinfomsg *pifi;

	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	/* the peer's own ifinfomsg, then its attributes */
	pifi = mnl_nlmsg_put_extra_header(nlh, sizeof *pifi);
	memset(pifi, 0, sizeof *pifi);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer_name);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_nsfd);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, linkinfo);
	if (talk(nl, nlh, NULL, NULL) < 0) {
		int e = errno;
		sb_syserr(err, "create veth %s", name);
		errno = e;
		return -1;
	}
	return 0;
}

int nl_link_del(struct mnl_socket *nl, const char *name, struct sb_err *err)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = link_msg(buf, RTM_DELLINK, 0, 0);

	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (talk(nl, nlh, NULL, NULL) < 0)
		return sb_syserr(err, "delete interface %s", name);
	return 0;
}

int nl_link_up(struct mnl_socket *nl, unsigned ifindex, int no_ipv6, struct sb_err *err)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = link_msg(buf, RTM_NEWLINK, 0, ifindex);
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);

	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	if (no_ipv6) {
		struct nlattr *spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
		struct nlattr *in6 = mnl_attr_nest_start(nlh, AF_INET6);
		mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
		mnl_attr_nest_end(nlh, in6);
		mnl_attr_nest_end(nlh, spec);
	}
	if (talk(nl, nlh, NULL, NULL) < 0)
		return sb_syserr(err, "bring interface %u up", ifindex);
	return 0;
}

static int addr_msg(struct mnl_socket *nl, uint16_t type, uint16_t flags, unsigned ifindex,
		    in_addr_t addr, int prefix)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (unsigned char)prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = ifindex;
	mnl_attr_put_u32(nlh, IFA_LOCAL, addr);
	mnl_attr_put_u32(nlh, IFA_ADDRESS, addr);
	return talk(nl, nlh, NULL, NULL);
}

int nl_addr_add(struct mnl_socket *nl, unsigned ifindex, in_addr_t addr, int prefix, struct sb_err *err)
{
	char a[INET_ADDRSTRLEN];

	if (addr_msg(nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, ifindex, addr, prefix) < 0)
		return sb_syserr(err, "add address %s/%d", inet_ntop(AF_INET, &addr, a, sizeof a), prefix);
	return 0;
}

int nl_addr_add_excl(struct mnl_socket *nl, unsigned ifindex, in_addr_t addr, int prefix,
		     struct sb_err *err)
{
	char a[INET_ADDRSTRLEN];

	if (addr_msg(nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifindex, addr, prefix) < 0) {
		int e = errno;
		sb_syserr(err, "add address %s/%d", inet_ntop(AF_INET, &addr, a, sizeof a), prefix);
		errno = e;
		return -1;
	}
	return 0;
}

int nl_addr_del(struct mnl_socket *nl, unsigned ifindex, in_addr_t addr, int prefix, struct sb_err *err)
{
	char a[INET_ADDRSTRLEN];

	if (addr_msg(nl, RTM_DELADDR, 0, ifindex, addr, prefix) < 0)
		return sb_syserr(err, "remove address %s/%d", inet_ntop(AF_INET, &addr, a, sizeof a), prefix);
	return 0;
}

int nl_route_default(struct mnl_socket *nl, unsigned ifindex, in_addr_t gw, struct sb_err *err)
{
	char buf[NL_BUF];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;

	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof *rtm);
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = 0;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	rtm->rtm_flags = RTNH_F_ONLINK;
	mnl_attr_put_u32(nlh, RTA_GATEWAY, gw);
	mnl_attr_put_u32(nlh, RTA_OIF, ifindex);
	if (talk(nl, nlh, NULL, NULL) < 0)
		return sb_syserr(err, "add the default route");
	return 0;
}
