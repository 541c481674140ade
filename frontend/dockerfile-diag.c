// SPDX-License-Identifier: Apache-2.0
/* Dockerfile errors with their place and source line, and the warning list. */
#include "frontend/dockerfile-diag.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/error.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

struct dockerfile_error *
dockerfile_error_free(struct dockerfile_error *e)
{
	if (e) {
		free(e->file);
		free(e->message);
		free(e->source_line);
		free(e);
	}
	return NULL;
}

/* Line n (1-based) of the source without its line ending, as a new string; NULL past the end. */
static char *
dockerfile_source_line(const struct dockerfile_source *src, unsigned n)
{
	const char *p = src->data, *end = src->data + src->len, *nl;

	if (n == 0)
		return NULL;
	for (unsigned i = 1; i < n; i++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return NULL;
		p = nl + 1;
	}
	if (p > end || (p == end && n > 1))
		return NULL;
	nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl)
		nl = end;
	while (nl > p && nl[-1] == '\r')
		nl--;
	return xstrndup(p, (size_t)(nl - p));
}

static const char *
src_name(const struct dockerfile_source *src)
{
	return src->name ? src->name : "Dockerfile";
}

static void
fill(const struct dockerfile_source *src, unsigned line, unsigned end_line, unsigned column,
     const char *msg, struct dockerfile_error **ret)
{
	struct dockerfile_error *e;

	if (!ret || *ret)
		return;
	e = xcalloc(1, sizeof(*e));
	e->file = xstrdup(src_name(src));
	e->line = line;
	e->end_line = line ? (end_line >= line ? end_line : line) : 0;
	e->column = column;
	e->message = xstrdup(msg);
	e->source_line = dockerfile_source_line(src, line);
	*ret = e;
}

int
dockerfile_error_at(const struct dockerfile_source *src, unsigned line, unsigned end_line,
                    unsigned column, struct dockerfile_error **ret, struct kl_error **err,
                    const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	fill(src, line, end_line, column, msg, ret);
	if (line)
		kl_error_setf(err, EINVAL, "%s:%u: %s", src_name(src), line, msg);
	else
		kl_error_setf(err, EINVAL, "%s: %s", src_name(src), msg);
	free(msg);
	return -EINVAL;
}

int
dockerfile_error_locate(const struct dockerfile_source *src, unsigned line, unsigned end_line,
                        struct dockerfile_error **ret, struct kl_error **err, int code)
{
	if (!err || !*err)
		return code;
	fill(src, line, end_line, 0, (*err)->msg, ret);
	if (line)
		kl_error_prefix(err, "%s:%u", src_name(src), line);
	else
		kl_error_prefix(err, "%s", src_name(src));
	return code;
}

void
dockerfile_warnings_add(struct dockerfile_warnings *w, unsigned line, const char *detail,
                        const char *url, const char *fmt, ...)
{
	struct dockerfile_warning *x;
	va_list ap;

	w->v = xgrow(w->v, &w->cap, w->n + 1, sizeof(*w->v));
	x = &w->v[w->n++];
	memset(x, 0, sizeof(*x));
	x->line = line;
	va_start(ap, fmt);
	if (vasprintf(&x->message, fmt, ap) < 0)
		abort();
	va_end(ap);
	x->detail = detail ? xstrdup(detail) : NULL;
	x->url = url ? xstrdup(url) : NULL;
}

void
dockerfile_warnings_done(struct dockerfile_warnings *w)
{
	for (size_t i = 0; i < w->n; i++) {
		free(w->v[i].message);
		free(w->v[i].detail);
		free(w->v[i].url);
	}
	free(w->v);
	w->v = NULL;
	w->n = w->cap = 0;
}

char *
dockerfile_excerpt(const struct dockerfile_source *src, unsigned line, unsigned end_line)
{
	struct kl_strbuf b = {0};
	unsigned from, to;

	if (line == 0)
		return NULL;
	if (end_line < line)
		end_line = line;
	from = line > 2 ? line - 2 : 1;
	to = end_line > line + 9 ? line + 9 : end_line;
	kl_strbuf_printf(&b, "%s:%u\n--------------------\n", src->name ? src->name : "Dockerfile",
	                 line);
	for (unsigned n = from; n <= to; n++) {
		_cleanup_free_ char *text = dockerfile_source_line(src, n);

		if (!text)
			break;
		kl_strbuf_printf(&b, " %4u | %s%s\n", n, n >= line ? ">>> " : "    ", text);
	}
	kl_strbuf_puts(&b, "--------------------\n");
	return kl_strbuf_steal(&b, NULL);
}
