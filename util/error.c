// SPDX-License-Identifier: Apache-2.0
/* Error values: a negative errno returned, with a message for a person kept alongside. */
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>

#include "util/xalloc.h"

static int __attribute__((format(printf, 3, 0)))
error_vsetf(struct kl_error **err, int code, const char *fmt, va_list ap)
{
	struct kl_error *e;

	if (code <= 0)
		code = code < 0 ? -code : EIO;
	if (!err || *err)
		return -code;
	e = xmalloc(sizeof(*e));
	e->code = code;
	if (vasprintf(&e->msg, fmt, ap) < 0)
		abort();
	*err = e;
	return -code;
}

int
kl_error_setf(struct kl_error **err, int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = error_vsetf(err, code, fmt, ap);
	va_end(ap);
	return r;
}

int
kl_error_set(struct kl_error **err, int code, const char *fmt, ...)
{
	va_list ap;
	char *what;
	int r;

	if (code <= 0)
		code = code < 0 ? -code : EIO;
	if (!err || *err)
		return -code;
	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		abort();
	va_end(ap);
	r = kl_error_setf(err, code, "%s: %s", what, strerror(code));
	free(what);
	return r;
}

void
kl_error_prefix(struct kl_error **err, const char *fmt, ...)
{
	va_list ap;
	char *what, *msg;

	if (!err || !*err)
		return;
	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		abort();
	va_end(ap);
	msg = xasprintf("%s: %s", what, (*err)->msg);
	free(what);
	free((*err)->msg);
	(*err)->msg = msg;
}

void
kl_error_free(struct kl_error *e)
{
	if (!e)
		return;
	free(e->msg);
	free(e);
}
