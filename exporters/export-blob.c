// SPDX-License-Identifier: Apache-2.0
/* Reading the image's blobs: from memory, from the store, or fetched from a layer's origin. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "exporters/export-internal.h"
#include "fs/store.h"
#include "oci/layout.h"
#include "oci/reference.h"
#include "oci/registry.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/log.h"
#include "util/xalloc.h"

#define ORIGIN_IMAGE "docker-image://"
#define ORIGIN_LAYOUT "oci-layout://"

int
export_registry_new(struct export_ctx *c, const char *host, const char *repository, bool insecure,
                    struct registry **ret, struct kl_error **err)
{
	const struct export_options *o = c->o;
	_cleanup_free_ const char **hosts = NULL;
	struct registry_options ro = {
	    .auth_file = o->auth_file,
	    .timeout_ms = o->registry_timeout_ms,
	};
	size_t n = 0;

	hosts = xcalloc(o->n_insecure_registries + 1, sizeof(*hosts));
	for (size_t i = 0; i < o->n_insecure_registries; i++)
		hosts[n++] = o->insecure_registries[i];
	if (insecure)
		hosts[n++] = host;
	ro.insecure_hosts = hosts;
	ro.n_insecure_hosts = n;
	return registry_new(host, repository, &ro, ret, err);
}

/* Fetches blob b from its origin into the store. */
static int
fetch_origin(struct export_ctx *c, const struct export_blob *b, struct kl_error **err)
{
	char id[DIGEST_STRING_SIZE];
	int r;

	digest_to_string(&b->digest, id);
	if (!strncmp(b->origin, ORIGIN_LAYOUT, strlen(ORIGIN_LAYOUT))) {
		const char *dir = b->origin + strlen(ORIGIN_LAYOUT);
		_cleanup_close_ int fd = oci_layout_open_blob(dir, &b->digest, err);

		if (fd < 0)
			return fd;
		r = store_ingest_fd(c->s, fd, &b->digest, NULL, err);
		if (r < 0)
			kl_error_prefix(err, "blob %s of '%s'", id, b->origin);
		return r;
	}
	if (!strncmp(b->origin, ORIGIN_IMAGE, strlen(ORIGIN_IMAGE))) {
		struct oci_reference ref;
		_cleanup_(registry_freep) struct registry *reg = NULL;

		r = oci_reference_parse(b->origin + strlen(ORIGIN_IMAGE), &ref, err);
		if (r < 0)
			return r;
		r = export_registry_new(c, oci_reference_api_host(&ref), ref.repository,
		                        /* insecure= */ false, &reg, err);
		if (r >= 0) {
			kl_debug("export: fetching layer %s from '%s'", id, b->origin);
			r = registry_fetch_blob(reg, &b->digest, b->size, c->s, err);
		}
		oci_reference_done(&ref);
		return r;
	}
	return kl_error_setf(err, ENOTSUP, "blob %s: unknown origin '%s'", id, b->origin);
}

int
export_blob_open(struct export_ctx *c, const struct export_blob *b, struct kl_error **err)
{
	char id[DIGEST_STRING_SIZE];
	int fd, r;

	if (b->data) {
		fd = memfd_create("kiln-export-blob", MFD_CLOEXEC);
		if (fd < 0)
			return kl_error_set(err, errno, "creating a memfd");
		r = kl_io_write_all(fd, b->data, b->size);
		if (r >= 0 && lseek(fd, 0, SEEK_SET) < 0)
			r = -errno;
		if (r < 0) {
			close(fd);
			return kl_error_set(err, -r, "writing a memfd");
		}
		return fd;
	}
	fd = store_open_blob(c->s, &b->digest, err);
	if (fd != -ENOENT)
		return fd;
	digest_to_string(&b->digest, id);
	if (!b->origin)
		return kl_error_setf(err, ENOENT, "blob %s is not in the store", id);
	r = fetch_origin(c, b, err);
	if (r < 0)
		return r;
	fd = store_open_blob(c->s, &b->digest, err);
	if (fd == -ENOENT)
		return kl_error_setf(err, ENOENT, "blob %s is not in the store after its fetch",
		                     id);
	return fd;
}
