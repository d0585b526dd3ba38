/* File operations, done inside the sandbox.
 *
 * The host never resolves a sandbox path: the init forks a child that is
 * already chrooted in the sandbox, as its root, locked down like any
 * sandbox process, and that child opens, lists, writes, renames.  A symlink
 * planted by the sandbox resolves inside the sandbox's root, where it can
 * lead nowhere else (Judge0 CVE-2024-28185/28189, docker cp CVE-2018-15664
 * are host-side resolutions; there is none here).  Contents cross through a
 * pipe, so neither side holds a whole file in memory.  What the child says
 * is untrusted by the worker: sizes are bounded, JSON is parsed with caps.
 *
 *   worker                             init -> child
 *   FILE {op, flags, mode, max, paths} +[pipe end]  ->
 *                                      <- FILE_INFO {type, size, mode, ...} or ERROR
 *   (READ, LIST: bytes through the pipe;  WRITE: bytes into the pipe)
 *                                      <- EXITED {status}
 */
#ifndef SB_FILEOPS_H
#define SB_FILEOPS_H

#include <stdint.h>

enum sb_file_op {
	SB_FILE_READ = 1,	/* pipe: child writes the bytes */
	SB_FILE_WRITE,		/* pipe: child reads the bytes, atomic replace */
	SB_FILE_LIST,		/* pipe: child writes a JSON array of entries */
	SB_FILE_DELETE,
	SB_FILE_MKDIR,
	SB_FILE_RENAME,
	SB_FILE_CLONE,		/* path: directory; path2: "url\nbranch\ntmpdir"; fd:
				 * broker socket (clone.c); max_bytes: fetch cap */
	SB_FILE_ARCHIVE_OUT,	/* path: directory; pipe: child writes a tar (archive.c) */
	SB_FILE_ARCHIVE_IN,	/* path: directory; pipe: child reads a tar or tar.gz;
				 * max_bytes: most bytes extracted in all */
};

enum {
	SB_FILE_RECURSIVE = 1,	/* MKDIR -p, DELETE -r, LIST -R */
	SB_FILE_HIDDEN = 2,	/* LIST: dot files too */
	SB_FILE_MKPARENTS = 4,	/* WRITE: create parent directories */
	SB_FILE_MODE = 8,	/* WRITE: `mode` is set */
	SB_FILE_RANGE = 16,	/* READ: at most max_bytes from offset (no EFBIG) */
	SB_FILE_SUFFIX = 32,	/* READ with RANGE: offset counts from the end */
	SB_FILE_GZIP = 64,	/* ARCHIVE_OUT: gzipped */
	SB_FILE_EXACT = 128,	/* WRITE, ARCHIVE_IN: the upload is `offset` bytes; one
				 * that ends before (its client gone) is refused and
				 * changes nothing (the member it was cut in, for an
				 * archive), never taken as the whole */
};

/* A READ child's exit status when the file ended before the size it sent
 * (the sandbox truncated it while it was read): a conflict, not our failure. */
#define SB_FILE_EXIT_CHANGED 3


struct sb_file_req {
	uint32_t op, flags, mode;
	uint32_t path_len, path2_len;	/* with their NULs */
	uint64_t max_bytes;		/* READ/WRITE: size cap; LIST: entry cap */
	uint64_t offset;		/* READ: start there (logs read on); WRITE,
					 * ARCHIVE_IN with SB_FILE_EXACT: the upload's
					 * length (the struct crosses to inits of an
					 * older build as it is: no field added) */
};

enum { SB_FT_FILE = 1, SB_FT_DIR, SB_FT_SYMLINK, SB_FT_OTHER };

struct sb_file_info {
	uint32_t type, mode;		/* mode: permission bits */
	uint64_t size;
	int64_t mtime_ms;
	uint32_t uid, gid;
};

/* rm -rf of path, not following symlinks (inside the sandbox). */
int sb_remove_tree(const char *path);

/* ARCHIVE_OUT and ARCHIVE_IN, in the child (archive.c).  ARCHIVE_OUT
 * answers FILE_INFO before the tar; ARCHIVE_IN after the extraction, with
 * size: the bytes extracted, uid: the number of members. */
__attribute__((noreturn)) void sb_archive_child(int sock, int datafd, const struct sb_file_req *rq,
						const char *path);

/* In the init's child, inside the sandbox: do the request and exit. */
__attribute__((noreturn)) void sb_fileop_child(int sock, int datafd, const struct sb_file_req *rq,
					       const char *path, const char *path2);

#endif
