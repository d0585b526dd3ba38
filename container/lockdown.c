/* Lock-down of sandbox processes.
 *
 * Capabilities: the sandbox's root is root only in its own user namespace,
 * and owns none of its other namespaces; on top of that the bounding set is
 * cut to Docker's default, so no process of the sandbox holds CAP_SYS_ADMIN,
 * CAP_SYS_PTRACE, CAP_NET_ADMIN, ... even there.
 *
 * Seccomp: a default-allow filter that denies what Docker's default profile
 * denies to a container without CAP_SYS_ADMIN (module, kexec, key, bpf,
 * perf, mount and namespace calls, clock setting, ...), plus what the
 * project's brief adds: new user namespaces (clone/unshare with
 * CLONE_NEWUSER), io_uring, userfaultfd, open_by_handle_at, the new mount
 * API, ioctl TIOCSTI/TIOCLINUX (CVE-2019-10063), and every non-native ABI
 * (i386, x32): the process is killed.  clone3 answers ENOSYS: its flags
 * live in memory a filter cannot read, and libc falls back to clone, whose
 * flags it can; so does Linux AIO (io_setup, ...), whose context pool is
 * one for the whole host.  Sockets are an allow list: AF_UNIX, AF_INET, AF_INET6 and
 * AF_NETLINK with NETLINK_ROUTE; any other family (AF_VSOCK reaches the
 * hypervisor past every namespace, the uevent netlink shows the host's
 * devices, ...) answers EAFNOSUPPORT, to socket and socketpair, and so
 * does AF_INET with SOCK_PACKET, which the kernel turns into AF_PACKET.
 *
 * The kernel reads an int argument from the low 32 bits of its register; the
 * filter sees all 64.  No rule may let a value pass whose low 32 bits it
 * refuses: ioctl requests and socket families are compared masked to 32
 * bits, CLONE_NEWUSER is a masked bit test, and what is compared on all 64
 * bits refuses any value with a high bit set (fails closed).  personality
 * and prctl have no rule: what they set is the caller's own (the risky
 * personality flags are cleared on a setuid exec, which no_new_privs makes
 * powerless anyway), and the prctl that reaches further, PR_SET_MM, needs
 * CAP_SYS_RESOURCE, which the bounding set cut. */
#include "config.h"

#include "lockdown.h"

#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sched.h>

static struct sock_fprog prog;

/* Docker's default capabilities. */
static const int keep_caps[] = {
	CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_MKNOD, CAP_NET_RAW,
	CAP_SETGID, CAP_SETUID, CAP_SETFCAP, CAP_SETPCAP, CAP_NET_BIND_SERVICE,
	CAP_SYS_CHROOT, CAP_KILL, CAP_AUDIT_WRITE,
};

static const char *const denied[] = {
	"acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "settimeofday",
	"create_module", "delete_module", "finit_module", "init_module", "get_kernel_syms",
	"query_module", "kexec_file_load", "kexec_load", "keyctl", "request_key",
	"lookup_dcookie", "nfsservctl", "open_by_handle_at", "name_to_handle_at",
	"perf_event_open", "pivot_root", "quotactl", "quotactl_fd", "reboot", "swapon",
	"swapoff", "sysfs", "_sysctl", "uselib", "userfaultfd", "ustat", "vm86", "vm86old",
	"iopl", "ioperm", "io_uring_setup", "io_uring_enter", "io_uring_register",
	"mount", "umount", "umount2", "fsopen", "fsconfig", "fsmount", "fspick",
	"move_mount", "open_tree", "mount_setattr", "setns",
	"kcmp", "syslog", "vhangup", "fanotify_init", "mbind", "set_mempolicy",
	"migrate_pages", "move_pages", "get_mempolicy",
};

/* Linux AIO (io_setup and its kin) answers ENOSYS, as on a kernel built
 * without it (CONFIG_AIO=n): its contexts come from one host-wide pool,
 * fs.aio-max-nr (65536 events), counted in no cgroup and no namespace, so
 * one io_setup(32768) in a sandbox took it all and io_setup failed with
 * EAGAIN in every neighbour and on the host (MariaDB, qemu, fio).  ENOSYS is
 * the answer its users fall back on (libaio's io_queue_init passes it on,
 * InnoDB then does its own I/O threads); glibc's POSIX aio_* and libuv
 * never call it.  io_uring keeps EPERM above: kernel.io_uring_disabled=2's
 * own answer, and Docker's. */
static const char *const no_aio[] = {
	"io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents",
};

/* The socket families a sandbox may open: local, IPv4, IPv6 and rtnetlink
 * (a program lists its own addresses and routes through it); netlink is
 * narrowed to NETLINK_ROUTE below.  Ascending: the last is the highest. */
static const int allowed_af[] = { AF_UNIX, AF_INET, AF_INET6, AF_NETLINK };
#define AF_TOP AF_NETLINK
#define SOCK_TYPE_MASK 0xf	/* the kernel's, in linux/net.h */

static int add(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n,
	       const struct scmp_arg_cmp *cmp)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR)
		return 0;	/* unknown to this libseccomp: nothing to deny */
	return seccomp_rule_add_array(ctx, action, nr, n, cmp);
}

static bool af_allowed(int af)
{
	for (size_t i = 0; i < sizeof allowed_af / sizeof *allowed_af; i++)
		if (allowed_af[i] == af)
			return true;
	return false;
}

/* Refuse every socket family but the allowed ones to call (socket or
 * socketpair: the family is argument 0 of both).  The kernel reads the
 * family and the protocol as ints, so an equality on all 64 bits misses
 * 0x100000000 | AF_VSOCK, which is AF_VSOCK to the kernel.  libseccomp has
 * one comparison per argument per rule and no masked range: a rule per
 * refused value below the highest allowed family, on the low 32 bits, and
 * one 64-bit rule for all above it, which also refuses any value with a
 * high bit set whatever its low bits (no program passes one: failing closed
 * costs nothing).  Netlink's protocol is compared on all 64 bits: anything
 * but a plain NETLINK_ROUTE is refused.  The kernel's __sock_create turns
 * (PF_INET, SOCK_PACKET), the obsolete packet socket, into PF_PACKET after
 * the filter saw AF_INET: refused too, the type (an int too, the type in its
 * low 4 bits, SOCK_TYPE_MASK, SOCK_NONBLOCK and SOCK_CLOEXEC above) masked
 * to those 4 bits.  No other pair is rewritten. */
static int deny_families(scmp_filter_ctx ctx, const char *call)
{
	const uint32_t refuse = SCMP_ACT_ERRNO(EAFNOSUPPORT);
	struct scmp_arg_cmp cmp[2] = { SCMP_A0(SCMP_CMP_GT, AF_TOP) };
	int r = add(ctx, refuse, call, 1, cmp);

	for (int af = 0; af < AF_TOP && !r; af++) {
		if (af_allowed(af))
			continue;
		cmp[0] = SCMP_A0(SCMP_CMP_MASKED_EQ, 0xFFFFFFFFu, af);
		r = add(ctx, refuse, call, 1, cmp);
	}
	cmp[0] = SCMP_A0(SCMP_CMP_MASKED_EQ, 0xFFFFFFFFu, AF_INET);
	cmp[1] = SCMP_A1(SCMP_CMP_MASKED_EQ, SOCK_TYPE_MASK, SOCK_PACKET);
	if (!r)
		r = add(ctx, refuse, call, 2, cmp);
	cmp[0] = SCMP_A0(SCMP_CMP_MASKED_EQ, 0xFFFFFFFFu, AF_NETLINK);
	cmp[1] = SCMP_A2(SCMP_CMP_NE, NETLINK_ROUTE);
	return r ? r : add(ctx, refuse, call, 2, cmp);
}

static int build(scmp_filter_ctx ctx)
{
	const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
	const struct scmp_arg_cmp newuser = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER);
	const struct scmp_arg_cmp tiocsti = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xFFFFFFFFu, TIOCSTI);
	const struct scmp_arg_cmp tioclinux = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xFFFFFFFFu, TIOCLINUX);
	int r = 0;

	for (size_t i = 0; i < sizeof denied / sizeof *denied && !r; i++)
		r = add(ctx, eperm, denied[i], 0, NULL);
	if (!r)
		r = add(ctx, eperm, "unshare", 1, &newuser);
	if (!r)
		r = add(ctx, eperm, "clone", 1, &newuser);
	if (!r)
		r = add(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
	for (size_t i = 0; i < sizeof no_aio / sizeof *no_aio && !r; i++)
		r = add(ctx, SCMP_ACT_ERRNO(ENOSYS), no_aio[i], 0, NULL);
	if (!r)
		r = add(ctx, eperm, "ioctl", 1, &tiocsti);
	if (!r)
		r = add(ctx, eperm, "ioctl", 1, &tioclinux);
	if (!r)
		r = deny_families(ctx, "socket");
	if (!r)
		r = deny_families(ctx, "socketpair");
	return r;
}

int sb_lockdown_prepare(struct sb_err *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	cleanup_close int fd = -1;
	struct stat st;
	char *buf;
	int r;

	if (!ctx)
		return sb_fail(err, SB_E_INTERNAL, ENOMEM, "seccomp init");
	/* native arch only: any other ABI kills the process */
	seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	r = build(ctx);
	fd = memfd_create("seccomp", MFD_CLOEXEC);
	if (r == 0 && fd >= 0)
		r = seccomp_export_bpf(ctx, fd);
	seccomp_release(ctx);
	if (r < 0 || fd < 0)
		return sb_fail(err, SB_E_INTERNAL, r < 0 ? -r : errno, "build seccomp filter");
	if (fstat(fd, &st) < 0 || st.st_size == 0 || st.st_size % sizeof(struct sock_filter))
		return sb_fail(err, SB_E_INTERNAL, EINVAL, "seccomp filter export");
	buf = malloc((size_t)st.st_size);
	if (!buf || pread(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
		free(buf);
		return sb_fail(err, SB_E_INTERNAL, EIO, "seccomp filter read");
	}
	prog.len = (unsigned short)(st.st_size / (off_t)sizeof(struct sock_filter));
	prog.filter = (struct sock_filter *)buf;
	return 0;
}

static int drop_caps(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	uint64_t keep = 0;

	for (size_t i = 0; i < sizeof keep_caps / sizeof *keep_caps; i++)
		keep |= 1ULL << keep_caps[i];
	for (int cap = 0; cap <= 63; cap++) {
		if (keep & (1ULL << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return -1;
	}
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	memset(data, 0, sizeof data);
	data[0].effective = data[0].permitted = (uint32_t)keep;
	data[1].effective = data[1].permitted = (uint32_t)(keep >> 32);
	return (int)syscall(SYS_capset, &hdr, data);
}

int sb_lockdown_apply(void)
{
	if (drop_caps() < 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	if (prog.len && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		return -1;
	return 0;
}

const char *const *sb_lockdown_denied(size_t *n)
{
	*n = sizeof denied / sizeof *denied;
	return denied;
}

const char *const *sb_lockdown_enosys(size_t *n)
{
	*n = sizeof no_aio / sizeof *no_aio;
	return no_aio;
}
