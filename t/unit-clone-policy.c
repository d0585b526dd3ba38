/* The clone URL vetting and the destination policy, as pure functions. */
#include "config.h"

#include "clone_policy.h"
#include "tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static bool allowed(const char *ip, const struct clone_allow *allow, int n)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	return clone_addr_allowed((struct sockaddr *)&ss, allow, n);
}

int main(void)
{
	static const char *const refused[] = {
		"127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
		"100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1",
		"fec0::1", "fd00::1", "ff02::1", "::ffff:127.0.0.1", "::127.0.0.1", "64:ff9b::a9fe:a9fe",
		"64:ff9b:1::1", "2002:7f00:1::1", "100::1", "192.0.0.1", "198.18.0.1", "198.19.255.255",
		"240.0.0.1", "0.1.2.3", "100.127.255.254", "169.254.0.1", "fe80::ffff:1",
	};
	static const char *const passed[] = { "93.184.216.34", "1.1.1.1", "2606:4700::1111", "172.32.0.1" };
	static const struct { const char *url, *host, *port, *name; } good[] = {
		{ "https://github.com/user/repo.git", "github.com", "443", "repo" },
		{ "http://127.0.0.1:8080/x/demo.git/", "127.0.0.1", "8080", "demo" },
		{ "git://example.org/proj", "example.org", "9418", "proj" },
		{ "https://[2001:db8::1]/r.git", "2001:db8::1", "443", "r" },
	};
	static const char *const bad[] = {
		"file:///etc", "/etc", "ssh://git@host/x", "git@github.com:o/x.git", "ftp://x/y",
		"https://user:pw@host/x.git", "http://user@host/x", "http:///x", "http://host:99999/x",
		"http://host:0/x", "https://ho st/x", "http://host:8a/x",
	};
	struct clone_allow lo;
	struct clone_url u;
	char msg[256];

	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
		ok(!allowed(refused[i], NULL, 0), "refused by default: %s", refused[i]);
	for (size_t i = 0; i < sizeof passed / sizeof *passed; i++)
		ok(allowed(passed[i], NULL, 0), "a public address passes: %s", passed[i]);
	ok(clone_allow_parse("127.0.0.0/8", &lo) == 0, "127.0.0.0/8 parses");
	ok(allowed("127.0.0.1", &lo, 1), "--clone-allow 127.0.0.0/8 lets loopback through");
	ok(allowed("::ffff:127.0.0.1", &lo, 1), "and its IPv4-mapped form");
	ok(!allowed("10.0.0.1", &lo, 1), "but nothing else it does not name");
	ok(clone_allow_parse("10.0.0.0/33", &lo) < 0, "a prefix longer than 32 is refused");
	ok(clone_allow_parse("nonsense", &lo) < 0, "a non-address is refused");
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		int r = clone_url_parse(good[i].url, &u, msg, sizeof msg);
		ok(r == 0 && !strcmp(u.host, good[i].host) && !strcmp(u.port, good[i].port) &&
		   !strcmp(u.name, good[i].name), "%s -> %s port %s name %s", good[i].url, good[i].host,
		   good[i].port, good[i].name);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ok(clone_url_parse(bad[i], &u, msg, sizeof msg) < 0, "refused URL: %s (%s)", bad[i], msg);
	return done_testing();
}
