// SPDX-License-Identifier: Apache-2.0
/* A stand-in for exporters/layer.h until the layer exporter (branch explayer) is merged: a
 * single-threaded tar of a diff tree (libarchive, pax where needed) compressed with zlib or
 * libzstd, digests while streaming, and a record per (tree, compression, level, timestamp
 * rule). No zstd:chunked or eStargz. Deleted when explayer lands. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "exporters/layer.h"
#include "fs/provider.h"
#include "fs/store.h"
#include "fs/tree-layer.h"
#include "fs/tree.h"
#include "fs/uring.h"
#include "oci/whiteout.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/path.h"
#include "util/xalloc.h"

#define OUT_CHUNK (256u << 10)

static const char *const names[] = {
    [LAYER_GZIP] = "gzip",       [LAYER_UNCOMPRESSED] = "uncompressed",
    [LAYER_ZSTD] = "zstd",       [LAYER_ZSTD_CHUNKED] = "zstd:chunked",
    [LAYER_ESTARGZ] = "estargz",
};

int
layer_compression_parse(const char *s, enum layer_compression *ret)
{
	for (int i = 0; i < _LAYER_COMPRESSION_MAX; i++)
		if (!strcmp(s, names[i])) {
			*ret = (enum layer_compression)i;
			return 0;
		}
	return -EINVAL;
}

const char *
layer_compression_name(enum layer_compression c)
{
	return c < _LAYER_COMPRESSION_MAX ? names[c] : "?";
}

void
layer_blob_done(struct layer_blob *b)
{
	free(b->toc_digest);
	free(b->chunked_position);
	free(b->uncompressed_size);
	b->toc_digest = b->chunked_position = b->uncompressed_size = NULL;
}

struct out {
	enum layer_compression c;
	struct digest_ctx *tar_hash;
	struct store_writer *w;
	z_stream z;
	ZSTD_CCtx *zc;
	char *buf;
	int error;
};

static int
emit(struct out *o, const void *buf, size_t n)
{
	return store_writer_write(o->w, buf, n, NULL);
}

/* Compresses n bytes (finishing the stream with fin). */
static int
compress_chunk(struct out *o, const void *buf, size_t n, bool fin)
{
	int r = 0;

	if (o->c == LAYER_UNCOMPRESSED)
		return n ? emit(o, buf, n) : 0;
	if (o->c == LAYER_GZIP) {
		o->z.next_in = (Bytef *)buf;
		o->z.avail_in = (uInt)n;
		do {
			o->z.next_out = (Bytef *)o->buf;
			o->z.avail_out = OUT_CHUNK;
			if (deflate(&o->z, fin ? Z_FINISH : Z_NO_FLUSH) == Z_STREAM_ERROR)
				return -EIO;
			r = emit(o, o->buf, OUT_CHUNK - o->z.avail_out);
		} while (r >= 0 && (o->z.avail_out == 0 || o->z.avail_in));
		return r;
	}
	{
		ZSTD_inBuffer in = {buf, n, 0};
		size_t left;

		do {
			ZSTD_outBuffer ob = {o->buf, OUT_CHUNK, 0};

			left = ZSTD_compressStream2(o->zc, &ob, &in,
			                            fin ? ZSTD_e_end : ZSTD_e_continue);
			if (ZSTD_isError(left))
				return -EIO;
			r = emit(o, o->buf, ob.pos);
		} while (r >= 0 && (fin ? left != 0 : in.pos < in.size));
	}
	return r;
}

static la_ssize_t
on_write(struct archive *a, void *userdata, const void *buf, size_t n)
{
	struct out *o = userdata;
	int r;

	(void)a;
	digest_ctx_update(o->tar_hash, buf, n);
	r = compress_chunk(o, buf, n, false);
	if (r < 0) {
		o->error = r;
		return -1;
	}
	return (la_ssize_t)n;
}

struct walk {
	struct archive *a;
	struct archive_entry *ae;
	struct provider_set *ps;
	struct uring *u;
	const struct layer_options *opts;
	struct kl_error **err;
	char *buf;
};

static int
write_content(struct walk *w, const struct tree_entry *e)
{
	struct provider_request req = {.path = e->path,
	                               .locator = e->locator,
	                               .locator_len = e->locator_len,
	                               .digest =
	                                   e->flags & TREE_ENTRY_HAS_DIGEST ? &e->digest : NULL,
	                               .size = e->size};
	_cleanup_close_ int fd = -1;
	struct digest d;
	uint64_t left = e->size;

	if (!e->size)
		return 0;
	fd = provider_set_open(w->ps, w->u, &req, &d, w->err);
	if (fd < 0)
		return fd;
	while (left) {
		ssize_t n =
		    kl_io_read_full(fd, w->buf, left < OUT_CHUNK ? (size_t)left : OUT_CHUNK);

		if (n <= 0)
			return kl_error_set(w->err, n < 0 ? (int)-n : EIO, "reading '%s'", e->path);
		if (archive_write_data(w->a, w->buf, (size_t)n) != n)
			return kl_error_setf(w->err, EIO, "tar of '%s': %s", e->path,
			                     archive_error_string(w->a));
		left -= (uint64_t)n;
	}
	return 0;
}

static int
write_marker(struct walk *w, char *name)
{
	int64_t t = w->opts->has_epoch ? w->opts->epoch : 0;

	archive_entry_clear(w->ae);
	archive_entry_set_pathname(w->ae, name);
	archive_entry_set_filetype(w->ae, AE_IFREG);
	archive_entry_set_perm(w->ae, 0);
	archive_entry_set_mtime(w->ae, t, 0);
	archive_entry_set_size(w->ae, 0);
	free(name);
	if (archive_write_header(w->a, w->ae) != ARCHIVE_OK)
		return kl_error_setf(w->err, EIO, "tar: %s", archive_error_string(w->a));
	return 0;
}

static int
on_item(const struct tree *diff, enum tree_layer_item item, const struct tree_entry *e,
        void *userdata)
{
	struct walk *w = userdata;
	static const unsigned types[] = {
	    [TREE_REG] = AE_IFREG,      [TREE_DIR] = AE_IFDIR,  [TREE_SYMLINK] = AE_IFLNK,
	    [TREE_HARDLINK] = AE_IFREG, [TREE_CHAR] = AE_IFCHR, [TREE_BLOCK] = AE_IFBLK,
	    [TREE_FIFO] = AE_IFIFO};
	_cleanup_free_ char *path = NULL;
	int64_t sec = e->mtime_sec;
	uint32_t nsec = e->mtime_nsec;

	if (item == TREE_LAYER_WHITEOUT)
		return write_marker(w, oci_whiteout_name(e->path, e->path_len));
	if (item == TREE_LAYER_OPAQUE)
		return write_marker(w, oci_opaque_name(e->path, e->path_len));
	if (!e->path_len)
		return 0;
	if (w->opts->rewrite_timestamp && w->opts->has_epoch && sec >= w->opts->epoch) {
		sec = w->opts->epoch;
		nsec = 0;
	}
	path = e->type == TREE_DIR ? xasprintf("%s/", e->path) : xstrdup(e->path);
	archive_entry_clear(w->ae);
	archive_entry_set_pathname(w->ae, path);
	archive_entry_set_filetype(w->ae, types[e->type]);
	archive_entry_set_perm(w->ae, e->mode & 07777);
	archive_entry_set_uid(w->ae, e->uid);
	archive_entry_set_gid(w->ae, e->gid);
	archive_entry_set_mtime(w->ae, sec, nsec);
	if (e->type == TREE_SYMLINK)
		archive_entry_set_symlink(w->ae, e->link);
	if (e->type == TREE_HARDLINK) {
		archive_entry_set_hardlink(w->ae, e->link);
		archive_entry_set_size(w->ae, 0);
	}
	if (e->type == TREE_CHAR || e->type == TREE_BLOCK)
		archive_entry_set_rdev(w->ae, (dev_t)e->rdev);
	if (e->type == TREE_REG)
		archive_entry_set_size(w->ae, (la_int64_t)e->size);
	for (uint32_t i = 0; i < e->n_xattrs; i++) {
		struct tree_xattr x;

		tree_entry_xattr(diff, e, i, &x);
		archive_entry_xattr_add_entry(w->ae, x.name, x.value, x.value_len);
	}
	if (archive_write_header(w->a, w->ae) != ARCHIVE_OK)
		return kl_error_setf(w->err, EIO, "tar of '%s': %s", e->path,
		                     archive_error_string(w->a));
	return e->type == TREE_REG ? write_content(w, e) : 0;
}

static char *
record_path(struct store *s, const struct tree *diff, const struct layer_options *opts)
{
	char hex[DIGEST_HEX_LEN + 1], id[DIGEST_STRING_SIZE];
	_cleanup_free_ char *key = NULL;
	struct digest d;

	key = xasprintf("%s %d %d %d %" PRId64, digest_to_string(tree_id(diff), id),
	                opts->compression, opts->level, opts->rewrite_timestamp && opts->has_epoch,
	                opts->rewrite_timestamp && opts->has_epoch ? opts->epoch : 0);
	digest_buffer(key, strlen(key), &d);
	return xasprintf("%s/layer-pending/%s", store_root(s), digest_to_hex(&d, hex));
}

static int
record_read(struct store *s, const char *path, struct layer_blob *ret)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	const char *dg, *di;
	json_t *j;
	size_t len;
	int r = -ENOENT;

	if (fd < 0 || kl_io_read_all(fd, 4096, &buf, &len) < 0)
		return -ENOENT;
	j = json_loadb(buf, len, 0, NULL);
	dg = json_string_value(json_object_get(j, "digest"));
	di = json_string_value(json_object_get(j, "diff_id"));
	if (dg && di && digest_parse(dg, strlen(dg), &ret->digest, NULL) == 0 &&
	    digest_parse(di, strlen(di), &ret->diff_id, NULL) == 0 &&
	    store_has_blob(s, &ret->digest) > 0) {
		ret->size = (uint64_t)json_integer_value(json_object_get(j, "size"));
		r = 0;
	}
	json_decref(j);
	return r;
}

static void
record_write(const char *path, const struct layer_blob *b)
{
	char d1[DIGEST_STRING_SIZE], d2[DIGEST_STRING_SIZE];
	_cleanup_free_ char *dir = xstrndup(path, (size_t)(strrchr(path, '/') - path));
	_cleanup_free_ char *tmp = xasprintf("%s.%d", path, (int)getpid());
	_cleanup_free_ char *text =
	    xasprintf("{\"digest\":\"%s\",\"diff_id\":\"%s\",\"size\":%" PRIu64 "}",
	              digest_to_string(&b->digest, d1), digest_to_string(&b->diff_id, d2), b->size);
	int fd;

	(void)kl_path_mkdir_p(dir, 0755);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (kl_io_write_all(fd, text, strlen(text)) < 0 || rename(tmp, path) < 0)
		(void)unlink(tmp);
	close(fd);
}

static int
setup_compressor(struct out *o, const struct layer_options *opts, struct kl_error **err)
{
	if (o->c == LAYER_GZIP) {
		int level = opts->level ? opts->level : Z_DEFAULT_COMPRESSION;

		if (deflateInit2(&o->z, level, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			return kl_error_setf(err, EINVAL, "gzip level %d", opts->level);
	} else if (o->c == LAYER_ZSTD) {
		o->zc = ZSTD_createCCtx();
		if (!o->zc)
			abort();
		if (opts->level)
			ZSTD_CCtx_setParameter(o->zc, ZSTD_c_compressionLevel, opts->level);
	} else if (o->c != LAYER_UNCOMPRESSED) {
		return kl_error_setf(err, ENOTSUP,
		                     "compression %s is not available yet (the layer exporter is "
		                     "not merged)",
		                     layer_compression_name(o->c));
	}
	return 0;
}

int
layer_export(struct store *s, struct provider_set *ps, const struct tree *diff,
             const struct layer_options *opts, struct layer_blob *ret, bool *ret_reused,
             struct kl_error **err)
{
	_cleanup_free_ char *rec = record_path(s, diff, opts);
	_cleanup_(uring_freep) struct uring *u = NULL;
	struct out o = {.c = opts->compression};
	struct walk w = {.ps = ps, .opts = opts, .err = err};
	struct layer_blob b = {.compression = opts->compression};
	int r;

	if (record_read(s, rec, &b) == 0) {
		*ret = b;
		if (ret_reused)
			*ret_reused = true;
		return 0;
	}
	r = setup_compressor(&o, opts, err);
	if (r < 0)
		return r;
	r = uring_new(64, &u, err);
	if (r < 0)
		goto out;
	r = store_writer_begin(s, &o.w, err);
	if (r < 0)
		goto out;
	o.tar_hash = digest_ctx_new();
	o.buf = xmalloc(OUT_CHUNK);
	w.buf = xmalloc(OUT_CHUNK);
	w.u = u;
	w.a = archive_write_new();
	w.ae = archive_entry_new();
	archive_write_set_format_pax(w.a);
	archive_write_set_format_option(w.a, "pax", "hdrcharset", "BINARY");
	archive_write_set_bytes_per_block(w.a, 0);
	if (archive_write_open2(w.a, &o, NULL, on_write, NULL, NULL) != ARCHIVE_OK) {
		r = kl_error_setf(err, EIO, "tar: %s", archive_error_string(w.a));
		goto out;
	}
	r = tree_layer_walk(diff, on_item, &w);
	if (r >= 0 && archive_write_close(w.a) != ARCHIVE_OK)
		r = kl_error_setf(err, EIO, "tar: %s", archive_error_string(w.a));
	if (r >= 0 && o.error)
		r = kl_error_set(err, -o.error, "writing a layer");
	if (r >= 0)
		r = compress_chunk(&o, NULL, 0, true);
	if (r >= 0) {
		digest_ctx_final(o.tar_hash, &b.diff_id);
		b.size = store_writer_size(o.w);
		r = store_writer_commit(o.w, NULL, &b.digest, err);
		o.w = NULL;
	}
	if (r >= 0) {
		record_write(rec, &b);
		*ret = b;
		if (ret_reused)
			*ret_reused = false;
	}
out:
	if (w.a)
		archive_write_free(w.a);
	archive_entry_free(w.ae);
	store_writer_abort(o.w);
	digest_ctx_free(o.tar_hash);
	if (o.c == LAYER_GZIP)
		deflateEnd(&o.z);
	ZSTD_freeCCtx(o.zc);
	free(o.buf);
	free(w.buf);
	return r < 0 ? r : 0;
}
