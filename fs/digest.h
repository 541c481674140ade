/* digest — sha256 digests of content, written "sha256:<64 hex>". */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kl_error;

#define DIGEST_SIZE 32
#define DIGEST_HEX_LEN 64
/* "sha256:" + 64 hex + NUL */
#define DIGEST_STRING_SIZE 72

struct digest {
	uint8_t bytes[DIGEST_SIZE];
};

/* Streaming hasher; opaque, one per stream, not shared between threads. */
struct digest_ctx;

struct digest_ctx *digest_ctx_new(void);
void digest_ctx_update(struct digest_ctx *c, const void *buf, size_t n);
/* Writes the digest and resets c for a new stream. */
void digest_ctx_final(struct digest_ctx *c, struct digest *ret);
struct digest_ctx *digest_ctx_free(struct digest_ctx *c);

void digest_buffer(const void *buf, size_t n, struct digest *ret);
/* Hashes an fd from offset 0 to its end; -errno on read failure. */
int digest_fd(int fd, struct digest *ret);

/* Writes "sha256:<hex>" into out (DIGEST_STRING_SIZE bytes); returns out. */
char *digest_to_string(const struct digest *d, char out[DIGEST_STRING_SIZE]);
/* Writes only the 64 hex digits and a NUL (DIGEST_HEX_LEN + 1 bytes); returns out. */
char *digest_to_hex(const struct digest *d, char *out);
/* Parses "sha256:<hex>" (len bytes, not NUL-terminated necessarily); -EINVAL with a message
 * naming the input when it is anything else. */
int digest_parse(const char *s, size_t len, struct digest *ret, struct kl_error **err);
bool digest_equal(const struct digest *a, const struct digest *b);
