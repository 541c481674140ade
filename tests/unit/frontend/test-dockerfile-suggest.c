// SPDX-License-Identifier: Apache-2.0
/* Unit tests for frontend/dockerfile-suggest.c and dockerfile-syntax.c: "did you mean" and
 * which # syntax= values are the built-in frontend. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/dockerfile-suggest.h"
#include "frontend/dockerfile-syntax.h"

static const char *const names[] = {"ADD", "COPY", "FROM", "RUN", "ENV", "EXPOSE"};

static void
is(const char *val, bool cs, const char *want)
{
	char *s = dockerfile_suggest(val, names, 6, cs);

	if (!want) {
		if (s)
			fail_msg("'%s': suggested '%s'", val, s);
		return;
	}
	if (!s || strcmp(s, want) != 0)
		fail_msg("'%s': '%s', want '%s'", val, s ? s : "(none)", want);
	free(s);
}

static void
test_suggestions(void **state)
{
	(void)state;
	is("FORM", false, "FROM");
	is("form", false, "from");
	is("Form", false, "from");
	is("CPY", false, "COPY");
	is("EXPOSED", false, "EXPOSE");
	is("from", false, NULL); /* equal but for case: the error is about something else */
	is("XYZZY", false, NULL);
	is("FORM", true, "FROM");
	is("form", true, NULL); /* case-sensitive: too far */
	is("", false, NULL);
}

static void
test_syntax(void **state)
{
	static const char *const builtin[] = {
	    "docker/dockerfile:1",
	    "docker/dockerfile:1.7",
	    "docker/dockerfile:1.7.1",
	    "docker/dockerfile:1-labs",
	    "docker/dockerfile:1.9-labs",
	    "docker/dockerfile:labs",
	    "docker/dockerfile",
	    "docker.io/docker/dockerfile:1",
	    "docker/dockerfile-upstream:1.8",
	    "docker/dockerfile:1.8.0-rc1",
	    "docker/dockerfile:1 // comment",
	    "docker/dockerfile:1@sha256:"
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	};
	static const char *const other[] = {
	    "docker/dockerfile:2",
	    "docker/dockerfile:10",
	    "docker/dockerfile:0.9",
	    "docker/dockerfile:1.x",
	    "tonistiigi/dockerfile:1",
	    "example.com/docker/dockerfile:1",
	    "docker/dockerfile:1@sha256:xyz",
	    "dockerfile:experimental",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(builtin) / sizeof(*builtin); i++)
		if (!dockerfile_syntax_is_builtin(builtin[i]))
			fail_msg("'%s' is the built-in frontend", builtin[i]);
	for (size_t i = 0; i < sizeof(other) / sizeof(*other); i++)
		if (dockerfile_syntax_is_builtin(other[i]))
			fail_msg("'%s' is another frontend", other[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_suggestions),
	    cmocka_unit_test(test_syntax),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
