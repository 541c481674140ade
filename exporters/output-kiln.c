// SPDX-License-Identifier: Apache-2.0
/* type=image without push or store=containerd: the image named in kiln's own image index. */
#include <stdlib.h>

#include "exporters/export-internal.h"
#include "sources/imgstore.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

int
export_output_kiln(struct export_ctx *c, const struct imgstore_image *im, struct kl_error **err)
{
	const struct export_blob *cfg = &c->img.blobs[c->img.config];
	_cleanup_free_ struct imgstore_layer *layers = NULL;
	struct imgstore_image out = *im;
	size_t k = 0;

	/* The image as exported: its final config, and each layer's diff id now known. The
	 * arrays are borrowed from im, so out is not freed. */
	layers = xcalloc(im->n_layers ? im->n_layers : 1, sizeof(*layers));
	for (size_t i = 0; i < c->img.n_blobs && k < im->n_layers; i++) {
		if (c->img.blobs[i].kind != EXPORT_BLOB_LAYER)
			continue;
		layers[k] = im->layers[k];
		layers[k].has_diff_id = true;
		layers[k].diff_id = c->img.blobs[i].diff_id;
		k++;
	}
	out.layers = layers;
	out.config = cfg->data;
	out.config_len = cfg->size;
	out.docker_media_types = !c->img.oci;
	return imgstore_keep(c->s, &out, (const char *const *)c->names, c->n_names,
	                     /* ret= */ NULL, err);
}
