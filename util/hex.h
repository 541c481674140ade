/* hex — lowercase hex encoding of byte strings. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes 2*n hex digits and a NUL to out (2*n+1 bytes). */
void kl_hex_encode(const uint8_t *in, size_t n, char *out);
/* Decodes exactly 2*n hex digits (either case) from in; -EINVAL on any other input. */
int kl_hex_decode(const char *in, size_t in_len, uint8_t *out, size_t n);
/* True when the n bytes of s are all lowercase hex digits (as kiln writes them). */
bool kl_hex_is_lower(const char *s, size_t n);
