// SPDX-License-Identifier: Apache-2.0
/* Fuzz target: --output specs as users write them ("type=oci,dest=x", "\"name=a,b\"", a bare
 * directory, "-"), through kiln build's parser and the exporters' own; a spec either parses
 * and checks or is refused with one message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "builder/build-output.h"
#include "exporters/export.h"
#include "util/error.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *spec = xstrndup((const char *)data, size);
	struct build_output *o = NULL;
	struct export_options eo = {0};
	struct kl_error *err = NULL;

	if (build_output_parse(spec, &o, &err) == 0)
		build_output_free(o);
	else if (!err || !err->msg)
		abort();
	kl_error_freep(&err);
	if (export_options_parse(spec, &eo, &err) == 0) {
		if (export_options_check(&eo, &err) < 0 && (!err || !err->msg))
			abort();
	} else if (!err || !err->msg) {
		abort();
	}
	kl_error_freep(&err);
	export_options_done(&eo);
	free(spec);
	return 0;
}
