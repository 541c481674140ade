/* dockerfile-diag — what the frontend tells a person about a Dockerfile: one error with its
 * place (file, lines, column, the source line to show) and a list of warnings. Errors are also
 * reported the kiln way, as -EINVAL with a kl_error reading "Dockerfile:LINE: message". */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct kl_error;

/* The text a Dockerfile was parsed from (lent; it outlives the parse). */
struct dockerfile_source {
	const char *name; /* shown in messages: "Dockerfile" unless the caller says otherwise */
	const char *data;
	size_t len;
};

struct dockerfile_error {
	char *file;        /* the source's name */
	unsigned line;     /* 1-based first line of what is wrong; 0: the file as a whole */
	unsigned end_line; /* last line (== line for one line; 0 with line 0) */
	unsigned column;   /* 1-based, 0 when not known */
	char *message;     /* without the "file:line: " prefix, one line */
	char *source_line; /* the text of line `line` (no newline); NULL with line 0 */
};

/* Frees e (NULL-safe) and returns NULL. */
struct dockerfile_error *dockerfile_error_free(struct dockerfile_error *e);

/* Records an error at lines line..end_line (0 for the whole file): *err gets
 * "NAME:LINE: message" ("NAME: message" for line 0) and, when ret is not NULL and *ret is still
 * NULL, *ret the details. Returns -EINVAL. */
int dockerfile_error_at(const struct dockerfile_source *src, unsigned line, unsigned end_line,
                        unsigned column, struct dockerfile_error **ret, struct kl_error **err,
                        const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* As dockerfile_error_at for an error already in *err (from the expander, say): its message
 * gets the location in front; the code (negative) is returned as it was. A no-op but for the
 * return value when err or *err is NULL. */
int dockerfile_error_locate(const struct dockerfile_source *src, unsigned line, unsigned end_line,
                            struct dockerfile_error **ret, struct kl_error **err, int code);

/* What BuildKit prints under an error at lines line..end_line: "NAME:LINE", a rule, the lines
 * around (two before, at most ten of the range, each " %4u | " and ">>> " on the range), a
 * rule; each line ends with '\n'. A new string; NULL for line 0. */
char *dockerfile_excerpt(const struct dockerfile_source *src, unsigned line, unsigned end_line);

struct dockerfile_warning {
	unsigned line;  /* 1-based line it is about; 0: the file */
	char *message;  /* one line, as BuildKit words it */
	char *detail;   /* a second line of explanation, or NULL */
	char *url;      /* where Docker's documentation explains it, or NULL */
	bool from_lint; /* a check (BuildKit's linter) rather than the parser */
};

struct dockerfile_warnings {
	struct dockerfile_warning *v;
	size_t n, cap;
};

/* Appends a warning (detail and url may be NULL). */
void dockerfile_warnings_add(struct dockerfile_warnings *w, unsigned line, const char *detail,
                             const char *url, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Frees the list's contents. */
void dockerfile_warnings_done(struct dockerfile_warnings *w);
