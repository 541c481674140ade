// SPDX-License-Identifier: Apache-2.0
/* Unit tests for solver/fileop-key: the content key of what a copy selects ignores mtimes,
 * locators and everything outside the selection, and changes with any mode, owner, content
 * or name inside it. */
#include <errno.h>

#include "tests/unit/solver/fileop-fixture.h"

/* What a context tree holds, with the knobs the tests turn. */
struct variant {
	int64_t mtime;
	const char *locator_root; /* where the scan saw the files */
	uint32_t mode_of_a;
	uint32_t uid_of_b;
	const char *content_of_a;
	const char *outside; /* content of a file no action selects */
	const char *excluded;
	const char *extra_match; /* NULL: no src/e.c */
};

static const struct variant base_variant = {
    .mtime = 1000,
    .locator_root = "/home/one/ctx",
    .mode_of_a = 0644,
    .uid_of_b = 0,
    .content_of_a = "int a;",
    .outside = "README",
    .excluded = "junk",
};

static void
add(struct spec *s, const struct variant *v, const char *path, const char *content, uint32_t mode,
    uint32_t uid)
{
	struct tree_entry e = fx_entry(path, TREE_REG, mode);
	char *locator = xasprintf("local:%s/%s", v->locator_root, path);

	digest_buffer(content, strlen(content), &e.digest);
	e.flags = TREE_ENTRY_HAS_DIGEST;
	e.size = strlen(content);
	e.uid = uid;
	e.mtime_sec = v->mtime;
	e.mtime_nsec = (uint32_t)(v->mtime % 1000);
	e.locator = locator;
	e.locator_len = strlen(locator);
	fx_add(s, &e);
	free(locator);
}

static struct tree *
make(struct fx *f, const struct variant *v)
{
	struct spec s = fx_spec(f);
	struct tree_entry d = fx_entry("src", TREE_DIR, 0755);

	d.mtime_sec = v->mtime;
	fx_add(&s, &d);
	add(&s, v, "src/a.c", v->content_of_a, v->mode_of_a, 0);
	add(&s, v, "src/b.c", "int b;", 0644, v->uid_of_b);
	add(&s, v, "src/junk.o", v->excluded, 0644, 0);
	add(&s, v, "README", v->outside, 0644, 0);
	if (v->extra_match)
		add(&s, v, "src/e.c", v->extra_match, 0644, 0);
	fx_link(&s, "src/link", TREE_SYMLINK, "a.c");
	return fx_build(&s);
}

static struct digest
key_of(struct fx *f, const struct variant *v, struct graph_file_action a)
{
	struct tree *t = make(f, v);
	struct kl_error *err = NULL;
	struct digest d;

	if (fileop_selection_key(&a, t, &d, &err) < 0)
		fail_msg("key: %s", err->msg);
	tree_unref(t);
	return d;
}

static struct graph_file_action
dir_copy(void)
{
	static char *ex[] = {"*.o"};
	struct graph_file_action a = fx_copy("/src", "/app/");

	a.exclude = (struct graph_strv){ex, 1};
	return a;
}

static void
assert_same(struct fx *f, const struct variant *v, struct graph_file_action a, bool same)
{
	struct digest k0 = key_of(f, &base_variant, a), k1 = key_of(f, v, a);

	if (digest_equal(&k0, &k1) != same)
		fail_msg("keys %s", same ? "differ" : "are equal");
}

static void
test_mtimes_and_locators_do_not_count(void **state)
{
	struct fx *f = *state;
	struct variant v = base_variant;

	v.mtime = 2000000000;
	v.locator_root = "/tmp/fresh-clone";
	assert_same(f, &v, dir_copy(), true);
	assert_same(f, &v, fx_copy("/src/*.c", "/app/"), true);
}

static void
test_mode_owner_and_content_count(void **state)
{
	struct fx *f = *state;
	struct variant v = base_variant;

	v.mode_of_a = 0755;
	assert_same(f, &v, dir_copy(), false);
	v = base_variant;
	v.uid_of_b = 1000;
	assert_same(f, &v, dir_copy(), false);
	v = base_variant;
	v.content_of_a = "int a = 1;";
	assert_same(f, &v, dir_copy(), false);
	assert_same(f, &v, fx_copy("/src/link", "/app/"), false); /* followed to a.c */
	v = base_variant;
	v.extra_match = "int e;";
	assert_same(f, &v, fx_copy("/src/*.c", "/app/"), false);
}

static void
test_what_is_not_selected_does_not_count(void **state)
{
	struct fx *f = *state;
	struct variant v = base_variant;

	v.outside = "a new README";
	v.excluded = "other junk";
	assert_same(f, &v, dir_copy(), true);
	v.content_of_a = "changed";
	assert_same(f, &v, fx_copy("/src/b.c", "/app/"), true);
	v.extra_match = "int e;";                                   /* not matched by "[ab].c" */
	assert_same(f, &v, fx_copy("/src/[ab].c", "/app/"), false); /* a.c changed */
	v.content_of_a = base_variant.content_of_a;
	assert_same(f, &v, fx_copy("/src/[b].c", "/app/"), true);
}

static void
test_missing_sources_are_errors(void **state)
{
	struct fx *f = *state;
	struct tree *t = make(f, &base_variant);
	struct graph_file_action a = fx_copy("/src/*.rs", "/app/");
	struct kl_error *err = NULL;
	struct digest d;

	assert_int_equal(fileop_selection_key(&a, t, &d, &err), -ENOENT);
	assert_non_null(strstr(err->msg, "no source files were specified"));
	kl_error_freep(&err);
	a.allow_empty_wildcard = true;
	assert_int_equal(fileop_selection_key(&a, t, &d, NULL), 0);
	a = fx_copy("/gone", "/app/");
	assert_int_equal(fileop_selection_key(&a, t, &d, &err), -ENOENT);
	assert_non_null(strstr(err->msg, "\"/gone\": not found"));
	kl_error_freep(&err);
	tree_unref(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mtimes_and_locators_do_not_count),
	    cmocka_unit_test(test_mode_owner_and_content_count),
	    cmocka_unit_test(test_what_is_not_selected_does_not_count),
	    cmocka_unit_test(test_missing_sources_are_errors),
	};
	return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}
