// SPDX-License-Identifier: Apache-2.0
/* Layer → diff tree: the entry collector every layer format shares (tar names translated with
 * oci/whiteout, the rules applied by fs/tree-layer), and tar layers (plain, gzip or zstd) read in
 * one streaming pass with libarchive. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/digest.h"
#include "fs/store.h"
#include "fs/tree-layer.h"
#include "fs/tree.h"
#include "oci/tar-entry.h"
#include "oci/whiteout.h"
#include "sources/imgsrc-internal.h"
#include "util/cleanup.h"
#include "util/dl-archive.h"
#include "util/error.h"
#include "util/xalloc.h"

#define READ_CHUNK (256u << 10)

struct imgsrc_diff {
	char *source;
	struct tree_layer *layer;
	struct store_batch *batch; /* NULL without a store */
	uint64_t total;
	size_t n;
};

struct layer {
	struct imgsrc_diff *d;
	struct store *store;
	const char *source;
	int fd;
	struct digest_ctx *hash;
	uint64_t compressed;
	char *buf;  /* what libarchive reads from: it keeps pointers into it */
	char *data; /* where entry contents are decompressed to */
	struct archive *a;
};

struct imgsrc_diff *
imgsrc_diff_new(struct store *s, const char *source)
{
	struct imgsrc_diff *d = xcalloc(1, sizeof(*d));

	d->source = xstrdup(source);
	d->layer = tree_layer_new(source);
	d->batch = s ? store_batch_new(s) : NULL;
	return d;
}

struct imgsrc_diff *
imgsrc_diff_free(struct imgsrc_diff *d)
{
	if (!d)
		return NULL;
	tree_layer_free(d->layer);
	store_batch_free(d->batch);
	free(d->source);
	free(d);
	return NULL;
}

/* The batch content blobs of this layer are committed into (made visible by finish); NULL
 * without a store. */
static struct store_batch *
imgsrc_diff_batch(struct imgsrc_diff *d)
{
	return d->batch;
}

static int
check_xattrs(struct imgsrc_diff *d, const char *path, const struct tree_xattr *x, size_t n,
             struct kl_error **err)
{
	if (n > IMGSRC_MAX_XATTRS)
		return kl_error_setf(err, EBADMSG, "layer %s: '%s' has more than %u xattrs",
		                     d->source, path, IMGSRC_MAX_XATTRS);
	for (size_t i = 0; i < n; i++)
		if (x[i].value_len > TREE_MAX_XATTR_VALUE)
			return kl_error_setf(err, EBADMSG,
			                     "layer %s: '%s': xattr '%s' larger than %u bytes",
			                     d->source, path, x[i].name, TREE_MAX_XATTR_VALUE);
	return 0;
}

/* A plain entry: its hardlink target cleaned, its size counted, its content fetched. */
static int
add_plain(struct imgsrc_diff *d, const char *path, const char *hardlink, const struct tree_entry *e,
          const struct tree_xattr *x, size_t n_x, imgsrc_content_fn content, void *userdata,
          struct kl_error **err)
{
	_cleanup_free_ char *link = NULL;
	struct tree_entry c = *e;
	int r;

	c.path = path;
	c.path_len = strlen(path);
	if (hardlink) {
		link = oci_clean_name(hardlink);
		if (!link || !*link)
			return kl_error_setf(
			    err, EBADMSG,
			    "layer %s: hardlink '%s' to '%s' points outside the layer", d->source,
			    path, hardlink);
		c.type = TREE_HARDLINK;
		c.link = link;
		c.link_len = strlen(link);
		c.size = 0;
		c.flags &= ~(uint32_t)TREE_ENTRY_HAS_DIGEST;
		c.locator = NULL;
		c.locator_len = 0;
	} else if (c.type == TREE_SYMLINK && (!c.link || !c.link_len)) {
		return kl_error_setf(err, EBADMSG, "layer %s: symlink '%s' has no target",
		                     d->source, path);
	}
	if (c.type == TREE_REG) {
		if (c.size > IMGSRC_MAX_FILE_SIZE || d->total + c.size > IMGSRC_MAX_LAYER_SIZE)
			return kl_error_setf(err, EFBIG,
			                     "layer %s: '%s' has an absurd size %" PRIu64,
			                     d->source, path, c.size);
		d->total += c.size;
	}
	r = check_xattrs(d, path, x, n_x, err);
	if (r < 0)
		return r;
	if (c.type == TREE_REG && c.size > 0 && content) {
		r = content(userdata, path, &c, err);
		if (r < 0)
			return r;
	}
	return tree_layer_add(d->layer, &c, x, n_x, err);
}

int
imgsrc_diff_add(struct imgsrc_diff *d, const char *name, const char *hardlink,
                const struct tree_entry *e, const struct tree_xattr *x, size_t n_x,
                imgsrc_content_fn content, void *userdata, struct kl_error **err)
{
	_cleanup_free_ char *clean = NULL, *path = NULL;
	struct tree_entry w = {.type = TREE_WHITEOUT};
	enum oci_name_kind kind;

	if (d->n >= IMGSRC_MAX_LAYER_ENTRIES)
		return kl_error_setf(err, EBADMSG, "layer %s: more than %u entries", d->source,
		                     IMGSRC_MAX_LAYER_ENTRIES);
	d->n++;
	clean = oci_clean_name(name);
	if (!clean)
		return kl_error_setf(err, EBADMSG,
		                     "layer %s: entry '%s' escapes the root with '..'", d->source,
		                     name);
	if (oci_name_classify(clean, &kind, &path) < 0)
		return kl_error_setf(err, EBADMSG, "layer %s: bad whiteout '%s'", d->source, name);
	switch (kind) {
	case OCI_NAME_AUFS:
		return 0;
	case OCI_NAME_OPAQUE:
		return tree_layer_add_opaque(d->layer, path, strlen(path), err);
	case OCI_NAME_WHITEOUT:
		w.path = path;
		w.path_len = strlen(path);
		return tree_layer_add(d->layer, &w, NULL, 0, err);
	default:
		return add_plain(d, path, hardlink, e, x, n_x, content, userdata, err);
	}
}

int
imgsrc_diff_finish(struct imgsrc_diff *d, struct tree_builder **ret, struct kl_error **err)
{
	int r;

	if (d->batch) {
		r = store_batch_commit(d->batch, err);
		if (r < 0)
			return r;
	}
	return tree_layer_finish(d->layer, ret, err);
}

/* Tar layers. */

static ssize_t
on_read(struct archive *a, void *userdata, const void **ret)
{
	struct layer *l = userdata;
	ssize_t n;

	do
		n = read(l->fd, l->buf, READ_CHUNK);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		kl_archive()->set_error(a, errno, "reading the layer blob");
		return -1;
	}
	digest_ctx_update(l->hash, l->buf, (size_t)n);
	l->compressed += (uint64_t)n;
	*ret = l->buf;
	return n;
}

/* libarchive's error state, translated once into ours. */
static int
error_from_archive(struct archive *a, struct kl_error **err, const char *source, const char *what)
{
	int code = kl_archive()->errno_code(a);
	const char *msg = kl_archive()->error_string(a);

	return kl_error_setf(err, code > 0 ? code : EBADMSG, "layer %s: %s: %s", source, what,
	                     msg ? msg : "corrupt or truncated");
}

/* Streams the current entry's data into the store; its digest goes to e. */
static int
ingest(void *userdata, const char *path, struct tree_entry *e, struct kl_error **err)
{
	struct layer *l = userdata;
	_cleanup_(store_writer_abortp) struct store_writer *w = NULL;
	uint64_t got = 0;
	la_ssize_t n;
	int r;

	r = store_writer_begin(l->store, &w, err);
	if (r < 0)
		return r;
	while ((n = kl_archive()->read_data(l->a, l->data, READ_CHUNK)) > 0) {
		got += (uint64_t)n;
		if (got > e->size)
			break;
		r = store_writer_write(w, l->data, (size_t)n, err);
		if (r < 0)
			return r;
	}
	if (n < 0)
		return error_from_archive(l->a, err, l->source, path);
	if (got != e->size)
		return kl_error_setf(err, EBADMSG,
		                     "layer %s: '%s' holds %" PRIu64
		                     " bytes, its header says %" PRIu64,
		                     l->source, path, got, e->size);
	r = store_writer_commit_batch(TAKE_PTR(w), imgsrc_diff_batch(l->d), NULL, &e->digest, err);
	if (r < 0)
		return r;
	e->flags |= TREE_ENTRY_HAS_DIGEST;
	return 0;
}

static int
read_entry(struct layer *l, struct archive_entry *ae, struct kl_error **err)
{
	const char *name = kl_archive()->entry_pathname(ae), *hl = kl_archive()->entry_hardlink(ae);
	_cleanup_free_ struct tree_xattr *x = NULL;
	struct tree_entry e = {0};
	la_int64_t size = kl_archive()->entry_size(ae);
	size_t n_x;
	int r;

	if (!name)
		return kl_error_setf(err, EBADMSG, "layer %s: an entry without a name", l->source);
	if (oci_tar_entry(ae, &e) < 0)
		return kl_error_setf(err, EBADMSG, "layer %s: '%s' has an unsupported type 0%o",
		                     l->source, name, (unsigned)kl_archive()->entry_filetype(ae));
	if (e.type == TREE_REG) {
		if (size < 0 || (uint64_t)size > IMGSRC_MAX_FILE_SIZE)
			return kl_error_setf(err, EFBIG,
			                     "layer %s: '%s' has an absurd size %" PRId64,
			                     l->source, name, (int64_t)size);
		e.size = (uint64_t)size;
	}
	r = oci_tar_xattrs(ae, IMGSRC_MAX_XATTRS, &x, &n_x);
	if (r == -E2BIG)
		return kl_error_setf(err, EBADMSG, "layer %s: '%s' has more than %u xattrs",
		                     l->source, name, IMGSRC_MAX_XATTRS);
	if (r < 0)
		return kl_error_setf(err, EBADMSG,
		                     "layer %s: '%s' has an xattr value over %u bytes", l->source,
		                     name, TREE_MAX_XATTR_VALUE);
	return imgsrc_diff_add(l->d, name, hl, &e, x, n_x, ingest, l, err);
}

/* Hashes what libarchive left unread (tar padding, compressed trailers). */
static int
drain(struct layer *l, struct kl_error **err)
{
	ssize_t n;

	while ((n = read(l->fd, l->buf, READ_CHUNK)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return kl_error_set(err, errno, "layer %s: reading", l->source);
		digest_ctx_update(l->hash, l->buf, (size_t)n);
		l->compressed += (uint64_t)n;
	}
	return 0;
}

static int
read_all(struct layer *l, struct archive *a, struct kl_error **err)
{
	struct archive_entry *ae;
	int r;

	kl_archive()->read_support_filter_gzip(a);
	kl_archive()->read_support_filter_zstd(a);
	kl_archive()->read_support_filter_none(a);
	kl_archive()->read_support_format_tar(a);
	if (kl_archive()->read_open(a, l, NULL, on_read, NULL) != ARCHIVE_OK)
		return error_from_archive(a, err, l->source, "not a tar archive");
	for (;;) {
		r = kl_archive()->read_next_header(a, &ae);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return error_from_archive(a, err, l->source, "reading");
		r = read_entry(l, ae, err);
		if (r < 0)
			return r;
	}
}

static int
layer_from_tar(struct store *s, int fd, const struct digest *blob, const char *source,
               struct digest *ret, struct kl_error **err)
{
	struct layer l = {.source = source,
	                  .fd = fd,
	                  .hash = digest_ctx_new(),
	                  .buf = xmalloc(READ_CHUNK),
	                  .data = xmalloc(READ_CHUNK),
	                  .store = s,
	                  .d = imgsrc_diff_new(s, source)};
	_cleanup_(tree_builder_freep) struct tree_builder *b = NULL;
	struct archive *a = kl_archive()->read_new();
	char id[DIGEST_STRING_SIZE];
	struct digest got;
	int r;

	if (!a)
		abort();
	l.a = a;
	r = read_all(&l, a, err);
	kl_archive()->read_free(a);
	if (r >= 0)
		r = drain(&l, err);
	if (r >= 0 && blob) {
		digest_ctx_final(l.hash, &got);
		if (!digest_equal(&got, blob))
			r = kl_error_setf(err, EBADMSG,
			                  "layer %s: blob does not match its digest %s", source,
			                  digest_to_string(blob, id));
	}
	if (r >= 0)
		r = imgsrc_diff_finish(l.d, &b, err);
	if (r >= 0) {
		r = tree_builder_write(b, s, ret, err);
		if (r < 0)
			kl_error_prefix(err, "layer %s", source);
	}
	imgsrc_diff_free(l.d);
	digest_ctx_free(l.hash);
	free(l.buf);
	free(l.data);
	return r;
}

int
imgsrc_layer_from_tar(struct store *s, int fd, const struct digest *blob, const char *source,
                      struct digest *ret, struct kl_error **err)
{
	int r;

	r = kl_archive_load(err);
	if (r < 0)
		return r;
	return layer_from_tar(s, fd, blob, source, ret, err);
}
