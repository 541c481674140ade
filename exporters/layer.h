/* layer — a diff tree as an image layer blob: a deterministic tar (entries in tree order, PAX
 * headers only where ustar cannot say it — long names, big ids and sizes, sub-second times,
 * xattrs as SCHILY.xattr.*; hardlinks, devices, OCI whiteouts .wh.NAME and .wh..wh..opq)
 * compressed on every core, its diff id and digest computed while streaming, the blob written
 * to the store. A layer once made for (diff tree, compression, level, timestamp rule) is
 * recorded in the store and found again: nothing is compressed twice.
 *
 * The bytes depend on the tree and the options only — never on the number of threads, the
 * machine or the time — so two exports of the same tree anywhere give the same digest.
 *
 * Formats (see the compress-*.c files for the exact layouts):
 *  - gzip: a gzip member per 1 MiB of tar, deflated by libdeflate on every core; every gzip
 *    reader takes a stream of members (RFC 1952), as eStargz relies on;
 *  - zstd: one zstd stream compressed by libzstd's workers;
 *  - zstd:chunked: the layout containers/storage writes: zstd frames for the tar headers, a
 *    frame of its own per file (4 MiB chunks of big files), then skippable frames holding the
 *    table of contents, the tar-split and the footer; plain tar+zstd to every other reader;
 *  - estargz: stargz-snapshotter's lossless layout: a gzip member per file (4 MiB chunks),
 *    the tar's own end, a member with the tar of stargz.index.json, the 51-byte footer.
 *
 * Thread-safe as the store is: exports of different trees may run at once. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/digest.h"

struct kl_error;
struct provider_set;
struct store;
struct tree;

enum layer_compression {
	LAYER_GZIP, /* the default, as BuildKit's */
	LAYER_UNCOMPRESSED,
	LAYER_ZSTD,
	LAYER_ZSTD_CHUNKED, /* a zstd frame per file and a table of contents: plain tar+zstd to
	                     * any consumer, lazily mountable by kiln and containers/storage */
	LAYER_ESTARGZ,      /* a gzip member per file and a table of contents, with the footer */
	_LAYER_COMPRESSION_MAX
};

/* Parses "gzip", "uncompressed", "zstd", "zstd:chunked", "estargz"; -EINVAL otherwise. */
int layer_compression_parse(const char *s, enum layer_compression *ret);
const char *layer_compression_name(enum layer_compression c);
/* The layer media type: OCI's (oci true) or Docker's; NULL for a compression Docker has no
 * media type for (zstd and zstd:chunked; eStargz is a gzip layer to Docker). */
const char *layer_media_type(enum layer_compression c, bool oci);
/* The levels a compression takes ([1, 9] for gzip and eStargz, [1, 22] for the zstd ones,
 * none for uncompressed) and the one level 0 stands for (gzip 6, zstd 3). */
void layer_compression_levels(enum layer_compression c, int *ret_min, int *ret_max,
                              int *ret_default);

struct layer_options {
	enum layer_compression compression;
	int level;        /* compression level; 0: the compressor's default */
	unsigned threads; /* 0: every core the process may run on */
	bool has_epoch;   /* with rewrite_timestamp: every mtime later than epoch … */
	int64_t epoch;    /* … is clamped to it (SOURCE_DATE_EPOCH); whiteouts get epoch as
	                   * their time whenever has_epoch is set, else 0 */
	bool rewrite_timestamp;
};

/* One descriptor annotation. */
struct layer_annotation {
	char *key;
	char *value;
};

/* What an exporter puts in a descriptor and a config. */
struct layer_blob {
	struct digest digest; /* of the compressed blob, which is in the store */
	uint64_t size;
	struct digest diff_id; /* of the uncompressed stream (eStargz: its TOC's tar included) */
	uint64_t tar_size;     /* bytes of that stream */
	enum layer_compression compression;
	int level; /* the level used (0 resolved to the default; 0 for uncompressed) */
	/* zstd:chunked: the io.containers.zstd-chunked.manifest-checksum and -position
	 * annotation values; estargz: containerd.io/snapshot/stargz/toc.digest; else NULL.
	 * Owned by the blob (layer_blob_done). */
	char *toc_digest;
	char *chunked_position;
	char *uncompressed_size; /* estargz: io.containers.estargz.uncompressed-size, or NULL */
	/* Every annotation the layer's descriptor should carry, sorted by key (the fields above
	 * among them; zstd:chunked also under the io.github.containers.zstd-chunked.* keys
	 * containers/storage reads today, with its tarsplit-position). Owned by the blob. */
	struct layer_annotation *annotations;
	size_t n_annotations;
};

void layer_blob_done(struct layer_blob *b);

/* The layer of diff (a diff tree: whiteouts and opaque dirs become OCI whiteouts) with opts:
 * found in the record of an earlier export (whose blob is still in the store), or made now —
 * file contents read through ps (NULL: the store's blobs alone; store blobs are hashed as they are
 * read and must match their digest; lazily located contents are fetched) and the blob written to
 * the store. ret_reused, when non-NULL, says whether the record was found (nothing compressed).
 *
 * Errors: -EINVAL for a level out of range (naming the range), or for a file name that is not
 * UTF-8 in a layer with a table of contents (JSON cannot carry it); -EBADMSG for a store blob
 * whose bytes do not match its digest, -EIO for one whose size is not the entry's; the
 * provider's codes for contents that cannot be fetched; err names the path. */
int layer_export(struct store *s, struct provider_set *ps, const struct tree *diff,
                 const struct layer_options *opts, struct layer_blob *ret, bool *ret_reused,
                 struct kl_error **err);

/* The diff id (and tar size) the layer of diff with opts has, without making its blob: the tar
 * is hashed as it is written and dropped, as Buildah computes the diff ids of the layers it
 * keeps uncompressed. Found again without hashing when an earlier call or a gzip export at the
 * default level recorded it. Contents are read as layer_export reads them; errors as its. */
int layer_diff_id(struct store *s, struct provider_set *ps, const struct tree *diff,
                  const struct layer_options *opts, struct digest *ret_diff_id,
                  uint64_t *ret_tar_size, struct kl_error **err);
