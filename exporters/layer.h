/* layer — a diff tree as an image layer blob: a deterministic tar (entries in tree order, PAX
 * headers only where ustar cannot say it — long names, big ids and sizes, sub-second times,
 * xattrs as SCHILY.xattr.*; hardlinks, devices, OCI whiteouts .wh.NAME and .wh..wh..opq)
 * compressed on every core, its diff id and digest computed while streaming, the blob written
 * to the store. A layer once made for (diff tree, compression, level, timestamp rule) is
 * recorded in the store and found again: nothing is compressed twice. */
#pragma once
#include <stdbool.h>
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

struct layer_options {
	enum layer_compression compression;
	int level;        /* compression level; 0: the compressor's default */
	unsigned threads; /* 0: every core */
	bool has_epoch;   /* with rewrite_timestamp: every mtime later than epoch … */
	int64_t epoch;    /* … is clamped to it (SOURCE_DATE_EPOCH) */
	bool rewrite_timestamp;
};

/* What an exporter puts in a descriptor and a config. */
struct layer_blob {
	struct digest digest; /* of the compressed blob, which is in the store */
	uint64_t size;
	struct digest diff_id; /* of the uncompressed tar */
	enum layer_compression compression;
	/* zstd:chunked: the io.containers.zstd-chunked.manifest-checksum and -position
	 * annotation values; estargz: containerd.io/snapshot/stargz/toc.digest; else NULL.
	 * Owned by the blob (layer_blob_done). */
	char *toc_digest;
	char *chunked_position;
	char
	    *uncompressed_size; /* io.containers… / estargz uncompressed size annotation, or NULL */
};

void layer_blob_done(struct layer_blob *b);

/* The layer of diff (a diff tree: whiteouts and opaque dirs become OCI whiteouts) with opts:
 * found in the record of an earlier export, or made now — file contents read through ps (so
 * lazily fetched contents are fetched) and the blob written to the store. ret_reused, when
 * non-NULL, says whether the record was found (nothing compressed). */
int layer_export(struct store *s, struct provider_set *ps, const struct tree *diff,
                 const struct layer_options *opts, struct layer_blob *ret, bool *ret_reused,
                 struct kl_error **err);
