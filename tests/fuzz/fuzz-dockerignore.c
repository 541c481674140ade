// SPDX-License-Identifier: Apache-2.0
/* Fuzz target for dockerignore: any text is parsed or rejected with a message naming the file
 * and line, and paths taken from the same input match without crashing, a lone match agreeing
 * with a top-down walk that hands parent results down when there are no exceptions. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sources/dockerignore.h"
#include "util/error.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

#define MAX_PATH_LEN 512u

/* Cleans a candidate path the way a walk would spell it: no empty, "." or ".." components. */
static size_t
clean(const char *in, size_t n, char *out)
{
	size_t w = 0, i = 0;

	while (i < n) {
		size_t start = i;

		while (i < n && in[i] != '/')
			i++;
		if (i > start && !(i - start == 1 && in[start] == '.') &&
		    !(i - start == 2 && in[start] == '.' && in[start + 1] == '.')) {
			if (w)
				out[w++] = '/';
			for (size_t k = start; k < i; k++)
				out[w++] = in[k] ? in[k] : '_';
		}
		i++;
	}
	return w;
}

static bool
has_exceptions(const struct dockerignore *d)
{
	for (size_t i = 0; i < dockerignore_count(d); i++) {
		bool exc;

		(void)dockerignore_pattern(d, i, &exc);
		if (exc)
			return true;
	}
	return false;
}

static void
check_path(const struct dockerignore *d, const char *path, size_t len)
{
	size_t n = dockerignore_count(d);
	uint8_t *info = xcalloc(n + 1, 1), *child = xcalloc(n + 1, 1);
	bool direct = dockerignore_match(d, path, len, NULL, NULL), walked = false, top = true;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && path[i] != '/')
			continue;
		walked = dockerignore_match(d, path, i, top ? NULL : info, child);
		memcpy(info, child, n);
		top = false;
		if (i < len && walked)
			(void)dockerignore_walk_excluded_dir(d, path, i);
	}
	/* Without exceptions a lone match and a walk agree; with them, a walk may differ, as
	 * BuildKit's MatchesUsingParentResults does (patterns skipped above are not rechecked). */
	CHECK(walked == direct || has_exceptions(d));
	free(info);
	free(child);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *split;
	struct dockerignore *d = NULL;
	struct kl_error *err = NULL;
	size_t text_len = size, paths_len = 0;
	char path[MAX_PATH_LEN];

	/* "patterns \0 path\npath\n…": the paths after the first NUL are matched */
	split = memchr(text, '\0', size);
	if (split) {
		text_len = (size_t)(split - text);
		paths_len = size - text_len - 1;
	}
	if (dockerignore_parse(text, text_len, "fuzz", &d, &err) < 0) {
		CHECK(err && !strncmp(err->msg, "fuzz", 4));
		kl_error_free(err);
		return 0;
	}
	CHECK(!err);
	for (size_t i = 0; i < dockerignore_count(d); i++) {
		bool exc;
		CHECK(dockerignore_pattern(d, i, &exc) != NULL);
	}
	for (const char *p = split ? split + 1 : NULL, *end = p ? p + paths_len : NULL;
	     p && p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p), len;

		if (n > MAX_PATH_LEN / 2)
			n = MAX_PATH_LEN / 2;
		len = clean(p, n, path);
		if (len)
			check_path(d, path, len);
		p = nl ? nl + 1 : end;
	}
	dockerignore_free(d);
	return 0;
}
