/* `sandboxd-image import NAME FILE.tar`: a root filesystem from a tarball
 * (`docker export`, a debootstrap tarball, ...), extracted by GNU tar with
 * the owners and modes it records (ids as the sandbox will see them: the
 * image is idmapped at mount).  GNU tar refuses members that climb out
 * with .. or absolute names and defers symlinks until the end, so a member
 * cannot be written through a link planted by an earlier one; the sandbox
 * mounts the result nosuid and nodev. */
#include "config.h"

#include "imagestore.h"
#include "imagetool.h"

#include <fcntl.h>
#include <libgen.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

/* /bin/sh, resolved as the sandbox will (links followed inside the root):
 * every exec runs through it. */
static int check_shell(struct stage *s, struct sb_err *err)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
	cleanup_close int rfd = open(s->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	cleanup_close int sh = -1;
	struct stat st;

	if (rfd < 0)
		return sb_syserr(err, "open %s", s->rootfs);
	sh = (int)syscall(SYS_openat2, rfd, "bin/sh", &how, sizeof how);
	if (sh < 0 || fstat(sh, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111))
		return sb_fail(err, SB_E_INVALID, ENOENT, "the image has no executable /bin/sh "
			       "(every command runs through it)");
	return 0;
}

int imagetool_import(const struct imagetool *t, const char *name, const char *tarball,
		     struct sb_err *err)
{
	char abs[PATH_MAX], source[PATH_MAX + 16], base[PATH_MAX];
	const char *tar[] = { "tar", "--numeric-owner", "--same-owner", "--same-permissions",
			      "-xf", abs, "-C", NULL, NULL };
	struct json_object *rec;
	struct stage s;
	struct stat st;

	if (!realpath(tarball, abs) || stat(abs, &st) < 0)
		return sb_syserr(err, "%s", tarball);
	if (!S_ISREG(st.st_mode))
		return sb_fail(err, SB_E_INVALID, EINVAL, "%s is not a regular file", tarball);
	if (stage_begin(t, name, &s, err) < 0)
		return -1;
	tar[7] = s.rootfs;
	step(&s, 1, 3, "extract");
	if (stage_run(t, &s, tar, NULL, err) < 0)
		goto fail;
	step(&s, 2, 3, "check /bin/sh and the mount points");
	if (check_shell(&s, err) < 0 || stage_mountpoints(&s, err) < 0)
		goto fail;
	rec = json_object_new_object();
	snprintf(base, sizeof base, "%s", abs);
	snprintf(source, sizeof source, "import %s", basename(base));
	json_object_object_add(rec, "source", json_object_new_string(source));
	json_object_object_add(rec, "packages", json_object_new_object());
	step(&s, 3, 3, "publish");
	if (stage_publish(t, name, &s, rec, err) < 0) {
		json_object_put(rec);
		goto fail;
	}
	json_object_put(rec);
	return 0;
fail:
	stage_abort(&s);
	return -1;
}
