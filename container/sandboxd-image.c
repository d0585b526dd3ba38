/* sandboxd-image: build, import and list the images sandboxes start from. */
#include "config.h"

#include "imagestore.h"
#include "imagetool.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fputs("usage: sandboxd-image [options] build NAME\n"
	      "       sandboxd-image [options] import NAME FILE.tar\n"
	      "       sandboxd-image [options] list\n"
	      "  --images DIR     the images dir sandboxd uses (default " SB_IMAGES_DIR ")\n"
	      "  --cache DIR      downloaded packages, kept (default " SB_CACHE_DIR ")\n"
	      "  --mirror URL     Debian mirror (default http://deb.debian.org/debian)\n"
	      "  --security URL   Debian security mirror (default http://deb.debian.org/debian-security)\n"
	      "  --refresh        build even if the recipe has not changed\n"
	      "  --quiet          show the steps only, not the tools' output\n"
	      "recipes: bookworm (Debian 12 with git, Python 3.11 and pandas, numpy, matplotlib,\n"
	      "  requests, GitPython; Node.js, npm, typescript, ts-node, esbuild; gcc, g++, make)\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "images", required_argument, NULL, 'i' }, { "cache", required_argument, NULL, 'c' },
		{ "mirror", required_argument, NULL, 'm' }, { "security", required_argument, NULL, 's' },
		{ "refresh", no_argument, NULL, 'r' }, { "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct imagetool t = {
		.images_dir = SB_IMAGES_DIR, .cache_dir = SB_CACHE_DIR,
		.mirror = "http://deb.debian.org/debian",
		.security = "http://deb.debian.org/debian-security",
	};
	struct sb_err err = SB_ERR_INIT;
	const char *cmd;
	int c, r, nargs;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': t.images_dir = optarg; break;
		case 'c': t.cache_dir = optarg; break;
		case 'm': t.mirror = optarg; break;
		case 's': t.security = optarg; break;
		case 'r': t.refresh = true; break;
		case 'q': t.quiet = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	if (geteuid() != 0) {
		fprintf(stderr, "sandboxd-image: %s needs root (the images dir is root's only; "
			"chroot, mounts, file owners)\n", cmd);
		return 1;
	}
	/* a store an older version made open to every local user: close it */
	if (imgstore_secure(t.images_dir, &err) < 0) {
		fprintf(stderr, "sandboxd-image: %s\n", err.msg);
		return 1;
	}
	nargs = argc - optind - 1;
	if (!strcmp(cmd, "build") && nargs == 1) {
		r = imagetool_build(&t, argv[optind + 1], &err);
	} else if (!strcmp(cmd, "import") && nargs == 2) {
		r = imagetool_import(&t, argv[optind + 1], argv[optind + 2], &err);
	} else if (!strcmp(cmd, "list") && nargs == 0) {
		r = imagetool_list(&t, &err);
	} else {
		usage(stderr);
		return 2;
	}
	if (r < 0) {
		fprintf(stderr, "sandboxd-image: %s\n", err.msg);
		return 1;
	}
	return 0;
}
