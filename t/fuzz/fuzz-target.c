/* Fuzz target: a request line "METHOD URI" (no space: GET and all of it as
 * the URI) through http_parse_target(), project_id_valid() and
 * router_route(), checked against the reference in fuzz.h.  Nothing is
 * answered and nothing touches disk. */
#include "config.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_req *req;
	char *line = fuzz_strdup(data, size), *uri, *sp;

	if (!line)
		return 0;
	/* on the heap, so ASan sees a read past its end */
	req = calloc(1, sizeof *req);
	if (!req) {
		free(line);
		return 0;
	}
	sp = strchr(line, ' ');
	if (sp) {
		*sp = '\0';
		req->method = line;
		uri = sp + 1;
	} else {
		req->method = "GET";
		uri = line;
	}

	fuzz_assert(http_parse_target(req, uri) == (req->bad_path ? -1 : 0));
	fuzz_check_target(req, uri);
	fuzz_check_route(req);
	/* the validator on its own, on bytes no path decoding shaped */
	fuzz_check_id(uri);

	/* a second parse into the same req must not see the first one */
	fuzz_assert(http_parse_target(req, "/sandboxes/x/exec") == 0);
	fuzz_assert(req->nsegs == 3 && !strcmp(req->segs[1], "x") && !*req->query);

	free(req);
	free(line);
	return 0;
}
