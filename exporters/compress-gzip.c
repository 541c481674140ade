// SPDX-License-Identifier: Apache-2.0
/* gzip layers on every core: the tar cut in 1 MiB pieces, each an independent gzip member
 * (RFC 1952 allows any number; gzip, Go's compress/gzip — containerd, Docker, BuildKit,
 * containers/image — pigz, Python and libarchive read them all, as eStargz layers rely on).
 * Members are made by libdeflate, which deflates about three times as fast as zlib at the same
 * level for the same size; the piece size is fixed, so the bytes do not depend on the number
 * of threads. */
#include <errno.h>
#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/compress-internal.h"
#include "exporters/compress-pool-internal.h"
#include "util/error.h"
#include "util/xalloc.h"

#define MEMBER (1u << 20)

struct gzip {
	struct compress_out *out;
	struct compress_pool *pool;
	struct compress_job *cur, *free_list;
	int level;
};

static void *
state_new(void *arg)
{
	const int *level = arg;

	return libdeflate_alloc_compressor(*level);
}

static void
state_free(void *state)
{
	libdeflate_free_compressor(state);
}

/* One whole gzip member (libdeflate's header: no name, mtime 0, OS 255, as Go's). */
static void
run(void *state, struct compress_job *j)
{
	if (j->hash_len)
		digest_buffer(j->in, j->hash_len, &j->digest);
	compress_job_out_reserve(j, libdeflate_gzip_compress_bound(state, j->in_len));
	j->out_len = libdeflate_gzip_compress(state, j->in, j->in_len, j->out, j->out_cap);
	if (!j->out_len) {
		j->result = -EIO; /* the bound is a bound: this does not happen */
		j->error = "libdeflate: no room for a member";
	}
}

const struct compress_pool_ops compress_gzip_member_ops = {
    .state_new = state_new,
    .state_free = state_free,
    .run = run,
};

static int
gzip_new(struct compress_out *out, int level, unsigned threads, void **ret, struct kl_error **err)
{
	struct gzip *g = xcalloc(1, sizeof(*g));
	int r;

	g->out = out;
	g->level = level;
	r = compress_pool_new(threads, &compress_gzip_member_ops, &g->level, &g->pool, err);
	if (r < 0) {
		free(g);
		return r;
	}
	*ret = g;
	return 0;
}

static int
write_job(void *userdata, struct compress_job *j, struct kl_error **err)
{
	struct gzip *g = userdata;
	int r = j->result;

	if (r < 0)
		r = kl_error_setf(err, -r, "gzip: %s", j->error);
	else
		r = compress_out_write(g->out, j->out, j->out_len, err);
	compress_job_put(&g->free_list, j);
	return r;
}

/* Queues the member being filled, after writing out what the queue has no room for. */
static int
submit(struct gzip *g, struct kl_error **err)
{
	struct compress_job *j = g->cur;
	int r;

	g->cur = NULL;
	if (!j)
		return 0;
	r = compress_pool_make_room(g->pool, write_job, g, err);
	if (r < 0) {
		compress_job_put(&g->free_list, j);
		return r;
	}
	compress_pool_submit(g->pool, j);
	return 0;
}

static int
gzip_write(void *c, const void *buf, size_t n, struct kl_error **err)
{
	struct gzip *g = c;
	const char *p = buf;

	while (n) {
		size_t room, k;
		int r;

		if (!g->cur)
			g->cur = compress_job_get(&g->free_list, MEMBER);
		room = MEMBER - g->cur->in_len;
		k = n < room ? n : room;
		memcpy(g->cur->in + g->cur->in_len, p, k);
		g->cur->in_len += k;
		p += k;
		n -= k;
		if (g->cur->in_len == MEMBER) {
			r = submit(g, err);
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
	int r;

	(void)ret;
	r = submit(g, err);
	while (r >= 0 && (j = compress_pool_take(g->pool)))
		r = write_job(g, j, err);
	return r;
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
