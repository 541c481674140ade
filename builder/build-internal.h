/* build-internal — what build.c shares with its helpers: the images the conversion resolved
 * (build-resolve.c) and the layer diffs (build-layers.c). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "frontend/dockerfile-convert.h"
#include "fs/digest.h"

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
