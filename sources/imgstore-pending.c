// SPDX-License-Identifier: Apache-2.0
/* A stand-in for sources/imgstore.h until the image index (branch imgstore) is merged: images
 * can be freed, and every index operation says the index is not there yet. Deleted when
 * imgstore lands. */
#include <errno.h>
#include <stdlib.h>

#include "sources/imgstore.h"
#include "util/error.h"

void
imgstore_image_done(struct imgstore_image *im)
{
	free(im->config);
	for (size_t i = 0; i < im->n_layers; i++) {
		oci_descriptor_done(&im->layers[i].blob);
		free(im->layers[i].origin);
	}
	free(im->layers);
	*im = (struct imgstore_image){0};
}

static int
pending(struct kl_error **err)
{
	return kl_error_setf(err, ENOSYS, "kiln's image index is not built into this kiln yet");
}

int
imgstore_normalize(const char *name, char **ret, struct kl_error **err)
{
	(void)name;
	(void)ret;
	return pending(err);
}

int
imgstore_put(struct store *s, struct imgstore_image *im, struct digest *ret, struct kl_error **err)
{
	(void)s;
	(void)im;
	(void)ret;
	return pending(err);
}

int
imgstore_get(struct store *s, const struct digest *record, struct imgstore_image *ret,
             struct kl_error **err)
{
	(void)s;
	(void)record;
	(void)ret;
	return pending(err);
}

int
imgstore_tag(struct store *s, const char *name, const struct digest *record, struct kl_error **err)
{
	(void)s;
	(void)name;
	(void)record;
	return pending(err);
}

int
imgstore_lookup(struct store *s, const char *name, struct digest *ret, struct kl_error **err)
{
	(void)s;
	(void)name;
	(void)ret;
	return pending(err);
}

int
imgstore_untag(struct store *s, const char *name, struct kl_error **err)
{
	(void)s;
	(void)name;
	return pending(err);
}

int
imgstore_foreach(struct store *s, imgstore_name_fn fn, void *userdata, struct kl_error **err)
{
	(void)s;
	(void)fn;
	(void)userdata;
	return pending(err);
}
