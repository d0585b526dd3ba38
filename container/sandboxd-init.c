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
 * mapped by the launcher.  The namespaces other than the user one stay
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

__attribute__((noreturn)) static void child_fail(int readyfd, const struct sb_err *err)
{
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

/* The sandbox's user namespace (0..65535 -> its uid range), as an fd: made
 * by a throwaway child that shares our memory and lives just long enough
 * to be mapped.  The init idmaps its image with it, then enters it last. */
static int make_userns(uid_t base, struct sb_err *err)
{
	static char stack[8192] __attribute__((aligned(16)));
	struct holder h;
	int p[2], fd = -1, status;
	char path[64];
	pid_t c;

	if (pipe2(p, O_CLOEXEC) < 0)
		return sb_syserr(err, "pipe");
	h.rd = p[0];
	h.wr = p[1];
	c = clone(hold_userns, stack + sizeof stack, CLONE_NEWUSER | CLONE_VM | SIGCHLD, &h);
	if (c < 0) {
		sb_syserr(err, "clone user namespace");
	} else if (write_id_maps(c, base, err) == 0) {
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

/* The pair made ahead, finished as net_up finishes a new one.  On a
 * failure the caller drops what is left of it (ahead_drop). */
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

	nl_link_del(ahead_nl, "eth0", &err);
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
 * namespace.  A pair made ahead (veth_ahead) is finished by net_up_ahead. */
static int net_up(struct mnl_socket *hostnl, const struct sb_net_spec *n, struct sb_err *err)
{
	cleanup_close int nsfd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	struct nl_batch b;
	struct mnl_socket *nl;
	unsigned host, eth0 = ETH0;
	bool dropped = false;
	int r;

	if (ahead_host) {
		if (net_up_ahead(hostnl, n, err) == 0)
			return 0;
		/* whatever failed (the host end deleted from the host, a
		 * rename refused): a new pair, as without one made ahead */
		sb_err_clear(err);
		ahead_drop();
		dropped = true;
	}
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

/* The host's rtnetlink socket, opened before the launcher left the host's
 * network namespace (net_up); NULL without a network. */
static struct mnl_socket *hostnl;

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
	if (s->net) {
		if (net_up(hostnl, s->net, &err) < 0) {
			sb_err_prefix(&err, "network");
			child_fail(readyfd, &err);
		}
		nl_close(hostnl);
		hostnl = NULL;
		nl_close(ahead_nl);
		ahead_nl = NULL;
	}
	if (rootfs_setup(&rs, &err) < 0)
		child_fail(readyfd, &err);
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

static int bind_ctl(int sbdirfd, struct sb_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	/* a relative name keeps us within sun_path whatever the data dir */
	snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/ctl", sbdirfd);
	unlinkat(sbdirfd, "ctl", 0);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sb_syserr(err, "socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    fchmodat(sbdirfd, "ctl", 0600, 0) < 0 || listen(fd, 64) < 0) {
		sb_syserr(err, "bind control socket");
		close(fd);
		return -1;
	}
	return fd;
}

__attribute__((noreturn)) static void launcher(const struct sb_spec *s, int readyfd)
{
	struct sb_err err = SB_ERR_INIT;
	int sbdirfd, listenfd, usernsfd;
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
	listenfd = bind_ctl(sbdirfd, &err);
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
	init = fork();
	if (init < 0) {
		sb_syserr(&err, "fork init");
		child_fail(readyfd, &err);
	}
	if (init == 0)
		init_child(s, readyfd, listenfd, usernsfd);
	nl_close(hostnl);
	nl_close(ahead_nl);
	ready_send(readyfd, SB_READY_PID, init, NULL);
	_exit(0);
}

/* Close every fd from lowfd up but a and b (-1: none). */
static void close_fds_but(int lowfd, int a, int b)
{
	int keep[2] = { a < b ? a : b, a < b ? b : a };

	for (int i = 0; i < 2; i++) {
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
	/* and the sandbox's network namespace (the slowest to make, ~0.25 ms;
	 * owned by the host's user namespace as the others): the host's
	 * rtnetlink socket first, for a veth (net_up), closed at once without */
	if (!(hostnl = nl_open(&err)))
		child_fail(SB_LAUNCH_READY_FD, &err);
	if (unshare(CLONE_NEWNET) < 0) {
		sb_syserr(&err, "unshare the network namespace");
		child_fail(SB_LAUNCH_READY_FD, &err);
	}
	/* what the service has every launcher make ahead: with a network,
	 * the sandbox's veth pair too */
	if (sb_read_full(SB_LAUNCH_CONF_FD, &ahead, sizeof ahead) != (ssize_t)sizeof ahead ||
	    ahead.magic != SB_LAUNCH_AHEAD_MAGIC) {
		sb_fail(&err, SB_E_INTERNAL, EPROTO, "sandboxd-init: settings from another build of sandboxd");
		child_fail(SB_LAUNCH_READY_FD, &err);
	}
	ahead.net_prefix[sizeof ahead.net_prefix - 1] = '\0';
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
	}
	cg.version = c.cg_version;
	cg.ops = &cg_kernel;
	for (int i = 0; i < CG_NDIRS; i++)
		cg.dir[i] = c.cg_present[i] ? fd++ : -1;
	/* whatever else might be open (nothing, unless a worker fd lost its
	 * O_CLOEXEC) goes before any of the sandbox is made, but for the
	 * rtnetlink socket we opened */
	close_fds_but(fd, hostnl ? mnl_socket_get_fd(hostnl) : -1, ahead_nl ? mnl_socket_get_fd(ahead_nl) : -1);

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
