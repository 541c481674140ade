// SPDX-License-Identifier: Apache-2.0
/* Unit tests for frontend/dockerfile-heredoc.c: BuildKit's heredoc words and lines. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/dockerfile-heredoc.h"
#include "util/error.h"

static int
word(const char *w, struct dockerfile_heredoc_marker *m)
{
	struct kl_error *err = NULL;
	int r = dockerfile_heredoc_parse_word(w, strlen(w), m, &err);

	kl_error_free(err);
	return r;
}

static void
test_words(void **state)
{
	static const char *const valid[] = {"<<EOF",     "<<'EOF'",  "<<\"EOF\"",
	                                    "<<-EOF",    "<<-'EOF'", "<<-\"EOF\"",
	                                    "<<EO\"F\"", "<< EOF",   "<<- EOF"};
	static const char *const invalid[] = {"<<'EOF", "<<\"EOF", "<<EOF'", "<<EOF\""};
	static const char *const not [] = {"", "EOF", "<<", "<<-", "<EOF", "<<<EOF", "<<EOF sh"};
	struct dockerfile_heredoc_marker m;

	(void)state;
	for (size_t i = 0; i < sizeof(valid) / sizeof(*valid); i++) {
		if (word(valid[i], &m) != 1)
			fail_msg("'%s' is a heredoc", valid[i]);
		assert_string_equal(m.name, "EOF");
		dockerfile_heredoc_marker_done(&m);
	}
	for (size_t i = 0; i < sizeof(invalid) / sizeof(*invalid); i++)
		if (word(invalid[i], &m) != -EINVAL)
			fail_msg("'%s' is an error", invalid[i]);
	for (size_t i = 0; i < sizeof(not ) / sizeof(*not ); i++)
		if (word(not [i], &m) != 0)
			fail_msg("'%s' is not a heredoc", not [i]);
}

static void
test_expand_and_chomp(void **state)
{
	static const struct {
		const char *w, *name;
		bool expand, chomp;
		unsigned fd;
	} cases[] = {
	    {"<<eo'f'", "eof", false, false, 0},     {"<<eo\\'f", "eo'f", true, false, 0},
	    {"<<'e'o\\'f", "eo'f", false, false, 0}, {"<<'one two'", "one two", false, false, 0},
	    {"<<$EOF", "$EOF", true, false, 0},      {"3<<-X", "X", true, true, 3},
	    {"99999999999<<X", "X", true, false, 0},
	};
	struct dockerfile_heredoc_marker m;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		assert_int_equal(word(cases[i].w, &m), 1);
		assert_string_equal(m.name, cases[i].name);
		assert_int_equal(m.expand, cases[i].expand);
		assert_int_equal(m.chomp, cases[i].chomp);
		assert_int_equal(m.fd, cases[i].fd);
		dockerfile_heredoc_marker_done(&m);
	}
}

static void
test_lines(void **state)
{
	static const struct {
		const char *line, *names;
	} cases[] = {
	    {"RUN <<EOF", "EOF"},          {"RUN <<-EOF", "EOF"},
	    {"RUN <<- EOF", ""}, /* only "<<" takes the blanks after it */
	    {"RUN << -EOF", "-EOF"},       {"RUN <<'EOF'", "EOF"},
	    {"RUN 4<<EOF", "EOF"},         {"RUN <<EOF <<EOF2", "EOF,EOF2"},
	    {"RUN '<<EOF'", ""},           {"RUN \"<<EOF\"", ""},
	    {"RUN <<  EOF  > foo", "EOF"}, {"RUN 'unterminated <<EOF", ""},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct dockerfile_heredoc_marker *m;
		struct kl_error *err = NULL;
		char names[256] = "";
		size_t n;

		assert_int_equal(dockerfile_heredocs_from_line(cases[i].line, strlen(cases[i].line),
		                                               &m, &n, &err),
		                 0);
		for (size_t k = 0; k < n; k++) {
			if (k)
				strcat(names, ",");
			strcat(names, m[k].name);
		}
		if (strcmp(names, cases[i].names) != 0)
			fail_msg("'%s': '%s', want '%s'", cases[i].line, names, cases[i].names);
		dockerfile_heredoc_markers_free(m, n);
	}
}

static void
test_chomp(void **state)
{
	size_t n;
	char *s = dockerfile_heredoc_chomp("\thello\n\t\tworld\n x\t\n", 19, &n);

	(void)state;
	assert_string_equal(s, "hello\nworld\n x\t\n");
	assert_int_equal(n, 16);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_words),
	    cmocka_unit_test(test_expand_and_chomp),
	    cmocka_unit_test(test_lines),
	    cmocka_unit_test(test_chomp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
