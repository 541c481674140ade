// SPDX-License-Identifier: Apache-2.0
/* eStargz layers, laid out as stargz-snapshotter's lossless writer (AppendTarLossLess, what
 * BuildKit uses) does:
 *
 *   [gzip member: headers…][member: a file's bytes (a 4 MiB chunk), its padding, headers…]…
 *   [… the tar's own end][member: a tar of "stargz.index.json" (the TOC) and its end]
 *   [the 51-byte footer: an empty gzip member whose extra field "SG" holds "%016xSTARGZ",
 *    the TOC member's offset]
 *
 * A member is closed only before a file's bytes, so each file (chunk) starts a member and the
 * TOC (stargz's JSON) gives its offset; members compress on every core (libdeflate). Decompressed,
 * the blob is the layer's tar — a reader stops at its end — followed by the TOC's tar: the diff id
 * covers both. The descriptor carries containerd.io/snapshot/stargz/toc.digest (sha256 of the TOC
 * JSON) and io.containers.estargz.uncompressed-size. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/compress-internal.h"
#include "exporters/compress-pool-internal.h"
#include "exporters/compress-toc-internal.h"
#include "exporters/layer-internal.h"
#include "exporters/layer.h"
#include "oci/image.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

#define TOC_NAME "stargz.index.json"
#define FOOTER_SIZE 51u
#define ANN_UNCOMPRESSED_SIZE "io.containers.estargz.uncompressed-size"

struct estargz {
	struct compress_out *out;
	struct compress_pool *pool;
	struct compress_job *cur, *free_list; /* cur: the member being filled */
	int level;
	struct compress_toc *toc;
	/* The entry whose contents come. */
	size_t entry;
	uint64_t size, done, chunk, chunk_len;
};

static int
estargz_new(struct compress_out *out, int level, unsigned threads, void **ret,
            struct kl_error **err)
{
	struct estargz *g = xcalloc(1, sizeof(*g));
	int r;

	g->out = out;
	g->level = level;
	r = compress_pool_new(threads, &compress_gzip_member_ops, &g->level, &g->pool, err);
	if (r < 0) {
		free(g);
		return r;
	}
	g->toc = compress_toc_new();
	*ret = g;
	return 0;
}

static int
write_job(void *userdata, struct compress_job *j, struct kl_error **err)
{
	struct estargz *g = userdata;
	int r = j->result;

	if (r < 0) {
		r = kl_error_setf(err, -r, "gzip: compressing a member: %s", j->error);
	} else {
		if (j->tag >= 0) {
			compress_toc_chunk_offset(g->toc, (size_t)j->tag, (size_t)j->tag2,
			                          g->out->offset);
			if (j->hash_len)
				compress_toc_chunk_digest(g->toc, (size_t)j->tag, (size_t)j->tag2,
				                          &j->digest);
		}
		r = compress_out_write(g->out, j->out, j->out_len, err);
	}
	compress_job_put(&g->free_list, j);
	return r;
}

/* Closes the member being filled (when it holds anything) and queues it. */
static int
submit(struct estargz *g, struct kl_error **err)
{
	struct compress_job *j = g->cur;
	int r;

	if (!j)
		return 0;
	g->cur = NULL;
	if (!j->in_len) {
		compress_job_put(&g->free_list, j);
		return 0;
	}
	r = compress_pool_make_room(g->pool, write_job, g, err);
	if (r < 0) {
		compress_job_put(&g->free_list, j);
		return r;
	}
	compress_pool_submit(g->pool, j);
	return 0;
}

/* The member being filled, started with room for cap bytes (it grows past them). */
static struct compress_job *
member(struct estargz *g, size_t cap)
{
	if (!g->cur)
		g->cur = compress_job_get(&g->free_list, cap);
	return g->cur;
}

static int
estargz_meta(void *x, const void *buf, size_t n, struct kl_error **err)
{
	struct estargz *g = x;

	compress_job_append(member(g, COMPRESS_HEADERS_CAP), buf, n);
	/* Long runs of headers are cut too, to use every core. */
	return g->cur->in_len >= COMPRESS_CHUNK_SIZE ? submit(g, err) : 0;
}

static int
estargz_entry(void *x, const struct compress_entry *e, struct kl_error **err)
{
	struct estargz *g = x;
	int r;

	r = compress_toc_add(g->toc, e, &g->entry, err);
	if (r < 0)
		return r;
	g->size = e->size;
	g->done = g->chunk = g->chunk_len = 0;
	return e->size ? submit(g, err) : 0;
}

static int
estargz_data(void *x, const void *buf, size_t n, struct kl_error **err)
{
	struct estargz *g = x;
	const char *p = buf;
	int r;

	while (n) {
		uint64_t left = g->size - g->done;
		size_t k;

		if (!g->cur) {
			/* a chunk starts a member of its own, with room for the padding and the
			 * next headers after it */
			member(g, (left < COMPRESS_CHUNK_SIZE ? left : COMPRESS_CHUNK_SIZE) + 4096);
			g->cur->tag = (long)g->entry;
			g->cur->tag2 = (long)g->chunk++;
			g->chunk_len = 0;
			compress_toc_add_chunk(g->toc, g->entry, g->done,
			                       left < COMPRESS_CHUNK_SIZE ? left
			                                                  : COMPRESS_CHUNK_SIZE);
		}
		k = COMPRESS_CHUNK_SIZE - g->chunk_len;
		k = n < k ? n : k;
		compress_job_append(g->cur, p, k);
		g->chunk_len += k;
		g->done += k;
		p += k;
		n -= k;
		if (g->size > COMPRESS_CHUNK_SIZE &&
		    (g->chunk_len == COMPRESS_CHUNK_SIZE || g->done == g->size))
			g->cur->hash_len = g->chunk_len;
		/* A full chunk with more to come ends its member; the last one stays open for
		 * the padding and the headers that follow. */
		if (g->chunk_len == COMPRESS_CHUNK_SIZE && g->done < g->size) {
			r = submit(g, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int
estargz_entry_end(void *x, const struct compress_entry_end *end, struct kl_error **err)
{
	struct estargz *g = x;

	(void)err;
	if (g->size && g->size <= COMPRESS_CHUNK_SIZE)
		compress_toc_chunk_digest(g->toc, g->entry, 0, &end->digest);
	/* stargz gives every regular file a digest, that of no bytes for an empty one */
	compress_toc_set_digest(g->toc, g->entry, &end->digest);
	return 0;
}

/* The TOC as the tar stargz-snapshotter writes: stargz.index.json (a plain USTAR header, mode 0,
 * owner 0:0, mtime 0), then the archive's end, in one gzip member. */
static int
write_toc(struct estargz *g, const char *json, size_t len, uint64_t *ret_off, struct kl_error **err)
{
	struct compress_entry e = {
	    .name = TOC_NAME, .name_len = strlen(TOC_NAME), .type = COMPRESS_TAR_REG, .size = len};
	_cleanup_free_ char *tar = NULL;
	struct compress_job *j;
	size_t cap = 0, n = 0, total;
	int r;

	r = layer_tar_header(&e, &tar, &cap, &n, err);
	if (r < 0)
		return r;
	total = n + (len + 511) / 512 * 512 + 1024;
	tar = xrealloc(tar, total);
	memcpy(tar + n, json, len);
	memset(tar + n + len, 0, total - n - len);
	compress_out_uncompressed(g->out, tar, total);
	j = compress_job_get(&g->free_list, total);
	compress_job_append(j, tar, total);
	compress_pool_submit(g->pool, j);
	j = compress_pool_take(g->pool);
	*ret_off = g->out->offset;
	return write_job(g, j, err);
}

static int
estargz_finish(void *x, struct layer_blob *ret, struct kl_error **err)
{
	struct estargz *g = x;
	_cleanup_free_ char *json = NULL, *usize = NULL;
	char toc_digest[DIGEST_STRING_SIZE], sub[23];
	/* magic, deflate, FEXTRA, mtime 0, XFL 0, OS 255 (Go's), XLEN 26, subfield 'S' 'G' of 22 */
	uint8_t footer[FOOTER_SIZE] = {0x1f, 0x8b, 8,  4, 0,   0,   0,  0,
	                               0,    0xff, 26, 0, 'S', 'G', 22, 0};
	struct compress_job *j;
	uint64_t toc_off = 0;
	struct digest d;
	size_t len = 0;
	int r;

	r = submit(g, err);
	while (r >= 0 && (j = compress_pool_take(g->pool)))
		r = write_job(g, j, err);
	if (r >= 0)
		r = compress_toc_json(g->toc, COMPRESS_TOC_ESTARGZ, /* tar_split_digest= */ NULL,
		                      &json, &len, err);
	if (r >= 0)
		r = write_toc(g, json, len, &toc_off, err);
	if (r < 0)
		return r;
	snprintf(sub, sizeof(sub), "%016" PRIx64 "STARGZ", toc_off);
	memcpy(footer + 16, sub, 22);
	/* an empty final stored block, then CRC-32 and size, both 0 */
	memcpy(footer + 38, "\x01\x00\x00\xff\xff", 5);
	r = compress_out_write(g->out, footer, sizeof(footer), err);
	if (r < 0)
		return r;
	digest_buffer(json, len, &d);
	digest_to_string(&d, toc_digest);
	usize = xasprintf("%" PRIu64, g->out->usize);
	compress_annotate(ret, OCI_ANN_ESTARGZ_TOC, toc_digest);
	compress_annotate(ret, ANN_UNCOMPRESSED_SIZE, usize);
	ret->toc_digest = xstrdup(toc_digest);
	ret->uncompressed_size = TAKE_PTR(usize);
	return 0;
}

static void
estargz_free(void *x)
{
	struct estargz *g = x;

	compress_pool_free(g->pool);
	if (g->cur)
		compress_job_put(&g->free_list, g->cur);
	compress_job_list_free(&g->free_list);
	compress_toc_free(g->toc);
	free(g);
}

const struct compress_ops compress_estargz_ops = {
    .name = "estargz",
    .min_level = 1,
    .max_level = 9,
    .default_level = 6,
    .has_toc = true,
    .new = estargz_new,
    .meta = estargz_meta,
    .entry = estargz_entry,
    .data = estargz_data,
    .entry_end = estargz_entry_end,
    .finish = estargz_finish,
    .free = estargz_free,
};
