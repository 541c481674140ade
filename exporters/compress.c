// SPDX-License-Identifier: Apache-2.0
/* The output every compressor writes to: buffered writes into the blob's store_writer, the
 * counts on both sides, and the descriptor annotations a format adds. */
#include "exporters/compress-internal.h"

#include <stdlib.h>
#include <string.h>

#include "exporters/compress-hasher-internal.h"
#include "exporters/layer.h"
#include "fs/store.h"
#include "util/xalloc.h"

#define OUT_BUFFER (1u << 20)

void
compress_out_init(struct compress_out *o, struct store_writer *w)
{
	*o = (struct compress_out){.w = w, .cap = OUT_BUFFER, .diff = compress_hasher_new()};
	o->buf = xmalloc(o->cap);
}

void
compress_out_done(struct compress_out *o)
{
	free(o->buf);
	compress_hasher_free(o->diff);
	*o = (struct compress_out){0};
}

int
compress_out_flush(struct compress_out *o, struct kl_error **err)
{
	int r = 0;

	if (o->len && o->w)
		r = store_writer_write(o->w, o->buf, o->len, err);
	o->len = 0;
	return r;
}

int
compress_out_write(struct compress_out *o, const void *buf, size_t n, struct kl_error **err)
{
	int r;

	o->offset += n;
	if (!o->w)
		return 0; /* an output that only counts (layer_diff_id) */
	if (o->len + n <= o->cap) {
		memcpy(o->buf + o->len, buf, n);
		o->len += n;
		return 0;
	}
	r = compress_out_flush(o, err);
	if (r < 0)
		return r;
	if (n >= o->cap)
		return store_writer_write(o->w, buf, n, err);
	memcpy(o->buf, buf, n);
	o->len = n;
	return 0;
}

void
compress_out_uncompressed(struct compress_out *o, const void *buf, size_t n)
{
	compress_hasher_update(o->diff, buf, n);
	o->usize += n;
}

void
compress_annotate(struct layer_blob *ret, const char *key, const char *value)
{
	size_t i = 0;

	while (i < ret->n_annotations && strcmp(ret->annotations[i].key, key) < 0)
		i++;
	if (i < ret->n_annotations && !strcmp(ret->annotations[i].key, key)) {
		free(ret->annotations[i].value);
		ret->annotations[i].value = xstrdup(value);
		return;
	}
	ret->annotations =
	    xrealloc(ret->annotations, (ret->n_annotations + 1) * sizeof(*ret->annotations));
	memmove(ret->annotations + i + 1, ret->annotations + i,
	        (ret->n_annotations - i) * sizeof(*ret->annotations));
	ret->annotations[i] = (struct layer_annotation){xstrdup(key), xstrdup(value)};
	ret->n_annotations++;
}
