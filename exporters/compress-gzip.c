// SPDX-License-Identifier: Apache-2.0
/* gzip layers on every core, in pigz's layout: one gzip member whose deflate stream is cut into
 * 128 KiB blocks compressed independently (each primed with the 32 KiB of input before it, all
 * but the last ending in a sync flush), their CRCs combined. The block size is fixed, so the
 * bytes do not depend on the number of threads. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "exporters/compress-internal.h"
#include "exporters/compress-pool-internal.h"
#include "util/error.h"
#include "util/xalloc.h"

#define BLOCK (128u << 10)
#define WINDOW 32768u

struct gzip {
	struct compress_out *out;
	struct compress_pool *pool;
	struct compress_job *cur, *free_list;
	int level;
	uint32_t crc;
	uint64_t isize;
	char window[WINDOW]; /* the last WINDOW bytes submitted: the next block's dictionary */
	size_t window_len;
};

static void *
state_new(void *arg)
{
	const struct gzip *g = arg;
	z_stream *z = xcalloc(1, sizeof(*z));

	if (deflateInit2(z, g->level, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(z);
		return NULL;
	}
	return z;
}

static void
state_free(void *state)
{
	deflateEnd(state);
	free(state);
}

static void
run(void *state, struct compress_job *j)
{
	z_stream *z = state;
	int flush = j->last ? Z_FINISH : Z_SYNC_FLUSH, zr;

	j->crc = (uint32_t)crc32(0, (const Bytef *)j->in, (uInt)j->in_len);
	if (deflateReset(z) != Z_OK ||
	    (j->dict_len &&
	     deflateSetDictionary(z, (const Bytef *)j->dict, (uInt)j->dict_len) != Z_OK)) {
		j->result = -EIO;
		j->error = "resetting a zlib stream";
		return;
	}
	compress_job_out_reserve(j, deflateBound(z, (uLong)j->in_len) + 64);
	z->next_in = (Bytef *)j->in;
	z->avail_in = (uInt)j->in_len;
	z->next_out = (Bytef *)j->out;
	z->avail_out = (uInt)j->out_cap;
	zr = deflate(z, flush);
	if ((j->last && zr != Z_STREAM_END) || (!j->last && (zr != Z_OK || z->avail_out == 0))) {
		/* deflateBound() is a bound for these, so this does not happen */
		j->result = -EIO;
		j->error = z->msg ? z->msg : "deflate did not finish a block";
		return;
	}
	j->out_len = j->out_cap - z->avail_out;
}

static const struct compress_pool_ops pool_ops = {
    .state_new = state_new,
    .state_free = state_free,
    .run = run,
};

static int
gzip_new(struct compress_out *out, int level, unsigned threads, void **ret, struct kl_error **err)
{
	struct gzip *g = xcalloc(1, sizeof(*g));
	/* magic, deflate, no flags, mtime 0, extra flags as zlib sets them, OS 3 (unix) */
	uint8_t header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, level == 9 ? 2 : level == 1 ? 4 : 0, 3};
	int r;

	g->out = out;
	g->level = level;
	g->crc = (uint32_t)crc32(0, NULL, 0);
	r = compress_pool_new(threads, &pool_ops, g, &g->pool, err);
	if (r >= 0)
		r = compress_out_write(out, header, sizeof(header), err);
	if (r < 0) {
		compress_pool_free(g->pool);
		free(g);
		return r;
	}
	g->cur = compress_job_get(&g->free_list, BLOCK);
	*ret = g;
	return 0;
}

static int
write_job(struct gzip *g, struct compress_job *j, struct kl_error **err)
{
	int r = j->result;

	if (r < 0)
		r = kl_error_setf(err, -r, "gzip: %s", j->error);
	else
		r = compress_out_write(g->out, j->out, j->out_len, err);
	g->crc = (uint32_t)crc32_combine(g->crc, j->crc, (z_off_t)j->in_len);
	g->isize += j->in_len;
	compress_job_put(&g->free_list, j);
	return r;
}

/* Queues the block being filled, after writing out what the queue has no room for. */
static int
submit(struct gzip *g, bool last, struct kl_error **err)
{
	struct compress_job *j = g->cur;
	int r;

	while (compress_pool_full(g->pool)) {
		r = write_job(g, compress_pool_take(g->pool), err);
		if (r < 0)
			return r;
	}
	memcpy(j->dict, g->window, g->window_len);
	j->dict_len = g->window_len;
	j->last = last;
	if (j->in_len >= WINDOW) {
		memcpy(g->window, j->in + j->in_len - WINDOW, WINDOW);
		g->window_len = WINDOW;
	}
	compress_pool_submit(g->pool, j);
	g->cur = last ? NULL : compress_job_get(&g->free_list, BLOCK);
	return 0;
}

static int
gzip_write(void *c, const void *buf, size_t n, struct kl_error **err)
{
	struct gzip *g = c;
	const char *p = buf;

	while (n) {
		size_t room = BLOCK - g->cur->in_len, k = n < room ? n : room;
		int r;

		memcpy(g->cur->in + g->cur->in_len, p, k);
		g->cur->in_len += k;
		p += k;
		n -= k;
		if (g->cur->in_len == BLOCK) {
			r = submit(g, false, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int
gzip_entry(void *c, const struct compress_entry *e, struct kl_error **err)
{
	(void)c;
	(void)e;
	(void)err;
	return 0;
}

static int
gzip_entry_end(void *c, const struct compress_entry_end *end, struct kl_error **err)
{
	(void)c;
	(void)end;
	(void)err;
	return 0;
}

static int
gzip_finish(void *c, struct layer_blob *ret, struct kl_error **err)
{
	struct gzip *g = c;
	struct compress_job *j;
	uint8_t trailer[8];
	int r;

	(void)ret;
	r = submit(g, true, err);
	while (r >= 0 && (j = compress_pool_take(g->pool)))
		r = write_job(g, j, err);
	if (r < 0)
		return r;
	for (int i = 0; i < 4; i++) {
		trailer[i] = (uint8_t)(g->crc >> (8 * i));
		trailer[4 + i] = (uint8_t)(g->isize >> (8 * i));
	}
	return compress_out_write(g->out, trailer, sizeof(trailer), err);
}

static void
gzip_free(void *c)
{
	struct gzip *g = c;

	compress_pool_free(g->pool);
	if (g->cur)
		compress_job_put(&g->free_list, g->cur);
	compress_job_list_free(&g->free_list);
	free(g);
}

const struct compress_ops compress_gzip_ops = {
    .name = "gzip",
    .min_level = 1,
    .max_level = 9,
    .default_level = 6,
    .new = gzip_new,
    .meta = gzip_write,
    .entry = gzip_entry,
    .data = gzip_write,
    .entry_end = gzip_entry_end,
    .finish = gzip_finish,
    .free = gzip_free,
};
