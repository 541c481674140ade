// SPDX-License-Identifier: Apache-2.0
/* layer_export: a recorded layer found again, or the diff tree's tar compressed into a new blob,
 * recorded. */
#include "exporters/layer.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exporters/compress-hasher-internal.h"
#include "exporters/compress-internal.h"
#include "exporters/layer-internal.h"
#include "fs/store.h"
#include "fs/tree.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/log.h"
#include "util/xalloc.h"

static const struct {
	const char *name;
	const struct compress_ops *ops;
	const char *oci_type, *docker_type;
} formats[_LAYER_COMPRESSION_MAX] = {
    [LAYER_GZIP] = {"gzip", &compress_gzip_ops, "application/vnd.oci.image.layer.v1.tar+gzip",
                    "application/vnd.docker.image.rootfs.diff.tar.gzip"},
    [LAYER_UNCOMPRESSED] = {"uncompressed", &compress_none_ops,
                            "application/vnd.oci.image.layer.v1.tar",
                            "application/vnd.docker.image.rootfs.diff.tar"},
    [LAYER_ZSTD] = {"zstd", &compress_zstd_ops, "application/vnd.oci.image.layer.v1.tar+zstd",
                    NULL},
    [LAYER_ZSTD_CHUNKED] = {"zstd:chunked", &compress_zstd_chunked_ops,
                            "application/vnd.oci.image.layer.v1.tar+zstd", NULL},
    [LAYER_ESTARGZ] = {"estargz", &compress_estargz_ops,
                       "application/vnd.oci.image.layer.v1.tar+gzip",
                       "application/vnd.docker.image.rootfs.diff.tar.gzip"},
};

int
layer_compression_parse(const char *s, enum layer_compression *ret)
{
	for (int i = 0; i < _LAYER_COMPRESSION_MAX; i++)
		if (!strcmp(s, formats[i].name)) {
			*ret = (enum layer_compression)i;
			return 0;
		}
	return -EINVAL;
}

const char *
layer_compression_name(enum layer_compression c)
{
	return c < _LAYER_COMPRESSION_MAX ? formats[c].name : "unknown";
}

const char *
layer_media_type(enum layer_compression c, bool oci)
{
	if (c >= _LAYER_COMPRESSION_MAX)
		return NULL;
	return oci ? formats[c].oci_type : formats[c].docker_type;
}

void
layer_compression_levels(enum layer_compression c, int *ret_min, int *ret_max, int *ret_default)
{
	const struct compress_ops *ops = formats[c < _LAYER_COMPRESSION_MAX ? c : 0].ops;

	*ret_min = ops->min_level;
	*ret_max = ops->max_level;
	*ret_default = ops->default_level;
}

void
layer_blob_done(struct layer_blob *b)
{
	free(b->toc_digest);
	free(b->chunked_position);
	free(b->uncompressed_size);
	for (size_t i = 0; i < b->n_annotations; i++) {
		free(b->annotations[i].key);
		free(b->annotations[i].value);
	}
	free(b->annotations);
	*b = (struct layer_blob){0};
}

/* The cores this process may run on. */
static unsigned
cores(void)
{
	cpu_set_t set;
	long n;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

/* Compresses the tar of diff into a new blob; ret gets everything but the record. */
static int
make_layer(struct store *s, struct provider_set *ps, const struct tree *diff,
           const struct compress_ops *ops, int level, unsigned threads,
           const struct layer_tar_options *to, struct layer_blob *ret, struct kl_error **err)
{
	_cleanup_(store_writer_abortp) struct store_writer *w = NULL;
	struct compress_out out;
	void *c = NULL;
	int r;

	r = store_writer_begin(s, &w, err);
	if (r < 0)
		return r;
	compress_out_init(&out, w);
	r = ops->new (&out, level, threads, &c, err);
	if (r >= 0)
		r = layer_tar_write(diff, s, ps, to, ops, c, &out, err);
	if (r >= 0)
		r = ops->finish(c, ret, err);
	if (r >= 0)
		r = compress_out_flush(&out, err);
	if (c)
		ops->free(c);
	if (r >= 0) {
		ret->size = out.offset;
		ret->tar_size = out.usize;
		compress_hasher_final(out.diff, &ret->diff_id);
	}
	compress_out_done(&out);
	if (r < 0)
		return r;
	return store_writer_commit(TAKE_PTR(w), /* expected= */ NULL, &ret->digest, err);
}

int
layer_export(struct store *s, struct provider_set *ps, const struct tree *diff,
             const struct layer_options *opts, struct layer_blob *ret, bool *ret_reused,
             struct kl_error **err)
{
	struct layer_options none = {0};
	const struct layer_options *o = opts ? opts : &none;
	const struct compress_ops *ops;
	struct layer_tar_options to = {0};
	struct layer_blob b = {0};
	char id[DIGEST_STRING_SIZE];
	struct digest key;
	int level, r;

	if (o->compression >= _LAYER_COMPRESSION_MAX)
		return kl_error_setf(err, EINVAL, "unknown layer compression %d", o->compression);
	ops = formats[o->compression].ops;
	level = o->level ? o->level : ops->default_level;
	if (!ops->max_level)
		level = 0; /* uncompressed: a level means nothing */
	else if (level < ops->min_level || level > ops->max_level)
		return kl_error_setf(err, EINVAL, "%s compression level %d is not in [%d, %d]",
		                     ops->name, o->level, ops->min_level, ops->max_level);
	to.clamp = o->rewrite_timestamp && o->has_epoch;
	to.epoch = o->epoch;
	to.whiteout_mtime = o->has_epoch ? o->epoch : 0;
	layer_record_key(tree_id(diff), ops->name, level, to.clamp, o->epoch, o->has_epoch, &key);
	if (layer_record_get(s, &key, ret) == 0) {
		kl_debug("layer of %s as %s: recorded", digest_to_string(tree_id(diff), id),
		         ops->name);
		if (ret_reused)
			*ret_reused = true;
		return 0;
	}
	b.compression = o->compression;
	b.level = level;
	r = make_layer(s, ps, diff, ops, level, o->threads ? o->threads : cores(), &to, &b, err);
	if (r >= 0)
		r = layer_record_put(s, &key, &b, err);
	if (r < 0) {
		layer_blob_done(&b);
		kl_error_prefix(err, "layer of %s as %s", digest_to_string(tree_id(diff), id),
		                ops->name);
		return r;
	}
	*ret = b;
	if (ret_reused)
		*ret_reused = false;
	return 0;
}
