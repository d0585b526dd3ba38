/* The worker's side of a file operation (see fileops.h). */
#include "config.h"

#include "fileops.h"
#include "proto.h"
#include "sandbox.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

/* What the failure of a file operation inside the sandbox means to the
 * client who asked for it, by the errno its child met. */
static enum sb_err_kind kind_of(int errnum)
{
	switch (errnum) {
	case ENOENT: case ENOTDIR: return SB_E_NOT_FOUND;
	case EISDIR: case EINVAL: case ENAMETOOLONG: case ELOOP: case EXDEV: return SB_E_INVALID;
	/* what open says of a socket, or of a device with nothing behind it:
	 * not a file to read, never the service's fault */
	case ENXIO: case ENODEV: return SB_E_INVALID;
	/* EAGAIN: a lease the sandbox holds on the file (its open is
	 * non-blocking); EMLINK: a file with all the links it may have */
	case EEXIST: case ENOTEMPTY: case EBUSY: case EAGAIN: case EMLINK: return SB_E_CONFLICT;
	/* the child out of fds or memory (the sandbox may lower its limits,
	 * or the host is short): for now, not a bug */
	case EMFILE: case ENFILE: case ENOMEM: return SB_E_BUSY;
	case ECONNABORTED: return SB_E_UPSTREAM;	/* a clone the remote side failed */
	case EFBIG: return SB_E_TOO_LARGE;
	case EACCES: case EPERM: case EROFS: return SB_E_FORBIDDEN;
	case ENOSPC: case EDQUOT: return SB_E_NO_SPACE;
	case EIO: return SB_E_NO_SPACE;	/* the sandbox's disk failed: SB_DISK_FAILED */
	default: return SB_E_INTERNAL;
	}
}

int sandbox_file_request(int ctl, const struct sb_file_req *rq, const char *path,
			 const char *path2, int *data, struct sb_err *err)
{
	struct sb_msg m = { .type = SB_MSG_FILE };
	size_t l1 = strlen(path) + 1, l2 = path2 ? strlen(path2) + 1 : 0;
	cleanup_free char *payload = malloc(sizeof *rq + l1 + l2);
	struct sb_file_req r = *rq;
	int p[2] = { -1, -1 }, theirs = -1, ret;

	*data = -1;
	if (!payload)
		return sb_fail(err, SB_E_INTERNAL, ENOMEM, "out of memory");
	r.path_len = (uint32_t)l1;
	r.path2_len = (uint32_t)l2;
	memcpy(payload, &r, sizeof r);
	memcpy(payload + sizeof r, path, l1);
	if (l2)
		memcpy(payload + sizeof r + l1, path2, l2);
	if (rq->op == SB_FILE_CLONE) {
		/* the broker: a channel of its own, so the init never sees it */
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p) < 0)
			return sb_syserr(err, "socketpair");
		*data = p[0];
		theirs = p[1];
	} else if (rq->op == SB_FILE_READ || rq->op == SB_FILE_LIST || rq->op == SB_FILE_WRITE ||
		   rq->op == SB_FILE_ARCHIVE_OUT || rq->op == SB_FILE_ARCHIVE_IN) {
		bool in = rq->op == SB_FILE_WRITE || rq->op == SB_FILE_ARCHIVE_IN;
		if (pipe2(p, O_CLOEXEC) < 0)
			return sb_syserr(err, "pipe");
		/* READ, LIST, ARCHIVE_OUT: the child writes, we read;
		 * WRITE, ARCHIVE_IN: the other way */
		*data = in ? p[1] : p[0];
		theirs = in ? p[0] : p[1];
	}
	if (*data >= 0)
		fcntl(*data, F_SETFL, O_NONBLOCK);	/* waited on with deadlines */
	ret = sb_msg_send(ctl, &m, payload, sizeof r + l1 + l2, &theirs, theirs >= 0 ? 1 : 0);
	if (theirs >= 0)
		close(theirs);
	if (ret < 0) {
		if (*data >= 0)
			close(*data);
		*data = -1;
		return sb_syserr(err, "send file request");
	}
	return 0;
}

/* The operation's child was killed by a signal: it runs inside the
 * sandbox, where the sandbox's own processes (its root may kill any of
 * them) and its memory limit can end it.  That is the sandbox's doing, a
 * conflict to retry, not a fault of ours. */
static int killed_in_sandbox(int status, struct sb_err *err)
{
	return sb_fail(err, SB_E_CONFLICT, EINTR, "the operation's process was killed inside the sandbox "
		       "(signal %d: by one of its processes, or its memory limit); retry",
		       WTERMSIG(status));
}

/* Its init killed it because one of the sandbox's processes stopped it
 * (init.c kill_stopped()): the same conflict, said as it is. */
static int ended(int status, const struct sb_exit_info *x, struct sb_err *err)
{
	if (x->stopped_by)
		return sb_fail(err, SB_E_CONFLICT, EINTR, "the operation's process was stopped inside the "
			       "sandbox (signal %d, by one of its processes), so it was ended; retry",
			       x->stopped_by);
	return killed_in_sandbox(status, err);
}

int sandbox_file_reply(int ctl, struct sb_file_info *info, int timeout_ms, struct sb_err *err)
{
	char text[256];
	struct sb_msg m;

	if (proto_recv(ctl, &m, text, sizeof text - 1, timeout_ms, err) < 0)
		return -1;
	if (m.type == SB_MSG_FILE_INFO) {
		memcpy(info, text, sizeof *info);
		return 0;
	}
	if (m.type == SB_MSG_ERROR) {
		/* the child's words (bounded, lossy-encoded later), else errno's */
		text[sizeof text - 1] = '\0';
		if (m.val == EIO)
			sb_fail(err, SB_E_NO_SPACE, 0, "%s: " SB_DISK_FAILED, text[0] ? text : strerror(m.val));
		else
			sb_fail(err, kind_of(m.val), 0, "%s", text[0] ? text : strerror(m.val));
		if (err)
			err->errnum = m.val;
		return -1;
	}
	if (m.type == SB_MSG_EXITED && WIFSIGNALED(m.val)) {
		struct sb_exit_info x;

		memcpy(&x, text, sizeof x);	/* zero-filled past what came */
		return ended(m.val, &x, err);
	}
	if (m.type == SB_MSG_EXITED)
		return sb_fail(err, SB_E_INTERNAL, EPIPE, "file operation ended without an answer");
	return sb_fail(err, SB_E_INTERNAL, EPROTO, "unexpected answer from the sandbox");
}

int sandbox_file_end(int ctl, int timeout_ms, struct sb_err *err)
{
	struct sb_exit_info x;
	struct sb_msg m;

	if (proto_recv(ctl, &m, &x, sizeof x, timeout_ms, err) < 0)
		return -1;
	if (m.type == SB_MSG_EXITED && WIFEXITED(m.val) && WEXITSTATUS(m.val) == SB_FILE_EXIT_CHANGED)
		return sb_fail(err, SB_E_CONFLICT, EAGAIN, "the file changed (shrank) while it was read; retry");
	if (m.type == SB_MSG_EXITED && WIFSIGNALED(m.val))
		return ended(m.val, &x, err);
	if (m.type != SB_MSG_EXITED || !WIFEXITED(m.val) || WEXITSTATUS(m.val) != 0)
		return sb_fail(err, SB_E_INTERNAL, EIO, "file operation failed in the sandbox");
	return 0;
}
