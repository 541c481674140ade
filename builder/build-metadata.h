/* build-metadata — the --metadata-file JSON that `kiln build` and `kiln solve` write, as
 * BuildKit writes its keys (containerimage.digest, .descriptor, .config.digest, image.name)
 * and then kiln's (kiln.tree, kiln.layers_made, kiln.layers_reused, kiln.stages), and the
 * --iidfile. */
#pragma once
#include <stddef.h>

#include "fs/digest.h"

struct build_stage;
struct export_result;
struct kl_error;

struct build_metadata {
	const struct export_result *export; /* the first image export's result, or NULL */
	/* An image kept in kiln's index alone has no manifest: its id stands for it, as in the
	 * metadata of BuildKit's exporter into Docker's image store. NULL: none (or exported). */
	const struct digest *image_id;
	const char *const *tags; /* -t names, for image.name (normalized); NULL: none */
	size_t n_tags;
	struct digest tree; /* the result's tree */
	size_t layers_made, layers_reused;
	const struct build_stage *stages; /* each built stage's tree; NULL: no kiln.stages */
	size_t n_stages;
};

/* Writes m as JSON to path (created or truncated). -errno with err naming the file. */
int build_metadata_write(const char *path, const struct build_metadata *m, struct kl_error **err);
/* Writes id ("sha256:…", no newline, as docker build's --iidfile) to path. */
int build_iidfile_write(const char *path, const struct digest *id, struct kl_error **err);
