// SPDX-License-Identifier: Apache-2.0
/* Recognizing `# syntax=docker/dockerfile:1…` as the built-in frontend. */
#include "frontend/dockerfile-syntax.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

static bool
skip_prefix(const char **s, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(*s, prefix, n) != 0)
		return false;
	*s += n;
	return true;
}

static bool
digits(const char **s)
{
	const char *p = *s;

	while (isdigit((unsigned char)*p))
		p++;
	if (p == *s)
		return false;
	*s = p;
	return true;
}

/* 1, 1.N, 1.N.M, then -rcN and -labs optionally; or labs, latest. */
static bool
tag_ok(const char *t)
{
	if (strcmp(t, "labs") == 0 || strcmp(t, "latest") == 0)
		return true;
	if (!skip_prefix(&t, "1"))
		return false;
	if (isdigit((unsigned char)*t))
		return false; /* 10, 11… are not 1.x */
	for (int i = 0; i < 2 && *t == '.'; i++) {
		t++;
		if (!digits(&t))
			return false;
	}
	if (skip_prefix(&t, "-rc") && !digits(&t))
		return false;
	skip_prefix(&t, "-labs");
	return *t == '\0';
}

static bool
digest_ok(const char *d)
{
	if (!skip_prefix(&d, "sha256:") || strlen(d) != 64)
		return false;
	for (; *d; d++)
		if (!isxdigit((unsigned char)*d) || isupper((unsigned char)*d))
			return false;
	return true;
}

bool
dockerfile_syntax_is_builtin(const char *value)
{
	char *ref = xstrndup(value, strcspn(value, " \t"));
	char *at = strchr(ref, '@'), *colon;
	const char *name = ref;
	bool ok;

	if (at) {
		*at = '\0';
		if (!digest_ok(at + 1)) {
			free(ref);
			return false;
		}
	}
	colon = strrchr(ref, ':');
	if (colon && strchr(colon, '/'))
		colon = NULL;
	if (colon)
		*colon = '\0';
	skip_prefix(&name, "docker.io/");
	ok = strcmp(name, "docker/dockerfile") == 0 ||
	     strcmp(name, "docker/dockerfile-upstream") == 0;
	if (ok && colon)
		ok = tag_ok(colon + 1);
	free(ref);
	return ok;
}
