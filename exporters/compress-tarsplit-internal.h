/* compress-tarsplit-internal — vbatts/tar-split's NDJSON, as containers/storage's zstd:chunked
 * carries it in a skippable frame so the exact tar can be rebuilt from the files of a partial
 * pull: the raw bytes between files and one record per entry with its payload's CRC-64. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct kl_error;

struct compress_tarsplit;
/* A new tar-split, compressed at zstd level as it grows. */
struct compress_tarsplit *compress_tarsplit_new(int level);
struct compress_tarsplit *compress_tarsplit_free(struct compress_tarsplit *ts);
/* Adds the raw bytes between two entries' contents (the padding after the last contents, then
 * the headers of the next entry; or the end of the archive) as one segment. */
int compress_tarsplit_segment(struct compress_tarsplit *ts, const void *buf, size_t n,
                              struct kl_error **err);
/* Adds an entry's record: its tar name (as a tar reader gives it), payload size and CRC-64 of
 * the payload (ignored for size 0). */
int compress_tarsplit_file(struct compress_tarsplit *ts, const char *name, size_t name_len,
                           uint64_t size, uint64_t crc64, struct kl_error **err);
/* The zstd-compressed NDJSON (lent until free) and its uncompressed size. */
int compress_tarsplit_finish(struct compress_tarsplit *ts, const char **ret, size_t *ret_len,
                             uint64_t *ret_ulen, struct kl_error **err);
/* CRC-64/ISO (Go's crc64.ISO table, as tar-split sums file payloads): update crc (start at 0). */
uint64_t compress_crc64(uint64_t crc, const void *buf, size_t n);
