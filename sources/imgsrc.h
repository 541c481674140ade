/* imgsrc — an OCI or Docker image as a tree: the manifest and config are fetched and verified,
 * every layer becomes a diff tree, and the image's tree is their merge. Plain tar / tar+gzip
 * layers are read once, streaming, on first use (contents ingested into the store, deduplicated);
 * zstd:chunked and eStargz layers give their table of contents only, and file bytes are fetched
 * with range requests when read ("layer:" locators). */
#pragma once
#include "fs/digest.h"

struct kl_error;
struct provider_set;
struct source_options;
struct store;

/* Resolves docker-image://… or oci-layout://… into the image's merged tree. */
int imgsrc_resolve(struct store *s, const char *spec, const struct source_options *opts,
                   struct digest *ret, struct kl_error **err);
/* As imgsrc_resolve, and the digest of the (platform's) manifest goes to ret_manifest: what
 * names the image's content, for cache keys. */
int imgsrc_resolve_manifest(struct store *s, const char *spec, const struct source_options *opts,
                            struct digest *ret, struct digest *ret_manifest, struct kl_error **err);
/* Registers the "layer:" provider (range reads of chunked layers from their registry, with the
 * credentials of opts->auth_file, a Docker config.json copied here, and opts->
 * registry_timeout_ms; opts NULL: anonymous, the default timeout). */
void imgsrc_add_provider(struct provider_set *ps, struct store *s,
                         const struct source_options *opts);
