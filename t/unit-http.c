/* Percent-decoding of path segments, lossy UTF-8 for command output, and
 * the Content-Disposition of a raw download. */
#include "config.h"

#include "http.h"
#include "tap.h"

#include <string.h>

static const char *decoded(const char *in, char *buf, size_t n)
{
	snprintf(buf, n, "%s", in);
	return http_pct_decode(buf) == 0 ? buf : NULL;
}

/* Content-Disposition of a sandbox file's name: attachment, no byte that
 * ends the quoted string or the header, the exact name in filename*. */
static void content_disposition(void)
{
	char cd[1400], small[64], name[256];
	bool clean = true;

	http_content_disposition(cd, sizeof cd, "a \"b\" \xc3\xbc;.html");
	is_str(cd, "attachment; filename=\"a _b_ __.html\"; filename*=UTF-8''a%20%22b%22%20%C3%BC%3B.html",
	       "quotes, ; and UTF-8: _ in filename, percent-encoded in filename*");
	http_content_disposition(cd, sizeof cd, "x\r\nSet-Cookie: a=b\\\x7f");
	is_str(cd, "attachment; filename=\"x__Set-Cookie_ a_b__\"; filename*=UTF-8''x%0D%0ASet-Cookie%3A%20a%3Db%5C%7F",
	       "CR, LF, backslash and DEL never reach the header as they are");
	http_content_disposition(cd, sizeof cd, "");
	is_str(cd, "attachment; filename=\"\"; filename*=UTF-8''", "an empty name");
	/* the longest name a file system takes, every byte escaped, fits */
	memset(name, '"', 255);
	name[255] = '\0';
	http_content_disposition(cd, sizeof cd, name);
	ok(strlen(cd) == 22 + 255 + 20 + 3 * 255, "a 255-byte name fits whole in 1400 bytes");
	/* cut short: whole escapes only, the quoted string closed */
	http_content_disposition(small, sizeof small, name);
	ok(strlen(small) < sizeof small && !strncmp(small + strlen(small) - 3, "%22", 3),
	   "a small buffer cuts the name, never an escape (%s)", small);
	for (int c = 1; c < 256; c++) {
		char one[2] = { (char)c, 0 };
		const char *p;
		http_content_disposition(cd, sizeof cd, one);
		p = strchr(cd + 22, '"');
		if (strpbrk(cd, "\r\n\\") || !p || strncmp(p, "\"; filename*=UTF-8''", 20))
			clean = false;
	}
	ok(clean, "no single byte breaks out of filename=\"...\"");
}

int main(void)
{
	char buf[64];
	struct json_object *o;

	content_disposition();

	is_str(decoded("abc", buf, sizeof buf), "abc", "plain segment unchanged");
	is_str(decoded("a%2Fb", buf, sizeof buf), "a/b", "%%2F decodes to a slash");
	is_str(decoded("%41%62", buf, sizeof buf), "Ab", "hex escapes of either case");
	ok(decoded("a%00b", buf, sizeof buf) == NULL, "%%00 is refused");
	ok(decoded("a%zz", buf, sizeof buf) == NULL, "a bad escape is refused");
	ok(decoded("a%4", buf, sizeof buf) == NULL, "a cut escape is refused");

	o = json_string_lossy("h\xc3\xa9llo", 6);
	is_str(json_object_get_string(o), "h\xc3\xa9llo", "valid UTF-8 is kept");
	json_object_put(o);
	o = json_string_lossy("a\xff" "b", 3);
	is_str(json_object_get_string(o), "a\xef\xbf\xbd" "b", "an invalid byte becomes U+FFFD");
	json_object_put(o);
	o = json_string_lossy("\xed\xa0\x80", 3);
	ok(strcmp(json_object_get_string(o), "\xed\xa0\x80") != 0, "a UTF-16 surrogate is not kept");
	json_object_put(o);
	o = json_string_lossy("a\0b", 3);
	ok(json_object_get_string_len(o) == 3, "NUL bytes survive (JSON escapes them)");
	json_object_put(o);
	return done_testing();
}
