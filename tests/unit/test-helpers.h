/* test-helpers — temp directories for unit tests (removed with everything in them). */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/path.h"
#include "util/xalloc.h"

static inline char *
test_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *p = xasprintf("%s/kiln-unit.XXXXXX", base && *base ? base : "/tmp");

	if (!mkdtemp(p))
		abort();
	return p;
}

static inline void
test_rmdir(char *p)
{
	(void)kl_path_rm_rf_at(-100 /* AT_FDCWD */, p);
	free(p);
}
