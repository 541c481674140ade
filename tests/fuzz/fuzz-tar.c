// SPDX-License-Identifier: Apache-2.0
/* Fuzz target: a layer blob (tar, tar+gzip, tar+zstd) → a diff tree, in a private store. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fs/store.h"
#include "tests/fuzz/fuzz-store.h"
#include "sources/imgsrc-internal.h"
#include "util/error.h"
#include "util/io.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kl_error *err = NULL;
	struct store *store = fuzz_store();
	struct digest id;
	int fd;

	fd = memfd_create("layer", MFD_CLOEXEC);
	if (fd < 0 || kl_io_write_all(fd, data, size) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		abort();
	if (imgsrc_layer_from_tar(store, fd, NULL, "fuzz", &id, &err) < 0)
		kl_error_freep(&err);
	close(fd);
	return 0;
}
