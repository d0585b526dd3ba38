/* Preview tokens and URLs (fcgi-app/preview.c): base32 as RFC 4648 says
 * (lower case, no padding), 128 random bits in 26 characters, the
 * "<port>-<token>" label nginx passes parsed strictly, and the URLs made of
 * --preview-domain. */
#include "config.h"

#include "conf.h"
#include "preview.h"
#include "tap.h"

#include <string.h>

static bool label(const char *s, unsigned *port, char *tok)
{
	return preview_label_parse(s, port, tok);
}

int main(void)
{
	char out[64], tok[PREVIEW_TOKEN_LEN + 1], tok2[PREVIEW_TOKEN_LEN + 1], hex[PREVIEW_HASH_HEX];
	struct sb_err err = SB_ERR_INIT;
	struct conf c;
	unsigned port = 0;

	/* RFC 4648 section 10, lower case and unpadded */
	preview_base32((const unsigned char *)"", 0, out, sizeof out);
	is_str(out, "", "base32 of nothing");
	preview_base32((const unsigned char *)"f", 1, out, sizeof out);
	is_str(out, "my", "base32 of f");
	preview_base32((const unsigned char *)"foob", 4, out, sizeof out);
	is_str(out, "mzxw6yq", "base32 of foob");
	preview_base32((const unsigned char *)"foobar", 6, out, sizeof out);
	is_str(out, "mzxw6ytboi", "base32 of foobar");
	preview_base32((const unsigned char *)"foobar", 6, out, 5);
	is_str(out, "mzxw", "cut to the buffer, NUL kept");

	ok(preview_token_new(tok, &err) == 0 && preview_token_new(tok2, &err) == 0, "tokens made");
	ok(strlen(tok) == 26 && strspn(tok, "abcdefghijklmnopqrstuvwxyz234567") == 26,
	   "a token is 26 base32 characters: %s", tok);
	ok(strcmp(tok, tok2) != 0, "two tokens differ");
	ok(preview_token_hash("abc", hex) == 0, "sha-256");
	is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha-256 of abc");

	ok(label("3000-abcdefghijklmnopqrstuvwxyz", &port, out) && port == 3000 &&
	   !strcmp(out, "abcdefghijklmnopqrstuvwxyz"), "a label: port and token");
	ok(label("65535-ABCDEFGHIJKLMNOPQRSTUVWXYZ", &port, out) && port == 65535 &&
	   !strcmp(out, "abcdefghijklmnopqrstuvwxyz"), "upper case taken as lower (a DNS name)");
	ok(label("1-234567234567234567234567ab", &port, out) && port == 1, "port 1, digits 2-7");
	ok(!label("0-abcdefghijklmnopqrstuvwxyz", &port, out), "port 0 refused");
	ok(!label("03000-abcdefghijklmnopqrstuvwxyz", &port, out), "a leading zero refused");
	ok(!label("65536-abcdefghijklmnopqrstuvwxyz", &port, out), "port 65536 refused");
	ok(!label("100000-abcdefghijklmnopqrstuvwxyz", &port, out), "six digits refused");
	ok(!label("3000-abcdefghijklmnopqrstuvwxy", &port, out), "25 characters refused");
	ok(!label("3000-abcdefghijklmnopqrstuvwxyza", &port, out), "27 characters refused");
	ok(!label("3000-abcdefghijklmnopqrstuvwxy0", &port, out), "0 is not base32");
	ok(!label("3000-abcdefghijklmnopqrstuvwxy1", &port, out), "1 is not base32");
	ok(!label("3000_abcdefghijklmnopqrstuvwxyz", &port, out), "no dash refused");
	ok(!label("-abcdefghijklmnopqrstuvwxyz", &port, out), "no port refused");
	ok(!label("", &port, out), "empty refused");

	memset(&c, 0, sizeof c);
	preview_url(&c, 3000, "tok", false, out, sizeof out);
	is_str(out, "", "no preview-domain: no URL");
	snprintf(c.preview_domain, sizeof c.preview_domain, "preview.example.com");
	preview_url(&c, 3000, "tok", false, out, sizeof out);
	is_str(out, "https://3000-tok.preview.example.com/", "https by default");
	preview_url(&c, 3000, "tok", true, out, sizeof out);
	is_str(out, "https://preview.example.com/preview/3000-tok/", "the path form");
	snprintf(c.preview_domain, sizeof c.preview_domain, "http://preview.localhost:8787");
	preview_url(&c, 5173, "tok", false, out, sizeof out);
	is_str(out, "http://5173-tok.preview.localhost:8787/", "http and a port as configured");
	return done_testing();
}
