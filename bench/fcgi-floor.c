/* fcgi-floor: the smallest libfcgi responder pool, the floor of the
 * architecture's front (nginx -> FastCGI over a unix socket -> a worker).
 * ./dev bench puts it behind an nginx configured as the service's and
 * compares a status read with it.
 *
 *	fcgi-floor SOCKET [WORKERS [BODY_BYTES]]
 *
 * Forks WORKERS processes (2) that accept on SOCKET and answer every
 * request 200 with a fixed JSON body of BODY_BYTES (about a status
 * answer's size, 600).  Runs until SIGTERM; the workers die with it. */
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *make_body(size_t n)
{
	static const char head[] = "{\"success\":true,\"data\":{\"pad\":\"";
	static const char tail[] = "\"}}\n";
	size_t fixed = sizeof(head) - 1 + sizeof(tail) - 1;
	char *b;

	if (n < fixed)
		n = fixed;
	b = malloc(n + 1);
	if (!b)
		return NULL;
	memcpy(b, head, sizeof(head) - 1);
	memset(b + sizeof(head) - 1, 'x', n - fixed);
	memcpy(b + n - (sizeof(tail) - 1), tail, sizeof(tail));
	return b;
}

/* The whole answer, headers and body, made once: libfcgi's FCGX_FPrintF
 * knows no %zu (it stopped at "Content-Length: " and nginx answered 502),
 * and a floor formats nothing per request anyway. */
static char *make_reply(const char *body)
{
	static const char fmt[] = "Status: 200 OK\r\nContent-Type: application/json\r\n"
				  "Content-Length: %zu\r\n\r\n%s";
	int n = snprintf(NULL, 0, fmt, strlen(body), body);
	char *r = n < 0 ? NULL : malloc((size_t)n + 1);

	if (r)
		snprintf(r, (size_t)n + 1, fmt, strlen(body), body);
	return r;
}

static void serve(int sock, const char *reply)
{
	int len = (int)strlen(reply);
	FCGX_Request req;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (FCGX_InitRequest(&req, sock, 0))
		_exit(1);
	while (FCGX_Accept_r(&req) >= 0) {
		FCGX_PutStr(reply, len, req.out);
		FCGX_Finish_r(&req);
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	int workers = argc > 2 ? atoi(argv[2]) : 2;
	size_t size = argc > 3 ? strtoul(argv[3], NULL, 10) : 600;
	char *body;
	int sock;

	if (argc < 2 || workers < 1) {
		fprintf(stderr, "usage: fcgi-floor SOCKET [WORKERS [BODY_BYTES]]\n");
		return 2;
	}
	body = make_body(size);
	if (body)
		body = make_reply(body);
	if (!body || FCGX_Init())
		return 1;
	unlink(argv[1]);
	sock = FCGX_OpenSocket(argv[1], 128);
	if (sock < 0) {
		perror(argv[1]);
		return 1;
	}
	chmod(argv[1], 0666);
	for (int i = 0; i < workers; i++)
		if (fork() == 0)
			serve(sock, body);
	while (wait(NULL) > 0)
		;
	return 0;
}
