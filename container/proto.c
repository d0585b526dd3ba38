#include "config.h"

#include "proto.h"
#include "util.h"

#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

int sb_msg_send(int sock, const struct sb_msg *hdr, const void *payload,
		size_t len, const int *fds, int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * SB_MSG_MAXFDS)];
		struct cmsghdr align;
	} u;
	struct iovec iov[2] = {
		{ .iov_base = (void *)hdr, .iov_len = sizeof *hdr },
		{ .iov_base = (void *)payload, .iov_len = len },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	ssize_t n;

	if (nfds > 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof u);
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -1 : 0;
}

ssize_t sb_msg_recv(int sock, void *buf, size_t cap, int *fds, int *nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * SB_MSG_MAXFDS)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof u.buf,
	};
	struct cmsghdr *c;
	ssize_t n;

	*nfds = 0;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int got[SB_MSG_MAXFDS];
		if (k > SB_MSG_MAXFDS)
			k = SB_MSG_MAXFDS;
		memcpy(got, CMSG_DATA(c), k * sizeof(int));
		for (size_t i = 0; i < k; i++)
			fds[(*nfds)++] = got[i];
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		for (int i = 0; i < *nfds; i++)
			close(fds[i]);
		*nfds = 0;
		errno = EMSGSIZE;
		return -1;
	}
	return n;
}

/* Readable within timeout_ms: 1, 0 when the time ran out, -1 on error.  A
 * signal is not the peer: the wait goes on for what is left of it. */
static int wait_readable(int fd, int timeout_ms)
{
	int64_t deadline = sb_mono_ms() + timeout_ms;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	for (;;) {
		int64_t left = deadline - sb_mono_ms();
		r = poll(&p, 1, left > 0 ? (int)left : 0);
		if (r >= 0 || errno != EINTR)
			return r;
	}
}

ssize_t proto_recv(int ctl, struct sb_msg *m, void *payload, size_t len, int timeout_ms,
		   struct sb_err *err)
{
	char buf[sizeof *m + SB_REPLY_MAX];
	int fds[SB_MSG_MAXFDS], nfds, r;
	ssize_t n;

	/* 0 or less: a poll that does not wait (what the caller's own poll
	 * saw is still there; recvmsg never blocks on an empty socket) */
	r = wait_readable(ctl, timeout_ms > 0 ? timeout_ms : 0);
	if (r < 0)
		return sb_syserr(err, "wait for the sandbox's init");
	if (r == 0)
		return sb_fail(err, SB_E_TIMEOUT, ETIMEDOUT, "the sandbox's init did not answer in time");
	n = sb_msg_recv(ctl, buf, sizeof buf, fds, &nfds);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	if (n < (ssize_t)sizeof *m)
		return sb_fail(err, SB_E_INTERNAL, n < 0 ? errno : EPIPE, "the sandbox's init went away");
	memcpy(m, buf, sizeof *m);
	n -= (ssize_t)sizeof *m;
	if (payload) {
		memset(payload, 0, len);
		memcpy(payload, buf + sizeof *m, (size_t)n < len ? (size_t)n : len);
	}
	return n;
}

ssize_t proto_call(int ctl, struct sb_msg *m, void *payload, size_t len, int timeout_ms,
		   struct sb_err *err)
{
	if (sb_msg_send(ctl, m, NULL, 0, NULL, 0) < 0)
		return sb_syserr(err, "send a request to the sandbox's init");
	return proto_recv(ctl, m, payload, len, timeout_ms, err);
}
