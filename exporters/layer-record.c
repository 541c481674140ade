// SPDX-License-Identifier: Apache-2.0
/* Records of layers already made, under <root>/exporters/layers/: what a (diff tree,
 * compression, level, timestamp rule) gave, so a later export finds the blob instead of
 * compressing again. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "exporters/compress-internal.h"
#include "exporters/layer-internal.h"
#include "exporters/layer.h"
#include "fs/store-record.h"
#include "fs/store.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

#define RECORD_MAX (64u << 10)
#define RECORD_DIR "exporters/layers"

void
layer_record_key(const struct digest *tree_id, const char *compression, int level, bool clamp,
                 int64_t epoch, bool has_epoch, struct digest *ret)
{
	char id[DIGEST_STRING_SIZE];
	_cleanup_free_ char *text = NULL;

	/* v1: bump when the bytes kiln writes for the same inputs change */
	text = xasprintf("kiln layer v1\ntree %s\ncompression %s\nlevel %d\ntimestamps %s%" PRId64
	                 "\nwhiteouts %" PRId64 "\n",
	                 digest_to_string(tree_id, id), compression, level,
	                 clamp ? "clamp " : "keep ", clamp ? epoch : 0, has_epoch ? epoch : 0);
	digest_buffer(text, strlen(text), ret);
}

static int
get_digest(json_t *o, const char *key, struct digest *ret)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		return -ENOENT;
	return digest_parse(json_string_value(v), json_string_length(v), ret, NULL) < 0 ? -ENOENT
	                                                                                : 0;
}

static char *
get_opt_str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? xstrdup(json_string_value(v)) : NULL;
}

/* The record's blob is still there, with the size it had. */
static bool
blob_present(struct store *s, const struct digest *d, uint64_t size)
{
	_cleanup_close_ int fd = store_open_blob(s, d, NULL);
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_size == size;
}

int
layer_record_get(struct store *s, const struct digest *key, struct layer_blob *ret)
{
	_cleanup_free_ char *text = NULL;
	struct layer_blob b = {0};
	json_auto_t *j = NULL;
	json_t *ann, *v;
	const char *k;
	size_t len;

	if (store_record_read(s, RECORD_DIR, key, RECORD_MAX, &text, &len) < 0)
		return -ENOENT;
	j = json_loadb(text, len, 0, NULL);
	if (!json_is_object(j) || get_digest(j, "digest", &b.digest) < 0 ||
	    get_digest(j, "diff_id", &b.diff_id) < 0 ||
	    !json_is_integer(json_object_get(j, "size")) ||
	    !json_is_integer(json_object_get(j, "tar_size")) ||
	    layer_compression_parse(json_string_value(json_object_get(j, "compression")) ?: "",
	                            &b.compression) < 0)
		return -ENOENT;
	b.size = (uint64_t)json_integer_value(json_object_get(j, "size"));
	b.tar_size = (uint64_t)json_integer_value(json_object_get(j, "tar_size"));
	b.level = (int)json_integer_value(json_object_get(j, "level"));
	if (!blob_present(s, &b.digest, b.size))
		return -ENOENT;
	b.toc_digest = get_opt_str(j, "toc_digest");
	b.chunked_position = get_opt_str(j, "chunked_position");
	b.uncompressed_size = get_opt_str(j, "uncompressed_size");
	ann = json_object_get(j, "annotations");
	json_object_foreach(ann, k, v)
	{
		if (json_is_string(v))
			compress_annotate(&b, k, json_string_value(v));
	}
	*ret = b;
	return 0;
}

static void
set_opt_str(json_t *o, const char *key, const char *v)
{
	if (v)
		json_object_set_new(o, key, json_string(v));
}

int
layer_record_put(struct store *s, const struct digest *key, const struct layer_blob *b,
                 struct kl_error **err)
{
	_cleanup_free_ char *text = NULL;
	char d[DIGEST_STRING_SIZE], id[DIGEST_STRING_SIZE];
	json_auto_t *j = json_object();
	json_t *ann = json_object();

	json_object_set_new(j, "digest", json_string(digest_to_string(&b->digest, d)));
	json_object_set_new(j, "size", json_integer((json_int_t)b->size));
	json_object_set_new(j, "diff_id", json_string(digest_to_string(&b->diff_id, id)));
	json_object_set_new(j, "tar_size", json_integer((json_int_t)b->tar_size));
	json_object_set_new(j, "compression", json_string(layer_compression_name(b->compression)));
	json_object_set_new(j, "level", json_integer(b->level));
	set_opt_str(j, "toc_digest", b->toc_digest);
	set_opt_str(j, "chunked_position", b->chunked_position);
	set_opt_str(j, "uncompressed_size", b->uncompressed_size);
	for (size_t i = 0; i < b->n_annotations; i++)
		json_object_set_new(ann, b->annotations[i].key,
		                    json_string(b->annotations[i].value));
	json_object_set_new(j, "annotations", ann);
	text = json_dumps(j, JSON_COMPACT);
	return store_record_write(s, RECORD_DIR, key, text, strlen(text), err);
}
