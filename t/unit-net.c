/* The network side's pure parts (CIDRs, addresses, names) and, in a
 * network namespace of its own, the nft table and net_policy_set: what the
 * API's policy changes turn into. */
#include "config.h"

#include "conf.h"
#include "net.h"
#include "tap.h"

#include <arpa/inet.h>
#include <nftables/libnftables.h>
#include <sched.h>
#include <stdlib.h>

static const char *list_set(struct nft_ctx *n, const char *set)
{
	static char cmd[128];

	snprintf(cmd, sizeof cmd, "list set inet sandboxd_unit_net %s", set);
	if (nft_run_cmd_from_buffer(n, cmd) != 0)
		return "(failed)";
	return nft_ctx_get_output_buffer(n);
}

static void policy_tests(struct conf *c)
{
	struct sb_err err = SB_ERR_INIT;
	struct nft_ctx *n = nft_ctx_new(NFT_CTX_DEFAULT);
	struct net_cidr allow[2], deny[1], allow2[1];
	uint32_t a, gw, b;

	nft_ctx_buffer_output(n);
	nft_ctx_buffer_error(n);
	ok(net_table_load(c, &err) == 0, "the table loads (%s)", err.msg);
	ok(net_table_load(c, &err) == 0, "and loads again over itself (a restarted master)");
	net_slot_addr(c, 3, &a, &gw);
	net_slot_addr(c, 4, &b, &gw);
	net_cidr_parse("198.19.0.0/24", &allow[0]);
	net_cidr_parse("203.0.113.7", &allow[1]);
	net_cidr_parse("198.19.0.10/32", &deny[0]);
	struct net_policy p1 = { .mode = NET_ALLOWLIST, .allow = allow, .nallow = 2, .deny = deny, .ndeny = 1 };
	ok(net_policy_set(c, a, NULL, &p1, &err) == 0, "an allowlist policy is set (%s)", err.msg);
	ok(strstr(list_set(n, "mode_allowlist"), "10.89.0.7") != NULL, "the sandbox is in @mode_allowlist");
	ok(strstr(list_set(n, "allow4"), "10.89.0.7 . 198.19.0.0/24") != NULL, "@allow4 holds its first range");
	ok(strstr(list_set(n, "allow4"), "10.89.0.7 . 203.0.113.7") != NULL, "and its single address");
	ok(strstr(list_set(n, "deny4"), "10.89.0.7 . 198.19.0.10") != NULL, "@deny4 holds its deny");
	ok(strstr(list_set(n, "mode_none"), "10.89.0.7") == NULL, "it is not in @mode_none");
	struct net_policy pb = { .mode = NET_NONE };
	ok(net_policy_set(c, b, NULL, &pb, &err) == 0, "a neighbour's policy: none");
	net_cidr_parse("192.0.2.0/24", &allow2[0]);
	struct net_policy p2 = { .mode = NET_ALLOWLIST, .allow = allow2, .nallow = 1 };
	ok(net_policy_set(c, a, &p1, &p2, &err) == 0, "a new allowlist replaces the old (%s)", err.msg);
	ok(strstr(list_set(n, "allow4"), "198.19.0.0/24") == NULL, "the old ranges are gone");
	ok(strstr(list_set(n, "allow4"), "10.89.0.7 . 192.0.2.0/24") != NULL, "the new one is there");
	ok(strstr(list_set(n, "deny4"), "10.89.0.7") == NULL, "the old deny is gone");
	struct net_policy pub = { .mode = NET_PUBLIC };
	ok(net_policy_set(c, a, &p2, &pub, &err) == 0, "back to public");
	ok(strstr(list_set(n, "mode_allowlist"), "10.89.0.7") == NULL, "not in @mode_allowlist any more");
	ok(strstr(list_set(n, "allow4"), "10.89.0.7") == NULL, "no element of it left in @allow4");
	ok(strstr(list_set(n, "mode_none"), "10.89.0.9") != NULL, "the neighbour's none is untouched");
	/* a table reloaded (a master restart) lost the elements: replacing a
	 * policy whose old elements are not there still works */
	ok(net_table_load(c, &err) == 0, "the table reloaded empty");
	ok(net_policy_set(c, a, &p1, &p2, &err) == 0, "replacing a policy whose elements are gone works (%s)",
	   err.msg);
	ok(strstr(list_set(n, "allow4"), "10.89.0.7 . 192.0.2.0/24") != NULL, "and sets the new one");
	/* a master's start: the table and the policies in one transaction */
	struct net_load *l = net_load_new(c);
	net_load_policy(l, a, &p1);
	net_load_policy(l, b, &pb);
	ok(net_load_run(l, &err) == 0, "the table loads with two policies in one transaction (%s)", err.msg);
	ok(strstr(list_set(n, "allow4"), "10.89.0.7 . 198.19.0.0/24") != NULL &&
	   strstr(list_set(n, "allow4"), "192.0.2.0/24") == NULL, "the first's allowlist is there (only)");
	ok(strstr(list_set(n, "mode_none"), "10.89.0.9") != NULL, "the second's none is there");
	/* a load that fails (overlapping intervals) leaves the table there,
	 * with its policies: never torn down to nothing */
	struct net_cidr bad[2];
	net_cidr_parse("198.51.100.0/24", &bad[0]);
	net_cidr_parse("198.51.100.0/25", &bad[1]);
	struct net_policy pbad = { .mode = NET_PUBLIC, .deny = bad, .ndeny = 2 };
	l = net_load_new(c);
	net_load_policy(l, b, &pbad);
	ok(net_load_run(l, &err) < 0, "a load nft refuses fails");
	ok(net_table_present(c) && strstr(list_set(n, "mode_none"), "10.89.0.9") != NULL &&
	   strstr(list_set(n, "allow4"), "10.89.0.7 . 198.19.0.0/24") != NULL,
	   "and the table that was there stays, policies and all");
	nft_run_cmd_from_buffer(n, "delete table inet sandboxd_unit_net");
	ok(!net_table_present(c), "a table removed by hand is seen gone");
	nft_ctx_free(n);
}

int main(void)
{
	struct net_cidr c;
	struct conf conf;
	char buf[32], name[16];
	uint32_t addr, gw;
	char *argv[] = { (char *)"sandboxd", (char *)"--network", (char *)"--instance",
			 (char *)"unit-net", (char *)"--data", (char *)"/nonexistent", NULL };

	ok(net_cidr_parse("10.89.0.0/16", &c) == 0 && c.addr == 0x0A590000 && c.prefix == 16, "a CIDR");
	ok(net_cidr_parse("1.2.3.4", &c) == 0 && c.prefix == 32, "a lone address is a /32");
	ok(net_cidr_parse("10.89.0.1/16", &c) < 0, "host bits set: refused");
	ok(net_cidr_parse("127.1", &c) < 0, "127.1: refused (dotted quads only)");
	ok(net_cidr_parse("0x7f000001", &c) < 0, "hex: refused");
	ok(net_cidr_parse("::1/128", &c) < 0, "IPv6: refused");
	ok(net_cidr_parse("10.0.0.0/33", &c) < 0, "/33: refused");
	ok(net_cidr_parse("10.0.0.0/", &c) < 0, "an empty prefix: refused");
	ok(net_cidr_parse("10.0.0.0/8x", &c) < 0, "junk after the prefix: refused");
	ok(net_cidr_parse("10.0.0.0/-1", &c) < 0, "a negative prefix: refused");
	is_str(net_cidr_str(&(struct net_cidr){ 0xC6120000, 15 }, buf, sizeof buf), "198.18.0.0/15", "printed back");
	ok(net_pool_slots(16) == 32767, "a /16 holds 32767 sandboxes and the resolver");
	ok(net_pool_slots(30) == 1, "a /30 holds one");

	ok(conf_parse(&conf, 6, argv) == 0, "settings with --network");
	net_slot_addr(&conf, 0, &addr, &gw);
	ok(ntohl(addr) == 0x0A590001 && ntohl(gw) == 0x0A590000, "slot 0: 10.89.0.1 via 10.89.0.0");
	net_slot_addr(&conf, 300, &addr, &gw);
	ok(ntohl(addr) == 0x0A590259, "slot 300: 10.89.2.89");
	ok(ntohl(net_resolver(&conf)) == 0x0A59FFFE, "the resolver: 10.89.255.254");
	net_slot_ifname(&conf, 32766, name, sizeof name);
	ok(strlen(name) <= 15 && !strncmp(name, "vs", 2), "the host end's name fits IFNAMSIZ (%s)", name);
	char other[16];
	struct conf conf2 = conf;
	snprintf(conf2.instance, sizeof conf2.instance, "another");
	net_slot_ifname(&conf2, 32766, other, sizeof other);
	ok(strcmp(name, other) != 0, "another instance names its host ends otherwise (%s)", other);
	char *bad[] = { (char *)"sandboxd", (char *)"--network", (char *)"--net-pool", (char *)"10.89.0.0/24",
			NULL };
	ok(conf_parse(&conf2, 4, bad) < 0, "a pool smaller than uid-slots is refused");

	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0)
		printf("ok %d # SKIP nft tests need root (a network namespace of their own)\n", ++tap_n);
	else
		policy_tests(&conf);
	return done_testing();
}
