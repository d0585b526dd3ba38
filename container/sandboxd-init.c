/* sandboxd-init: a sandbox's launcher and, forked from it, its init.
 *
 * A worker forks and the child execs this program at once (launch.h), so
 * the sandbox is set up, and its PID 1 runs, in a fresh image: none of the
 * worker's heap (other tenants' requests), LMDB maps, libraries or fds.
 * The exec comes first, before any cgroup, namespace or mount: all of the
 * setup runs in the clean image, and at the one moment the new image is
 * dumpable (between the exec and the prctl below) it is a host-root process
 * in the host's namespaces that no sandbox can see or reach.  The init and
 * the file-op and clone children it forks later inherit the non-dumpable
 * flag and an mm owned by the host's user namespace, so a sandbox's root
 * can neither open /proc/1/exe nor read /proc/1/mem.
 *
 * The launcher (host root) joins the sandbox's cgroups, binds the control
 * socket and forks the init into a new pid namespace.  The init (PID 1
 * there) unshares mount, net, uts, ipc and cgroup namespaces, builds the
 * root filesystem while it still has host privilege, pivots into it, then
 * enters a fresh user namespace whose root is the sandbox's own uid range,
 * mapped by the launcher and owned by the first of those uids (what the
 * kernel counts per user is the sandbox's own).  The namespaces other than the user one stay
 * owned by the host, so the sandbox's root has no power over its mounts,
 * network or hostname.  The launcher exits; the init is reparented away
 * from the worker and outlives it. */
#include "config.h"

#include "init.h"
#include "launch.h"
#include "lockdown.h"
#include "netlink.h"
#include "rootfs.h"
#include "sandbox.h"

#include <fcntl.h>
#include <grp.h>
#include <libmnl/libmnl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <linux/securebits.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#ifdef __SANITIZE_ADDRESS__
/* A sanitizer build: the options the suite gives the service, which an
 * empty environment does not carry here (UBSan is built not to recover). */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "detect_leaks=0:abort_on_error=1";
}
#endif

static void ready_send(int fd, int kind, int val, const char *msg)
{
	struct sb_ready r = { .kind = kind, .val = val };

	if (msg)
		snprintf(r.msg, sizeof r.msg, "%s", msg);
	sb_write_full(fd, &r, sizeof r);
}

static void ahead_ctl_drop(void);

__attribute__((noreturn)) static void child_fail(int readyfd, const struct sb_err *err)
{
	/* first: a worker gone (EOF for the settings) takes the ready pipe's
	 * reader with it, and the write would end us before we removed it */
	ahead_ctl_drop();
	ready_send(readyfd, SB_READY_ERR, err->errnum, err->msg);
	_exit(1);
}

static int write_id_maps(pid_t pid, uid_t base, struct sb_err *err)
{
	char path[64], map[64];

	snprintf(map, sizeof map, "0 %u 65536\n", (unsigned)base);
	snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
	if (sb_write_file_at(AT_FDCWD, path, map) < 0)
		return sb_syserr(err, "write uid_map");
	snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
	if (sb_write_file_at(AT_FDCWD, path, map) < 0)
		return sb_syserr(err, "write gid_map");
	return 0;
}

struct holder { int rd, wr; };

static int hold_userns(void *arg)
{
	struct holder *h = arg;
	char c;

	close(h->wr);
	while (read(h->rd, &c, 1) < 0 && errno == EINTR)
		;
	return 0;
}

/* Our effective uid and gid for the clone that makes the sandbox's user
 * namespace: the kernel records them as its owner, and charges everything
 * counted per user inside it (inotify instances and watches, pending
 * signals, mqueue bytes, nested namespaces...) up to that uid, against the
 * host's per-user limits.  Owned by host root, every sandbox spent root's
 * budget, shared with the others and with the host's own root processes;
 * owned by its base uid, a sandbox spends its own, as a host user would.
 *
 * Only the effective ids change (the real and saved ones stay root's, so
 * they can be set back), by raw syscalls: they change the creds of this
 * thread alone (glibc's wrappers signal every thread of the process to
 * change theirs too), and the clone copies them.  The
 * capabilities are kept throughout (SECBIT_NO_SETUID_FIXUP), so the clone
 * is made by a privileged process as before: a kernel that lets only
 * CAP_SYS_ADMIN make user namespaces (Debian's old sysctl, Ubuntu's
 * AppArmor restriction) still lets us, and the rlimits the new namespace
 * takes from its maker (RLIMIT_NPROC unenforced for a real uid 0) are as
 * they were.  A failure to become the owner or to come back is a start
 * error: a launcher never goes on with the wrong creds. */
struct owner_creds { uid_t euid; gid_t egid; int bits; };

static int become_owner(uid_t base, struct owner_creds *o, struct sb_err *err)
{
	o->euid = geteuid();
	o->egid = getegid();
	o->bits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	if (o->bits < 0)
		return sb_syserr(err, "get securebits");
	if (!(o->bits & SECBIT_NO_SETUID_FIXUP) &&
	    prctl(PR_SET_SECUREBITS, o->bits | SECBIT_NO_SETUID_FIXUP, 0, 0, 0) < 0)
		return sb_syserr(err, "keep capabilities over an id change");
	if (syscall(SYS_setresgid, -1, base, -1) < 0 || syscall(SYS_setresuid, -1, base, -1) < 0)
		return sb_syserr(err, "become the owner of the user namespace");
	return 0;
}

/* Back to the creds become_owner found, from wherever it got (setting an
 * id it never changed is a no-op). */
static int back_from_owner(const struct owner_creds *o, struct sb_err *err)
{
	if (syscall(SYS_setresuid, -1, o->euid, -1) < 0 || syscall(SYS_setresgid, -1, o->egid, -1) < 0)
		return sb_syserr(err, "take back our ids");
	if (o->bits >= 0 && prctl(PR_SET_SECUREBITS, o->bits, 0, 0, 0) < 0)
		return sb_syserr(err, "set securebits back");
	/* an effective id change set the mm's dumpable flag to
	 * fs.suid_dumpable (2 on some hosts): ours stays 0 (main) */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return sb_syserr(err, "stay non-dumpable");
	return 0;
}

/* The sandbox's user namespace (0..65535 -> its uid range), owned by the
 * first of them (become_owner), as an fd: made by a throwaway child that
 * shares our memory and lives just long enough to be mapped (the maps are
 * written, and the namespace opened, by us as host root, as before).  The
 * init idmaps its image with it, then enters it last. */
static int make_userns(uid_t base, struct sb_err *err)
{
	static char stack[8192] __attribute__((aligned(16)));
	struct owner_creds o;
	struct holder h;
	int p[2], fd = -1, status;
	char path[64];
	pid_t c = -1;

	if (pipe2(p, O_CLOEXEC) < 0)
		return sb_syserr(err, "pipe");
	h.rd = p[0];
	h.wr = p[1];
	if (become_owner(base, &o, err) == 0) {
		c = clone(hold_userns, stack + sizeof stack, CLONE_NEWUSER | CLONE_VM | SIGCHLD, &h);
		if (c < 0)
			sb_syserr(err, "clone user namespace");
	}
	/* back, whatever failed, before anything else is done: the maps
	 * and the open are host root's (and a launcher that cannot be root
	 * again only reports, and exits) */
	if (back_from_owner(&o, err) == 0 && c > 0 && write_id_maps(c, base, err) == 0) {
		snprintf(path, sizeof path, "/proc/%d/ns/user", (int)c);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			sb_syserr(err, "open %s", path);
	}
	close(p[0]);
	close(p[1]);
	if (c > 0)
		while (waitpid(c, &status, 0) < 0 && errno == EINTR)
			;
	return fd;
}

/* in a namespace of our own, lo is 1 and the peer can take 2 */
enum { ETH0 = 2 };

/* The pair made ahead by the waiting launcher (veth_ahead): the host end's
 * index (0: none, net_up makes the pair) and name, and an rtnetlink socket
 * of our namespace. */
static unsigned ahead_host;
static char ahead_name[IF_NAMESIZE];
static struct mnl_socket *ahead_nl;

/* While the launcher waits for its settings (exec'd ahead of its start):
 * the pair made, the host end named prefix + our pid and down, no IPv6
 * generation on either end, as net_up would set them; what needs the
 * sandbox's slot (the host end's name, the addresses, up, the route) is
 * left for net_up_ahead.  That takes the veth's creation (0.5 ms, most of
 * what networking adds to a start) out of the request.  A failure leaves
 * nothing made: net_up makes the pair at the start, as without. */
static void veth_ahead(struct mnl_socket *hostnl, const char *prefix)
{
	struct sb_err err = SB_ERR_INIT;
	cleanup_close int nsfd = -1;
	struct nl_batch b;
	unsigned host;

	if (strlen(prefix) > 8 || strspn(prefix, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(prefix) ||
	    (size_t)snprintf(ahead_name, sizeof ahead_name, "%s%x", prefix, (unsigned)getpid()) >= sizeof ahead_name)
		return;
	nsfd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		return;
	host = nl_veth_add(hostnl, ahead_name, "eth0", nsfd, ETH0, &err);
	if (!host)
		return;
	ahead_nl = nl_open(&err);
	nl_batch_init(&b);
	nl_batch_no_ipv6(&b, host);
	if (ahead_nl && nl_batch_send(hostnl, &b, "host end", &err) == 0) {
		nl_batch_no_ipv6(&b, ETH0);
		if (nl_batch_send(ahead_nl, &b, "eth0", &err) == 0) {
			ahead_host = host;
			return;
		}
	}
	/* the pair goes as a whole with either end */
	nl_close(ahead_nl);
	ahead_nl = NULL;
	nl_link_del(hostnl, ahead_name, &err);
}

/* The host end's name was taken (EEXIST): by the pair of this sandbox's
 * previous init, whose namespace the kernel has not torn down yet (one
 * live instance per link tag: net_tag_lock).  It goes now; 0 and the
 * caller asks again, or -1 with err set for any other failure. */
static int taken_name_gone(struct mnl_socket *hostnl, const char *name, struct sb_err *err)
{
	if (errno != EEXIST)
		return -1;
	sb_err_clear(err);
	if (nl_link_del(hostnl, name, err) < 0 && errno != ENODEV)
		return -1;
	sb_err_clear(err);
	return 0;
}

/* The pair made ahead, finished as net_up finishes a new one: by the
 * launcher, once it forked the init (launcher()), beside the init's
 * mounts.  On a failure the init drops what is left of it (ahead_drop,
 * net_ahead_wait) and makes a new one. */
static int net_up_ahead(struct mnl_socket *hostnl, const struct sb_net_spec *n, struct sb_err *err)
{
	struct nl_batch b;

	if (nl_link_rename(hostnl, ahead_host, n->host_if, err) < 0 &&
	    (taken_name_gone(hostnl, n->host_if, err) < 0 ||
	     nl_link_rename(hostnl, ahead_host, n->host_if, err) < 0))
		return -1;
	nl_batch_init(&b);
	nl_batch_addr(&b, ahead_host, n->gw, 31);
	nl_batch_up(&b, ahead_host, false);
	if (nl_batch_send(hostnl, &b, "configure the host end", err) < 0)
		return -1;
	nl_batch_addr(&b, ETH0, n->addr, 31);
	nl_batch_up(&b, ETH0, false);
	nl_batch_route_default(&b, ETH0, n->gw);
	return nl_batch_send(ahead_nl, &b, "configure eth0", err);
}

/* What is left of the pair made ahead goes, by its end in our namespace
 * (the pair goes as a whole with either end; that one is ours whatever the
 * host end is named now, or gone already with a host end deleted from the
 * host), and net_up makes a new one as without a pair made ahead. */
static void ahead_drop(void)
{
	struct sb_err err = SB_ERR_INIT;
	/* a socket of its own: ahead_nl was the launcher's, which may have
	 * been killed in the middle of a request on it */
	struct mnl_socket *nl = nl_open(&err);

	if (nl)
		nl_link_del(nl, "eth0", &err);
	nl_close(nl);
	sb_err_clear(&err);
	ahead_host = 0;
	nl_close(ahead_nl);
	ahead_nl = NULL;
}

/* Our new network namespace gets its end of a veth pair made by the host's
 * rtnetlink socket (hostnl, opened before the unshare): the host end stays
 * in the host's namespace with the gateway address, the peer is made right
 * here as eth0.  Both ends are configured while we are still host root, and
 * the namespace stays owned by the host's user namespace: the sandbox's
 * root can change none of it.  Nothing to tear down: the pair dies with the
 * namespace.  A pair made ahead (veth_ahead) is finished by the launcher
 * instead (net_up_ahead, launcher()); dropped: it could not be, and was
 * dropped (ahead_drop). */
static int net_up(struct mnl_socket *hostnl, const struct sb_net_spec *n, bool dropped, struct sb_err *err)
{
	cleanup_close int nsfd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	struct nl_batch b;
	struct mnl_socket *nl;
	unsigned host, eth0 = ETH0;
	int r;

	if (nsfd < 0)
		return sb_syserr(err, "open our network namespace");
	host = nl_veth_add(hostnl, n->host_if, "eth0", nsfd, ETH0, err);
	if (!host && (taken_name_gone(hostnl, n->host_if, err) < 0 ||
		      !(host = nl_veth_add(hostnl, n->host_if, "eth0", nsfd, ETH0, err))))
		return -1;
	nl_batch_init(&b);
	nl_batch_addr(&b, host, n->gw, 31);
	nl_batch_up(&b, host, true);
	if (nl_batch_send(hostnl, &b, "configure the host end", err) < 0)
		return -1;
	nl = nl_open(err);
	if (!nl)
		return -1;
	/* the kernel numbers the peer itself (it takes the index asked for
	 * only with one asked for the host end too): the next free one, 2
	 * in a namespace with lo only, not after a dropped pair's */
	if (dropped && !(eth0 = nl_ifindex(nl, "eth0", err))) {
		nl_close(nl);
		return -1;
	}
	/* no IPv6 address on eth0 either: loopback's ::1 is the only one */
	nl_batch_addr(&b, eth0, n->addr, 31);
	nl_batch_up(&b, eth0, true);
	nl_batch_route_default(&b, eth0, n->gw);
	r = nl_batch_send(nl, &b, "configure eth0", err);
	nl_close(nl);
	return r;
}

/* The host's rtnetlink sockets, opened before the launcher left the host's
 * network namespace; NULL without a network.  With a pair to make ahead,
 * two: the launcher finishes that pair with hostnl (net_up_ahead) while the
 * init it forked builds its root, and the init, if it has to make a new
 * pair (net_up), uses initnl (its hostnl from then on), so that neither
 * reads an answer meant for the other. */
static struct mnl_socket *hostnl, *initnl;

/* The launcher's word on the pair made ahead, to the init (a pipe, one
 * byte: 1 finished, 0 not); -1 when there is none. */
static int ahead_done = -1;

/* In the init, before it enters the sandbox's user namespace (its last
 * moment as host root): the pair made ahead is finished, or, if the
 * launcher could not (the host end deleted from the host, a rename
 * refused), dropped and made anew as without one.  Waited for only this
 * late: the launcher's rename (an RCU grace period, 0.24 ms) and the host
 * end's address and up run beside the init's mounts, off the request's
 * path.  Until then no process of the sandbox runs, and the worker counts
 * the start done only once the launcher has exited (after its word) and the
 * init is ready. */
static int net_ahead_wait(const struct sb_net_spec *n, struct sb_err *err)
{
	char ok = 0;

	while (read(ahead_done, &ok, 1) < 0 && errno == EINTR)
		;
	close(ahead_done);
	ahead_done = -1;
	if (ok == 1)
		return 0;
	/* whatever failed: a new pair, as without one made ahead; the
	 * launcher is done with the old one (its word came, or it is gone) */
	ahead_drop();
	return net_up(hostnl, n, true, err);
}

__attribute__((noreturn)) static void init_child(const struct sb_spec *s, int readyfd,
						 int listenfd, int usernsfd)
{
	struct sb_err err = SB_ERR_INIT;
	int null;

	struct rootfs_spec rs = {
		.image_dir = s->image_dir, .sandbox_dir = s->sandbox_dir, .hostname = s->id,
		.uid_base = s->uid_base, .disk = s->disk, .usernsfd = usernsfd,
		.host_dirs = s->host_dirs, .resolv = s->net ? s->net->resolv : NULL,
		.ca_bundle = s->ca_bundle,
	};
	prctl(PR_SET_NAME, "sandbox-init", 0, 0, 0);
	/* the network namespace is the launcher's already (main) */
	if (unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP) < 0) {
		sb_syserr(&err, "unshare namespaces");
		child_fail(readyfd, &err);
	}
	if (ahead_done >= 0) {
		/* the launcher's: it finishes the pair made ahead with it */
		nl_close(hostnl);
		hostnl = initnl;
	} else {
		nl_close(initnl);
	}
	initnl = NULL;
	if (s->net && ahead_done < 0 && net_up(hostnl, s->net, false, &err) < 0) {
		sb_err_prefix(&err, "network");
		child_fail(readyfd, &err);
	}
	if (rootfs_setup(&rs, &err) < 0)
		child_fail(readyfd, &err);
	if (s->net && ahead_done >= 0 && net_ahead_wait(s->net, &err) < 0) {
		sb_err_prefix(&err, "network");
		child_fail(readyfd, &err);
	}
	nl_close(hostnl);
	hostnl = NULL;
	nl_close(ahead_nl);
	ahead_nl = NULL;
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0) {
		sb_syserr(&err, "open /dev/null");
		child_fail(readyfd, &err);
	}
	close(null);
	/* last: the other namespaces stay owned by the host's user namespace */
	if (setns(usernsfd, CLONE_NEWUSER) < 0) {
		sb_syserr(&err, "enter the user namespace");
		child_fail(readyfd, &err);
	}
	close(usernsfd);
	if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
		sb_syserr(&err, "become the sandbox's root");
		child_fail(readyfd, &err);
	}
	/* the init itself is locked down: every process of the sandbox is its
	 * descendant and inherits the bounding set, no_new_privs and the
	 * filter (one filter, compiled by the launcher before its settings
	 * came, and loaded once per sandbox start) */
	if (sb_lockdown_apply() < 0) {
		sb_syserr(&err, "lock down the init");
		child_fail(readyfd, &err);
	}
	ready_send(readyfd, SB_READY_OK, 0, NULL);
	if (dup2(listenfd, 3) < 0)
		_exit(1);
	sb_close_fds_from(4);
	sb_init_serve(3);
}

/* The fd number the control socket is bound through.  A unix socket keeps
 * the path it was bound by as its name, and the sandbox reads that name in
 * /proc/net/unix (the socket is of its network namespace): the same,
 * "/proc/self/fd/4/ctl", whether it was bound at the start (the sandbox's
 * dir opened there, 4 the lowest fd free) or ahead (ctl_ahead). */
enum { CTL_DIR_FD = 4 };

/* A listening control socket bound as dirfd's "ctl", mode 0600 (owned by
 * us, host root: only root connects). */
static int bind_ctl(int dirfd, struct sb_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = -1, aside = -1, r;

	/* a relative name keeps us within sun_path whatever the data dir */
	snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/ctl", CTL_DIR_FD);
	if (dirfd != CTL_DIR_FD) {
		/* what is there (the settings pipe, ahead) moves aside for it */
		aside = fcntl(CTL_DIR_FD, F_DUPFD_CLOEXEC, CTL_DIR_FD + 1);
		if (aside < 0 && errno != EBADF)
			return sb_syserr(err, "control socket's dir");
		if (dup3(dirfd, CTL_DIR_FD, O_CLOEXEC) < 0) {
			sb_syserr(err, "control socket's dir");
			goto restore;
		}
	}
	unlinkat(CTL_DIR_FD, "ctl", 0);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		sb_syserr(err, "socket");
	} else if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
		   fchmodat(CTL_DIR_FD, "ctl", 0600, 0) < 0 || listen(fd, 64) < 0) {
		sb_syserr(err, "bind control socket");
		close(fd);
		fd = -1;
	}
	if (dirfd == CTL_DIR_FD)
		return fd;
restore:
	r = aside >= 0 ? dup2(aside, CTL_DIR_FD) : close(CTL_DIR_FD);
	if (aside >= 0)
		close(aside);
	if (r < 0 && fd >= 0) {
		/* the settings pipe lost: nothing can start */
		sb_syserr(err, "control socket's dir");
		unlinkat(dirfd, "ctl", 0);
		close(fd);
		fd = -1;
	}
	return fd < 0 ? -1 : fd;
}

/* The control socket bound ahead (ctl_ahead): listening, and the directory
 * of ours it is bound in (DATA/sandboxes/.ctl-PID, PID our worker's); -1
 * when none. */
static int ahead_ctl = -1;
static char ahead_ctl_dir[PATH_MAX];

/* While the launcher waits for its settings: the control socket bound and
 * listening, as bind_ctl makes it at the start (the same name, mode and
 * owner), in dir; the start renames it into the sandbox's dir (a unix
 * socket is found by its inode, which a rename keeps).  That takes the
 * socket's new inode out of the request: stamped, 0.17-0.27 ms at the
 * start against 0.015 ms for the rename (docs/ARCHITECTURE.md, "Create").
 * A failure leaves nothing: it is bound at the start. */
static void ctl_ahead(const char *dir)
{
	struct sb_err err = SB_ERR_INIT;
	cleanup_close int dirfd = -1;

	if (!dir[0] || (mkdir(dir, 0700) < 0 && errno != EEXIST) ||
	    (size_t)snprintf(ahead_ctl_dir, sizeof ahead_ctl_dir, "%s", dir) >= sizeof ahead_ctl_dir)
		return;
	dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dirfd >= 0)
		ahead_ctl = bind_ctl(dirfd, &err);
	if (ahead_ctl < 0)
		rmdir(dir);
}

/* The socket bound ahead, not taken (no start, or a start that failed
 * before it took it), and its directory. */
static void ahead_ctl_drop(void)
{
	char path[PATH_MAX + 8];

	if (ahead_ctl < 0)
		return;
	close(ahead_ctl);
	ahead_ctl = -1;
	snprintf(path, sizeof path, "%s/ctl", ahead_ctl_dir);
	unlink(path);
	rmdir(ahead_ctl_dir);
}

/* The sandbox's control socket, its dir's "ctl": the one bound ahead,
 * renamed in (its dir stays for our worker's next launcher); or, without
 * one or when the rename fails (its name gone: a master's start removed
 * it), bound now. */
static int ctl_take(int sbdirfd, struct sb_err *err)
{
	char from[PATH_MAX + 8];
	int fd = ahead_ctl;

	if (fd >= 0) {
		snprintf(from, sizeof from, "%s/ctl", ahead_ctl_dir);
		if (renameat(AT_FDCWD, from, sbdirfd, "ctl") == 0) {
			ahead_ctl = -1;
			return fd;
		}
		ahead_ctl_drop();
	}
	return bind_ctl(sbdirfd, err);
}

__attribute__((noreturn)) static void launcher(const struct sb_spec *s, int readyfd)
{
	struct sb_err err = SB_ERR_INIT;
	int sbdirfd, listenfd, usernsfd, done[2] = { -1, -1 };
	pid_t init;

	setsid();
	if (cg_sandbox_enter(s->cg, s->id, getpid(), &err) < 0)
		child_fail(readyfd, &err);
	cg_close(s->cg);
	sbdirfd = open(s->sandbox_dir, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (sbdirfd < 0) {
		sb_syserr(&err, "open sandbox dir");
		child_fail(readyfd, &err);
	}
	listenfd = ctl_take(sbdirfd, &err);
	if (listenfd < 0)
		child_fail(readyfd, &err);
	close(sbdirfd);
	/* before the pid namespace: its first child would be that one's PID 1 */
	usernsfd = make_userns(s->uid_base, &err);
	if (usernsfd < 0)
		child_fail(readyfd, &err);
	/* the next child is PID 1 of a new pid namespace; the other namespaces
	 * are the init's alone (pivot_root would move us along otherwise) */
	if (unshare(CLONE_NEWPID) < 0) {
		sb_syserr(&err, "unshare pid namespace");
		child_fail(readyfd, &err);
	}
	/* the pair made ahead is finished by us, beside the init (which
	 * waits for our word only before it enters its user namespace) */
	if (s->net && ahead_host && pipe2(done, O_CLOEXEC) < 0) {
		sb_syserr(&err, "pipe");
		child_fail(readyfd, &err);
	}
	init = fork();
	if (init < 0) {
		sb_syserr(&err, "fork init");
		child_fail(readyfd, &err);
	}
	if (init == 0) {
		if (done[1] >= 0) {
			close(done[1]);
			ahead_done = done[0];
		}
		init_child(s, readyfd, listenfd, usernsfd);
	}
	/* first, as always: the init's records (its ready) come after ours,
	 * and it is ready only after our word */
	ready_send(readyfd, SB_READY_PID, init, NULL);
	if (done[1] >= 0) {
		struct sb_err nerr = SB_ERR_INIT;
		char ok;

		close(done[0]);
		/* an init that failed first has closed its end */
		signal(SIGPIPE, SIG_IGN);
		ok = net_up_ahead(hostnl, s->net, &nerr) == 0;
		sb_write_full(done[1], &ok, 1);
		close(done[1]);
	}
	nl_close(hostnl);
	nl_close(initnl);
	nl_close(ahead_nl);
	_exit(0);
}

/* Close every fd from lowfd up but a, b, c and d (-1: none). */
static void close_fds_but(int lowfd, int a, int b, int c, int d)
{
	int keep[4] = { a, b, c, d };

	for (int i = 1; i < 4; i++)
		for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];

			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (int i = 0; i < 4; i++) {
		if (keep[i] < lowfd)
			continue;
		if (keep[i] > lowfd && syscall(SYS_close_range, (unsigned)lowfd, (unsigned)keep[i] - 1, 0U) < 0)
			for (int fd = lowfd; fd < keep[i]; fd++)
				close(fd);
		lowfd = keep[i] + 1;
	}
	sb_close_fds_from(lowfd);
}

/* Its settings came already (a start that found no launcher waiting forks
 * one and writes them at once): the pair made ahead would only add a
 * rename to what the start makes itself. */
static bool conf_waiting(void)
{
	struct pollfd p = { .fd = SB_LAUNCH_CONF_FD, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

/* The launch settings from the conf pipe, checked: a worker of another
 * build (an upgrade under a running service) gets a clear error. */
static int read_conf(struct sb_launch_conf *c, struct sb_err *err)
{
	ssize_t n = sb_read_full(SB_LAUNCH_CONF_FD, c, sizeof *c);

	close(SB_LAUNCH_CONF_FD);
	if (n != (ssize_t)sizeof *c || c->magic != SB_LAUNCH_MAGIC || c->size != sizeof *c)
		return sb_fail(err, SB_E_INTERNAL, EPROTO, "sandboxd-init: settings from another build of sandboxd");
	c->id[sizeof c->id - 1] = '\0';
	c->sandbox_dir[sizeof c->sandbox_dir - 1] = '\0';
	c->image_dir[sizeof c->image_dir - 1] = '\0';
	c->net_resolv[sizeof c->net_resolv - 1] = '\0';
	c->ca_bundle[sizeof c->ca_bundle - 1] = '\0';
	return 0;
}

int main(int argc, char **argv)
{
	struct sb_err err = SB_ERR_INIT;
	struct sb_launch_ahead ahead;
	struct sb_launch_conf c;
	struct sb_cgroups cg = { 0 };
	int fd = SB_LAUNCH_CG_FD;
	sigset_t none;

	/* first: the exec made us dumpable again (a root-owned, readable binary) */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (fcntl(SB_LAUNCH_CONF_FD, F_GETFD) < 0 || fcntl(SB_LAUNCH_READY_FD, F_GETFD) < 0) {
		fputs("sandboxd-init: started by sandboxd to start a sandbox, not by hand\n", stderr);
		return 2;
	}
	prctl(PR_SET_NAME, "sandbox-launch", 0, 0, 0);
	(void)argc;
	(void)argv;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* the part of the lock-down that is the same for every sandbox, done
	 * while the launcher may still wait for its settings (exec'd ahead of
	 * its start: sandbox_prepare) */
	if (sb_lockdown_prepare(&err) < 0)
		child_fail(SB_LAUNCH_READY_FD, &err);
	/* what the service has every launcher make ahead (written with the
	 * fork, before any settings) */
	if (sb_read_full(SB_LAUNCH_CONF_FD, &ahead, sizeof ahead) != (ssize_t)sizeof ahead ||
	    ahead.magic != SB_LAUNCH_AHEAD_MAGIC) {
		sb_fail(&err, SB_E_INTERNAL, EPROTO, "sandboxd-init: settings from another build of sandboxd");
		child_fail(SB_LAUNCH_READY_FD, &err);
	}
	ahead.net_prefix[sizeof ahead.net_prefix - 1] = '\0';
	ahead.ctl_dir[sizeof ahead.ctl_dir - 1] = '\0';
	/* and the sandbox's network namespace (the slowest to make, ~0.25 ms;
	 * owned by the host's user namespace as the others): the host's
	 * rtnetlink socket first, for a veth (net_up), and, when we make the
	 * pair ahead, the init's too (we finish that pair with ours); closed
	 * at once without a network */
	if (!(hostnl = nl_open(&err)) || (ahead.net_prefix[0] && !(initnl = nl_open(&err))))
		child_fail(SB_LAUNCH_READY_FD, &err);
	if (unshare(CLONE_NEWNET) < 0) {
		sb_syserr(&err, "unshare the network namespace");
		child_fail(SB_LAUNCH_READY_FD, &err);
	}
	/* with a network, the sandbox's veth pair too */
	if (ahead.ctl_dir[0] && !conf_waiting())
		ctl_ahead(ahead.ctl_dir);
	if (ahead.net_prefix[0] && !conf_waiting())
		veth_ahead(hostnl, ahead.net_prefix);
	if (read_conf(&c, &err) < 0)
		child_fail(SB_LAUNCH_READY_FD, &err);
	if (!c.net) {
		/* a sandbox without a network has lo only */
		if (ahead_host && nl_link_del(hostnl, ahead_name, &err) < 0)
			child_fail(SB_LAUNCH_READY_FD, &err);
		ahead_host = 0;
		nl_close(ahead_nl);
		ahead_nl = NULL;
		nl_close(hostnl);
		hostnl = NULL;
		nl_close(initnl);
		initnl = NULL;
	}
	cg.version = c.cg_version;
	cg.ops = &cg_kernel;
	for (int i = 0; i < CG_NDIRS; i++)
		cg.dir[i] = c.cg_present[i] ? fd++ : -1;
	/* whatever else might be open (nothing, unless a worker fd lost its
	 * O_CLOEXEC) goes before any of the sandbox is made, but for the
	 * rtnetlink sockets we opened and the control socket bound ahead */
	close_fds_but(fd, hostnl ? mnl_socket_get_fd(hostnl) : -1, initnl ? mnl_socket_get_fd(initnl) : -1,
		      ahead_nl ? mnl_socket_get_fd(ahead_nl) : -1, ahead_ctl);

	struct sb_net_spec net = { .addr = c.net_addr, .gw = c.net_gw,
				   .resolv = c.net_resolv[0] ? c.net_resolv : NULL };
	struct sb_spec s = {
		.id = c.id, .sandbox_dir = c.sandbox_dir, .image_dir = c.image_dir,
		.uid_base = c.uid_base, .host_dirs = c.host_dirs, .disk = c.disk, .cg = &cg,
		.net = c.net ? &net : NULL, .ca_bundle = c.ca_bundle[0] ? c.ca_bundle : NULL,
	};
	memcpy(net.host_if, c.net_host_if, sizeof net.host_if);
	net.host_if[sizeof net.host_if - 1] = '\0';
	launcher(&s, SB_LAUNCH_READY_FD);
}
