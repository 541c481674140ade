/* dockerfile-lex — the line layer of a Dockerfile, as BuildKit's parser reads it: a UTF-8 BOM
 * dropped, parser directives (# syntax=, # escape=, # check=) only until the first line that
 * is not one, comments only at the start of a line, logical lines joined across the escape
 * character (white space after it tolerated; comment and blank lines inside a continuation
 * dropped, the blank ones noted for Docker's warning; a continuation may end the file), and the
 * raw lines of heredoc bodies on request. Used by dockerfile-parse.c; pure. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct dockerfile_error;
struct dockerfile_source;
struct kl_error;

#define DOCKERFILE_MAX_SIZE (16u << 20) /* bytes in a whole Dockerfile */
#define DOCKERFILE_MAX_LINE 65535u      /* bytes in one physical line, as BuildKit's scanner */
#define DOCKERFILE_MAX_DIRECTIVE_VALUE 4096u

enum dockerfile_directive_kind {
	DOCKERFILE_DIRECTIVE_SYNTAX,
	DOCKERFILE_DIRECTIVE_ESCAPE,
	DOCKERFILE_DIRECTIVE_CHECK,
	_DOCKERFILE_DIRECTIVE_MAX
};

struct dockerfile_directive {
	bool present;
	char *value;   /* as written, surrounding white space trimmed */
	unsigned line; /* 1-based */
};

struct dockerfile_lexer {
	const struct dockerfile_source *src; /* lent */
	size_t pos;                          /* offset of the next physical line */
	unsigned line;                       /* physical lines consumed */
	char escape;                         /* '\\' or '`' */
	bool directives_done;
	struct dockerfile_directive directives[_DOCKERFILE_DIRECTIVE_MAX];
};

/* One instruction's text: its physical lines joined, continuation characters removed. */
struct dockerfile_logical_line {
	char *text; /* malloc'd, NUL-terminated */
	size_t len;
	unsigned start_line, end_line; /* 1-based */
	bool empty_continuation;       /* a blank line was skipped inside the continuation */
};

/* Starts reading src. -EINVAL ("file is larger than 16 MiB") past DOCKERFILE_MAX_SIZE. */
int dockerfile_lexer_init(struct dockerfile_lexer *lx, const struct dockerfile_source *src,
                          struct dockerfile_error **ret_error, struct kl_error **err);
/* Frees what the lexer holds (the directives' values). */
void dockerfile_lexer_done(struct dockerfile_lexer *lx);

/* The next logical line: 1 with *ret filled (free ret->text), 0 at the end of the file, or
 * -EINVAL for a line over DOCKERFILE_MAX_LINE, a repeated directive or a bad escape token. */
int dockerfile_lexer_next(struct dockerfile_lexer *lx, struct dockerfile_logical_line *ret,
                          struct dockerfile_error **ret_error, struct kl_error **err);

/* Reads a heredoc body that starts at the next physical line: raw lines, line endings kept,
 * until a line that (without its line ending, and with chomp without its leading tabs) is
 * name. *ret is malloc'd (*ret_len bytes). -EINVAL "unterminated heredoc …" at start_line when
 * the file ends first. */
int dockerfile_lexer_heredoc(struct dockerfile_lexer *lx, const char *name, bool chomp,
                             unsigned start_line, char **ret, size_t *ret_len,
                             struct dockerfile_error **ret_error, struct kl_error **err);
