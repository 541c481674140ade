// SPDX-License-Identifier: Apache-2.0
/* Fuzz target for mountpoint_parse_line: any input is rejected with a one-line message or
 * parses into an entry whose mount point is absolute and whose options and overlay dirs read. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fs/mountpoint.h"
#include "util/error.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = xstrndup((const char *)data, size);
	struct kl_error *err = NULL;
	struct mountpoint_entry e;
	char **dirs, *v;
	int n;

	if (mountpoint_parse_line(line, &e, &err) < 0) {
		CHECK(err && err->msg && !strchr(err->msg, '\n'));
		kl_error_free(err);
		free(line);
		return 0;
	}
	CHECK(!err && e.path[0] == '/');
	CHECK(!strchr(e.options, ' ') && !strchr(e.super_options, ' '));
	v = mountpoint_entry_option(&e, "lowerdir");
	free(v);
	n = mountpoint_overlay_dirs(&e, &dirs);
	CHECK(n >= 0 && dirs[n] == NULL);
	for (int i = 0; i < n; i++)
		CHECK(dirs[i][0] != '\0');
	free(dirs);
	free(line);
	return 0;
}
