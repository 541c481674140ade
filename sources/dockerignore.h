/* dockerignore — parsing and matching .dockerignore files with Docker's (BuildKit's) semantics.
 *
 * Parsing follows moby's ignorefile.ReadAll and patternmatcher.New: one pattern a line, a UTF-8
 * BOM dropped, lines starting with '#' are comments, surrounding whitespace trimmed, blank lines
 * skipped, '!' marks an exception, each pattern cleaned like Go's filepath.Clean with a leading
 * '/' dropped, and its syntax checked like filepath.Match ("[", a trailing "\" are errors).
 *
 * Matching follows patternmatcher.MatchesUsingParentResults: '*' and '?' never match '/', "[…]"
 * classes ("[^…]" negated), "\" escapes, "**" matches any number of directories; a pattern
 * matches a path when it matches the path or one of its parent directories, and the last
 * pattern that matches decides (an exception includes). Callers walk top-down and hand each
 * entry its parent's match info, so parent directories are never matched again.
 *
 * Pure: no I/O. A parsed set is immutable and may be shared between threads. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/cleanup.h"

struct kl_error;
struct dockerignore;

#define DOCKERIGNORE_MAX_SIZE (16u << 20) /* bytes in one ignore file */
#define DOCKERIGNORE_MAX_LINE 65535u      /* bytes in one line (Go's bufio.Scanner limit) */

/* Parses the text of an ignore file (len bytes, need not be NUL-terminated). name is how
 * messages call the file: a bad line fails with -EINVAL and "name:line: …". */
int dockerignore_parse(const char *text, size_t len, const char *name, struct dockerignore **ret,
                       struct kl_error **err);
struct dockerignore *dockerignore_free(struct dockerignore *d);
KL_DEFINE_CLEANUP(struct dockerignore *, dockerignore_free)

/* Number of patterns; match info arrays hold this many bytes. */
size_t dockerignore_count(const struct dockerignore *d);
/* Pattern i as cleaned (without its '!'); *ret_exception tells whether it had one. */
const char *dockerignore_pattern(const struct dockerignore *d, size_t i, bool *ret_exception);

/* Whether path (relative, clean, '/'-separated, len bytes) is excluded. parent_info is the
 * match info of its parent directory, or NULL for entries at the top of the context (and for
 * a path matched on its own: then its parent directories are matched too). ret_info, when
 * non-NULL, receives dockerignore_count() bytes to pass to the path's children. */
bool dockerignore_match(const struct dockerignore *d, const char *path, size_t len,
                        const uint8_t *parent_info, uint8_t *ret_info);

/* Go's path/filepath.Match of name against pattern (neither need be NUL-terminated): '*' and
 * '?' never match '/', "[…]" classes ("[^…]" negated), a backslash escapes. 1 match, 0 no
 * match, -EINVAL for a malformed pattern. For the COPY globs of file ops. */
int dockerignore_filepath_match(const char *pattern, size_t plen, const char *name, size_t nlen);

/* Whether an excluded directory must still be walked because an exception may re-include
 * something below it (a "!" pattern with wildcards, or one naming a path inside it). */
bool dockerignore_walk_excluded_dir(const struct dockerignore *d, const char *dir, size_t len);
