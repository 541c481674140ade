/* compress-hasher-internal — the diff id's sha256 on a thread of its own: the thread that reads
 * the store and feeds the compressor hands it the tar's bytes (copied into a few large
 * buffers) instead of hashing them itself, as `tar -c | zstd` hashes nothing on either side.
 * Driven by one thread. */
#pragma once
#include <stddef.h>

#include "fs/digest.h"

struct compress_hasher;

/* A hasher of one stream. When no thread can be started, it hashes on the caller's thread. */
struct compress_hasher *compress_hasher_new(void);
/* Adds n bytes at buf (copied: buf may be reused once this returns). */
void compress_hasher_update(struct compress_hasher *h, const void *buf, size_t n);
/* Waits for everything handed so far to be hashed and writes the digest of the stream. */
void compress_hasher_final(struct compress_hasher *h, struct digest *ret);
/* Stops the thread; NULL-safe; returns NULL. */
struct compress_hasher *compress_hasher_free(struct compress_hasher *h);
