/* dockerfile-pattern — the shell patterns of ${v#p} ${v%p} ${v/p/r}, matched as BuildKit does:
 * it turns them into Go regular expressions (`*` is `.*` or `.*?`, `?` is `.`, `\*` `\?` `\\`
 * are literal, `\}` and `\/` are `}` and `/`), so `*` and `?` never match a newline and a match
 * is the leftmost-first one of Go's regexp. Matching here is a small Pike VM over the
 * pattern's items: linear in the value's length times the pattern's, never backtracking. Used
 * by dockerfile-expand.c only. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct kl_strbuf;

/* Appends to out the value without its shortest (greedy: longest) prefix — or, with suffix,
 * suffix — that matches the pattern; the value unchanged when none does. A suffix trim
 * re-encodes invalid UTF-8 as U+FFFD, as BuildKit's rune reversal does. Returns 0, or -EINVAL
 * with *ret_msg (malloc'd) "invalid escape '\x'" for a bad escape in the pattern. */
int dockerfile_pattern_trim(const char *pat, size_t plen, const char *val, size_t vlen, bool suffix,
                            bool greedy, struct kl_strbuf *out, char **ret_msg);

/* Appends to out the value with its first (all: every) longest match of the pattern replaced:
 * literally for the first, through Go's template rules for all ($$ is '$', $0 / ${0} the match,
 * any other $name nothing), as BuildKit's ReplaceAllString does. Errors as above; -E2BIG when
 * out would pass max bytes. */
int dockerfile_pattern_replace(const char *pat, size_t plen, const char *val, size_t vlen,
                               const char *repl, size_t rlen, bool all, size_t max,
                               struct kl_strbuf *out, char **ret_msg);
