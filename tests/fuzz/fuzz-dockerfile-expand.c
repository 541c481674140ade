// SPDX-License-Identifier: Apache-2.0
/* Fuzz target for Docker's shell-word expansion: the first byte picks the escape character and
 * the flags, then "NAME=VALUE\n" lines up to an empty line are the variables and the rest is the
 * word. Any word expands or is refused with one message; the words it splits into never hold
 * white space that was not quoted, and expanding twice gives the same result. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/dockerfile-expand.h"
#include "frontend/dockerfile-mount.h"
#include "util/error.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

#define MAX_VARS 16

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *env[MAX_VARS];
	struct dockerfile_envlist list = {env, 0};
	struct dockerfile_expander ex = {.lookup = dockerfile_envlist_lookup, .userdata = &list};
	struct kl_error *err = NULL;
	char *text, *p, *word, *out, *out2, **w, *msg = NULL;
	size_t len, len2, nw, wl;
	struct dockerfile_mount m;
	int r;

	if (size < 1)
		return 0;
	ex.escape = data[0] & 1 ? '`' : '\\';
	ex.flags = (data[0] >> 1) & 0xF;
	text = xmalloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	p = text;
	while (list.n < MAX_VARS) {
		char *nl = strchr(p, '\n');

		if (!nl || nl == p)
			break;
		*nl = '\0';
		env[list.n++] = p;
		p = nl + 1;
	}
	if (*p == '\n')
		p++;
	word = p;
	wl = strlen(word);
	r = dockerfile_expand(&ex, word, wl, &out, &len, &err);
	if (r < 0) {
		CHECK(err && err->msg && strncmp(err->msg, "failed to process ", 18) == 0);
		kl_error_freep(&err);
		CHECK(dockerfile_expand_words(&ex, word, wl, &w, &nw, &err) == r);
		kl_error_freep(&err);
	} else {
		CHECK(out[len] == '\0' && len <= DOCKERFILE_MAX_EXPANSION);
		CHECK(dockerfile_expand(&ex, word, wl, &out2, &len2, NULL) == 0);
		CHECK(len == len2 && memcmp(out, out2, len) == 0);
		free(out2);
		free(out);
		CHECK(dockerfile_expand_words(&ex, word, wl, &w, &nw, NULL) == 0);
		for (size_t i = 0; i < nw; i++)
			CHECK(w[i][0] != '\0');
		dockerfile_words_free(w, nw);
	}
	/* the same text as a --mount value, with and without the variables */
	if (dockerfile_mount_parse(word, NULL, &m, &msg) == 0)
		dockerfile_mount_done(&m);
	else
		CHECK(msg != NULL);
	free(msg);
	msg = NULL;
	if (dockerfile_mount_parse(word, &ex, &m, &msg) == 0) {
		CHECK(!m.deferred && (unsigned)m.type < _DOCKERFILE_MOUNT_MAX);
		dockerfile_mount_done(&m);
	}
	free(msg);
	free(text);
	return 0;
}
