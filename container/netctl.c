#include "config.h"

#include "netctl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* a request (fixed sizes: libmnl's are variable-length arrays), and what
 * a dump's answers take (the kernel fills up to 32 KiB at a time) */
#define NL_REQ_SIZE 8192
#define NL_DUMP_SIZE 32768

static inline void mnl_closep(struct mnl_socket **nl)
{
	if (*nl)
		mnl_socket_close(*nl);
}
#define cleanup_mnl __attribute__((cleanup(mnl_closep)))

static struct mnl_socket *nl_open(int bus)
{
	struct mnl_socket *nl = mnl_socket_open2(bus, SOCK_CLOEXEC);

	if (nl && mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;
		mnl_socket_close(nl);
		errno = e;
		return NULL;
	}
	return nl;
}

/* Send one request and run cb over every answer until the kernel's done
 * (a dump) or its ack: 0, or -1 with errno (the kernel's error). */
static int nl_talk(struct mnl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[NL_DUMP_SIZE];
	unsigned portid = mnl_socket_get_portid(nl);
	unsigned seq = nlh->nlmsg_seq;
	ssize_t n;
	int r;

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	do {
		n = mnl_socket_recvfrom(nl, buf, sizeof buf);
		if (n < 0)
			return -1;
		r = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
	} while (r > 0);
	return r < 0 ? -1 : 0;
}

/* --- nf_tables ----------------------------------------------------------- */

int nft_table_exists(uint8_t family, const char *name)
{
	char buf[NL_REQ_SIZE];
	cleanup_mnl struct mnl_socket *nl = nl_open(NETLINK_NETFILTER);
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;

	if (!nl)
		return -1;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = (unsigned)time(NULL);
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof *nfg);
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, name);
	/* the table's header only (its sets' elements are not in it) */
	if (nl_talk(nl, nlh, NULL, NULL) == 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

/* --- conntrack ---------------------------------------------------------- */

/* One entry to delete: its original tuple as the kernel gave it. */
struct ct_victim {
	uint16_t len;
	uint16_t zone;		/* network order, as CTA_ZONE carries it */
	bool has_zone;
	unsigned char tuple[256];
};

struct ct_scan {
	uint32_t src;
	ct_refused_fn refused;
	void *arg;
	struct ct_victim *v;
	size_t n, cap;
	bool oom;
};

static int ip_attr(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	if ((type == CTA_IP_V4_SRC || type == CTA_IP_V4_DST) &&
	    mnl_attr_validate(a, MNL_TYPE_U32) == 0)
		tb[type] = a;
	return MNL_CB_OK;
}

static int tuple_attr(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_get_type(a) == CTA_TUPLE_IP && mnl_attr_validate(a, MNL_TYPE_NESTED) == 0)
		tb[CTA_TUPLE_IP] = a;
	return MNL_CB_OK;
}

static int ct_attr(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	if (type == CTA_TUPLE_ORIG && mnl_attr_validate(a, MNL_TYPE_NESTED) == 0)
		tb[type] = a;
	else if (type == CTA_ZONE && mnl_attr_validate(a, MNL_TYPE_U16) == 0)
		tb[type] = a;
	return MNL_CB_OK;
}

static int ct_entry(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[CTA_MAX + 1] = { 0 }, *tt[CTA_TUPLE_MAX + 1] = { 0 },
			    *ip[CTA_IP_MAX + 1] = { 0 };
	struct ct_scan *s = data;
	struct ct_victim *v;
	uint32_t src, dst;

	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), ct_attr, tb) < 0 || !tb[CTA_TUPLE_ORIG] ||
	    mnl_attr_parse_nested(tb[CTA_TUPLE_ORIG], tuple_attr, tt) < 0 || !tt[CTA_TUPLE_IP] ||
	    mnl_attr_parse_nested(tt[CTA_TUPLE_IP], ip_attr, ip) < 0 || !ip[CTA_IP_V4_SRC] ||
	    !ip[CTA_IP_V4_DST])
		return MNL_CB_OK;
	src = ntohl(mnl_attr_get_u32(ip[CTA_IP_V4_SRC]));
	dst = ntohl(mnl_attr_get_u32(ip[CTA_IP_V4_DST]));
	if (src != s->src || !s->refused(dst, s->arg))
		return MNL_CB_OK;
	if (mnl_attr_get_payload_len(tb[CTA_TUPLE_ORIG]) > sizeof v->tuple)
		return MNL_CB_OK;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct ct_victim *nv = realloc(s->v, cap * sizeof *nv);
		if (!nv) {
			s->oom = true;
			return MNL_CB_STOP;
		}
		s->v = nv;
		s->cap = cap;
	}
	v = &s->v[s->n++];
	v->len = mnl_attr_get_payload_len(tb[CTA_TUPLE_ORIG]);
	memcpy(v->tuple, mnl_attr_get_payload(tb[CTA_TUPLE_ORIG]), v->len);
	v->has_zone = tb[CTA_ZONE] != NULL;
	v->zone = v->has_zone ? mnl_attr_get_u16(tb[CTA_ZONE]) : 0;
	return MNL_CB_OK;
}

static struct nlmsghdr *ct_msg(char *buf, uint16_t type, uint16_t flags, unsigned seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof *nfg);
	nfg->nfgen_family = AF_INET;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	return nlh;
}

int ct_flush_from(uint32_t src, ct_refused_fn refused, void *arg, int *deleted,
		  struct sb_err *err)
{
	cleanup_mnl struct mnl_socket *nl = nl_open(NETLINK_NETFILTER);
	struct ct_scan s = { .src = src, .refused = refused, .arg = arg };
	char buf[NL_REQ_SIZE];
	unsigned seq = (unsigned)time(NULL);
	int ret = -1;

	*deleted = 0;
	if (!nl)
		return sb_syserr(err, "conntrack netlink socket");
	/* the whole IPv4 table, filtered here: a dump cannot delete as it
	 * goes, so the victims are collected first */
	if (nl_talk(nl, ct_msg(buf, IPCTNL_MSG_CT_GET, NLM_F_DUMP, seq), ct_entry, &s) < 0 && !s.oom) {
		sb_syserr(err, "conntrack dump");
		goto out;
	}
	if (s.oom) {
		sb_fail(err, SB_E_INTERNAL, ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < s.n; i++) {
		struct nlmsghdr *nlh = ct_msg(buf, IPCTNL_MSG_CT_DELETE, NLM_F_ACK, ++seq);
		mnl_attr_put(nlh, CTA_TUPLE_ORIG | NLA_F_NESTED, s.v[i].len, s.v[i].tuple);
		if (s.v[i].has_zone)
			mnl_attr_put_u16(nlh, CTA_ZONE, s.v[i].zone);
		if (nl_talk(nl, nlh, NULL, NULL) == 0)
			(*deleted)++;
		else if (errno != ENOENT) {	/* ENOENT: it ended meanwhile */
			sb_syserr(err, "conntrack delete");
			goto out;
		}
	}
	ret = 0;
out:
	free(s.v);
	return ret;
}

/* --- tc ------------------------------------------------------------------ */

/* A netlink route socket in the namespace of netns_fd (-1: ours) and the
 * index of ifname there.  A netlink socket stays in the namespace it was
 * made in, so only its creation happens in there; we are back at once (or
 * abort: a worker left in a sandbox's namespace would act on it). */
static struct mnl_socket *route_socket_in(int netns_fd, const char *ifname, unsigned *ifindex)
{
	cleanup_close int self = -1;
	struct mnl_socket *nl;
	int e;

	if (netns_fd >= 0) {
		self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (self < 0 || setns(netns_fd, CLONE_NEWNET) < 0)
			return NULL;
	}
	nl = nl_open(NETLINK_ROUTE);
	e = errno;
	*ifindex = if_nametoindex(ifname);
	if (!*ifindex)
		e = errno;
	if (self >= 0 && setns(self, CLONE_NEWNET) < 0)
		abort();
	if (nl && !*ifindex) {
		mnl_socket_close(nl);
		nl = NULL;
	}
	errno = e;
	return nl;
}

int tc_tbf_set(int netns_fd, const char *ifname, uint64_t bits_per_sec, struct sb_err *err)
{
	unsigned ifindex;
	cleanup_mnl struct mnl_socket *nl = route_socket_in(netns_fd, ifname, &ifindex);
	char buf[NL_REQ_SIZE];
	uint64_t rate = bits_per_sec / 8;	/* bytes a second */
	struct nlmsghdr *nlh;
	struct tcmsg *tcm;

	if (!nl)
		return sb_syserr(err, "netlink socket for %s", ifname);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = bits_per_sec ? RTM_NEWQDISC : RTM_DELQDISC;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (bits_per_sec ? NLM_F_CREATE | NLM_F_REPLACE : 0);
	nlh->nlmsg_seq = (unsigned)time(NULL);
	tcm = mnl_nlmsg_put_extra_header(nlh, sizeof *tcm);
	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = (int)ifindex;
	tcm->tcm_parent = TC_H_ROOT;
	tcm->tcm_handle = 0;
	if (bits_per_sec) {
		/* a burst of 10 ms at the rate (at least 64 KiB: a GSO packet of
		 * the veth passes whole), a queue of 50 ms more, as `tc ... tbf
		 * rate R burst B latency 50ms` makes it */
		uint64_t burst = rate / 100 > 65536 ? rate / 100 : 65536;
		uint64_t limit = burst + rate / 20;
		struct tc_tbf_qopt q;
		struct nlattr *opts;

		memset(&q, 0, sizeof q);
		q.rate.rate = rate >= UINT32_MAX ? UINT32_MAX : (uint32_t)rate;
		q.rate.linklayer = TC_LINKLAYER_ETHERNET;
		q.limit = limit > UINT32_MAX ? UINT32_MAX : (uint32_t)limit;
		/* in ticks of 64 ns (PSCHED_SHIFT); TCA_TBF_BURST below is
		 * what the kernel uses, this only has to be consistent */
		q.buffer = (uint32_t)(burst * 1000000000ULL / rate / 64 > UINT32_MAX ?
					      UINT32_MAX : burst * 1000000000ULL / rate / 64);
		mnl_attr_put_strz(nlh, TCA_KIND, "tbf");
		opts = mnl_attr_nest_start(nlh, TCA_OPTIONS);
		mnl_attr_put(nlh, TCA_TBF_PARMS, sizeof q, &q);
		if (rate >= UINT32_MAX)
			mnl_attr_put_u64(nlh, TCA_TBF_RATE64, rate);
		mnl_attr_put_u32(nlh, TCA_TBF_BURST, (uint32_t)burst);
		mnl_attr_nest_end(nlh, opts);
	}
	if (nl_talk(nl, nlh, NULL, NULL) < 0) {
		/* no cap to remove: done */
		if (!bits_per_sec && (errno == ENOENT || errno == EINVAL))
			return 0;
		return sb_syserr(err, "tbf on %s", ifname);
	}
	return 0;
}

/* --- counters ------------------------------------------------------------ */

struct link_scan {
	const char *prefix;
	const char *name;	/* exact name (link_bytes) */
	void (*fn)(const char *ifname, uint64_t rx, uint64_t tx, void *arg);
	void *arg;
	uint64_t rx, tx;
	bool found;
};

static int link_attr(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	if (type == IFLA_IFNAME && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
		tb[type] = a;
	else if (type == IFLA_STATS64 &&
		 mnl_attr_get_payload_len(a) >= sizeof(struct rtnl_link_stats64))
		tb[type] = a;
	return MNL_CB_OK;
}

static int link_entry(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[IFLA_MAX + 1] = { 0 };
	struct link_scan *s = data;
	struct rtnl_link_stats64 st;
	const char *name;

	if (mnl_attr_parse(nlh, sizeof(struct ifinfomsg), link_attr, tb) < 0 || !tb[IFLA_IFNAME] ||
	    !tb[IFLA_STATS64])
		return MNL_CB_OK;
	name = mnl_attr_get_str(tb[IFLA_IFNAME]);
	memcpy(&st, mnl_attr_get_payload(tb[IFLA_STATS64]), sizeof st);
	if (s->name && !strcmp(name, s->name)) {
		s->rx = st.rx_bytes;
		s->tx = st.tx_bytes;
		s->found = true;
	} else if (s->fn && !strncmp(name, s->prefix, strlen(s->prefix))) {
		s->fn(name, st.rx_bytes, st.tx_bytes, s->arg);
	}
	return MNL_CB_OK;
}

/* ack: an answer of its own after the interface's (nl_talk() reads until
 * it); without, the interface's message or the kernel's error is the one
 * answer (link_ask()). */
static void link_request(char *buf, const struct link_scan *s, unsigned seq, bool ack)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;

	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | (s->name ? (ack ? NLM_F_ACK : 0) : NLM_F_DUMP);
	nlh->nlmsg_seq = seq;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
	ifm->ifi_family = AF_UNSPEC;
	if (s->name)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, s->name);
	/* no VF and other extras: the counters are all we read */
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, 0);
}

static int link_query(struct link_scan *s)
{
	cleanup_mnl struct mnl_socket *nl = nl_open(NETLINK_ROUTE);
	char buf[NL_REQ_SIZE];

	if (!nl)
		return -1;
	link_request(buf, s, (unsigned)time(NULL), true);
	return nl_talk(nl, (struct nlmsghdr *)buf, link_entry, s);
}

/* The route socket link_bytes() keeps, per process: a status read with
 * networking on made one (socket, bind, getsockname, close: a quarter of
 * what networking added to a status read's CPU in the worker, measured)
 * for one question.  The same question goes on it, by name, every time:
 * the answer is the interface of that name at that moment, as on a new
 * socket.  Made in the process's own namespace (a worker never stands in
 * a sandbox's but for route_socket_in(), which makes its own sockets); a
 * child forked with it makes its own (the pid differs), so that no two
 * processes read each other's answers. */
static struct {
	struct mnl_socket *nl;
	pid_t pid;
	unsigned seq;
} kept_route;

/* our fd and our copy of libmnl's struct, whoever made them: a parent
 * keeps its own */
static void kept_route_drop(void)
{
	if (kept_route.nl)
		mnl_socket_close(kept_route.nl);
	kept_route.nl = NULL;
}

static struct mnl_socket *kept_route_get(void)
{
	if (kept_route.nl && kept_route.pid == getpid())
		return kept_route.nl;
	kept_route_drop();
	kept_route.nl = nl_open(NETLINK_ROUTE);
	kept_route.pid = getpid();
	kept_route.seq = (unsigned)time(NULL);
	return kept_route.nl;
}

/* One question by name without an ack: the kernel answers it with one
 * message, the interface's (rtnl_getlink()'s one unicast) or its error,
 * and nothing after.  0: the interface's counters read; -1: anything
 * else (the kernel's error, an exchange that failed). */
static int link_ask(struct mnl_socket *nl, struct link_scan *s)
{
	char req[NL_REQ_SIZE], buf[NL_REQ_SIZE];
	unsigned seq = ++kept_route.seq;
	struct sockaddr_nl from;
	socklen_t fl = sizeof from;
	ssize_t n;

	link_request(req, s, seq, false);
	if (mnl_socket_sendto(nl, req, ((struct nlmsghdr *)req)->nlmsg_len) < 0)
		return -1;
	/* libmnl's own checks take a message of sequence 0 or of sender 0
	 * from anyone: on a kept socket (its port id stays, and is listed in
	 * /proc/net/netlink) any process with CAP_NET_ADMIN here could leave
	 * an answer there for the next question.  So the kernel's (sender
	 * 0) and to this question (its sequence), whole, or nothing */
	n = recvfrom(mnl_socket_get_fd(nl), buf, sizeof buf, MSG_TRUNC, (struct sockaddr *)&from, &fl);
	if (n < (ssize_t)sizeof(struct nlmsghdr) || (size_t)n > sizeof buf ||
	    fl != sizeof from || from.nl_family != AF_NETLINK || from.nl_pid != 0 ||
	    ((struct nlmsghdr *)buf)->nlmsg_seq != seq ||
	    mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(nl), link_entry, s) < 0)
		return -1;
	return s->found ? 0 : -1;
}

int link_bytes(const char *ifname, uint64_t *rx, uint64_t *tx)
{
	struct link_scan s = { .name = ifname };
	struct mnl_socket *nl = kept_route_get();

	/* anything but the interface's answer (no such interface, an
	 * exchange that failed): a new socket, so that nothing of this one
	 * is read as the next one's, and the question again as it was asked
	 * before (a socket of its own, an ack awaited): its answer then */
	if (!nl || link_ask(nl, &s) < 0) {
		kept_route_drop();
		s = (struct link_scan){ .name = ifname };
		if (link_query(&s) < 0)
			return -1;
		if (!s.found) {
			errno = ENODEV;
			return -1;
		}
	}
	*rx = s.rx;
	*tx = s.tx;
	return 0;
}

int link_bytes_foreach(const char *prefix,
		       void (*fn)(const char *ifname, uint64_t rx, uint64_t tx, void *arg), void *arg)
{
	struct link_scan s = { .prefix = prefix, .fn = fn, .arg = arg };

	return link_query(&s);
}
