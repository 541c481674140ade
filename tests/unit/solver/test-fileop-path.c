// SPDX-License-Identifier: Apache-2.0
/* Unit tests for solver/fileop-path and fileop-glob: cleaning, symlink resolution inside a
 * tree as fs.RootPath, and wildcard sources matched one component at a time. */
#include <errno.h>

#include "solver/fileop-internal.h"
#include "tests/unit/solver/fileop-fixture.h"

static void
assert_clean(const char *cwd, const char *p, const char *want, bool want_dir)
{
	bool dir;
	char *got = fileop_path_clean(cwd, p, &dir);

	if (strcmp(got, want) || dir != want_dir)
		fail_msg("clean('%s', '%s') = '%s' %d, want '%s' %d", cwd ? cwd : "(null)", p, got,
		         dir, want, want_dir);
	free(got);
}

static void
test_clean_is_lexical_and_stays_inside(void **state)
{
	(void)state;
	assert_clean(NULL, "/a/b/../c/./d", "a/c/d", false);
	assert_clean(NULL, "../../etc", "etc", false);
	assert_clean("/work/dir", "x/", "work/dir/x", true);
	assert_clean("/work", "/abs/.", "abs", true);
	assert_clean("/work", "", "work", false);
	assert_clean(NULL, "/", "", true);
}

static struct tree *
links_tree(struct fx *f)
{
	struct spec s = fx_spec(f);

	fx_file(&s, "real/file", "x", 0644);
	fx_link(&s, "abs", TREE_SYMLINK, "/real");
	fx_link(&s, "rel", TREE_SYMLINK, "real/../real");
	fx_link(&s, "up", TREE_SYMLINK, "../../../real");
	fx_link(&s, "loop1", TREE_SYMLINK, "loop2");
	fx_link(&s, "loop2", TREE_SYMLINK, "loop1");
	fx_link(&s, "real/self", TREE_SYMLINK, ".");
	fx_link(&s, "dangling", TREE_SYMLINK, "/not/there");
	return fx_build(&s);
}

static void
assert_resolves(const struct tree *t, const char *path, bool follow, const char *want, bool exists)
{
	char *got = NULL;
	uint32_t idx;
	struct kl_error *err = NULL;

	if (fileop_path_resolve(t, path, strlen(path), follow, "test", &got, &idx, &err) < 0)
		fail_msg("resolving '%s': %s", path, err->msg);
	if (strcmp(got, want) || (idx != TREE_NONE) != exists)
		fail_msg("'%s' resolved to '%s' (%s), want '%s'", path, got,
		         idx == TREE_NONE ? "missing" : "present", want);
	free(got);
}

static void
test_resolve_follows_links_inside_the_tree(void **state)
{
	struct fx *f = *state;
	struct tree *t = links_tree(f);
	struct kl_error *err = NULL;
	char *p;
	uint32_t idx;

	assert_resolves(t, "abs/file", false, "real/file", true);
	assert_resolves(t, "rel/file", true, "real/file", true);
	assert_resolves(t, "up/file", true, "real/file", true); /* ".." stops at the root */
	assert_resolves(t, "real/self/self/file", true, "real/file", true);
	assert_resolves(t, "abs", false, "abs", true);
	assert_resolves(t, "abs", true, "real", true);
	assert_resolves(t, "dangling", true, "not/there", false);
	assert_resolves(t, "abs/new/deeper", true, "real/new/deeper", false);
	assert_resolves(t, "", true, "", true);
	assert_int_equal(fileop_path_resolve(t, "loop1", 5, true, "test", &p, &idx, &err), -ELOOP);
	assert_non_null(strstr(err->msg, "too many levels of symbolic links"));
	kl_error_freep(&err);
	assert_int_equal(fileop_path_resolve(t, "real/file/x", 11, true, "test", &p, &idx, &err),
	                 -ENOTDIR);
	assert_non_null(strstr(err->msg, "'/real/file' is not a directory"));
	kl_error_freep(&err);
	tree_unref(t);
}

static char *
joined(const struct fileop_matches *m)
{
	char *s = xstrdup("");

	for (size_t i = 0; i < m->n; i++) {
		char *n = xasprintf("%s%s%s", s, i ? " " : "", m->v[i]);

		free(s);
		s = n;
	}
	return s;
}

static void
assert_glob(const struct tree *t, const char *pattern, bool follow, const char *want)
{
	struct fileop_matches m = {0};
	struct kl_error *err = NULL;
	char *got;

	if (fileop_glob(t, pattern, follow, &m, &err) < 0)
		fail_msg("glob '%s': %s", pattern, err->msg);
	got = joined(&m);
	if (strcmp(got, want))
		fail_msg("glob '%s' = '%s', want '%s'", pattern, got, want);
	free(got);
	fileop_matches_done(&m);
}

static void
test_glob_matches_component_by_component(void **state)
{
	struct fx *f = *state;
	struct spec s = fx_spec(f);
	struct tree *t;
	struct fileop_matches m = {0};
	struct kl_error *err = NULL;

	fx_file(&s, "src/a.c", "", 0644);
	fx_file(&s, "src/b.h", "", 0644);
	fx_file(&s, "src/deep/c.c", "", 0644);
	fx_file(&s, "src2/d.c", "", 0644);
	fx_file(&s, "[x]", "", 0644);
	fx_link(&s, "srclink", TREE_SYMLINK, "src");
	fx_dir(&s, "match-dir/inner", 0755);
	t = fx_build(&s);
	assert_glob(t, "src/*.c", false, "src/a.c");
	assert_glob(t, "src*/*.c", false, "src/a.c src2/d.c"); /* not through srclink */
	assert_glob(t, "*/*/c.c", false, "src/deep/c.c");
	assert_glob(t, "src/?.[ch]", false, "src/a.c src/b.h");
	assert_glob(t, "src/[^a].*", false, "src/b.h");
	assert_glob(t, "\\[?]", false, "[x]");   /* an escaped '[' is a literal, ']' alone too */
	assert_glob(t, "\\[x]", false, "\\[x]"); /* no wildcard: the path as it is given */
	assert_glob(t, "match-*", false, "match-dir"); /* a matched dir is not descended into */
	assert_glob(t, "srclink/*.c", true, "src/a.c");
	assert_glob(t, "srclink/*.c", false, ""); /* the link itself is not a directory */
	assert_glob(t, "nothere/*", false, "");
	assert_int_equal(fileop_glob(t, "src/[a", false, &m, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "bad pattern 'src/[a'"));
	kl_error_freep(&err);
	assert_true(fileop_glob_has_wildcards("a*", 2));
	assert_false(fileop_glob_has_wildcards("a\\*", 3));
	tree_unref(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_clean_is_lexical_and_stays_inside),
	    cmocka_unit_test(test_resolve_follows_links_inside_the_tree),
	    cmocka_unit_test(test_glob_matches_component_by_component),
	};
	return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}
