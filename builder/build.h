/* build — `kiln build`'s library part: a Dockerfile and its contexts to an image, as `docker
 * build` and `buildctl build` make one. The Dockerfile is parsed and converted to one graph
 * (frontend/dockerfile-convert.h; base images looked up in kiln's image index or pulled), the
 * graph solved (solver/solve.h), each layer-producing instruction's diff computed (memoized in
 * the cache index, so a no-op rebuild computes none), and the image — config plus the chain of
 * diff trees — kept in kiln's image index under every -t name (and type=image outputs that
 * neither push nor go to containerd) as Buildah keeps images: nothing compressed, each new
 * layer's diff id from its tar hashed once (layer_diff_id) and the config finished as an
 * export finishes it, so its id is what every later export keeps. Every other image --output
 * goes through export_run() (a layer compressed once is found in its record by every later
 * export, so a no-op rebuild compresses nothing); type=local and type=tar write the filesystem.
 *
 * One call per process: solve_run() makes the mount namespace private. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/digest.h"
#include "solver/progress.h"

struct build_output;
struct kl_error;
struct solve_options;
struct source_options;
struct store;

/* --build-context NAME=VALUE. */
struct build_context {
	const char *name;
	const char *value; /* a directory, docker-image://REF, oci-layout://…, or a git URL */
};

struct build_options {
	/* The Dockerfile: its text when the caller read it (stdin), else the file at path
	 * (NULL: <context>/Dockerfile). Its name in messages is its base name. */
	const char *dockerfile_path;
	const char *dockerfile_text;
	size_t dockerfile_len;
	/* The context: a directory, a git URL (…#ref:subdir), or neither (no context). */
	const char *context_dir;
	const char *context_git;
	const char *target;
	const char *const *build_args; /* "K=V" */
	size_t n_build_args;
	const char *const *labels; /* "K=V" */
	size_t n_labels;
	const struct build_context *contexts;
	size_t n_contexts;
	const char *platform; /* --platform; NULL: the build platform */
	const char *const *tags;
	size_t n_tags;
	bool no_cache;
	const char *const *no_cache_filter;
	size_t n_no_cache_filter;
	bool network_none;
	int pull_policy; /* enum imgsrc_pull_policy when the image index has it; 0: missing */
	/* Secrets, ssh, runtime, --allow, progress and cancel for the solve: the build adds its
	 * locals (the caller's stay first). */
	const struct solve_options *solve;
	const struct source_options *sources;
	const struct build_output *const *outputs;
	size_t n_outputs;
	const char *iidfile;
	const char *metadata_file;
	/* Keep the image in kiln's index even without a -t name (its record alone), so that
	 * image_id is known when no output exports one (-q, --iidfile). */
	bool keep_image;
	/* The exports' caller fields (exporters/export.h): the Docker daemon ($DOCKER_HOST; NULL:
	 * its default socket), bytes of one registry upload PATCH (0: the default), and the
	 * provenance attached to every image output (enum export_provenance; 0: none). Credentials,
	 * insecure registries and the registry timeout come from sources. */
	const char *docker_host;
	uint64_t registry_chunk;
	int provenance;
	int64_t now; /* seconds since the epoch, for `created` without SOURCE_DATE_EPOCH */
	/* Lines a person should see (unused build args, Dockerfile warnings), one call each;
	 * may be NULL. */
	void (*warn)(void *userdata, const char *line);
	void *warn_userdata;
};

struct build_stage {
	char *name;
	bool built;
	struct digest tree;
};

struct build_result {
	struct digest image_id; /* the config's digest (all zero: no image kept or exported) */
	struct digest tree;     /* the target's filesystem */
	size_t layers_made;     /* layers the exports compressed (0 on a no-op rebuild) */
	size_t layers_reused;   /* layers found in their records or kept as the base's blobs */
	char *config;           /* the config JSON */
	struct build_stage *stages;
	size_t n_stages;
	bool has_failed_tree; /* a RUN failed: its filesystem, for kiln mount */
	struct digest failed_tree;
	/* on a failure at a Dockerfile line, set even when build_run fails: the lines around
	 * it as BuildKit shows them (dockerfile_excerpt), for the caller to print */
	char *excerpt;
};

void build_result_done(struct build_result *r);

/* Builds. Errors: the Dockerfile's ("Dockerfile:LINE: message", with the line shown in err's
 * message as BuildKit shows it), the solve's (a failing RUN: "process "/bin/sh -c false" did not
 * complete successfully: exit code: 1" at its Dockerfile line), an output's. -ECANCELED when
 * opts->solve->cancel_fd fired. */
int build_run(struct store *s, const struct build_options *opts, struct build_result *ret,
              struct kl_error **err);
