// SPDX-License-Identifier: Apache-2.0
/* Uncompressed layers: the tar itself is the blob. */
#include "exporters/compress-internal.h"

#include <stdlib.h>

#include "util/xalloc.h"

struct none {
	struct compress_out *out;
};

static int
none_new(struct compress_out *out, int level, unsigned threads, void **ret, struct kl_error **err)
{
	struct none *n = xcalloc(1, sizeof(*n));

	(void)level;
	(void)threads;
	(void)err;
	n->out = out;
	*ret = n;
	return 0;
}

static int
none_write(void *c, const void *buf, size_t n, struct kl_error **err)
{
	struct none *x = c;

	return compress_out_write(x->out, buf, n, err);
}

static int
none_entry(void *c, const struct compress_entry *e, struct kl_error **err)
{
	(void)c;
	(void)e;
	(void)err;
	return 0;
}

static int
none_entry_end(void *c, const struct compress_entry_end *end, struct kl_error **err)
{
	(void)c;
	(void)end;
	(void)err;
	return 0;
}

static int
none_finish(void *c, struct layer_blob *ret, struct kl_error **err)
{
	(void)c;
	(void)ret;
	(void)err;
	return 0;
}

static void
none_free(void *c)
{
	free(c);
}

const struct compress_ops compress_none_ops = {
    .name = "uncompressed",
    .new = none_new,
    .meta = none_write,
    .entry = none_entry,
    .data = none_write,
    .entry_end = none_entry_end,
    .finish = none_finish,
    .free = none_free,
};
