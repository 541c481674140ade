/* build-provenance — what the SLSA provenance of a `kiln solve` says (kiln build's own is in
 * build-internal.h; both share the graph's part): the graph's sources as materials (images
 * named by reference with their manifest digests, git sources with their commits, local
 * sources with their trees, http files with their digests), the graph file as the config
 * source, the build's times. Secrets never appear: they are no source of the graph. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "exporters/export.h"
#include "fs/digest.h"

struct graph;
struct solve_result;

struct build_solve_provenance {
	enum export_provenance mode;
	const struct graph *graph;
	const struct solve_result *sr; /* its contents name the commits and manifests */
	const char *graph_name;        /* the graph file ("-": standard input) */
	struct digest graph_digest;    /* of the graph's JSON text */
	const char *platform;          /* of images without their own; NULL: linux/amd64 */
	int64_t started, finished;     /* unix seconds */
	bool reproducible;             /* SOURCE_DATE_EPOCH was given */
};

/* Fills ret (free with export_provenance_info_done); mode NONE gives an empty one. */
void build_provenance_solve(const struct build_solve_provenance *in,
                            struct export_provenance_info *ret);
