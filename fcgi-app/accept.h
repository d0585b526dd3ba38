/* Taking a FastCGI request without losing it to a stop signal, and serving
 * it without letting one cut it (see accept.c). */
#ifndef SANDBOXD_ACCEPT_H
#define SANDBOXD_ACCEPT_H

#include <fcgiapp.h>
#include <signal.h>
#include <stdbool.h>

struct fcgi_accept {
	int ep;		/* epoll of the listening socket (EPOLLEXCLUSIVE) */
	sigset_t stops;	/* SIGTERM, SIGINT */
	sigset_t wait_mask;	/* the worker's mask but the stops: epoll_pwait()'s */
};

/* on_stop handles SIGTERM and SIGINT (SA_RESTART); from here on they are
 * blocked but while fcgi_accept() waits for a connection. */
int fcgi_accept_init(struct fcgi_accept *a, int listen_fd, void (*on_stop)(int));
/* The next request, or -1: a stop came (the caller's flag says so) or
 * another worker took the connection.  The request is served with the
 * stops blocked: none cuts its socket I/O. */
int fcgi_accept(struct fcgi_accept *a, FCGX_Request *fr);
/* A stop came while a request is served (pending, blocked): a stream
 * checks its token then. */
bool fcgi_stop_pending(const struct fcgi_accept *a);
/* The request answered whole, then its connection closed, libfcgi's
 * lingering close bounded (FCGX_Finish_r()). */
void fcgi_accept_done(const struct fcgi_accept *a, FCGX_Request *fr);

#endif
