// SPDX-License-Identifier: Apache-2.0
/* Unit tests for frontend/dockerfile-lex.c: logical lines and their line numbers, directives,
 * comments and blank lines, continuations, heredoc bodies read on request, limits. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/dockerfile-diag.h"
#include "frontend/dockerfile-lex.h"
#include "util/error.h"

struct want {
	const char *text;
	unsigned start, end;
	bool empty_continuation;
};

static void
lines_are(const char *input, const struct want *w, size_t n)
{
	struct dockerfile_source src = {"Dockerfile", input, strlen(input)};
	struct dockerfile_lexer lx;
	struct dockerfile_logical_line ll;
	size_t i = 0;
	int r;

	assert_int_equal(dockerfile_lexer_init(&lx, &src, NULL, NULL), 0);
	while ((r = dockerfile_lexer_next(&lx, &ll, NULL, NULL)) > 0) {
		assert_true(i < n);
		if (strcmp(ll.text, w[i].text) != 0)
			fail_msg("line %zu: '%s', want '%s'", i, ll.text, w[i].text);
		assert_int_equal(ll.start_line, w[i].start);
		assert_int_equal(ll.end_line, w[i].end);
		assert_int_equal(ll.empty_continuation, w[i].empty_continuation);
		free(ll.text);
		i++;
	}
	assert_int_equal(r, 0);
	assert_int_equal(i, n);
	dockerfile_lexer_done(&lx);
}

static void
test_line_numbers(void **state)
{
	static const struct want w[] = {
	    {"FROM a", 5, 5, false},
	    {"RUN x   y", 7, 8, false},
	    {"RUN a b c", 10, 16, true},
	};

	(void)state;
	lines_are("# syntax=docker/dockerfile:1\n\n# a comment\n   \nFROM a\n\nRUN x \\\n  y\n"
	          "# between\nRUN a\\\n # inside\n\\\n\n b\\\n\\\n c\n",
	          w, 3);
}

static void
test_directives_only_at_the_top(void **state)
{
	static const char input[] = "#Syntax = docker/dockerfile:1.7 // opts\n# check=error=true\n"
	                            "#escape=`\nFROM a\n# escape=\\\nRUN x `\n y\n";
	struct dockerfile_source src = {"Dockerfile", input, sizeof(input) - 1};
	struct dockerfile_lexer lx;
	struct dockerfile_logical_line ll;

	(void)state;
	assert_int_equal(dockerfile_lexer_init(&lx, &src, NULL, NULL), 0);
	assert_int_equal(dockerfile_lexer_next(&lx, &ll, NULL, NULL), 1);
	assert_string_equal(ll.text, "FROM a");
	free(ll.text);
	assert_int_equal(lx.escape, '`');
	assert_string_equal(lx.directives[DOCKERFILE_DIRECTIVE_SYNTAX].value,
	                    "docker/dockerfile:1.7 // opts");
	assert_string_equal(lx.directives[DOCKERFILE_DIRECTIVE_CHECK].value, "error=true");
	assert_int_equal(lx.directives[DOCKERFILE_DIRECTIVE_ESCAPE].line, 3);
	/* the second escape line is a comment by now */
	assert_int_equal(dockerfile_lexer_next(&lx, &ll, NULL, NULL), 1);
	assert_string_equal(ll.text, "RUN x  y");
	free(ll.text);
	assert_int_equal(dockerfile_lexer_next(&lx, &ll, NULL, NULL), 0);
	dockerfile_lexer_done(&lx);
}

static void
test_heredoc_bodies(void **state)
{
	static const char input[] = "RUN <<A <<-B\none\r\nA\n\ttwo\n\t\tB\nRUN next\n";
	struct dockerfile_source src = {"Dockerfile", input, sizeof(input) - 1};
	struct dockerfile_lexer lx;
	struct dockerfile_logical_line ll;
	struct kl_error *err = NULL;
	char *body;
	size_t len;

	(void)state;
	assert_int_equal(dockerfile_lexer_init(&lx, &src, NULL, NULL), 0);
	assert_int_equal(dockerfile_lexer_next(&lx, &ll, NULL, NULL), 1);
	free(ll.text);
	assert_int_equal(dockerfile_lexer_heredoc(&lx, "A", false, 1, &body, &len, NULL, NULL), 0);
	assert_string_equal(body, "one\r\n"); /* raw, line endings kept */
	free(body);
	assert_int_equal(dockerfile_lexer_heredoc(&lx, "B", true, 1, &body, &len, NULL, NULL), 0);
	assert_string_equal(body, "\ttwo\n");
	free(body);
	assert_int_equal(lx.line, 5);
	assert_int_equal(dockerfile_lexer_next(&lx, &ll, NULL, NULL), 1);
	assert_string_equal(ll.text, "RUN next");
	assert_int_equal(ll.start_line, 6);
	free(ll.text);
	assert_int_equal(dockerfile_lexer_heredoc(&lx, "C", false, 6, &body, &len, NULL, &err),
	                 -EINVAL);
	assert_string_equal(err->msg,
	                    "Dockerfile:6: unterminated heredoc 'C' (it starts on line 6, "
	                    "no line closes it)");
	kl_error_freep(&err);
	dockerfile_lexer_done(&lx);
}

static void
test_size_limit(void **state)
{
	struct dockerfile_source src = {"Dockerfile", "x", DOCKERFILE_MAX_SIZE + 1u};
	struct dockerfile_lexer lx;
	struct kl_error *err = NULL;

	(void)state;
	assert_int_equal(dockerfile_lexer_init(&lx, &src, NULL, &err), -EINVAL);
	assert_string_equal(err->msg, "Dockerfile: file is larger than 16 MiB (16777217 bytes)");
	kl_error_freep(&err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_line_numbers),
	    cmocka_unit_test(test_directives_only_at_the_top),
	    cmocka_unit_test(test_heredoc_bodies),
	    cmocka_unit_test(test_size_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
