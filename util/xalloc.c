// SPDX-License-Identifier: Apache-2.0
/* Aborting allocators: out of memory for a small object is not an error a caller can act on. */
#include "util/xalloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *
check(void *p)
{
	if (!p)
		abort();
	return p;
}

void *
xmalloc(size_t n)
{
	return check(malloc(n ? n : 1));
}

void *
xcalloc(size_t n, size_t size)
{
	return check(calloc(n ? n : 1, size ? size : 1));
}

void *
xrealloc(void *p, size_t n)
{
	return check(realloc(p, n ? n : 1));
}

void *
xgrow(void *p, size_t *cap, size_t want, size_t elem)
{
	size_t c = *cap;

	if (want <= c)
		return p;
	if (c < 16)
		c = 16;
	while (c < want) {
		if (c > SIZE_MAX / 2)
			abort();
		c *= 2;
	}
	if (c > SIZE_MAX / elem)
		abort();
	p = xrealloc(p, c * elem);
	*cap = c;
	return p;
}

void *
xmemdup(const void *p, size_t n)
{
	return memcpy(xmalloc(n), p, n);
}

char *
xstrdup(const char *s)
{
	return check(strdup(s));
}

char *
xstrndup(const char *s, size_t n)
{
	return check(strndup(s, n));
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		abort();
	return s;
}
