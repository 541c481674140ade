// SPDX-License-Identifier: Apache-2.0
/* type=image,push=true: every blob and manifest of the image to each name's repository. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/export-internal.h"
#include "oci/reference.h"
#include "oci/registry.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/log.h"
#include "util/xalloc.h"

#define ORIGIN_IMAGE "docker-image://"

struct opener {
	struct export_ctx *c;
	const struct export_blob *b;
};

static int
open_blob(void *userdata, struct kl_error **err)
{
	struct opener *op = userdata;

	return export_blob_open(op->c, op->b, err);
}

/* The repository of the same registry a kept layer came from, to mount it from; NULL when it
 * came from elsewhere. */
static char *
mount_source(const struct export_blob *b, const struct oci_reference *dest)
{
	struct oci_reference from;
	char *repo = NULL;

	if (!b->origin || strncmp(b->origin, ORIGIN_IMAGE, strlen(ORIGIN_IMAGE)))
		return NULL;
	if (oci_reference_parse(b->origin + strlen(ORIGIN_IMAGE), &from, NULL) < 0)
		return NULL;
	if (!strcmp(oci_reference_api_host(&from), oci_reference_api_host(dest)))
		repo = xstrdup(from.repository);
	oci_reference_done(&from);
	return repo;
}

static int
push_blob(struct export_ctx *c, struct registry *r, const struct oci_reference *dest,
          const struct export_blob *b, struct kl_error **err)
{
	_cleanup_free_ char *from = mount_source(b, dest);
	struct opener op = {.c = c, .b = b};
	int r2;

	r2 = registry_push_blob(r, &b->digest, b->size, from, c->o->registry_chunk, open_blob, &op,
	                        err);
	if (r2 == REGISTRY_BLOB_MOUNTED)
		c->res->blobs_mounted++;
	return r2 < 0 ? r2 : 0;
}

static int
push_to(struct export_ctx *c, const char *name, struct kl_error **err)
{
	const struct export_image *img = &c->img;
	const struct export_blob *root = &img->blobs[img->n_blobs - 1];
	_cleanup_(registry_freep) struct registry *r = NULL;
	char id[DIGEST_STRING_SIZE];
	struct oci_reference ref;
	int ret;

	ret = oci_reference_parse(name, &ref, err);
	if (ret < 0)
		return ret;
	ret = export_registry_new(c, oci_reference_api_host(&ref), ref.repository, c->o->insecure,
	                          &r, err);
	for (size_t i = 0; i < img->n_blobs && ret >= 0; i++) {
		const struct export_blob *b = &img->blobs[i];

		if (b->kind != EXPORT_BLOB_MANIFEST)
			ret = push_blob(c, r, &ref, b, err);
		else if (i + 1 < img->n_blobs) /* a manifest the root index lists: by digest */
			ret = registry_put_manifest(r, digest_to_string(&b->digest, id),
			                            b->media_type, b->data, b->size, err);
	}
	if (ret >= 0) {
		const char *tag = c->o->push_by_digest || !ref.tag
		                      ? digest_to_string(&root->digest, id)
		                      : ref.tag;

		ret = registry_put_manifest(r, tag, root->media_type, root->data, root->size, err);
	}
	if (r)
		c->res->bytes_pushed += registry_bytes_sent(r);
	if (ret < 0)
		kl_error_prefix(err, "pushing '%s'", name);
	oci_reference_done(&ref);
	return ret;
}

int
export_output_push(struct export_ctx *c, struct kl_error **err)
{
	for (size_t i = 0; i < c->n_names; i++) {
		int r;

		if (strchr(c->names[i], '@') && !c->o->push_by_digest && i > 0)
			continue; /* a canonical name@digest: the same manifest, pushed already */
		r = push_to(c, c->names[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}
