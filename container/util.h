/* Small helpers shared by the sandbox library and the FastCGI program:
 * the error object every fallible function fills, cleanup attributes,
 * EINTR-safe I/O. */
#ifndef SB_UTIL_H
#define SB_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

/* What went wrong, as a caller can act on it.  The library says which kind
 * a failure is; only fcgi-app/ (api_status()) turns a kind into an HTTP
 * status. */
enum sb_err_kind {
	SB_E_INTERNAL = 0,	/* our fault, or the system's: a bug to look into */
	SB_E_INVALID,		/* the request is wrong as asked */
	SB_E_FORBIDDEN,		/* not allowed (a read-only path, a policy) */
	SB_E_NOT_FOUND,		/* what the request names does not exist */
	SB_E_CONFLICT,		/* the state of things refuses it now; retry or change it */
	SB_E_TOO_LARGE,		/* over a size limit */
	SB_E_LIMIT,		/* over a count limit (too many of something) */
	SB_E_UPSTREAM,		/* a remote side we talked to for the client failed */
	SB_E_BUSY,		/* unavailable for now (capacity, starting, stopping) */
	SB_E_TIMEOUT,		/* a sandbox (or its init) did not answer in time */
	SB_E_NO_SPACE,		/* no room: the host's or a sandbox's disk */
};

/* A fallible function returns a negative int and fills one of these; the
 * caller may add context with sb_err_prefix(). */
struct sb_err {
	int errnum;
	enum sb_err_kind kind;
	char msg[512];
};

#define SB_ERR_INIT { 0, SB_E_INTERNAL, { 0 } }

int sb_fail(struct sb_err *err, enum sb_err_kind kind, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The kind of a system error: SB_E_NO_SPACE for ENOSPC and EDQUOT, else
 * SB_E_INTERNAL.  sb_fail() with SB_E_INTERNAL and sb_syserr() use it. */
enum sb_err_kind sb_errno_kind(int errnum);

/* Fault injection for tests: a no-op unless built with
 * --enable-fault-injection (see disk.c). */
#ifdef SB_FAULT_INJECTION
void sb_fault(const char *point);
/* true (once) if DIR/point exists: a condition a test cannot make happen
 * at will (a freeze that does not complete) */
bool sb_fault_hit(const char *point);
/* true while DIR/point exists (a mode a test turns on and off) */
bool sb_fault_on(const char *point);
/* If DIR/point exists, the process that reaches point renames it to
 * DIR/point.paused and waits (at most 30 s) until the test removes that:
 * a race between two steps, made to happen in one order */
void sb_fault_pause(const char *point);
#else
static inline void sb_fault(const char *point) { (void)point; }
static inline bool sb_fault_hit(const char *point) { (void)point; return false; }
static inline bool sb_fault_on(const char *point) { (void)point; return false; }
static inline void sb_fault_pause(const char *point) { (void)point; }
#endif
/* What a client is told when a sandbox's disk failed under a write (EIO, or
 * EROFS once ext4 gave up): its host ran out of blocks under a sparse
 * image.  Not our bug: SB_E_NO_SPACE, and the next start runs e2fsck. */
#define SB_DISK_FAILED "the sandbox's disk failed (its host ran out of space under it); it is " \
	"repaired (e2fsck) when the sandbox next starts"
/* like sb_fail() with errno as errnum and SB_E_INTERNAL (no room: SB_E_NO_SPACE) */
int sb_syserr(struct sb_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sb_err_prefix(struct sb_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sb_err_clear(struct sb_err *err);

static inline void sb_freep(void *p) { free(*(void **)p); }
static inline void sb_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
#define cleanup_free __attribute__((cleanup(sb_freep)))
#define cleanup_close __attribute__((cleanup(sb_closep)))

static inline void *sb_steal(void *pp)
{
	void **p = pp, *v = *p;
	*p = NULL;
	return v;
}
#define steal_pointer(pp) sb_steal(pp)
static inline int steal_fd(int *fd)
{
	int v = *fd;
	*fd = -1;
	return v;
}

ssize_t sb_read_full(int fd, void *buf, size_t len);
/* One read or a full write on a non-blocking fd, waiting at most idle_ms
 * for it to become ready: -1 with ETIMEDOUT when the other side stalls (a
 * sandbox can stop a process it shares a uid with). */
ssize_t sb_read_wait(int fd, void *buf, size_t len, int idle_ms);
ssize_t sb_write_wait(int fd, const void *buf, size_t len, int idle_ms);
ssize_t sb_write_full(int fd, const void *buf, size_t len);
/* Read a small file (at most cap-1 bytes) relative to dirfd, NUL-terminated. */
ssize_t sb_read_file_at(int dirfd, const char *path, char *buf, size_t cap);
/* Write a string to an existing file relative to dirfd (cgroup and proc knobs). */
int sb_write_file_at(int dirfd, const char *path, const char *s);
/* The same with extra open flags (O_CREAT | O_TRUNC makes the file, 0644). */
int sb_write_file_atf(int dirfd, const char *path, const char *s, int flags);
int64_t sb_now_ms(void);
int64_t sb_mono_ms(void);
/* Close every fd >= lowfd except those listed. */
void sb_close_fds_from(int lowfd);
int sb_pidfd_open(pid_t pid);
int sb_pidfd_send_signal(int pidfd, int sig);
/* What is read of a process's /proc/PID/stat, by the one parser. */
struct sb_proc_stat {
	char state;			/* R, S, D, ...; Z and X: it has exited */
	unsigned long long start;	/* field 22: start time, ticks after boot */
};
/* Parse a /proc/PID/stat line; -1 when it is not one (cut short). */
int sb_proc_stat_parse(const char *line, struct sb_proc_stat *st);
/* Read (once) and parse /proc/PID/stat; -1 when pid is gone. */
int sb_proc_stat(pid_t pid, struct sb_proc_stat *st);
/* Whether it still runs: not a zombie (Z) nor dead (X). */
static inline bool sb_proc_running(const struct sb_proc_stat *st)
{
	return st->state != 'Z' && st->state != 'X';
}
/* Start time of a process, 0 when gone. */
unsigned long long sb_proc_starttime(pid_t pid);
/* Its start time if pid runs (not a zombie), else 0: one read of its stat,
 * so both come from the same process. */
unsigned long long sb_proc_live_start(pid_t pid);
/* Format an epoch-ms timestamp as ISO 8601 UTC into buf (at least 32 bytes). */
void sb_iso8601(int64_t ms, char *buf, size_t len);

/* Remember where argv and the environment strings live, and move the
 * environment to the heap (call from main, before anything keeps argv
 * pointers that must outlive a title). */
void sb_proctitle_init(int argc, char **argv);
/* Replace the whole argv+environment area of this process with title, so
 * /proc/PID/cmdline shows it: the sandbox init is a fork of a worker, and
 * must show nothing of the host (data paths, options); argv strings are
 * gone afterwards. */
void sb_proctitle_set(const char *title);

/* Whether name may become one path component or cgroup below a directory
 * of ours: non-empty, at most SB_NAME_MAX bytes, neither "." nor "..", no
 * '/' and no control character.  Every function that turns an id or a name
 * into a path, a cgroup or a store key checks it first, whatever its caller
 * checked: a ".." that slipped past the router must not reach the host
 * (a kill of cgroup ".." signals every process of the machine). */
#define SB_NAME_MAX 255
bool sb_name_safe(const char *name);
/* The same for a relative path: one or more safe names joined by '/'. */
bool sb_relpath_safe(const char *rel);

/* mkdir -p (relative to the cwd and root of the caller). */
int sb_mkdir_p(const char *path, mode_t mode);

/* Standard base64 (RFC 4648) with padding.  encode writes 4*ceil(n/3)
 * bytes and a NUL; decode accepts whitespace, returns the length or -1. */
void sb_base64_encode(const char *in, size_t n, char *out);
ssize_t sb_base64_decode(const char *in, size_t n, char *out);

/* A growable string: buf is NUL-terminated when not NULL; len excludes it. */
struct sb_strbuf {
	char *buf;
	size_t len, cap;
};
#define SB_STRBUF_INIT { NULL, 0, 0 }
void sb_strbuf_addf(struct sb_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_strbuf_release(struct sb_strbuf *b);

#endif
