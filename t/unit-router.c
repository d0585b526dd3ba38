/* projectId validation: what reaches disk must match the documented shape. */
#include "config.h"

#include "router.h"
#include "tap.h"

#include <string.h>

int main(void)
{
	static const char *const good[] = { "a", "my-project", "A_b-9", "0", "x1234567890" };
	static const char *const bad[] = { "", "..", ".", "-x", "_x", "a/b", "a b", "a.b",
					   "a%2Fb", "caf\xc3\xa9", "a\n" };
	char longid[80];

	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		ok(project_id_valid(good[i]), "valid: %s", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ok(!project_id_valid(bad[i]), "invalid: '%s'", bad[i]);
	memset(longid, 'a', 63);
	longid[63] = '\0';
	ok(project_id_valid(longid), "63 characters are allowed");
	longid[63] = 'a';
	longid[64] = '\0';
	ok(!project_id_valid(longid), "64 characters are not");
	return done_testing();
}
