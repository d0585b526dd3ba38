/* Taking a FastCGI request without losing it to a stop signal.
 *
 * libfcgi reads a request's parameters inside FCGX_Accept_r(), after its
 * accept().  A SIGTERM there (a reload, a spare the master retires) broke
 * that read: libfcgi closed the connection and nginx answered the client
 * 502 ("writev() failed (32: Broken pipe) while sending request to
 * upstream"), 2 requests in 270,000 over 200 reloads.  So the stop signals
 * restart what they interrupt (SA_RESTART), and a worker notices them where
 * it waits for a connection, in epoll_pwait(), which unblocks them
 * atomically (a stop between the check and the wait is not lost) and which
 * no signal restarts.  Between requests they are blocked.  The listening
 * socket is non-blocking: a connection another worker took is EAGAIN,
 * never a wait.  EPOLLEXCLUSIVE wakes one idle worker a connection, as
 * accept() did.
 *
 * The parameters are read with the stops blocked (allowing them there,
 * even with SA_RESTART, still lost 1 request in 50,000 over 370 reloads
 * in t/0078), and with an alarm: a client that sends half a request (any
 * process of the socket's group can connect) has ACCEPT_READ_S to send the
 * rest, then that read fails as a stop's did, for that connection only;
 * nginx sends a request's parameters at once.  The answer is finished
 * (FCGX_Finish_r()) with the stops blocked too: its last write has a send
 * timeout, which SA_RESTART does not restart.  So a client that drips bytes
 * after its answer holds libfcgi's lingering close, and a reload waits for
 * it (t/0083, a known failure). */
#include "config.h"

#include "accept.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#define ACCEPT_READ_S 5

/* only to break the read (no SA_RESTART); again if libfcgi, having let
 * that connection go, reads the next one */
static void on_alarm(int sig)
{
	(void)sig;
	alarm(ACCEPT_READ_S);
}

int fcgi_accept_init(struct fcgi_accept *a, int listen_fd, void (*stop)(int))
{
	struct sigaction sa = { .sa_handler = stop, .sa_flags = SA_RESTART };
	struct sigaction al = { .sa_handler = on_alarm };
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE };
	int fl;

	sigemptyset(&a->stops);
	sigaddset(&a->stops, SIGTERM);
	sigaddset(&a->stops, SIGINT);
	sigprocmask(SIG_BLOCK, &a->stops, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGALRM, &al, NULL);
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
	int r;

	sigprocmask(SIG_SETMASK, NULL, &wait_mask);
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGINT);
	if (epoll_pwait(a->ep, &ev, 1, -1, &wait_mask) <= 0)
		return -1;
	alarm(ACCEPT_READ_S);
	r = FCGX_Accept_r(fr);
	alarm(0);
	if (r < 0)
		return -1;
	sigprocmask(SIG_UNBLOCK, &a->stops, NULL);
	return 0;
}

void fcgi_accept_done(const struct fcgi_accept *a, FCGX_Request *fr)
{
	/* the answer's last write has a send timeout (the slow-client
	 * bound), and a socket call with a timeout is never restarted
	 * (signal(7)): a stop there would cut the answer */
	sigprocmask(SIG_BLOCK, &a->stops, NULL);
	FCGX_Finish_r(fr);
}
