#include "config.h"

#include "clone_policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int clone_url_parse(const char *url, struct clone_url *u, char *msg, size_t len)
{
	const char *p, *host, *end, *path;
	size_t n;

	memset(u, 0, sizeof *u);
	if (strlen(url) > 2048 || strpbrk(url, " \t\r\n\\")) {
		snprintf(msg, len, "repoUrl is too long or holds spaces or control characters");
		return -1;
	}
	p = strstr(url, "://");
	if (!p) {
		snprintf(msg, len, "repoUrl must be an http, https or git URL (no local paths)");
		return -1;
	}
	n = (size_t)(p - url);
	if (n >= sizeof u->scheme) {
		snprintf(msg, len, "unsupported URL scheme");
		return -1;
	}
	memcpy(u->scheme, url, n);
	for (char *c = u->scheme; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
	if (!strcmp(u->scheme, "ssh")) {
		snprintf(msg, len, "ssh URLs need credentials, which this service does not take; use https");
		return -1;
	}
	if (strcmp(u->scheme, "http") && strcmp(u->scheme, "https") && strcmp(u->scheme, "git")) {
		snprintf(msg, len, "unsupported URL scheme %s (http, https and git only)", u->scheme);
		return -1;
	}
	host = p + 3;
	end = host + strcspn(host, "/?#");
	path = end;
	if (memchr(host, '@', (size_t)(end - host))) {
		snprintf(msg, len, "credentials in the URL are not accepted");
		return -1;
	}
	if (*host == '[') {
		const char *rb = memchr(host, ']', (size_t)(end - host));
		if (!rb || (size_t)(rb - host - 1) >= sizeof u->host) {
			snprintf(msg, len, "malformed IPv6 host");
			return -1;
		}
		memcpy(u->host, host + 1, (size_t)(rb - host - 1));
		host = rb + 1;
	} else {
		const char *colon = memchr(host, ':', (size_t)(end - host));
		const char *hend = colon ? colon : end;
		if ((size_t)(hend - host) >= sizeof u->host) {
			snprintf(msg, len, "host name too long");
			return -1;
		}
		memcpy(u->host, host, (size_t)(hend - host));
		host = hend;
	}
	if (!u->host[0] || strspn(u->host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "0123456789.-:_") != strlen(u->host)) {
		snprintf(msg, len, "malformed host");
		return -1;
	}
	if (host < end && *host == ':') {
		n = (size_t)(end - host - 1);
		if (n == 0 || n >= sizeof u->port || strspn(host + 1, "0123456789") < n ||
		    atoi(host + 1) < 1 || atoi(host + 1) > 65535) {
			snprintf(msg, len, "malformed port");
			return -1;
		}
		memcpy(u->port, host + 1, n);
	} else if (host != end) {
		snprintf(msg, len, "malformed host");
		return -1;
	} else {
		strcpy(u->port, !strcmp(u->scheme, "http") ? "80" : !strcmp(u->scheme, "https") ? "443" : "9418");
	}
	/* the repository's name: last non-empty path segment, without .git */
	n = strcspn(path, "?#");
	while (n > 0 && path[n - 1] == '/')
		n--;
	const char *seg = path + n;
	while (seg > path && seg[-1] != '/')
		seg--;
	size_t sl = (size_t)(path + n - seg);
	if (sl > 4 && !strncasecmp(path + n - 4, ".git", 4))
		sl -= 4;
	if (sl == 0 || sl >= sizeof u->name || (sl <= 2 && seg[0] == '.' && (sl == 1 || seg[1] == '.'))) {
		snprintf(msg, len, "cannot name a directory after this URL: give `directory`");
		strcpy(u->name, "");
		return 0;
	}
	memcpy(u->name, seg, sl);
	return 0;
}

int clone_allow_parse(const char *cidr, struct clone_allow *a)
{
	char buf[64];
	const char *slash = strchr(cidr, '/');
	size_t n = slash ? (size_t)(slash - cidr) : strlen(cidr);

	if (n >= sizeof buf)
		return -1;
	memcpy(buf, cidr, n);
	buf[n] = '\0';
	memset(a, 0, sizeof *a);
	if (inet_pton(AF_INET, buf, a->addr) == 1)
		a->family = AF_INET, a->bits = 32;
	else if (inet_pton(AF_INET6, buf, a->addr) == 1)
		a->family = AF_INET6, a->bits = 128;
	else
		return -1;
	if (slash) {
		char *end;
		long b = strtol(slash + 1, &end, 10);
		if (*end || b < 0 || b > a->bits)
			return -1;
		a->bits = (int)b;
	}
	return 0;
}

static bool prefix_match(const unsigned char *addr, const unsigned char *net, int bits)
{
	int full = bits / 8, rest = bits % 8;

	if (memcmp(addr, net, (size_t)full))
		return false;
	return !rest || ((addr[full] ^ net[full]) & (0xFF << (8 - rest))) == 0;
}

static bool v4_blocked(const unsigned char *a)
{
	static const struct { unsigned char net[4]; int bits; } blocked[] = {
		{ { 0, 0, 0, 0 }, 8 }, { { 10, 0, 0, 0 }, 8 }, { { 100, 64, 0, 0 }, 10 },
		{ { 127, 0, 0, 0 }, 8 }, { { 169, 254, 0, 0 }, 16 }, { { 172, 16, 0, 0 }, 12 },
		{ { 192, 0, 0, 0 }, 24 }, { { 192, 168, 0, 0 }, 16 }, { { 198, 18, 0, 0 }, 15 },
		{ { 224, 0, 0, 0 }, 4 }, { { 240, 0, 0, 0 }, 4 },
	};

	for (size_t i = 0; i < sizeof blocked / sizeof *blocked; i++)
		if (prefix_match(a, blocked[i].net, blocked[i].bits))
			return true;
	return false;
}

/* The address as bytes, an IPv4-mapped IPv6 address as the IPv4 it is. */
static int addr_bytes(const struct sockaddr *sa, unsigned char *a)
{
	int family = sa->sa_family;

	if (family == AF_INET) {
		memcpy(a, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (family == AF_INET6) {
		static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF };
		memcpy(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		if (!memcmp(a, mapped, 12)) {
			memmove(a, a + 12, 4);
			family = AF_INET;
		}
	} else {
		return -1;
	}
	return family;
}

bool clone_addr_listed(const struct sockaddr *sa, const struct clone_allow *allow, int nallow)
{
	unsigned char a[16];
	int family = addr_bytes(sa, a);

	for (int i = 0; i < nallow; i++)
		if (allow[i].family == family && prefix_match(a, allow[i].addr, allow[i].bits))
			return true;
	return false;
}

bool clone_addr_allowed(const struct sockaddr *sa, const struct clone_allow *allow, int nallow)
{
	unsigned char a[16];
	int family = sa->sa_family;

	if (family == AF_INET) {
		memcpy(a, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (family == AF_INET6) {
		memcpy(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		/* an IPv4-mapped address is judged as the IPv4 address it is */
		static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF };
		if (!memcmp(a, mapped, 12)) {
			memmove(a, a + 12, 4);
			family = AF_INET;
		}
	} else {
		return false;
	}
	for (int i = 0; i < nallow; i++)
		if (allow[i].family == family && prefix_match(a, allow[i].addr, allow[i].bits))
			return true;
	if (family == AF_INET)
		return !v4_blocked(a);
	/* IPv6: the IPv4-compatible block (::/96, with :: and ::1), link-local,
	 * site-local, unique-local, multicast, discard (100::/64), NAT64
	 * (64:ff9b::/96 and 64:ff9b:1::/48) and 6to4 (2002::/16), which all
	 * lead to addresses judged above or to the local network */
	static const struct { unsigned char net[16]; int bits; } blocked6[] = {
		{ { 0 }, 96 },
		{ { 0xFE, 0x80 }, 10 }, { { 0xFE, 0xC0 }, 10 }, { { 0xFC }, 7 }, { { 0xFF }, 8 },
		{ { 0x01, 0x00 }, 64 }, { { 0, 0x64, 0xFF, 0x9B }, 96 },
		{ { 0, 0x64, 0xFF, 0x9B, 0, 0x01 }, 48 }, { { 0x20, 0x02 }, 16 },
	};
	for (size_t i = 0; i < sizeof blocked6 / sizeof *blocked6; i++)
		if (prefix_match(a, blocked6[i].net, blocked6[i].bits))
			return false;
	return true;
}
