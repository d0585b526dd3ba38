/* `sandboxd-image build NAME`: a Debian root filesystem from a recipe,
 * made with debootstrap and apt in a chroot of the stage, downloads kept
 * in the cache dir.  A build whose recipe has not changed since the
 * registered version is a no-op (--refresh rebuilds: new Debian updates). */
#include "config.h"

#include "imagestore.h"
#include "imagetool.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

struct recipe {
	const char *name;
	const char *suite;
	const char *const *packages;	/* from Debian, no recommends */
};

/* The seed's container: git, Python 3.11 with pip and pandas, numpy,
 * matplotlib, requests, GitPython; Node.js with npm and typescript,
 * ts-node, esbuild; gcc, g++, make.  All from Debian 12: Node.js is
 * Debian's 18.x (security-supported by Debian for bookworm's life), as the
 * Debian mirror is all this service may assume reachable; 20.x would need
 * NodeSource or nodejs.org. */
static const char *const bookworm_packages[] = {
	"ca-certificates", "git", "less", "procps", "xz-utils", "unzip", "file",
	"python3", "python3-pip", "python3-venv", "python-is-python3",
	"python3-pandas", "python3-numpy", "python3-matplotlib", "python3-requests", "python3-git",
	"nodejs", "npm", "node-typescript", "ts-node", "esbuild",
	"gcc", "g++", "make", "libc6-dev",
	NULL,
};

static const struct recipe recipes[] = {
	{ "bookworm", "bookworm", bookworm_packages },
};

const char *const *imagetool_recipes(void)
{
	static const char *names[sizeof recipes / sizeof *recipes + 1];

	for (size_t i = 0; i < sizeof recipes / sizeof *recipes; i++)
		names[i] = recipes[i].name;
	return names;
}

/* Docs, man pages and info are not shipped (as in Debian's slim images). */
static const char dpkg_slim[] =
	"path-exclude /usr/share/doc/*\n"
	"path-include /usr/share/doc/*/copyright\n"
	"path-exclude /usr/share/man/*\n"
	"path-exclude /usr/share/info/*\n";

/* Run in the chroot after the packages: the sandbox's /etc, nothing of the
 * host (debootstrap copies the host's resolv.conf and hostname). */
static const char configure_script[] =
	"set -e\n"
	"useradd --create-home --uid 1000 --user-group --shell /bin/bash user\n"
	"printf '127.0.0.1\\tlocalhost\\n::1\\tlocalhost ip6-localhost ip6-loopback\\n' > /etc/hosts\n"
	"printf '# sandboxd: no network egress from this sandbox\\n' > /etc/resolv.conf\n"
	"printf 'LANG=C.UTF-8\\n' > /etc/default/locale\n"
	"printf 'PATH=\"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"\\n"
	"LANG=C.UTF-8\\n' > /etc/environment\n"
	"printf 'export LANG=C.UTF-8\\n' > /etc/profile.d/sandboxd.sh\n"
	"rm -f /etc/hostname /usr/sbin/policy-rc.d\n"
	": > /etc/machine-id\n"
	"mkdir -p /workspace && chmod 0755 /workspace\n"
	"rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb /var/log/apt/* /var/log/dpkg.log "
	"/var/log/bootstrap.log /var/cache/debconf/*-old /tmp/* /root/.npm\n";

/* What makes two builds the same: FNV-1a 64 over the recipe, the mirrors
 * and this builder's own text (a cache key, not a security boundary). */
static void fnv(uint64_t *h, const char *s)
{
	for (; *s; s++) {
		*h ^= (unsigned char)*s;
		*h *= 0x100000001b3ULL;
	}
	*h ^= 0xff;
	*h *= 0x100000001b3ULL;
}

static void recipe_key(const struct imagetool *t, const struct recipe *r, char *out, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	fnv(&h, r->name);
	fnv(&h, r->suite);
	fnv(&h, t->mirror);
	fnv(&h, t->security);
	for (const char *const *p = r->packages; *p; p++)
		fnv(&h, *p);
	fnv(&h, dpkg_slim);
	fnv(&h, configure_script);
	snprintf(out, len, "%016llx", (unsigned long long)h);
}

static int up_to_date(const struct imagetool *t, const char *name, const char *key)
{
	struct sb_err err = SB_ERR_INIT;
	struct imgstore *st = NULL;
	struct json_object *rec = NULL, *v;
	char path[PATH_MAX], when[40];
	int fresh = 0;

	if (imgstore_open(t->images_dir, false, &st, &err) == 0 &&
	    imgstore_get(st, name, &rec, &err) == 1 &&
	    json_object_object_get_ex(rec, "recipe", &v) && !strcmp(json_object_get_string(v), key) &&
	    json_object_object_get_ex(rec, "version", &v) &&
	    image_rootfs_path(t->images_dir, name, json_object_get_string(v), path, sizeof path) == 0 &&
	    access(path, F_OK) == 0) {
		struct json_object *c;
		sb_iso8601(json_object_object_get_ex(rec, "createdAt", &c) ? json_object_get_int64(c) : 0,
			   when, sizeof when);
		fprintf(stderr, "sandboxd-image: %s is up to date (version %s, built %s, same recipe %s);"
			" --refresh rebuilds it\n", name, json_object_get_string(v), when, key);
		fresh = 1;
	}
	json_object_put(rec);
	imgstore_close(st);
	return fresh;
}

static int write_in(const char *rootfs, const char *rel, const char *text, mode_t mode,
		    struct sb_err *err)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof path, "%s/%s", rootfs, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return sb_syserr(err, "create %s", path);
	if (sb_write_full(fd, text, strlen(text)) < 0 || fchmod(fd, mode) < 0) {
		close(fd);
		return sb_syserr(err, "write %s", path);
	}
	close(fd);
	return 0;
}

/* apt's sources and policy before the packages come in */
static int prepare_apt(const struct imagetool *t, const struct recipe *r, struct stage *s,
		       struct sb_err *err)
{
	char sources[1024];

	snprintf(sources, sizeof sources,
		 "deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n",
		 t->mirror, r->suite, t->mirror, r->suite, t->security, r->suite);
	if (write_in(s->rootfs, "etc/apt/sources.list", sources, 0644, err) < 0 ||
	    write_in(s->rootfs, "etc/dpkg/dpkg.cfg.d/01-sandboxd-slim", dpkg_slim, 0644, err) < 0 ||
	    write_in(s->rootfs, "usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", 0755, err) < 0)
		return -1;
	return 0;
}

/* /proc and the package cache in the stage, in our private mount namespace
 * (they vanish with us, whatever happens). */
static int mount_helpers(const struct imagetool *t, struct stage *s, bool on, struct sb_err *err)
{
	char proc[PATH_MAX + 8], archives[PATH_MAX + 32], cache[PATH_MAX];

	snprintf(proc, sizeof proc, "%s/proc", s->rootfs);
	snprintf(archives, sizeof archives, "%s/var/cache/apt/archives", s->rootfs);
	snprintf(cache, sizeof cache, "%s/apt", t->cache_dir);
	if (!on) {
		umount2(proc, MNT_DETACH);
		umount2(archives, MNT_DETACH);
		return 0;
	}
	if (sb_mkdir_p(cache, 0755) < 0 || sb_mkdir_p(archives, 0755) < 0)
		return sb_syserr(err, "mkdir %s", cache);
	if (mount(cache, archives, NULL, MS_BIND, NULL) < 0)
		return sb_syserr(err, "bind %s", cache);
	if (mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return sb_syserr(err, "mount proc in the stage");
	return 0;
}

static int package_versions(const struct imagetool *t, const struct recipe *r, struct stage *s,
			    struct json_object *rec, struct sb_err *err)
{
	const char *argv[64] = { "chroot", s->rootfs, "dpkg-query", "-W", "-f",
				 "${Package}\\t${Version}\\n" };
	struct sb_strbuf out = SB_STRBUF_INIT;
	struct json_object *pk = json_object_new_object();
	size_t n = 6;

	for (const char *const *p = r->packages; *p && n < 63; p++)
		argv[n++] = *p;
	argv[n] = NULL;
	if (stage_run(t, s, argv, &out, err) < 0) {
		json_object_put(pk);
		sb_strbuf_release(&out);
		return -1;
	}
	for (char *line = out.buf, *next; line && *line; line = next) {
		char *tab = strchr(line, '\t');
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (tab) {
			*tab = '\0';
			json_object_object_add(pk, line, json_object_new_string(tab + 1));
		}
	}
	sb_strbuf_release(&out);
	json_object_object_add(rec, "packages", pk);
	return 0;
}

static int build_steps(const struct imagetool *t, const struct recipe *r, struct stage *s,
		       struct json_object *rec, struct sb_err *err)
{
	char cachearg[PATH_MAX + 16], debs[PATH_MAX];
	char install[8192] = "apt-get update -q && apt-get install -y -q --no-install-recommends";
	const char *bootstrap[] = { "debootstrap", "--variant=minbase", cachearg, r->suite,
				    s->rootfs, t->mirror, NULL };
	const char *apt[] = { "chroot", s->rootfs, "sh", "-c", install, NULL };
	const char *conf[] = { "chroot", s->rootfs, "sh", "-c", configure_script, NULL };

	snprintf(debs, sizeof debs, "%s/debs", t->cache_dir);
	snprintf(cachearg, sizeof cachearg, "--cache-dir=%s", debs);
	for (const char *const *p = r->packages; *p; p++)
		snprintf(install + strlen(install), sizeof install - strlen(install), " %s", *p);
	if (sb_mkdir_p(debs, 0755) < 0)
		return sb_syserr(err, "mkdir %s", debs);
	step(s, 1, 5, "debootstrap (minbase)");
	if (stage_run(t, s, bootstrap, NULL, err) < 0)
		return -1;
	step(s, 2, 5, "packages");
	if (prepare_apt(t, r, s, err) < 0 || mount_helpers(t, s, true, err) < 0 ||
	    stage_run(t, s, apt, NULL, err) < 0)
		return -1;
	step(s, 3, 5, "record package versions");
	if (package_versions(t, r, s, rec, err) < 0)
		return -1;
	/* the downloads stay in the cache, not in the image */
	mount_helpers(t, s, false, err);
	step(s, 4, 5, "configure /etc, a user, clean up");
	if (stage_run(t, s, conf, NULL, err) < 0)
		return -1;
	return stage_mountpoints(s, err);
}

int imagetool_build(const struct imagetool *t, const char *name, struct sb_err *err)
{
	const struct recipe *r = NULL;
	struct json_object *rec;
	char key[24], source[512];
	struct stage s;

	for (size_t i = 0; i < sizeof recipes / sizeof *recipes; i++)
		if (!strcmp(recipes[i].name, name))
			r = &recipes[i];
	if (!r)
		return sb_fail(err, SB_E_INVALID, ENOENT, "no recipe for image '%s' (known: bookworm; "
			       "import a tarball for others)", name);
	recipe_key(t, r, key, sizeof key);
	if (stage_begin(t, name, &s, err) < 0)
		return -1;
	/* checked under the name's lock: a concurrent build just finished it */
	if (!t->refresh && up_to_date(t, name, key)) {
		stage_drop(&s);
		return 0;
	}
	/* every mount we make stays ours and dies with us */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		stage_abort(&s);
		return sb_syserr(err, "private mount namespace");
	}
	rec = json_object_new_object();
	snprintf(source, sizeof source, "debootstrap %s %s", r->suite, t->mirror);
	json_object_object_add(rec, "source", json_object_new_string(source));
	json_object_object_add(rec, "recipe", json_object_new_string(key));
	if (build_steps(t, r, &s, rec, err) < 0) {
		mount_helpers(t, &s, false, err);
		stage_abort(&s);
		json_object_put(rec);
		return -1;
	}
	step(&s, 5, 5, "publish");
	if (stage_publish(t, name, &s, rec, err) < 0) {
		stage_abort(&s);
		json_object_put(rec);
		return -1;
	}
	json_object_put(rec);
	return 0;
}
