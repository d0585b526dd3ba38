#include "config.h"

#include "netpolicy.h"

#include <stdio.h>
#include <string.h>

static const char *const mode_names[] = {
	[EGRESS_PUBLIC] = "public",
	[EGRESS_ALLOWLIST] = "allowlist",
	[EGRESS_NONE] = "none",
};

int egress_mode_parse(const char *s, enum egress_mode *mode)
{
	for (size_t i = 0; i < sizeof mode_names / sizeof *mode_names; i++) {
		if (!strcmp(s, mode_names[i])) {
			*mode = (enum egress_mode)i;
			return 0;
		}
	}
	return -1;
}

const char *egress_mode_name(enum egress_mode mode)
{
	return (unsigned)mode < sizeof mode_names / sizeof *mode_names ? mode_names[mode] : "?";
}

/* One decimal number 0..max, no sign, no leading zero (an octal reading
 * of "010" by some other parser must not differ from ours); *s moves past it. */
static int dec(const char **s, unsigned max, unsigned *out)
{
	const char *p = *s;
	unsigned v = 0;

	if (*p < '0' || *p > '9')
		return -1;
	if (*p == '0' && p[1] >= '0' && p[1] <= '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (unsigned)(*p++ - '0');
		if (v > max)
			return -1;
	}
	*s = p;
	*out = v;
	return 0;
}

int cidr4_parse(const char *s, struct cidr4 *out, const char **why)
{
	const char *p = s;
	uint32_t addr = 0, mask;
	unsigned v, len = 32;

	if (strchr(s, ':')) {
		*why = "IPv6 is not routed: sandboxes have IPv4 only";
		return -1;
	}
	for (int i = 0; i < 4; i++) {
		if ((i && *p++ != '.') || dec(&p, 255, &v) < 0) {
			*why = "not an IPv4 CIDR such as 203.0.113.0/24";
			return -1;
		}
		addr = addr << 8 | v;
	}
	if (*p == '/') {
		p++;
		if (dec(&p, 32, &len) < 0) {
			*why = "the prefix length must be 0 to 32";
			return -1;
		}
	}
	if (*p) {
		*why = "not an IPv4 CIDR such as 203.0.113.0/24";
		return -1;
	}
	mask = len ? ~(uint32_t)0 << (32 - len) : 0;
	if (addr & ~mask) {
		*why = "host bits are set (write the network address, e.g. 203.0.113.0/24)";
		return -1;
	}
	out->addr = addr;
	out->len = (uint8_t)len;
	return 0;
}

void cidr4_format(const struct cidr4 *c, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u.%u/%u", c->addr >> 24, (c->addr >> 16) & 255,
		 (c->addr >> 8) & 255, c->addr & 255, c->len);
}

bool cidr4_contains(const struct cidr4 *c, uint32_t addr)
{
	uint32_t mask = c->len ? ~(uint32_t)0 << (32 - c->len) : 0;

	return (addr & mask) == c->addr;
}

void net_policy_default(struct net_policy *p, enum egress_mode mode)
{
	memset(p, 0, sizeof *p);
	p->mode = mode;
}

/* A list of CIDRs, duplicates dropped (nft refuses overlapping interval
 * elements in one transaction; equal ones are the common case). */
static int parse_list(struct json_object *v, const char *name, struct cidr4 *list, int *n,
		      struct sb_err *err)
{
	size_t len;

	if (!json_object_is_type(v, json_type_array))
		return sb_fail(err, 400, 0, "network.%s must be an array of IPv4 CIDRs", name);
	len = json_object_array_length(v);
	if (len > NETPOL_MAX_CIDRS)
		return sb_fail(err, 400, 0, "network.%s has more than %d entries", name,
			       NETPOL_MAX_CIDRS);
	*n = 0;
	for (size_t i = 0; i < len; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		const char *s, *why;
		struct cidr4 c;
		bool dup = false;

		if (!json_object_is_type(e, json_type_string))
			return sb_fail(err, 400, 0, "network.%s[%zu] must be a string", name, i);
		s = json_object_get_string(e);
		if (strlen(s) != (size_t)json_object_get_string_len(e) ||
		    cidr4_parse(s, &c, &why) < 0)
			return sb_fail(err, 400, 0, "network.%s[%zu] '%.64s': %s", name, i, s,
				       strlen(s) != (size_t)json_object_get_string_len(e) ?
					       "contains a NUL" : why);
		for (int k = 0; k < *n; k++)
			dup |= list[k].addr == c.addr && list[k].len == c.len;
		if (!dup)
			list[(*n)++] = c;
	}
	return 0;
}

int net_policy_parse(struct json_object *o, struct net_policy *p, struct sb_err *err)
{
	struct net_policy n = *p;
	struct json_object *v;

	if (!json_object_is_type(o, json_type_object))
		return sb_fail(err, 400, 0, "network must be an object");
	json_object_object_foreach(o, key, val) {
		(void)val;
		if (strcmp(key, "egress") && strcmp(key, "allowOut") && strcmp(key, "denyOut"))
			return sb_fail(err, 400, 0,
				       "network.%.64s: unknown field (egress, allowOut, denyOut)", key);
	}
	if (json_object_object_get_ex(o, "egress", &v) &&
	    (!json_object_is_type(v, json_type_string) ||
	     egress_mode_parse(json_object_get_string(v), &n.mode) < 0))
		return sb_fail(err, 400, 0,
			       "network.egress must be \"public\", \"allowlist\" or \"none\"");
	if (json_object_object_get_ex(o, "allowOut", &v) &&
	    parse_list(v, "allowOut", n.allow, &n.nallow, err) < 0)
		return -1;
	if (json_object_object_get_ex(o, "denyOut", &v) &&
	    parse_list(v, "denyOut", n.deny, &n.ndeny, err) < 0)
		return -1;
	*p = n;
	return 0;
}

static struct json_object *list_json(const struct cidr4 *list, int n)
{
	struct json_object *a = json_object_new_array();
	char buf[24];

	for (int i = 0; i < n; i++) {
		cidr4_format(&list[i], buf, sizeof buf);
		json_object_array_add(a, json_object_new_string(buf));
	}
	return a;
}

struct json_object *net_policy_json(const struct net_policy *p, bool with_limits)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "egress", json_object_new_string(egress_mode_name(p->mode)));
	json_object_object_add(o, "allowOut", list_json(p->allow, p->nallow));
	json_object_object_add(o, "denyOut", list_json(p->deny, p->ndeny));
	if (with_limits) {
		json_object_object_add(o, "egressMbps", json_object_new_int64(p->egress_mbps));
		json_object_object_add(o, "ingressMbps", json_object_new_int64(p->ingress_mbps));
	}
	return o;
}

int net_policy_from_json(struct json_object *o, struct net_policy *p)
{
	struct sb_err err = SB_ERR_INIT;
	struct json_object *v, *net;

	net_policy_default(p, EGRESS_PUBLIC);
	if (!json_object_is_type(o, json_type_object))
		return -1;
	/* the same checks as a request's: a record we wrote passes them */
	net = json_object_new_object();
	if (json_object_object_get_ex(o, "egress", &v))
		json_object_object_add(net, "egress", json_object_get(v));
	if (json_object_object_get_ex(o, "allowOut", &v))
		json_object_object_add(net, "allowOut", json_object_get(v));
	if (json_object_object_get_ex(o, "denyOut", &v))
		json_object_object_add(net, "denyOut", json_object_get(v));
	if (net_policy_parse(net, p, &err) < 0) {
		json_object_put(net);
		return -1;
	}
	json_object_put(net);
	if (json_object_object_get_ex(o, "egressMbps", &v))
		p->egress_mbps = (long)json_object_get_int64(v);
	if (json_object_object_get_ex(o, "ingressMbps", &v))
		p->ingress_mbps = (long)json_object_get_int64(v);
	return 0;
}
