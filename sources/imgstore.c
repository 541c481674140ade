// SPDX-License-Identifier: Apache-2.0
/* Image records: an image's config and layers as one canonical JSON blob in the store.
 *
 * The record of an image is this JSON object, written with sorted keys and no whitespace
 * (jansson's JSON_COMPACT | JSON_SORT_KEYS), so the same image always makes the same blob:
 *
 *   {
 *     "schemaVersion": 1,
 *     "config": {"mediaType": "application/vnd.oci.image.config.v1+json"   (or Docker's
 *                             "application/vnd.docker.container.image.v1+json"),
 *                "digest": "sha256:…", "size": 1234},        the config blob, in the store
 *     "manifest": "sha256:…",             optional: the manifest a pulled image came as
 *     "tree": "sha256:…",                 the merged tree of all layers
 *     "layers": [                         lowest first
 *       {"tree": "sha256:…",              the layer as a diff tree
 *        "diffID": "sha256:…",            optional: the digest of its uncompressed tar
 *        "blob": {"mediaType": "…", "digest": "sha256:…", "size": 5678,
 *                 "annotations": {"io.containers.zstd-chunked.manifest-position": "…"}},
 *                                         optional: the original compressed blob; annotations
 *                                         optional, at most IMGSTORE_MAX_ANNOTATIONS strings
 *        "origin": "docker-image://127.0.0.1:5000/busybox"}   optional (or "oci-layout://DIR")
 *     ]
 *   }
 *
 * Readers refuse another schemaVersion and any field of the wrong type, naming the record and
 * the field; unknown fields are ignored, so a later kiln may add some. */
#include "sources/imgstore.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/store.h"
#include "fs/tree.h"
#include "sources/imgstore-internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

#define RECORD_VERSION 1

void
imgstore_layer_done(struct imgstore_layer *l)
{
	oci_descriptor_done(&l->blob);
	for (size_t i = 0; i < l->n_annotations; i++) {
		free(l->annotations[i].key);
		free(l->annotations[i].value);
	}
	free(l->annotations);
	free(l->origin);
	*l = (struct imgstore_layer){0};
}

void
imgstore_image_done(struct imgstore_image *im)
{
	free(im->config);
	for (size_t i = 0; i < im->n_layers; i++)
		imgstore_layer_done(&im->layers[i]);
	free(im->layers);
	*im = (struct imgstore_image){0};
}

/* Writing */

static json_t *
digest_json(const struct digest *d)
{
	char id[DIGEST_STRING_SIZE];

	return json_string(digest_to_string(d, id));
}

/* A string member, refusing what JSON cannot hold (invalid UTF-8). */
static int
set_string(json_t *o, const char *key, const char *value, const char *what, struct kl_error **err)
{
	json_t *v = json_string(value);

	/* json_object_set_new checks the key's UTF-8 too, and drops v when it fails */
	if (!v || json_object_set_new(o, key, v) < 0)
		return kl_error_setf(err, EINVAL, "image record: %s '%s' is not valid UTF-8", what,
		                     key);
	return 0;
}

/* The blob's annotations: the layer's list, plus the chunked fields of the descriptor when the
 * list lacks them (an exporter may fill only the descriptor). */
static int
annotations_json(const struct imgstore_layer *l, json_t **ret, struct kl_error **err)
{
	json_auto_t *a = json_object();
	int r;

	if (l->n_annotations > IMGSTORE_MAX_ANNOTATIONS)
		return kl_error_setf(err, EINVAL,
		                     "image record: a layer has %zu annotations, more "
		                     "than %u",
		                     l->n_annotations, IMGSTORE_MAX_ANNOTATIONS);
	for (size_t i = 0; i < l->n_annotations; i++) {
		r = set_string(a, l->annotations[i].key, l->annotations[i].value, "annotation",
		               err);
		if (r < 0)
			return r;
	}
	if (l->blob.chunked_position && !json_object_get(a, OCI_ANN_ZSTD_CHUNKED_POS))
		json_object_set_new(a, OCI_ANN_ZSTD_CHUNKED_POS,
		                    json_string(l->blob.chunked_position));
	if (l->blob.chunked_checksum && !json_object_get(a, OCI_ANN_ZSTD_CHUNKED_SUM))
		json_object_set_new(a, OCI_ANN_ZSTD_CHUNKED_SUM,
		                    json_string(l->blob.chunked_checksum));
	*ret = json_object_size(a) ? json_incref(a) : NULL;
	return 0;
}

static int
layer_json(const struct imgstore_layer *l, json_t **ret, struct kl_error **err)
{
	json_auto_t *o = json_object();
	int r;

	json_object_set_new(o, "tree", digest_json(&l->tree));
	if (l->has_diff_id)
		json_object_set_new(o, "diffID", digest_json(&l->diff_id));
	if (l->has_blob) {
		json_t *b = json_object(), *a = NULL;

		json_object_set_new(o, "blob", b);
		if (l->blob.media_type) {
			r = set_string(b, "mediaType", l->blob.media_type, "layer", err);
			if (r < 0)
				return r;
		}
		json_object_set_new(b, "digest", digest_json(&l->blob.digest));
		json_object_set_new(b, "size", json_integer((json_int_t)l->blob.size));
		r = annotations_json(l, &a, err);
		if (r < 0)
			return r;
		if (a)
			json_object_set_new(b, "annotations", a);
	}
	/* An origin is a hint for reuse: a layout path that is not UTF-8 is left out. */
	if (l->origin)
		(void)set_string(o, "origin", l->origin, "layer", /* err= */ NULL);
	*ret = json_incref(o);
	return 0;
}

static int
record_json(const struct imgstore_image *im, char **ret, struct kl_error **err)
{
	json_auto_t *o = json_object(), *layers = json_array();
	json_t *c = json_object();
	int r;

	json_object_set_new(o, "schemaVersion", json_integer(RECORD_VERSION));
	json_object_set_new(o, "config", c);
	json_object_set_new(
	    c, "mediaType",
	    json_string(im->docker_media_types ? OCI_MT_DOCKER_CONFIG : OCI_MT_CONFIG));
	json_object_set_new(c, "digest", digest_json(&im->id));
	json_object_set_new(c, "size", json_integer((json_int_t)im->config_len));
	if (im->has_manifest)
		json_object_set_new(o, "manifest", digest_json(&im->manifest));
	json_object_set_new(o, "tree", digest_json(&im->tree));
	for (size_t i = 0; i < im->n_layers; i++) {
		json_t *l;

		r = layer_json(&im->layers[i], &l, err);
		if (r < 0)
			return r;
		json_array_append_new(layers, l);
	}
	json_object_set(o, "layers", layers);
	*ret = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	if (!*ret)
		abort(); /* jansson fails only on exhaustion here */
	return 0;
}

static int
check_tree(struct store *s, const struct digest *d, const char *what, struct kl_error **err)
{
	char id[DIGEST_STRING_SIZE];

	if (store_has_blob(s, d) > 0)
		return 0;
	return kl_error_setf(err, ENOENT, "image record: %s %s is not in the store", what,
	                     digest_to_string(d, id));
}

int
imgstore_put(struct store *s, struct imgstore_image *im, struct digest *ret, struct kl_error **err)
{
	_cleanup_free_ char *rec = NULL;
	json_auto_t *cfg = NULL;
	json_error_t je;
	int r;

	if (!im->config || im->config_len > OCI_MAX_CONFIG_SIZE)
		return kl_error_setf(err, EINVAL, "image record: no config, or one over %u bytes",
		                     OCI_MAX_CONFIG_SIZE);
	if (im->n_layers > OCI_MAX_LAYERS)
		return kl_error_setf(err, EINVAL, "image record: %zu layers, more than %u",
		                     im->n_layers, OCI_MAX_LAYERS);
	cfg = json_loadb(im->config, im->config_len, 0, &je);
	if (!json_is_object(cfg))
		return kl_error_setf(err, EBADMSG,
		                     "image record: the config is not a JSON object%s%s",
		                     cfg ? "" : ": ", cfg ? "" : je.text);
	r = check_tree(s, &im->tree, "merged tree", err);
	for (size_t i = 0; r >= 0 && i < im->n_layers; i++)
		r = check_tree(s, &im->layers[i].tree, "layer tree", err);
	if (r >= 0)
		r = store_ingest_buffer(s, im->config, im->config_len, &im->id, err);
	if (r >= 0)
		r = record_json(im, &rec, err);
	if (r >= 0)
		r = store_ingest_buffer(s, rec, strlen(rec), ret, err);
	return r < 0 ? r : 0;
}

/* Reading */

struct reader {
	char id[DIGEST_STRING_SIZE]; /* the record, for messages */
	uint64_t config_size;        /* what the record says of its config */
	struct kl_error **err;
};

static int
bad(struct reader *rd, const char *field, const char *why)
{
	return kl_error_setf(rd->err, EBADMSG, "image record %s: '%s' %s", rd->id, field, why);
}

/* An optional digest member: 0 absent, 1 present, < 0 malformed. */
static int
get_digest(struct reader *rd, json_t *o, const char *key, const char *field, struct digest *ret)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return 0;
	if (!json_is_string(v) ||
	    digest_parse(json_string_value(v), json_string_length(v), ret, NULL) < 0)
		return bad(rd, field, "is not a sha256 digest");
	return 1;
}

static int
need_digest(struct reader *rd, json_t *o, const char *key, const char *field, struct digest *ret)
{
	int r = get_digest(rd, o, key, field, ret);

	return r == 0 ? bad(rd, field, "is missing") : r;
}

/* An optional string member of at most max bytes, without NUL bytes. */
static int
get_string(struct reader *rd, json_t *o, const char *key, const char *field, size_t max, char **ret)
{
	json_t *v = json_object_get(o, key);

	*ret = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v) || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return bad(rd, field, "is not a string of at most the size allowed");
	*ret = xstrdup(json_string_value(v));
	return 1;
}

static int
get_size(struct reader *rd, json_t *o, const char *field, uint64_t *ret)
{
	json_t *v = json_object_get(o, "size");

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return bad(rd, field, "has no size of 0 or more");
	*ret = (uint64_t)json_integer_value(v);
	return 0;
}

static int
annotation_cmp(const void *a, const void *b)
{
	return strcmp(((const struct imgstore_annotation *)a)->key,
	              ((const struct imgstore_annotation *)b)->key);
}

static int
parse_annotations(struct reader *rd, json_t *a, const char *field, struct imgstore_layer *l)
{
	const char *key;
	json_t *v;

	if (!a)
		return 0;
	if (!json_is_object(a) || json_object_size(a) > IMGSTORE_MAX_ANNOTATIONS)
		return bad(rd, field, "is not an object of few enough annotations");
	l->annotations = xcalloc(json_object_size(a) + 1, sizeof(*l->annotations));
	json_object_foreach(a, key, v)
	{
		struct imgstore_annotation *an = &l->annotations[l->n_annotations];

		if (!json_is_string(v) || json_string_length(v) > OCI_MAX_ANNOTATION ||
		    strlen(json_string_value(v)) != json_string_length(v) ||
		    strlen(key) > OCI_MAX_ANNOTATION)
			return bad(rd, field,
			           "holds a value that is not a string of at most 4096 "
			           "bytes");
		an->key = xstrdup(key);
		an->value = xstrdup(json_string_value(v));
		l->n_annotations++;
		if (!strcmp(key, OCI_ANN_ZSTD_CHUNKED_POS))
			l->blob.chunked_position = xstrdup(an->value);
		else if (!strcmp(key, OCI_ANN_ZSTD_CHUNKED_SUM))
			l->blob.chunked_checksum = xstrdup(an->value);
	}
	qsort(l->annotations, l->n_annotations, sizeof(*l->annotations), annotation_cmp);
	return 0;
}

static int
parse_blob(struct reader *rd, json_t *b, size_t i, struct imgstore_layer *l)
{
	_cleanup_free_ char *field = xasprintf("layers[%zu].blob", i);
	_cleanup_free_ char *mt = xasprintf("%s.mediaType", field);
	_cleanup_free_ char *dg = xasprintf("%s.digest", field);
	_cleanup_free_ char *an = xasprintf("%s.annotations", field);
	int r;

	if (!json_is_object(b))
		return bad(rd, field, "is not an object");
	l->has_blob = true;
	r = get_string(rd, b, "mediaType", mt, 256, &l->blob.media_type);
	if (r >= 0)
		r = need_digest(rd, b, "digest", dg, &l->blob.digest);
	if (r >= 0)
		r = get_size(rd, b, field, &l->blob.size);
	if (r >= 0)
		r = parse_annotations(rd, json_object_get(b, "annotations"), an, l);
	return r < 0 ? r : 0;
}

static int
parse_layer(struct reader *rd, json_t *o, size_t i, struct imgstore_layer *l)
{
	_cleanup_free_ char *field = xasprintf("layers[%zu]", i);
	_cleanup_free_ char *tree = xasprintf("%s.tree", field);
	_cleanup_free_ char *diff = xasprintf("%s.diffID", field);
	_cleanup_free_ char *origin = xasprintf("%s.origin", field);
	json_t *b;
	int r;

	if (!json_is_object(o))
		return bad(rd, field, "is not an object");
	r = need_digest(rd, o, "tree", tree, &l->tree);
	if (r >= 0)
		r = get_digest(rd, o, "diffID", diff, &l->diff_id);
	l->has_diff_id = r > 0;
	if (r >= 0 && (b = json_object_get(o, "blob")))
		r = parse_blob(rd, b, i, l);
	if (r >= 0)
		r = get_string(rd, o, "origin", origin, 8192, &l->origin);
	return r < 0 ? r : 0;
}

static int
parse_record(struct reader *rd, json_t *j, struct imgstore_image *im, struct digest *ret_config)
{
	json_t *v = json_object_get(j, "schemaVersion"), *c, *layers;
	_cleanup_free_ char *mt = NULL;
	int r;

	if (!json_is_integer(v) || json_integer_value(v) != RECORD_VERSION)
		return bad(rd, "schemaVersion", "is not 1 (a record of another kiln version)");
	c = json_object_get(j, "config");
	if (!json_is_object(c))
		return bad(rd, "config", "is not an object");
	r = get_string(rd, c, "mediaType", "config.mediaType", 256, &mt);
	if (r >= 0)
		r = need_digest(rd, c, "digest", "config.digest", ret_config);
	if (r >= 0)
		r = get_size(rd, c, "config", &rd->config_size);
	if (r >= 0)
		r = get_digest(rd, j, "manifest", "manifest", &im->manifest);
	im->has_manifest = r > 0;
	if (r >= 0)
		r = need_digest(rd, j, "tree", "tree", &im->tree);
	if (r < 0)
		return r;
	im->docker_media_types = mt && !strcmp(mt, OCI_MT_DOCKER_CONFIG);
	layers = json_object_get(j, "layers");
	if (!json_is_array(layers) || json_array_size(layers) > OCI_MAX_LAYERS)
		return bad(rd, "layers", "is not an array of at most 1024 layers");
	im->layers = xcalloc(json_array_size(layers) + 1, sizeof(*im->layers));
	for (size_t i = 0; i < json_array_size(layers); i++) {
		r = parse_layer(rd, json_array_get(layers, i), i, &im->layers[i]);
		im->n_layers = i + 1;
		if (r < 0)
			return r;
	}
	return 0;
}

/* The record's JSON, verified against its name. */
static int
load_record(struct store *s, const struct digest *record, json_t **ret, struct kl_error **err)
{
	_cleanup_free_ char *buf = NULL;
	char id[DIGEST_STRING_SIZE];
	json_error_t je;
	size_t len;
	int r;

	r = store_read_blob(s, record, IMGSTORE_MAX_RECORD, &buf, &len, err);
	if (r == -ENOENT)
		return r;
	if (r < 0) {
		kl_error_prefix(err, "image record %s", digest_to_string(record, id));
		return r;
	}
	*ret = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(*ret)) {
		json_decref(TAKE_PTR(*ret));
		return kl_error_setf(err, EBADMSG, "image record %s: not a JSON object (%s)",
		                     digest_to_string(record, id), je.text);
	}
	return 0;
}

int
imgstore_get(struct store *s, const struct digest *record, struct imgstore_image *ret,
             struct kl_error **err)
{
	struct imgstore_image im = {0};
	struct reader rd = {.err = err};
	json_auto_t *j = NULL;
	char cid[DIGEST_STRING_SIZE];
	int r;

	r = load_record(s, record, &j, err);
	if (r < 0)
		return r;
	digest_to_string(record, rd.id);
	r = parse_record(&rd, j, &im, &im.id);
	if (r >= 0) {
		r = store_read_blob(s, &im.id, OCI_MAX_CONFIG_SIZE, &im.config, &im.config_len,
		                    err);
		if (r == -ENOENT)
			r = kl_error_setf(err, EBADMSG,
			                  "image record %s: its config %s is not in the store",
			                  rd.id, digest_to_string(&im.id, cid));
	}
	if (r >= 0 && im.config_len != rd.config_size)
		r = bad(&rd, "config.size", "is not the size of its config");
	if (r < 0) {
		imgstore_image_done(&im);
		return r;
	}
	*ret = im;
	return 0;
}

/* What an image refers to */

static int
call(imgstore_blob_fn fn, void *userdata, const struct digest *d, enum imgstore_blob_kind kind)
{
	return fn(d, kind, userdata);
}

int
imgstore_record_foreach_blob(struct store *s, const struct digest *record, imgstore_blob_fn fn,
                             void *userdata, struct kl_error **err)
{
	struct imgstore_image im = {0};
	struct reader rd = {.err = err};
	json_auto_t *j = NULL;
	struct digest config;
	int r;

	r = load_record(s, record, &j, err);
	if (r < 0)
		return r;
	digest_to_string(record, rd.id);
	r = parse_record(&rd, j, &im, &config);
	if (r >= 0)
		r = call(fn, userdata, record, IMGSTORE_BLOB_RECORD);
	if (r >= 0)
		r = call(fn, userdata, &config, IMGSTORE_BLOB_CONFIG);
	if (r >= 0)
		r = call(fn, userdata, &im.tree, IMGSTORE_BLOB_TREE);
	for (size_t i = 0; r >= 0 && i < im.n_layers; i++) {
		const struct imgstore_layer *l = &im.layers[i];

		r = call(fn, userdata, &l->tree, IMGSTORE_BLOB_TREE);
		if (r >= 0 && l->has_blob && store_has_blob(s, &l->blob.digest) > 0)
			r = call(fn, userdata, &l->blob.digest, IMGSTORE_BLOB_LAYER);
	}
	imgstore_image_done(&im);
	return r < 0 ? r : 0;
}

/* Records already walked, so an image of many names is walked once. */
struct blob_walk {
	struct store *store;
	imgstore_blob_fn fn;
	void *userdata;
	struct digest *seen;
	size_t n_seen, cap;
	struct kl_error **err;
};

static int
walk_name(const char *name, const struct digest *record, void *userdata)
{
	struct blob_walk *w = userdata;
	char id[DIGEST_STRING_SIZE];
	int r;

	for (size_t i = 0; i < w->n_seen; i++)
		if (digest_equal(&w->seen[i], record))
			return 0;
	w->seen = xgrow(w->seen, &w->cap, w->n_seen + 1, sizeof(*w->seen));
	w->seen[w->n_seen++] = *record;
	r = imgstore_record_foreach_blob(w->store, record, w->fn, w->userdata, w->err);
	if (r == -ENOENT && !(w->err && *w->err))
		return 0; /* a name left pointing at a record that is gone names nothing to keep */
	if (r < 0)
		kl_error_prefix(w->err, "image '%s' (record %s)", name,
		                digest_to_string(record, id));
	return r;
}

int
imgstore_foreach_blob(struct store *s, imgstore_blob_fn fn, void *userdata, struct kl_error **err)
{
	struct blob_walk w = {.store = s, .fn = fn, .userdata = userdata, .err = err};
	int r;

	r = imgstore_foreach(s, walk_name, &w, err);
	free(w.seen);
	return r;
}

/* Facts for listings */

int
imgstore_image_created(const struct imgstore_image *im, int64_t *ret)
{
	json_auto_t *j = json_loadb(im->config, im->config_len, 0, NULL);
	json_t *v = j ? json_object_get(j, "created") : NULL;
	struct tm tm = {0};
	const char *p;
	int off = 0, n = 0;
	time_t t;

	if (!json_is_string(v))
		return -ENOENT;
	p = json_string_value(v);
	/* RFC 3339: 2023-05-19T20:19:39[.fraction](Z|±hh:mm) */
	if (sscanf(p, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	           &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
		return -ENOENT;
	p += n;
	if (*p == '.')
		p += 1 + strspn(p + 1, "0123456789");
	if (*p == '+' || *p == '-') {
		int h, m;

		if (sscanf(p + 1, "%2d:%2d", &h, &m) != 2)
			return -ENOENT;
		off = (*p == '-' ? -1 : 1) * (h * 3600 + m * 60);
	} else if (*p != 'Z' && *p != 'z') {
		return -ENOENT;
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	if (t == (time_t)-1 && tm.tm_year != 69)
		return -ENOENT;
	*ret = (int64_t)t - off;
	return 0;
}

int
imgstore_image_size(struct store *s, const struct imgstore_image *im, uint64_t *ret,
                    struct kl_error **err)
{
	_cleanup_(tree_unrefp) struct tree *t = NULL;
	char id[DIGEST_STRING_SIZE];
	uint64_t sum = 0;
	int r;

	r = tree_load(s, &im->tree, &t, err);
	if (r == -ENOENT)
		return kl_error_setf(err, ENOENT, "the image's tree %s is not in the store",
		                     digest_to_string(&im->tree, id));
	if (r < 0)
		return r;
	for (uint32_t i = 0; i < tree_count(t); i++) {
		struct tree_entry e;

		tree_entry_at(t, i, &e);
		if (e.type == TREE_REG)
			sum += e.size;
	}
	*ret = sum;
	return 0;
}

int
imgstore_record_id(struct store *s, const struct digest *record, struct digest *ret,
                   struct kl_error **err)
{
	struct imgstore_image im = {0};
	struct reader rd = {.err = err};
	json_auto_t *j = NULL;
	int r;

	r = load_record(s, record, &j, err);
	if (r < 0)
		return r;
	digest_to_string(record, rd.id);
	r = parse_record(&rd, j, &im, ret);
	imgstore_image_done(&im);
	return r < 0 ? r : 0;
}
