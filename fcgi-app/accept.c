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
 * A restarted read would wait for ever on a client that sends half a
 * request (any process of the socket's group can connect): a stop that
 * comes while the parameters are read arms an alarm, and ACCEPT_STOP_S
 * later the read fails as it used to, that connection only.  The lingering
 * close in FCGX_Finish_r() waits in select(), which a stop still ends. */
#include "config.h"

#include "accept.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#define ACCEPT_STOP_S 5

static void (*stop_handler)(int);
static volatile sig_atomic_t reading, armed;

/* once: the master says it again at every tick, which must not put the
 * alarm off */
static void on_stop(int sig)
{
	stop_handler(sig);
	if (reading && !armed) {
		armed = 1;
		alarm(ACCEPT_STOP_S);
	}
}

/* only to break the read (no SA_RESTART); the next stop arms it again */
static void on_alarm(int sig)
{
	(void)sig;
	armed = 0;
}

int fcgi_accept_init(struct fcgi_accept *a, int listen_fd, void (*stop)(int))
{
	struct sigaction sa = { .sa_handler = on_stop, .sa_flags = SA_RESTART };
	struct sigaction al = { .sa_handler = on_alarm };
	struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE };
	int fl;

	stop_handler = stop;
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
	reading = 1;
	sigprocmask(SIG_UNBLOCK, &a->stops, NULL);
	r = FCGX_Accept_r(fr);
	alarm(0);
	reading = 0;
	armed = 0;
	if (r < 0) {
		sigprocmask(SIG_BLOCK, &a->stops, NULL);
		return -1;
	}
	return 0;
}

void fcgi_accept_done(const struct fcgi_accept *a, FCGX_Request *fr)
{
	FCGX_Finish_r(fr);
	sigprocmask(SIG_BLOCK, &a->stops, NULL);
}
