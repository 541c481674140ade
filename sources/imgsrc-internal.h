/* imgsrc-internal — what the image source's files share: layer → diff tree conversions and
 * the small records kept under <root>/imgsrc/. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/digest.h"

struct kl_error;
struct store;
struct tree_builder;

#define IMGSRC_MAX_LAYER_ENTRIES (1u << 20)  /* entries in one layer */
#define IMGSRC_MAX_FILE_SIZE (64ull << 30)   /* bytes of one file in a layer */
#define IMGSRC_MAX_LAYER_SIZE (256ull << 30) /* uncompressed bytes of one layer */
#define IMGSRC_MAX_TOC_SIZE (64u << 20)      /* uncompressed bytes of a chunked layer's TOC */
#define IMGSRC_MAX_XATTRS 64u                /* xattrs on one entry */

/* Reads a layer blob (tar, tar+gzip or tar+zstd) from fd in one streaming pass: file contents
 * go into the store, the entries become a diff tree (whiteouts and opaque dirs translated) whose
 * id goes to ret. The compressed bytes are hashed as they are read and must match blob (when
 * non-NULL) or nothing is written but content blobs. source names the layer in messages. */
int imgsrc_layer_from_tar(struct store *s, int fd, const struct digest *blob, const char *source,
                          struct digest *ret, struct kl_error **err);

/* Tables of contents (zstd:chunked and eStargz share one JSON form) → a diff tree whose files
 * stay behind locators: "layer:<blob hex>:<offset>:<length>" of zstd frames (zstd:chunked's
 * "endOffset"), or "layer:<blob hex>:gz:<offset>:<length>" of gzip members for eStargz (a
 * file's members run from its offset to the next member with content, or to the TOC at
 * toc_off). parse touches no store, so fuzzing it needs no I/O; from_* write the tree too. */
int imgsrc_toc_parse(const char *toc, size_t len, const struct digest *blob, bool estargz,
                     uint64_t toc_off, const char *source, struct tree_builder **ret,
                     struct kl_error **err);
int imgsrc_layer_from_toc(struct store *s, const char *toc, size_t len, const struct digest *blob,
                          const char *source, struct digest *ret, struct kl_error **err);
int imgsrc_layer_from_estargz_toc(struct store *s, const char *toc, size_t len,
                                  const struct digest *blob, uint64_t toc_off, const char *source,
                                  struct digest *ret, struct kl_error **err);

/* zstd:chunked: parses "offset:length:ulength:type" of a manifest-position annotation; and
 * decompresses a zstd TOC of at most IMGSRC_MAX_TOC_SIZE bytes (-EBADMSG when corrupt). */
int imgsrc_chunked_position(const char *s, uint64_t *ret_off, uint64_t *ret_len,
                            uint64_t *ret_ulen);
int imgsrc_chunked_decompress(const void *buf, size_t len, uint64_t ulen, char **ret,
                              size_t *ret_len, struct kl_error **err);

/* eStargz: the footer → the TOC member's offset; the TOC member (gzip of a tar holding
 * "stargz.index.json") → the JSON, -EBADMSG when corrupt.
 * The footer is the 51-byte eStargz one or the 47-byte one of legacy stargz: buf holds the
 * last len bytes of a blob of blob_size bytes (IMGSRC_ESTARGZ_FOOTER_SIZE of them, or all when
 * it is shorter); returns the size of the footer found there, -EINVAL when neither is. */
#define IMGSRC_ESTARGZ_FOOTER_SIZE 51u
#define IMGSRC_STARGZ_FOOTER_SIZE 47u
int imgsrc_estargz_footer(const void *buf, size_t len, uint64_t blob_size, uint64_t *ret_toc_off);
int imgsrc_estargz_toc(const void *buf, size_t len, char **ret, size_t *ret_len,
                       struct kl_error **err);
/* The "containerd.io/snapshot/stargz/toc.digest" annotation of each layer of a manifest
 * (NULL where absent), in an array of n_layers; -EINVAL when the manifest disagrees. */
int imgsrc_estargz_toc_digests(const char *manifest, size_t len, size_t n_layers, char ***ret);

/* Copies the annotations of each layer descriptor of a manifest into layers[0..n_layers)
 * (sorted by key; at most IMGSTORE_MAX_ANNOTATIONS each; values over OCI_MAX_ANNOTATION bytes
 * or holding NUL bytes left out), and fills each blob descriptor's zstd:chunked fields when the
 * manifest parser left them unset. The manifest was parsed already: one of another shape
 * leaves the layers as they are. */
struct imgstore_layer;
void imgsrc_layer_annotations(const char *manifest, size_t len, struct imgstore_layer *layers,
                              size_t n_layers);

/* Foreign error codes, translated once (imgsrc-toc-chunked.c, imgsrc-toc-estargz.c): always
 * -EBADMSG, the message "what: <library's words>"; msg is zlib's z_stream.msg (may be NULL). */
int imgsrc_error_from_zstd(struct kl_error **err, size_t code, const char *what);
int imgsrc_error_from_zlib(struct kl_error **err, int code, const char *msg, const char *what);

/* Records under <root>/imgsrc/<kind>/<hex of key>: a digest (a tree id) per key.
 * get: 0 with *ret set, -ENOENT when absent or unreadable. */
int imgsrc_record_get(struct store *s, const char *kind, const struct digest *key,
                      struct digest *ret);
int imgsrc_record_put(struct store *s, const char *kind, const struct digest *key,
                      const char *value, struct kl_error **err);
/* The raw text of a record (for origins: "scheme host repository"); caller frees. */
int imgsrc_record_read(struct store *s, const char *kind, const struct digest *key, char **ret);

/* The entry collector every layer format shares: tar names cleaned and classified
 * (oci/whiteout.h), size limits, then fs/tree-layer.h's rules (replacement, whiteouts that hide
 * only lower layers, hardlinks resolved as they come). s may be NULL for a layer whose contents
 * stay behind locators; with a store, content blobs are committed into the diff's batch. */
struct imgsrc_diff;
struct store_batch;
struct tree_entry;
struct tree_xattr;
struct imgsrc_diff *imgsrc_diff_new(struct store *s, const char *source);
struct imgsrc_diff *imgsrc_diff_free(struct imgsrc_diff *d);
/* Fills in the content of a plain regular entry of size > 0 (its digest, flags) before it is
 * added; path is its clean path. */
typedef int (*imgsrc_content_fn)(void *userdata, const char *path, struct tree_entry *e,
                                 struct kl_error **err);
/* Adds the entry named name (a tar name) with e's fields (path ignored; link and locator
 * copied); hardlink, when non-NULL, makes it a hardlink to that name. content, when non-NULL,
 * is called for a plain regular file with bytes. */
int imgsrc_diff_add(struct imgsrc_diff *d, const char *name, const char *hardlink,
                    const struct tree_entry *e, const struct tree_xattr *x, size_t n_x,
                    imgsrc_content_fn content, void *userdata, struct kl_error **err);
/* Commits the content batch and builds the diff tree. */
int imgsrc_diff_finish(struct imgsrc_diff *d, struct tree_builder **ret, struct kl_error **err);
