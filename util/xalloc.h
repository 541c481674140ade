/* xalloc — allocations that abort on exhaustion, for small fixed-size objects only.
 * Sizes that come from input are checked against limits before they get here. */
#pragma once
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* Grows an array of elem-sized items to hold at least want items; doubles to amortize. */
void *xgrow(void *p, size_t *cap, size_t want, size_t elem);
void *xmemdup(const void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
