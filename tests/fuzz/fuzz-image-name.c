// SPDX-License-Identifier: Apache-2.0
/* Fuzz target: image names as users write them (-t, FROM, kiln tag), normalized as Docker
 * does; a normalized name normalizes to itself and splits into parts that spell it again. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sources/imgstore.h"
#include "util/error.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name = xstrndup((const char *)data, size), *norm = NULL, *again = NULL, *spelled;
	struct imgstore_name_parts p = {0};
	struct kl_error *err = NULL;

	if (imgstore_normalize(name, &norm, &err) < 0) {
		kl_error_freep(&err);
		free(name);
		return 0;
	}
	if (imgstore_normalize(norm, &again, &err) < 0 || strcmp(norm, again) != 0) {
		fprintf(stderr, "'%s' normalized to '%s', which normalizes to '%s'\n", name, norm,
		        again ? again : err->msg);
		abort();
	}
	imgstore_name_split(norm, &p);
	spelled = xasprintf("%s%s%s%s%s", p.repository, p.tag ? ":" : "", p.tag ? p.tag : "",
	                    p.digest ? "@" : "", p.digest ? p.digest : "");
	if (strcmp(spelled, norm) != 0) {
		fprintf(stderr, "'%s' split and joined is '%s'\n", norm, spelled);
		abort();
	}
	free(spelled);
	imgstore_name_parts_done(&p);
	free(again);
	free(norm);
	free(name);
	return 0;
}
