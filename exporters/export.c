// SPDX-License-Identifier: Apache-2.0
/* export_run: names, the image assembly, the output it goes to, and the result's metadata. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/export-internal.h"
#include "oci/image.h"
#include "oci/reference.h"
#include "sources/imgstore.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/timestamp.h"
#include "util/xalloc.h"

void
export_result_done(struct export_result *r)
{
	free(r->media_type);
	free(r->names);
	*r = (struct export_result){0};
}

char *
export_result_metadata(const struct export_result *r)
{
	char root[DIGEST_STRING_SIZE], cfg[DIGEST_STRING_SIZE];
	json_t *j;
	char *s;

	j = json_pack("{s:s, s:{s:s, s:s, s:I}, s:s}", "containerimage.config.digest",
	              digest_to_string(&r->config, cfg), "containerimage.descriptor", "mediaType",
	              r->media_type ? r->media_type : "", "digest",
	              digest_to_string(&r->digest, root), "size", (json_int_t)r->size,
	              "containerimage.digest", root);
	if (r->names)
		json_object_set_new(j, "image.name", json_string(r->names));
	s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(j);
	if (!s)
		abort();
	return s;
}

static void
add_name(struct export_ctx *c, char *name)
{
	for (size_t i = 0; i < c->n_names; i++)
		if (!strcmp(c->names[i], name)) {
			free(name);
			return;
		}
	c->names = xrealloc(c->names, (c->n_names + 1) * sizeof(*c->names));
	c->names[c->n_names++] = name;
}

/* "domain/repo[:tag][@digest]" as Docker normalizes a name. */
static int
normalize(const char *name, char **ret, struct oci_reference *ret_ref, struct kl_error **err)
{
	char id[DIGEST_STRING_SIZE];
	int r;

	r = oci_reference_parse(name, ret_ref, err);
	if (r < 0)
		return r;
	*ret = xasprintf("%s/%s%s%s%s%s", ret_ref->domain, ret_ref->repository,
	                 ret_ref->tag ? ":" : "", ret_ref->tag ? ret_ref->tag : "",
	                 ret_ref->has_digest ? "@" : "",
	                 ret_ref->has_digest ? digest_to_string(&ret_ref->digest, id) : "");
	return 0;
}

/* The normalized names of the options (the provenance names its subjects by them). */
static int
given_names(struct export_ctx *c, struct kl_error **err)
{
	const struct export_options *o = c->o;
	int r;

	for (size_t i = 0; i < o->n_names; i++) {
		struct oci_reference ref;
		char *n;

		r = normalize(o->names[i], &n, &ref, err);
		if (r < 0) {
			kl_error_prefix(err, "output name");
			return r;
		}
		oci_reference_done(&ref);
		add_name(c, n);
	}
	return 0;
}

/* The canonical and dangling names the root's digest gives. */
static void
digest_names(struct export_ctx *c, const struct digest *root)
{
	const struct export_options *o = c->o;
	char id[DIGEST_STRING_SIZE];
	size_t given = c->n_names;

	digest_to_string(root, id);
	for (size_t i = 0; o->name_canonical && i < given; i++) {
		_cleanup_free_ char *repo = xstrdup(c->names[i]);
		char *at = strchr(repo, '@'), *slash, *colon;

		if (at)
			*at = '\0';
		slash = strrchr(repo, '/');
		colon = strrchr(repo, ':');
		if (colon && slash && colon > slash)
			*colon = '\0';
		add_name(c, xasprintf("%s@%s", repo, id));
	}
	if (!c->n_names && o->dangling_name_prefix)
		add_name(c, xasprintf("%s@%s", o->dangling_name_prefix, id));
}

static char *
joined_names(const struct export_ctx *c)
{
	const struct export_options *o = c->o;
	size_t len = 1;
	char *s;

	if (!c->n_names)
		return NULL;
	/* As given, then what the export added (canonical, dangling names). */
	for (size_t i = 0; i < o->n_names; i++)
		len += strlen(o->names[i]) + 1;
	for (size_t i = o->n_names; i < c->n_names; i++)
		len += strlen(c->names[i]) + 1;
	s = xcalloc(len, 1);
	for (size_t i = 0; i < o->n_names; i++) {
		if (*s)
			strcat(s, ",");
		strcat(s, o->names[i]);
	}
	for (size_t i = o->n_names; i < c->n_names; i++) {
		if (*s)
			strcat(s, ",");
		strcat(s, c->names[i]);
	}
	return s;
}

static int
output(struct export_ctx *c, const struct imgstore_image *im, struct kl_error **err)
{
	switch (c->o->type) {
	case EXPORT_OCI:
		return export_output_oci(c, err);
	case EXPORT_DOCKER:
		return export_output_docker(c, err);
	case EXPORT_IMAGE:
		if (c->o->push)
			return export_output_push(c, err);
		if (c->o->store_containerd)
			return export_output_containerd(c, err);
		return export_output_kiln(c, im, err);
	default:
		return kl_error_setf(err, EINVAL, "output: no type");
	}
}

int
export_run(struct store *s, struct provider_set *ps, const struct imgstore_image *im,
           const struct export_options *o, struct export_result *ret, struct kl_error **err)
{
	struct export_result res = {0};
	struct export_ctx c = {.s = s, .ps = ps, .o = o, .res = &res};
	const struct export_blob *root;
	int r;

	r = export_options_check(o, err);
	if (r >= 0)
		r = given_names(&c, err);
	if (r >= 0)
		r = export_image_build(&c, im, err);
	if (r >= 0)
		digest_names(&c, &c.img.blobs[c.img.n_blobs - 1].digest);
	if (r >= 0)
		r = output(&c, im, err);
	if (r >= 0) {
		root = &c.img.blobs[c.img.n_blobs - 1];
		res.digest = root->digest;
		res.size = root->size;
		res.media_type = xstrdup(root->media_type);
		res.config = c.img.blobs[c.img.config].digest;
		res.manifest = c.img.blobs[c.img.manifest].digest;
		res.names = joined_names(&c);
	}
	for (size_t i = 0; i < c.n_names; i++)
		free(c.names[i]);
	free(c.names);
	export_image_done(&c.img);
	if (r < 0) {
		export_result_done(&res);
		return r;
	}
	if (ret)
		*ret = res;
	else
		export_result_done(&res);
	return 0;
}

int
export_image_from_tree(const struct digest *tree, const char *platform,
                       const struct export_options *o, struct imgstore_image *ret,
                       struct kl_error **err)
{
	struct oci_platform p = {0};
	char t[KL_TIMESTAMP_SIZE];
	json_t *cfg, *hist;
	int r;

	r = oci_platform_parse(platform, &p, err);
	if (r < 0)
		return r;
	hist = json_pack("{s:s, s:s}", "created_by", "kiln solve", "comment", "kiln");
	cfg = json_pack("{s:s, s:s, s:{}, s:{s:s, s:[]}, s:[o]}", "architecture", p.architecture,
	                "os", p.os, "config", "rootfs", "type", "layers", "diff_ids", "history",
	                hist);
	if (p.variant)
		json_object_set_new(cfg, "variant", json_string(p.variant));
	if (o && o->has_epoch) {
		json_object_set_new(cfg, "created", json_string(kl_timestamp_format(o->epoch, t)));
		json_object_set_new(hist, "created", json_string(t));
	}
	oci_platform_done(&p);
	*ret = (struct imgstore_image){0};
	ret->config = json_dumps(cfg, JSON_COMPACT);
	json_decref(cfg);
	if (!ret->config)
		abort();
	ret->config_len = strlen(ret->config);
	ret->layers = xcalloc(1, sizeof(*ret->layers));
	ret->n_layers = 1;
	ret->layers[0].tree = *tree;
	ret->tree = *tree;
	return 0;
}
