#include "config.h"

#include "clone.h"
#include "fileops.h"
#include "proto.h"
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <git2.h>
#include <git2/sys/stream.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

static int broker = -1;
static int reply_sock = -1;
static uint64_t byte_cap;

static const char *tmp_dir;

__attribute__((noreturn)) static void fail(int errnum, const char *what)
{
	struct sb_msg m = { .type = SB_MSG_ERROR, .val = errnum };

	if (tmp_dir)
		sb_remove_tree(tmp_dir);
	sb_msg_send(reply_sock, &m, what, strlen(what) + 1, NULL, 0);
	_exit(1);
}

struct brokered {
	git_stream parent;
	int fd;
};

static int bs_connect(git_stream *s)
{
	(void)s;
	return 0;	/* connected by the worker already */
}

static ssize_t bs_read(git_stream *s, void *buf, size_t len)
{
	ssize_t n;

	do
		n = read(((struct brokered *)s)->fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		git_error_set(GIT_ERROR_NET, "read: %s", strerror(errno));
	return n;
}

static ssize_t bs_write(git_stream *s, const char *buf, size_t len, int flags)
{
	(void)flags;
	if (sb_write_full(((struct brokered *)s)->fd, buf, len) < 0) {
		git_error_set(GIT_ERROR_NET, "write: %s", strerror(errno));
		return -1;
	}
	return (ssize_t)len;
}

static int bs_close(git_stream *s)
{
	struct brokered *b = (struct brokered *)s;

	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
	return 0;
}

static void bs_free(git_stream *s)
{
	bs_close(s);
	free(s);
}

/* libgit2 wants a connection: ask the worker for one. */
static int bs_init(git_stream **out, const char *host, const char *port)
{
	char req[600], buf[sizeof(struct sb_msg) + 256];
	size_t hl = strlen(host) + 1, pl = strlen(port) + 1;
	struct sb_msg m = { .type = SB_MSG_CONNECT };
	int fds[SB_MSG_MAXFDS], nfds = 0;
	struct brokered *b;
	ssize_t n;

	if (hl + pl > sizeof req) {
		git_error_set(GIT_ERROR_NET, "host name too long");
		return -1;
	}
	memcpy(req, host, hl);
	memcpy(req + hl, port, pl);
	if (sb_msg_send(broker, &m, req, hl + pl, NULL, 0) < 0 ||
	    (n = sb_msg_recv(broker, buf, sizeof buf - 1, fds, &nfds)) < (ssize_t)sizeof m) {
		git_error_set(GIT_ERROR_NET, "connection broker gone");
		return -1;
	}
	memcpy(&m, buf, sizeof m);
	buf[n] = '\0';
	if (m.type != SB_MSG_CONNECTED || nfds != 1) {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		git_error_set(GIT_ERROR_NET, "connection to %s:%s refused: %s", host, port,
			      (size_t)n > sizeof m ? buf + sizeof m : "by policy");
		return -1;
	}
	b = calloc(1, sizeof *b);
	if (!b) {
		close(fds[0]);
		return -1;
	}
	b->parent.version = GIT_STREAM_VERSION;
	b->parent.connect = bs_connect;
	b->parent.read = bs_read;
	b->parent.write = bs_write;
	b->parent.close = bs_close;
	b->parent.free = bs_free;
	b->fd = fds[0];
	*out = &b->parent;
	return 0;
}

static int on_progress(const git_indexer_progress *p, void *payload)
{
	struct sb_clone_progress pr = {
		.received_objects = p->received_objects,
		.total_objects = p->total_objects,
		.received_bytes = p->received_bytes,
	};
	struct sb_msg m = { .type = SB_MSG_PROGRESS };

	(void)payload;
	if (byte_cap && p->received_bytes > byte_cap) {
		git_error_set(GIT_ERROR_NET, "repository larger than the clone cap of %llu bytes",
			      (unsigned long long)byte_cap);
		return -1;
	}
	sb_msg_send(broker, &m, &pr, sizeof pr, NULL, 0);
	return 0;
}

/* syncfs of dir's file system (all), or fsync of the directory that holds
 * dir (its name); 0, or -1 with errno */
static int sync_dir(const char *dir, bool all)
{
	char parent[PATH_MAX];
	cleanup_close int fd = -1;
	const char *slash = strrchr(dir, '/');

	if (all) {
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		return fd < 0 ? -1 : syncfs(fd);
	}
	snprintf(parent, sizeof parent, "%.*s", slash && slash != dir ? (int)(slash - dir) : 1,
		 slash ? dir : ".");
	fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -1 : fsync(fd);
}

static bool dir_nonempty(const char *dir)
{
	DIR *d = opendir(dir);
	bool full = false;

	if (!d)
		return false;
	for (struct dirent *de; !full && (de = readdir(d));)
		full = strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return full;
}

void sb_clone_child(int sock, int brk, const char *dir, const char *url_branch, uint64_t max_bytes)
{
	git_stream_registration reg = { .version = GIT_STREAM_VERSION, .init = bs_init };
	git_clone_options opts;
	char url[4096], cafile[64] = "", buf[sizeof(struct sb_msg) + 16];
	const char *branch = strchr(url_branch, '\n'), *tmp;
	int fds[SB_MSG_MAXFDS], nfds = 0;
	git_repository *repo = NULL;
	struct stat st;

	reply_sock = sock;
	broker = brk;
	byte_cap = max_bytes;
	if (!branch || (size_t)(branch - url_branch) >= sizeof url)
		fail(EINVAL, "bad clone request");
	memcpy(url, url_branch, (size_t)(branch - url_branch));
	url[branch - url_branch] = '\0';
	branch++;
	tmp = strchr(branch, '\n');
	if (!tmp)
		fail(EINVAL, "bad clone request");
	*(char *)tmp++ = '\0';
	if (dir_nonempty(dir))
		fail(EEXIST, "directory exists and is not empty");
	tmp_dir = tmp;
	/* the host's CA bundle, for https */
	if (sb_msg_recv(broker, buf, sizeof buf, fds, &nfds) >= (ssize_t)sizeof(struct sb_msg) && nfds == 1)
		snprintf(cafile, sizeof cafile, "/proc/self/fd/%d", fds[0]);
	git_libgit2_init();
	/* no configuration of the sandbox's but the repository's own */
	git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_SYSTEM, "");
	git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_GLOBAL, "");
	git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_XDG, "");
	if (cafile[0])
		git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, cafile, NULL);
	if (git_stream_register(GIT_STREAM_STANDARD, &reg) < 0)
		fail(EPROTO, "cannot install the connection broker");
	git_clone_options_init(&opts, GIT_CLONE_OPTIONS_VERSION);
	opts.fetch_opts.callbacks.transfer_progress = on_progress;
	opts.fetch_opts.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
	opts.checkout_opts.checkout_strategy = GIT_CHECKOUT_SAFE;
	if (*branch)
		opts.checkout_branch = branch;
	/* into a sibling first, renamed at the end: a failed or killed clone
	 * never leaves a half repository where the user asked for one (the
	 * worker removes the sibling of a killed one) */
	if (git_clone(&repo, url, tmp_dir, &opts) < 0) {
		int e0 = errno;
		const git_error *e = git_error_last();
		char msg[512];
		snprintf(msg, sizeof msg, "%s", e && e->message ? e->message : "clone failed");
		/* the sandbox's disk full (its quota) is no space, like any
		 * other write's; the rest is the remote side's (upstream) */
		if (e && e->klass != GIT_ERROR_NET &&
		    (e0 == ENOSPC || e0 == EDQUOT || strstr(msg, strerror(ENOSPC)) || strstr(msg, strerror(EDQUOT))))
			fail(ENOSPC, msg);
		if (e && e->klass != GIT_ERROR_NET && (e0 == EIO || strstr(msg, strerror(EIO))))
			fail(EIO, msg);
		/* a disk that went read-only: the worker tells the sandbox's own
		 * read-only mount (forbidden) from a failed disk (no space) */
		if (e && e->klass != GIT_ERROR_NET && (e0 == EROFS || strstr(msg, strerror(EROFS))))
			fail(EROFS, msg);
		fail(ECONNABORTED, msg);
	}
	git_repository_free(repo);
	/* acknowledged means on the sandbox's disk, as the files API's
	 * writes: the whole tree (thousands of files: one syncfs, not an
	 * fsync each) before it is moved into place, then the name; an error
	 * (ENOSPC, EIO of a disk whose host filled) is the client's no space, and
	 * removes the clone, never a 200 for one that may vanish */
	if (sync_dir(tmp_dir, true) < 0)
		fail(errno == ENOSPC || errno == EDQUOT ? errno : EIO, "sync the clone");
	if ((rmdir(dir) < 0 && errno != ENOENT) || rename(tmp_dir, dir) < 0)
		fail(errno, "cannot move the clone into place");
	if (stat(dir, &st) < 0)
		fail(errno, "stat");
	if (sync_dir(dir, false) < 0) {
		int e = errno == ENOSPC || errno == EDQUOT ? errno : EIO;
		tmp_dir = dir;	/* in place now: what fail() removes */
		fail(e, "sync the clone");
	}
	tmp_dir = NULL;
	struct sb_msg m = { .type = SB_MSG_FILE_INFO };
	struct sb_file_info fi = {
		.type = SB_FT_DIR, .mode = st.st_mode & 07777, .uid = st.st_uid, .gid = st.st_gid,
	};
	sb_msg_send(reply_sock, &m, &fi, sizeof fi, NULL, 0);
	_exit(0);
}
