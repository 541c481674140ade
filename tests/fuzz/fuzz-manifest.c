// SPDX-License-Identifier: Apache-2.0
/* Fuzz target: manifests, indexes and configs through every oci/image parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "oci/image.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct kl_error *err = NULL;
	struct oci_manifest m;
	struct oci_index idx;
	struct oci_config c;
	struct oci_platform p;
	enum oci_doc_kind kind;

	if (oci_doc_kind(buf, size, NULL, &kind, &err) < 0)
		kl_error_freep(&err);
	if (oci_manifest_parse(buf, size, &m, &err) == 0) {
		for (size_t i = 0; i < m.n_layers; i++)
			(void)oci_layer_compression(m.layers[i].media_type);
		oci_manifest_done(&m);
	}
	kl_error_freep(&err);
	if (oci_index_parse(buf, size, &idx, &err) == 0) {
		if (oci_platform_parse(NULL, &p, NULL) == 0) {
			(void)oci_index_select(&idx, &p, &err);
			kl_error_freep(&err);
			oci_platform_done(&p);
		}
		oci_index_done(&idx);
	}
	kl_error_freep(&err);
	if (oci_config_parse(buf, size, &c, &err) == 0)
		oci_config_done(&c);
	kl_error_freep(&err);
	return 0;
}
