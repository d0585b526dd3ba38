/* Taking a FastCGI request without losing it to a stop signal, and serving
 * it without letting one cut it.
 *
 * libfcgi reads a request's parameters inside FCGX_Accept_r(), after its
 * accept().  A SIGTERM there (a reload, a spare the master retires) broke
 * that read: libfcgi closed the connection and nginx answered the client
 * 502 ("writev() failed (32: Broken pipe) while sending request to
 * upstream"), 2 requests in 270,000 over 200 reloads.  So the stop signals
 * restart what they interrupt (SA_RESTART), and a worker notices them where
 * it waits for a connection, in epoll_pwait(), which unblocks them
 * atomically (a stop between the check and the wait is not lost) and which
 * no signal restarts.  Everywhere else they are blocked: while the
 * parameters are read (allowing them there, even with SA_RESTART, still
 * lost 1 request in 50,000 over 370 reloads in t/0078), while the request
 * is served, and while it is finished.  A socket read or write with a
 * timeout (SO_RCVTIMEO of a raw upload's reads, SO_SNDTIMEO of every
 * answer) is never restarted after a signal (signal(7)), and libfcgi takes
 * its EINTR for an error: a stop let in while a request was served cut a
 * raw upload short (400, and the child renamed what it had over the file)
 * and a 100 MB download at 73 MB (t/0084).  A request in progress, an
 * upload, a download or a buffered exec, now finishes on the old worker; a
 * stream (an SSE follow, a streamed or long buffered exec) learns of a
 * reload at its next wake-up (fcgi_stop_pending(): the stop is pending,
 * blocked) and ends if its token was revoked (worker.c stream_revoked()).
 *
 * The parameters are read with an alarm: a client that sends half a
 * request (any process of the socket's group can connect) has
 * ACCEPT_READ_S to send the rest, then that read fails as a stop's did,
 * for that connection only; nginx sends a request's parameters at once.
 * The answer is finished (FCGX_FClose() of its streams: the last write and
 * the end record) with no alarm, then libfcgi's lingering close (it shuts
 * its side and reads until the client is quiet for 2 s) runs under an
 * alarm of CLOSE_S: a client that drips a byte a second after its answer
 * held that close, and a reload waited for it, as long as it liked
 * (t/0083).  The alarm only ends the lingering read: the answer has been
 * written whole before it is armed. */
#include "config.h"

#include "accept.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#define ACCEPT_READ_S 5
/* libfcgi's lingering close, at most (it ends after 2 s of quiet) */
#define CLOSE_S 3

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
	sigprocmask(SIG_BLOCK, &a->stops, &a->wait_mask);
	/* the mask stays as it is from here on: epoll_pwait()'s is the same
	 * but the stops */
	sigdelset(&a->wait_mask, SIGTERM);
	sigdelset(&a->wait_mask, SIGINT);
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
	int r;

	if (epoll_pwait(a->ep, &ev, 1, -1, &a->wait_mask) <= 0)
		return -1;
	alarm(ACCEPT_READ_S);
	r = FCGX_Accept_r(fr);
	alarm(0);
	return r < 0 ? -1 : 0;
}

bool fcgi_stop_pending(const struct fcgi_accept *a)
{
	sigset_t pending, ours;

	if (sigpending(&pending) < 0)
		return false;
	sigandset(&ours, &pending, &a->stops);
	return !sigisemptyset(&ours);
}

void fcgi_accept_done(const struct fcgi_accept *a, FCGX_Request *fr)
{
	(void)a;
	/* the answer whole first, with no alarm: its writes are bounded by
	 * their send timeout (the slow-client bound).  An error there closes
	 * the connection, as FCGX_Finish_r() would have (it finds the
	 * streams closed and does not see the error again). */
	if (FCGX_FClose(fr->err) != 0 || FCGX_FClose(fr->out) != 0)
		fr->keepConnection = 0;
	/* then the lingering close, bounded: the alarm (no SA_RESTART) breaks
	 * its select() or read() and libfcgi closes the socket */
	alarm(CLOSE_S);
	FCGX_Finish_r(fr);
	alarm(0);
}
