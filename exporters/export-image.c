// SPDX-License-Identifier: Apache-2.0
/* Image assembly: layer blobs (kept, recorded or made), the final config, manifest and index. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/export-internal.h"
#include "fs/tree.h"
#include "oci/image.h"
#include "sources/imgstore.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/log.h"
#include "util/xalloc.h"

#define ANN_REF_TYPE "vnd.docker.reference.type"
#define ANN_REF_DIGEST "vnd.docker.reference.digest"
#define ANN_PREDICATE "in-toto.io/predicate-type"
#define MT_IN_TOTO "application/vnd.in-toto+json"
#define PREDICATE_SLSA02 "https://slsa.dev/provenance/v0.2"

void
export_image_done(struct export_image *img)
{
	for (size_t i = 0; i < img->n_blobs; i++) {
		free(img->blobs[i].media_type);
		free(img->blobs[i].data);
		free(img->blobs[i].origin);
	}
	free(img->blobs);
	free(img->os);
	free(img->arch);
	free(img->variant);
	*img = (struct export_image){0};
}

static struct export_blob *
new_blob(struct export_image *img, enum export_blob_kind kind, const char *media_type)
{
	struct export_blob *b;

	img->blobs = xrealloc(img->blobs, (img->n_blobs + 1) * sizeof(*img->blobs));
	b = &img->blobs[img->n_blobs++];
	*b = (struct export_blob){.kind = kind, .media_type = xstrdup(media_type)};
	return b;
}

/* A blob the export wrote itself; takes data. */
static size_t
add_data_blob(struct export_image *img, enum export_blob_kind kind, const char *media_type,
              char *data, size_t len)
{
	struct export_blob *b = new_blob(img, kind, media_type);

	b->data = data;
	b->size = len;
	digest_buffer(data, len, &b->digest);
	return img->n_blobs - 1;
}

static json_t *
descriptor_json(const struct export_blob *b)
{
	char id[DIGEST_STRING_SIZE];

	return json_pack("{s:s, s:s, s:I}", "mediaType", b->media_type, "digest",
	                 digest_to_string(&b->digest, id), "size", (json_int_t)b->size);
}

static bool
has_annotations(const struct export_options *o)
{
	return o->n_annotations > 0;
}

static bool
wants_index(const struct export_options *o)
{
	if (o->provenance.mode != EXPORT_PROVENANCE_NONE)
		return true;
	for (size_t i = 0; i < o->n_annotations; i++)
		if (o->annotations[i].target == EXPORT_ANN_INDEX ||
		    o->annotations[i].target == EXPORT_ANN_MANIFEST_DESCRIPTOR)
			return true;
	return false;
}

/* Which media types: see export.h. */
static int
choose_media_types(const struct export_options *o, const struct imgstore_image *im, bool *ret,
                   struct kl_error **err)
{
	const char *why = NULL;

	if (o->has_compression &&
	    (o->compression == LAYER_ZSTD || o->compression == LAYER_ZSTD_CHUNKED ||
	     o->compression == LAYER_ESTARGZ))
		why = o->compression == LAYER_ESTARGZ ? "compression=estargz" : "zstd compression";
	else if (has_annotations(o))
		why = "annotations";
	else if (o->provenance.mode != EXPORT_PROVENANCE_NONE)
		why = "attestations";
	if (o->oci_mediatypes == 0 && why)
		return kl_error_setf(err, EINVAL,
		                     "output: %s need OCI media types, and oci-mediatypes=false "
		                     "was given",
		                     why);
	if (o->oci_mediatypes >= 0)
		*ret = o->oci_mediatypes;
	else if (why)
		*ret = true;
	else
		*ret =
		    o->type == EXPORT_OCI || (o->type == EXPORT_IMAGE && !im->docker_media_types);
	return 0;
}

/* The annotations the layer exporter gives its blob (zstd:chunked and eStargz TOCs). */
static void
annotate_made_layer(json_t *d, const struct layer_blob *lb)
{
	json_t *a;

	if (!lb->n_annotations)
		return;
	a = json_object();
	for (size_t i = 0; i < lb->n_annotations; i++)
		json_object_set_new(a, lb->annotations[i].key,
		                    json_string(lb->annotations[i].value));
	json_object_set_new(d, "annotations", a);
}

/* A kept blob's descriptor repeats the annotations it came with (its TOC's, for lazy pulls). */
static void
annotate_kept_layer(json_t *d, const struct imgstore_layer *l)
{
	const struct oci_descriptor *od = &l->blob;
	json_t *a = json_object();

	for (size_t i = 0; i < l->n_annotations; i++)
		json_object_set_new(a, l->annotations[i].key, json_string(l->annotations[i].value));
	if (od->chunked_checksum && !json_object_get(a, OCI_ANN_ZSTD_CHUNKED_SUM))
		json_object_set_new(a, OCI_ANN_ZSTD_CHUNKED_SUM, json_string(od->chunked_checksum));
	if (od->chunked_position && !json_object_get(a, OCI_ANN_ZSTD_CHUNKED_POS))
		json_object_set_new(a, OCI_ANN_ZSTD_CHUNKED_POS, json_string(od->chunked_position));
	if (json_object_size(a))
		json_object_set_new(d, "annotations", a);
	else
		json_decref(a);
}

/* Layer i of im: its original blob, kept, or layer_export's. Appends its descriptor to
 * layers and its diff id to diff_ids[i]. */
static int
build_layer(struct export_ctx *c, const struct imgstore_image *im, size_t i, bool oci,
            json_t *layers, struct digest *diff_ids, struct kl_error **err)
{
	const struct imgstore_layer *l = &im->layers[i];
	const struct export_options *o = c->o;
	struct layer_options lo = {
	    .compression = o->has_compression ? o->compression : LAYER_GZIP,
	    .level = o->compression_level,
	    .has_epoch = o->has_epoch,
	    .epoch = o->epoch,
	    .rewrite_timestamp = o->rewrite_timestamp,
	};
	_cleanup_(tree_unrefp) struct tree *t = NULL;
	struct layer_blob lb = {0};
	struct export_blob *b;
	json_t *d;
	bool reused = false;
	int r;

	if (l->has_blob && l->has_diff_id && !o->force_compression) {
		b = new_blob(&c->img, EXPORT_BLOB_LAYER,
		             export_convert_media_type(l->blob.media_type, oci));
		b->digest = l->blob.digest;
		b->size = l->blob.size;
		b->origin = l->origin ? xstrdup(l->origin) : NULL;
		b->reused = true;
		diff_ids[i] = b->diff_id = l->diff_id;
		d = descriptor_json(b);
		annotate_kept_layer(d, l);
		json_array_append_new(layers, d);
		c->res->layers_reused++;
		return 0;
	}
	r = tree_load(c->s, &l->tree, &t, err);
	if (r == -ENOENT) {
		char id[DIGEST_STRING_SIZE];

		return kl_error_setf(err, ENOENT, "layer %zu: its diff tree %s is not in the store",
		                     i + 1, digest_to_string(&l->tree, id));
	}
	if (r < 0)
		return r;
	r = layer_export(c->s, c->ps, t, &lo, &lb, &reused, err);
	if (r < 0) {
		kl_error_prefix(err, "layer %zu", i + 1);
		return r;
	}
	b = new_blob(&c->img, EXPORT_BLOB_LAYER, export_layer_media_type(lb.compression, oci));
	b->digest = lb.digest;
	b->size = lb.size;
	b->reused = reused;
	diff_ids[i] = b->diff_id = lb.diff_id;
	d = descriptor_json(b);
	annotate_made_layer(d, &lb);
	json_array_append_new(layers, d);
	if (reused)
		c->res->layers_reused++;
	else
		c->res->layers_made++;
	layer_blob_done(&lb);
	return 0;
}

static void
add_annotations(json_t *doc, const struct export_options *o, enum export_annotation_target t)
{
	json_t *a = json_object_get(doc, "annotations");

	for (size_t i = 0; i < o->n_annotations; i++) {
		if (o->annotations[i].target != t)
			continue;
		if (!a) {
			a = json_object();
			json_object_set_new(doc, "annotations", a);
		}
		json_object_set_new(a, o->annotations[i].key, json_string(o->annotations[i].value));
	}
}

/* Serializes doc (consumed) as a blob of kind. */
static size_t
add_json_blob(struct export_image *img, enum export_blob_kind kind, const char *media_type,
              json_t *doc)
{
	char *text = json_dumps(doc, JSON_COMPACT);

	json_decref(doc);
	if (!text)
		abort(); /* jansson fails only without memory */
	return add_data_blob(img, kind, media_type, text, strlen(text));
}

static int
build_config(struct export_ctx *c, const struct imgstore_image *im, bool oci,
             const struct digest *diff_ids, struct kl_error **err)
{
	const struct export_options *o = c->o;
	char *out = NULL;
	size_t len = 0, pos;
	struct oci_config parsed;
	int r;

	r = export_config_finish(im->config, im->config_len, diff_ids, im->n_layers, o->has_epoch,
	                         o->epoch, &out, &len, err);
	if (r < 0)
		return r;
	if (r == 0) {
		out = xmemdup(im->config, im->config_len + 1);
		len = im->config_len;
	}
	pos = add_data_blob(&c->img, EXPORT_BLOB_CONFIG, oci ? OCI_MT_CONFIG : OCI_MT_DOCKER_CONFIG,
	                    out, len);
	c->img.config = pos;
	/* A pulled image's config, kept byte for byte, is in the repository its layers came from:
	 * a push to the same registry mounts it too. */
	if (r == 0 && im->has_manifest && im->n_layers && im->layers[0].origin)
		c->img.blobs[pos].origin = xstrdup(im->layers[0].origin);
	r = oci_config_parse(c->img.blobs[pos].data, len, &parsed, err);
	if (r < 0) {
		kl_error_prefix(err, "image config");
		return r;
	}
	c->img.os = xstrdup(parsed.platform.os ? parsed.platform.os : "linux");
	c->img.arch =
	    xstrdup(parsed.platform.architecture ? parsed.platform.architecture : "amd64");
	c->img.variant = parsed.platform.variant ? xstrdup(parsed.platform.variant) : NULL;
	oci_config_done(&parsed);
	return 0;
}

static json_t *
manifest_json(const struct export_blob *config, json_t *layers, bool oci)
{
	return json_pack("{s:i, s:s, s:o, s:o}", "schemaVersion", 2, "mediaType",
	                 oci ? OCI_MT_MANIFEST : OCI_MT_DOCKER_MANIFEST, "config",
	                 descriptor_json(config), "layers", layers);
}

/* The attestation manifest for the image manifest at c->img.manifest; its position. */
static int
build_attestation(struct export_ctx *c, size_t *ret, struct kl_error **err)
{
	struct export_image *img = &c->img;
	struct digest subject = img->blobs[img->manifest].digest;
	char *statement = NULL, id[DIGEST_STRING_SIZE];
	size_t len, layer, cfg;
	json_t *d, *layers, *config, *m;
	int r;

	r = export_provenance_statement(c, &subject, &statement, &len, err);
	if (r < 0)
		return r;
	layer = add_data_blob(img, EXPORT_BLOB_OTHER, MT_IN_TOTO, statement, len);
	config = json_pack("{s:s, s:s, s:{}, s:{s:s, s:[s]}}", "architecture", "unknown", "os",
	                   "unknown", "config", "rootfs", "type", "layers", "diff_ids",
	                   digest_to_string(&img->blobs[layer].digest, id));
	cfg = add_json_blob(img, EXPORT_BLOB_OTHER, OCI_MT_CONFIG, config);
	d = descriptor_json(&img->blobs[layer]);
	json_object_set_new(d, "annotations", json_pack("{s:s}", ANN_PREDICATE, PREDICATE_SLSA02));
	layers = json_array();
	json_array_append_new(layers, d);
	m = manifest_json(&img->blobs[cfg], layers, true);
	*ret = add_json_blob(img, EXPORT_BLOB_MANIFEST, OCI_MT_MANIFEST, m);
	return 0;
}

static json_t *
platform_json(const struct export_image *img)
{
	json_t *p = json_pack("{s:s, s:s}", "architecture", img->arch, "os", img->os);

	if (img->variant)
		json_object_set_new(p, "variant", json_string(img->variant));
	return p;
}

static int
build_index(struct export_ctx *c, bool oci, struct kl_error **err)
{
	struct export_image *img = &c->img;
	json_t *manifests = json_array(), *d, *idx;
	char id[DIGEST_STRING_SIZE];
	size_t att;
	int r;

	d = descriptor_json(&img->blobs[img->manifest]);
	json_object_set_new(d, "platform", platform_json(img));
	add_annotations(d, c->o, EXPORT_ANN_MANIFEST_DESCRIPTOR);
	json_array_append_new(manifests, d);
	if (c->o->provenance.mode != EXPORT_PROVENANCE_NONE) {
		r = build_attestation(c, &att, err);
		if (r < 0) {
			json_decref(manifests);
			return r;
		}
		d = descriptor_json(&img->blobs[att]);
		json_object_set_new(
		    d, "annotations",
		    json_pack("{s:s, s:s}", ANN_REF_DIGEST,
		              digest_to_string(&img->blobs[img->manifest].digest, id), ANN_REF_TYPE,
		              "attestation-manifest"));
		json_object_set_new(
		    d, "platform",
		    json_pack("{s:s, s:s}", "architecture", "unknown", "os", "unknown"));
		json_array_append_new(manifests, d);
	}
	idx = json_pack("{s:i, s:s, s:o}", "schemaVersion", 2, "mediaType",
	                oci ? OCI_MT_INDEX : OCI_MT_DOCKER_LIST, "manifests", manifests);
	add_annotations(idx, c->o, EXPORT_ANN_INDEX);
	add_json_blob(img, EXPORT_BLOB_MANIFEST, oci ? OCI_MT_INDEX : OCI_MT_DOCKER_LIST, idx);
	img->has_index = true;
	return 0;
}

int
export_image_build(struct export_ctx *c, const struct imgstore_image *im, struct kl_error **err)
{
	_cleanup_free_ struct digest *diff_ids = NULL;
	json_t *layers, *m;
	bool oci = false;
	int r;

	if (im->n_layers > OCI_MAX_LAYERS)
		return kl_error_setf(err, EINVAL, "image: %zu layers, more than %u", im->n_layers,
		                     OCI_MAX_LAYERS);
	r = choose_media_types(c->o, im, &oci, err);
	if (r < 0)
		return r;
	c->img.oci = oci;
	diff_ids = xcalloc(im->n_layers ? im->n_layers : 1, sizeof(*diff_ids));
	layers = json_array();
	for (size_t i = 0; i < im->n_layers; i++) {
		r = build_layer(c, im, i, oci, layers, diff_ids, err);
		if (r < 0) {
			json_decref(layers);
			return r;
		}
	}
	r = build_config(c, im, oci, diff_ids, err);
	if (r < 0) {
		json_decref(layers);
		return r;
	}
	m = manifest_json(&c->img.blobs[c->img.config], layers, oci);
	add_annotations(m, c->o, EXPORT_ANN_MANIFEST);
	c->img.manifest = add_json_blob(&c->img, EXPORT_BLOB_MANIFEST,
	                                oci ? OCI_MT_MANIFEST : OCI_MT_DOCKER_MANIFEST, m);
	if (wants_index(c->o)) {
		r = build_index(c, oci, err);
		if (r < 0)
			return r;
	}
	kl_debug("export: %zu layers (%zu reused, %zu made), root %s", im->n_layers,
	         c->res->layers_reused, c->res->layers_made,
	         c->img.has_index ? "an index" : "the manifest");
	return 0;
}
