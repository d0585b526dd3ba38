/* Archives of a sandbox directory, out and in, done by the file operation's
 * child inside the sandbox (fileops.h): the host never walks or writes a
 * sandbox path.  Out: a POSIX (pax) tar of the tree, gzipped or not,
 * written to the pipe as it is made.  In: a tar or tar.gz read from the
 * pipe and extracted under the target directory with image import's
 * refusals (container/image_import.c): no absolute names, no `..`, no
 * devices or FIFOs, nothing written through a symlink (one an earlier
 * member made or one the sandbox planted: each directory on the way is
 * opened O_NOFOLLOW), setuid and setgid bits dropped, owners not taken
 * (everything belongs to the sandbox's root). */
#include "config.h"

#include "fileops.h"
#include "proto.h"
#include "util.h"

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define BLOCK 512
#define IOBUF 65536

/* The file member being written (in), under a temporary name: a refusal
 * before it is renamed (the upload cut inside it, a full disk) removes
 * it, never leaves it half written. */
static struct {
	int dir;
	const char *base;
} writing = { -1, NULL };

/* The answer says which member and why; errnum picks the HTTP status
 * (fileops kind_of: EINVAL 400, EFBIG 413, ENOSPC 507). */
__attribute__((noreturn, format(printf, 3, 4)))
static void refuse(int sock, int errnum, const char *fmt, ...)
{
	struct sb_msg m = { .type = SB_MSG_ERROR, .val = errnum };
	char text[256];
	va_list ap;

	if (writing.base)
		unlinkat(writing.dir, writing.base, 0);
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	sb_msg_send(sock, &m, text, strlen(text) + 1, NULL, 0);
	_exit(1);
}

static void send_done(int sock, uint64_t bytes, uint32_t entries)
{
	struct sb_msg m = { .type = SB_MSG_FILE_INFO };
	struct sb_file_info fi = { .type = SB_FT_DIR, .size = bytes, .uid = entries };

	sb_msg_send(sock, &m, &fi, sizeof fi, NULL, 0);
}

/* === out ================================================================ */

struct tar_out {
	int fd;
	bool gz;
	z_stream z;
	size_t n;
	unsigned char buf[IOBUF], zbuf[IOBUF];
};

/* The consumer (the worker, then the client) went away or stalled: a
 * child that cannot write has nothing left to do. */
static void out_flush(struct tar_out *o, int flush)
{
	if (!o->gz) {
		if (o->n && sb_write_full(o->fd, o->buf, o->n) < 0)
			_exit(1);
		o->n = 0;
		return;
	}
	o->z.next_in = o->buf;
	o->z.avail_in = (uInt)o->n;
	do {
		o->z.next_out = o->zbuf;
		o->z.avail_out = sizeof o->zbuf;
		if (deflate(&o->z, flush) == Z_STREAM_ERROR)
			_exit(1);
		size_t have = sizeof o->zbuf - o->z.avail_out;
		if (have && sb_write_full(o->fd, o->zbuf, have) < 0)
			_exit(1);
	} while (o->z.avail_out == 0);
	o->n = 0;
}

static void out_put(struct tar_out *o, const void *p, size_t len)
{
	const unsigned char *s = p;

	while (len) {
		size_t k = sizeof o->buf - o->n < len ? sizeof o->buf - o->n : len;
		memcpy(o->buf + o->n, s, k);
		o->n += k;
		s += k;
		len -= k;
		if (o->n == sizeof o->buf)
			out_flush(o, Z_NO_FLUSH);
	}
}

static void out_zeros(struct tar_out *o, size_t len)
{
	static const unsigned char zero[BLOCK];

	while (len) {
		size_t k = len < sizeof zero ? len : sizeof zero;
		out_put(o, zero, k);
		len -= k;
	}
}

static void octal(char *field, size_t width, uint64_t v)
{
	snprintf(field, width, "%0*llo", (int)width - 1, (unsigned long long)v);
}

/* "LEN key=value\n", LEN counting itself */
static void pax_record(struct sb_strbuf *b, const char *key, const char *val)
{
	size_t body = strlen(key) + strlen(val) + 3, n = body + 1;

	while (n != body + (size_t)snprintf(NULL, 0, "%zu", n))
		n = body + (size_t)snprintf(NULL, 0, "%zu", n);
	sb_strbuf_addf(b, "%zu %s=%s\n", n, key, val);
}

static void header(struct tar_out *o, const char *name, char type, const struct stat *st,
		   uint64_t size, const char *link)
{
	unsigned char h[BLOCK] = { 0 };
	unsigned sum = 0;

	/* the short name is a hint for old readers; a pax record has the real one */
	snprintf((char *)h, 100, "%s", name);
	octal((char *)h + 100, 8, st->st_mode & 07777);
	octal((char *)h + 108, 8, st->st_uid & 07777777);
	octal((char *)h + 116, 8, st->st_gid & 07777777);
	octal((char *)h + 124, 12, size);
	octal((char *)h + 136, 12, st->st_mtim.tv_sec > 0 ? (uint64_t)st->st_mtim.tv_sec & 077777777777ULL : 0);
	memset(h + 148, ' ', 8);
	h[156] = (unsigned char)type;
	if (link)
		snprintf((char *)h + 157, 100, "%s", link);
	memcpy(h + 257, "ustar\0" "00", 8);
	for (int i = 0; i < BLOCK; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	out_put(o, h, sizeof h);
}

/* A member: a pax header first when a name, a link or the size does not
 * fit the ustar fields. */
static void member(struct tar_out *o, const char *name, char type, const struct stat *st,
		   uint64_t size, const char *link)
{
	if (strlen(name) >= 100 || (link && strlen(link) >= 100) || size > 077777777777ULL) {
		struct sb_strbuf b = SB_STRBUF_INIT;
		char num[24];
		struct stat px = *st;

		if (strlen(name) >= 100)
			pax_record(&b, "path", name);
		if (link && strlen(link) >= 100)
			pax_record(&b, "linkpath", link);
		if (size > 077777777777ULL) {
			snprintf(num, sizeof num, "%llu", (unsigned long long)size);
			pax_record(&b, "size", num);
		}
		if (!b.buf)
			_exit(1);
		px.st_mode = 0644;
		header(o, "././@PaxHeader", 'x', &px, b.len, NULL);
		out_put(o, b.buf, b.len);
		out_zeros(o, (BLOCK - b.len % BLOCK) % BLOCK);
		sb_strbuf_release(&b);
		size = size > 077777777777ULL ? 0 : size;
	}
	header(o, name, type, st, size, link);
}

static struct {
	struct tar_out *o;
	size_t rootlen;
	uint64_t bytes, max;	/* file content streamed so far, its cap */
} walk;

/* A file that shrinks while it is read is padded with zeros, as GNU tar
 * does: the header's size is already out. */
static void file_data(struct tar_out *o, int fd, uint64_t size)
{
	unsigned char buf[IOBUF];
	uint64_t left = size;

	while (left) {
		ssize_t n = read(fd, buf, left < sizeof buf ? left : sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		out_put(o, buf, (size_t)n);
		left -= (uint64_t)n;
	}
	out_zeros(o, left);
	out_zeros(o, (BLOCK - size % BLOCK) % BLOCK);
}

static int visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	char name[PATH_MAX + 2], link[PATH_MAX];
	struct tar_out *o = walk.o;
	ssize_t n;

	(void)flag;
	if (ftw->level == 0)
		return 0;
	/* relative to the archived directory: never absolute, never .. */
	snprintf(name, sizeof name, "%s", path + walk.rootlen + 1);
	if (S_ISDIR(st->st_mode)) {
		strcat(name, "/");
		member(o, name, '5', st, 0, NULL);
		/* an archive of / holds the sandbox's files, not the kernel's */
		if (!strcmp(path, "/proc") || !strcmp(path, "/sys") || !strcmp(path, "/dev"))
			return FTW_SKIP_SUBTREE;
	} else if (S_ISLNK(st->st_mode)) {
		n = readlink(path, link, sizeof link - 1);
		if (n < 0)
			return 0;	/* gone meanwhile */
		link[n] = '\0';
		member(o, name, '2', st, 0, link);
	} else if (S_ISREG(st->st_mode)) {
		/* the file we stat'ed, not what replaced it since */
		cleanup_close int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		struct stat now;
		if (fd < 0 || fstat(fd, &now) < 0 || now.st_ino != st->st_ino || !S_ISREG(now.st_mode))
			return 0;
		/* a file grown since the measure: the stream ends short (no
		 * end blocks, a bad gzip check), as any failure midway */
		if ((uint64_t)now.st_size > walk.max - walk.bytes)
			_exit(1);
		walk.bytes += (uint64_t)now.st_size;
		member(o, name, '0', &now, (uint64_t)now.st_size, NULL);
		file_data(o, fd, (uint64_t)now.st_size);
	}
	/* FIFOs, sockets, devices: no data a tarball could carry usefully */
	return 0;
}

/* The measure before any byte: the apparent size of the files the walk
 * will stream (a sparse file counts its whole size, that is what a tar
 * carries).  Stops at the first byte over the cap. */
static int measure(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)flag;
	if (ftw->level && S_ISDIR(st->st_mode) &&
	    (!strcmp(path, "/proc") || !strcmp(path, "/sys") || !strcmp(path, "/dev")))
		return FTW_SKIP_SUBTREE;
	if (S_ISREG(st->st_mode)) {
		if ((uint64_t)st->st_size > walk.max - walk.bytes)
			return FTW_STOP;
		walk.bytes += (uint64_t)st->st_size;
	}
	return FTW_CONTINUE;
}

static void archive_out(int sock, int datafd, const struct sb_file_req *rq, const char *path)
{
	static struct tar_out o;
	struct stat st;
	char root[PATH_MAX];

	if (stat(path, &st) < 0)
		refuse(sock, errno, "%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		refuse(sock, EINVAL, "%s: not a directory", path);
	/* the directory a link given as path names (nftw would archive the
	 * link, FTW_PHYS), resolved inside the sandbox like any of its paths;
	 * nftw hands out root + "/" + name, and "/" is the one root ending in / */
	if (!realpath(path, root))
		refuse(sock, errno, "%s: %s", path, strerror(errno));
	/* more file content than --max-file-mb is a 413 before the first
	 * byte; the walk that streams caps it again (a file may grow) */
	walk.max = rq->max_bytes;
	walk.bytes = 0;
	if (nftw(root, measure, 64, FTW_PHYS | FTW_ACTIONRETVAL) == FTW_STOP)
		refuse(sock, EFBIG, "%s: the archive would hold more than %llu bytes of files", path,
		       (unsigned long long)walk.max);
	walk.bytes = 0;
	o.fd = datafd;
	o.gz = rq->flags & SB_FILE_GZIP;
	if (o.gz && deflateInit2(&o.z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		refuse(sock, ENOMEM, "deflateInit");
	send_done(sock, 0, 0);
	walk.o = &o;
	walk.rootlen = strcmp(root, "/") ? strlen(root) : 0;
	/* FTW_PHYS: links are archived, never followed (no FTW_MOUNT: on
	 * overlayfs a file's st_dev is its layer's, not the directory's) */
	if (nftw(root, visit, 64, FTW_PHYS | FTW_ACTIONRETVAL) < 0)
		_exit(1);
	out_zeros(&o, 2 * BLOCK);
	out_flush(&o, o.gz ? Z_FINISH : Z_NO_FLUSH);
	if (o.gz)
		deflateEnd(&o.z);
}

/* === in ================================================================= */

struct tar_in {
	int fd, sock;
	bool gz, eof;
	z_stream z;
	unsigned char raw[IOBUF];
	size_t rn, roff;		/* plain: bytes in raw, next one */
	uint64_t total;			/* bytes of the upload read */
};

static ssize_t raw_read(struct tar_in *in, void *buf, size_t len)
{
	for (;;) {
		ssize_t n = read(in->fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0)
			in->total += (uint64_t)n;
		return n;
	}
}

/* Up to len bytes of the archive's tar stream; 0 at its end. */
static size_t in_some(struct tar_in *in, unsigned char *buf, size_t len)
{
	if (!in->gz) {
		if (in->roff == in->rn) {
			ssize_t n = raw_read(in, in->raw, sizeof in->raw);
			if (n < 0)
				refuse(in->sock, EIO, "reading the upload: %s", strerror(errno));
			in->rn = (size_t)n;
			in->roff = 0;
			if (!n)
				return 0;
		}
		size_t k = in->rn - in->roff < len ? in->rn - in->roff : len;
		memcpy(buf, in->raw + in->roff, k);
		in->roff += k;
		return k;
	}
	in->z.next_out = buf;
	in->z.avail_out = (uInt)len;
	while (in->z.avail_out == len && !in->eof) {
		if (!in->z.avail_in) {
			ssize_t n = raw_read(in, in->raw, sizeof in->raw);
			if (n < 0)
				refuse(in->sock, EIO, "reading the upload: %s", strerror(errno));
			if (!n)
				refuse(in->sock, EINVAL, "the gzip stream is cut short");
			in->z.next_in = in->raw;
			in->z.avail_in = (uInt)n;
		}
		int r = inflate(&in->z, Z_NO_FLUSH);
		if (r == Z_STREAM_END)
			in->eof = true;
		else if (r != Z_OK && r != Z_BUF_ERROR)
			refuse(in->sock, EINVAL, "not a valid gzip stream (%s)",
			       in->z.msg ? in->z.msg : "inflate");
	}
	return len - in->z.avail_out;
}

static void in_full(struct tar_in *in, void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len) {
		size_t n = in_some(in, p, len);
		if (!n)
			refuse(in->sock, EINVAL, "the archive is cut short");
		p += n;
		len -= n;
	}
}

static void in_skip(struct tar_in *in, uint64_t len)
{
	unsigned char buf[IOBUF];

	while (len) {
		size_t k = len < sizeof buf ? (size_t)len : sizeof buf;
		in_full(in, buf, k);
		len -= k;
	}
}

/* A numeric field: octal (space or NUL ended), or GNU base-256. */
static bool number(const unsigned char *f, size_t width, uint64_t *v)
{
	size_t i = 0;

	*v = 0;
	if (f[0] & 0x80) {
		if (f[0] != 0x80 || width < 9)
			return false;
		for (i = 1; i < width - 8; i++)
			if (f[i])
				return false;
		for (; i < width; i++)
			*v = *v << 8 | f[i];
		return true;
	}
	while (i < width && f[i] == ' ')
		i++;
	for (; i < width && f[i] >= '0' && f[i] <= '7'; i++) {
		if (*v >> 61)
			return false;
		*v = *v << 3 | (uint64_t)(f[i] - '0');
	}
	return i == width || f[i] == ' ' || f[i] == '\0';
}

static bool checksum_ok(const unsigned char *h)
{
	uint64_t want;
	unsigned sum = 0;

	if (!number(h + 148, 8, &want))
		return false;
	for (int i = 0; i < BLOCK; i++)
		sum += i >= 148 && i < 156 ? ' ' : h[i];
	return sum == want;
}

/* A member name made safe or refused: "./" and "." parts dropped, trailing
 * slashes too; absolute names and `..` parts refused.  In place; false:
 * refused; an empty result is the target directory itself ("./"). */
static bool clean_name(char *name)
{
	char out[PATH_MAX];
	size_t w = 0;

	if (name[0] == '/')
		return false;
	for (char *save, *part = strtok_r(name, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
		if (!strcmp(part, "."))
			continue;
		if (!strcmp(part, ".."))
			return false;
		size_t n = strlen(part);
		if (w + n + 2 > sizeof out)
			return false;
		if (w)
			out[w++] = '/';
		memcpy(out + w, part, n);
		w += n;
	}
	out[w] = '\0';
	strcpy(name, out);
	return true;
}

struct extract {
	struct tar_in in;
	int root, sock;
	uint64_t bytes, max;
	uint32_t entries;
	char pax_path[PATH_MAX], pax_link[PATH_MAX], long_name[PATH_MAX], long_link[PATH_MAX];
	uint64_t pax_size;
	bool has_pax_size;
};

/* The directory that holds name, opened one part at a time from the
 * target, each O_NOFOLLOW: a symlink on the way (the archive's or the
 * sandbox's) is refused, never followed.  Missing parts are made when
 * mk.  *base points at the last part. */
static int parent_of(struct extract *x, char *name, const char *member_name, bool mk, char **base)
{
	int dir = fcntl(x->root, F_DUPFD_CLOEXEC, 0);
	char *part = name, *slash;

	if (dir < 0)
		refuse(x->sock, errno, "%s: %s", member_name, strerror(errno));

	while ((slash = strchr(part, '/'))) {
		*slash = '\0';
		if (mk && mkdirat(dir, part, 0755) < 0 && errno != EEXIST)
			refuse(x->sock, errno, "%s: mkdir: %s", member_name, strerror(errno));
		int next = openat(dir, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && (errno == ELOOP || errno == ENOTDIR))
			refuse(x->sock, EINVAL, "%s: refused: a part of its path is a symlink or not a directory "
			       "(nothing is written through a link)", member_name);
		if (next < 0)
			refuse(x->sock, errno, "%s: %s", member_name, strerror(errno));
		close(dir);
		dir = next;
		*slash = '/';
		part = slash + 1;
	}
	*base = part;
	return dir;
}

/* Make room for a new entry named base: a file, link or empty directory
 * there goes (a symlink is removed, never followed), a directory with
 * contents stays and is refused. */
static void make_room(struct extract *x, int dir, const char *base, const char *member_name)
{
	struct stat st;

	if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (unlinkat(dir, base, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
		refuse(x->sock, errno == ENOTEMPTY ? EEXIST : errno, "%s: cannot replace what is there: %s",
		       member_name, strerror(errno));
}

static void extract_file(struct extract *x, int dir, const char *base, const char *name,
			 uint64_t size, mode_t mode, uint64_t mtime)
{
	unsigned char buf[IOBUF];
	cleanup_close int fd = -1;
	uint64_t left = size;
	struct stat st;
	bool named = false;
	char tmp[64];

	if (size > x->max || x->bytes + size > x->max)
		refuse(x->sock, EFBIG, "%s: the archive holds more than %llu bytes", name,
		       (unsigned long long)x->max);
	/* a directory there goes first (refused if not empty); a file or a
	 * link there is replaced by the rename at the member's last byte, so
	 * a full disk or an upload cut inside the member leaves it as it was
	 * (refuse() removes the temporary) */
	if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
		make_room(x, dir, base, name);
	/* unnamed (O_TMPFILE) until its last byte, as a file write's: a
	 * child killed inside the member (its worker gone) leaves nothing;
	 * a file system without it gets the name from the start */
	snprintf(tmp, sizeof tmp, ".sandboxd-extract-%d-%u", (int)getpid(), x->entries);
	fd = openat(dir, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		named = true;
	}
	if (fd < 0)
		refuse(x->sock, errno, "%s: create: %s", name, strerror(errno));
	if (named) {
		writing.dir = dir;
		writing.base = tmp;
	}
	while (left) {
		size_t k = left < sizeof buf ? (size_t)left : sizeof buf;
		in_full(&x->in, buf, k);
		if (sb_write_full(fd, buf, k) < 0) {
			int e = errno;
			refuse(x->sock, e, "%s: write: %s", name, strerror(e));
		}
		left -= k;
	}
	x->bytes += size;
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_sec = (time_t)mtime } };
	if (fchmod(fd, mode) < 0)
		refuse(x->sock, errno, "%s: chmod: %s", name, strerror(errno));
	futimens(fd, ts);
	if (!named) {
		char self[64];

		/* a name for the unnamed file: rename(2) has no "from a
		 * descriptor" */
		snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
		if (linkat(AT_FDCWD, self, dir, tmp, AT_SYMLINK_FOLLOW) < 0)
			refuse(x->sock, errno, "%s: finish: %s", name, strerror(errno));
		writing.dir = dir;
		writing.base = tmp;
	}
	if (renameat(dir, tmp, dir, base) < 0) {
		int e = errno;
		refuse(x->sock, e == ENOTEMPTY || e == EISDIR ? EEXIST : e,
		       "%s: cannot replace what is there: %s", name, strerror(e));
	}
	writing.base = NULL;
}

static void extract_link(struct extract *x, int dir, const char *base, const char *name, char *target)
{
	char *tbase, tmp[64];
	struct stat ts, cur;
	int tdir;

	/* a hard link's target is a member name: the same rules */
	if (!clean_name(target) || !*target)
		refuse(x->sock, EINVAL, "%s: refused: a hard link to an absolute path or out with ..", name);
	tdir = parent_of(x, target, name, false, &tbase);
	if (fstatat(tdir, tbase, &ts, AT_SYMLINK_NOFOLLOW) < 0) {
		int e = errno;
		close(tdir);
		refuse(x->sock, e == ENOENT ? EINVAL : e, "%s: hard link to %s: %s", name, target, strerror(e));
	}
	if (S_ISDIR(ts.st_mode)) {
		close(tdir);
		refuse(x->sock, EINVAL, "%s: refused: a hard link to a directory", name);
	}
	/* a link to what is there already is that link (freeing its name
	 * first would remove the target itself) */
	if (fstatat(dir, base, &cur, AT_SYMLINK_NOFOLLOW) == 0 && cur.st_dev == ts.st_dev &&
	    cur.st_ino == ts.st_ino) {
		close(tdir);
		return;
	}
	/* made under a name of its own first, then renamed over the
	 * member's: a link that cannot be made removes nothing.  No
	 * AT_SYMLINK_FOLLOW: a link to a symlink links the symlink. */
	snprintf(tmp, sizeof tmp, ".sandboxd-link-%d-%u", (int)getpid(), x->entries);
	if (linkat(tdir, tbase, dir, tmp, 0) < 0) {
		int e = errno;
		close(tdir);
		refuse(x->sock, e == ENOENT ? EINVAL : e, "%s: hard link to %s: %s", name, target, strerror(e));
	}
	close(tdir);
	/* a directory there (empty: else refused) is not replaced by rename */
	if (fstatat(dir, base, &cur, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(cur.st_mode) &&
	    unlinkat(dir, base, AT_REMOVEDIR) < 0) {
		int e = errno;
		unlinkat(dir, tmp, 0);
		refuse(x->sock, e == ENOTEMPTY ? EEXIST : e, "%s: cannot replace what is there: %s", name,
		       strerror(e));
	}
	if (renameat(dir, tmp, dir, base) < 0) {
		int e = errno;
		unlinkat(dir, tmp, 0);
		refuse(x->sock, e, "%s: hard link to %s: %s", name, target, strerror(e));
	}
	/* rename of two links of one inode does nothing: tmp may be left */
	unlinkat(dir, tmp, 0);
}

/* Every member's data counts against the cap, the data of a directory,
 * a link or an extension header too (it is inflated all the same): a
 * bomb made of skipped data stops there as one made of files. */
static void count(struct extract *x, uint64_t size, const char *name)
{
	if (size > x->max - x->bytes)
		refuse(x->sock, EFBIG, "%.200s: the archive holds more than %llu bytes", name,
		       (unsigned long long)x->max);
	x->bytes += size;
}

/* A pax size: decimal digits only, no sign, no overflow. */
static bool pax_number(const char *s, uint64_t *v)
{
	*v = 0;
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || *v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		*v = *v * 10 + (uint64_t)(*s - '0');
	}
	return true;
}

/* One member whose header is h; false at the archive's end. */
static bool extract_one(struct extract *x, const unsigned char *h)
{
	char name[PATH_MAX + 256], link[PATH_MAX], shown[PATH_MAX + 256], *base;
	uint64_t size, mode, mtime;
	char type = (char)h[156];
	int dir;

	if (!checksum_ok(h) || memcmp(h + 257, "ustar", 5) || !number(h + 124, 12, &size) ||
	    !number(h + 100, 8, &mode) || !number(h + 136, 12, &mtime))
		refuse(x->sock, EINVAL, "not a tar archive (a bad header after %u members)", x->entries);
	/* extension headers: their data is for the next member */
	if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
		char *dst = type == 'L' ? x->long_name : type == 'K' ? x->long_link : NULL;
		if (size > 1 << 20)
			refuse(x->sock, EINVAL, "an extended header of %llu bytes", (unsigned long long)size);
		count(x, size, "an extended header");
		char *data = malloc(size + 1);
		if (!data)
			refuse(x->sock, ENOMEM, "out of memory");
		in_full(&x->in, data, size);
		in_skip(&x->in, (BLOCK - size % BLOCK) % BLOCK);
		data[size] = '\0';
		if (dst) {
			/* cut, it would name another file: refused as a long pax path */
			if (strlen(data) >= PATH_MAX)
				refuse(x->sock, EINVAL, "a GNU long %s of %zu bytes: too long",
				       type == 'L' ? "name" : "link", strlen(data));
			snprintf(dst, PATH_MAX, "%s", data);
		} else if (type == 'x') {
			/* "LEN key=value\n" records */
			for (size_t off = 0; off < size;) {
				char *end, *eq;
				unsigned long n = strtoul(data + off, &end, 10);
				if (!n || n > size - off || *end != ' ' || data[off + n - 1] != '\n')
					refuse(x->sock, EINVAL, "a malformed pax header");
				data[off + n - 1] = '\0';
				eq = strchr(end + 1, '=');
				if (eq) {
					*eq = '\0';
					size_t vlen = off + n - 1 - (size_t)(eq + 1 - data);
					if (strlen(eq + 1) != vlen || vlen >= PATH_MAX)
						refuse(x->sock, EINVAL, "a pax %s with a NUL or too long", end + 1);
					if (!strcmp(end + 1, "path"))
						strcpy(x->pax_path, eq + 1);
					else if (!strcmp(end + 1, "linkpath"))
						strcpy(x->pax_link, eq + 1);
					else if (!strcmp(end + 1, "size")) {
						if (!pax_number(eq + 1, &x->pax_size))
							refuse(x->sock, EINVAL, "a pax size that is not a decimal "
							       "number of bytes: '%.40s'", eq + 1);
						x->has_pax_size = true;
					}
				}
				off += n;
			}
		}
		free(data);
		return true;
	}
	if (x->has_pax_size)
		size = x->pax_size;
	if (x->pax_path[0])
		snprintf(name, sizeof name, "%s", x->pax_path);
	else if (x->long_name[0])
		snprintf(name, sizeof name, "%s", x->long_name);
	else if (!memcmp(h + 257, "ustar\0", 6) && h[345])
		snprintf(name, sizeof name, "%.155s/%.100s", (const char *)h + 345, (const char *)h);
	else
		snprintf(name, sizeof name, "%.100s", (const char *)h);
	if (x->pax_link[0] || x->long_link[0])
		snprintf(link, sizeof link, "%s", x->pax_link[0] ? x->pax_link : x->long_link);
	else
		snprintf(link, sizeof link, "%.100s", (const char *)h + 157);
	x->pax_path[0] = x->pax_link[0] = x->long_name[0] = x->long_link[0] = '\0';
	x->has_pax_size = false;
	snprintf(shown, sizeof shown, "member '%.300s'", name);
	if (strlen(name) >= PATH_MAX)
		refuse(x->sock, EINVAL, "%.200s: name too long", shown);
	if (!clean_name(name))
		refuse(x->sock, EINVAL, "%.200s: refused: an absolute name or one with .. "
		       "(members stay under the target directory)", shown);
	if (!*name) {
		/* "./": the target directory, there already */
		if (type != '5')
			refuse(x->sock, EINVAL, "%.200s: refused: not a directory", shown);
		count(x, size, shown);
		in_skip(&x->in, size + (BLOCK - size % BLOCK) % BLOCK);
		return true;
	}
	if (type == '3' || type == '4' || type == '6')
		refuse(x->sock, EINVAL, "%.200s: refused: device nodes and FIFOs are not extracted", shown);
	if (type != '0' && type != '\0' && type != '7' && type != '1' && type != '2' && type != '5')
		refuse(x->sock, EINVAL, "%.200s: refused: member type '%c' is not supported", shown,
		       type > ' ' && type < 127 ? type : '?');
	dir = parent_of(x, name, shown, true, &base);
	/* setuid and setgid bits are dropped: a sandbox's files are its own */
	mode &= 01777;
	switch (type) {
	case '5':
		if (mkdirat(dir, base, 0755) < 0 && errno != EEXIST)
			refuse(x->sock, errno, "%.200s: mkdir: %s", shown, strerror(errno));
		{
			int d = openat(dir, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (d < 0)
				refuse(x->sock, errno == ELOOP || errno == ENOTDIR ? EINVAL : errno,
				       "%.200s: not a directory: %s", shown, strerror(errno));
			/* owner bits kept usable: later members go inside */
			fchmod(d, (mode_t)mode | 0700);
			close(d);
		}
		break;
	case '2':
		if (!link[0])
			refuse(x->sock, EINVAL, "%.200s: a symlink without a target", shown);
		make_room(x, dir, base, shown);
		if (symlinkat(link, dir, base) < 0)
			refuse(x->sock, errno, "%.200s: symlink: %s", shown, strerror(errno));
		break;
	case '1':
		extract_link(x, dir, base, shown, link);
		break;
	default:
		extract_file(x, dir, base, shown, size, (mode_t)mode, mtime);
		in_skip(&x->in, (BLOCK - size % BLOCK) % BLOCK);
		size = 0;
	}
	close(dir);
	/* a link or directory with a size: its data is skipped, counted */
	if (size) {
		count(x, size, shown);
		in_skip(&x->in, size + (BLOCK - size % BLOCK) % BLOCK);
	}
	x->entries++;
	return true;
}

static void archive_in(int sock, int datafd, const struct sb_file_req *rq, const char *path)
{
	static struct extract x;
	unsigned char h[BLOCK];
	size_t got = 0;

	x.sock = x.in.sock = sock;
	x.in.fd = datafd;
	x.max = rq->max_bytes;
	if (sb_mkdir_p(path, 0755) < 0)
		refuse(sock, errno, "%s: mkdir: %s", path, strerror(errno));
	x.root = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (x.root < 0)
		refuse(sock, errno, "%s: %s", path, strerror(errno));
	/* gzip or not, by its first bytes */
	while (got < 2) {
		ssize_t n = raw_read(&x.in, x.in.raw + got, sizeof x.in.raw - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got >= 2 && x.in.raw[0] == 0x1f && x.in.raw[1] == 0x8b) {
		x.in.gz = true;
		if (inflateInit2(&x.in.z, 15 + 16) != Z_OK)
			refuse(sock, ENOMEM, "inflateInit");
		x.in.z.next_in = x.in.raw;
		x.in.z.avail_in = (uInt)got;
	} else {
		x.in.rn = got;
	}
	for (;;) {
		size_t n = in_some(&x.in, h, sizeof h);
		if (n && n < sizeof h)
			in_full(&x.in, h + n, sizeof h - n);
		if (!n) {
			if (!x.entries)
				refuse(sock, EINVAL, "an empty upload is not a tar archive");
			break;	/* no end blocks: GNU tar takes that too */
		}
		static const unsigned char zero[BLOCK];
		if (!memcmp(h, zero, BLOCK))
			break;	/* the end (a second zero block and padding follow) */
		extract_one(&x, h);
	}
	/* the rest of the upload (end blocks, record padding) is read away:
	 * the worker feeding it is not cut off */
	while (raw_read(&x.in, x.in.raw, sizeof x.in.raw) > 0)
		;
	/* an upload that ended before its length (its client gone) may end
	 * at a member's boundary, or where end blocks are not needed: never
	 * the whole archive, and said so (what came before stays extracted,
	 * as before a refused member) */
	if ((rq->flags & SB_FILE_EXACT) && x.in.total != rq->offset)
		refuse(sock, EINVAL, "the upload ended before its announced length (%llu of %llu bytes), "
		       "after %u members", (unsigned long long)x.in.total, (unsigned long long)rq->offset,
		       x.entries);
	if (syncfs(x.root) < 0)
		refuse(sock, errno, "sync: %s", strerror(errno));
	send_done(sock, x.bytes, x.entries);
}

void sb_archive_child(int sock, int datafd, const struct sb_file_req *rq, const char *path)
{
	if (rq->op == SB_FILE_ARCHIVE_OUT)
		archive_out(sock, datafd, rq, path);
	else
		archive_in(sock, datafd, rq, path);
	_exit(0);
}
