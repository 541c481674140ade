/* imgsrc — an OCI or Docker image as a tree: the manifest and config are fetched and verified,
 * every layer becomes a diff tree, and the image's tree is their merge. Plain tar / tar+gzip
 * layers are read once, streaming, on first use (contents ingested into the store, deduplicated);
 * zstd:chunked and eStargz layers give their table of contents only, and file bytes are fetched
 * with range requests when read ("layer:" locators).
 *
 * Two ways to name an image: a source spec (docker-image://REF, oci-layout://DIR[:tag]) always
 * goes where it says, the registry or the layout; a name as a Dockerfile's FROM writes it
 * ("busybox", "localhost:5000/app:1") is looked up in kiln's image index (imgstore.h) first,
 * and pulled from its registry by a pull policy, as Buildah and Podman do. */
#pragma once
#include "fs/digest.h"

struct imgstore_image;
struct kl_error;
struct provider_set;
struct source_options;
struct store;

/* When a name is pulled from its registry rather than taken from kiln's image index. */
enum imgsrc_pull_policy {
	IMGSRC_PULL_MISSING, /* the default (Buildah's): the index when it has the name */
	IMGSRC_PULL_ALWAYS,  /* always pull, and record what was pulled */
	IMGSRC_PULL_NEVER,   /* the index only; a name it lacks is an error */
	IMGSRC_PULL_NEWER,   /* pull, but keep to the index's image when the registry fails */
	_IMGSRC_PULL_MAX
};

/* Parses "always", "missing", "never", "newer" and the spellings Buildah and Podman also take
 * ("true" = always, "false" and "ifmissing" = missing, "ifnewer" = newer); -EINVAL with a
 * message listing them otherwise. */
int imgsrc_pull_policy_parse(const char *s, enum imgsrc_pull_policy *ret, struct kl_error **err);
const char *imgsrc_pull_policy_name(enum imgsrc_pull_policy p);

/* Resolves docker-image://… or oci-layout://… into the whole image (free with
 * imgstore_image_done): its config (kept in the store), each layer's diff tree, diff id,
 * original blob descriptor with its annotations and origin, the manifest's digest and the
 * merged tree. Nothing is recorded in the image index. */
int imgsrc_resolve_image(struct store *s, const char *spec, const struct source_options *opts,
                         struct imgstore_image *ret, struct kl_error **err);
/* Resolves docker-image://… or oci-layout://… into the image's merged tree. */
int imgsrc_resolve(struct store *s, const char *spec, const struct source_options *opts,
                   struct digest *ret, struct kl_error **err);

/* The image of a name (not a spec: "busybox", "docker.io/library/busybox:latest",
 * "localhost:5000/app@sha256:…") by policy: from kiln's image index with no network, or
 * pulled from the name's registry (docker-image://<normalized name>) and recorded in the index
 * under the normalized name. An explicit opts->platform that the indexed image is not for
 * counts as missing. ret gets the image, ret_record (may be NULL) its record. The policy
 * "never" fails with -ENOENT and a message naming the normalized name when the index lacks
 * it; "newer" falls back to the indexed image when the pull fails. */
int imgsrc_resolve_named(struct store *s, const char *name, enum imgsrc_pull_policy policy,
                         const struct source_options *opts, struct imgstore_image *ret,
                         struct digest *ret_record, struct kl_error **err);

/* What `kiln pull` does with spec: a name or docker-image://REF by policy, as
 * imgsrc_resolve_named; an oci-layout://DIR[:tag|@digest] read now and recorded under the name
 * Podman gives it, localhost/<DIR's last component>:<tag> (or @digest; tag "latest" when the
 * spec has neither). ret gets the image; ret_name (may be NULL) the name it was recorded under
 * (caller frees), or NULL for a layout whose directory makes no valid name (uppercase…). */
int imgsrc_pull(struct store *s, const char *spec, enum imgsrc_pull_policy policy,
                const struct source_options *opts, struct imgstore_image *ret, char **ret_name,
                struct kl_error **err);
/* The name a layout's image is recorded under (see imgsrc_pull), normalized; -EINVAL when spec
 * is not oci-layout://… or its directory makes no valid name. */
int imgsrc_layout_name(const char *spec, char **ret);

/* Registers the "layer:" provider (range reads of chunked layers from their registry, with the
 * credentials of opts->auth_file, a Docker config.json copied here, and opts->
 * registry_timeout_ms; opts NULL: anonymous, the default timeout). */
void imgsrc_add_provider(struct provider_set *ps, struct store *s,
                         const struct source_options *opts);
