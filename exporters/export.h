/* export — an image as it leaves kiln: its layer blobs, final config, manifest and (when asked
 * for) index in OCI or Docker media types, written as an OCI layout or tar, a Docker archive,
 * pushed to a registry, loaded into a Docker daemon, imported into containerd or named in
 * kiln's own image index. `kiln build --output`, `kiln solve --output`, `kiln push` and
 * `kiln save` all come through export_run().
 *
 * The image that goes out:
 *  - layers: a layer that kept its original blob (a base image's unchanged layer) goes out as
 *    that blob — same digest, same media type family, no recompression — unless
 *    force-compression asks for the requested compression; its bytes are read from the store,
 *    or fetched from its origin (registry, OCI layout) only when an output needs them (a push
 *    to the registry that holds it needs none: the blob is mounted or already there). Every
 *    other layer is layer_export()'s blob, found in its record when it was made before.
 *  - config: the image's own JSON with rootfs.diff_ids rewritten from the layers; its history,
 *    when it has one, made to count one non-empty entry per layer (missing entries added in
 *    front, extra ones marked empty_layer at the end); with SOURCE_DATE_EPOCH, `created` set to
 *    it and every history time later than it clamped to it, as BuildKit does. A config that
 *    needs none of this is kept byte for byte (a pulled image keeps its image id).
 *  - manifest: schema 2 with the config and layer descriptors (zstd:chunked and eStargz layers
 *    carry their table-of-contents annotations), annotations `annotation.K` and
 *    `annotation-manifest.K`.
 *  - the root: the manifest, or an image index holding it when provenance is attached or
 *    `annotation-index.K` names index annotations (BuildKit makes an index for these too). An
 *    index holds only the image's manifest by default; with provenance it also holds the
 *    attestation manifest (export-provenance.c).
 *
 * Media types: oci-mediatypes unset means OCI for type=oci and for images built by kiln,
 * Docker's for type=docker and for images pulled with Docker types; OCI is chosen anyway,
 * when unset, for what Docker's types cannot say (annotations, zstd, eStargz, attestations),
 * and refused with a message when oci-mediatypes=false was explicit.
 *
 * Not thread-safe per call; calls on distinct options may run concurrently. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exporters/layer.h"
#include "fs/digest.h"

struct imgstore_image;
struct kl_error;
struct provider_set;
struct store;

enum export_type {
	EXPORT_OCI,    /* an OCI image layout: a tar (dest=FILE or -) or a directory (tar=false) */
	EXPORT_DOCKER, /* a Docker archive (dest=FILE or -), else the Docker daemon's image store */
	EXPORT_IMAGE,  /* name=…: push=true to a registry; store=containerd into containerd;
	                * otherwise into kiln's own image index (without a name: its record
	                * alone, which gives the image id) */
	_EXPORT_TYPE_MAX
};

enum export_provenance {
	EXPORT_PROVENANCE_NONE,
	EXPORT_PROVENANCE_MIN, /* materials, config source, frontend, build platform, times */
	EXPORT_PROVENANCE_MAX, /* min + build args, local sources, the caller's build config */
	_EXPORT_PROVENANCE_MAX
};

/* Where an annotation goes: annotation.K and annotation-manifest.K on the manifest,
 * annotation-index.K on the image index, annotation-manifest-descriptor.K on the manifest's
 * entry in the index, annotation-index-descriptor.K on the root's entry in an OCI layout's
 * index.json. */
enum export_annotation_target {
	EXPORT_ANN_MANIFEST,
	EXPORT_ANN_INDEX,
	EXPORT_ANN_MANIFEST_DESCRIPTOR,
	EXPORT_ANN_INDEX_DESCRIPTOR,
	_EXPORT_ANN_MAX
};

struct export_annotation {
	enum export_annotation_target target;
	char *key, *value;
};

/* A build input the provenance names: uri as SLSA writes it ("https://github.com/o/r.git#main",
 * "pkg:docker/alpine@3.19?platform=linux%2Famd64", "kiln-context://context"), digest as
 * "ALGO:HEX" ("sha1:<git commit>", "sha256:<image manifest or tree id>"). */
struct export_material {
	char *uri;
	char *digest;
};

/* A build argument; secrets are never among them (the caller gives none). */
struct export_arg {
	char *key, *value;
};

/* What the provenance says; filled by the caller (kiln build), owned by the options. */
struct export_provenance_info {
	enum export_provenance mode;
	char *builder_id;    /* NULL: "kiln" */
	char *frontend;      /* "dockerfile.v0" */
	char *config_uri;    /* where the build definition came from (a git URL, a context) */
	char *config_digest; /* "ALGO:HEX" of it, or NULL */
	char *config_entry;  /* "Dockerfile" */
	char *invocation_id; /* a build id, or NULL */
	int64_t started_on;  /* unix seconds, 0: not said; clamped to the epoch when set */
	int64_t finished_on;
	char *build_platform; /* "linux/amd64"; NULL: the image's */
	char *build_config;   /* max: a JSON value describing the build steps, or NULL */
	bool reproducible;
	struct export_material *materials;
	size_t n_materials;
	struct export_arg *args;
	size_t n_args;
	char **locals; /* max: names of the local sources ("context", "dockerfile") */
	size_t n_locals;
};

/* Parsed from --output/--exporter-opt (export_options_parse/_set) except where marked. Free
 * with export_options_done; { 0 } with type set is a valid start. */
struct export_options {
	enum export_type type;
	char *dest;   /* oci/docker: a file, a directory (tar=false) or "-" (stdout); NULL: none */
	bool tar;     /* oci: a tar (default) or, false, a layout directory at dest */
	char **names; /* name=a,b (type=image, docker archives' tags, OCI ref names) */
	size_t n_names;
	bool push;
	bool push_by_digest; /* push only by digest, no tag */
	bool name_canonical; /* also name the image name@<digest> */
	bool insecure; /* registry.insecure=true: plain HTTP / unverified TLS to the names' hosts */
	int oci_mediatypes; /* -1 unset (see above), 0, 1 */
	bool has_compression;
	enum layer_compression compression; /* default gzip */
	int compression_level;              /* 0: the compressor's default */
	bool force_compression;
	bool rewrite_timestamp;
	char *dangling_name_prefix; /* an image without a name is named PREFIX@<digest> */
	bool store_containerd;      /* type=image,store=containerd */
	char *containerd_namespace; /* namespace=, default "kiln" */
	char *containerd_address;   /* address=, default /run/containerd/containerd.sock */
	struct export_annotation *annotations;
	size_t n_annotations;
	/* Filled by the caller, not by the parsers: */
	bool has_epoch; /* SOURCE_DATE_EPOCH (build arg or environment) */
	int64_t epoch;
	const char *docker_host; /* $DOCKER_HOST, or NULL: unix:///var/run/docker.sock */
	const char *auth_file;   /* registry credentials (a Docker config.json), or NULL */
	const char *const *insecure_registries; /* more hosts allowed over plain HTTP */
	size_t n_insecure_registries;
	unsigned registry_timeout_ms; /* 0: the registry client's default */
	uint64_t registry_chunk;      /* bytes of one upload PATCH; 0: REGISTRY_DEFAULT_CHUNK */
	const char *ctr_program;      /* NULL: "ctr" found on PATH */
	int stdout_fd;                /* where dest=- goes; 0 means STDOUT_FILENO */
	struct export_provenance_info provenance;
};

void export_options_done(struct export_options *o);
/* Frees what p holds and zeroes it (export_options_done does it for the options' own). */
void export_provenance_info_done(struct export_provenance_info *p);
/* Parses "oci", "docker", "image" (also "registry": type=image,push=true, as BuildKit). */
int export_type_parse(const char *s, enum export_type *ret, struct kl_error **err);
/* Starts o for type (defaults set); the caller then adds k=v with export_options_set. */
void export_options_init(struct export_options *o, enum export_type type);
/* Parses BuildKit's --output form "type=T,k=v,…" (CSV: a field may be quoted, as in
 * "name=a,b" or "annotation.k=v,w"); o is initialized here. A spec without type= (a bare
 * path or "-", BuildKit's local and tar exporters) is -ENOTSUP with a message; anything
 * unknown or malformed -EINVAL with a message naming the key. */
int export_options_parse(const char *spec, struct export_options *ret, struct kl_error **err);
/* One --exporter-opt k=v (or a field of --output) into o. */
int export_options_set(struct export_options *o, const char *key, const char *value,
                       struct kl_error **err);
/* Checks the options make sense together (a dest where one is needed, a name to push…);
 * export_run calls it, parsers' callers may call it earlier for a usage error. */
int export_options_check(const struct export_options *o, struct kl_error **err);
/* Parses --provenance's value: "mode=min", "mode=max", "min", "max", "true" (min), "false"
 * (none), also with ",k=v" fields BuildKit knows and kiln ignores (builder-id=…). */
int export_provenance_parse(const char *s, enum export_provenance *ret, struct kl_error **err);

/* What an export made, for --metadata-file and the caller's messages. */
struct export_result {
	struct digest digest; /* the root: the manifest, or the index when there is one */
	char *media_type;     /* the root's */
	uint64_t size;
	struct digest config; /* the config's digest: the image id */
	struct digest manifest;
	char *names;           /* the names it got, comma-separated, or NULL */
	size_t layers_reused;  /* layers found in their records or kept as original blobs */
	size_t layers_made;    /* layers compressed now */
	uint64_t bytes_pushed; /* blob bytes sent to a registry */
	size_t blobs_mounted;  /* blobs mounted from another repository */
};

void export_result_done(struct export_result *r);
/* The --metadata-file JSON as BuildKit writes it: containerimage.digest,
 * containerimage.descriptor, containerimage.config.digest, image.name. Caller frees. */
char *export_result_metadata(const struct export_result *r);

/* Exports im as o says: the image (above), then the output. Layer contents are read through
 * ps (lazy contents are fetched); blobs and records go to s. On failure nothing is tagged in
 * any index, and a partial dest file is removed. */
int export_run(struct store *s, struct provider_set *ps, const struct imgstore_image *im,
               const struct export_options *o, struct export_result *ret, struct kl_error **err);

/* The final config of an image, what export_run puts out (and kiln build keeps in the index,
 * so that both agree): rootfs.diff_ids set to diff_ids[0..n), history counting n non-empty
 * entries, times from the epoch when has_epoch (above). Returns 0 with *ret NULL when the
 * config needs no change, 1 with the new JSON in *ret (caller frees), -EBADMSG with a message
 * for a config that is not a JSON object. A finished config finishes unchanged. */
int export_config_finish(const char *json, size_t len, const struct digest *diff_ids, size_t n,
                         bool has_epoch, int64_t epoch, char **ret, size_t *ret_len,
                         struct kl_error **err);
/* For `kiln solve --output`: an image of one layer, tree itself (its diff against the empty
 * tree), with a minimal config for platform ("os/arch[/variant]", NULL: linux/amd64): no
 * entrypoint, one history entry "kiln solve", created from the epoch when o has one. The
 * image is not stored; free with imgstore_image_done. */
int export_image_from_tree(const struct digest *tree, const char *platform,
                           const struct export_options *o, struct imgstore_image *ret,
                           struct kl_error **err);
