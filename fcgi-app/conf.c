#include "config.h"

#include "conf.h"
#include "imagestore.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fputs("usage: sandboxd --data DIR [options]\n"
	      "  --data DIR          state directory (sandboxes, LMDB, sockets)\n"
	      "  --socket PATH       FastCGI socket (default DIR/run/fcgi.sock)\n"
	      "  --socket-group G    group that may connect (default www-data)\n"
	      "  --workers N         worker processes (default 2 x cores)\n"
	      "  --instance NAME     names this service's cgroups (default sandboxd)\n"
	      "  --uid-base N        first host uid for sandboxes (default 268435456)\n"
	      "  --uid-slots N       sandboxes that may exist, 65536 ids each (default 4096)\n"
	      "  --cors-origin O     Access-Control-Allow-Origin (default *)\n"
	      "  --max-body BYTES    largest JSON request body (default 1048576)\n"
	      "  --max-file-mb N     largest file read or written raw (default 1024)\n"
	      "  --timeout MS        default exec timeout (default 60000)\n"
	      "  --max-timeout MS    largest exec timeout a request may ask (default 600000)\n"
	      "  --max-output BYTES  stdout/stderr kept per exec stream (default 1048576)\n"
	      "  --pids-max N        processes per sandbox (default 1024)\n"
	      "  --max-pids N        most processes a create may ask (default 16384)\n"
	      "  --memory-mb N       memory per sandbox, no swap (default 1024)\n"
	      "  --max-memory-mb N   most memory a create may ask (default 16384)\n"
	      "  --cpus X            CPUs per sandbox, e.g. 0.5 (default 1)\n"
	      "  --max-cpus X        most CPUs a create may ask (default: all)\n"
	      "  --disk-mb N         disk per sandbox, 0 for no quota (default 4096)\n"
	      "  --max-disk-mb N     most disk a create may ask (default 65536)\n"
	      "  --max-running N     sandboxes running at once (default 32; 0: no cap)\n"
	      "  --idle-stop SEC     stop a sandbox idle that long (default 600; 0: never)\n"
	      "  --clone-allow CIDR  a range clones may reach though it is private or\n"
	      "                      loopback (repeatable; e.g. 127.0.0.0/8 for tests)\n"
	      "  --clone-timeout SEC longest clone (default 600)\n"
	      "  --clone-max-mb N    most a clone may fetch (default 2048)\n"
	      "  --spare-disks N     disk images of the default size made ahead, so a\n"
	      "                      create need not wait for mke2fs (default 2; 0: none)\n"
	      "  --images DIR        images built or imported by sandboxd-image (default\n"
	      "                      DIR/images, beside the built-in `host` image)\n"
	      "  --default-image N   image of a sandbox whose create names none (default host)\n"
	      "  --cgroup-root DIR   where cgroupfs is mounted (default /sys/fs/cgroup)\n"
	      "  --no-favordynmods   leave the host's cgroup2 mount options alone (by default\n"
	      "                      sandboxd sets favordynmods: each process move into a\n"
	      "                      cgroup otherwise waits for an RCU grace period)\n"
	      "  --pidfile PATH      write the master's pid there\n", f);
}

static int parse_num(const char *s, long long min, long long max, long long *out)
{
	char *end;

	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* overlayfs takes its directories in one option string: refuse separators */
static int path_ok(const char *p)
{
	return p[0] == '/' && !strpbrk(p, ",:\\\n");
}

int conf_parse(struct conf *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "socket", required_argument, NULL, 's' },
		{ "socket-group", required_argument, NULL, 'g' },
		{ "workers", required_argument, NULL, 'w' },
		{ "instance", required_argument, NULL, 'i' },
		{ "uid-base", required_argument, NULL, 'u' },
		{ "uid-slots", required_argument, NULL, 'U' },
		{ "cors-origin", required_argument, NULL, 'c' },
		{ "max-body", required_argument, NULL, 'b' },
		{ "timeout", required_argument, NULL, 't' },
		{ "max-timeout", required_argument, NULL, 'T' },
		{ "max-output", required_argument, NULL, 'o' },
		{ "pids-max", required_argument, NULL, 'p' },
		{ "pidfile", required_argument, NULL, 'P' },
		{ "max-pids", required_argument, NULL, 'X' },
		{ "memory-mb", required_argument, NULL, 'm' },
		{ "max-memory-mb", required_argument, NULL, 'M' },
		{ "cpus", required_argument, NULL, 'C' },
		{ "max-cpus", required_argument, NULL, 'Y' },
		{ "cgroup-root", required_argument, NULL, 'R' },
		{ "disk-mb", required_argument, NULL, 'k' },
		{ "max-disk-mb", required_argument, NULL, 'K' },
		{ "max-running", required_argument, NULL, 'r' },
		{ "max-file-mb", required_argument, NULL, 'F' },
		{ "clone-allow", required_argument, NULL, 'A' },
		{ "clone-timeout", required_argument, NULL, 'O' },
		{ "clone-max-mb", required_argument, NULL, 'B' },
		{ "idle-stop", required_argument, NULL, 'I' },
		{ "images", required_argument, NULL, 'G' },
		{ "spare-disks", required_argument, NULL, 'S' },
		{ "no-favordynmods", no_argument, NULL, 'N' },
		{ "default-image", required_argument, NULL, 'E' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long long v;
	int o;
	const char *data = NULL, *sock = NULL, *inst = "sandboxd", *images = NULL;
	const char *defimg = IMAGE_BUILTIN;

	memset(c, 0, sizeof *c);
	c->socket_group = "www-data";
	c->cors_origin = "*";
	c->workers = 2 * (int)sysconf(_SC_NPROCESSORS_ONLN);
	c->uid_base = 268435456;
	c->uid_slots = 4096;
	c->max_body = 1048576;
	c->max_file_bytes = 1024ULL << 20;
	c->clone_timeout_ms = 600000;
	c->clone_max_bytes = 2048ULL << 20;
	c->default_timeout_ms = 60000;
	c->max_timeout_ms = 600000;
	c->max_output = 1048576;
	c->pids_max = 1024;
	c->max_pids = 16384;
	c->memory_mb = 1024;
	c->max_memory_mb = 16384;
	c->cpu_millis = 1000;
	c->max_cpu_millis = 1000 * sysconf(_SC_NPROCESSORS_ONLN);
	snprintf(c->cgroup_root, sizeof c->cgroup_root, "/sys/fs/cgroup");
	c->disk_mb = 4096;
	c->max_running = 32;
	c->spare_disks = 2;
	c->idle_stop_ms = 600000;
	c->max_disk_mb = 65536;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'd': data = optarg; break;
		case 's': sock = optarg; break;
		/* copies: argv's memory becomes the process title */
		case 'g': c->socket_group = strdup(optarg); break;
		case 'i': inst = optarg; break;
		case 'G': images = optarg; break;
		case 'N': c->no_favordynmods = true; break;
		case 'S':
			if (parse_num(optarg, 0, 64, &v) < 0)
				goto bad;
			c->spare_disks = (int)v;
			break;
		case 'E': defimg = optarg; break;
		case 'c': c->cors_origin = strdup(optarg); break;
		case 'P': c->pidfile = strdup(optarg); break;
		case 'w':
			if (parse_num(optarg, 1, 256, &v) < 0)
				goto bad;
			c->workers = (int)v;
			break;
		case 'u':
			if (parse_num(optarg, 65536, 0xFFFF0000LL, &v) < 0)
				goto bad;
			c->uid_base = (uid_t)v;
			break;
		case 'U':
			if (parse_num(optarg, 1, 65535, &v) < 0)
				goto bad;
			c->uid_slots = (uint32_t)v;
			break;
		case 'b':
			if (parse_num(optarg, 1024, 1LL << 30, &v) < 0)
				goto bad;
			c->max_body = (size_t)v;
			break;
		case 't':
			if (parse_num(optarg, 1, 86400000, &v) < 0)
				goto bad;
			c->default_timeout_ms = v;
			break;
		case 'T':
			if (parse_num(optarg, 1, 86400000, &v) < 0)
				goto bad;
			c->max_timeout_ms = v;
			break;
		case 'o':
			if (parse_num(optarg, 1024, 1LL << 30, &v) < 0)
				goto bad;
			c->max_output = (size_t)v;
			break;
		case 'p':
			if (parse_num(optarg, 8, 1 << 22, &v) < 0)
				goto bad;
			c->pids_max = (long)v;
			break;
		case 'X':
			if (parse_num(optarg, 8, 1 << 22, &v) < 0)
				goto bad;
			c->max_pids = (long)v;
			break;
		case 'm':
			if (parse_num(optarg, 16, 1 << 30, &v) < 0)
				goto bad;
			c->memory_mb = (long)v;
			break;
		case 'M':
			if (parse_num(optarg, 16, 1 << 30, &v) < 0)
				goto bad;
			c->max_memory_mb = (long)v;
			break;
		case 'C':
		case 'Y': {
			char *end;
			double d = strtod(optarg, &end);
			if (*end || !(d >= 0.01 && d <= 4096))
				goto bad;
			*(o == 'C' ? &c->cpu_millis : &c->max_cpu_millis) = (long)(d * 1000 + 0.5);
			break;
		}
		case 'k':
		case 'K':
			if (parse_num(optarg, o == 'k' ? 0 : 16, 1 << 24, &v) < 0 || (v > 0 && v < 16))
				goto bad;
			*(o == 'k' ? &c->disk_mb : &c->max_disk_mb) = (long)v;
			break;
		case 'A':
			if (c->nclone_allow == CLONE_MAX_ALLOW ||
			    clone_allow_parse(optarg, &c->clone_allow[c->nclone_allow]) < 0)
				goto bad;
			c->nclone_allow++;
			break;
		case 'O':
			if (parse_num(optarg, 1, 86400, &v) < 0)
				goto bad;
			c->clone_timeout_ms = v * 1000;
			break;
		case 'B':
			if (parse_num(optarg, 1, 1 << 24, &v) < 0)
				goto bad;
			c->clone_max_bytes = (unsigned long long)v << 20;
			break;
		case 'F':
			if (parse_num(optarg, 1, 1 << 24, &v) < 0)
				goto bad;
			c->max_file_bytes = (unsigned long long)v << 20;
			break;
		case 'r':
			if (parse_num(optarg, 0, 100000, &v) < 0)
				goto bad;
			c->max_running = (int)v;
			break;
		case 'I':
			if (parse_num(optarg, 0, 86400 * 365, &v) < 0)
				goto bad;
			c->idle_stop_ms = v * 1000;
			break;
		case 'R':
			if (strlen(optarg) >= sizeof c->cgroup_root || optarg[0] != '/')
				goto bad;
			snprintf(c->cgroup_root, sizeof c->cgroup_root, "%s", optarg);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			goto bad;
		}
	}
	if (!c->socket_group || !c->cors_origin)
		goto bad;
	if (optind != argc || !data || !path_ok(data))
		goto bad;
	if ((images && (images[0] != '/' || strlen(images) >= sizeof c->images_dir)) ||
	    !image_name_ok(defimg))
		goto bad;
	if ((unsigned long long)c->uid_base + 65536ULL * c->uid_slots > 0xFFFFFFFFULL)
		goto bad;
	if (strlen(inst) >= sizeof c->instance || strspn(inst, "abcdefghijklmnopqrstuvwxyz"
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != strlen(inst) || !*inst)
		goto bad;
	if (c->memory_mb > c->max_memory_mb)
		c->memory_mb = c->max_memory_mb;
	if (c->pids_max > c->max_pids)
		c->pids_max = c->max_pids;
	if (c->disk_mb > c->max_disk_mb)
		c->disk_mb = c->max_disk_mb;
	if (c->cpu_millis > c->max_cpu_millis)
		c->cpu_millis = c->max_cpu_millis;
	if (c->default_timeout_ms > c->max_timeout_ms)
		c->default_timeout_ms = c->max_timeout_ms;
	snprintf(c->data_dir, sizeof c->data_dir, "%s", data);
	snprintf(c->instance, sizeof c->instance, "%s", inst);
	snprintf(c->cg_parent, sizeof c->cg_parent, "sandboxd-%s", inst);
	snprintf(c->image_dir, sizeof c->image_dir, "%s/images/host", data);
	if (images)
		snprintf(c->images_dir, sizeof c->images_dir, "%s", images);
	else
		snprintf(c->images_dir, sizeof c->images_dir, "%s/images", data);
	snprintf(c->default_image, sizeof c->default_image, "%s", defimg);
	if (sock)
		snprintf(c->socket_path, sizeof c->socket_path, "%s", sock);
	else
		snprintf(c->socket_path, sizeof c->socket_path, "%s/run/fcgi.sock", data);
	return 0;
bad:
	usage(stderr);
	return -1;
}
