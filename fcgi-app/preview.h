/* Exposed ports (preview URLs).  A port a sandbox serves is reached at
 * https://<port>-<token>.<preview-domain>/ through nginx; the token (128
 * random bits, base32) is the capability, and only its SHA-256 is kept.
 * The API's workers make and revoke exposures (api_ports.c); the preview
 * pool, its own workers on a socket of its own, answers nginx's
 * auth_request for each preview request by one lookup (preview_auth.c). */
#ifndef SBD_PREVIEW_H
#define SBD_PREVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct conf;
struct store;

#define PREVIEW_TOKEN_LEN 26		/* 128 bits, 5 a character: a-z2-7 */
#define PREVIEW_HASH_HEX 65		/* 64 hex digits and the NUL */
#define PREVIEW_DEFAULT_EXPIRY_S 86400
#define PREVIEW_MAX_EXPIRY_S (30 * 86400)
#define PREVIEW_MAX_PORTS 64		/* exposed at once per sandbox */

/* One exposure: sandbox id, port, when it was made and when it ends. */
struct preview_port {
	char id[64];
	unsigned port;
	int64_t created_ms, expires_ms;
	char hash[PREVIEW_HASH_HEX];	/* hex SHA-256 of the token */
};

/* A fresh token from getrandom(): 26 characters of RFC 4648 base32 in
 * lower case (a DNS label is case-insensitive), no padding. */
int preview_token_new(char tok[PREVIEW_TOKEN_LEN + 1], struct sb_err *err);
/* Base32 of n bytes into out (at most outlen - 1 characters and a NUL). */
void preview_base32(const unsigned char *in, size_t n, char *out, size_t outlen);
/* The hex SHA-256 of a token. */
int preview_token_hash(const char *tok, char hex[PREVIEW_HASH_HEX]);
/* A URL label "<port>-<token>": the port (1..65535, no leading zero) and
 * the token (exactly 26 of a-z2-7, upper case taken as lower); false when
 * it is not that. */
bool preview_label_parse(const char *label, unsigned *port, char tok[PREVIEW_TOKEN_LEN + 1]);
/* The preview URL of a token: the host form (the label in the name), or
 * the path form on the preview domain's own name; "" when no
 * preview-domain is set. */
void preview_url(const struct conf *c, unsigned port, const char *tok, bool path_form, char *buf,
		 size_t len);

/* The store (the "ports" database of the sandbox store): keys
 * "p/<id>/<port>" -> the exposure and "t/<hash>" -> the same, one written
 * with the other in a transaction.  Exposing a port again replaces its
 * token (the old one stops working in the same transaction).  -1 with
 * err; put: 409 when the sandbox has PREVIEW_MAX_PORTS other ports. */
int preview_put(struct store *s, const struct preview_port *p, struct sb_err *err);
/* 1 removed, 0 there was none */
int preview_del(struct store *s, const char *id, unsigned port, struct sb_err *err);
/* fn for every exposure of a sandbox, by port. */
int preview_list(struct store *s, const char *id, void (*fn)(const struct preview_port *p, void *arg),
		 void *arg, struct sb_err *err);
/* The exposure a token's hash names: 1 found, 0 none, -1 error. */
int preview_lookup(struct store *s, const char *hash, struct preview_port *p, struct sb_err *err);

struct sb_record;
/* The sandbox's address (dotted quad) nginx proxies its previews to; -1
 * when it has none (networking off, or never started). */
int preview_sandbox_addr(const struct conf *c, const struct sb_record *r, char *buf, size_t len);

struct app;
/* Inside a running sandbox's network namespace, what arrives on eth0 for
 * an exposed port goes to 127.0.0.1 (preview_net.c): set from the store's
 * exposures of id (none: nothing done unless always).  r is the record of
 * the init to enter; a stopped sandbox or one without a network is left. */
int preview_net_apply(struct app *app, const char *id, const struct sb_record *r, bool always,
		      struct sb_err *err);
/* The same after an expose or a revoke, under the sandbox's start lock. */
int preview_net_update(struct app *app, const char *id, struct sb_err *err);

/* The preview pool's worker: answers nginx's auth subrequests on the
 * preview socket until told to stop. */
__attribute__((noreturn)) void preview_worker_run(const struct conf *conf, int listen_fd);

#endif
