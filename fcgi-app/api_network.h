/* A sandbox's network policy through the API: the "network" object of a
 * create, GET/PUT .../network, what status shows, and the bandwidth caps
 * (limits.egressMbps/ingressMbps, settings.c) put on a sandbox's links. */
#ifndef SBD_API_NETWORK_H
#define SBD_API_NETWORK_H

#include <json-c/json.h>
#include <stdbool.h>

#include "netpolicy.h"

struct app;
struct conf;
struct sandbox_ref;
struct sb_err;

/* What a create asked of the network. */
struct net_want {
	bool has_policy;		/* "network" given: replaces the policy */
	bool live;			/* a PUT: cut connections even when nothing changed */
	struct netpol p;
};

/* The create body's "network" into *w (a missing egress is the server's
 * --default-egress).  -1 with a 400 in err when bad: then nothing is
 * changed anywhere. */
int net_want_parse(const struct conf *c, struct json_object *body, struct net_want *w,
		   struct sb_err *err);
/* Put *w in force for the sandbox (stored, and its sets and open
 * connections changed at once); nothing asked, or a create asking for
 * what the sandbox has stored already (a create-or-get repeated by its
 * client): nothing done. */
int net_sandbox_set(struct app *app, struct sandbox_ref *sb, const struct net_want *w,
		    struct sb_err *err);
/* The sandbox's policy: stored, or the server's default. */
int net_sandbox_policy(struct app *app, const char *id, struct netpol *p, struct sb_err *err);
/* Status: "network" into d, the byte counters into usage (NULL when the
 * sandbox does not run). */
void net_status_add(struct app *app, const struct sandbox_ref *sb, struct json_object *d,
		    struct json_object *usage);

#endif
