// SPDX-License-Identifier: Apache-2.0
/* What `kiln inspect` and `kiln images --format json` print about indexed images.
 *
 * `kiln inspect NAME…` prints a JSON array with one object per image, holding every member of
 * the image's config document as the OCI image spec names them (so `.config.Env`,
 * `.config.Cmd`, `.architecture`, `.os`, `.created`, `.rootfs.diff_ids`, `.history` are where
 * the spec puts them, and whatever else the config holds is there too), plus kiln's own
 * members, capitalized as `podman inspect` has them, which no config member can clash with:
 *
 *   "Id":           the image id: the config's digest, 64 hex digits without "sha256:"
 *   "Digest":       "sha256:…" of the manifest a pulled image came as (absent otherwise)
 *   "Names":        every name of kiln's image index pointing at an image of this id
 *   "RepoTags":     those names that carry a tag
 *   "RepoDigests":  "<repository>@<manifest digest>" for each repository of Names (pulled
 *                   images), and the names that carry a digest
 *   "ManifestType": the manifest media type it is exported with by default (OCI or Docker)
 *   "Size":         bytes of the image's files (its merged tree's regular files)
 *   "Record":       "sha256:…" of the image record in the store
 *   "Tree":         "sha256:…" of the merged tree (`kiln mount`, `kiln tree ls` take it)
 *   "Layers":       lowest first: {"Tree": diff tree id, "DiffID": …, "Blob": {"mediaType",
 *                   "digest", "size", "annotations"}, "Origin": …}; DiffID, Blob and Origin
 *                   only when known (pulled layers)
 *
 * `kiln images --format json` prints a JSON array with one object per image, as
 * `podman images --format json`: "Id", "Names", "RepoTags", "RepoDigests", "Digest" (when
 * pulled), "Created" (seconds since the epoch, when the config says), "CreatedAt" (the config's
 * "created" as written), "Size", "Labels" (the config's labels, or null), "Record" and "Tree". */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "sources/imgstore.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

static json_t *
digest_json(const struct digest *d)
{
	char id[DIGEST_STRING_SIZE];

	return json_string(digest_to_string(d, id));
}

/* Names come from the index, where they were normalized: plain ASCII. */
static void
append_unique(json_t *arr, const char *s)
{
	for (size_t i = 0; i < json_array_size(arr); i++)
		if (!strcmp(json_string_value(json_array_get(arr, i)), s))
			return;
	json_array_append_new(arr, json_string(s));
}

/* Names, RepoTags, RepoDigests and Digest of an image. */
static void
add_names(json_t *o, const struct imgstore_image *im, const char *const *names, size_t n)
{
	json_t *all = json_array(), *tags = json_array(), *digests = json_array();
	char mid[DIGEST_STRING_SIZE];

	if (im->has_manifest) {
		digest_to_string(&im->manifest, mid);
		json_object_set_new(o, "Digest", json_string(mid));
	}
	for (size_t i = 0; i < n; i++) {
		struct imgstore_name_parts p;

		imgstore_name_split(names[i], &p);
		json_array_append_new(all, json_string(names[i]));
		if (p.tag)
			json_array_append_new(tags, json_string(names[i]));
		if (p.digest) {
			_cleanup_free_ char *rd = xasprintf("%s@%s", p.repository, p.digest);

			append_unique(digests, rd);
		}
		if (im->has_manifest) {
			_cleanup_free_ char *rd = xasprintf("%s@%s", p.repository, mid);

			append_unique(digests, rd);
		}
		imgstore_name_parts_done(&p);
	}
	json_object_set_new(o, "Names", all);
	json_object_set_new(o, "RepoTags", tags);
	json_object_set_new(o, "RepoDigests", digests);
}

static json_t *
layer_json(const struct imgstore_layer *l)
{
	json_t *o = json_object();

	json_object_set_new(o, "Tree", digest_json(&l->tree));
	if (l->has_diff_id)
		json_object_set_new(o, "DiffID", digest_json(&l->diff_id));
	if (l->has_blob) {
		json_t *b = json_object();

		if (l->blob.media_type)
			json_object_set_new(b, "mediaType", json_string(l->blob.media_type));
		json_object_set_new(b, "digest", digest_json(&l->blob.digest));
		json_object_set_new(b, "size", json_integer((json_int_t)l->blob.size));
		if (l->n_annotations) {
			json_t *a = json_object();

			for (size_t i = 0; i < l->n_annotations; i++)
				json_object_set_new(a, l->annotations[i].key,
				                    json_string(l->annotations[i].value));
			json_object_set_new(b, "annotations", a);
		}
		json_object_set_new(o, "Blob", b);
	}
	if (l->origin) /* json_string gives NULL for a path that is not UTF-8: then none */
		(void)json_object_set_new(o, "Origin", json_string(l->origin));
	return o;
}

/* The members both documents share. */
static int
common(struct store *s, const struct digest *record, const struct imgstore_image *im, json_t *o,
       struct kl_error **err)
{
	char hex[DIGEST_HEX_LEN + 1];
	uint64_t size;
	int r;

	r = imgstore_image_size(s, im, &size, err);
	if (r < 0)
		return r;
	json_object_set_new(o, "Id", json_string(digest_to_hex(&im->id, hex)));
	json_object_set_new(o, "Size", json_integer((json_int_t)size));
	json_object_set_new(o, "Record", digest_json(record));
	json_object_set_new(o, "Tree", digest_json(&im->tree));
	return 0;
}

static int
load(struct store *s, const struct digest *record, struct imgstore_image *ret, json_t **ret_config,
     struct kl_error **err)
{
	char id[DIGEST_STRING_SIZE];
	json_error_t je;
	int r;

	r = imgstore_get(s, record, ret, err);
	if (r == -ENOENT)
		return kl_error_setf(err, ENOENT, "image record %s is not in the store",
		                     digest_to_string(record, id));
	if (r < 0)
		return r;
	*ret_config = json_loadb(ret->config, ret->config_len, 0, &je);
	if (!json_is_object(*ret_config)) {
		json_decref(TAKE_PTR(*ret_config));
		imgstore_image_done(ret);
		return kl_error_setf(err, EBADMSG, "image config %s: not a JSON object",
		                     digest_to_string(&ret->id, id));
	}
	return 0;
}

static int
inspect_one(struct store *s, const struct digest *record, json_t **ret, struct kl_error **err)
{
	struct imgstore_image im = {0};
	json_auto_t *cfg = NULL, *o = json_object(), *layers = json_array();
	char **names = NULL;
	size_t n_names = 0;
	int r;

	r = load(s, record, &im, &cfg, err);
	if (r < 0)
		return r;
	r = imgstore_names_of(s, &im.id, &names, &n_names, err);
	if (r >= 0)
		r = common(s, record, &im, o, err);
	if (r >= 0) {
		add_names(o, &im, (const char *const *)names, n_names);
		json_object_set_new(
		    o, "ManifestType",
		    json_string(im.docker_media_types ? OCI_MT_DOCKER_MANIFEST : OCI_MT_MANIFEST));
		for (size_t i = 0; i < im.n_layers; i++)
			json_array_append_new(layers, layer_json(&im.layers[i]));
		json_object_set(o, "Layers", layers);
		json_object_update_missing(o, cfg);
		*ret = json_incref(o);
	}
	for (size_t i = 0; i < n_names; i++)
		free(names[i]);
	free(names);
	imgstore_image_done(&im);
	return r < 0 ? r : 0;
}

static char *
dump(json_t *arr)
{
	char *text = json_dumps(arr, JSON_INDENT(4) | JSON_PRESERVE_ORDER);

	if (!text)
		abort(); /* only on exhaustion */
	return text;
}

int
imgstore_inspect_json(struct store *s, const struct digest *records, size_t n, char **ret,
                      struct kl_error **err)
{
	json_auto_t *arr = json_array();
	json_t *o = NULL;
	int r;

	for (size_t i = 0; i < n; i++) {
		r = inspect_one(s, &records[i], &o, err);
		if (r < 0)
			return r;
		json_array_append_new(arr, o);
	}
	*ret = dump(arr);
	return 0;
}

static int
summary_one(struct store *s, const struct imgstore_listed *l, json_t **ret, struct kl_error **err)
{
	struct imgstore_image im = {0};
	json_auto_t *cfg = NULL;
	json_t *o = json_object(), *labels, *created;
	int64_t secs;
	int r;

	r = load(s, &l->record, &im, &cfg, err);
	if (r >= 0)
		r = common(s, &l->record, &im, o, err);
	if (r < 0) {
		json_decref(o);
		imgstore_image_done(&im);
		return r;
	}
	add_names(o, &im, l->names, l->n_names);
	if (imgstore_image_created(&im, &secs) >= 0)
		json_object_set_new(o, "Created", json_integer((json_int_t)secs));
	created = json_object_get(cfg, "created");
	if (json_is_string(created))
		json_object_set(o, "CreatedAt", created);
	labels = json_object_get(json_object_get(cfg, "config"), "Labels");
	json_object_set_new(o, "Labels",
	                    json_is_object(labels) ? json_incref(labels) : json_null());
	imgstore_image_done(&im);
	*ret = o;
	return 0;
}

int
imgstore_images_json(struct store *s, const struct imgstore_listed *images, size_t n, char **ret,
                     struct kl_error **err)
{
	json_auto_t *arr = json_array();
	json_t *o = NULL;
	int r;

	for (size_t i = 0; i < n; i++) {
		r = summary_one(s, &images[i], &o, err);
		if (r < 0)
			return r;
		json_array_append_new(arr, o);
	}
	*ret = dump(arr);
	return 0;
}
