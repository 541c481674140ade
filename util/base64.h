/* base64 — standard base64 (RFC 4648, "+/" alphabet), the one copy in kiln, over openssl. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* The bytes kl_base64_decode() may write for len characters of input. */
#define KL_BASE64_DECODED_MAX(len) ((len) / 4 * 3 + 3)

/* Encodes n bytes, padded with '='; returns a new NUL-terminated string. */
char *kl_base64_encode(const void *in, size_t n);
/* Decodes len characters, padding optional; out holds KL_BASE64_DECODED_MAX(len) bytes, the
 * decoded length goes to ret_n. -EINVAL on anything that is not base64. */
int kl_base64_decode(const char *in, size_t len, uint8_t *out, size_t *ret_n);
