/* sandboxd: a FastCGI service giving every projectId its own persistent,
 * isolated Linux sandbox.  See README.md and docs/ARCHITECTURE.md. */
#include "config.h"

#include "app.h"
#include "cgroup.h"
#include "conf.h"
#include "hostlimits.h"
#include "images.h"
#include "imagestore.h"
#include "log.h"
#include "net.h"
#include "pool.h"
#include "quota.h"
#include "router.h"
#include "rootfs.h"
#include "sandbox.h"
#include "util.h"

#include <fcgiapp.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int mkdir_mode(const char *path, mode_t mode)
{
	if (mkdir(path, mode) < 0 && errno != EEXIST) {
		fprintf(stderr, "sandboxd: mkdir %s: %s\n", path, strerror(errno));
		return -1;
	}
	return chmod(path, mode);
}

/* <data> 0711: traversable (the web server reaches run/), not listable;
 * sandboxes/, db/ and images/ root only (an image's files keep their
 * owners and 1777 dirs: imagestore.h); run/ open to the socket's group. */
static int prepare_data_dir(const struct conf *c)
{
	static const struct { const char *name; mode_t mode; } dirs[] = {
		{ "", 0711 }, { "/sandboxes", 0700 }, { "/db", 0700 }, { "/images", 0700 },
		{ "/run", 0755 }, { "/spares", 0700 },
	};
	char path[PATH_MAX + 32];

	for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
		snprintf(path, sizeof path, "%s%s", c->data_dir, dirs[i].name);
		if (mkdir_mode(path, dirs[i].mode) < 0)
			return -1;
	}
	return 0;
}

/* The files every worker maps shared (DATA/run/quota, the stores' LMDB
 * lock files) opened once here, which allocates every block of them
 * (quota.c, kv.c): a data dir too full for that is said now and the
 * service does not start, where a worker would later die of a SIGBUS at a
 * store into a hole.  Opened in each worker again (never across a fork),
 * which allocates nothing more then. */
static int shared_files_prepare(const struct conf *c, struct sb_err *err)
{
	struct store_sizes sz;
	char path[PATH_MAX + 32];
	struct store s;

	if (quota_open(c->data_dir, err) < 0)
		return -1;
	quota_close();
	snprintf(path, sizeof path, "%s/db", c->data_dir);
	app_store_sizes(c, &sz);
	if (store_open(&s, path, &sz, err) < 0)
		return -1;
	store_close(&s);
	return 0;
}

/* --ca-bundle: a copy of the service's own, the one sandboxes get bound
 * (never the operator's path: what it says later is not theirs until a
 * restart), checked to hold PEM certificates; none given, a stale copy
 * goes. */
static int ca_bundle_install(const struct conf *c, struct sb_err *err)
{
	char dst[PATH_MAX + 32];
	cleanup_close int fd = -1;
	cleanup_free char *text = NULL;
	struct stat st;
	int r;

	snprintf(dst, sizeof dst, "%s/" CA_BUNDLE_COPY, c->data_dir);
	if (!c->ca_bundle[0]) {
		if (unlink(dst) < 0 && errno != ENOENT)
			return sb_syserr(err, "remove %s", dst);
		return 0;
	}
	r = sb_file_sync(c->ca_bundle, dst, true, err);
	if (r > 0)
		return sb_syserr(err, "read %s", c->ca_bundle);
	if (r < 0)
		return -1;
	fd = open(dst, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) < 0)
		return sb_syserr(err, "open %s", dst);
	if (st.st_size > CA_BUNDLE_MAX || !(text = calloc(1, (size_t)st.st_size + 1)) ||
	    sb_read_full(fd, text, (size_t)st.st_size) != st.st_size ||
	    !strstr(text, "-----BEGIN CERTIFICATE-----")) {
		unlink(dst);
		return sb_fail(err, SB_E_INVALID, EINVAL, "%s: not PEM certificates (at most %d MiB)",
			       c->ca_bundle, CA_BUNDLE_MAX >> 20);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sb_err err = SB_ERR_INIT;
	char version[64], init_path[PATH_MAX];
	struct conf c;
	FILE *f;

	char **args = calloc((size_t)argc + 1, sizeof *args);

	/* argv's memory becomes the process title, and SIGHUP parses it again */
	for (int i = 0; args && i < argc; i++)
		args[i] = strdup(argv[i]);
	sb_proctitle_init(argc, argv);
	if (!args || conf_parse(&c, argc, args) < 0)
		return 2;
	if (c.print_routes) {
		router_print(stdout);
		return 0;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "sandboxd: must run as root (it creates namespaces and cgroups)\n");
		return 1;
	}
	umask(022);
	if (sandbox_init_open(init_path, sizeof init_path, &err) < 0) {
		fprintf(stderr, "sandboxd: sandbox init: %s\n", err.msg);
		return 1;
	}
	if (c.network) {
		char prefix[16];

		net_ahead_prefix(&c, prefix, sizeof prefix);
		sandbox_prepare_net(prefix);
	}
	if (prepare_data_dir(&c) < 0)
		return 1;
	{
		char dir[PATH_MAX + 16];

		snprintf(dir, sizeof dir, "%s/sandboxes", c.data_dir);
		sandbox_prepare_ctl(dir);
	}
	if (ca_bundle_install(&c, &err) < 0) {
		fprintf(stderr, "sandboxd: --ca-bundle: %s\n", err.msg);
		return 1;
	}
	if (shared_files_prepare(&c, &err) < 0) {
		fprintf(stderr, "sandboxd: data dir: %s\n", err.msg);
		return 1;
	}
	if (imgstore_secure(c.images_dir, &err) < 0) {
		fprintf(stderr, "sandboxd: images: %s\n", err.msg);
		return 1;
	}
	if (image_host_ensure(c.image_dir, &err) < 0) {
		fprintf(stderr, "sandboxd: host image: %s\n", err.msg);
		return 1;
	}
	if (images_resolve(&c, c.default_image, version, sizeof version, &err) < 0) {
		fprintf(stderr, "sandboxd: --default-image: %s%s\n", err.msg, err.kind == SB_E_INVALID ?
			"; build or import it first (sandboxd-image)" : "");
		return 1;
	}
	if (!c.no_favordynmods) {
		int r = cg_favor_dynmods(&err);
		if (r < 0)
			log_printf("warn", NULL, "%s (cgroup moves stay slow)", err.msg);
		else if (r > 0)
			log_printf("info", NULL, "cgroup2 now mounted with favordynmods "
				   "(--no-favordynmods leaves it alone)");
	}
	host_limits_raise(&c);
	if (c.pidfile) {
		f = fopen(c.pidfile, "we");
		if (!f) {
			perror("sandboxd: pidfile");
			return 1;
		}
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
	setvbuf(stderr, NULL, _IOLBF, 0);
	if (FCGX_Init() != 0)
		return 1;
	return master_run(&c);
}
