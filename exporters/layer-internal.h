/* layer-internal — the parts of layer_export: the tar writer (layer-tar.c) that walks a diff tree
 * and feeds a compressor, and the records of layers already made (layer-record.c). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/digest.h"

struct compress_entry;
struct compress_ops;
struct compress_out;
struct kl_error;
struct layer_blob;
struct provider_set;
struct store;
struct tree;

/* Appends the header blocks of e to *buf (grown as needed; *len advanced): one ustar header,
 * preceded by a PAX extended header when ustar cannot say everything, exactly as Go's
 * archive/tar writes a FormatPAX header (what BuildKit's and containerd's tar writers emit):
 * a name over 100 bytes split into ustar's prefix when it can be, else a "path" record; records
 * for a long or non-ASCII link, ids over 2097151, sizes of 8 GiB and more, sub-second or
 * out-of-range mtimes and xattrs (SCHILY.xattr.NAME), sorted by key, in a header named
 * "<dir>/PaxHeaders.0/<base>"; owners numeric, user and group names empty. -EOVERFLOW naming
 * the entry for device numbers ustar cannot hold; -EINVAL for an xattr name with '='. */
int layer_tar_header(const struct compress_entry *e, char **buf, size_t *cap, size_t *len,
                     struct kl_error **err);

/* How the tar writer reads and stamps entries. */
struct layer_tar_options {
	bool clamp;             /* mtimes later than epoch become epoch */
	int64_t epoch;          /* with clamp */
	int64_t whiteout_mtime; /* mtime of whiteouts and opaque markers */
};

/* Walks diff in tar order (fs/tree-layer.h) and gives its tar to ops/c, hashing every byte into
 * out's diff id: entries named as OCI layers name them (oci/whiteout.h), contents read from the
 * store (hashed as read and checked against their digest) or through ps. */
int layer_tar_write(const struct tree *diff, struct store *s, struct provider_set *ps,
                    const struct layer_tar_options *o, const struct compress_ops *ops, void *c,
                    struct compress_out *out, struct kl_error **err);

/* Records under <root>/exporters/layers/<hex of key>: a layer made for key (layer_record_key of
 * its inputs). get: 0 with *ret filled (its blob is still in the store, of the recorded size),
 * -ENOENT when absent, unreadable or stale. */
void layer_record_key(const struct digest *tree_id, const char *compression, int level, bool clamp,
                      int64_t epoch, bool has_epoch, struct digest *ret);
int layer_record_get(struct store *s, const struct digest *key, struct layer_blob *ret);
int layer_record_put(struct store *s, const struct digest *key, const struct layer_blob *b,
                     struct kl_error **err);
