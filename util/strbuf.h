/* strbuf — a growable byte buffer, always NUL-terminated, for building strings whose length
 * comes from input. Allocation failure aborts (xalloc); callers bound sizes from input first. */
#pragma once
#include <stddef.h>

struct kl_strbuf {
	char *buf;  /* NULL until the first append; then buf[len] == '\0' */
	size_t len; /* bytes held, without the terminating NUL */
	size_t cap; /* bytes allocated */
};

/* Appends n bytes of p (which may hold NULs). */
void kl_strbuf_append(struct kl_strbuf *b, const void *p, size_t n);
/* Appends a NUL-terminated string. */
void kl_strbuf_puts(struct kl_strbuf *b, const char *s);
/* Appends one byte. */
void kl_strbuf_putc(struct kl_strbuf *b, char c);
/* Appends formatted text. */
void kl_strbuf_printf(struct kl_strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Drops the contents, keeping the allocation. */
void kl_strbuf_reset(struct kl_strbuf *b);
/* Hands the buffer to the caller (never NULL: "" when empty; free() it) and empties b; the
 * length, when wanted, goes to *ret_len. */
char *kl_strbuf_steal(struct kl_strbuf *b, size_t *ret_len);
/* Frees the contents (b itself is the caller's). */
void kl_strbuf_done(struct kl_strbuf *b);
