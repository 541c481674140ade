// SPDX-License-Identifier: Apache-2.0
/* The log sink: set once by cli/ at start, read by every thread after. */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Written once by kl_log_setup() before any thread starts; read-only afterwards. */
static struct {
	enum kl_log_level min_level;
	kl_log_fn fn;
	void *userdata;
} sink = {KL_LOG_INFO, NULL, NULL};

void
kl_log_setup(enum kl_log_level min_level, kl_log_fn fn, void *userdata)
{
	sink.min_level = min_level;
	sink.fn = fn;
	sink.userdata = userdata;
}

bool
kl_log_enabled(enum kl_log_level level)
{
	return level >= sink.min_level;
}

static void
emit(enum kl_log_level level, const char *line)
{
	if (sink.fn)
		sink.fn(level, line, sink.userdata);
	else
		fprintf(stderr, "kiln: %s\n", line);
}

void
kl_log(enum kl_log_level level, const char *fmt, ...)
{
	va_list ap;
	char *line;

	if (!kl_log_enabled(level))
		return;
	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		abort();
	va_end(ap);
	emit(level, line);
	free(line);
}
