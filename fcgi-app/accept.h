/* Taking a FastCGI request without losing it to a stop signal. */
#ifndef SANDBOXD_ACCEPT_H
#define SANDBOXD_ACCEPT_H

#include <fcgiapp.h>
#include <signal.h>

struct fcgi_accept {
	int ep;		/* epoll of the listening socket (EPOLLEXCLUSIVE) */
	sigset_t stops;	/* SIGTERM, SIGINT */
};

/* on_stop handles SIGTERM and SIGINT (SA_RESTART); from here on they are
 * blocked but while fcgi_accept() waits and fcgi_stops_allow() allows. */
int fcgi_accept_init(struct fcgi_accept *a, int listen_fd, void (*on_stop)(int));
/* The next request, or -1: a stop came (the caller's flag says so) or
 * another worker took the connection. */
int fcgi_accept(struct fcgi_accept *a, FCGX_Request *fr);
/* A request's handler may be told to stop (a stream checks its token at a
 * reload): allowed while it runs, blocked again before its answer ends. */
void fcgi_stops_allow(const struct fcgi_accept *a, int allow);

#endif
