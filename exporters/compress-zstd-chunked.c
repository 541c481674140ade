// SPDX-License-Identifier: Apache-2.0
/* zstd:chunked layers, laid out as containers/storage's compressor writes them:
 *
 *   [frames of tar headers and padding][a frame per file (per 4 MiB chunk)]…[the tar's end]
 *   [skippable frame: the zstd-compressed TOC][skippable frame: the zstd-compressed tar-split]
 *   [skippable frame: the 64-byte footer]
 *
 * A file's frames hold its bytes alone, so one range of the blob decompresses to one file; the
 * TOC (containers/storage's JSON: every entry, a file's "offset"/"endOffset" and chunks) says
 * where. Frames are compressed on every core, handed back in order. The footer holds, as
 * little-endian u64s: the TOC's offset, compressed and uncompressed length, type 1; the
 * tar-split's offset, compressed and uncompressed length; then "GNUlInUx". The descriptor
 * carries the TOC's position "offset:length:ulength:1" and the sha256 of its compressed bytes
 * under both the io.github.containers.zstd-chunked.* keys containers/storage reads today and
 * the io.containers.zstd-chunked.* keys of older readers (kiln's, stargz-snapshotter's). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "exporters/compress-internal.h"
#include "exporters/compress-pool-internal.h"
#include "exporters/compress-tarsplit-internal.h"
#include "exporters/compress-toc-internal.h"
#include "exporters/layer.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

#define SKIPPABLE_MAGIC 0x184d2a50u
#define FOOTER_SIZE 64u
#define MANIFEST_TYPE_CRFS 1

#define ANN_CHECKSUM "io.github.containers.zstd-chunked.manifest-checksum"
#define ANN_POSITION "io.github.containers.zstd-chunked.manifest-position"
#define ANN_TARSPLIT "io.github.containers.zstd-chunked.tarsplit-position"
#define ANN_OLD_CHECKSUM "io.containers.zstd-chunked.manifest-checksum"
#define ANN_OLD_POSITION "io.containers.zstd-chunked.manifest-position"

struct chunked {
	struct compress_out *out;
	struct compress_pool *pool;
	struct compress_job *cur, *free_list; /* cur: the frame being filled */
	int level;
	struct compress_toc *toc;
	struct compress_tarsplit *ts;
	char *seg; /* tar bytes since the last entry's record: the next tar-split segment */
	size_t seg_len, seg_cap;
	/* The entry whose contents come. */
	size_t entry;
	char *name;
	size_t name_len;
	uint64_t size, done, chunk;
};

struct state {
	ZSTD_CCtx *cctx;
};

static void *
state_new(void *arg)
{
	const struct chunked *c = arg;
	struct state *s = xcalloc(1, sizeof(*s));

	s->cctx = ZSTD_createCCtx();
	if (!s->cctx ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_compressionLevel, c->level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_checksumFlag, 1))) {
		ZSTD_freeCCtx(s->cctx);
		free(s);
		return NULL;
	}
	return s;
}

static void
state_free(void *state)
{
	struct state *s = state;

	ZSTD_freeCCtx(s->cctx);
	free(s);
}

static void
run(void *state, struct compress_job *j)
{
	struct state *s = state;
	size_t n;

	if (j->hash_len)
		digest_buffer(j->in, j->hash_len, &j->digest);
	compress_job_out_reserve(j, ZSTD_compressBound(j->in_len));
	n = ZSTD_compress2(s->cctx, j->out, j->out_cap, j->in, j->in_len);
	if (ZSTD_isError(n)) {
		j->result = -EIO;
		j->error = ZSTD_getErrorName(n);
		return;
	}
	j->out_len = n;
}

static const struct compress_pool_ops pool_ops = {
    .state_new = state_new,
    .state_free = state_free,
    .run = run,
};

static int
chunked_new(struct compress_out *out, int level, unsigned threads, void **ret,
            struct kl_error **err)
{
	struct chunked *c = xcalloc(1, sizeof(*c));
	int r;

	c->out = out;
	c->level = level;
	r = compress_pool_new(threads, &pool_ops, c, &c->pool, err);
	if (r < 0) {
		free(c);
		return r;
	}
	c->toc = compress_toc_new();
	c->ts = compress_tarsplit_new(level);
	*ret = c;
	return 0;
}

/* Writes a finished frame out, and where it went into the TOC. */
static int
write_job(void *userdata, struct compress_job *j, struct kl_error **err)
{
	struct chunked *c = userdata;
	int r = j->result;

	if (r < 0) {
		r = kl_error_setf(err, -r, "zstd: compressing a frame: %s", j->error);
	} else {
		if (j->tag >= 0) {
			compress_toc_chunk_offset(c->toc, (size_t)j->tag, (size_t)j->tag2,
			                          c->out->offset);
			if (j->hash_len)
				compress_toc_chunk_digest(c->toc, (size_t)j->tag, (size_t)j->tag2,
				                          &j->digest);
		}
		r = compress_out_write(c->out, j->out, j->out_len, err);
		if (j->tag >= 0 && j->last)
			compress_toc_set_end(c->toc, (size_t)j->tag, c->out->offset);
	}
	compress_job_put(&c->free_list, j);
	return r;
}

/* Queues the frame being filled (when it holds anything). */
static int
submit(struct chunked *c, struct kl_error **err)
{
	struct compress_job *j = c->cur;
	int r;

	if (!j)
		return 0;
	c->cur = NULL;
	if (!j->in_len) {
		compress_job_put(&c->free_list, j);
		return 0;
	}
	r = compress_pool_make_room(c->pool, write_job, c, err);
	if (r < 0) {
		compress_job_put(&c->free_list, j);
		return r;
	}
	compress_pool_submit(c->pool, j);
	return 0;
}

/* The frame being filled, started with room for cap bytes (it grows past them). */
static struct compress_job *
frame(struct chunked *c, size_t cap)
{
	if (!c->cur)
		c->cur = compress_job_get(&c->free_list, cap);
	return c->cur;
}

static int
chunked_meta(void *x, const void *buf, size_t n, struct kl_error **err)
{
	struct chunked *c = x;

	c->seg = xgrow(c->seg, &c->seg_cap, c->seg_len + n, 1);
	memcpy(c->seg + c->seg_len, buf, n);
	c->seg_len += n;
	compress_job_append(frame(c, COMPRESS_HEADERS_CAP), buf, n);
	/* Long runs of headers (thousands of directories) are cut too, to use every core. */
	return c->cur->in_len >= COMPRESS_CHUNK_SIZE ? submit(c, err) : 0;
}

static int
chunked_entry(void *x, const struct compress_entry *e, struct kl_error **err)
{
	struct chunked *c = x;
	int r;

	r = compress_toc_add(c->toc, e, &c->entry, err);
	if (r < 0)
		return r;
	r = compress_tarsplit_segment(c->ts, c->seg, c->seg_len, err);
	if (r < 0)
		return r;
	c->seg_len = 0;
	free(c->name);
	c->name = xstrndup(e->name, e->name_len);
	c->name_len = e->name_len;
	c->size = e->size;
	c->done = c->chunk = 0;
	return e->size ? submit(c, err) : 0;
}

/* Starts the frame of the next chunk of the entry's contents. */
static void
start_chunk(struct chunked *c)
{
	uint64_t left = c->size - c->done;
	struct compress_job *j = frame(c, left < COMPRESS_CHUNK_SIZE ? left : COMPRESS_CHUNK_SIZE);

	j->tag = (long)c->entry;
	j->tag2 = (long)c->chunk;
	j->last = left <= COMPRESS_CHUNK_SIZE;
	compress_toc_add_chunk(c->toc, c->entry, c->done,
	                       left < COMPRESS_CHUNK_SIZE ? left : COMPRESS_CHUNK_SIZE);
	c->chunk++;
}

static int
chunked_data(void *x, const void *buf, size_t n, struct kl_error **err)
{
	struct chunked *c = x;
	const char *p = buf;
	int r;

	while (n) {
		size_t room, k;

		if (!c->cur)
			start_chunk(c);
		room = COMPRESS_CHUNK_SIZE - c->cur->in_len;
		k = n < room ? n : room;
		compress_job_append(c->cur, p, k);
		c->done += k;
		p += k;
		n -= k;
		if (c->cur->in_len == COMPRESS_CHUNK_SIZE || c->done == c->size) {
			/* the chunks of a file cut in several are hashed on their own */
			if (c->size > COMPRESS_CHUNK_SIZE)
				c->cur->hash_len = c->cur->in_len;
			r = submit(c, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int
chunked_entry_end(void *x, const struct compress_entry_end *end, struct kl_error **err)
{
	struct chunked *c = x;

	if (c->size)
		compress_toc_set_digest(c->toc, c->entry, &end->digest);
	return compress_tarsplit_file(c->ts, c->name, c->name_len, c->size, end->crc64, err);
}

/* A skippable frame holding data; *ret_off gets the offset of data in the blob. */
static int
write_skippable(struct chunked *c, const void *data, size_t n, uint64_t *ret_off,
                struct kl_error **err)
{
	uint8_t head[8];
	int r;

	if (n > UINT32_MAX)
		return kl_error_setf(err, EFBIG,
		                     "zstd:chunked: %zu bytes of metadata do not fit a "
		                     "skippable frame",
		                     n);
	for (int i = 0; i < 4; i++) {
		head[i] = (uint8_t)(SKIPPABLE_MAGIC >> (8 * i));
		head[4 + i] = (uint8_t)((uint32_t)n >> (8 * i));
	}
	r = compress_out_write(c->out, head, sizeof(head), err);
	if (ret_off)
		*ret_off = c->out->offset;
	return r < 0 ? r : compress_out_write(c->out, data, n, err);
}

static void
put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The TOC with the tar-split's digest, compressed as the layer is. */
static int
manifest(struct chunked *c, const char *tar_split, size_t ts_len, char **ret, size_t *ret_len,
         size_t *ret_ulen, struct kl_error **err)
{
	_cleanup_free_ char *json = NULL, *z = NULL;
	char ts_digest[DIGEST_STRING_SIZE];
	struct digest d;
	size_t len, bound, n;
	int r;

	digest_buffer(tar_split, ts_len, &d);
	r = compress_toc_json(c->toc, COMPRESS_TOC_CHUNKED, digest_to_string(&d, ts_digest), &json,
	                      &len, err);
	if (r < 0)
		return r;
	bound = ZSTD_compressBound(len);
	z = xmalloc(bound);
	n = ZSTD_compress(z, bound, json, len, c->level);
	if (ZSTD_isError(n))
		return kl_error_setf(err, EIO, "zstd: compressing the table of contents: %s",
		                     ZSTD_getErrorName(n));
	*ret = TAKE_PTR(z);
	*ret_len = n;
	*ret_ulen = len;
	return 0;
}

static int
chunked_finish(void *x, struct layer_blob *ret, struct kl_error **err)
{
	struct chunked *c = x;
	_cleanup_free_ char *toc = NULL, *position = NULL, *ts_position = NULL;
	char checksum[DIGEST_STRING_SIZE];
	struct compress_job *j;
	const char *ts_data;
	size_t toc_len = 0, toc_ulen = 0, ts_len = 0;
	uint64_t ts_ulen = 0, toc_off = 0, ts_off = 0;
	uint8_t footer[FOOTER_SIZE];
	struct digest d;
	int r;

	r = submit(c, err);
	while (r >= 0 && (j = compress_pool_take(c->pool)))
		r = write_job(c, j, err);
	if (r >= 0)
		r = compress_tarsplit_segment(c->ts, c->seg, c->seg_len, err);
	if (r >= 0)
		r = compress_tarsplit_finish(c->ts, &ts_data, &ts_len, &ts_ulen, err);
	if (r >= 0)
		r = manifest(c, ts_data, ts_len, &toc, &toc_len, &toc_ulen, err);
	if (r >= 0)
		r = write_skippable(c, toc, toc_len, &toc_off, err);
	if (r >= 0)
		r = write_skippable(c, ts_data, ts_len, &ts_off, err);
	if (r < 0)
		return r;
	put_le64(footer, toc_off);
	put_le64(footer + 8, toc_len);
	put_le64(footer + 16, toc_ulen);
	put_le64(footer + 24, MANIFEST_TYPE_CRFS);
	put_le64(footer + 32, ts_off);
	put_le64(footer + 40, ts_len);
	put_le64(footer + 48, ts_ulen);
	memcpy(footer + 56, "GNUlInUx", 8);
	r = write_skippable(c, footer, sizeof(footer), NULL, err);
	if (r < 0)
		return r;
	digest_buffer(toc, toc_len, &d);
	digest_to_string(&d, checksum);
	position =
	    xasprintf("%" PRIu64 ":%zu:%zu:%d", toc_off, toc_len, toc_ulen, MANIFEST_TYPE_CRFS);
	ts_position = xasprintf("%" PRIu64 ":%zu:%" PRIu64, ts_off, ts_len, ts_ulen);
	compress_annotate(ret, ANN_CHECKSUM, checksum);
	compress_annotate(ret, ANN_POSITION, position);
	compress_annotate(ret, ANN_TARSPLIT, ts_position);
	compress_annotate(ret, ANN_OLD_CHECKSUM, checksum);
	compress_annotate(ret, ANN_OLD_POSITION, position);
	ret->toc_digest = xstrdup(checksum);
	ret->chunked_position = TAKE_PTR(position);
	return 0;
}

static void
chunked_free(void *x)
{
	struct chunked *c = x;

	compress_pool_free(c->pool);
	if (c->cur)
		compress_job_put(&c->free_list, c->cur);
	compress_job_list_free(&c->free_list);
	compress_toc_free(c->toc);
	compress_tarsplit_free(c->ts);
	free(c->seg);
	free(c->name);
	free(c);
}

const struct compress_ops compress_zstd_chunked_ops = {
    .name = "zstd:chunked",
    .min_level = 1,
    .max_level = 22,
    .default_level = 3,
    .wants_crc64 = true,
    .has_toc = true,
    .new = chunked_new,
    .meta = chunked_meta,
    .entry = chunked_entry,
    .data = chunked_data,
    .entry_end = chunked_entry_end,
    .finish = chunked_finish,
    .free = chunked_free,
};
