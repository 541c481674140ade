/* dockerfile-convert — a parsed Dockerfile's stages to one build graph (solver/graph.h), as
 * BuildKit's dockerfile2llb does it: only the stages the target needs enter the graph (so
 * independent stages run in parallel and unneeded ones are never built), FROM an image, an
 * earlier stage or a named context, COPY --from and RUN --mount from=, ARG/ENV scoping as
 * Docker has it, ONBUILD triggers of a base image, and, per stage, the image config the
 * Dockerfile makes of its base image's (Env, Cmd, Entrypoint, history…).
 *
 * The conversion runs nothing and reads nothing itself: base images come from a resolver
 * callback (the caller looks them up in its image index or pulls them, as BuildKit's
 * ResolveImageConfig), contexts are named local sources the caller binds at solve time. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dockerfile;
struct dockerfile_error;
struct dockerfile_instrs;
struct dockerfile_source;
struct dockerfile_warnings;
struct graph;
struct kl_error;

enum dockerfile_context_kind {
	DOCKERFILE_CONTEXT_LOCAL, /* a directory, bound at solve time under value */
	DOCKERFILE_CONTEXT_IMAGE, /* an image: value goes to the resolver */
	DOCKERFILE_CONTEXT_GIT,   /* a git URL#ref:subdir */
	_DOCKERFILE_CONTEXT_MAX
};

/* A named context (--build-context NAME=…): FROM NAME, COPY --from=NAME and RUN --mount
 * from=NAME take it instead of an image of that name. */
struct dockerfile_context {
	const char *name;
	enum dockerfile_context_kind kind;
	const char *value; /* local: the local source's binding name; image: a reference or
	                    * source spec for the resolver; git: the URL */
};

/* An image as the resolver gives it (strings malloc'd, the conversion frees them). */
struct dockerfile_image {
	char *ref;     /* what the graph's image source names (the resolver's own spelling) */
	char *display; /* the name progress shows ("docker.io/library/busybox:latest") */
	char *config;  /* the image's config JSON; NULL: none (an empty config) */
	int handle;    /* the resolver's name for it, given back in the stage results */
};

/* Resolves ref (as the Dockerfile gives it, after expansion) for platform ("os/arch[/v]").
 * Returns 0 with *ret filled, or -errno with err set. */
typedef int (*dockerfile_resolve_fn)(void *userdata, const char *ref, const char *platform,
                                     struct dockerfile_image *ret, struct kl_error **err);

struct dockerfile_convert_options {
	const struct dockerfile_source *src; /* the Dockerfile's text (names it in messages) */
	const char *target;                  /* the stage to build; NULL: the last one */
	const char *const *build_args;       /* "K=V" (--build-arg), the last one wins */
	size_t n_build_args;
	const char *const *labels; /* "K=V" (--label) added to the target's config */
	size_t n_labels;
	const char *build_platform;  /* "os/arch[/variant]"; NULL: linux/amd64 */
	const char *target_platform; /* --platform; NULL: the build platform */
	/* The main context's local source binding name; NULL: no context (an empty tree) */
	const char *context_name;
	bool context_keep_git_dir; /* the main context is a git source: keep .git */
	const char *context_git;   /* the main context as a git URL instead of a local source */
	const struct dockerfile_context *contexts;
	size_t n_contexts;
	/* Stages whose vertices ignore the cache (--no-cache-filter); no_cache: every stage */
	const char *const *no_cache_stages;
	size_t n_no_cache_stages;
	bool no_cache;
	bool network_none; /* --network none: RUN's default network */
	dockerfile_resolve_fn resolve;
	void *userdata;
	int64_t now; /* seconds since the epoch for `created` when SOURCE_DATE_EPOCH is unset */
	struct dockerfile_warnings *warnings; /* may be NULL */
	struct dockerfile_error **error;      /* details of an error at a line; may be NULL */
};

/* A layer a stage's image gets beyond its base image's: the diff from lower's tree to upper's
 * (vertex indices; GRAPH_NO_INPUT for the empty tree), made by history entry `history`. */
struct dockerfile_layer {
	uint32_t lower, upper;
	size_t history; /* index into the config's history */
};

struct dockerfile_stage_result {
	char *name;     /* AS name, else "stage-N" */
	bool built;     /* the target needs it: it is in the graph */
	uint32_t tree;  /* its result vertex (GRAPH_NO_INPUT: the empty tree) */
	int base_image; /* the resolver handle of the image at the root of its chain, -1: none */
	struct dockerfile_layer *layers; /* beyond the base image's, in order */
	size_t n_layers;
	size_t n_base_history; /* the config's first history entries: the base image's own */
	char *config;          /* the image config JSON (history and rootfs of the base's layers) */
	char *platform;
};

struct dockerfile_build {
	struct graph *graph;
	struct dockerfile_stage_result *stages;
	size_t n_stages;
	size_t target;
	uint32_t context; /* the main context's vertex, GRAPH_NO_INPUT when none is used */
	bool has_epoch;   /* SOURCE_DATE_EPOCH was given */
	int64_t epoch;
	/* per vertex i: lines[2i], lines[2i+1], its instruction's first and last line (0: none) */
	unsigned *lines;
	/* the build args given that nothing declared */
	char **unused_args;
	size_t n_unused_args;
};

/* Converts df's instructions. On success *ret is the caller's (dockerfile_build_done). Errors
 * are "Dockerfile:LINE: message" at the instruction (an unknown stage in --target or --from,
 * a circular dependency, bad --chown/--chmod, expansion errors, the resolver's failures). */
int dockerfile_convert(const struct dockerfile *df, const struct dockerfile_instrs *instrs,
                       const struct dockerfile_convert_options *opts, struct dockerfile_build *ret,
                       struct kl_error **err);
void dockerfile_build_done(struct dockerfile_build *b);

/* The stage's config with the history entries of its layers whose diff turned out empty
 * marked empty_layer (empty[i] for layer i; NULL: none): a new JSON string.
 *
 * created (NULL: the conversion's times stay) gives, per layer, when its vertex's result was
 * first made (seconds since the epoch, the solve's created[]; 0: not known), and the build's
 * own history entries (the base image's keep theirs) and `created` are set from it, so that a
 * rebuild from the cache gives the same config, as BuildKit takes them from its cache
 * records:
 *  - an entry that made a layer (RUN, COPY, ADD, also when its diff is empty): its vertex's
 *    time;
 *  - any other entry (ENV, LABEL, a layer whose time is not known): the time of the nearest
 *    entry before it that has one, or, before the first, of the first after it (BuildKit's
 *    rule: a metadata instruction at the top does not take a base layer's time);
 *  - when no entry of the build's has a time: the base image's last history time, else
 *    1970-01-01T00:00:00Z (FROM scratch with metadata only);
 *  - `created`: the latest of the build's entries' times.
 * With SOURCE_DATE_EPOCH the conversion's times are the epoch: pass NULL. */
char *dockerfile_stage_config(const struct dockerfile_stage_result *st, const bool *empty,
                              const int64_t *created);
