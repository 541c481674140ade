// SPDX-License-Identifier: Apache-2.0
/* Parsing of OCI and Docker v2 schema 2 manifests, indexes and configs with jansson. */
#include "oci/image.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/xalloc.h"

/* jansson's error text, translated once into ours. */
static int
error_from_json(struct kl_error **err, const char *what, const json_error_t *je)
{
	return kl_error_setf(err, EBADMSG, "%s: malformed JSON at %d:%d: %s", what, je->line,
	                     je->column, je->text);
}

static int
load(const char *buf, size_t len, size_t max, const char *what, json_t **ret, struct kl_error **err)
{
	json_error_t je;
	json_t *j;

	if (len > max)
		return kl_error_setf(err, EFBIG, "%s: %zu bytes is more than the limit of %zu",
		                     what, len, max);
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return error_from_json(err, what, &je);
	if (!json_is_object(j)) {
		json_decref(j);
		return kl_error_setf(err, EBADMSG, "%s: not a JSON object", what);
	}
	*ret = j;
	return 0;
}

/* An optional string member: NULL when absent, -EBADMSG when not a string or too long. */
static int
get_str(json_t *o, const char *key, size_t max, const char *what, char **ret, struct kl_error **err)
{
	json_t *v = json_object_get(o, key);

	*ret = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v) || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return kl_error_setf(err, EBADMSG, "%s: '%s' is not a string of at most %zu bytes",
		                     what, key, max);
	*ret = xstrdup(json_string_value(v));
	return 0;
}

static int
get_digest(json_t *o, const char *key, const char *what, struct digest *ret, struct kl_error **err)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v) ||
	    digest_parse(json_string_value(v), json_string_length(v), ret, NULL) < 0)
		return kl_error_setf(err, EBADMSG, "%s: '%s' is missing or not a sha256 digest",
		                     what, key);
	return 0;
}

static int
parse_platform(json_t *o, const char *what, struct oci_platform *ret, struct kl_error **err)
{
	struct oci_platform p = {0};
	int r;

	r = get_str(o, "os", 64, what, &p.os, err);
	if (r >= 0)
		r = get_str(o, "architecture", 64, what, &p.architecture, err);
	if (r >= 0)
		r = get_str(o, "variant", 64, what, &p.variant, err);
	if (r < 0) {
		oci_platform_done(&p);
		return r;
	}
	*ret = p;
	return 0;
}

void
oci_descriptor_done(struct oci_descriptor *d)
{
	free(d->media_type);
	oci_platform_done(&d->platform);
	free(d->ref_name);
	free(d->chunked_position);
	free(d->chunked_checksum);
	*d = (struct oci_descriptor){0};
}

static int
parse_annotations(json_t *o, const char *what, struct oci_descriptor *d, struct kl_error **err)
{
	json_t *a = json_object_get(o, "annotations");
	int r;

	if (!a)
		return 0;
	if (!json_is_object(a))
		return kl_error_setf(err, EBADMSG, "%s: 'annotations' is not an object", what);
	r = get_str(a, OCI_ANN_REF_NAME, OCI_MAX_ANNOTATION, what, &d->ref_name, err);
	if (r >= 0)
		r = get_str(a, OCI_ANN_ZSTD_CHUNKED_POS, OCI_MAX_ANNOTATION, what,
		            &d->chunked_position, err);
	if (r >= 0)
		r = get_str(a, OCI_ANN_ZSTD_CHUNKED_SUM, OCI_MAX_ANNOTATION, what,
		            &d->chunked_checksum, err);
	return r;
}

static int
parse_descriptor(json_t *o, const char *what, struct oci_descriptor *ret, struct kl_error **err)
{
	struct oci_descriptor d = {0};
	json_t *size, *platform;
	int r;

	if (!json_is_object(o))
		return kl_error_setf(err, EBADMSG, "%s: a descriptor is not an object", what);
	size = json_object_get(o, "size");
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return kl_error_setf(err, EBADMSG, "%s: descriptor 'size' missing or negative",
		                     what);
	d.size = (uint64_t)json_integer_value(size);
	r = get_str(o, "mediaType", 256, what, &d.media_type, err);
	if (r >= 0)
		r = get_digest(o, "digest", what, &d.digest, err);
	if (r >= 0)
		r = parse_annotations(o, what, &d, err);
	platform = json_object_get(o, "platform");
	if (r >= 0 && platform) {
		if (!json_is_object(platform))
			r = kl_error_setf(err, EBADMSG, "%s: 'platform' is not an object", what);
		else
			r = parse_platform(platform, what, &d.platform, err);
		d.has_platform = r >= 0;
	}
	if (r < 0) {
		oci_descriptor_done(&d);
		return r;
	}
	*ret = d;
	return 0;
}

static int
parse_descriptors(json_t *arr, size_t max, const char *what, struct oci_descriptor **ret,
                  size_t *ret_n, struct kl_error **err)
{
	struct oci_descriptor *ds;
	size_t n;
	int r;

	if (!json_is_array(arr))
		return kl_error_setf(err, EBADMSG, "%s: descriptor list missing or not an array",
		                     what);
	n = json_array_size(arr);
	if (n > max)
		return kl_error_setf(err, EBADMSG, "%s: %zu entries is more than the limit of %zu",
		                     what, n, max);
	ds = xcalloc(n ? n : 1, sizeof(*ds));
	for (size_t i = 0; i < n; i++) {
		r = parse_descriptor(json_array_get(arr, i), what, &ds[i], err);
		if (r < 0) {
			for (size_t k = 0; k < i; k++)
				oci_descriptor_done(&ds[k]);
			free(ds);
			return r;
		}
	}
	*ret = ds;
	*ret_n = n;
	return 0;
}

int
oci_doc_kind(const char *buf, size_t len, const char *content_type, enum oci_doc_kind *ret,
             struct kl_error **err)
{
	json_auto_t *j = NULL;
	const char *mt = NULL;
	json_t *v;
	int r;

	r = load(buf, len, OCI_MAX_MANIFEST_SIZE, "manifest", &j, err);
	if (r < 0)
		return r;
	v = json_object_get(j, "mediaType");
	if (json_is_string(v))
		mt = json_string_value(v);
	else if (content_type)
		mt = content_type;
	if (mt && (!strncmp(mt, OCI_MT_INDEX, strlen(OCI_MT_INDEX)) ||
	           !strncmp(mt, OCI_MT_DOCKER_LIST, strlen(OCI_MT_DOCKER_LIST))))
		*ret = OCI_DOC_INDEX;
	else if (mt && (!strncmp(mt, OCI_MT_MANIFEST, strlen(OCI_MT_MANIFEST)) ||
	                !strncmp(mt, OCI_MT_DOCKER_MANIFEST, strlen(OCI_MT_DOCKER_MANIFEST))))
		*ret = OCI_DOC_MANIFEST;
	else if (json_object_get(j, "manifests"))
		*ret = OCI_DOC_INDEX;
	else if (json_object_get(j, "layers") && json_object_get(j, "config"))
		*ret = OCI_DOC_MANIFEST;
	else
		return kl_error_setf(err, EBADMSG,
		                     "manifest: neither an image manifest nor an index "
		                     "(media type '%s')",
		                     mt ? mt : "none");
	return 0;
}

static int
check_schema(json_t *j, const char *what, struct kl_error **err)
{
	json_t *v = json_object_get(j, "schemaVersion");

	if (!json_is_integer(v) || json_integer_value(v) != 2)
		return kl_error_setf(err, EBADMSG,
		                     "%s: schemaVersion is not 2 (schema 1 manifests "
		                     "are not supported)",
		                     what);
	return 0;
}

int
oci_manifest_parse(const char *buf, size_t len, struct oci_manifest *ret, struct kl_error **err)
{
	json_auto_t *j = NULL;
	struct oci_manifest m = {0};
	int r;

	r = load(buf, len, OCI_MAX_MANIFEST_SIZE, "manifest", &j, err);
	if (r >= 0)
		r = check_schema(j, "manifest", err);
	if (r >= 0)
		r = parse_descriptor(json_object_get(j, "config"), "manifest config", &m.config,
		                     err);
	if (r >= 0)
		r = parse_descriptors(json_object_get(j, "layers"), OCI_MAX_LAYERS,
		                      "manifest layers", &m.layers, &m.n_layers, err);
	if (r < 0) {
		oci_manifest_done(&m);
		return r;
	}
	*ret = m;
	return 0;
}

void
oci_manifest_done(struct oci_manifest *m)
{
	oci_descriptor_done(&m->config);
	for (size_t i = 0; i < m->n_layers; i++)
		oci_descriptor_done(&m->layers[i]);
	free(m->layers);
	*m = (struct oci_manifest){0};
}

int
oci_index_parse(const char *buf, size_t len, struct oci_index *ret, struct kl_error **err)
{
	json_auto_t *j = NULL;
	struct oci_index idx = {0};
	int r;

	r = load(buf, len, OCI_MAX_MANIFEST_SIZE, "index", &j, err);
	if (r >= 0)
		r = check_schema(j, "index", err);
	if (r >= 0)
		r = parse_descriptors(json_object_get(j, "manifests"), OCI_MAX_INDEX_ENTRIES,
		                      "index", &idx.manifests, &idx.n_manifests, err);
	if (r < 0)
		return r;
	*ret = idx;
	return 0;
}

void
oci_index_done(struct oci_index *idx)
{
	for (size_t i = 0; i < idx->n_manifests; i++)
		oci_descriptor_done(&idx->manifests[i]);
	free(idx->manifests);
	*idx = (struct oci_index){0};
}

int
oci_config_parse(const char *buf, size_t len, struct oci_config *ret, struct kl_error **err)
{
	json_auto_t *j = NULL;
	struct oci_config c = {0};
	json_t *rootfs, *ids;
	int r;

	r = load(buf, len, OCI_MAX_CONFIG_SIZE, "image config", &j, err);
	if (r < 0)
		return r;
	r = parse_platform(j, "image config", &c.platform, err);
	if (r < 0)
		return r;
	rootfs = json_object_get(j, "rootfs");
	ids = rootfs ? json_object_get(rootfs, "diff_ids") : NULL;
	if (ids && (!json_is_array(ids) || json_array_size(ids) > OCI_MAX_LAYERS)) {
		oci_config_done(&c);
		return kl_error_setf(err, EBADMSG,
		                     "image config: 'rootfs.diff_ids' is not an array "
		                     "of at most %u digests",
		                     OCI_MAX_LAYERS);
	}
	c.n_diff_ids = ids ? json_array_size(ids) : 0;
	c.diff_ids = xcalloc(c.n_diff_ids ? c.n_diff_ids : 1, sizeof(*c.diff_ids));
	for (size_t i = 0; i < c.n_diff_ids; i++) {
		json_t *v = json_array_get(ids, i);

		if (!json_is_string(v) || digest_parse(json_string_value(v), json_string_length(v),
		                                       &c.diff_ids[i], NULL) < 0) {
			oci_config_done(&c);
			return kl_error_setf(err, EBADMSG,
			                     "image config: diff_ids[%zu] is not a "
			                     "sha256 digest",
			                     i);
		}
	}
	*ret = c;
	return 0;
}

void
oci_config_done(struct oci_config *c)
{
	oci_platform_done(&c->platform);
	free(c->diff_ids);
	*c = (struct oci_config){0};
}

int
oci_platform_parse(const char *s, struct oci_platform *ret, struct kl_error **err)
{
	const char *a, *v;

	if (!s)
		s = "linux/amd64";
	a = strchr(s, '/');
	v = a ? strchr(a + 1, '/') : NULL;
	if (!a || a == s || a[1] == '\0' || a[1] == '/' ||
	    (v && (v[1] == '\0' || strchr(v + 1, '/'))) || strlen(s) > 128)
		return kl_error_setf(err, EINVAL, "platform '%s' is not os/arch[/variant]", s);
	ret->os = xstrndup(s, (size_t)(a - s));
	ret->architecture = v ? xstrndup(a + 1, (size_t)(v - a - 1)) : xstrdup(a + 1);
	ret->variant = v ? xstrdup(v + 1) : NULL;
	return 0;
}

void
oci_platform_done(struct oci_platform *p)
{
	free(p->os);
	free(p->architecture);
	free(p->variant);
	*p = (struct oci_platform){0};
}

static bool
str_eq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

int
oci_index_select(const struct oci_index *idx, const struct oci_platform *want,
                 struct kl_error **err)
{
	int fallback = -1;
	char have[1024] = "";
	size_t off = 0;

	for (size_t i = 0; i < idx->n_manifests; i++) {
		const struct oci_platform *p = &idx->manifests[i].platform;

		if (!idx->manifests[i].has_platform || !str_eq(p->os, want->os) ||
		    !str_eq(p->architecture, want->architecture))
			continue;
		if (want->variant) {
			if (str_eq(p->variant, want->variant))
				return (int)i;
			continue;
		}
		if (!p->variant || (!strcmp(p->architecture, "arm64") && str_eq(p->variant, "v8")))
			return (int)i;
		if (fallback < 0)
			fallback = (int)i;
	}
	if (fallback >= 0)
		return fallback;
	for (size_t i = 0; i < idx->n_manifests && off < sizeof(have) - 1; i++) {
		const struct oci_platform *p = &idx->manifests[i].platform;
		int n = snprintf(have + off, sizeof(have) - off, "%s%s/%s%s%s", off ? ", " : "",
		                 p->os ? p->os : "?", p->architecture ? p->architecture : "?",
		                 p->variant ? "/" : "", p->variant ? p->variant : "");

		if (n < 0)
			break;
		off += (size_t)n;
	}
	return kl_error_setf(err, ENOENT,
	                     "no manifest for platform %s/%s%s%s in the index (it has: %s)",
	                     want->os, want->architecture, want->variant ? "/" : "",
	                     want->variant ? want->variant : "", off ? have : "nothing");
}

enum oci_layer_compression
oci_layer_compression(const char *mt)
{
	if (!mt)
		return OCI_LAYER_UNKNOWN;
	if (!strcmp(mt, "application/vnd.oci.image.layer.v1.tar") ||
	    !strcmp(mt, "application/vnd.oci.image.layer.nondistributable.v1.tar"))
		return OCI_LAYER_TAR;
	if (!strcmp(mt, "application/vnd.oci.image.layer.v1.tar+gzip") ||
	    !strcmp(mt, "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip") ||
	    !strcmp(mt, "application/vnd.docker.image.rootfs.diff.tar.gzip") ||
	    !strcmp(mt, "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"))
		return OCI_LAYER_GZIP;
	if (!strcmp(mt, "application/vnd.oci.image.layer.v1.tar+zstd") ||
	    !strcmp(mt, "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"))
		return OCI_LAYER_ZSTD;
	return OCI_LAYER_UNKNOWN;
}
