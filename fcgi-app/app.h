/* What a worker holds for its whole life, and the sandbox operations the
 * handlers build on: find or create a sandbox, make sure its init runs. */
#ifndef SBD_APP_H
#define SBD_APP_H

#include <stdbool.h>

#include "cgroup.h"
#include "conf.h"
#include "store.h"

struct app {
	const struct conf *conf;
	struct store store;
	struct sb_cgroups cg;
	int sandboxes_fd;	/* <data>/sandboxes */
	int spares_fd;		/* <data>/spares: disk images made ahead */
	char cgname[24];	/* this worker's exec cgroups: "e<serial>" */
	int capacity_lock;	/* held from the capacity check to the start */
	const char *rid;	/* the request being answered, for the log */
	const char *scope;	/* its tenant (http_req's scope); NULL: the service's own */
	unsigned serial;	/* the worker's, for its shared counters (0: not a worker) */
	unsigned quota_slot;	/* its pool slot + 1: unique among live workers (0: none) */
	/* The request has turned out long-lived (a buffered exec past
	 * EXEC_LONG_MS): its worker leaves the pool, if max-streams lets it,
	 * and exits after the request.  NULL: not a pool worker. */
	void (*leave_pool)(struct app *app);
};

int app_open(struct app *app, const struct conf *conf, struct sb_err *err);
/* The stores' map sizes and tenants, as conf says (store.h). */
void app_store_sizes(const struct conf *c, struct store_sizes *sz);
void app_close(struct app *app);
/* DATA/sandboxes/.create.lock, held (flock) while a sandbox is made or
 * destroyed: the fd, or -1 (err).  A process takes it once at a time. */
int app_create_lock(struct app *app, struct sb_err *err);
/* A directory `id` without a record (the caller holds the create lock and
 * found none): its processes killed and its cgroups removed, then it is
 * removed when empty, else set aside (.qID-ms), never adopted. */
void app_orphan_set_aside(struct app *app, const char *id);
/* Let go of the capacity lock (capacity_make_room() took it), if held. */
void app_capacity_release(struct app *app);

/* What a create asks for: an image ("" the default) and limits (0 each:
 * the default), not yet a record. */
struct sb_want {
	char image[64];
	struct sb_limits lim;
	bool set_expiry;	/* ttl or expiresAt given: expires_ms (0: never) */
	int64_t expires_ms;
	const struct sb_fork *fork;	/* non-NULL: a fork (api_snapshot.c) */
};

/* A fork: a new sandbox whose disk is a copy of another's (its current
 * files, or one of its snapshots), with that one's image and limits. */
struct sb_fork {
	const char *from;
	const char *snapshot;		/* NULL: its current files */
	struct sb_record rec;		/* from's */
};
/* The fork's disk copied into the new sandbox's directory (DATA/sandboxes/
 * ID, its record not yet written) as disk.img.fork, under its start lock:
 * the lock's fd, kept until snapshot_fork_finish().  On failure nothing of
 * it is left in the directory. */
int snapshot_fork_copy(struct app *app, const char *id, const struct sb_fork *f, struct sb_err *err);
/* Its files given to the new sandbox's ids (uid_base to), then the copy
 * made its disk.img. */
int snapshot_fork_finish(struct app *app, const char *id, const struct sb_fork *f, uid_t to,
			 struct sb_err *err);
/* What a worker killed mid-copy left in the sandbox directory sbfd (half
 * made snapshots, a fork's or a restore's copy), removed: called under its
 * start lock (a start, a snapshot, a fork from it), when no copy of it can
 * be under way.  orphan: a directory without a record, set aside; a fork
 * killed before its record leaves its copy and lock there. */
void snapshot_leftovers_clean(int sbfd, bool orphan);

/* A sandbox as a request sees it. */
struct sandbox_ref {
	const char *id;
	struct sb_record rec;
	int dirfd;		/* <data>/sandboxes/<id>, O_PATH */
	bool created;
	unsigned writer;	/* serial + 1 of the worker with bytes admitted to write */
};

void sandbox_ref_release(struct sandbox_ref *sb);
/* Find the sandbox; with create, make it when missing (with the image and
 * limits of `want`, if given).  Without create a missing sandbox is a 404 error. */
int app_sandbox_get(struct app *app, const char *id, bool create, const struct sb_want *want,
		    struct sandbox_ref *sb, struct sb_err *err);
/* The sandbox's effective limits (its own, or the server's defaults) as
 * its cgroups take them. */
void app_sandbox_limits(const struct app *app, const struct sb_record *r, struct cg_limits *lim);
/* Change the limits of an existing sandbox (record, and cgroups at once);
 * those fixed at creation stay. */
int app_sandbox_set_limits(struct app *app, struct sandbox_ref *sb, const struct sb_limits *want,
			   struct sb_err *err);
/* Record the init of every sandbox whose record names none that runs, but
 * whose init answers on its control socket (inits that ran on across a
 * change of the boot id): how many. */
int app_adopt_unrecorded(struct app *app);
/* Connect to the sandbox's init, starting it first when it is not running
 * (serialised per sandbox by a lock file, so concurrent requests start one). */
int app_sandbox_connect(struct app *app, struct sandbox_ref *sb, struct sb_err *err);
bool app_sandbox_running(const struct sandbox_ref *sb);
/* err of a request whose sandbox was destroyed under it (its init killed
 * mid-way): the 404 it is, not an internal error. */
void app_sandbox_destroyed(struct app *app, const struct sandbox_ref *sb, struct sb_err *err);
/* err from a request to the sandbox's init: when the init went away
 * because the sandbox was stopped under the request (a restore, a stop),
 * which its death within a second says, the 409 to retry it is, not a
 * 500. */
void app_sandbox_gone(const struct sandbox_ref *sb, struct sb_err *err);
/* The sandbox's start lock (DATA/sandboxes/ID/lock, flock), held: no init
 * starts while the caller changes its disk (a snapshot, a restore).  The
 * fd, or -1. */
int app_sandbox_lock(struct sandbox_ref *sb, struct sb_err *err);
/* app_sandbox_lock, then SB_E_NOT_FOUND if the sandbox was destroyed (or
 * made again) while we waited. */
int app_sandbox_lock_ours(struct app *app, struct sandbox_ref *sb, struct sb_err *err);
void app_sandbox_touch(struct app *app, struct sandbox_ref *sb);
/* 0 when the data dir's file system has `need` bytes free beyond
 * --disk-reserve-mb; else 507 (`what` needs them: "a create"). */
int app_host_room(const struct conf *c, long long need, const char *what, struct sb_err *err);
/* Admit an operation that may write into the sandbox's disk (a sparse
 * image takes host blocks as it fills): `need` bytes (0: metadata, or what
 * a command writes, unknown) must leave the reserve free beyond what the
 * other workers are writing; else 507 before anything is written.  Held
 * until sandbox_ref_release().  Always admitted with --disk-prealloc. */
int app_admit_write(struct app *app, struct sandbox_ref *sb, long long need, const char *what,
		    struct sb_err *err);
/* err from a write in the sandbox: EIO, or EROFS of a file system that
 * recorded an error, is its disk failed under a full host: made the 507
 * of SB_DISK_FAILED, and logged (sandbox.disk_failed). */
void app_disk_failed(struct app *app, const struct sandbox_ref *sb, struct sb_err *err);
/* app_sandbox_get() (creating it), app_sandbox_connect() and, unless need
 * is negative (a read), app_admit_write() in between: the init's socket. */
int app_sandbox_open(struct app *app, const char *id, long long need, const char *what,
		     struct sandbox_ref *sb, struct sb_err *err);

#endif
