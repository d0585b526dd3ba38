/* A sandbox's settings (today its resource limits), described once.  The
 * rows of sb_settings drive the create request's parsing and clamping, the
 * limits of GET, the store's record, the options and config keys of the
 * server's defaults and maxima, and the warm pool's match.  Adding a
 * setting: a field of struct sb_limits, its row in settings.c, and the code
 * that applies it (app_sandbox_limits() and cgroup.c for a cgroup knob,
 * net_caps_set() in netapply.c for a bandwidth cap). */
#ifndef SBD_SETTINGS_H
#define SBD_SETTINGS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Values in stored units (a row's scale converts from the JSON's); in a
 * record or a request 0 means "not given" (the server's default). */
struct sb_limits {
	long memory_mb;
	long pids;
	long cpu_millis;	/* 1000 = one CPU */
	long disk_mb;		/* fixed when the disk image is made; 0: no quota */
	long egress_mbps;	/* bandwidth from the sandbox (tc, netapply.c); 0: no cap */
	long ingress_mbps;	/* ... to it */
};

struct sb_setting {
	const char *json;	/* limits.<json> of a create and of GET */
	const char *key;	/* in the store's record */
	const char *opt;	/* option and config key of the default */
	const char *max_opt;	/* ... and of the most a create may ask */
	const char *arg;	/* the options' argument in --help: "N" */
	const char *help, *max_help;
	const char *units;	/* of a fractional value, in the options' message: "CPUs" */
	const char *none;	/* what a default of 0 means, when none_ok */
	long scale;		/* stored units per JSON unit (1000 for cpus); 1: an integer */
	long min, max;		/* what the options accept, stored units */
	long def, def_max;	/* the options' defaults; def_max 0: one CPU per core */
	size_t offset;		/* in struct sb_limits */
	bool at_create;		/* fixed when the sandbox is made, and recorded then */
	bool none_ok;		/* the default may be 0: none */
};

extern const struct sb_setting sb_settings[];
#define SB_NSETTINGS 6

static inline long *sb_limit(struct sb_limits *l, const struct sb_setting *s)
{
	return (long *)((char *)l + s->offset);
}

static inline long sb_limit_get(const struct sb_limits *l, const struct sb_setting *s)
{
	return *(const long *)((const char *)l + s->offset);
}

/* The options' defaults of the default and maximum limits. */
void sb_limits_defaults(struct sb_limits *def, struct sb_limits *max);
/* Each of *def no larger than its maximum. */
void sb_limits_cap(struct sb_limits *def, const struct sb_limits *max);
/* What a sandbox runs with: its record's values, the server's defaults for
 * those it has none of (a setting fixed at creation is always recorded),
 * raised to the floors where an older record is below them. */
void sb_limits_effective(const struct sb_limits *rec, const struct sb_limits *def, struct sb_limits *out);
/* For a new record: what was asked, the defaults recorded for what is fixed
 * at creation and was not asked. */
void sb_limits_for_create(const struct sb_limits *want, const struct sb_limits *def, struct sb_limits *out);
/* The record follows the defaults again, except what is fixed (a claimed
 * warm sandbox, started with the defaults). */
void sb_limits_follow_defaults(struct sb_limits *rec);
/* Something other than the disk was asked: an existing sandbox's limits change. */
bool sb_limits_change(const struct sb_limits *want);
/* Into *rec, what want asks that may change after creation. */
void sb_limits_update(struct sb_limits *rec, const struct sb_limits *want);
/* Nothing asked at all. */
bool sb_limits_none(const struct sb_limits *want);
/* Every setting equal. */
bool sb_limits_equal(const struct sb_limits *a, const struct sb_limits *b);

/* A request's limits object into *want, each clamped between its row's
 * minimum and max: 0, or -1 with a message for the 400 in why. */
int sb_limits_parse(struct json_object *o, const struct sb_limits *max, struct sb_limits *want, char *why,
		    size_t whylen);
/* The limits as GET shows them. */
struct json_object *sb_limits_json(const struct sb_limits *l);
/* The store's encoding, and its decoding (keys absent stay 0). */
void sb_limits_encode(const struct sb_limits *l, struct json_object *o);
void sb_limits_decode(struct json_object *o, struct sb_limits *l);

/* --help lines of the options. */
void sb_settings_usage(FILE *f);

#endif
