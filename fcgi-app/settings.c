/* The sandbox settings table and the code that walks it (settings.h). */
#include "config.h"

#include "settings.h"

#include <string.h>
#include <unistd.h>

const struct sb_setting sb_settings[SB_NSETTINGS] = {
	{
		.json = "memoryMb", .key = "memoryMb", .opt = "memory-mb", .max_opt = "max-memory-mb",
		.arg = "N", .help = "memory per sandbox, no swap (default 1024)",
		.max_help = "most memory a create may ask (default 16384)",
		.scale = 1, .min = 16, .max = 1L << 30, .def = 1024, .def_max = 16384,
		.offset = offsetof(struct sb_limits, memory_mb),
	},
	{
		.json = "pids", .key = "pids", .opt = "pids-max", .max_opt = "max-pids",
		.arg = "N", .help = "processes per sandbox (default 1024)",
		.max_help = "most processes a create may ask (default 16384)",
		.scale = 1, .min = 8, .max = 1L << 22, .def = 1024, .def_max = 16384,
		.offset = offsetof(struct sb_limits, pids),
	},
	{
		/* a CFS quota of cpu_millis x 100 us per 100 ms: the kernel
		 * refuses less than 1000 us, so 0.01 CPUs is the least */
		.json = "cpus", .key = "cpuMillis", .opt = "cpus", .max_opt = "max-cpus",
		.arg = "X", .units = "CPUs", .help = "CPUs per sandbox, e.g. 0.5 (default 1)",
		.max_help = "most CPUs a create may ask (default: all)",
		.scale = 1000, .min = 10, .max = 4096000, .def = 1000, .def_max = 0,
		.offset = offsetof(struct sb_limits, cpu_millis),
	},
	{
		/* the smallest ext4 worth making */
		.json = "diskMb", .key = "diskMb", .opt = "disk-mb", .max_opt = "max-disk-mb",
		.arg = "N", .help = "disk per sandbox, 0 for no quota (default 4096)",
		.max_help = "most disk a create may ask (default 65536)",
		.scale = 1, .min = 16, .max = 1L << 24, .def = 4096, .def_max = 65536,
		.offset = offsetof(struct sb_limits, disk_mb), .at_create = true, .none_ok = true, .none = "no quota",
	},
	{
		/* a tbf on the sandbox's eth0 (with networking on) */
		.json = "egressMbps", .key = "egressMbps", .opt = "egress-mbps", .max_opt = "max-egress-mbps",
		.arg = "N", .help = "bandwidth from a sandbox, Mbit/s (default 0: no cap)",
		.max_help = "most egress bandwidth a create may ask (default 100000)",
		.scale = 1, .min = 1, .max = 100000, .def = 0, .def_max = 100000,
		.offset = offsetof(struct sb_limits, egress_mbps), .none_ok = true, .none = "no cap",
	},
	{
		/* ... and on the host end of its link */
		.json = "ingressMbps", .key = "ingressMbps", .opt = "ingress-mbps", .max_opt = "max-ingress-mbps",
		.arg = "N", .help = "bandwidth to a sandbox, Mbit/s (default 0: no cap)",
		.max_help = "most ingress bandwidth a create may ask (default 100000)",
		.scale = 1, .min = 1, .max = 100000, .def = 0, .def_max = 100000,
		.offset = offsetof(struct sb_limits, ingress_mbps), .none_ok = true, .none = "no cap",
	},
};

#define each_setting(s) for (const struct sb_setting *s = sb_settings; s < sb_settings + SB_NSETTINGS; s++)

void sb_limits_defaults(struct sb_limits *def, struct sb_limits *max)
{
	each_setting(s) {
		*sb_limit(def, s) = s->def;
		*sb_limit(max, s) = s->def_max ? s->def_max : s->scale * sysconf(_SC_NPROCESSORS_ONLN);
	}
}

void sb_limits_cap(struct sb_limits *def, const struct sb_limits *max)
{
	each_setting(s) if (*sb_limit(def, s) > sb_limit_get(max, s))
		*sb_limit(def, s) = sb_limit_get(max, s);
}

void sb_limits_effective(const struct sb_limits *rec, const struct sb_limits *def, struct sb_limits *out)
{
	each_setting(s) {
		long v = sb_limit_get(rec, s);
		/* a record an older version stored below the floor runs (and
		 * shows) at the floor, as a request for it would now */
		if (v > 0 && v < s->min)
			v = s->min;
		*sb_limit(out, s) = v || s->at_create ? v : sb_limit_get(def, s);
	}
}

void sb_limits_for_create(const struct sb_limits *want, const struct sb_limits *def, struct sb_limits *out)
{
	each_setting(s) {
		long v = want ? sb_limit_get(want, s) : 0;
		*sb_limit(out, s) = !v && s->at_create ? sb_limit_get(def, s) : v;
	}
}

void sb_limits_follow_defaults(struct sb_limits *rec)
{
	each_setting(s) if (!s->at_create)
		*sb_limit(rec, s) = 0;
}

bool sb_limits_change(const struct sb_limits *want)
{
	each_setting(s) if (!s->at_create && sb_limit_get(want, s))
		return true;
	return false;
}

void sb_limits_update(struct sb_limits *rec, const struct sb_limits *want)
{
	each_setting(s) if (!s->at_create && sb_limit_get(want, s))
		*sb_limit(rec, s) = sb_limit_get(want, s);
}

bool sb_limits_none(const struct sb_limits *want)
{
	each_setting(s) if (sb_limit_get(want, s))
		return false;
	return true;
}

bool sb_limits_equal(const struct sb_limits *a, const struct sb_limits *b)
{
	each_setting(s) if (sb_limit_get(a, s) != sb_limit_get(b, s))
		return false;
	return true;
}

int sb_limits_parse(struct json_object *o, const struct sb_limits *max, struct sb_limits *want, char *why,
		    size_t whylen)
{
	memset(want, 0, sizeof *want);
	each_setting(s) {
		struct json_object *v;
		long top = sb_limit_get(max, s);
		double d;

		if (!json_object_object_get_ex(o, s->json, &v) || json_object_is_type(v, json_type_null))
			continue;
		d = json_object_get_double(v);
		if (!(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) ||
		    !(d > 0)) {
			snprintf(why, whylen, "limits.%s must be a positive number", s->json);
			return -1;
		}
		d *= (double)s->scale;
		/* clamped to the server's maximum, as documented, and raised to
		 * the least the options accept (less does not run) */
		*sb_limit(want, s) = d > (double)top ? top : d < (double)s->min ? s->min : (long)d;
	}
	return 0;
}

struct json_object *sb_limits_json(const struct sb_limits *l)
{
	struct json_object *o = json_object_new_object();

	each_setting(s) {
		long v = sb_limit_get(l, s);
		json_object_object_add(o, s->json, s->scale == 1 ? json_object_new_int64(v) :
					   json_object_new_double((double)v / (double)s->scale));
	}
	return o;
}

void sb_limits_encode(const struct sb_limits *l, struct json_object *o)
{
	each_setting(s) json_object_object_add(o, s->key, json_object_new_int64(sb_limit_get(l, s)));
}

void sb_limits_decode(struct json_object *o, struct sb_limits *l)
{
	struct json_object *f;

	each_setting(s) if (json_object_object_get_ex(o, s->key, &f))
		*sb_limit(l, s) = (long)json_object_get_int64(f);
}

static void usage_line(FILE *f, const char *opt, const char *arg, const char *help)
{
	char lhs[32];

	snprintf(lhs, sizeof lhs, "--%s %s", opt, arg);
	fprintf(f, "  %-20s%s%s\n", lhs, strlen(lhs) > 19 ? " " : "", help);
}

void sb_settings_usage(FILE *f)
{
	each_setting(s) {
		usage_line(f, s->opt, s->arg, s->help);
		usage_line(f, s->max_opt, s->arg, s->max_help);
	}
}
