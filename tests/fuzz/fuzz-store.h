/* fuzz-store — one private, unsynced store for a whole fuzzing run, removed at exit. */
#pragma once
#include <stdio.h>
#include <stdlib.h>

#include "fs/store.h"
#include "util/path.h"
#include "util/xalloc.h"

static struct store *fuzz_store_instance;

static void
fuzz_store_drop(void)
{
	char *root = xstrdup(store_root(fuzz_store_instance));

	fuzz_store_instance = store_unref(fuzz_store_instance);
	(void)kl_path_rm_rf_at(-100 /* AT_FDCWD */, root);
	free(root);
}

/* The run's store, created on first use. */
static inline struct store *
fuzz_store(void)
{
	if (!fuzz_store_instance) {
		struct store_options o = {.flags = STORE_NO_SYNC};
		char *root = xasprintf("%s/kiln-fuzz.XXXXXX", P_tmpdir);

		if (!mkdtemp(root) || store_open(root, &o, &fuzz_store_instance, NULL) < 0)
			abort();
		free(root);
		atexit(fuzz_store_drop);
	}
	return fuzz_store_instance;
}
