// SPDX-License-Identifier: Apache-2.0
/* Fuzz target for tree_xattrs_decode, which reads the stat cache's packed xattrs: any input is
 * refused or decodes into xattrs that encode back to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fs/tree-xattrs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tree_xattr_list l;
	size_t len;
	char *again;

	if (tree_xattrs_decode(data, size, &l) < 0) {
		if (l.n != 0 || l.xs || l.values)
			abort();
		return 0;
	}
	tree_xattrs_encode(l.xs, l.n, &again, &len);
	if (len != size || memcmp(again, data, size) != 0)
		abort();
	free(again);
	tree_xattr_list_done(&l);
	return 0;
}
