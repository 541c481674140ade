// SPDX-License-Identifier: Apache-2.0
/* Fuzz target: an image config from elsewhere (a base image's, any JSON) finished for export:
 * diff ids and history rewritten, times clamped. The first two bytes choose the layer count
 * and the epoch; the rest is the config. A finished config finishes to itself. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/export.h"
#include "fs/digest.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct digest ids[8];
	struct kl_error *err = NULL;
	char *out = NULL, *again = NULL;
	size_t n, out_len = 0, again_len = 0;
	bool has_epoch;
	int r;

	if (size < 2)
		return 0;
	n = data[0] % 8;
	has_epoch = data[1] & 1;
	for (size_t i = 0; i < n; i++)
		digest_buffer(&i, sizeof(i), &ids[i]);
	r = export_config_finish((const char *)data + 2, size - 2, ids, n, has_epoch, 1700000000,
	                         &out, &out_len, &err);
	kl_error_freep(&err);
	if (r == 1) {
		r = export_config_finish(out, out_len, ids, n, has_epoch, 1700000000, &again,
		                         &again_len, &err);
		if (r < 0 || (r == 1 && (again_len != out_len || memcmp(again, out, out_len)))) {
			fprintf(stderr, "a finished config changed when finished again (%d)\n", r);
			abort();
		}
		kl_error_freep(&err);
		free(again);
	}
	free(out);
	return 0;
}
