// SPDX-License-Identifier: Apache-2.0
/* Fuzz target: a layer blob (tar, tar+gzip, tar+zstd) → a diff tree, in a private store. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fs/store.h"
#include "sources/imgsrc-internal.h"
#include "util/error.h"
#include "util/io.h"
#include "util/path.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct store *store; /* one store for the whole run */

static void
drop_store(void)
{
	char *root = xstrdup(store_root(store));

	store = store_unref(store);
	(void)kl_path_rm_rf_at(-100 /* AT_FDCWD */, root);
	free(root);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kl_error *err = NULL;
	struct digest id;
	int fd;

	if (!store) {
		struct store_options o = {.flags = STORE_NO_SYNC};
		char *root = xasprintf("%s/kiln-fuzz-tar.XXXXXX", P_tmpdir);

		if (!mkdtemp(root) || store_open(root, &o, &store, NULL) < 0)
			abort();
		free(root);
		atexit(drop_store);
	}
	fd = memfd_create("layer", MFD_CLOEXEC);
	if (fd < 0 || kl_io_write_all(fd, data, size) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		abort();
	if (imgsrc_layer_from_tar(store, fd, NULL, "fuzz", &id, &err) < 0)
		kl_error_freep(&err);
	close(fd);
	return 0;
}
