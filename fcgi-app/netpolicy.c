#include "config.h"

#include "netpolicy.h"

#include <stdio.h>
#include <string.h>

static const char *const mode_names[] = {
	[NET_PUBLIC] = "public",
	[NET_ALLOWLIST] = "allowlist",
	[NET_NONE] = "none",
};

int egress_mode_parse(const char *s, enum net_mode *mode)
{
	for (size_t i = 0; i < sizeof mode_names / sizeof *mode_names; i++) {
		if (!strcmp(s, mode_names[i])) {
			*mode = (enum net_mode)i;
			return 0;
		}
	}
	return -1;
}

const char *egress_mode_name(enum net_mode mode)
{
	return (unsigned)mode < sizeof mode_names / sizeof *mode_names ? mode_names[mode] : "?";
}

static bool cidr_contains(const struct net_cidr *c, uint32_t addr)
{
	uint32_t mask = c->prefix ? ~(uint32_t)0 << (32 - c->prefix) : 0;

	return (addr & mask) == c->addr;
}

void netpol_default(struct netpol *p, enum net_mode mode)
{
	memset(p, 0, sizeof *p);
	p->mode = mode;
}

bool netpol_same_lists(const struct netpol *a, const struct netpol *b)
{
	return a->mode == b->mode && a->nallow == b->nallow && a->ndeny == b->ndeny &&
	       !memcmp(a->allow, b->allow, sizeof *a->allow * (size_t)a->nallow) &&
	       !memcmp(a->deny, b->deny, sizeof *a->deny * (size_t)a->ndeny);
}

struct net_policy netpol_sets(const struct netpol *p)
{
	return (struct net_policy){ .mode = p->mode, .allow = p->allow, .nallow = p->nallow,
				    .deny = p->deny, .ndeny = p->ndeny };
}

bool netpol_refuses(const struct netpol *p, uint32_t dst)
{
	bool listed = false;

	if (p->mode == NET_NONE)
		return true;
	for (int i = 0; i < p->ndeny; i++)
		if (cidr_contains(&p->deny[i], dst))
			return true;
	if (p->mode == NET_PUBLIC)
		return false;
	for (int i = 0; i < p->nallow && !listed; i++)
		listed = cidr_contains(&p->allow[i], dst);
	return !listed;
}

/* A list of CIDRs, duplicates dropped (nft refuses overlapping interval
 * elements in one transaction; equal ones are the common case). */
static int parse_list(struct json_object *v, const char *name, struct net_cidr *list, int *n,
		      struct sb_err *err)
{
	size_t len;

	if (!json_object_is_type(v, json_type_array))
		return sb_fail(err, SB_E_INVALID, 0, "network.%s must be an array of IPv4 CIDRs", name);
	len = json_object_array_length(v);
	if (len > NETPOL_MAX_CIDRS)
		return sb_fail(err, SB_E_INVALID, 0, "network.%s has more than %d entries", name,
			       NETPOL_MAX_CIDRS);
	*n = 0;
	for (size_t i = 0; i < len; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		struct net_cidr c;
		bool dup = false;
		const char *s;

		if (!json_object_is_type(e, json_type_string))
			return sb_fail(err, SB_E_INVALID, 0, "network.%s[%zu] must be a string", name, i);
		s = json_object_get_string(e);
		if (strchr(s, ':'))
			return sb_fail(err, SB_E_INVALID, 0, "network.%s[%zu] '%.64s': IPv6 is not routed "
				       "(sandboxes have IPv4 only)", name, i, s);
		/* dotted quads only (no 127.1, hex or octal: what nft and every
		 * other reader take the same way), host bits zero */
		if (strlen(s) != (size_t)json_object_get_string_len(e) || net_cidr_parse(s, &c) < 0)
			return sb_fail(err, SB_E_INVALID, 0, "network.%s[%zu] '%.64s': not an IPv4 CIDR "
				       "with its host bits zero, such as 203.0.113.0/24", name, i, s);
		for (int k = 0; k < *n; k++)
			dup |= list[k].addr == c.addr && list[k].prefix == c.prefix;
		if (!dup)
			list[(*n)++] = c;
	}
	return 0;
}

int netpol_parse(struct json_object *o, struct netpol *p, struct sb_err *err)
{
	struct netpol n = *p;
	struct json_object *v;

	if (!json_object_is_type(o, json_type_object))
		return sb_fail(err, SB_E_INVALID, 0, "network must be an object");
	json_object_object_foreach(o, key, val) {
		(void)val;
		if (strcmp(key, "egress") && strcmp(key, "allowOut") && strcmp(key, "denyOut"))
			return sb_fail(err, SB_E_INVALID, 0,
				       "network.%.64s: unknown field (egress, allowOut, denyOut)", key);
	}
	if (json_object_object_get_ex(o, "egress", &v) &&
	    (!json_object_is_type(v, json_type_string) ||
	     egress_mode_parse(json_object_get_string(v), &n.mode) < 0))
		return sb_fail(err, SB_E_INVALID, 0,
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

static struct json_object *list_json(const struct net_cidr *list, int n)
{
	struct json_object *a = json_object_new_array();
	char buf[24];

	for (int i = 0; i < n; i++) {
		json_object_array_add(a, json_object_new_string(net_cidr_str(&list[i], buf, sizeof buf)));
	}
	return a;
}

struct json_object *netpol_json(const struct netpol *p)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "egress", json_object_new_string(egress_mode_name(p->mode)));
	json_object_object_add(o, "allowOut", list_json(p->allow, p->nallow));
	json_object_object_add(o, "denyOut", list_json(p->deny, p->ndeny));
	return o;
}

int netpol_from_json(struct json_object *o, struct netpol *p)
{
	struct sb_err err = SB_ERR_INIT;

	/* the same checks as a request's: a record we wrote passes them */
	netpol_default(p, NET_PUBLIC);
	return netpol_parse(o, p, &err);
}
