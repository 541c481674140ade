// SPDX-License-Identifier: Apache-2.0
/* A growable, NUL-terminated byte buffer. */
#include "util/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

static void
reserve(struct kl_strbuf *b, size_t more)
{
	if (more > (size_t)-1 - b->len - 1)
		abort();
	b->buf = xgrow(b->buf, &b->cap, b->len + more + 1, 1);
}

void
kl_strbuf_append(struct kl_strbuf *b, const void *p, size_t n)
{
	reserve(b, n);
	if (n)
		memcpy(b->buf + b->len, p, n);
	b->len += n;
	b->buf[b->len] = '\0';
}

void
kl_strbuf_puts(struct kl_strbuf *b, const char *s)
{
	kl_strbuf_append(b, s, strlen(s));
}

void
kl_strbuf_putc(struct kl_strbuf *b, char c)
{
	reserve(b, 1);
	b->buf[b->len++] = c;
	b->buf[b->len] = '\0';
}

void
kl_strbuf_printf(struct kl_strbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
kl_strbuf_reset(struct kl_strbuf *b)
{
	b->len = 0;
	if (b->buf)
		b->buf[0] = '\0';
}

char *
kl_strbuf_steal(struct kl_strbuf *b, size_t *ret_len)
{
	char *s = b->buf ? b->buf : xstrdup("");

	if (ret_len)
		*ret_len = b->len;
	b->buf = NULL;
	b->len = b->cap = 0;
	return s;
}

void
kl_strbuf_done(struct kl_strbuf *b)
{
	free(b->buf);
	b->buf = NULL;
	b->len = b->cap = 0;
}
