/* Taking a FastCGI request without losing it to a stop signal.
 *
 * libfcgi reads a request's parameters inside FCGX_Accept_r(), after its
 * accept().  A SIGTERM there (a reload, a spare the master retires) broke
 * that read: libfcgi closed the connection and nginx answered the client
 * 502 ("writev() failed (32: Broken pipe) while sending request to
 * upstream"), 2 requests in 270,000 over 200 reloads.  So: the stop
 * signals restart what they interrupt (SA_RESTART), and a worker notices
 * them where it waits for a connection, in epoll_pwait(), which unblocks
 * them atomically (a stop between the check and the wait is not lost) and
 * which no signal restarts.  The listening socket is non-blocking: a
 * connection another worker took is EAGAIN, never a wait deaf to stops.
 * EPOLLEXCLUSIVE wakes one idle worker a connection, as accept() did. */
#include "config.h"

#include "accept.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

int fcgi_accept_init(struct fcgi_accept *a, int listen_fd, void (*on_stop)(int))
{
	struct sigaction sa = { .sa_handler = on_stop, .sa_flags = SA_RESTART };
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE };
	int fl;

	sigemptyset(&a->stops);
	sigaddset(&a->stops, SIGTERM);
	sigaddset(&a->stops, SIGINT);
	sigprocmask(SIG_BLOCK, &a->stops, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	fl = fcntl(listen_fd, F_GETFL);
	if (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	a->ep = epoll_create1(EPOLL_CLOEXEC);
	if (a->ep < 0 || epoll_ctl(a->ep, EPOLL_CTL_ADD, listen_fd, &ev) < 0)
		return -1;
	return 0;
}

int fcgi_accept(struct fcgi_accept *a, FCGX_Request *fr)
{
	struct epoll_event ev;
	sigset_t wait_mask;

	sigprocmask(SIG_SETMASK, NULL, &wait_mask);
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGINT);
	if (epoll_pwait(a->ep, &ev, 1, -1, &wait_mask) <= 0)
		return -1;
	/* stops blocked: the parameters are read whole, or not at all */
	return FCGX_Accept_r(fr) < 0 ? -1 : 0;
}

void fcgi_stops_allow(const struct fcgi_accept *a, int allow)
{
	sigprocmask(allow ? SIG_UNBLOCK : SIG_BLOCK, &a->stops, NULL);
}
