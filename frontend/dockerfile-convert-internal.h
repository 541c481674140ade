/* dockerfile-convert-internal — the conversion's state shared by its files: variables in
 * scope, each stage's dispatch state, the image config being made (dockerfile-convert-config.c),
 * COPY/ADD (dockerfile-convert-copy.c) and RUN (dockerfile-convert-run.c). */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frontend/dockerfile-convert.h"
#include "frontend/dockerfile-expand.h"
#include "frontend/dockerfile-instr.h"
#include "solver/graph.h"

/* "K=V" strings, a key set once (a later set replaces it in place, keeping the order). */
struct cv_vars {
	char **kv;
	size_t n, cap;
};

void cv_vars_set(struct cv_vars *v, const char *key, const char *value);
/* The value of key, or NULL. */
const char *cv_vars_get(const struct cv_vars *v, const char *key);
void cv_vars_copy(struct cv_vars *dst, const struct cv_vars *src);
void cv_vars_done(struct cv_vars *v);

enum cv_stage_state { CV_STAGE_NEW, CV_STAGE_BUSY, CV_STAGE_DONE, _CV_STAGE_STATE_MAX };

struct cv_stage {
	const struct dockerfile_instr *from;
	size_t first, end; /* its instructions after FROM: instrs->v[first..end) */
	char *name;        /* AS name (lowercased), NULL without */
	enum cv_stage_state state;
	uint32_t tree;  /* the vertex of its filesystem so far; GRAPH_NO_INPUT: the empty tree */
	int base_image; /* resolver handle at the root of its chain, -1: none */
	struct dockerfile_layer *layers;
	size_t n_layers, cap_layers;
	size_t n_base_history; /* history entries of the image at the root of its chain */
	json_t *image;         /* the image config document */
	struct cv_vars env;    /* ENV in scope (the config's Env) */
	struct cv_vars args;   /* ARGs declared in the stage, with their values */
	char *platform;
	unsigned cmd_index, cmd_total;
	bool ignore_cache;
	bool cmd_set; /* CMD given in this stage (an ENTRYPOINT then keeps it) */
};

/* An image the resolver gave, kept for every use of the same reference. */
struct cv_image {
	char *key; /* ref + "\n" + platform */
	struct dockerfile_image im;
	uint32_t vertex; /* its source vertex in this pass's graph, GRAPH_NO_INPUT: not added */
};

struct cv {
	const struct dockerfile *df;
	const struct dockerfile_instrs *in;
	const struct dockerfile_convert_options *o;
	bool collect; /* the first pass: only learn which context paths are used */
	struct graph *g;
	struct cv_stage *st;
	size_t n_st;
	struct cv_vars meta;  /* the meta ARGs' values (and the automatic platform ARGs) */
	struct cv_vars given; /* --build-arg */
	bool *given_used;     /* per given[i]: an ARG declared it */
	struct cv_vars proxy; /* the proxy args given */
	char *build_platform, *target_platform;
	uint32_t context;     /* the main context's vertex, GRAPH_NO_INPUT until used */
	uint32_t scratch;     /* a scratch source vertex, GRAPH_NO_INPUT until needed */
	bool context_all;     /* some use takes the whole context */
	struct cv_vars paths; /* the context paths used (keys only) */
	struct cv_image *images;
	size_t n_images, cap_images;
	uint32_t *named; /* per opts->contexts: its vertex, GRAPH_NO_INPUT until used */
	bool has_epoch;
	int64_t epoch;
	char *created;                      /* RFC 3339 of the epoch, or of opts->now */
	size_t vertex_count;                /* vertices added */
	const struct dockerfile_instr *cur; /* the instruction being dispatched */
	unsigned *lines; /* per vertex: its instruction's first and last line (0: none) */
	size_t cap_lines;
	struct kl_error **err;
};

/* The expander of a stage: its ENV over its ARGs (stage NULL: the meta args). */
struct cv_lookup {
	const struct cv_vars *first, *second;
};
void cv_expander(const struct cv *cv, const struct cv_stage *st, struct cv_lookup *lk,
                 struct dockerfile_expander *ret);

/* Expands one word of in with st's variables (NULL st: the meta args). */
int cv_expand(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in,
              const char *word, char **ret);
/* Expands and splits (ProcessWords). */
int cv_expand_words(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in,
                    const char *word, char ***ret, size_t *ret_n);
/* An error at in's lines. */
int cv_fail(struct cv *cv, const struct dockerfile_instr *in, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Adds v to the graph; returns its index (>= 0) or -errno. */
int cv_add(struct cv *cv, struct graph_vertex *v);
/* The progress name of the next op of st: "[stage-0 2/3] RUN make". A new string. */
char *cv_step_name(struct cv *cv, struct cv_stage *st, const char *text);
/* The display text of in (its original line, variables expanded where they expand). */
char *cv_instr_text(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in);

/* What a --from / from= names: a stage (dispatched first), a named context or an image; the
 * vertex of its tree goes to ret (GRAPH_NO_INPUT: the empty tree). is_context tells a local
 * context (whose files are owned 0:0 when copied). */
int cv_from_ref(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in,
                const char *ref, uint32_t *ret, bool *ret_is_context);
/* The main context's vertex, recording that path ("" or "/": all of it) is used. */
int cv_context(struct cv *cv, const char *path, uint32_t *ret);
/* Records a layer of st: lower's tree to st->tree, made by the history entry just added. */
void cv_add_layer(struct cv_stage *st, uint32_t lower);

/* The stage's working directory, user and shell from its config. */
const char *cv_workdir(const struct cv_stage *st);
const char *cv_user(const struct cv_stage *st);
/* The shell (default /bin/sh -c) as a new NULL-terminated vector (dockerfile_words_free). */
size_t cv_shell(const struct cv_stage *st, char ***ret);
/* The RUN environment: ENV, then ARGs ENV does not set, "K=V" (new strings). */
void cv_run_env(const struct cv_stage *st, struct cv_vars *ret);

/* dockerfile-convert-copy.c */
int cv_copy(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in);
/* dockerfile-convert-run.c */
int cv_run(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in);

/* dockerfile-convert-config.c: the image config document. */
json_t *cv_config_empty(const char *platform);
/* Parses a base image's config; -EINVAL with err for malformed JSON. */
int cv_config_parse(const char *text, const char *platform, json_t **ret, struct kl_error **err);
json_t *cv_config_obj(json_t *image); /* the "config" object, created when missing */
void cv_config_history(struct cv *cv, struct cv_stage *st, const char *created_by,
                       bool empty_layer);
/* The non-layer instructions: ENV LABEL EXPOSE VOLUME USER WORKDIR(config) CMD ENTRYPOINT
 * SHELL STOPSIGNAL HEALTHCHECK ONBUILD MAINTAINER. */
int cv_config_instr(struct cv *cv, struct cv_stage *st, const struct dockerfile_instr *in);
