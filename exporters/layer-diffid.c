// SPDX-License-Identifier: Apache-2.0
/* A layer's diff id without its blob: the tar of a diff tree hashed as it is written and
 * dropped, for images kept in kiln's index uncompressed (as Buildah keeps its layers), whose
 * configs still name every layer's diff id. Recorded under <root>/exporters/diffids/. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/compress-hasher-internal.h"
#include "exporters/compress-internal.h"
#include "exporters/layer-internal.h"
#include "exporters/layer.h"
#include "fs/store-record.h"
#include "fs/store.h"
#include "fs/tree.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/log.h"
#include "util/xalloc.h"

#define DIFFID_DIR "exporters/diffids"
#define DIFFID_MAX 256 /* bytes of a record: "sha256:<64 hex> <size>\n" */

static int
record_get(struct store *s, const struct digest *key, struct digest *ret, uint64_t *ret_size)
{
	_cleanup_free_ char *text = NULL;
	char *space;
	size_t len;

	if (store_record_read(s, DIFFID_DIR, key, DIFFID_MAX, &text, &len) < 0)
		return -ENOENT;
	space = memchr(text, ' ', len);
	if (!space || digest_parse(text, (size_t)(space - text), ret, NULL) < 0 ||
	    sscanf(space + 1, "%" SCNu64 "\n", ret_size) != 1)
		return -ENOENT;
	return 0;
}

static int
record_put(struct store *s, const struct digest *key, const struct digest *diff_id, uint64_t size,
           struct kl_error **err)
{
	char id[DIGEST_STRING_SIZE];
	_cleanup_free_ char *text =
	    xasprintf("%s %" PRIu64 "\n", digest_to_string(diff_id, id), size);

	return store_record_write(s, DIFFID_DIR, key, text, strlen(text), err);
}

int
layer_diff_id(struct store *s, struct provider_set *ps, const struct tree *diff,
              const struct layer_options *opts, struct digest *ret_diff_id, uint64_t *ret_tar_size,
              struct kl_error **err)
{
	struct layer_options none = {0};
	const struct layer_options *o = opts ? opts : &none;
	struct layer_tar_options to = {
	    .clamp = o->rewrite_timestamp && o->has_epoch,
	    .epoch = o->epoch,
	    .whiteout_mtime = o->has_epoch ? o->epoch : 0,
	};
	struct layer_blob made = {0};
	struct compress_out out;
	char id[DIGEST_STRING_SIZE];
	struct digest key, gzip_key;
	uint64_t size = 0;
	void *c = NULL;
	int r;

	/* the tar is the same whatever compresses it: a gzip layer made before knows its diff id */
	layer_record_key(tree_id(diff), compress_gzip_ops.name, compress_gzip_ops.default_level,
	                 to.clamp, o->epoch, o->has_epoch, &gzip_key);
	if (layer_record_get(s, &gzip_key, &made) == 0) {
		*ret_diff_id = made.diff_id;
		size = made.tar_size;
		layer_blob_done(&made);
		goto found;
	}
	layer_record_key(tree_id(diff), "diffid", 0, to.clamp, o->epoch, o->has_epoch, &key);
	if (record_get(s, &key, ret_diff_id, &size) == 0)
		goto found;
	/* the uncompressed "compression" into an output with no writer: the tar goes nowhere,
	 * layer_tar_write hashes it into the diff id as it passes */
	compress_out_init(&out, NULL);
	r = compress_none_ops.new(&out, 0, 1, &c, err);
	if (r >= 0)
		r = layer_tar_write(diff, s, ps, &to, &compress_none_ops, c, &out, err);
	if (c)
		compress_none_ops.free(c);
	if (r >= 0) {
		compress_hasher_final(out.diff, ret_diff_id);
		size = out.usize;
	}
	compress_out_done(&out);
	if (r >= 0)
		r = record_put(s, &key, ret_diff_id, size, err);
	if (r < 0) {
		kl_error_prefix(err, "diff id of the layer of %s",
		                digest_to_string(tree_id(diff), id));
		return r;
	}
	kl_debug("diff id of %s: hashed %" PRIu64 " bytes of tar",
	         digest_to_string(tree_id(diff), id), size);
found:
	if (ret_tar_size)
		*ret_tar_size = size;
	return 0;
}
