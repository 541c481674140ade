/* compress-toc-internal — the table of contents zstd:chunked and eStargz add to a layer: every
 * entry with its metadata and the offsets of its frames or members, in the JSON both use
 * (each with its own fields). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/digest.h"

struct compress_entry;
struct kl_error;

struct compress_toc;
struct compress_toc_chunk {
	uint64_t offset; /* of its frame or member in the blob */
	uint64_t start;  /* in the file */
	uint64_t size;
	struct digest digest;
};
struct compress_toc *compress_toc_new(void);
struct compress_toc *compress_toc_free(struct compress_toc *t);
/* Adds e (copied); returns its index. -EINVAL naming it when its name or link is not UTF-8. */
int compress_toc_add(struct compress_toc *t, const struct compress_entry *e, size_t *ret_index,
                     struct kl_error **err);
/* Entry i's content digest, the end of its last frame, and its chunks (one per frame or
 * member, in file order). */
void compress_toc_set_digest(struct compress_toc *t, size_t i, const struct digest *d);
void compress_toc_set_end(struct compress_toc *t, size_t i, uint64_t end_offset);
/* Adds chunk number n (0, 1, …) of entry i; its offset is set later with _chunk_offset. */
void compress_toc_add_chunk(struct compress_toc *t, size_t i, uint64_t start, uint64_t size);
void compress_toc_chunk_offset(struct compress_toc *t, size_t i, size_t n, uint64_t offset);
void compress_toc_chunk_digest(struct compress_toc *t, size_t i, size_t n, const struct digest *d);
/* The JSON: {"version":1,"entries":[…]} with tar_split_digest (NULL: none) for zstd:chunked,
 * eStargz's field names and chunk rules with estargz. Caller frees. */
enum compress_toc_style { COMPRESS_TOC_CHUNKED, COMPRESS_TOC_ESTARGZ, _COMPRESS_TOC_STYLE_MAX };
int compress_toc_json(const struct compress_toc *t, enum compress_toc_style style,
                      const char *tar_split_digest, char **ret, size_t *ret_len,
                      struct kl_error **err);
