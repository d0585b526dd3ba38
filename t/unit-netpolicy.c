/* The network policy's parser: CIDRs as nft and every reader take them the
 * same way, and a bad policy refused whole (nothing of it applied). */
#include "config.h"

#include "netpolicy.h"
#include "tap.h"

#include <stdlib.h>

static const char *good[][2] = {
	{ "203.0.113.0/24", "203.0.113.0/24" },
	{ "198.19.0.10", "198.19.0.10/32" },
	{ "198.19.0.10/32", "198.19.0.10/32" },
	{ "0.0.0.0/0", "0.0.0.0/0" },
	{ "10.0.0.0/8", "10.0.0.0/8" },
	{ "255.255.255.255/32", "255.255.255.255/32" },
	{ "128.0.0.0/1", "128.0.0.0/1" },
};

static const char *bad[] = {
	"", "/", "1.2.3", "1.2.3.4.5", "1.2.3.4/", "1.2.3.4/33", "1.2.3.4/-1", "256.1.1.1",
	"01.2.3.4", "1.2.3.4/08", "127.1", "0x7f.0.0.1", "2130706433", " 1.2.3.4", "1.2.3.4 ",
	"1.2.3.4/24", "10.0.0.1/8", "::1", "fd00::/8", "1.2.3.4/2 4", "1..2.3", "1.2.3.4/+8",
	"99999999999.1.1.1",
};

static struct json_object *j(const char *s)
{
	struct json_object *o = json_tokener_parse(s);

	if (!o)
		abort();
	return o;
}

/* parse text onto a starting policy; the result code, *p as it is after */
static int parse(const char *text, struct netpol *p, struct sb_err *err)
{
	struct json_object *o = j(text);
	int r;

	sb_err_clear(err);
	r = netpol_parse(o, p, err);
	json_object_put(o);
	return r;
}

/* each CIDR as a one-entry allowOut: refused ones are a 400 */
static void cidrs(void)
{
	struct sb_err err = SB_ERR_INIT;
	struct netpol p;
	char text[256], buf[32];

	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		netpol_default(&p, NET_PUBLIC);
		snprintf(text, sizeof text, "{\"allowOut\":[\"%s\"]}", good[i][0]);
		ok(parse(text, &p, &err) == 0 && p.nallow == 1, "'%s' parses", good[i][0]);
		is_str(net_cidr_str(&p.allow[0], buf, sizeof buf), good[i][1], "'%s' reads back as %s",
		       good[i][0], good[i][1]);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		netpol_default(&p, NET_PUBLIC);
		snprintf(text, sizeof text, "{\"denyOut\":[\"%s\"]}", bad[i]);
		ok(parse(text, &p, &err) < 0 && err.kind == SB_E_INVALID && p.ndeny == 0, "'%s' refused (%s)",
		   bad[i], err.msg);
	}
}

static void refusals(void)
{
	struct sb_err err = SB_ERR_INIT;
	struct netpol p;

	netpol_default(&p, NET_PUBLIC);
	ok(!netpol_refuses(&p, 0xc613000a), "public: 198.19.0.10 not refused");
	parse("{\"denyOut\":[\"198.19.0.0/24\"]}", &p, &err);
	ok(netpol_refuses(&p, 0xc613000a) && !netpol_refuses(&p, 0xc6130100),
	   "public + denyOut 198.19.0.0/24: .0.10 refused, .1.0 not");
	parse("{\"egress\":\"allowlist\",\"allowOut\":[\"198.19.0.0/16\"],\"denyOut\":[\"198.19.0.10\"]}", &p, &err);
	ok(!netpol_refuses(&p, 0xc6130001) && netpol_refuses(&p, 0xc613000a) && netpol_refuses(&p, 0xc6140001),
	   "allowlist 198.19/16 minus .0.10: .0.1 reached, .0.10 and 198.20.0.1 refused");
	parse("{\"egress\":\"none\",\"allowOut\":[\"0.0.0.0/0\"]}", &p, &err);
	ok(netpol_refuses(&p, 0xc6130001), "none refuses everything, whatever is listed");
	parse("{\"egress\":\"allowlist\",\"allowOut\":[\"0.0.0.0/0\"],\"denyOut\":[]}", &p, &err);
	ok(!netpol_refuses(&p, 0x01020304), "allowlist 0/0 reaches 1.2.3.4");
}

static void policies(void)
{
	struct sb_err err = SB_ERR_INIT;
	struct netpol p, before;
	char big[8192];
	size_t n;
	int r;

	netpol_default(&p, NET_PUBLIC);
	ok(parse("{}", &p, &err) == 0 && p.mode == NET_PUBLIC && !p.nallow && !p.ndeny,
	   "{} is the default");
	ok(parse("{\"egress\":\"allowlist\",\"allowOut\":[\"198.19.0.10\",\"203.0.113.0/24\",\"198.19.0.10/32\"],"
		 "\"denyOut\":[\"203.0.113.7\"]}", &p, &err) == 0,
	   "an allowlist with a deny entry parses");
	ok(p.mode == NET_ALLOWLIST && p.nallow == 2 && p.ndeny == 1,
	   "mode allowlist, 2 allow entries (a duplicate dropped), 1 deny (got %d %d %d)", p.mode,
	   p.nallow, p.ndeny);
	before = p;
	/* every bad one: 400, and the policy as it was */
	static const char *refused[] = {
		"[]", "\"public\"", "{\"egress\":\"open\"}", "{\"egress\":1}", "{\"egress\":null}",
		"{\"allowOut\":\"1.2.3.4\"}", "{\"allowOut\":[1]}", "{\"allowOut\":[\"1.2.3.4/24\"]}",
		"{\"denyOut\":[\"::1\"]}", "{\"denyOut\":[\"10.0.0.0/8\",\"x\"]}", "{\"allowout\":[]}",
		"{\"egress\":\"none\",\"extra\":true}", "{\"allowOut\":[\"1.2.3.4\\u0000\"]}",
		"{\"egress\":\"none\",\"allowOut\":[\"1.2.3.4/99\"]}",
	};
	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
		r = parse(refused[i], &p, &err);
		ok(r < 0 && err.kind == SB_E_INVALID && err.msg[0], "%s -> 400 (%s)", refused[i], err.msg);
		ok(memcmp(&p, &before, sizeof p) == 0, "  and the policy is unchanged");
	}
	/* too many entries */
	n = (size_t)snprintf(big, sizeof big, "{\"allowOut\":[");
	for (int i = 0; i <= NETPOL_MAX_CIDRS; i++)
		n += (size_t)snprintf(big + n, sizeof big - n, "%s\"10.0.%d.0/24\"", i ? "," : "", i);
	snprintf(big + n, sizeof big - n, "]}");
	r = parse(big, &p, &err);
	ok(r < 0 && err.kind == SB_E_INVALID && strstr(err.msg, "more than"), "%d entries -> 400 (%s)",
	   NETPOL_MAX_CIDRS + 1, err.msg);
	ok(memcmp(&p, &before, sizeof p) == 0, "  and the policy is unchanged");
	/* exactly the maximum is fine */
	n = (size_t)snprintf(big, sizeof big, "{\"denyOut\":[");
	for (int i = 0; i < NETPOL_MAX_CIDRS; i++)
		n += (size_t)snprintf(big + n, sizeof big - n, "%s\"10.0.%d.0/24\"", i ? "," : "", i);
	snprintf(big + n, sizeof big - n, "]}");
	ok(parse(big, &p, &err) == 0 && p.ndeny == NETPOL_MAX_CIDRS, "%d entries are fine", NETPOL_MAX_CIDRS);
}

static void store_form(void)
{
	struct sb_err err = SB_ERR_INIT;
	struct netpol p, q;
	struct json_object *o;

	netpol_default(&p, NET_PUBLIC);
	parse("{\"egress\":\"none\",\"allowOut\":[\"198.19.0.0/16\"],\"denyOut\":[\"198.19.0.10\"]}", &p, &err);
	o = netpol_json(&p);
	ok(netpol_from_json(o, &q) == 0, "the stored form reads back");
	ok(q.mode == NET_NONE && q.nallow == 1 && q.ndeny == 1 && q.allow[0].addr == p.allow[0].addr &&
	   q.allow[0].prefix == 16 && q.deny[0].prefix == 32,
	   "  whole: mode and lists");
	json_object_put(o);
	o = j("{\"egress\":\"sideways\"}");
	ok(netpol_from_json(o, &q) < 0, "a stored form that is no policy is refused");
	json_object_put(o);
}

int main(void)
{
	enum net_mode m;

	cidrs();
	refusals();
	policies();
	store_form();
	ok(egress_mode_parse("none", &m) == 0 && m == NET_NONE, "none");
	ok(egress_mode_parse("Public", &m) < 0, "modes are lower case");
	is_str(egress_mode_name(NET_ALLOWLIST), "allowlist", "allowlist by name");
	return done_testing();
}
