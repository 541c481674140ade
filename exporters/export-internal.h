/* export-internal — what the image assembly hands the outputs: every blob of the image in
 * push order (layers, config, attestation blobs, manifests, the root last), each in memory or
 * named by digest in the store or at its origin. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exporters/export.h"
#include "fs/digest.h"

struct imgstore_image;
struct kl_error;
struct provider_set;
struct store;

enum export_blob_kind {
	EXPORT_BLOB_LAYER,
	EXPORT_BLOB_CONFIG,
	EXPORT_BLOB_MANIFEST, /* a manifest or an index: PUT to /manifests/ when pushed */
	EXPORT_BLOB_OTHER,    /* an attestation's statement or config */
	_EXPORT_BLOB_MAX
};

struct export_blob {
	enum export_blob_kind kind;
	struct digest digest;
	uint64_t size;
	char *media_type;
	char *data;   /* the bytes (size of them) for what the export wrote itself, or NULL: … */
	char *origin; /* … in the store, or fetched from "docker-image://HOST/REPO" or
	               * "oci-layout://DIR" (a base layer's original blob), or NULL */
	bool reused;  /* a layer kept from a record or its original blob: nothing compressed */
	struct digest diff_id; /* layers: of the uncompressed tar */
};

struct export_image {
	struct export_blob *blobs; /* in push order; the root is the last */
	size_t n_blobs;
	bool oci;                  /* OCI media types (else Docker's) */
	bool has_index;            /* the root is an image index */
	size_t manifest;           /* position of the image manifest */
	size_t config;             /* position of the image config */
	char *os, *arch, *variant; /* the config's platform (variant may be NULL) */
};

void export_image_done(struct export_image *img);

/* What the outputs share. names are normalized as Docker does ("kx:1" →
 * docker.io/library/kx:1). */
struct export_ctx {
	struct store *s;
	struct provider_set *ps;
	const struct export_options *o;
	struct export_image img;
	char **names;
	size_t n_names;
	struct export_result *res;
};

/* Assembles the image of im as c->o says into c->img (layers made or reused through ps). */
int export_image_build(struct export_ctx *c, const struct imgstore_image *im,
                       struct kl_error **err);

/* The layer media type for compression c in OCI or Docker types. */
const char *export_layer_media_type(enum layer_compression c, bool oci);
/* A kept blob's media type in the other family (Docker gzip ↔ OCI gzip, tar, zstd); foreign
 * and unknown types unchanged. Returns a static string or mt itself. */
const char *export_convert_media_type(const char *mt, bool oci);

/* The in-toto statement of a SLSA v0.2 provenance for the image manifest (subject: each of
 * names, or the manifest digest alone), as JSON text (caller frees). */
int export_provenance_statement(const struct export_ctx *c, const struct digest *manifest,
                                char **ret, size_t *ret_len, struct kl_error **err);

/* A registry client for host/repository with the options' credentials, timeout and insecure
 * hosts (and host itself when insecure). */
struct registry;
int export_registry_new(struct export_ctx *c, const char *host, const char *repository,
                        bool insecure, struct registry **ret, struct kl_error **err);

/* Opens blob b read-only (the caller closes the fd): from the store, fetching it first from
 * its origin when it has one and the store lacks it. */
int export_blob_open(struct export_ctx *c, const struct export_blob *b, struct kl_error **err);

/* Archives (export-archive.c). */
enum export_archive_kind {
	EXPORT_ARCHIVE_OCI,    /* oci-layout, index.json, blobs/sha256/… */
	EXPORT_ARCHIVE_DOCKER, /* the same plus manifest.json, as docker load reads it */
	_EXPORT_ARCHIVE_MAX
};
/* Writes the image as a tar to fd (not closed): entries sorted, owned by 0:0, times from the
 * epoch (else 0), so equal images give equal archives. */
int export_archive_write(struct export_ctx *c, enum export_archive_kind kind, int fd,
                         struct kl_error **err);
/* Writes the image as an OCI layout directory at dir (created; an existing layout gains the
 * image: blobs added, index.json's entries for the same names replaced). */
int export_layout_write(struct export_ctx *c, const char *dir, struct kl_error **err);
/* Writes the archive to a new unlinked file in the store's temporary space; returns its fd,
 * at offset 0. */
int export_archive_tmpfile(struct export_ctx *c, enum export_archive_kind kind,
                           struct kl_error **err);

/* Writes the archive to o->dest: "-" is o->stdout_fd; a file is written under a temporary
 * name and renamed when complete. */
int export_write_dest(struct export_ctx *c, enum export_archive_kind kind, struct kl_error **err);

/* The outputs (output-*.c). */
int export_output_oci(struct export_ctx *c, struct kl_error **err);
int export_output_docker(struct export_ctx *c, struct kl_error **err);
int export_output_push(struct export_ctx *c, struct kl_error **err);
int export_output_containerd(struct export_ctx *c, struct kl_error **err);
int export_output_kiln(struct export_ctx *c, const struct imgstore_image *im,
                       struct kl_error **err);

/* The Docker Engine API's POST /images/load with the archive at fd (export-dockerd.c, the one
 * file of exporters/ that includes curl.h). host is $DOCKER_HOST's form: unix:///PATH or
 * tcp://HOST:PORT (NULL: unix:///var/run/docker.sock). An error the daemon streams back is
 * -EIO with its message. */
int export_dockerd_load(const char *host, int fd, struct kl_error **err);
/* Reads the daemon's answer to a load (JSON lines; a line with "error" fails): 0, or -EIO with
 * the daemon's message. Exposed for tests. */
int export_dockerd_answer(const char *body, size_t len, struct kl_error **err);

/* A name for docker archives' RepoTags and daemons: "docker.io/library/kx:1" → "kx:1",
 * "docker.io/u/r:t" → "u/r:t", others unchanged. Caller frees. */
char *export_familiar_name(const char *normalized);
