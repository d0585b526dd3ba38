/* Percent-decoding of path segments and lossy UTF-8 for command output. */
#include "config.h"

#include "http.h"
#include "tap.h"

#include <string.h>

static const char *decoded(const char *in, char *buf, size_t n)
{
	snprintf(buf, n, "%s", in);
	return http_pct_decode(buf) == 0 ? buf : NULL;
}

int main(void)
{
	char buf[64];
	struct json_object *o;

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
