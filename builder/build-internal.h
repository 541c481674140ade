/* build-internal — what build.c shares with its helpers: the images the conversion resolved
 * (build-resolve.c), the layer diffs (build-layers.c) and the provenance's inputs
 * (build-provenance.c). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "exporters/export.h"
#include "frontend/dockerfile-convert.h"
#include "fs/digest.h"

struct build_options;
struct graph;
struct imgstore_image;
struct kl_error;
struct solve_result;
struct source_options;
struct store;

/* The resolver's images, by handle (index). */
struct build_images {
	struct store *s;
	const struct source_options *src;
	int pull_policy; /* enum imgsrc_pull_policy */
	struct imgstore_image *v;
	size_t n;
	/* progress: one "[internal] load metadata for NAME" per image, with its time */
	char **names;
	int64_t *started_ns, *done_ns;
};

/* A dockerfile_resolve_fn over a struct build_images: a source spec (docker-image://,
 * oci-layout://) goes where it says, a name to kiln's image index first (pulled by the
 * policy); the graph names the image by its merged tree. */
int build_resolve(void *userdata, const char *ref, const char *platform,
                  struct dockerfile_image *ret, struct kl_error **err);
void build_images_done(struct build_images *b);

/* The diff tree of each of st's layers (lower's tree to upper's, from trees[] of the solve),
 * memoized in the cache index; empty[i] tells a diff that changes nothing. */
int build_layer_diffs(struct store *s, const struct dockerfile_stage_result *st,
                      const struct digest *trees, struct digest *ret, bool *empty,
                      struct kl_error **err);

/* What the provenance of a build says, from what the build knew. */
struct build_provenance_input {
	enum export_provenance mode;
	const struct build_options *opts;
	const struct graph *graph;
	const struct solve_result *sr; /* its contents name the git commits */
	const struct build_images *images;
	const char *dockerfile_name;
	struct digest dockerfile_digest;
	const char *const *locals; /* the local sources' names */
	size_t n_locals;
	int64_t started, finished; /* unix seconds */
	bool has_epoch;
};

/* The provenance info: materials (each base image by manifest digest, else its id; each git
 * source's commit; each local source's tree), the Dockerfile, the build args (which never
 * hold secrets: those are --secret's). Free with export_provenance_info_done. */
void build_provenance(const struct build_provenance_input *in, struct export_provenance_info *ret);
