// SPDX-License-Identifier: Apache-2.0
/* Unit tests for sources/dockerignore: parsing as Docker reads .dockerignore, matching as
 * BuildKit does (cases from moby/patternmatcher's own tests), walking with parent results. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "sources/dockerignore.h"
#include "util/error.h"
#include "util/xalloc.h"

static struct dockerignore *
parse_ok(const char *text)
{
	struct dockerignore *d = NULL;
	struct kl_error *err = NULL;
	int r = dockerignore_parse(text, strlen(text), ".dockerignore", &d, &err);

	if (r < 0)
		fail_msg("parsing '%s': %s", text, err ? err->msg : "?");
	return d;
}

static void
parse_fails(const char *text, const char *want)
{
	struct dockerignore *d = NULL;
	struct kl_error *err = NULL;
	int r = dockerignore_parse(text, strlen(text), "ctx/.dockerignore", &d, &err);

	assert_int_equal(r, -EINVAL);
	assert_null(d);
	assert_non_null(err);
	if (!strstr(err->msg, want))
		fail_msg("message '%s' lacks '%s'", err->msg, want);
	kl_error_free(err);
}

/* Excluded through a top-down walk handing each entry its parent's match info. */
static bool
walk_excluded(const struct dockerignore *d, const char *path)
{
	size_t n = dockerignore_count(d), len = strlen(path);
	uint8_t *info = xcalloc(n + 1, 1), *child = xcalloc(n + 1, 1);
	bool walked = false, have_parent = false;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && path[i] != '/')
			continue;
		walked = dockerignore_match(d, path, i, have_parent ? info : NULL, child);
		memcpy(info, child, n);
		have_parent = true;
	}
	free(info);
	free(child);
	return walked;
}

/* Excluded as a lone path (parents matched too), and the same answer through a walk. */
static bool
excluded(const struct dockerignore *d, const char *path)
{
	bool direct = dockerignore_match(d, path, strlen(path), NULL, NULL);

	assert_int_equal(direct, walk_excluded(d, path));
	return direct;
}

static bool
one(const char *pattern, const char *path)
{
	struct dockerignore *d = parse_ok(pattern);
	bool r;

	assert_int_equal(dockerignore_count(d), 1);
	r = excluded(d, path);
	dockerignore_free(d);
	return r;
}

static void
test_comments_blanks_and_cleaning(void **state)
{
	struct dockerignore *d;
	bool exc;

	(void)state;
	d = parse_ok("\xef\xbb\xbf# comment\n\n   \nfoo/  \r\n !  ./bar/../baz\n/abs//x/\n"
	             "  # not a comment\n./\n\t**/*.o\t");
	assert_int_equal(dockerignore_count(d), 6);
	assert_string_equal(dockerignore_pattern(d, 0, &exc), "foo");
	assert_false(exc);
	assert_string_equal(dockerignore_pattern(d, 1, &exc), "baz");
	assert_true(exc);
	assert_string_equal(dockerignore_pattern(d, 2, &exc), "abs/x");
	assert_string_equal(dockerignore_pattern(d, 3, &exc), "# not a comment");
	assert_string_equal(dockerignore_pattern(d, 4, &exc), ".");
	assert_string_equal(dockerignore_pattern(d, 5, &exc), "**/*.o");
	dockerignore_free(d);

	d = parse_ok("");
	assert_int_equal(dockerignore_count(d), 0);
	assert_false(excluded(d, "anything"));
	dockerignore_free(d);
}

static void
test_bad_lines_name_file_and_line(void **state)
{
	(void)state;
	parse_fails("ok\n\n[", "ctx/.dockerignore:3: syntax error in pattern '['");
	parse_fails("!", "ctx/.dockerignore:1: illegal exclusion pattern");
	parse_fails("a\n!  \n", "ctx/.dockerignore:2: illegal exclusion pattern");
	parse_fails("!/", ":1: illegal exclusion pattern");
	parse_fails("x\\", ":1: syntax error in pattern");
	parse_fails("a[]b", ":1: syntax error");
	parse_fails("a[b-]", ":1: syntax error");
	parse_fails("*.go\nb[z-a]", ":2: reversed range in pattern 'b[z-a]'");
	parse_fails("[\xff]", ":1: syntax error");
}

static void
test_long_line_is_an_error(void **state)
{
	size_t n = DOCKERIGNORE_MAX_LINE + 10;
	char *text = xmalloc(n + 1);

	(void)state;
	memset(text, 'a', n);
	text[n] = '\0';
	parse_fails(text, ":1: line too long");
	free(text);
}

static void
test_patternmatcher_cases(void **state)
{
	static const struct {
		const char *pattern, *path;
		bool want;
	} cases[] = {
	    {"**", "file", true},
	    {"**/", "file", true},
	    {"**", "dir/file", true},
	    {"**/**", "dir/file", true},
	    {"dir/**", "dir/file", true},
	    {"dir/**", "dir/dir2/file", true},
	    {"**/dir", "dir", true},
	    {"**/dir", "dir/file", true},
	    {"**/dir2/*", "dir/dir2/file", true},
	    {"**/dir2/**", "dir/dir2/dir3/file", true},
	    {"**file", "file", true},
	    {"**file", "dir/file", true},
	    {"**/file", "dir/file", true},
	    {"**file", "dir/dir/file", true},
	    {"**/file", "dir/dir/file", true},
	    {"**/file*", "dir/dir/file", true},
	    {"**/file*", "dir/dir/file.txt", true},
	    {"**/file*txt", "dir/dir/file.txt", true},
	    {"**/file*.txt", "dir/dir/file.txt", true},
	    {"**/file*.txt*", "dir/dir/file.txt", true},
	    {"**/**/*.txt", "dir/dir/file.txt", true},
	    {"**/**/*.txt2", "dir/dir/file.txt", false},
	    {"**/*.txt", "file.txt", true},
	    {"**/**/*.txt", "file.txt", true},
	    {"a**/*.txt", "a/file.txt", true},
	    {"a**/*.txt", "a/dir/file.txt", true},
	    {"a**/*.txt", "a/dir/dir/file.txt", true},
	    {"a/*.txt", "a/dir/file.txt", false},
	    {"a/*.txt", "a/file.txt", true},
	    {"a/*.txt**", "a/file.txt", true},
	    {"a[b-d]e", "ae", false},
	    {"a[b-d]e", "ace", true},
	    {"a[b-d]e", "aae", false},
	    {"a[^b-d]e", "aze", true},
	    {".*", ".foo", true},
	    {".*", "foo", false},
	    {"abc.def", "abcdef", false},
	    {"abc.def", "abc.def", true},
	    {"abc.def", "abcZdef", false},
	    {"abc?def", "abcZdef", true},
	    {"abc?def", "abcdef", false},
	    {"a\\\\", "a\\", true},
	    {"**/foo/bar", "foo/bar", true},
	    {"**/foo/bar", "dir/foo/bar", true},
	    {"**/foo/bar", "dir/dir2/foo/bar", true},
	    {"abc/**", "abc", false},
	    {"abc/**", "abc/def", true},
	    {"abc/**", "abc/def/ghi", true},
	    {"**/.foo", ".foo", true},
	    {"**/.foo", "bar.foo", false},
	    {"a(b)c/def", "a(b)c/def", true},
	    {"a(b)c/def", "a(b)c/xyz", false},
	    {"a.|)$(}+{bc", "a.|)$(}+{bc", true},
	    {"dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
	     "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true},
	    {"dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true},
	    /* parents: a pattern naming a directory excludes what is below it */
	    {"node_modules", "node_modules/x/y.js", true},
	    {"*/tmp", "a/tmp/b", true},
	    {"*", "a/b/c", true},
	    {"*.md", "docs/a.md", false},
	    {"?", "ab", false},
	    {"\\*", "*", true},
	    {"\\*", "x", false},
	    {"[*]", "*", true},
	    {"caf\xc3\xa9?", "caf\xc3\xa9\xc3\xa9", true},
	    {"a?b",
	     "a\xc3\xa9"
	     "b",
	     true},
	    {"a?b", "a/b", false},
	    {"x[^a]y", "x/y", true},
	    {"/x", "x", true},
	    {"./x/../y", "y", true},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (one(cases[i].pattern, cases[i].path) != cases[i].want)
			fail_msg("'%s' on '%s': wanted %s", cases[i].pattern, cases[i].path,
			         cases[i].want ? "excluded" : "kept");
	}
}

static void
test_exceptions_last_match_wins(void **state)
{
	struct dockerignore *d;

	(void)state;
	d = parse_ok("**\n!util/docker/web");
	assert_false(excluded(d, "util/docker/web/foo"));
	assert_false(excluded(d, "util/docker/web"));
	assert_true(excluded(d, "util/docker"));
	assert_true(excluded(d, "other"));
	dockerignore_free(d);

	d = parse_ok("**\n!util/docker/web\nutil/docker/web/foo");
	assert_true(excluded(d, "util/docker/web/foo"));
	assert_false(excluded(d, "util/docker/web/bar"));
	dockerignore_free(d);

	d = parse_ok("**\n!dist/*.whl");
	assert_false(excluded(d, "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"));
	dockerignore_free(d);

	d = parse_ok("*.md\n!README.md\nREADME.md\n!README.md");
	assert_true(excluded(d, "CHANGES.md"));
	assert_false(excluded(d, "README.md"));
	dockerignore_free(d);

	/* the Dockerfile and .dockerignore are excluded only when a pattern says so */
	d = parse_ok("*\n!src");
	assert_true(excluded(d, "Dockerfile"));
	assert_true(excluded(d, ".dockerignore"));
	assert_false(excluded(d, "src/main.c"));
	dockerignore_free(d);
	d = parse_ok("*.tmp");
	assert_false(excluded(d, "Dockerfile"));
	assert_false(excluded(d, ".dockerignore"));
	dockerignore_free(d);
}

/* BuildKit walks with MatchesUsingParentResults: a pattern skipped for a directory (it could
 * not change that directory's outcome) is not rechecked against it for its children. */
static void
test_walk_keeps_buildkit_parent_results(void **state)
{
	struct dockerignore *d = parse_ok("**\n!util/docker/web\nutil");

	(void)state;
	assert_true(walk_excluded(d, "util"));
	assert_false(walk_excluded(d, "util/docker/web"));
	assert_false(walk_excluded(d, "util/docker/web/bar"));
	assert_true(dockerignore_match(d, "util/docker/web/bar", 19, NULL, NULL));
	dockerignore_free(d);
}

static void
test_walk_excluded_dir(void **state)
{
	struct dockerignore *d;

	(void)state;
	d = parse_ok("build\nlogs");
	assert_false(dockerignore_walk_excluded_dir(d, "build", 5));
	dockerignore_free(d);

	d = parse_ok("build\n!build/keep/me.txt");
	assert_true(dockerignore_walk_excluded_dir(d, "build", 5));
	assert_true(dockerignore_walk_excluded_dir(d, "build/keep", 10));
	assert_false(dockerignore_walk_excluded_dir(d, "build/other", 11));
	assert_false(dockerignore_walk_excluded_dir(d, "buil", 4));
	assert_true(excluded(d, "build/other/x"));
	assert_false(excluded(d, "build/keep/me.txt"));
	dockerignore_free(d);

	/* an exception with a wildcard may match anywhere */
	d = parse_ok("vendor\n!**/*.go");
	assert_true(dockerignore_walk_excluded_dir(d, "vendor", 6));
	assert_false(excluded(d, "vendor/x/y.go"));
	assert_true(excluded(d, "vendor/x/y.c"));
	dockerignore_free(d);

	/* a trailing glob is not a wildcard for this purpose */
	d = parse_ok("a\n!a/b/**");
	assert_true(dockerignore_walk_excluded_dir(d, "a", 1));
	assert_false(dockerignore_walk_excluded_dir(d, "a/c", 3));
	dockerignore_free(d);
}

static void
test_many_stars_stay_fast(void **state)
{
	struct dockerignore *d;
	char path[4096];

	(void)state;
	d = parse_ok("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b\n**/**/**/**/**/**/**/**/**/**/c");
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	assert_false(excluded(d, path));
	for (size_t i = 1; i < sizeof(path) - 1; i += 2)
		path[i] = '/';
	assert_false(excluded(d, path));
	dockerignore_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_comments_blanks_and_cleaning),
	    cmocka_unit_test(test_bad_lines_name_file_and_line),
	    cmocka_unit_test(test_long_line_is_an_error),
	    cmocka_unit_test(test_patternmatcher_cases),
	    cmocka_unit_test(test_exceptions_last_match_wins),
	    cmocka_unit_test(test_walk_keeps_buildkit_parent_results),
	    cmocka_unit_test(test_walk_excluded_dir),
	    cmocka_unit_test(test_many_stars_stay_fast),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
