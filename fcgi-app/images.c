#include "config.h"

#include "images.h"
#include "app.h"
#include "api.h"
#include "http.h"
#include "log.h"
#include "imagestore.h"
#include "router.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* "host, bookworm, ...": what a create may name */
static void available(const struct conf *c, char *buf, size_t len)
{
	struct sb_err err = SB_ERR_INIT;
	struct imgstore *st = NULL;
	struct json_object *arr = NULL, *v;

	snprintf(buf, len, "%s", IMAGE_BUILTIN);
	if (imgstore_open(c->images_dir, false, &st, &err) == 0 && imgstore_list(st, &arr, &err) == 0)
		for (size_t i = 0; i < json_object_array_length(arr); i++)
			if (json_object_object_get_ex(json_object_array_get_idx(arr, i), "name", &v))
				snprintf(buf + strlen(buf), len - strlen(buf), ", %s",
					 json_object_get_string(v));
	json_object_put(arr);
	imgstore_close(st);
}

int images_resolve(const struct conf *c, const char *name, char *version, size_t len,
		   struct sb_err *err)
{
	struct imgstore *st = NULL;
	struct json_object *rec = NULL, *v;
	char names[512], path[PATH_MAX];
	int found;

	version[0] = '\0';
	if (!strcmp(name, IMAGE_BUILTIN))
		return 0;
	if (!image_name_ok(name))
		return sb_fail(err, SB_E_INVALID, EINVAL, "image must be a name like \"bookworm\"");
	if (imgstore_open(c->images_dir, false, &st, err) < 0)
		return -1;
	found = imgstore_get(st, name, &rec, err);
	/* closed at once, not at return: available() opens it again, and an
	 * LMDB environment must not be open twice in one process */
	imgstore_close(st);
	if (found < 0)
		return -1;
	if (!found || !json_object_object_get_ex(rec, "version", &v)) {
		json_object_put(rec);
		available(c, names, sizeof names);
		return sb_fail(err, SB_E_INVALID, ENOENT, "unknown image '%s' (available: %s)", name, names);
	}
	snprintf(version, len, "%s", json_object_get_string(v));
	json_object_put(rec);
	if (images_rootfs(c, name, version, path, sizeof path, err) < 0)
		return -1;
	if (access(path, F_OK) < 0)
		return sb_fail(err, SB_E_BUSY, ENOENT, "image %s is registered but its files are gone "
			       "(rebuild or re-import it)", name);
	return 0;
}

int images_rootfs(const struct conf *c, const char *name, const char *version, char *buf,
		  size_t len, struct sb_err *err)
{
	if (!strcmp(name, IMAGE_BUILTIN) || !*name) {
		if (snprintf(buf, len, "%s", c->image_dir) >= (int)len)
			return sb_fail(err, SB_E_INTERNAL, ENAMETOOLONG, "image path too long");
		return 0;
	}
	if (!image_name_ok(name) || !*version || strchr(version, '/') || version[0] == '.' ||
	    image_rootfs_path(c->images_dir, name, version, buf, len) < 0)
		return sb_fail(err, SB_E_INTERNAL, EINVAL, "bad image %s version %s in the record", name, version);
	return 0;
}

static struct json_object *host_entry(const struct conf *c)
{
	struct json_object *o = json_object_new_object();
	struct stat st;

	json_object_object_add(o, "name", json_object_new_string(IMAGE_BUILTIN));
	json_object_object_add(o, "source", json_object_new_string(
		"built in: the host's own /usr, read-only, under a generated /etc"));
	json_object_object_add(o, "createdAt", api_iso(stat(c->image_dir, &st) == 0 ?
						   (int64_t)st.st_mtime * 1000 : 0));
	/* it shares the host's files: nothing of its own worth counting */
	json_object_object_add(o, "sizeBytes", json_object_new_int64(0));
	json_object_object_add(o, "packages", json_object_new_object());
	return o;
}

/* The registry's record as the API shows it. */
static struct json_object *entry(struct json_object *rec)
{
	static const char *const keys[] = { "name", "version", "source", "sizeBytes", "files",
					    "packages" };
	struct json_object *o = json_object_new_object(), *v;

	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
		if (json_object_object_get_ex(rec, keys[i], &v))
			json_object_object_add(o, keys[i], json_object_get(v));
	if (json_object_object_get_ex(rec, "createdAt", &v))
		json_object_object_add(o, "createdAt", api_iso(json_object_get_int64(v)));
	return o;
}

void api_images_list(struct app *app, struct http_req *req, const char *id)
{
	const struct conf *c = app->conf;
	struct sb_err err = SB_ERR_INIT;
	struct imgstore *st = NULL;
	struct json_object *arr = NULL, *out, *d, *v;

	(void)id;
	if (imgstore_open(c->images_dir, false, &st, &err) < 0 ||
	    imgstore_list(st, &arr, &err) < 0) {
		imgstore_close(st);
		json_object_put(arr);
		log_error(req->rid, err.msg);
		http_reply_error(req, 500, "%s", err.msg);
		return;
	}
	imgstore_close(st);
	out = json_object_new_array();
	json_object_array_add(out, host_entry(c));
	for (size_t i = 0; i < json_object_array_length(arr); i++)
		json_object_array_add(out, entry(json_object_array_get_idx(arr, i)));
	json_object_put(arr);
	for (size_t i = 0; i < json_object_array_length(out); i++) {
		struct json_object *e = json_object_array_get_idx(out, i);
		json_object_object_add(e, "default", json_object_new_boolean(
			json_object_object_get_ex(e, "name", &v) &&
			!strcmp(json_object_get_string(v), c->default_image)));
	}
	d = json_object_new_object();
	json_object_object_add(d, "images", out);
	json_object_object_add(d, "default", json_object_new_string(c->default_image));
	http_reply_data(req, 200, d);
}
