#include "config.h"

#include "procs.h"
#include "proto.h"
#include "util.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

struct proc {
	struct sb_proc_info info;
	int used;
	int pipe[2];	/* read ends: stdout, stderr (-1 once closed) */
	int log[2];
};

static struct proc procs[SB_PROC_MAX];

/* A log or exit file in the sandbox's tree: never a FIFO or a device,
 * which would stall the init (the sandbox may plant one there). */
static int open_regular(const char *path, int flags)
{
	struct stat st;
	int fd = open(path, flags | O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW, 0644);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

static void close_slot(struct proc *p)
{
	for (int i = 0; i < 2; i++) {
		if (p->pipe[i] >= 0)
			close(p->pipe[i]);
		if (p->log[i] >= 0)
			close(p->log[i]);
		p->pipe[i] = p->log[i] = -1;
	}
}

int procs_prepare(const char *id, int *out, int *err)
{
	char dir[200], path[256];
	int slot = -1, po[2], pe[2];

	if (!sb_name_safe(id)) {
		errno = EINVAL;
		return -1;
	}
	for (int i = 0; i < SB_PROC_MAX; i++) {
		struct proc *p = &procs[i];
		if (p->used && !strcmp(p->info.id, id) && !p->info.exited) {
			errno = EEXIST;
			return -1;
		}
		/* a slot whose process ended and whose pipes closed is free again */
		if (slot < 0 && (!p->used || (p->info.exited && p->pipe[0] < 0 && p->pipe[1] < 0)))
			slot = i;
	}
	/* the table full: EMFILE, not ENOSPC, which the logs' files may
	 * meet on the sandbox's full disk (a 507, where this is a 429) */
	if (slot < 0) {
		errno = EMFILE;
		return -1;
	}
	snprintf(dir, sizeof dir, SB_PROC_DIR "/%s", id);
	if (sb_mkdir_p(dir, 0755) < 0)
		return -1;
	snprintf(path, sizeof path, "%s/exit", dir);
	unlink(path);
	struct proc *p = &procs[slot];
	/* a slot never used is all zeroes: its "fds" are not ours to close (fd
	 * 0 may be a worker's connection by now) */
	if (p->used)
		close_slot(p);
	memset(p, 0, sizeof *p);
	p->pipe[0] = p->pipe[1] = p->log[0] = p->log[1] = -1;
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, i ? "stderr" : "stdout");
		p->log[i] = open_regular(path, O_CREAT | O_TRUNC);
		if (p->log[i] < 0) {
			close_slot(p);
			return -1;
		}
	}
	if (pipe2(po, O_CLOEXEC) < 0) {
		close_slot(p);
		return -1;
	}
	if (pipe2(pe, O_CLOEXEC) < 0) {
		close(po[0]);
		close(po[1]);
		close_slot(p);
		return -1;
	}
	p->pipe[0] = po[0];
	p->pipe[1] = pe[0];
	fcntl(po[0], F_SETFL, O_NONBLOCK);
	fcntl(pe[0], F_SETFL, O_NONBLOCK);
	*out = po[1];
	*err = pe[1];
	snprintf(p->info.id, sizeof p->info.id, "%s", id);
	p->used = 1;
	return slot;
}

void procs_started(int slot, pid_t pid)
{
	procs[slot].info.pid = pid;
}

void procs_abandon(int slot)
{
	close_slot(&procs[slot]);
	procs[slot].used = 0;
}

int procs_pollfds(struct pollfd *pfd, int max)
{
	int n = 0;

	for (int i = 0; i < SB_PROC_MAX; i++)
		for (int k = 0; k < 2; k++)
			if (procs[i].used && procs[i].pipe[k] >= 0 && n < max)
				pfd[n++] = (struct pollfd){ .fd = procs[i].pipe[k], .events = POLLIN };
	return n;
}

/* Into the log up to SB_PROC_LOG_MAX; the rest is counted and dropped, so
 * a chatty process never blocks on a full pipe nor fills the disk. */
static void drain(struct proc *p, int k)
{
	char buf[65536];
	uint64_t *logged = k ? &p->info.err_bytes : &p->info.out_bytes;
	uint64_t *dropped = k ? &p->info.err_dropped : &p->info.out_dropped;

	for (;;) {
		ssize_t n = read(p->pipe[k], buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close(p->pipe[k]);
			p->pipe[k] = -1;
			close(p->log[k]);
			p->log[k] = -1;
			return;
		}
		size_t keep = *logged >= SB_PROC_LOG_MAX ? 0
			    : (size_t)n < SB_PROC_LOG_MAX - *logged ? (size_t)n : (size_t)(SB_PROC_LOG_MAX - *logged);
		if (keep && sb_write_full(p->log[k], buf, keep) == (ssize_t)keep)
			*logged += keep;
		else
			keep = 0;
		*dropped += (uint64_t)n - keep;
	}
}

void procs_handle(const struct pollfd *pfd, int n)
{
	for (int j = 0; j < n; j++) {
		if (!pfd[j].revents)
			continue;
		for (int i = 0; i < SB_PROC_MAX; i++)
			for (int k = 0; k < 2; k++)
				if (procs[i].used && procs[i].pipe[k] == pfd[j].fd)
					drain(&procs[i], k);
	}
}

int procs_reaped(pid_t pid, int status)
{
	char path[256], text[32];

	for (int i = 0; i < SB_PROC_MAX; i++) {
		struct proc *p = &procs[i];
		if (!p->used || p->info.exited || p->info.pid != pid)
			continue;
		p->info.exited = 1;
		p->info.status = status;
		snprintf(path, sizeof path, SB_PROC_DIR "/%s/exit", p->info.id);
		snprintf(text, sizeof text, "%d\n", status);
		int fd = open_regular(path, O_CREAT | O_TRUNC);
		if (fd >= 0) {
			sb_write_full(fd, text, strlen(text));
			close(fd);
		}
		return 1;
	}
	return 0;
}

size_t procs_list(void *buf, size_t cap)
{
	size_t off = 0;

	for (int i = 0; i < SB_PROC_MAX && off + sizeof(struct sb_proc_info) <= cap; i++) {
		if (!procs[i].used)
			continue;
		memcpy((char *)buf + off, &procs[i].info, sizeof procs[i].info);
		off += sizeof procs[i].info;
	}
	return off;
}
