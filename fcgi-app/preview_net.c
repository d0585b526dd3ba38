/* A dev server bound to localhost inside a sandbox is previewable: nginx
 * connects to the sandbox's address, and inside the sandbox's network
 * namespace a DNAT rule sends what arrives on eth0 for an exposed port to
 * 127.0.0.1, the same port (route_localnet on eth0 lets the kernel route a
 * packet from outside to a loopback address).  A server bound to 0.0.0.0
 * is reached the same way; only one bound to eth0's address alone, or to
 * ::1 alone, is not.
 *
 * Only exposed ports are translated: a database the sandbox binds to
 * localhost stays its own.  The table lives in the sandbox's namespace,
 * which the host's user namespace owns: the sandbox's root cannot change
 * it.  It is written by a child of the worker that enters the namespace
 * (setns through a pidfd of the init), after an expose or a revoke of a
 * running sandbox's port, and at each start of a sandbox with exposed
 * ports (a start makes a new namespace). */
#include "config.h"

#include "api.h"
#include "app.h"
#include "preview.h"
#include "sandbox.h"

#include <fcntl.h>
#include <nftables/libnftables.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>

struct ports {
	unsigned port[PREVIEW_MAX_PORTS];
	int n;
	int64_t now;
};

static void collect(const struct preview_port *p, void *arg)
{
	struct ports *ps = arg;

	if (p->expires_ms > ps->now && ps->n < PREVIEW_MAX_PORTS)
		ps->port[ps->n++] = p->port;
}

/* The whole table in one transaction: made when missing, its rule and set
 * replaced. */
static void script(const struct ports *ps, char *buf, size_t len)
{
	size_t o = (size_t)snprintf(buf, len,
		"add table ip sandboxd_preview\n"
		"add chain ip sandboxd_preview pre { type nat hook prerouting priority dstnat; policy accept; }\n"
		"add set ip sandboxd_preview ports { type inet_service; }\n"
		"flush chain ip sandboxd_preview pre\n"
		"flush set ip sandboxd_preview ports\n"
		"add rule ip sandboxd_preview pre iifname \"eth0\" tcp dport @ports dnat ip to 127.0.0.1\n");

	for (int i = 0; i < ps->n && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%u%s", i ? ", " : "add element ip sandboxd_preview ports { ",
				      ps->port[i], i == ps->n - 1 ? " }\n" : "");
}

/* In the child: into the init's network namespace, then the sysctl and
 * the table.  Exit status 0 done, 1 failed (said on stderr). */
static __attribute__((noreturn)) void apply_in(int pidfd, const char *nft_script)
{
	struct nft_ctx *nft;
	int fd, rc;

	if (setns(pidfd, CLONE_NEWNET) < 0) {
		fprintf(stderr, "sandboxd: preview: setns: %s\n", strerror(errno));
		_exit(1);
	}
	/* /proc/sys/net is the namespace of whoever opens it: now the sandbox's */
	fd = open("/proc/sys/net/ipv4/conf/eth0/route_localnet", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1", 1) != 1) {
		fprintf(stderr, "sandboxd: preview: route_localnet: %s\n", strerror(errno));
		_exit(1);
	}
	close(fd);
	nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!nft)
		_exit(1);
	nft_ctx_buffer_error(nft);
	rc = nft_run_cmd_from_buffer(nft, nft_script);
	if (rc)
		fprintf(stderr, "sandboxd: preview: nft: %s", nft_ctx_get_error_buffer(nft));
	nft_ctx_free(nft);
	_exit(rc ? 1 : 0);
}

static int apply(pid_t init, unsigned long long start, const char *nft_script, struct sb_err *err)
{
	cleanup_close int pidfd = sb_pidfd_open(init);
	int status;
	pid_t pid;

	/* the pidfd is of the init the record names, or the sandbox is stopped */
	if (pidfd < 0 || sb_proc_starttime(init) != start)
		return 0;
	pid = fork();
	if (pid < 0)
		return sb_syserr(err, "fork");
	if (pid == 0)
		apply_in(pidfd, nft_script);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return sb_syserr(err, "waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return sb_fail(err, SB_E_INTERNAL, 0, "the sandbox's port forwarding to localhost could not be set "
			       "(see the service log)");
	return 0;
}

int preview_net_apply(struct app *app, const char *id, const struct sb_record *r, bool always,
		      struct sb_err *err)
{
	struct ports ps = { .now = sb_now_ms() };
	char buf[1024 + PREVIEW_MAX_PORTS * 8], addr[64];

	if (preview_sandbox_addr(app->conf, r, addr, sizeof addr) < 0)
		return 0;	/* loopback only: nothing to forward */
	if (r->init_pid <= 0 || preview_list(&app->store, id, collect, &ps, err) < 0)
		return r->init_pid <= 0 ? 0 : -1;
	/* a start without exposed ports has nothing to set: no fork */
	if (!ps.n && !always)
		return 0;
	script(&ps, buf, sizeof buf);
	return apply(r->init_pid, r->init_start, buf, err);
}

int preview_net_update(struct app *app, const char *id, struct sb_err *err)
{
	cleanup_sandbox_ref struct sandbox_ref sb = { .dirfd = -1 };
	cleanup_close int lock = -1;
	int ret;

	/* under the sandbox's start lock: a start between the store write and
	 * this would otherwise miss the change, or this a new namespace */
	if (app_sandbox_get(app, id, false, NULL, &sb, err) < 0)
		return -1;
	lock = openat(sb.dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lock < 0)
		return sb_syserr(err, "open lock of %s", id);
	while (flock(lock, LOCK_EX) < 0)
		if (errno != EINTR)
			return sb_syserr(err, "lock %s", id);
	/* the record as it is now, under the lock */
	ret = store_get(&app->store, id, &sb.rec, err);
	if (ret > 0)
		ret = app_sandbox_running(&sb) ? preview_net_apply(app, id, &sb.rec, true, err) : 0;
	return ret < 0 ? -1 : 0;
}
