// SPDX-License-Identifier: Apache-2.0
/* zstd layers: one zstd stream (with its checksum) compressed by libzstd's own workers. With at
 * least one worker libzstd cuts jobs by size alone, so the bytes are the same whatever the
 * number of threads. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "exporters/compress-internal.h"
#include "util/error.h"
#include "util/xalloc.h"

#define STAGE (1u << 20)
#define DIRECT (64u << 10) /* pieces at least this large skip the stage */

struct zstd {
	struct compress_out *out;
	ZSTD_CCtx *cctx;
	char *stage; /* input gathered into large pieces before libzstd sees it */
	size_t stage_len;
	char *obuf;
	size_t obuf_size;
};

static int
error_from_zstd(struct kl_error **err, size_t code, const char *what)
{
	return kl_error_setf(err, EIO, "zstd: %s: %s", what, ZSTD_getErrorName(code));
}

static int
zstd_new(struct compress_out *out, int level, unsigned threads, void **ret, struct kl_error **err)
{
	struct zstd *z = xcalloc(1, sizeof(*z));
	size_t r;

	z->out = out;
	z->cctx = ZSTD_createCCtx();
	if (!z->cctx) {
		free(z);
		return kl_error_setf(err, ENOMEM, "zstd: creating a compression context");
	}
	r = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, level);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_checksumFlag, 1);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_nbWorkers, threads ? (int)threads : 1);
	if (ZSTD_isError(r)) {
		ZSTD_freeCCtx(z->cctx);
		free(z);
		return error_from_zstd(err, r,
		                       "setting up the compressor (a libzstd without "
		                       "multithreading?)");
	}
	z->stage = xmalloc(STAGE);
	z->obuf_size = ZSTD_CStreamOutSize();
	z->obuf = xmalloc(z->obuf_size);
	*ret = z;
	return 0;
}

/* Feeds n bytes at buf (with end, the end of the stream) and writes what comes out. */
static int
feed(struct zstd *z, const void *buf, size_t n, ZSTD_EndDirective end, struct kl_error **err)
{
	ZSTD_inBuffer in = {buf, n, 0};
	size_t left;
	int r;

	do {
		ZSTD_outBuffer o = {z->obuf, z->obuf_size, 0};

		left = ZSTD_compressStream2(z->cctx, &o, &in, end);
		if (ZSTD_isError(left))
			return error_from_zstd(err, left, "compressing");
		r = compress_out_write(z->out, z->obuf, o.pos, err);
		if (r < 0)
			return r;
	} while (end == ZSTD_e_end ? left != 0 : in.pos < in.size);
	return 0;
}

/* Feeds the staged input (with end, the end of the stream). */
static int
compress_stage(struct zstd *z, ZSTD_EndDirective end, struct kl_error **err)
{
	int r = feed(z, z->stage, z->stage_len, end, err);

	z->stage_len = 0;
	return r;
}

static int
zstd_write(void *c, const void *buf, size_t n, struct kl_error **err)
{
	struct zstd *z = c;
	const char *p = buf;
	int r;

	/* Large pieces (file contents) go to libzstd as they are: copying them into the stage
	 * first would be a second copy of every byte. Where libzstd cuts its jobs depends on
	 * the bytes alone, not on how they were handed to it. */
	if (n >= DIRECT) {
		r = z->stage_len ? compress_stage(z, ZSTD_e_continue, err) : 0;
		return r < 0 ? r : feed(z, buf, n, ZSTD_e_continue, err);
	}
	while (n) {
		size_t k = STAGE - z->stage_len < n ? STAGE - z->stage_len : n;

		memcpy(z->stage + z->stage_len, p, k);
		z->stage_len += k;
		p += k;
		n -= k;
		if (z->stage_len == STAGE) {
			r = compress_stage(z, ZSTD_e_continue, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int
zstd_entry(void *c, const struct compress_entry *e, struct kl_error **err)
{
	(void)c;
	(void)e;
	(void)err;
	return 0;
}

static int
zstd_entry_end(void *c, const struct compress_entry_end *end, struct kl_error **err)
{
	(void)c;
	(void)end;
	(void)err;
	return 0;
}

static int
zstd_finish(void *c, struct layer_blob *ret, struct kl_error **err)
{
	(void)ret;
	return compress_stage(c, ZSTD_e_end, err);
}

static void
zstd_free(void *c)
{
	struct zstd *z = c;

	ZSTD_freeCCtx(z->cctx);
	free(z->stage);
	free(z->obuf);
	free(z);
}

const struct compress_ops compress_zstd_ops = {
    .name = "zstd",
    .min_level = 1,
    .max_level = 22,
    .default_level = 3,
    .new = zstd_new,
    .meta = zstd_write,
    .entry = zstd_entry,
    .data = zstd_write,
    .entry_end = zstd_entry_end,
    .finish = zstd_finish,
    .free = zstd_free,
};
