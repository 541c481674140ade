// SPDX-License-Identifier: Apache-2.0
/* The annotations of a manifest's layer descriptors, kept with the image so a reused blob is
 * described as its registry described it. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "oci/image.h"
#include "sources/imgsrc-internal.h"
#include "sources/imgstore.h"
#include "util/xalloc.h"

static int
annotation_cmp(const void *a, const void *b)
{
	return strcmp(((const struct imgstore_annotation *)a)->key,
	              ((const struct imgstore_annotation *)b)->key);
}

static void
copy_annotations(json_t *a, struct imgstore_layer *l)
{
	const char *key;
	json_t *v;

	if (!json_is_object(a) || json_object_size(a) == 0)
		return;
	l->annotations = xcalloc(IMGSTORE_MAX_ANNOTATIONS, sizeof(*l->annotations));
	json_object_foreach(a, key, v)
	{
		const char *value = json_is_string(v) ? json_string_value(v) : NULL;

		if (l->n_annotations == IMGSTORE_MAX_ANNOTATIONS)
			break;
		if (!value || json_string_length(v) > OCI_MAX_ANNOTATION ||
		    strlen(value) != json_string_length(v) || strlen(key) > OCI_MAX_ANNOTATION)
			continue;
		l->annotations[l->n_annotations].key = xstrdup(key);
		l->annotations[l->n_annotations].value = xstrdup(value);
		l->n_annotations++;
		if (!strcmp(key, OCI_ANN_ZSTD_CHUNKED_POS) && !l->blob.chunked_position)
			l->blob.chunked_position = xstrdup(value);
		else if (!strcmp(key, OCI_ANN_ZSTD_CHUNKED_SUM) && !l->blob.chunked_checksum)
			l->blob.chunked_checksum = xstrdup(value);
	}
	qsort(l->annotations, l->n_annotations, sizeof(*l->annotations), annotation_cmp);
}

void
imgsrc_layer_annotations(const char *manifest, size_t len, struct imgstore_layer *layers,
                         size_t n_layers)
{
	json_auto_t *j = manifest ? json_loadb(manifest, len, 0, NULL) : NULL;
	json_t *arr = j ? json_object_get(j, "layers") : NULL;

	if (!json_is_array(arr) || json_array_size(arr) != n_layers)
		return;
	for (size_t i = 0; i < n_layers; i++)
		copy_annotations(json_object_get(json_array_get(arr, i), "annotations"),
		                 &layers[i]);
}
