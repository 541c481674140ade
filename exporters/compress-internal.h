/* compress-internal — what the layer's tar writer hands a compressor: one small interface with
 * a file per format (compress-none.c, compress-gzip.c, compress-zstd.c,
 * compress-zstd-chunked.c, compress-estargz.c), and the output they all write to (compress.c),
 * which buffers into the blob's store_writer and counts the bytes on both sides.
 *
 * The tar writer calls, in stream order: meta() with bytes that are not file contents (headers,
 * the padding after a file's bytes, the end of the archive), entry() once the headers of an
 * entry were given, data() with its contents (size bytes in all), entry_end() after them (for
 * every entry); then finish(). It hashes everything it gives (the diff id) itself. Not
 * thread-safe: one compressor per export, driven by one thread. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/digest.h"

struct compress_hasher;
struct kl_error;
struct layer_blob;
struct store_writer;
struct tree_xattr;

/* Where the compressed bytes go: buffered, then into the blob's writer (which hashes them). */
struct compress_out {
	struct store_writer *w;
	char *buf;
	size_t len, cap;
	uint64_t offset;              /* compressed bytes so far (written and buffered) */
	struct compress_hasher *diff; /* the uncompressed stream: the diff id */
	uint64_t usize;               /* bytes of the uncompressed stream */
};

/* An output into w (lent: the caller commits or aborts it), with a fresh diff id hash; with w
 * NULL, the bytes are only counted. */
void compress_out_init(struct compress_out *o, struct store_writer *w);
/* Frees the buffer and the hash (what is buffered is dropped: flush first). */
void compress_out_done(struct compress_out *o);
/* Appends compressed bytes; the writer sees them in large pieces. */
int compress_out_write(struct compress_out *o, const void *buf, size_t n, struct kl_error **err);
/* Hands what is buffered to the writer. */
int compress_out_flush(struct compress_out *o, struct kl_error **err);
/* Counts bytes into the uncompressed stream (the tar writer for the tar; eStargz for its TOC's
 * tar, which is part of what its blob decompresses to). */
void compress_out_uncompressed(struct compress_out *o, const void *buf, size_t n);

/* Tar type flags. */
#define COMPRESS_TAR_REG '0'
#define COMPRESS_TAR_LINK '1'
#define COMPRESS_TAR_SYMLINK '2'
#define COMPRESS_TAR_CHAR '3'
#define COMPRESS_TAR_BLOCK '4'
#define COMPRESS_TAR_DIR '5'
#define COMPRESS_TAR_FIFO '6'

/* One tar entry with the values its header says (times clamped already). */
struct compress_entry {
	const char *name; /* as in the tar: "a/b", "dir/", "./", "a/.wh.b"; NUL-terminated */
	size_t name_len;
	char type;        /* COMPRESS_TAR_* */
	const char *link; /* symlink target, hardlink's target name; NULL otherwise */
	size_t link_len;
	uint32_t mode; /* 07777 bits */
	uint32_t uid, gid;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint64_t size; /* content bytes that follow (regular files only) */
	uint32_t devmajor, devminor;
	const struct tree_xattr *xattrs;
	size_t n_xattrs;
};

/* After an entry's contents: their sha256 and (for tar-split) CRC-64/ISO. */
struct compress_entry_end {
	struct digest digest; /* valid when the entry had contents */
	uint64_t crc64;       /* valid with wants_crc64 */
};

/* A compressor. new() makes one writing to out, at level (within [min_level, max_level]) on
 * threads workers; the other calls are described at the top. Every call but free returns 0 or
 * -errno with err filled. */
struct compress_ops {
	const char *name;
	int min_level, max_level, default_level; /* all 0: no levels */
	bool wants_crc64;                        /* entry_end needs crc64 */
	bool has_toc;                            /* names must be UTF-8 */
	int (*new)(struct compress_out *out, int level, unsigned threads, void **ret,
	           struct kl_error **err);
	int (*meta)(void *c, const void *buf, size_t n, struct kl_error **err);
	int (*entry)(void *c, const struct compress_entry *e, struct kl_error **err);
	int (*data)(void *c, const void *buf, size_t n, struct kl_error **err);
	int (*entry_end)(void *c, const struct compress_entry_end *end, struct kl_error **err);
	/* Writes what follows the tar (trailers, TOC, footer) and fills ret's annotations (the
	 * caller sets digest, size and diff id afterwards). */
	int (*finish)(void *c, struct layer_blob *ret, struct kl_error **err);
	void (*free)(void *c);
};

/* The formats, one file each. */
extern const struct compress_ops compress_none_ops;
extern const struct compress_ops compress_gzip_ops;
extern const struct compress_ops compress_zstd_ops;
extern const struct compress_ops compress_zstd_chunked_ops;
extern const struct compress_ops compress_estargz_ops;

/* Files of a format with a table of contents are cut in pieces of this size (each its own
 * frame or member), as eStargz does by default: big files compress on every core. */
#define COMPRESS_CHUNK_SIZE (4u << 20)
/* What a job holding tar headers alone starts with room for (it grows past it). */
#define COMPRESS_HEADERS_CAP (64u << 10)

/* Annotations: adds key=value (both copied) to ret's list, kept sorted. */
void compress_annotate(struct layer_blob *ret, const char *key, const char *value);
