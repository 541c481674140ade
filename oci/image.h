/* image — the OCI image model: descriptors, image manifests, image indexes and configs, in both
 * OCI and Docker v2 schema 2 media types. Parsed documents are plain structs owned by the caller
 * (free with the matching _done); parsing never trusts sizes: JSON is bounded by the limits
 * below and every field is type-checked, so malformed input is -EBADMSG with a message. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/digest.h"

struct kl_error;

#define OCI_MAX_MANIFEST_SIZE (4u << 20) /* bytes of a manifest or index */
#define OCI_MAX_CONFIG_SIZE (16u << 20)  /* bytes of an image config */
#define OCI_MAX_LAYERS 1024u             /* layers in one manifest */
#define OCI_MAX_INDEX_ENTRIES 4096u      /* manifests in one index */
#define OCI_MAX_ANNOTATION 4096u         /* bytes of an annotation value kept */

#define OCI_MT_INDEX "application/vnd.oci.image.index.v1+json"
#define OCI_MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define OCI_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define OCI_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define OCI_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
/* What a manifest request accepts, for an HTTP Accept header. */
#define OCI_MANIFEST_ACCEPT                                                                        \
	OCI_MT_MANIFEST ", " OCI_MT_INDEX ", " OCI_MT_DOCKER_MANIFEST ", " OCI_MT_DOCKER_LIST

#define OCI_ANN_REF_NAME "org.opencontainers.image.ref.name"
#define OCI_ANN_ZSTD_CHUNKED_POS "io.containers.zstd-chunked.manifest-position"
#define OCI_ANN_ZSTD_CHUNKED_SUM "io.containers.zstd-chunked.manifest-checksum"
#define OCI_ANN_ESTARGZ_TOC "containerd.io/snapshot/stargz/toc.digest"

enum oci_doc_kind { OCI_DOC_UNKNOWN, OCI_DOC_MANIFEST, OCI_DOC_INDEX, _OCI_DOC_MAX };

enum oci_layer_compression {
	OCI_LAYER_UNKNOWN,
	OCI_LAYER_TAR,
	OCI_LAYER_GZIP,
	OCI_LAYER_ZSTD,
	_OCI_LAYER_MAX
};

struct oci_platform {
	char *os;
	char *architecture;
	char *variant; /* NULL when none */
};

struct oci_descriptor {
	char *media_type;
	struct digest digest;
	uint64_t size;
	bool has_platform;
	struct oci_platform platform;
	char *ref_name;         /* org.opencontainers.image.ref.name, or NULL */
	char *chunked_position; /* zstd:chunked TOC "offset:length:ulength:type", or NULL */
	char *chunked_checksum; /* zstd:chunked TOC digest, or NULL */
};

void oci_descriptor_done(struct oci_descriptor *d);

struct oci_manifest {
	struct oci_descriptor config;
	struct oci_descriptor *layers;
	size_t n_layers;
};

struct oci_index {
	struct oci_descriptor *manifests;
	size_t n_manifests;
};

struct oci_config {
	struct oci_platform platform;
	struct digest *diff_ids;
	size_t n_diff_ids;
};

/* Tells a manifest from an index by its mediaType field, else by the HTTP content type (may be
 * NULL), else by its shape ("manifests" vs "layers"); -EBADMSG when it is neither, or not JSON. */
int oci_doc_kind(const char *buf, size_t len, const char *content_type, enum oci_doc_kind *ret,
                 struct kl_error **err);
int oci_manifest_parse(const char *buf, size_t len, struct oci_manifest *ret,
                       struct kl_error **err);
void oci_manifest_done(struct oci_manifest *m);
int oci_index_parse(const char *buf, size_t len, struct oci_index *ret, struct kl_error **err);
void oci_index_done(struct oci_index *idx);
int oci_config_parse(const char *buf, size_t len, struct oci_config *ret, struct kl_error **err);
void oci_config_done(struct oci_config *c);

/* Parses "os/arch[/variant]" (NULL: linux/amd64); -EINVAL with a message otherwise. */
int oci_platform_parse(const char *s, struct oci_platform *ret, struct kl_error **err);
void oci_platform_done(struct oci_platform *p);
/* The index entry for want: same os and architecture, and variant when want has one (arm64
 * without one prefers "v8" or none). Returns its position, or -ENOENT with a message listing
 * the platforms the index has. */
int oci_index_select(const struct oci_index *idx, const struct oci_platform *want,
                     struct kl_error **err);
/* The compression of a layer media type (OCI and Docker), OCI_LAYER_UNKNOWN for others
 * (foreign, encrypted…). */
enum oci_layer_compression oci_layer_compression(const char *media_type);
