/* The master: binds the FastCGI socket, forks the workers and supervises
 * them as nginx's master does: signals blocked, sigsuspend, reap with
 * WNOHANG.  The pool sizes itself as php-fpm's pm = dynamic: spares forked
 * when fewer than min-spare wait (at once: a worker that takes the last
 * ones says so with SIGUSR1), one retired per tick when more than
 * max-spare do; a worker on a long-lived request is out of the pool and
 * leaves after it.  SIGHUP replaces the workers (sandboxes keep running);
 * SIGTERM/SIGINT drain the workers, then stop every sandbox init (their
 * files stay; they start again on the next request). */
#include "config.h"

#include "app.h"
#include "auth.h"
#include "capacity.h"
#include "destroy.h"
#include "expiry.h"
#include "cgroup.h"
#include "conf.h"
#include "hostlimits.h"
#include "disk.h"
#include "log.h"
#include "metrics.h"
#include "net.h"
#include "netapply.h"
#include "store.h"
#include "pool.h"
#include "preview.h"
#include "sandbox.h"
#include "warm.h"

#include <fcgiapp.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#define MAX_WORKERS POOL_SLOTS	/* a worker's place in the table is its pool slot
				 * (the API's workers, the preview pool, those retiring) */
#define DRAIN_MS 30000

static volatile sig_atomic_t got_chld, got_term, got_hup, got_alrm, got_usr1;

static void on_signal(int sig)
{
	switch (sig) {
	case SIGCHLD: got_chld = 1; break;
	case SIGHUP: got_hup = 1; break;
	case SIGALRM: got_alrm = 1; break;
	case SIGUSR1: got_usr1 = 1; break;
	default: got_term = 1;
	}
}

struct worker {
	pid_t pid;
	unsigned serial;	/* names its exec cgroups: "e<serial>" */
	int64_t started_ms;
	bool retiring;	/* told to stop; not respawned */
	bool preview;	/* of the preview pool (preview_auth.c), on its own socket */
};

static struct worker workers[MAX_WORKERS];
static int nworkers;

static unsigned serials;
static pid_t master_pid;
static int preview_fd = -1;	/* the preview pool's socket */

/* DATA/run/workers.lock: every child of the master that works on sandboxes
 * (workers, the idle sweep, the spares filler) holds a read lock on it, a
 * POSIX one: it goes with the process (not inherited by the sandbox inits
 * a worker forks), and F_GETLK names the holder's pid, so a starting master
 * finds what a crashed one left with no pid file to trust. */
static int open_workers_lock(const struct conf *c)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/run/workers.lock", c->data_dir);
	return open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
}

/* In a child just forked: die with the master.  SIGKILL, not SIGTERM: a
 * worker that finished its request after the master died would act on
 * sandboxes beside the next master, which has reaped the old generation's
 * exec cgroups (a killed worker's exec dies with it there, as when a
 * worker dies under a live master).  The getppid() check covers a master
 * that died before the prctl. */
static void child_of_master(const struct conf *c)
{
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
	int fd;

	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != master_pid)
		_exit(1);
	metrics_worker_init();
	fd = open_workers_lock(c);
	if (fd < 0 || fcntl(fd, F_SETLK, &fl) < 0)
		log_printf("error", NULL, "workers lock: %s", strerror(errno));
	/* kept open for life: closing any fd of the file would drop the lock */
}

/* The pid of a process holding the workers lock, 0 when none does. */
static pid_t lock_holder(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	if (fcntl(fd, F_GETLK, &fl) < 0 || fl.l_type == F_UNLCK)
		return 0;
	return fl.l_pid;
}

/* SIGKILL the holder by a pidfd taken while it still holds the lock: a pid
 * that exited and was recycled between F_GETLK and the signal is never
 * signalled. */
static bool kill_holder(int fd, pid_t pid)
{
	cleanup_close int pidfd = sb_pidfd_open(pid);

	return pidfd >= 0 && lock_holder(fd) == pid && sb_pidfd_send_signal(pidfd, SIGKILL) == 0;
}

/* Before serving: end the workers (and helpers) a crashed master of this
 * data directory left, then what they left running: every exec cgroup of
 * every sandbox and the processes in it (no worker of ours exists yet). */
static void end_predecessor(const struct conf *c, struct sb_cgroups *cg)
{
	cleanup_close int fd = open_workers_lock(c);
	int ended = 0, reaped;
	pid_t last = 0;

	/* at most 10 s: a holder the kernel cannot kill (D state) is left */
	for (int tries = 0; fd >= 0 && tries < 1000; tries++) {
		struct timespec ts = { 0, 10000000 };
		pid_t holder = lock_holder(fd);

		if (holder <= 0)
			break;
		if (kill_holder(fd, holder) && holder != last)
			ended++;
		last = holder;
		nanosleep(&ts, NULL);	/* its lock goes when it has exited */
	}
	reaped = cg_exec_reap_every(cg);
	if (ended || reaped)
		log_printf("warn", NULL, "ended %d processes and %d exec cgroups a previous master left",
			   ended, reaped);
}

/* Worker serials, hence exec cgroup names, never repeat across masters of
 * the same data dir: each takes the next generation (DATA/run/generation)
 * and numbers its workers from generation << 16. */
static void next_generation(const struct conf *c)
{
	char path[PATH_MAX], buf[32] = "";
	unsigned gen;

	snprintf(path, sizeof path, "%s/run/generation", c->data_dir);
	sb_read_file_at(AT_FDCWD, path, buf, sizeof buf);
	gen = ((unsigned)strtoul(buf, NULL, 10) + 1) & 0xffff;
	snprintf(buf, sizeof buf, "%u\n", gen);
	if (sb_write_file_atf(AT_FDCWD, path, buf, O_CREAT | O_TRUNC) < 0)
		log_printf("error", NULL, "%s: %s", path, strerror(errno));
	serials = gen << 16;
}

/* A create killed between its steps may leave a staged directory
 * (DATA/sandboxes/.new-ID, empty subdirectories only): removed. */
static void sweep_staged(const struct conf *c)
{
	static const char *const sub[] = { "upper", "work", "root", "disk" };
	char path[PATH_MAX];
	cleanup_close int fd = -1;
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof path, "%s/sandboxes", c->data_dir);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d)
		return;
	fd = -1;
	while ((e = readdir(d))) {
		cleanup_close int sfd = -1;

		if (strncmp(e->d_name, ".new-", 5))
			continue;
		sfd = openat(dirfd(d), e->d_name, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (sfd < 0)
			continue;
		for (size_t i = 0; i < sizeof sub / sizeof *sub; i++)
			unlinkat(sfd, sub[i], AT_REMOVEDIR);
		unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
	}
	closedir(d);
}

/* The control socket a launcher of pid (a worker, the filler) bound ahead
 * and left, killed with it, and its directory; 0: every one, at the start
 * (an earlier master's). */
static void sweep_ctl(const struct conf *c, pid_t pid)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/sandboxes", c->data_dir);
	sandbox_ctl_leftovers(path, pid);
}

/* Start worker w.  Its exec cgroups are named by a serial number, not its
 * pid: a sandbox sees its own cgroup path, and host pids are not its
 * business. */
static int spawn(struct worker *w, const struct conf *c, int fd, const sigset_t *orig)
{
	unsigned serial = ++serials;
	int slot = (int)(w - workers);
	pid_t pid;

	/* a spare from now on: the counts do not fork it twice (the preview
	 * pool is fixed, and not in the counts) */
	if (!w->preview)
		pool_set(slot, POOL_STARTING);
	pid = fork();
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, orig, NULL);
		child_of_master(c);
		if (w->preview) {
			close(fd);
			preview_worker_run(c, preview_fd);
		}
		if (preview_fd >= 0)
			close(preview_fd);
		worker_run(c, fd, serial, slot);
	}
	if (pid < 0) {
		log_printf("error", NULL, "fork worker: %s", strerror(errno));
		pool_set(slot, POOL_FREE);
	}
	w->pid = pid > 0 ? pid : 0;
	w->serial = serial;
	w->started_ms = sb_mono_ms();
	w->retiring = false;
	return pid > 0 ? 0 : -1;
}

/* A new worker (of the preview pool, or the API's) in the first free
 * place of the table. */
static int spawn_one(const struct conf *c, int fd, const sigset_t *orig, bool preview)
{
	int i = 0;

	while (i < nworkers && workers[i].pid > 0)
		i++;
	if (i == MAX_WORKERS)
		return -1;
	if (i == nworkers)
		nworkers++;
	workers[i].preview = preview;
	return spawn(&workers[i], c, fd, orig);
}

static int live_workers(void)
{
	int n = 0;

	for (int i = 0; i < nworkers; i++)
		n += workers[i].pid > 0;
	return n;
}

/* The API's workers (what /metrics counts), not the preview pool. */
static int live_api_workers(void)
{
	int n = 0;

	for (int i = 0; i < nworkers; i++)
		n += workers[i].pid > 0 && !workers[i].preview;
	return n;
}

/* The master's clock: a tick every 200 ms drives drain, retirement and
 * the idle sweep. */
#define TICK_MS 200

static void start_ticks(void)
{
	struct itimerval it = {
		.it_value = { 0, TICK_MS * 1000 },
		.it_interval = { 0, TICK_MS * 1000 },
	};

	setitimer(ITIMER_REAL, &it, NULL);
}

static pid_t sweeper;
/* The sweeper's exit status when it left work undone (a destroy it could
 * not finish, or the store it could not open): the next sweep comes
 * sooner than sweep_every, 1 s after the first such one, twice that after
 * each next one. */
#define SWEEP_AGAIN 3
#define SWEEP_RETRY_MS 1000
static bool sweep_soon;
static int64_t sweep_retry = SWEEP_RETRY_MS;

/* Stop sandboxes idle past --idle-stop and finish destroys a crash cut
 * short (destroy.h), in a child of its own: the master
 * never opens LMDB (its workers fork from it). */
static void sweep_idle(const struct conf *c, const sigset_t *orig)
{
	pid_t pid;

	if (sweeper > 0)
		return;
	pid = fork();
	if (pid == 0) {
		struct sb_err err = SB_ERR_INIT;
		struct app app;
		int left;

		sigprocmask(SIG_SETMASK, orig, NULL);
		child_of_master(c);
		prctl(PR_SET_NAME, "sandboxd-sweep", 0, 0, 0);
		sb_proctitle_set("sandboxd: idle sweep");
		if (app_open(&app, c, &err) < 0) {
			log_printf("error", NULL, "idle sweep: %s", err.msg);
			_exit(SWEEP_AGAIN);
		}
		if (c->idle_stop_ms > 0)
			capacity_stop_idle(&app, c->idle_stop_ms);
		left = destroy_finish_pending(&app);
		destroy_expired(&app);
		app_close(&app);
		_exit(left ? SWEEP_AGAIN : 0);
	}
	if (pid > 0)
		sweeper = pid;
}

/* Inits that ran on across a change of the boot id (the host up: not a
 * reboot, which ends them) are recorded in the other boot's runtime
 * state, which this boot's never reads: found (each answering on its
 * control socket) and recorded anew, before any worker serves, so none
 * shows stopped nor runs outside the capacity count.  Only when there is
 * another boot's state (that this process removed). */
static void adopt_after_boot_change(const struct conf *c, const sigset_t *orig)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid == 0) {
		struct sb_err err = SB_ERR_INIT;
		struct app app;
		int n;

		sigprocmask(SIG_SETMASK, orig, NULL);
		child_of_master(c);
		if (app_open(&app, c, &err) < 0) {
			log_printf("error", NULL, "inits of another boot id: %s", err.msg);
			_exit(1);
		}
		n = app_adopt_unrecorded(&app);
		app_close(&app);
		if (n > 0)
			log_printf("info", NULL, "%d inits running from another boot id recorded", n);
		_exit(0);
	}
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

/* The filler (fill_spares) while it runs. */
static pid_t filler;

static void sweep_half_made_spares(const struct conf *c)
{
	char path[PATH_MAX];
	cleanup_close int fd = -1;

	snprintf(path, sizeof path, "%s/spares", c->data_dir);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0)
		disk_spare_sweep(fd);
}

/* No filler starts before this (monotonic ms): 10 s after one failed. */
static int64_t fill_after;

/* The filler's first part: --spare-disks disk images of the default size,
 * made until there are that many. */
static int fill_disks(const struct conf *c, struct sb_err *err)
{
	long long bytes = (long long)c->limits.disk_mb << 20;
	char path[PATH_MAX];
	cleanup_close int fd = -1;

	if (c->spare_disks <= 0 || bytes <= 0)
		return 0;
	snprintf(path, sizeof path, "%s/spares", c->data_dir);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return sb_syserr(err, "open %s", path);
	while (disk_spare_count(fd, bytes) < c->spare_disks) {
		/* spares never eat the host's reserve: none is made then */
		if (app_host_room(c, disk_image_host_bytes(bytes, c->disk_prealloc), "a spare disk", NULL) < 0)
			return 0;
		if (disk_spare_make(fd, bytes, c->disk_prealloc, err) < 0)
			return -1;
	}
	return 0;
}

/* How long a filler stays for more after the last spare or warm sandbox
 * was taken (a burst of creates), and at most. */
#define FILL_LINGER_MS 1000
#define FILL_LIFE_MS 10000
/* and how long it lets the claim that woke it finish first: the claim's
 * commit (an fdatasync) would wait for the journal to take what making the
 * next one writes (measured: a warm claim's commit 0.4 ms alone, 1.0 ms
 * with the filler started at its rename) */
#define FILL_SETTLE_MS 20

/* Watch what a claim takes from: a spare disk renamed out of DATA/spares,
 * a warm sandbox's directory renamed in DATA/sandboxes. */
static int fill_watch(const struct conf *c)
{
	char path[PATH_MAX];
	int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);

	if (fd < 0)
		return -1;
	snprintf(path, sizeof path, "%s/spares", c->data_dir);
	inotify_add_watch(fd, path, IN_MOVED_FROM | IN_DELETE);
	if (c->warm_sandboxes > 0) {
		snprintf(path, sizeof path, "%s/sandboxes", c->data_dir);
		inotify_add_watch(fd, path, IN_MOVED_FROM);
	}
	return fd;
}

/* Drop what the watch has seen; true when it saw something. */
static bool fill_drain(int fd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool seen = false;

	while (fd >= 0 && read(fd, buf, sizeof buf) > 0)
		seen = true;
	return seen;
}

/* Wait up to ms for the watch to see something, then FILL_SETTLE_MS. */
static bool fill_wait(int fd, int ms)
{
	struct timespec settle = { 0, FILL_SETTLE_MS * 1000000L };
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (fd < 0 || ms <= 0 || poll(&p, 1, ms) <= 0)
		return false;
	nanosleep(&settle, NULL);
	return true;
}

/* Keep --spare-disks disk images of the default size made ahead (made
 * until there are that many), then --warm-sandboxes started, in a child of
 * its own (mke2fs takes ~5 ms, a sandbox start more): it runs each tick it
 * is not running already, and after a failure not for 10 s.  Once all are
 * made it stays FILL_LINGER_MS for a claim (inotify on the directories a
 * claim renames out of) and makes the next at once: a burst of creates
 * finds them made again between two creates, not a tick later. */
static void fill_spares(const struct conf *c, const sigset_t *orig)
{
	pid_t pid;

	if (filler > 0 || sb_mono_ms() < fill_after ||
	    ((c->spare_disks <= 0 || c->limits.disk_mb <= 0) && c->warm_sandboxes <= 0))
		return;
	pid = fork();
	if (pid == 0) {
		struct sb_err err = SB_ERR_INIT;
		int64_t start = sb_mono_ms();
		struct app app;
		int watch, r = 0;

		sigprocmask(SIG_SETMASK, orig, NULL);
		child_of_master(c);
		prctl(PR_SET_NAME, "sandboxd-spares", 0, 0, 0);
		metrics_worker_init();	/* the warm inits it forks: not theirs */
		sb_proctitle_set("sandboxd: spares");
		if (c->warm_sandboxes > 0 && app_open(&app, c, &err) < 0) {
			log_printf("error", NULL, "warm sandboxes: %s", err.msg);
			_exit(1);
		}
		watch = fill_watch(c);
		do {
			fill_drain(watch);
			if (fill_disks(c, &err) < 0) {
				log_printf("error", NULL, "spare disk: %s", err.msg);
				_exit(1);
			}
			if (c->warm_sandboxes > 0 && (r = warm_fill(&app, &err)) < 0)
				log_printf("error", NULL, "warm sandboxes: %s", err.msg);
		} while (r == 0 && sb_mono_ms() - start < FILL_LIFE_MS && fill_wait(watch, FILL_LINGER_MS));
		if (c->warm_sandboxes > 0)
			app_close(&app);
		_exit(r < 0);
	}
	if (pid > 0)
		filler = pid;
}

/* The table and every sandbox's own policy in one transaction (the store
 * opened and closed here; the nft context freed: workers fork from us). */
static int reload_policies(const struct conf *c, struct sb_err *err)
{
	struct store_sizes sz;
	char path[PATH_MAX];
	struct store s;
	int n;

	if (!c->network)
		return 0;
	snprintf(path, sizeof path, "%s/db", c->data_dir);
	app_store_sizes(c, &sz);
	if (store_open(&s, path, &sz, err) < 0)
		return -1;
	n = net_apply_all(c, &s, err);
	store_close(&s);
	net_nft_free();
	if (n > 0)
		fprintf(stderr, "sandboxd: network policies of %d sandboxes put back\n", n);
	return n < 0 ? -1 : 0;
}

/* The table removed under us (by hand, nft flush ruleset from a reload
 * of nftables.service) would leave every sandbox open: looked for about
 * every second, and put back whole. */
#define TABLE_CHECK_MS 1000
static void check_table(const struct conf *c)
{
	struct sb_err err = SB_ERR_INIT;
	struct store_sizes sz;
	char path[PATH_MAX];
	struct store s;

	if (!c->network)
		return;
	if (net_table_present(c)) {
		net_nft_free();
		return;
	}
	snprintf(path, sizeof path, "%s/db", c->data_dir);
	app_store_sizes(c, &sz);
	if (store_open(&s, path, &sz, &err) == 0) {
		net_restore(c, &s, &err);
		store_close(&s);
	}
	net_nft_free();
	if (err.msg[0])
		log_printf("error", NULL, "network: the table is gone and could not be put back: %s", err.msg);
}

/* The sandboxes' resolver (networking on) */
static pid_t dns_pid;
static int64_t dns_started;

/* Spares are forked in rounds that double while a burst lasts (a round
 * that still finds too few idle), as php-fpm does, up to this many at once;
 * a round that finds enough starts over at what is missing. */
#define SPAWN_BURST_MAX 32
static int spawn_burst = 1;

/* php-fpm's pm = dynamic: fewer than min-spare idle (a starting worker
 * counts), fork more, unless max-workers are on short requests; more than
 * max-spare idle, retire one (trim: at each tick, so a pool that grew for
 * a burst shrinks gently).  Workers on streams are not the pool's. */
static void adjust_pool(const struct conf *c, int fd, const sigset_t *orig, bool trim)
{
	int idle = 0, shorts = 0, victim = -1, want;

	for (int i = 0; i < nworkers; i++) {
		enum pool_state s = pool_get(i);

		if (workers[i].pid <= 0 || workers[i].retiring || workers[i].preview)
			continue;
		shorts += s != POOL_STREAM;
		if (s == POOL_IDLE || s == POOL_STARTING)
			idle++;
		if (s == POOL_IDLE)
			victim = i;
	}
	if (idle >= c->min_spare_workers) {
		spawn_burst = 1;
		if (trim && idle > c->max_spare_workers && victim >= 0) {
			workers[victim].retiring = true;
			kill(workers[victim].pid, SIGTERM);
		}
	} else {
		want = c->min_spare_workers - idle;
		if (want < spawn_burst)
			want = spawn_burst;
		if (spawn_burst < SPAWN_BURST_MAX)
			spawn_burst *= 2;
		for (; want > 0 && shorts < c->max_workers; want--, shorts++)
			if (spawn_one(c, fd, orig, false) < 0)
				break;
	}
	metrics_workers(live_api_workers());
}

/* A dead worker's exec in flight: its processes die with it.  A worker
 * that left (exit 0: a stream's, a retired one) frees its place, and
 * adjust_pool() forks what the pool misses; one that died (a crash, a
 * kill) is replaced at once, as php-fpm does. */
static void reap(const struct conf *c, struct sb_cgroups *cg, bool respawn, int fd,
		 const sigset_t *orig)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		char name[24];

		if (pid == sweeper) {
			sweeper = 0;
			sweep_soon = WIFEXITED(status) && WEXITSTATUS(status) == SWEEP_AGAIN;
			if (!sweep_soon)
				sweep_retry = SWEEP_RETRY_MS;
			continue;
		}
		if (pid == dns_pid) {
			dns_pid = 0;
			if (respawn) {
				/* pace a resolver that cannot start (its port taken) */
				if (sb_mono_ms() - dns_started < 1000) {
					struct timespec ts = { 0, 200000000 };
					nanosleep(&ts, NULL);
				}
				log_printf("warn", NULL, "the resolver (dnsmasq) ended (status %d); "
					   "starting it again", status);
				dns_started = sb_mono_ms();
				dns_pid = net_dns_spawn(c, orig);
			}
			continue;
		}
		if (pid == filler) {
			filler = 0;
			sweep_ctl(c, pid);
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				fill_after = sb_mono_ms() + 10000;
			continue;
		}
		for (int i = 0; i < nworkers; i++) {
			struct worker *w = &workers[i];
			if (w->pid != pid)
				continue;
			w->pid = 0;
			sweep_ctl(c, pid);
			if (!w->preview) {
				pool_ended(pool_get(i), !WIFEXITED(status) || WEXITSTATUS(status) != 0);
				pool_set(i, POOL_FREE);
				metrics_worker_busy(w->serial, false);
				snprintf(name, sizeof name, "e%u", w->serial);
				cg_exec_reap_all(cg, name);
				/* it left: adjust_pool() forks what the pool misses */
				if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
					break;
			}
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				log_printf("warn", NULL, "%sworker %d died (status %d)", w->preview ? "preview " : "",
					   (int)pid, status);
			if (!respawn || w->retiring)
				break;
			/* a worker that dies at once would spin: pace it */
			if (sb_mono_ms() - w->started_ms < 1000) {
				struct timespec ts = { 0, 200000000 };
				nanosleep(&ts, NULL);
			}
			spawn(w, c, fd, orig);
			break;
		}
		/* anything else is a sandbox init that ended: reaped, nothing to do */
	}
	while (nworkers > 0 && workers[nworkers - 1].pid <= 0)
		nworkers--;
	metrics_workers(live_api_workers());
}

static void signal_workers(int sig)
{
	for (int i = 0; i < nworkers; i++)
		if (workers[i].pid > 0)
			kill(workers[i].pid, sig);
}

static int open_socket(const struct conf *c, const char *path)
{
	int fd;
	struct group *g;

	unlink(path);
	fd = FCGX_OpenSocket(path, 512);
	if (fd < 0) {
		log_printf("error", NULL, "cannot bind %s", path);
		return -1;
	}
	/* only root and the web server's group may talk to us */
	g = getgrnam(c->socket_group);
	if (chown(path, 0, g ? g->gr_gid : 0) < 0 || chmod(path, c->socket_mode) < 0) {
		log_printf("error", NULL, "socket permissions: %s", strerror(errno));
		return -1;
	}
	return fd;
}

/* SIGHUP: the current workers finish their request and leave (a stream
 * runs to its end); a fresh set takes over at once. */
static void replace_workers(const struct conf *c, int fd, const sigset_t *orig)
{
	for (int i = 0; i < nworkers; i++) {
		if (workers[i].pid <= 0)
			continue;
		/* the preview pool reads no setting a reload may change */
		if (workers[i].preview)
			continue;
		workers[i].retiring = true;
		kill(workers[i].pid, SIGTERM);
	}
	for (int i = 0; i < c->workers; i++)
		if (spawn_one(c, fd, orig, false) < 0)
			break;
	metrics_workers(live_api_workers());
}

/* SIGHUP: the config file again; bad settings leave the running ones. */
static void reload(struct conf *c)
{
	struct auth_tokens *old = c->tokens;
	struct conf n;

	if (!c->config && !c->tokens_file)
		return;
	if (conf_reload(c, &n) < 0) {
		log_printf("error", NULL, "reload: bad settings (above); the running ones stay");
		return;
	}
	*c = n;
	auth_free(old);
	host_limits_raise(c);	/* more sandboxes may run now */
	log_printf("info", NULL, "reload: settings read%s%s", c->config ? " from " : "",
		   c->config ? c->config : "");
}

/* The reload is done when no worker of an old generation serves a short
 * request (or may take one), and no stream of a token the reload revoked is
 * open: each old stream's worker re-checks its token when told (SIGTERM),
 * and again at each later reload (the pool's count of reloads moved), ends
 * its stream if the token is gone, and says it keeps it otherwise
 * (pool_keep()); an old stream kept may run to its end.  Kept counts for
 * the last reload only: a stream kept by the one before, not yet checked
 * for this one (its next wake-up), is still waited for. */
static bool any_old_serving(void)
{
	for (int i = 0; i < nworkers; i++)
		if (workers[i].pid > 0 && workers[i].retiring &&
		    !(pool_get(i) == POOL_STREAM && pool_kept(i)))
			return true;
	return false;
}

static bool any_retiring(void)
{
	for (int i = 0; i < nworkers; i++)
		if (workers[i].pid > 0 && workers[i].retiring)
			return true;
	return false;
}

int master_run(struct conf *c)
{
	struct sb_err err = SB_ERR_INIT;
	struct sb_cgroups cg;
	struct sigaction sa = { .sa_handler = on_signal };
	static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGALRM, SIGUSR1 };
	sigset_t block, orig;
	bool draining = false, reloading = false;
	int64_t deadline = 0, next_sweep, sweep_every, next_table_check = 0, expiry_last = 0;
	int fd;

	if (cg_open(&cg, c->cgroup_root, c->cg_parent, &err) < 0) {
		log_printf("error", NULL, "%s", err.msg);
		return 1;
	}
	/* the table before the socket: a request never finds a sandbox
	 * without its rules.  The table is made afresh: the per-sandbox
	 * policy elements are put back from the store right after this
	 * (net_policy_set with old NULL, per record), before any worker. */
	if (net_start(c, &err) < 0) {
		log_printf("error", NULL, "network: %s", err.msg);
		return 1;
	}
	/* a policy that cannot be put back would leave its sandbox public:
	 * no start then, and the table that was there (a killed master's,
	 * with the policies) stays as it is while its sandboxes run */
	if (reload_policies(c, &err) < 0) {
		fprintf(stderr, "sandboxd: network policies (the previous table, if any, is left in "
			"place): %s\n", err.msg);
		return 1;
	}
	fd = open_socket(c, c->socket_path);
	if (fd < 0)
		return 1;
	preview_fd = open_socket(c, c->preview_socket);
	if (preview_fd < 0)
		return 1;
	sigemptyset(&block);
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
		sigaddset(&block, sigs[i]);
		sigaction(sigs[i], &sa, NULL);
	}
	signal(SIGPIPE, SIG_IGN);
	/* sandbox inits outlive the launcher that forked them and come to us
	 * (not to whatever the host's PID 1 is): we reap them when they end */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	sigprocmask(SIG_BLOCK, &block, &orig);
	if (metrics_init() < 0)
		log_printf("error", NULL, "metrics mapping: %s", strerror(errno));
	if (pool_init() < 0) {
		log_printf("error", NULL, "pool mapping: %s", strerror(errno));
		return 1;
	}
	pool_settings(c);
	master_pid = getpid();
	end_predecessor(c, &cg);
	next_generation(c);
	sweep_staged(c);
	sweep_ctl(c, 0);
	/* (main's store_open, before this, found another boot's) */
	if (store_runtime_swept())
		adopt_after_boot_change(c, &orig);
	if (c->network) {
		dns_started = sb_mono_ms();
		dns_pid = net_dns_spawn(c, &orig);
	}
	for (int i = 0; i < c->workers; i++)
		spawn_one(c, fd, &orig, false);
	for (int i = 0; i < c->preview_workers; i++)
		spawn_one(c, fd, &orig, true);
	metrics_workers(live_api_workers());
	sb_proctitle_set("sandboxd: master");
	sweep_half_made_spares(c);
	log_printf("info", NULL, "%d workers on %s (spares %d to %d, at most %d, and %d streams), "
		   "%d preview workers on %s", live_api_workers(), c->socket_path, c->min_spare_workers,
		   c->max_spare_workers, c->max_workers, c->max_streams, c->preview_workers, c->preview_socket);
	/* look for idle sandboxes twice per idle period, at most every 30 s */
	sweep_every = c->idle_stop_ms > 0 && c->idle_stop_ms / 2 < 30000 ? c->idle_stop_ms / 2 : 30000;
	if (c->destroy_idle_ms > 0 && c->destroy_idle_ms / 2 < sweep_every)
		sweep_every = c->destroy_idle_ms / 2;
	if (sweep_every < TICK_MS)
		sweep_every = TICK_MS;
	/* the first at once: it finishes destroys a crash cut short */
	next_sweep = sb_mono_ms();
	start_ticks();
	for (;;) {
		sigsuspend(&orig);
		if (got_chld || got_usr1) {
			bool chld = got_chld;

			got_chld = got_usr1 = 0;
			if (chld)
				reap(c, &cg, !draining, fd, &orig);
			/* a worker gone or busy: fork the spares that are missing */
			if (!draining)
				adjust_pool(c, fd, &orig, false);
		}
		if (got_hup) {
			got_hup = 0;
			if (!draining) {
				reload(c);
				pool_settings(c);
				log_printf("info", NULL, "reload: replacing workers");
				/* counted before the old workers are told: a
				 * stream kept by an earlier reload checks its
				 * token again at its next wake-up */
				pool_reload_begin();
				replace_workers(c, fd, &orig);
				reloading = true;
			}
		}
		/* the line tests (and operators) wait for: from here on no
		 * request is served by a worker of the old settings */
		if (reloading && !draining && !any_old_serving()) {
			reloading = false;
			log_printf("info", NULL, "reload: done, the old workers are gone (but streams their tokens keep)");
		}
		if (got_term && !draining) {
			log_printf("info", NULL, "stopping");
			draining = true;
			close(fd);
			unlink(c->socket_path);
			close(preview_fd);
			unlink(c->preview_socket);
			signal_workers(SIGTERM);
			deadline = sb_mono_ms() + DRAIN_MS;
		}
		if (draining && sweeper > 0)
			kill(sweeper, SIGKILL);
		if (draining && filler > 0)
			kill(filler, SIGKILL);
		if (draining && dns_pid > 0)
			kill(dns_pid, SIGTERM);
		if (draining && live_workers() == 0 && sweeper == 0 && filler == 0 && dns_pid <= 0)
			break;
		if (got_alrm) {
			got_alrm = 0;
			/* a worker may have been entering accept() when told: say it again */
			if (draining)
				signal_workers(sb_mono_ms() > deadline ? SIGKILL : SIGTERM);
			else if (any_retiring())
				for (int i = 0; i < nworkers; i++)
					if (workers[i].pid > 0 && workers[i].retiring)
						kill(workers[i].pid, SIGTERM);
			if (!draining) {
				adjust_pool(c, fd, &orig, true);
				fill_spares(c, &orig);
			}
			if (!draining && sb_mono_ms() >= next_table_check) {
				check_table(c);
				next_table_check = sb_mono_ms() + TABLE_CHECK_MS;
			}
			if (sweep_soon) {
				sweep_soon = false;
				if (sb_mono_ms() + sweep_retry < next_sweep)
					next_sweep = sb_mono_ms() + sweep_retry;
				sweep_retry = sweep_retry * 2 < sweep_every ? sweep_retry * 2 : sweep_every;
			}
			/* a ttl due (expiry.h): the sweep now, not at its period */
			if (!draining && (sb_mono_ms() >= next_sweep ||
					  (sweeper == 0 && expiry_due(c, &expiry_last)))) {
				sweep_idle(c, &orig);
				next_sweep = sb_mono_ms() + sweep_every;
			}
		}
	}
	/* a full stop stops every sandbox; files stay */
	if (cg_destroy_all(&cg, c->cgroup_root, c->cg_parent) < 0)
		log_printf("warn", NULL, "some cgroups could not be removed");
	net_stop(c);
	log_printf("info", NULL, "stopped");
	return 0;
}
