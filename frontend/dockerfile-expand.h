/* dockerfile-expand — word expansion as Docker's shell lexer (BuildKit's shell.Lex) does it:
 * single and double quotes, the escape character, $var and ${var}, the operators ${v:-w}
 * ${v-w} ${v:+w} ${v+w} ${v:?m} ${v?m} ${v#p} ${v##p} ${v%p} ${v%%p} ${v/p/r} ${v//p/r}, and
 * the split into words that exec-form and ENV processing use.
 *
 * Pure and reentrant: variables come from a lookup callback, nothing is global. Patterns are
 * matched with Go's regexp semantics as BuildKit converts them (`*` `?` match any character but
 * a newline; `#`/`%` take the shortest match, `##`/`%%`/`/` the longest, leftmost first). Names
 * are ASCII letters, digits and '_' (BuildKit also takes non-ASCII letters). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct kl_error;

#define DOCKERFILE_MAX_EXPANSION (16u << 20) /* bytes in one expansion's result */
#define DOCKERFILE_MAX_EXPANDED (32u << 20)  /* bytes all expansions of one call give */
#define DOCKERFILE_MAX_NESTING 64u           /* ${…} inside ${…} inside … */

enum dockerfile_expand_flags {
	DOCKERFILE_EXPAND_RAW_QUOTES = 1 << 0,  /* keep the quote characters in the result */
	DOCKERFILE_EXPAND_RAW_ESCAPES = 1 << 1, /* keep the escape characters in the result */
	DOCKERFILE_EXPAND_SKIP_UNSET = 1 << 2,  /* leave references to unset variables as written */
	DOCKERFILE_EXPAND_SKIP_QUOTES = 1
	                                << 3, /* quotes are ordinary characters (heredoc bodies) */
};

/* Looks a variable up: returns true and sets *ret_value (not NUL-terminated needed: with
 * *ret_len bytes, lent until the expansion returns) when name is set, false when it is not.
 * name is NUL-terminated: ASCII letters, digits and '_', or one of @*#?-$! for the special
 * parameters (normally unset). */
typedef bool (*dockerfile_lookup_fn)(void *userdata, const char *name, const char **ret_value,
                                     size_t *ret_len);

struct dockerfile_expander {
	char escape;                 /* '\\' or '`' (the Dockerfile's escape directive) */
	unsigned flags;              /* enum dockerfile_expand_flags */
	dockerfile_lookup_fn lookup; /* NULL: every variable is unset */
	void *userdata;
};

/* A lookup over "KEY=VALUE" strings (as --build-arg and ENV lists hold them): the last
 * definition of a key wins, keys are case-sensitive, "KEY" alone is set and empty. */
struct dockerfile_envlist {
	const char *const *kv;
	size_t n;
};
/* A dockerfile_lookup_fn whose userdata is a struct dockerfile_envlist. */
bool dockerfile_envlist_lookup(void *userdata, const char *name, const char **ret_value,
                               size_t *ret_len);

/* Expands word[0..len) into one string (BuildKit's ProcessWord): *ret is malloc'd and
 * NUL-terminated, *ret_len its length (it may hold NULs when variables do). -EINVAL with
 * "failed to process "WORD": …" for an unterminated quote or ${, a bad substitution, a
 * ${v?m} / ${v:?m} whose variable is unset (or empty), an invalid pattern, or -E2BIG past
 * DOCKERFILE_MAX_EXPANSION, DOCKERFILE_MAX_EXPANDED or DOCKERFILE_MAX_NESTING. */
int dockerfile_expand(const struct dockerfile_expander *ex, const char *word, size_t len,
                      char **ret, size_t *ret_len, struct kl_error **err);

/* Expands word and splits it into words (BuildKit's ProcessWords): unquoted white space
 * separates words, quoted text and escaped characters never do, text that variables expand to
 * is split too; empty words are dropped. *ret is a malloc'd array of *ret_n malloc'd strings
 * (free with dockerfile_words_free). Errors as dockerfile_expand. */
int dockerfile_expand_words(const struct dockerfile_expander *ex, const char *word, size_t len,
                            char ***ret, size_t *ret_n, struct kl_error **err);

/* Frees an array of n strings (NULL-safe). */
void dockerfile_words_free(char **words, size_t n);
