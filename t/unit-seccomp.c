/* The seccomp filter as the kernel holds it, checked against the deny
 * table: a child installs the lock-down exactly as a sandbox's init does,
 * stops, and hands its filter over (PTRACE_SECCOMP_GET_FILTER); the program
 * is then run here, by a small classic-BPF interpreter, on seccomp_data
 * built for every denied call, with arguments the kernel would accept.
 * Nothing denied is ever called for real: on a broken filter a host call
 * such as reboot would go through (the tests run as root).
 *
 * Two lists: the table lock-down exports (every name in it must be denied
 * by the loaded program), and this file's own copy of today's table and
 * argument rules (so that a name dropped from lockdown.c is noticed too).
 * A change to the deny list updates both.  The socket rule is an allow
 * list: every family 0..255 of socket and socketpair is run, plain, with
 * high bits (refused: fail closed) and with netlink's every protocol (only
 * NETLINK_ROUTE passes). */
#include "config.h"

#include "lockdown.h"
#include "tap.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif

#define RET_BAD 0xdeadbeefu
#define MAXINSNS 4096

static struct sock_filter insns[MAXINSNS];
static long ninsns;

/* Classic BPF, the subset the kernel's seccomp accepts. */
static uint32_t bpf_run(const struct seccomp_data *d)
{
	uint32_t A = 0, X = 0, M[BPF_MEMWORDS] = { 0 };

	for (long pc = 0; pc >= 0 && pc < ninsns; pc++) {
		const struct sock_filter *i = &insns[pc];
		uint32_t src = BPF_SRC(i->code) == BPF_X ? X : i->k;

		switch (BPF_CLASS(i->code)) {
		case BPF_LD:
			if (BPF_MODE(i->code) == BPF_ABS && BPF_SIZE(i->code) == BPF_W) {
				if (i->k % 4 || i->k + 4 > sizeof *d)
					return RET_BAD;
				memcpy(&A, (const char *)d + i->k, 4);
			} else if (BPF_MODE(i->code) == BPF_IMM) {
				A = i->k;
			} else if (BPF_MODE(i->code) == BPF_MEM && i->k < BPF_MEMWORDS) {
				A = M[i->k];
			} else if (BPF_MODE(i->code) == BPF_LEN) {
				A = sizeof *d;
			} else {
				return RET_BAD;
			}
			break;
		case BPF_LDX:
			if (BPF_MODE(i->code) == BPF_IMM)
				X = i->k;
			else if (BPF_MODE(i->code) == BPF_MEM && i->k < BPF_MEMWORDS)
				X = M[i->k];
			else if (BPF_MODE(i->code) == BPF_LEN)
				X = sizeof *d;
			else
				return RET_BAD;
			break;
		case BPF_ST:
		case BPF_STX:
			if (i->k >= BPF_MEMWORDS)
				return RET_BAD;
			M[i->k] = BPF_CLASS(i->code) == BPF_ST ? A : X;
			break;
		case BPF_ALU:
			switch (BPF_OP(i->code)) {
			case BPF_ADD: A += src; break;
			case BPF_SUB: A -= src; break;
			case BPF_MUL: A *= src; break;
			case BPF_DIV: if (!src) return RET_BAD; A /= src; break;
			case BPF_MOD: if (!src) return RET_BAD; A %= src; break;
			case BPF_OR: A |= src; break;
			case BPF_AND: A &= src; break;
			case BPF_XOR: A ^= src; break;
			case BPF_LSH: A = src < 32 ? A << src : 0; break;
			case BPF_RSH: A = src < 32 ? A >> src : 0; break;
			case BPF_NEG: A = -A; break;
			default: return RET_BAD;
			}
			break;
		case BPF_JMP:
			switch (BPF_OP(i->code)) {
			case BPF_JA: pc += i->k; break;
			case BPF_JEQ: pc += A == src ? i->jt : i->jf; break;
			case BPF_JGT: pc += A > src ? i->jt : i->jf; break;
			case BPF_JGE: pc += A >= src ? i->jt : i->jf; break;
			case BPF_JSET: pc += (A & src) ? i->jt : i->jf; break;
			default: return RET_BAD;
			}
			break;
		case BPF_RET:
			return BPF_RVAL(i->code) == BPF_K ? i->k : A;
		case BPF_MISC:
			if (BPF_MISCOP(i->code) == BPF_TAX)
				X = A;
			else
				A = X;
			break;
		default:
			return RET_BAD;
		}
	}
	return RET_BAD;	/* ran off the end: the kernel would not have loaded it */
}

/* The filter of a child that locked itself down as an init does. */
static long loaded_filter(void)
{
	struct sb_err err = SB_ERR_INIT;
	int status;
	long n;
	pid_t pid;

	if (sb_lockdown_prepare(&err) < 0) {
		printf("# sb_lockdown_prepare: %s\n", err.msg);
		return -1;
	}
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0 || sb_lockdown_apply() < 0)
			_exit(1);
		raise(SIGSTOP);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status)) {
		printf("# the child did not stop (status %#x)\n", status);
		return -1;
	}
	n = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, 0L, NULL);
	if (n > 0 && n <= MAXINSNS)
		n = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, 0L, insns);
	else if (n > MAXINSNS)
		n = -1;
	if (n < 0)
		printf("# PTRACE_SECCOMP_GET_FILTER: %s\n", strerror(errno));
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return n;
}

static uint32_t verdict(uint32_t arch, long nr, const uint64_t *args)
{
	struct seccomp_data d = { .nr = (int)nr, .arch = arch, .instruction_pointer = 0x400000 };

	if (args)
		memcpy(d.args, args, sizeof d.args);
	return bpf_run(&d);
}

#define NATIVE AUDIT_ARCH_X86_64
#define ERRNO(e) (SECCOMP_RET_ERRNO | (e))
#define ALLOW SECCOMP_RET_ALLOW

static const char *action(uint32_t r)
{
	static char buf[48];

	switch (r & SECCOMP_RET_ACTION_FULL) {
	case SECCOMP_RET_ALLOW: return "allow";
	case SECCOMP_RET_KILL_PROCESS: return "kill-process";
	case SECCOMP_RET_KILL_THREAD: return "kill-thread";
	case SECCOMP_RET_ERRNO:
		snprintf(buf, sizeof buf, "errno %s", strerrorname_np((int)(r & SECCOMP_RET_DATA)) ?: "?");
		return buf;
	default:
		snprintf(buf, sizeof buf, "%#x", r);
		return buf;
	}
}

static bool denies(uint32_t r)
{
	uint32_t a = r & SECCOMP_RET_ACTION_FULL;

	return r != RET_BAD && (a == SECCOMP_RET_ERRNO || a == SECCOMP_RET_KILL_PROCESS ||
				a == SECCOMP_RET_KILL_THREAD || a == SECCOMP_RET_TRAP);
}

/* Today's table in lockdown.c, copied: a rule dropped there fails here. */
static const char *const expected_denied[] = {
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

/* Linux AIO: ENOSYS (its context pool, fs.aio-max-nr, is the host's) */
static const char *const expected_enosys[] = {
	"io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents",
};

static const uint64_t zero[6], ones[6] = { ~0ULL, ~0ULL, ~0ULL, ~0ULL, ~0ULL, ~0ULL };
/* arguments a kernel would take: userfaultfd(UFFD_USER_MODE_ONLY),
 * keyctl(KEYCTL_GET_KEYRING_ID, session), bpf(BPF_PROG_LOAD, ...) ... the
 * filter must not look at them at all */
static const uint64_t usual[6] = { 1, 0xfffffffffffffffdULL, 0, 0, 0, 0 };

/* exact: the errno documented (EPERM, or ENOSYS for what answers as if
 * missing); else any denial (errno, kill, trap) */
static void denied_with(const char *name, const char *why, bool exact, int e)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr < 0) {
		ok(1, "%s: no such call on this architecture (nothing to check)", name);
		return;
	}
	for (int k = 0; k < 3; k++) {
		const uint64_t *a = k == 0 ? zero : k == 1 ? ones : usual;
		uint32_t r = verdict(NATIVE, nr, a);
		ok(exact ? r == ERRNO(e) : denies(r), "%s: %s(nr %d, args %s) is %s (got %s)", why, name, nr,
		   k == 0 ? "0" : k == 1 ? "~0" : "usual", exact ? (e == ENOSYS ? "ENOSYS" : "EPERM") : "denied", action(r));
	}
}

static void denied_by_name(const char *name, const char *why, bool exact)
{
	denied_with(name, why, exact, EPERM);
}

/* Today's socket allow list in lockdown.c, copied: a family let through
 * there, or one taken away, fails here. */
static bool family_allowed(uint64_t af)
{
	return af == AF_UNIX || af == AF_INET || af == AF_INET6 || af == AF_NETLINK;
}

/* One check per kind of value: the families that answer otherwise than the
 * allow list says are named in the message. */
static void family_sweep(const char *call, long nr, const char *kind, uint64_t high, uint64_t proto)
{
	char wrong[512] = "";
	size_t w = 0;
	uint64_t a[6] = { 0 };
	int bad = 0;

	for (uint64_t af = 0; af < 256; af++) {
		bool allow = !high && family_allowed(af);
		uint32_t r;

		a[0] = af | high;
		a[1] = SOCK_STREAM;
		a[2] = af == AF_NETLINK ? NETLINK_ROUTE : proto;
		r = verdict(NATIVE, nr, a);
		if (r == (allow ? ALLOW : ERRNO(EAFNOSUPPORT)))
			continue;
		bad++;
		if (w < sizeof wrong - 40)
			w += (size_t)snprintf(wrong + w, sizeof wrong - w, " %llu:%s",
					      (unsigned long long)af, action(r));
	}
	ok(bad == 0, "%s: families 0..255%s: only unix, inet, inet6 and netlink allowed, "
	   "the rest EAFNOSUPPORT (wrong:%s)", call, kind, bad ? wrong : " none");
}

static void socket_rules(const char *call, long nr)
{
	static const struct { uint64_t af; const char *name; } refused[] = {
		{ AF_VSOCK, "AF_VSOCK" }, { AF_PACKET, "AF_PACKET" }, { AF_KEY, "AF_KEY" },
		{ AF_ALG, "AF_ALG" }, { AF_BLUETOOTH, "AF_BLUETOOTH" }, { 46, "46 (AF_MAX today)" },
		{ 0xFFFFFFFFULL, "0xFFFFFFFF" }, { 0x7FFFFFFFULL, "0x7FFFFFFF" },
	};
	static const struct { uint64_t af; const char *name; } allowed[] = {
		{ AF_UNIX, "AF_UNIX" }, { AF_INET, "AF_INET" }, { AF_INET6, "AF_INET6" },
	};
	uint64_t a[6] = { 0, SOCK_STREAM, 0, 0, 0, 0 };
	uint32_t r;

	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
		a[0] = refused[i].af;
		r = verdict(NATIVE, nr, a);
		ok(r == ERRNO(EAFNOSUPPORT), "%s(%s) is EAFNOSUPPORT (got %s)", call, refused[i].name, action(r));
		a[0] = refused[i].af | (1ULL << 32);
		r = verdict(NATIVE, nr, a);
		ok(r == ERRNO(EAFNOSUPPORT), "%s(%s | 1<<32) is EAFNOSUPPORT (got %s)", call, refused[i].name,
		   action(r));
	}
	for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++) {
		a[0] = allowed[i].af;
		a[2] = 0;
		r = verdict(NATIVE, nr, a);
		ok(r == ALLOW, "%s(%s) is allowed (got %s)", call, allowed[i].name, action(r));
		a[2] = ~0ULL;	/* the filter looks at no protocol but netlink's */
		r = verdict(NATIVE, nr, a);
		ok(r == ALLOW, "%s(%s, protocol ~0) is allowed (got %s)", call, allowed[i].name, action(r));
		/* 64-bit comparisons fail closed: what a high bit hides is refused */
		a[0] = allowed[i].af | (1ULL << 32);
		a[2] = 0;
		r = verdict(NATIVE, nr, a);
		ok(r == ERRNO(EAFNOSUPPORT), "%s(%s | 1<<32) is EAFNOSUPPORT (got %s)", call, allowed[i].name,
		   action(r));
	}
	/* netlink: rtnetlink only, its protocol compared on all 64 bits */
	a[0] = AF_NETLINK;
	for (uint64_t p = 0; p < 32; p++) {
		a[2] = p;
		r = verdict(NATIVE, nr, a);
		ok(r == (p == NETLINK_ROUTE ? ALLOW : ERRNO(EAFNOSUPPORT)), "%s(AF_NETLINK, protocol %llu) is %s (got %s)",
		   call, (unsigned long long)p, p == NETLINK_ROUTE ? "allowed" : "EAFNOSUPPORT", action(r));
	}
	a[2] = NETLINK_ROUTE | (1ULL << 32);
	r = verdict(NATIVE, nr, a);
	ok(r == ERRNO(EAFNOSUPPORT), "%s(AF_NETLINK, NETLINK_ROUTE | 1<<32) is EAFNOSUPPORT (got %s)", call, action(r));
	a[0] = AF_NETLINK | (1ULL << 32);
	a[2] = NETLINK_ROUTE;
	r = verdict(NATIVE, nr, a);
	ok(r == ERRNO(EAFNOSUPPORT), "%s(AF_NETLINK | 1<<32, NETLINK_ROUTE) is EAFNOSUPPORT (got %s)", call, action(r));
	family_sweep(call, nr, "", 0, 0);
	family_sweep(call, nr, " with protocol ~0 (netlink: NETLINK_ROUTE)", 0, ~0ULL);
	family_sweep(call, nr, " | 1<<32", 1ULL << 32, 0);
	family_sweep(call, nr, " | 1<<63", 1ULL << 63, 0);
}

static void args_rules(void)
{
	uint64_t a[6] = { 0 };

	a[0] = CLONE_NEWUSER | SIGCHLD;
	ok(verdict(NATIVE, __NR_clone, a) == ERRNO(EPERM), "clone(CLONE_NEWUSER) is EPERM");
	a[0] = CLONE_NEWUSER | CLONE_NEWNS | (1ULL << 40);
	ok(verdict(NATIVE, __NR_clone, a) == ERRNO(EPERM), "clone(CLONE_NEWUSER | others | high bits) is EPERM");
	a[0] = SIGCHLD;
	ok(verdict(NATIVE, __NR_clone, a) == ALLOW, "clone(SIGCHLD) is allowed");
	a[0] = CLONE_NEWUSER;
	ok(verdict(NATIVE, __NR_unshare, a) == ERRNO(EPERM), "unshare(CLONE_NEWUSER) is EPERM");
	a[0] = CLONE_NEWNS;
	ok(verdict(NATIVE, __NR_unshare, a) == ALLOW, "unshare(CLONE_NEWNS) is left to the kernel");
	ok(verdict(NATIVE, __NR_clone3, zero) == ERRNO(ENOSYS), "clone3 is ENOSYS");
	a[0] = 0;
	a[1] = TIOCSTI;
	ok(verdict(NATIVE, __NR_ioctl, a) == ERRNO(EPERM), "ioctl(TIOCSTI) is EPERM");
	a[1] = TIOCSTI | (1ULL << 32);
	ok(verdict(NATIVE, __NR_ioctl, a) == ERRNO(EPERM), "ioctl(TIOCSTI | 1<<32) is EPERM");
	a[1] = TIOCLINUX;
	ok(verdict(NATIVE, __NR_ioctl, a) == ERRNO(EPERM), "ioctl(TIOCLINUX) is EPERM");
	a[1] = TIOCLINUX | (0xffULL << 40);
	ok(verdict(NATIVE, __NR_ioctl, a) == ERRNO(EPERM), "ioctl(TIOCLINUX | high bits) is EPERM");
	a[1] = TIOCGWINSZ;
	ok(verdict(NATIVE, __NR_ioctl, a) == ALLOW, "ioctl(TIOCGWINSZ) is allowed");
	a[0] = AF_VSOCK;
	a[1] = SOCK_STREAM;
	ok(verdict(NATIVE, __NR_socket, a) == ERRNO(EAFNOSUPPORT), "socket(AF_VSOCK) is EAFNOSUPPORT");
	a[0] = AF_UNIX;
	ok(verdict(NATIVE, __NR_socket, a) == ALLOW, "socket(AF_UNIX) is allowed");
	a[0] = AF_INET;
	ok(verdict(NATIVE, __NR_socket, a) == ALLOW, "socket(AF_INET) is allowed");
	/* the kernel rewrites (PF_INET, SOCK_PACKET) to PF_PACKET after the
	 * filter: the type's low 4 bits are the type, the rest flags */
	a[1] = SOCK_PACKET;
	ok(verdict(NATIVE, __NR_socket, a) == ERRNO(EAFNOSUPPORT), "socket(AF_INET, SOCK_PACKET) is EAFNOSUPPORT");
	ok(verdict(NATIVE, __NR_socketpair, a) == ERRNO(EAFNOSUPPORT),
	   "socketpair(AF_INET, SOCK_PACKET) is EAFNOSUPPORT");
	a[1] = SOCK_PACKET | SOCK_CLOEXEC | SOCK_NONBLOCK;
	ok(verdict(NATIVE, __NR_socket, a) == ERRNO(EAFNOSUPPORT),
	   "socket(AF_INET, SOCK_PACKET | SOCK_CLOEXEC | SOCK_NONBLOCK) is EAFNOSUPPORT");
	a[1] = SOCK_PACKET | (0xffULL << 32);
	ok(verdict(NATIVE, __NR_socket, a) == ERRNO(EAFNOSUPPORT),
	   "socket(AF_INET, SOCK_PACKET | high bits) is EAFNOSUPPORT");
	a[0] = AF_INET | (1ULL << 32);
	a[1] = SOCK_PACKET;
	ok(verdict(NATIVE, __NR_socket, a) == ERRNO(EAFNOSUPPORT),
	   "socket(AF_INET | 1<<32, SOCK_PACKET) is EAFNOSUPPORT");
	a[0] = AF_INET;
	a[1] = SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK;
	ok(verdict(NATIVE, __NR_socket, a) == ALLOW, "socket(AF_INET, SOCK_DGRAM | flags) is allowed");
	a[0] = AF_INET6;
	a[1] = SOCK_PACKET;
	ok(verdict(NATIVE, __NR_socket, a) == ALLOW,
	   "socket(AF_INET6, SOCK_PACKET) is left to the kernel (no rewrite: it refuses the type)");
	a[1] = SOCK_STREAM;
	ok(verdict(NATIVE, __NR_getpid, zero) == ALLOW, "getpid is allowed");
	ok(verdict(NATIVE, __NR_read, ones) == ALLOW, "read is allowed");
	ok((verdict(AUDIT_ARCH_I386, 20, zero) & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_KILL_PROCESS,
	   "an i386 call kills the process");
	ok((verdict(NATIVE, 0x40000000 | 39, zero) & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_KILL_PROCESS,
	   "an x32 call kills the process (got %s)", action(verdict(NATIVE, 0x40000000 | 39, zero)));
}

int main(void)
{
	const char *const *table;
	size_t n;

	if (geteuid() != 0) {
		printf("1..0 # SKIP reading a loaded filter needs root\n");
		return 0;
	}
	ninsns = loaded_filter();
	ok(ninsns > 0, "the loaded filter read back from a locked-down child (%ld instructions)", ninsns);
	if (ninsns <= 0)
		return done_testing();
	table = sb_lockdown_denied(&n);
	ok(n >= sizeof expected_denied / sizeof *expected_denied, "lockdown's table has %zu names", n);
	for (size_t i = 0; i < n; i++)
		denied_by_name(table[i], "table", false);
	for (size_t i = 0; i < sizeof expected_denied / sizeof *expected_denied; i++)
		denied_by_name(expected_denied[i], "expected", true);
	table = sb_lockdown_enosys(&n);
	ok(n >= sizeof expected_enosys / sizeof *expected_enosys, "lockdown's ENOSYS table has %zu names", n);
	for (size_t i = 0; i < n; i++)
		denied_with(table[i], "enosys table", true, ENOSYS);
	for (size_t i = 0; i < sizeof expected_enosys / sizeof *expected_enosys; i++)
		denied_with(expected_enosys[i], "expected", true, ENOSYS);
	args_rules();
	socket_rules("socket", __NR_socket);
	socket_rules("socketpair", __NR_socketpair);
	return done_testing();
}
