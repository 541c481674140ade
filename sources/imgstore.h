/* imgstore — kiln's own index of images by name, as Buildah and Podman keep local images: an
 * image is its config (the OCI/Docker config JSON, stored as a blob) and the chain of its
 * layers as diff trees, plus its merged tree. Nothing is compressed until an exporter asks.
 * Layers that came from a registry or a layout keep the descriptor of their original blob and
 * where it came from, so an exporter can reuse the blob (same digest, no recompression) and a
 * push can mount it from its repository.
 *
 * An image is written once as a record blob (its JSON form, documented in imgstore.c) named by
 * its digest; names point at records. The image id is its config's digest, as Docker's.
 * Names are normalized as Docker normalizes them ("busybox" is docker.io/library/busybox:latest)
 * and found with no network. Thread-safe; several processes may share one store (a name's
 * pointer is replaced atomically). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/digest.h"
#include "oci/image.h"

struct kl_error;
struct store;

struct imgstore_layer {
	struct digest tree; /* the layer as a diff tree */
	bool has_diff_id;   /* its uncompressed tar's digest, when known (pulled layers) */
	struct digest diff_id;
	bool has_blob; /* the original compressed blob, for layers from a registry/layout */
	struct oci_descriptor blob;
	char *origin; /* "docker-image://host/repo" or "oci-layout://DIR" it came from */
};

struct imgstore_image {
	struct digest id; /* the config's digest (filled by imgstore_put and _get) */
	char *config;     /* the config JSON (config_len bytes, NUL-terminated) */
	size_t config_len;
	bool docker_media_types; /* came with Docker v2 media types (a pulled Docker image) */
	struct imgstore_layer *layers;
	size_t n_layers;
	struct digest tree; /* the merged tree of all layers */
};

void imgstore_image_done(struct imgstore_image *im);

/* Normalizes a name as Docker does ("busybox" → "docker.io/library/busybox:latest"; a digest
 * reference keeps its digest); -EINVAL with a message for a name Docker refuses. */
int imgstore_normalize(const char *name, char **ret, struct kl_error **err);

/* Writes im's config blob and record (im->id is set); the record's digest goes to ret. */
int imgstore_put(struct store *s, struct imgstore_image *im, struct digest *ret,
                 struct kl_error **err);
/* Reads a record; -ENOENT when absent. */
int imgstore_get(struct store *s, const struct digest *record, struct imgstore_image *ret,
                 struct kl_error **err);
/* Points name (normalized here) at record, replacing what it named before. */
int imgstore_tag(struct store *s, const char *name, const struct digest *record,
                 struct kl_error **err);
/* The record a name points at; -ENOENT (err untouched) when the index has no such name. */
int imgstore_lookup(struct store *s, const char *name, struct digest *ret, struct kl_error **err);
/* Removes a name; -ENOENT with a message when there is none. The record stays for
 * `kiln prune` to collect once nothing names it. */
int imgstore_untag(struct store *s, const char *name, struct kl_error **err);
/* Every name and the record it points at, in name order; fn returns < 0 to stop. */
typedef int (*imgstore_name_fn)(const char *name, const struct digest *record, void *userdata);
int imgstore_foreach(struct store *s, imgstore_name_fn fn, void *userdata, struct kl_error **err);
