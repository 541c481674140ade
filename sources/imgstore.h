/* imgstore — kiln's own index of images by name, as Buildah and Podman keep local images: an
 * image is its config (the OCI/Docker config JSON, stored as a blob) and the chain of its
 * layers as diff trees, plus its merged tree. Nothing is compressed until an exporter asks.
 * Layers that came from a registry or a layout keep the descriptor of their original blob (with
 * its annotations) and where it came from, so an exporter can reuse the blob (same digest, no
 * recompression) and a push can mount it from its repository.
 *
 * An image is written once as a record blob (its JSON form, documented in imgstore.c) named by
 * its digest; names point at records. The image id is its config's digest, as Docker's.
 * Names are normalized as Docker normalizes them ("busybox" is docker.io/library/busybox:latest)
 * and found with no network. A name's pointer is a small file under <root>/images/ replaced by
 * rename, so readers in any process see the old record or the new one, never a torn pointer.
 * Thread-safe: nothing is kept in memory between calls; several processes may share one store. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/digest.h"
#include "oci/image.h"

struct kl_error;
struct store;

#define IMGSTORE_MAX_RECORD (16u << 20) /* bytes of a record */
#define IMGSTORE_MAX_ANNOTATIONS 64u    /* annotations kept per layer blob */

/* One annotation of a layer blob's descriptor. */
struct imgstore_annotation {
	char *key;
	char *value;
};

struct imgstore_layer {
	struct digest tree; /* the layer as a diff tree */
	bool has_diff_id;   /* its uncompressed tar's digest, when known (pulled layers) */
	struct digest diff_id;
	/* The original compressed blob, for layers from a registry or a layout: media type,
	 * digest, size, and (filled from the annotations) the zstd:chunked position and checksum.
	 * The blob itself is in the store only when it was fetched whole. */
	bool has_blob;
	struct oci_descriptor blob;
	/* Every annotation of that descriptor (zstd:chunked's, eStargz's toc.digest and
	 * uncompressed size…), sorted by key: what a manifest reusing the blob must repeat. */
	struct imgstore_annotation *annotations;
	size_t n_annotations;
	char *origin; /* "docker-image://host/repo" or "oci-layout://DIR" it came from, or NULL */
};

struct imgstore_image {
	struct digest id; /* the config's digest (filled by imgstore_put and _get) */
	char *config;     /* the config JSON (config_len bytes, NUL-terminated) */
	size_t config_len;
	bool docker_media_types; /* came with Docker v2 media types (a pulled Docker image) */
	bool has_manifest;       /* pulled: the digest of the (platform's) manifest it came as */
	struct digest manifest;
	struct imgstore_layer *layers;
	size_t n_layers;
	struct digest tree; /* the merged tree of all layers */
};

/* Frees what im holds and zeroes it; a zeroed image is fine. */
void imgstore_image_done(struct imgstore_image *im);
void imgstore_layer_done(struct imgstore_layer *l);

/* Normalizes a name as Docker does ("busybox" → "docker.io/library/busybox:latest"; a digest
 * reference keeps its digest, and its tag when it has one); -EINVAL with a message for a name
 * Docker refuses (uppercase repository, a bare 64-hex string, a source spec with "://"). */
int imgstore_normalize(const char *name, char **ret, struct kl_error **err);

/* A normalized name's parts: "docker.io/library/busybox:1.36@sha256:…" is repository
 * "docker.io/library/busybox", tag "1.36" (NULL when none), digest "sha256:…" (NULL when
 * none). */
struct imgstore_name_parts {
	char *repository;
	char *tag;
	char *digest;
};
void imgstore_name_split(const char *norm, struct imgstore_name_parts *ret);
void imgstore_name_parts_done(struct imgstore_name_parts *p);

/* Writes im's config blob and record (im->id is set); the record's digest goes to ret. The
 * same image always makes the same record. Every tree im names must be in the store (-ENOENT
 * naming it); config must be a JSON object (-EBADMSG). */
int imgstore_put(struct store *s, struct imgstore_image *im, struct digest *ret,
                 struct kl_error **err);
/* Reads a record and its config, both verified; -ENOENT (err untouched) when the record is
 * absent, -EBADMSG naming the record and the field when it is malformed. */
int imgstore_get(struct store *s, const struct digest *record, struct imgstore_image *ret,
                 struct kl_error **err);
/* Points name (normalized here) at record, replacing what it named before. The record must
 * be in the store. */
int imgstore_tag(struct store *s, const char *name, const struct digest *record,
                 struct kl_error **err);
/* An image kept in the index under names[0..n) (none: its record alone): imgstore_put, then
 * imgstore_tag of each name; the record's digest goes to ret (may be NULL). Errors say
 * "storing the image in kiln's index: …". */
int imgstore_keep(struct store *s, struct imgstore_image *im, const char *const *names, size_t n,
                  struct digest *ret, struct kl_error **err);
/* The record a name points at; -ENOENT (err untouched) when the index has no such name. */
int imgstore_lookup(struct store *s, const char *name, struct digest *ret, struct kl_error **err);
/* Removes a name; -ENOENT with a message when there is none. The record stays for
 * `kiln prune` to collect once nothing names it. */
int imgstore_untag(struct store *s, const char *name, struct kl_error **err);
/* Every name and the record it points at, in name order (strcmp); fn returns < 0 to stop with
 * that value. A corrupt pointer file is -EBADMSG naming the file. */
typedef int (*imgstore_name_fn)(const char *name, const struct digest *record, void *userdata);
int imgstore_foreach(struct store *s, imgstore_name_fn fn, void *userdata, struct kl_error **err);

/* An image as a user names it on the command line, as Docker and Podman find one: a name in
 * the index, else an image id ("sha256:<64 hex>", or a prefix of at least 4 hex digits) that
 * one of the indexed images has. The record goes to ret; -ENOENT (err untouched) when nothing
 * matches, -EINVAL with a message for a prefix several images share. */
int imgstore_find(struct store *s, const char *name_or_id, struct digest *ret,
                  struct kl_error **err);
/* The names pointing at an image of id (its config digest), in name order: an array of
 * *ret_n strings (free each, then the array). */
int imgstore_names_of(struct store *s, const struct digest *id, char ***ret, size_t *ret_n,
                      struct kl_error **err);

/* The seconds since the epoch of the config's "created" (RFC 3339); -ENOENT when it has
 * none or it does not parse. */
int imgstore_image_created(const struct imgstore_image *im, int64_t *ret);
/* The bytes of the image's files: the sizes of the regular files of its merged tree (each
 * inode once), which is what Podman's SIZE column approximates. */
int imgstore_image_size(struct store *s, const struct imgstore_image *im, uint64_t *ret,
                        struct kl_error **err);

/* The JSON documents of `kiln inspect` and `kiln images --format json` (shapes documented
 * in imgstore-inspect.c), as text the caller frees. inspect: an array of one object per
 * record, each listing every name the index gives its image. */
int imgstore_inspect_json(struct store *s, const struct digest *records, size_t n, char **ret,
                          struct kl_error **err);
/* images: an array of one object per image, with the names given for it. */
struct imgstore_listed {
	struct digest record;
	const char *const *names;
	size_t n_names;
};
int imgstore_images_json(struct store *s, const struct imgstore_listed *images, size_t n,
                         char **ret, struct kl_error **err);

/* What `kiln prune` must keep for the index to hold. */
enum imgstore_blob_kind {
	IMGSTORE_BLOB_RECORD, /* the record itself */
	IMGSTORE_BLOB_CONFIG, /* the config JSON */
	IMGSTORE_BLOB_TREE,   /* a layer's diff tree or the merged tree: follow its contents */
	IMGSTORE_BLOB_LAYER,  /* an original compressed layer blob the store holds */
	_IMGSTORE_BLOB_MAX
};
typedef int (*imgstore_blob_fn)(const struct digest *d, enum imgstore_blob_kind kind,
                                void *userdata);
/* Calls fn for every blob record refers to: the record, its config, each layer's diff tree,
 * the merged tree, and the original layer blobs present in the store (absent ones are
 * skipped). Trees are not walked: their contents are the caller's to follow. fn returns < 0
 * to stop with that value. -ENOENT (err untouched) when the record is absent. */
int imgstore_record_foreach_blob(struct store *s, const struct digest *record, imgstore_blob_fn fn,
                                 void *userdata, struct kl_error **err);
/* imgstore_record_foreach_blob for every record a name points at, each record once; a name
 * whose record is gone is skipped, any other failure stops the walk (a prune must not go on
 * with an index it could not read). */
int imgstore_foreach_blob(struct store *s, imgstore_blob_fn fn, void *userdata,
                          struct kl_error **err);
