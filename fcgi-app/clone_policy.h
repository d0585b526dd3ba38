/* Where a clone may go: the URL's form, and the addresses it may reach. */
#ifndef SBD_CLONE_POLICY_H
#define SBD_CLONE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct clone_url {
	char scheme[8];		/* http, https, git */
	char host[256];		/* brackets of an IPv6 literal removed */
	char port[8];
	char name[128];		/* the repository's name: last path segment, no .git */
};

/* Parse and vet a clone URL: http, https or git, a host, no credentials,
 * no file:// or local path.  -1 with a reason in msg. */
int clone_url_parse(const char *url, struct clone_url *u, char *msg, size_t len);

#define CLONE_MAX_ALLOW 16
struct clone_allow {
	int family;
	unsigned char addr[16];
	int bits;
};

/* "127.0.0.0/8", "::1/128": -1 when malformed. */
int clone_allow_parse(const char *cidr, struct clone_allow *a);
/* Loopback, private, link-local (cloud metadata), CGNAT, multicast and
 * reserved ranges are refused unless allowed. */
bool clone_addr_allowed(const struct sockaddr *sa, const struct clone_allow *allow, int nallow);
/* Whether one of the --clone-allow ranges names the address. */
bool clone_addr_listed(const struct sockaddr *sa, const struct clone_allow *allow, int nallow);

#endif
