// SPDX-License-Identifier: Apache-2.0
/* type=image without push or store=containerd: the image named in kiln's own image index. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/export-internal.h"
#include "sources/imgstore.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

int
export_output_kiln(struct export_ctx *c, const struct imgstore_image *im, struct kl_error **err)
{
	const struct export_blob *cfg = &c->img.blobs[c->img.config];
	_cleanup_free_ struct imgstore_layer *layers = NULL;
	struct imgstore_image out = *im;
	struct digest record;
	size_t k = 0;
	int r;

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
	r = imgstore_put(c->s, &out, &record, err);
	for (size_t i = 0; i < c->n_names && r >= 0; i++)
		r = imgstore_tag(c->s, c->names[i], &record, err);
	if (r < 0)
		kl_error_prefix(err, "storing the image in kiln's index");
	return r;
}
