// SPDX-License-Identifier: Apache-2.0
/* An image reference → the image: manifests and config verified, layers as diff trees (cached by
 * layer digest), their merge cached by manifest digest, the config kept in the store. */
#include "sources/imgsrc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/store.h"
#include "fs/tree.h"
#include "fs/tree-writer.h"
#include "oci/image.h"
#include "oci/layout.h"
#include "oci/reference.h"
#include "oci/registry.h"
#include "sources/imgsrc-internal.h"
#include "sources/imgstore.h"
#include "sources/source.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/log.h"
#include "util/xalloc.h"

#define MAX_INDEX_DEPTH 2 /* an index may name an index once (layout → image index) */

/* Where the image comes from: a registry repository or a layout directory. */
struct image {
	struct store *store;
	const char *spec;
	const struct source_options *opts;
	struct registry *reg; /* docker-image:// */
	struct oci_reference ref;
	char *layout; /* oci-layout:// */
	char *layout_tag;
	bool layout_has_digest;
	struct digest layout_digest;
	char *auth_file;
	char **estargz_tocs; /* per layer: its eStargz TOC digest annotation, or NULL */
	size_t n_layers;
	char *manifest; /* the (platform's) manifest's bytes */
	size_t manifest_len;
};

static void
image_done(struct image *im)
{
	registry_free(im->reg);
	oci_reference_done(&im->ref);
	free(im->layout);
	free(im->layout_tag);
	free(im->auth_file);
	for (size_t i = 0; im->estargz_tocs && i < im->n_layers; i++)
		free(im->estargz_tocs[i]);
	free(im->estargz_tocs);
	free(im->manifest);
}

static int
parse_layout_spec(struct image *im, const char *rest, struct kl_error **err)
{
	const char *at = strrchr(rest, '@'), *slash = strrchr(rest, '/');
	const char *colon = strrchr(slash ? slash : rest, ':');

	if (at && (!slash || at > slash)) {
		if (digest_parse(at + 1, strlen(at + 1), &im->layout_digest, NULL) < 0)
			return kl_error_setf(err, EINVAL, "'%s': bad digest after '@'", im->spec);
		im->layout_has_digest = true;
		im->layout = xstrndup(rest, (size_t)(at - rest));
	} else if (colon) {
		im->layout = xstrndup(rest, (size_t)(colon - rest));
		im->layout_tag = xstrdup(colon + 1);
	} else {
		im->layout = xstrdup(rest);
	}
	if (!*im->layout)
		return kl_error_setf(err, EINVAL, "'%s': no layout directory", im->spec);
	return 0;
}

static int
image_open(struct image *im, struct kl_error **err)
{
	const char *host;
	int r;

	if (!strncmp(im->spec, "oci-layout://", 13))
		return parse_layout_spec(im, im->spec + 13, err);
	if (strncmp(im->spec, "docker-image://", 15))
		return kl_error_setf(err, EINVAL, "'%s' is not an image reference", im->spec);
	r = oci_reference_parse(im->spec + 15, &im->ref, err);
	if (r < 0)
		return r;
	host = oci_reference_api_host(&im->ref);
	im->auth_file = im->opts->auth_file ? xstrdup(im->opts->auth_file) : NULL;
	{
		struct registry_options o = {
		    .insecure_hosts = im->opts->insecure_registries,
		    .n_insecure_hosts = im->opts->n_insecure_registries,
		    .auth_file = im->auth_file,
		    .timeout_ms = im->opts->registry_timeout_ms,
		    .progress = im->opts->progress,
		    .progress_userdata = im->opts->progress_userdata,
		};

		return registry_new(host, im->ref.repository, &o, &im->reg, err);
	}
}

/* Reads a whole small blob of descriptor d, verified. */
static int
read_blob(struct image *im, const struct oci_descriptor *d, size_t max, char **ret, size_t *ret_len,
          struct kl_error **err)
{
	if (im->reg)
		return registry_get_blob(im->reg, &d->digest, d->size, max, ret, ret_len, err);
	return oci_layout_read_blob(im->layout, &d->digest, max, ret, ret_len, err);
}

/* The first manifest document: by tag or digest. ret_digest gets the digest of its bytes. */
static int
read_top(struct image *im, char **ret, size_t *ret_len, char **ret_type, struct digest *ret_digest,
         struct kl_error **err)
{
	struct oci_descriptor d = {0};
	int r;

	if (im->reg) {
		_cleanup_free_ char *mref = oci_reference_manifest_ref(&im->ref);

		r = registry_get_manifest(im->reg, mref, REGISTRY_SIZE_UNKNOWN,
		                          OCI_MAX_MANIFEST_SIZE, ret, ret_len, ret_type, err);
		if (r >= 0)
			digest_buffer(*ret, *ret_len, ret_digest);
		return r;
	}
	r = oci_layout_find(im->layout, im->layout_tag,
	                    im->layout_has_digest ? &im->layout_digest : NULL, &d, err);
	if (r < 0)
		return r;
	*ret_digest = d.digest;
	*ret_type = d.media_type ? xstrdup(d.media_type) : NULL;
	oci_descriptor_done(&d);
	return oci_layout_read_blob(im->layout, ret_digest, OCI_MAX_MANIFEST_SIZE, ret, ret_len,
	                            err);
}

/* Follows indexes to the manifest for the platform asked for. */
static int
read_manifest(struct image *im, struct oci_manifest *ret, struct digest *ret_digest,
              struct kl_error **err)
{
	_cleanup_free_ char *buf = NULL, *type = NULL;
	struct oci_platform want = {0};
	struct digest d;
	uint64_t size = REGISTRY_SIZE_UNKNOWN; /* of the manifest named by digest */
	size_t len;
	int r;

	r = oci_platform_parse(im->opts->platform, &want, err);
	if (r < 0)
		return r;
	r = read_top(im, &buf, &len, &type, &d, err);
	for (int depth = 0; r >= 0; depth++) {
		enum oci_doc_kind kind;
		struct oci_index idx;
		int i;

		r = oci_doc_kind(buf, len, type, &kind, err);
		if (r < 0)
			break;
		if (kind == OCI_DOC_MANIFEST) {
			r = oci_manifest_parse(buf, len, ret, err);
			if (r >= 0 && imgsrc_estargz_toc_digests(buf, len, ret->n_layers,
			                                         &im->estargz_tocs) >= 0)
				im->n_layers = ret->n_layers;
			*ret_digest = d;
			im->manifest = TAKE_PTR(buf);
			im->manifest_len = len;
			break;
		}
		if (depth >= MAX_INDEX_DEPTH) {
			r = kl_error_setf(err, EBADMSG, "indexes nested deeper than %d",
			                  MAX_INDEX_DEPTH);
			break;
		}
		r = oci_index_parse(buf, len, &idx, err);
		if (r < 0)
			break;
		i = oci_index_select(&idx, &want, err);
		if (i >= 0) {
			d = idx.manifests[i].digest;
			size = idx.manifests[i].size;
			free(type);
			type = idx.manifests[i].media_type ? xstrdup(idx.manifests[i].media_type)
			                                   : NULL;
		}
		oci_index_done(&idx);
		if (i < 0) {
			r = i;
			break;
		}
		free(TAKE_PTR(buf));
		if (im->reg) {
			char id[DIGEST_STRING_SIZE];

			free(TAKE_PTR(type));
			r = registry_get_manifest(im->reg, digest_to_string(&d, id), size,
			                          OCI_MAX_MANIFEST_SIZE, &buf, &len, &type, err);
		} else {
			r = oci_layout_read_blob(im->layout, &d, OCI_MAX_MANIFEST_SIZE, &buf, &len,
			                         err);
		}
	}
	oci_platform_done(&want);
	return r;
}

static int
write_origin(struct image *im, const struct digest *blob, struct kl_error **err)
{
	_cleanup_free_ char *text = NULL;

	if (im->reg)
		text = xasprintf("%s %s %s\n", registry_scheme(im->reg),
		                 oci_reference_api_host(&im->ref), im->ref.repository);
	else
		text = xasprintf("oci-layout %s", im->layout);
	return imgsrc_record_put(im->store, "origins", blob, text, err);
}

/* Reads [off, off+len) of a layer blob into memory (a chunked layer's TOC). */
static int
collect(const void *buf, size_t n, void *userdata)
{
	struct {
		char *buf;
		size_t len;
	} *c = userdata;

	memcpy(c->buf + c->len, buf, n);
	c->len += n;
	return 0;
}

static int
read_blob_range(struct image *im, const struct digest *blob, uint64_t off, uint64_t len, char *out,
                struct kl_error **err)
{
	struct {
		char *buf;
		size_t len;
	} c = {out, 0};
	_cleanup_close_ int fd = -1;
	ssize_t n;

	if (im->reg)
		return registry_get_range(im->reg, blob, off, len, collect, &c, err);
	fd = oci_layout_open_blob(im->layout, blob, err);
	if (fd < 0)
		return fd;
	n = kl_io_pread_full(fd, out, (size_t)len, (off_t)off);
	if (n < 0)
		return kl_error_set(err, (int)-n, "reading layout '%s'", im->layout);
	if ((uint64_t)n != len)
		return kl_error_setf(err, EBADMSG, "layout '%s': blob is truncated", im->layout);
	return 0;
}

static int
chunked_layer(struct image *im, const struct oci_descriptor *l, const char *source,
              struct digest *ret, struct kl_error **err)
{
	_cleanup_free_ char *z = NULL, *toc = NULL;
	uint64_t off, len, ulen;
	struct digest want, got;
	size_t toc_len;
	int r;

	if (imgsrc_chunked_position(l->chunked_position, &off, &len, &ulen) < 0 ||
	    off + len > l->size)
		return kl_error_setf(err, EBADMSG, "layer %s: bad zstd:chunked position '%s'",
		                     source, l->chunked_position);
	if (!l->chunked_checksum ||
	    digest_parse(l->chunked_checksum, strlen(l->chunked_checksum), &want, NULL) < 0)
		return kl_error_setf(err, EBADMSG,
		                     "layer %s: zstd:chunked layer without a valid "
		                     "manifest checksum",
		                     source);
	z = xmalloc(len);
	r = read_blob_range(im, &l->digest, off, len, z, err);
	if (r < 0)
		return r;
	digest_buffer(z, len, &got);
	if (!digest_equal(&want, &got))
		return kl_error_setf(err, EBADMSG,
		                     "layer %s: table of contents does not match its "
		                     "checksum %s",
		                     source, l->chunked_checksum);
	r = imgsrc_chunked_decompress(z, len, ulen, &toc, &toc_len, err);
	if (r < 0) {
		kl_error_prefix(err, "layer %s", source);
		return r;
	}
	r = write_origin(im, &l->digest, err);
	if (r < 0)
		return r;
	return imgsrc_layer_from_toc(im->store, toc, toc_len, &l->digest, source, ret, err);
}

/* An eStargz layer: the footer, then the TOC member, checked against the TOC digest
 * annotation (toc_digest), both by range; files stay behind "layer:…:gz:…" locators. */
static int
estargz_layer(struct image *im, const struct oci_descriptor *l, const char *toc_digest,
              const char *source, struct digest *ret, struct kl_error **err)
{
	_cleanup_free_ char *z = NULL, *toc = NULL;
	char footer[IMGSRC_ESTARGZ_FOOTER_SIZE];
	struct digest want, got;
	uint64_t toc_off, len, tail;
	size_t toc_len;
	int r, footer_size;

	if (digest_parse(toc_digest, strlen(toc_digest), &want, NULL) < 0)
		return kl_error_setf(err, EBADMSG, "layer %s: bad eStargz TOC digest '%s'", source,
		                     toc_digest);
	if (l->size < IMGSRC_STARGZ_FOOTER_SIZE)
		return kl_error_setf(err, EBADMSG, "layer %s: too short for an eStargz footer",
		                     source);
	/* One read serves both footers: the 51-byte eStargz one, or legacy stargz's 47 bytes. */
	tail = l->size < sizeof(footer) ? l->size : sizeof(footer);
	r = read_blob_range(im, &l->digest, l->size - tail, tail, footer, err);
	if (r < 0)
		return r;
	footer_size = imgsrc_estargz_footer(footer, (size_t)tail, l->size, &toc_off);
	if (footer_size < 0)
		return kl_error_setf(err, EBADMSG,
		                     "layer %s: neither an eStargz nor a stargz footer in its "
		                     "last %" PRIu64 " bytes",
		                     source, tail);
	len = l->size - (uint64_t)footer_size - toc_off;
	if (len > IMGSRC_MAX_TOC_SIZE)
		return kl_error_setf(err, EFBIG, "layer %s: eStargz TOC larger than %u bytes",
		                     source, IMGSRC_MAX_TOC_SIZE);
	z = xmalloc(len ? len : 1);
	r = read_blob_range(im, &l->digest, toc_off, len, z, err);
	if (r < 0)
		return r;
	r = imgsrc_estargz_toc(z, len, &toc, &toc_len, err);
	if (r < 0) {
		kl_error_prefix(err, "layer %s", source);
		return r;
	}
	digest_buffer(toc, toc_len, &got);
	if (!digest_equal(&want, &got))
		return kl_error_setf(err, EBADMSG,
		                     "layer %s: eStargz table of contents does not match its "
		                     "digest %s",
		                     source, toc_digest);
	r = write_origin(im, &l->digest, err);
	if (r < 0)
		return r;
	return imgsrc_layer_from_estargz_toc(im->store, toc, toc_len, &l->digest, toc_off, source,
	                                     ret, err);
}

static int
tar_layer(struct image *im, const struct oci_descriptor *l, const char *source, struct digest *ret,
          struct kl_error **err)
{
	_cleanup_close_ int fd = -1;
	int r;

	if (im->reg) {
		r = registry_fetch_blob(im->reg, &l->digest, l->size, im->store, err);
		if (r < 0)
			return r;
		fd = store_open_blob(im->store, &l->digest, err);
	} else {
		fd = oci_layout_open_blob(im->layout, &l->digest, err);
	}
	if (fd < 0)
		return fd;
	return imgsrc_layer_from_tar(im->store, fd, &l->digest, source, ret, err);
}

static int
layer_tree(struct image *im, const struct oci_descriptor *l, size_t i, struct digest *ret,
           struct kl_error **err)
{
	char id[DIGEST_STRING_SIZE], tid[DIGEST_STRING_SIZE];
	_cleanup_free_ char *source = NULL, *rec = NULL;
	enum oci_layer_compression c = oci_layer_compression(l->media_type);
	const char *estargz = c == OCI_LAYER_GZIP && i < im->n_layers ? im->estargz_tocs[i] : NULL;
	bool chunked = (c == OCI_LAYER_ZSTD && l->chunked_position) || estargz;
	int r;

	digest_to_string(&l->digest, id);
	if (imgsrc_record_get(im->store, "layers", &l->digest, ret) == 0) {
		if (!chunked || !im->opts->all_layers || !im->reg)
			return 0;
		return registry_fetch_blob(im->reg, &l->digest, l->size, im->store, err);
	}
	source = xasprintf("%s of '%s'", id, im->spec);
	if (c == OCI_LAYER_UNKNOWN)
		return kl_error_setf(err, ENOTSUP, "layer %s: unsupported media type '%s'", source,
		                     l->media_type ? l->media_type : "none");
	if (estargz)
		r = estargz_layer(im, l, estargz, source, ret, err);
	else if (chunked)
		r = chunked_layer(im, l, source, ret, err);
	else
		r = tar_layer(im, l, source, ret, err);
	if (r >= 0 && chunked && im->opts->all_layers && im->reg)
		r = registry_fetch_blob(im->reg, &l->digest, l->size, im->store, err);
	if (r < 0)
		return r;
	rec = xasprintf("%s\n", digest_to_string(ret, tid));
	return imgsrc_record_put(im->store, "layers", &l->digest, rec, err);
}

/* base ← base with diff applied; the writer of the result goes to ret. */
static int
apply_layer(struct store *s, const struct tree *base, const struct digest *layer,
            struct tree_writer **ret, struct kl_error **err)
{
	_cleanup_(tree_unrefp) struct tree *diff = NULL;
	int r;

	r = tree_load(s, layer, &diff, err);
	if (r < 0)
		return r;
	return tree_apply(base, diff, ret, err);
}

/* The layers' diff trees stacked over the empty tree; the last result goes to the store. */
static int
merge(struct store *s, const struct digest *layers, size_t n, struct digest *ret,
      struct kl_error **err)
{
	_cleanup_(tree_writer_freep) struct tree_writer *w = tree_writer_new();
	_cleanup_(tree_unrefp) struct tree *base = NULL;
	int r;

	r = tree_writer_add(w, &(struct tree_entry){.type = TREE_DIR, .mode = 0755}, err);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		r = tree_writer_finish_tree(w, &base, err);
		w = tree_writer_free(w);
		if (r >= 0)
			r = apply_layer(s, base, &layers[i], &w, err);
		base = tree_unref(base);
	}
	if (r < 0)
		return r;
	return tree_writer_write(w, s, ret, err);
}

/* An explicit --platform must match a single-platform image's config, as docker insists. */
static int
check_platform(const char *want, const struct oci_platform *have, struct kl_error **err)
{
	struct oci_platform p;
	bool ok;
	int r;

	r = oci_platform_parse(want, &p, err);
	if (r < 0)
		return r;
	ok = (!have->os || !strcmp(have->os, p.os)) &&
	     (!have->architecture || !strcmp(have->architecture, p.architecture));
	oci_platform_done(&p);
	if (!ok)
		return kl_error_setf(err, ENOENT, "the image is for %s/%s, not %s",
		                     have->os ? have->os : "?",
		                     have->architecture ? have->architecture : "?", want);
	return 0;
}

/* The config: from the store when an earlier resolve kept it, else fetched and kept. */
static int
read_config(struct image *im, const struct oci_descriptor *d, char **ret, size_t *ret_len,
            struct kl_error **err)
{
	struct digest got;
	int r;

	r = store_read_blob(im->store, &d->digest, OCI_MAX_CONFIG_SIZE, ret, ret_len,
	                    /* err= */ NULL);
	if (r >= 0)
		return 0;
	r = read_blob(im, d, OCI_MAX_CONFIG_SIZE, ret, ret_len, err);
	if (r >= 0)
		r = store_ingest_buffer(im->store, *ret, *ret_len, &got, err);
	if (r < 0) {
		free(TAKE_PTR(*ret));
		return r;
	}
	return 0;
}

/* Where the image's layers came from, for an exporter reusing them: the repository as the
 * reference names it, or the layout's absolute path. */
static char *
origin_of(const struct image *im)
{
	_cleanup_free_ char *real = NULL;

	if (im->reg)
		return xasprintf("docker-image://%s/%s", im->ref.domain, im->ref.repository);
	real = realpath(im->layout, NULL);
	return xasprintf("oci-layout://%s", real ? real : im->layout);
}

/* The merged tree, from the record of an earlier merge of this manifest or made now. */
static int
merged_tree(struct image *im, const struct digest *mdigest, const struct imgstore_image *out,
            struct digest *ret, struct kl_error **err)
{
	_cleanup_free_ struct digest *trees = xcalloc(out->n_layers + 1, sizeof(*trees));
	_cleanup_free_ char *rec = NULL;
	char tid[DIGEST_STRING_SIZE];
	int r;

	if (!im->opts->all_layers && imgsrc_record_get(im->store, "images", mdigest, ret) == 0)
		return 0;
	for (size_t i = 0; i < out->n_layers; i++)
		trees[i] = out->layers[i].tree;
	r = merge(im->store, trees, out->n_layers, ret, err);
	if (r < 0)
		return r;
	rec = xasprintf("%s\n", digest_to_string(ret, tid));
	return imgsrc_record_put(im->store, "images", mdigest, rec, err);
}

/* Moves what the manifest and config say of each layer into out's layers. */
static void
describe_layers(struct image *im, struct oci_manifest *m, const struct oci_config *c,
                struct imgstore_image *out)
{
	_cleanup_free_ char *origin = origin_of(im);

	for (size_t i = 0; i < m->n_layers; i++) {
		struct imgstore_layer *l = &out->layers[i];

		l->has_diff_id = c->n_diff_ids == m->n_layers;
		if (l->has_diff_id)
			l->diff_id = c->diff_ids[i];
		l->has_blob = true;
		l->blob = m->layers[i];
		m->layers[i] = (struct oci_descriptor){0};
		l->origin = xstrdup(origin);
	}
	imgsrc_layer_annotations(im->manifest, im->manifest_len, out->layers, out->n_layers);
}

static int
resolve(struct image *im, struct imgstore_image *ret, struct kl_error **err)
{
	struct imgstore_image out = {0};
	struct oci_manifest m = {0};
	struct oci_config c = {0};
	struct digest mdigest;
	int r;

	r = image_open(im, err);
	if (r >= 0)
		r = read_manifest(im, &m, &mdigest, err);
	if (r >= 0)
		r = read_config(im, &m.config, &out.config, &out.config_len, err);
	if (r >= 0)
		r = oci_config_parse(out.config, out.config_len, &c, err);
	if (r >= 0 && im->opts->platform)
		r = check_platform(im->opts->platform, &c.platform, err);
	if (r >= 0 && c.n_diff_ids && c.n_diff_ids != m.n_layers)
		r = kl_error_setf(err, EBADMSG, "image config has %zu diff_ids for %zu layers",
		                  c.n_diff_ids, m.n_layers);
	out.layers = xcalloc(m.n_layers + 1, sizeof(*out.layers));
	out.n_layers = m.n_layers;
	for (size_t i = 0; r >= 0 && i < m.n_layers; i++)
		r = layer_tree(im, &m.layers[i], i, &out.layers[i].tree, err);
	if (r >= 0)
		r = merged_tree(im, &mdigest, &out, &out.tree, err);
	if (r >= 0) {
		out.id = m.config.digest;
		out.docker_media_types =
		    m.config.media_type && !strcmp(m.config.media_type, OCI_MT_DOCKER_CONFIG);
		out.has_manifest = true;
		out.manifest = mdigest;
		describe_layers(im, &m, &c, &out);
		*ret = out;
	} else {
		imgstore_image_done(&out);
	}
	oci_manifest_done(&m);
	oci_config_done(&c);
	return r;
}

int
imgsrc_layout_name(const char *spec, char **ret)
{
	struct image im = {.spec = spec};
	_cleanup_free_ char *real = NULL, *name = NULL;
	char d[DIGEST_STRING_SIZE];
	const char *base;
	size_t n;
	int r;

	if (strncmp(spec, "oci-layout://", 13) || parse_layout_spec(&im, spec + 13, NULL) < 0) {
		image_done(&im);
		return -EINVAL;
	}
	real = realpath(im.layout, NULL);
	if (!real)
		real = xstrdup(im.layout);
	for (n = strlen(real); n > 1 && real[n - 1] == '/'; n--)
		real[n - 1] = '\0';
	base = strrchr(real, '/') ? strrchr(real, '/') + 1 : real;
	if (im.layout_has_digest)
		name = xasprintf("localhost/%s@%s", base, digest_to_string(&im.layout_digest, d));
	else
		name = xasprintf("localhost/%s:%s", base, im.layout_tag ? im.layout_tag : "latest");
	image_done(&im);
	r = imgstore_normalize(name, ret, /* err= */ NULL);
	return r < 0 ? -EINVAL : 0;
}

int
imgsrc_resolve_image(struct store *s, const char *spec, const struct source_options *opts,
                     struct imgstore_image *ret, struct kl_error **err)
{
	static const struct source_options defaults = {0};
	struct image im = {.store = s, .spec = spec, .opts = opts ? opts : &defaults};
	int r;

	r = resolve(&im, ret, err);
	image_done(&im);
	if (r < 0) {
		kl_error_prefix(err, "image '%s'", spec);
		return r;
	}
	return 0;
}

int
imgsrc_resolve_manifest(struct store *s, const char *spec, const struct source_options *opts,
                        struct digest *ret, struct digest *ret_manifest, struct kl_error **err)
{
	struct imgstore_image img = {0};
	int r;

	r = imgsrc_resolve_image(s, spec, opts, &img, err);
	if (r >= 0) {
		*ret = img.tree;
		if (ret_manifest)
			*ret_manifest = img.manifest;
	}
	imgstore_image_done(&img);
	return r;
}

int
imgsrc_resolve(struct store *s, const char *spec, const struct source_options *opts,
               struct digest *ret, struct kl_error **err)
{
	struct imgstore_image img = {0};
	int r;

	r = imgsrc_resolve_image(s, spec, opts, &img, err);
	if (r >= 0)
		*ret = img.tree;
	imgstore_image_done(&img);
	return r;
}
