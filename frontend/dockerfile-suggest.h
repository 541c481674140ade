/* dockerfile-suggest — "did you mean …?" as BuildKit suggests it: the option closest to a
 * misspelt word by Levenshtein distance (on runes), if that distance is under 3; ties go to the
 * option listed first. Pure. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

/* The option closest to val, or NULL when none is close or one equals val exactly. Without
 * case_sensitive the comparison ignores ASCII case and the answer takes val's case (all lower
 * or all upper) when val has one. Returns a new string. */
char *dockerfile_suggest(const char *val, const char *const *options, size_t n_options,
                         bool case_sensitive);
