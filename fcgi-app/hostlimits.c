/* Host-wide kernel tables no cgroup or namespace divides, sized so that a
 * sandbox meets its own bound before the host's.
 *
 * fs.file-max: every open file of the host counts against it, and past it
 * open() fails with ENFILE for every process without CAP_SYS_ADMIN (nginx's
 * workers among them).  The kernel sizes it at boot to ~10% of memory in
 * 1 KiB files (2.47M on a 24 GiB host), while a sandbox's files are charged
 * to its memory cgroup (struct file, the fd table): a 1 GiB sandbox held
 * 1.5M, two emptied the table.  Raised to LONG_MAX, as systemd does at
 * boot: the memory limits are then the bound, each sandbox's its own.
 *
 * kernel.pty.max: every devpts instance but the host's first shares
 * pty.max - pty.reserve ptys (3072 by default).  Each sandbox's devpts is
 * mounted with max=SB_PTY_MAX (rootfs.c); the pool is raised so that every
 * sandbox that may run (--max-running, plus the warm ones) gets all of its
 * own, with the 3072 the kernel's default leaves to the rest of the host
 * on top.  No cap on running sandboxes: the kernel's ceiling. */
#include "config.h"

#include "hostlimits.h"
#include "log.h"
#include "rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PTY_CEILING (1LL << 20)	/* the kernel's NR_UNIX98_PTY_MAX */
#define PTY_HOST_SHARE 3072LL	/* the default pool (4096 - 1024 reserved) */

static long long read_knob(int procfd, const char *path)
{
	char buf[64];

	if (sb_read_file_at(procfd, path, buf, sizeof buf) <= 0)
		return -1;
	return strtoll(buf, NULL, 10);
}

/* knob to at least want (never lowered) */
static void raise_knob(int procfd, const char *path, const char *name, long long want)
{
	long long now = read_knob(procfd, path);
	char v[32];

	if (now < 0 || now >= want)
		return;
	snprintf(v, sizeof v, "%lld", want);
	if (sb_write_file_at(procfd, path, v) < 0)
		log_printf("warn", NULL, "%s: raising it from %lld to %lld: %s (--no-host-sysctls "
			   "leaves it alone)", name, now, want, strerror(errno));
	else
		log_printf("info", NULL, "%s raised from %lld to %lld (--no-host-sysctls leaves it alone)",
			   name, now, want);
}

void host_limits_raise(const struct conf *c)
{
	cleanup_close int procfd = -1;
	long long want, reserve;

	if (c->no_host_sysctls)
		return;
	procfd = open("/proc/sys", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0)
		return;
	raise_knob(procfd, "fs/file-max", "fs.file-max", LLONG_MAX);
	reserve = read_knob(procfd, "kernel/pty/reserve");
	if (reserve < 0)
		return;
	want = c->max_running > 0
		? reserve + PTY_HOST_SHARE + (long long)SB_PTY_MAX * (c->max_running + c->warm_sandboxes)
		: PTY_CEILING;
	raise_knob(procfd, "kernel/pty/max", "kernel.pty.max", want < PTY_CEILING ? want : PTY_CEILING);
}
