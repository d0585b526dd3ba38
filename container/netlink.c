/* rtnetlink requests over libmnl.  Requests that need no answer but their
 * acknowledgement go in batches: one sendmsg, then one ack each (a sandbox
 * start sends two batches and two single requests, not ten). */
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

/* The index of the link named `name` in an RTM_NEWLINK message (a GETLINK
 * answer, or the echo of a link we made). */
struct link_find {
	const char *name;
	unsigned index;
};

static int link_cb(const struct nlmsghdr *nlh, struct link_find *f)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return 0;
	mnl_attr_for_each(a, nlh, sizeof *ifi)
		if (mnl_attr_get_type(a) == IFLA_IFNAME && !strcmp(mnl_attr_get_str(a), f->name))
			f->index = (unsigned)ifi->ifi_index;
	return 0;
}

/* Send the n requests in buf (each with NLM_F_ACK) and read until each is
 * acknowledged; the first error wins (errno).  f, when given, sees every
 * link message that comes back. */
static int talk(struct mnl_socket *nl, const void *buf, size_t len, int n, struct link_find *f)
{
	char rbuf[NL_BUF];
	int err = 0;

	if (mnl_socket_sendto(nl, buf, len) < 0)
		return -1;
	while (n > 0) {
		ssize_t got = mnl_socket_recvfrom(nl, rbuf, sizeof rbuf);
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)rbuf;
		int left = (int)got;

		if (got < 0)
			return -1;
		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
				if (e->error && !err)
					err = -e->error;
				n--;
			} else if (f) {
				link_cb(nlh, f);
			}
		}
	}
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

static struct nlmsghdr *msg(struct nl_batch *b, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(b->buf + b->len);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = (uint32_t)++b->n;
	return nlh;
}

static void done(struct nl_batch *b, struct nlmsghdr *nlh)
{
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

static struct nlmsghdr *link_msg(struct nl_batch *b, uint16_t type, uint16_t flags, unsigned ifindex)
{
	struct nlmsghdr *nlh = msg(b, type, flags);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	return nlh;
}

void nl_batch_init(struct nl_batch *b)
{
	b->len = 0;
	b->n = 0;
}

int nl_batch_send(struct mnl_socket *nl, struct nl_batch *b, const char *what, struct sb_err *err)
{
	int r = talk(nl, b->buf, b->len, b->n, NULL);

	nl_batch_init(b);
	if (r < 0) {
		int e = errno;
		sb_syserr(err, "%s", what);
		errno = e;
	}
	return r;
}

void nl_batch_no_ipv6(struct nl_batch *b, unsigned ifindex)
{
	struct nlmsghdr *nlh = link_msg(b, RTM_NEWLINK, 0, ifindex);
	struct nlattr *spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
	struct nlattr *in6 = mnl_attr_nest_start(nlh, AF_INET6);

	mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
	mnl_attr_nest_end(nlh, in6);
	mnl_attr_nest_end(nlh, spec);
	done(b, nlh);
}

void nl_batch_up(struct nl_batch *b, unsigned ifindex, bool no_ipv6)
{
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	/* the address generation mode first, in a request of its own: set with
	 * IFF_UP in one request, the link-local address is made before it
	 * applies */
	if (no_ipv6)
		nl_batch_no_ipv6(b, ifindex);
	nlh = link_msg(b, RTM_NEWLINK, 0, ifindex);
	ifi = mnl_nlmsg_get_payload(nlh);
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	done(b, nlh);
}

static void addr_msg(struct nl_batch *b, uint16_t type, uint16_t flags, unsigned ifindex,
		     in_addr_t addr, int prefix)
{
	struct nlmsghdr *nlh = msg(b, type, flags);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);

	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (unsigned char)prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = ifindex;
	mnl_attr_put_u32(nlh, IFA_LOCAL, addr);
	mnl_attr_put_u32(nlh, IFA_ADDRESS, addr);
	done(b, nlh);
}

void nl_batch_addr(struct nl_batch *b, unsigned ifindex, in_addr_t addr, int prefix)
{
	addr_msg(b, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, ifindex, addr, prefix);
}

void nl_batch_route_default(struct nl_batch *b, unsigned ifindex, in_addr_t gw)
{
	struct nlmsghdr *nlh = msg(b, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof *rtm);

	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = 0;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	rtm->rtm_flags = RTNH_F_ONLINK;
	mnl_attr_put_u32(nlh, RTA_GATEWAY, gw);
	mnl_attr_put_u32(nlh, RTA_OIF, ifindex);
	done(b, nlh);
}

unsigned nl_ifindex(struct mnl_socket *nl, const char *name, struct sb_err *err)
{
	struct nl_batch b;
	struct link_find f = { name, 0 };
	struct nlmsghdr *nlh;

	nl_batch_init(&b);
	nlh = link_msg(&b, RTM_GETLINK, 0, 0);
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	done(&b, nlh);
	if (talk(nl, b.buf, b.len, 1, &f) < 0 || !f.index) {
		if (!f.index && errno == 0)
			errno = ENODEV;
		sb_syserr(err, "find interface %s", name);
		return 0;
	}
	return f.index;
}

unsigned nl_veth_add(struct mnl_socket *nl, const char *name, const char *peer_name, int peer_nsfd,
		     unsigned peer_index, struct sb_err *err)
{
	struct nl_batch b;
	struct link_find f = { name, 0 };
	struct nlattr *linkinfo, *data, *peer;
	struct ifinfomsg *pifi;
	struct nlmsghdr *nlh;

	nl_batch_init(&b);
	/* the echo of the new link tells its index (kernels since 6.3) */
	nlh = link_msg(&b, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	/* the peer's own ifinfomsg, then its attributes */
	pifi = mnl_nlmsg_put_extra_header(nlh, sizeof *pifi);
	memset(pifi, 0, sizeof *pifi);
	pifi->ifi_index = (int)peer_index;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer_name);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)peer_nsfd);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, linkinfo);
	done(&b, nlh);
	if (talk(nl, b.buf, b.len, 1, &f) < 0) {
		int e = errno;
		sb_syserr(err, "create veth %s", name);
		errno = e;
		return 0;
	}
	return f.index ? f.index : nl_ifindex(nl, name, err);
}

int nl_link_rename(struct mnl_socket *nl, unsigned ifindex, const char *name, struct sb_err *err)
{
	struct nl_batch b;
	struct nlmsghdr *nlh;
	char what[64];

	nl_batch_init(&b);
	nlh = link_msg(&b, RTM_NEWLINK, 0, ifindex);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	done(&b, nlh);
	snprintf(what, sizeof what, "rename interface %u to %s", ifindex, name);
	return nl_batch_send(nl, &b, what, err);
}

int nl_link_del(struct mnl_socket *nl, const char *name, struct sb_err *err)
{
	struct nl_batch b;
	struct nlmsghdr *nlh;

	nl_batch_init(&b);
	nlh = link_msg(&b, RTM_DELLINK, 0, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	done(&b, nlh);
	return nl_batch_send(nl, &b, name, err);
}

int nl_addr_add(struct mnl_socket *nl, unsigned ifindex, in_addr_t addr, int prefix, bool excl,
		struct sb_err *err)
{
	struct nl_batch b;
	char a[INET_ADDRSTRLEN], what[64];

	nl_batch_init(&b);
	addr_msg(&b, RTM_NEWADDR, NLM_F_CREATE | (excl ? NLM_F_EXCL : NLM_F_REPLACE), ifindex, addr, prefix);
	snprintf(what, sizeof what, "add address %s/%d", inet_ntop(AF_INET, &addr, a, sizeof a), prefix);
	return nl_batch_send(nl, &b, what, err);
}

int nl_route_unreachable(struct mnl_socket *nl, in_addr_t dst, int prefix, bool add, struct sb_err *err)
{
	struct nl_batch b;
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	char a[INET_ADDRSTRLEN], what[64];

	nl_batch_init(&b);
	nlh = msg(&b, add ? RTM_NEWROUTE : RTM_DELROUTE, add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof *rtm);
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = (unsigned char)prefix;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	/* a delete names the type too: it takes this route, never another
	 * of the same prefix */
	rtm->rtm_type = RTN_UNREACHABLE;
	mnl_attr_put_u32(nlh, RTA_DST, dst);
	done(&b, nlh);
	snprintf(what, sizeof what, "%s the unreachable route %s/%d", add ? "add" : "remove",
		 inet_ntop(AF_INET, &dst, a, sizeof a), prefix);
	return nl_batch_send(nl, &b, what, err);
}

int nl_addr_del(struct mnl_socket *nl, unsigned ifindex, in_addr_t addr, int prefix, struct sb_err *err)
{
	struct nl_batch b;
	char a[INET_ADDRSTRLEN], what[64];

	nl_batch_init(&b);
	addr_msg(&b, RTM_DELADDR, 0, ifindex, addr, prefix);
	snprintf(what, sizeof what, "remove address %s/%d", inet_ntop(AF_INET, &addr, a, sizeof a), prefix);
	return nl_batch_send(nl, &b, what, err);
}
