/* dockerfile-parse — a Dockerfile to the raw form BuildKit's parser produces: one node per
 * instruction with the instruction word, its --flags, its arguments, its heredoc bodies and
 * its place. Arguments are what BuildKit's per-instruction line parsers make of the rest:
 *
 *   RUN CMD ENTRYPOINT SHELL   exec form (a JSON array of strings): one argument per element,
 *                              json set; otherwise one argument, the rest of the line
 *   ADD COPY VOLUME            exec form, or the rest split at blanks
 *   FROM EXPOSE                the rest split at blanks
 *   ENV LABEL                  key, value, separator for each pair ("=" or "" for the legacy
 *                              `ENV key value` form); quotes are kept, expansion comes later
 *   ARG                        the words (quotes kept)
 *   HEALTHCHECK                the type word, then like CMD
 *   MAINTAINER USER WORKDIR STOPSIGNAL   the rest as one argument
 *   ONBUILD                    no arguments: `sub` is the wrapped instruction
 *   anything else              one empty argument (the instruction layer rejects it)
 *
 * Nothing is expanded or validated beyond that: dockerfile-instr.h builds typed, checked
 * instructions from these nodes. Pure and reentrant. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "frontend/dockerfile-diag.h"
#include "frontend/dockerfile-lex.h"
#include "util/cleanup.h"

struct kl_error;

#define DOCKERFILE_MAX_ONBUILD_DEPTH 16u /* ONBUILD ONBUILD … nesting the raw parser takes */

/* A string that may hold NULs (a JSON "\u0000"): s[len] is always '\0'. */
struct dockerfile_word {
	char *s;
	size_t len;
};

struct dockerfile_heredoc {
	char *name;    /* the terminating word, quotes removed */
	char *content; /* the body's raw lines, line endings kept, tabs not yet stripped */
	size_t content_len;
	unsigned fd; /* N of N<<EOF, 0 when not given */
	bool expand; /* the word was not quoted: variables in the body are expanded */
	bool chomp;  /* <<-: leading tabs are stripped from the body's lines */
};

struct dockerfile_node {
	char *value;  /* the instruction word as written ("RUN", "run", "Run") */
	char **flags; /* "--name" or "--name=value", quotes removed, in order */
	size_t n_flags;
	struct dockerfile_word *args; /* see the table above */
	size_t n_args;
	struct dockerfile_node *sub; /* ONBUILD's instruction, else NULL */
	struct dockerfile_heredoc *heredocs;
	size_t n_heredocs;
	bool json;      /* the arguments came from a JSON array (exec form) */
	char *original; /* the logical line: physical lines joined, continuations removed */
	unsigned start_line, end_line; /* 1-based; end_line covers heredoc bodies */
};

struct dockerfile {
	struct dockerfile_node *nodes;
	size_t n_nodes;
	char escape; /* '\\' or '`' */
	/* # syntax= also counts right after a first "#!" line, as BuildKit detects it */
	struct dockerfile_directive directives[_DOCKERFILE_DIRECTIVE_MAX];
	struct dockerfile_warnings warnings;
};

struct dockerfile_parse_options {
	/* Receives the error's details (file, lines, source line) when the parse fails and it is
	 * not NULL; the caller frees them with dockerfile_error_free. */
	struct dockerfile_error **error;
};

/* Parses src (src->name names it in messages; NULL: "Dockerfile"). On success *ret is the
 * caller's (dockerfile_free). -EINVAL with "Dockerfile:LINE: message" for: a file over
 * DOCKERFILE_MAX_SIZE or a line over DOCKERFILE_MAX_LINE, a repeated or bad directive, an
 * unterminated heredoc (at the line it starts on), an exec form whose array holds a non-string,
 * ENV/LABEL without a value or with a word lacking "=", ONBUILD nested past
 * DOCKERFILE_MAX_ONBUILD_DEPTH, a file with no instructions. Warnings (an empty continuation
 * line, a frontend image in # syntax=) go to (*ret)->warnings. */
int dockerfile_parse(const struct dockerfile_source *src,
                     const struct dockerfile_parse_options *opts, struct dockerfile **ret,
                     struct kl_error **err);

/* Frees df (NULL-safe) and returns NULL. */
struct dockerfile *dockerfile_free(struct dockerfile *df);
/* For _cleanup_(dockerfile_freep). */
KL_DEFINE_CLEANUP(struct dockerfile *, dockerfile_free)
