// SPDX-License-Identifier: Apache-2.0
/* Unit tests for solver/fileop-merge: trees stacked later over earlier, and the diff of two
 * trees that turns the lower into the upper again. */
#include <errno.h>

#include "tests/unit/solver/fileop-fixture.h"

static struct tree *
load(struct fx *f, const struct digest *id)
{
	struct tree *t = NULL;

	assert_int_equal(tree_load(f->store, id, &t, NULL), 0);
	return t;
}

static void
test_merge_stacks_later_over_earlier(void **state)
{
	struct fx *f = *state;
	struct spec a = fx_spec(f), b = fx_spec(f), c = fx_spec(f);
	struct tree *ta, *tb, *tc, *m;
	struct tree_entry e;
	struct digest id;

	fx_file(&a, "etc/conf", "a", 0644);
	fx_file(&a, "bin/sh", "sh", 0755);
	fx_dir(&a, "var", 0700);
	fx_file(&b, "etc/conf", "b wins", 0600);
	fx_file(&b, "etc/more", "m", 0644);
	fx_link(&c, "bin", TREE_SYMLINK, "usr/bin"); /* a non-dir over a dir replaces it */
	e = fx_entry("var", TREE_WHITEOUT, 0);
	fx_add(&c, &e); /* a diff tree: its whiteouts count */
	ta = fx_build(&a);
	tb = fx_build(&b);
	tc = fx_build(&c);
	{
		const struct tree *in[] = {ta, NULL, tb, tc};

		assert_int_equal(fileop_merge(&f->env, in, 4, &id, NULL), 0);
	}
	m = load(f, &id);
	fx_assert_paths(m, "bin etc etc/conf etc/more");
	e = fx_get(m, "etc/conf");
	assert_int_equal(e.size, 6);
	assert_int_equal(e.mode, 0600);
	assert_int_equal(fx_get(m, "bin").type, TREE_SYMLINK);
	tree_unref(m);
	/* nothing to merge: the empty tree */
	assert_int_equal(fileop_merge(&f->env, NULL, 0, &id, NULL), 0);
	m = load(f, &id);
	assert_int_equal(tree_count(m), 1);
	tree_unref(m);
	tree_unref(ta);
	tree_unref(tb);
	tree_unref(tc);
}

static void
test_diff_applied_to_lower_gives_upper(void **state)
{
	struct fx *f = *state;
	struct spec lo = fx_spec(f), up = fx_spec(f);
	struct tree *tl, *tu, *d, *back;
	struct digest id;

	fx_file(&lo, "keep", "k", 0644);
	fx_file(&lo, "gone/x", "x", 0644);
	fx_file(&lo, "changed", "1", 0644);
	fx_file(&up, "keep", "k", 0644);
	fx_file(&up, "changed", "2", 0644);
	fx_file(&up, "new/y", "y", 0644);
	tl = fx_build(&lo);
	tu = fx_build(&up);
	assert_int_equal(fileop_diff(&f->env, tl, tu, &id, NULL), 0);
	d = load(f, &id);
	fx_assert_paths(d, "changed gone new new/y");
	assert_int_equal(fx_get(d, "gone").type, TREE_WHITEOUT);
	{
		const struct tree *in[] = {tl, d};

		assert_int_equal(fileop_merge(&f->env, in, 2, &id, NULL), 0);
	}
	back = load(f, &id);
	fx_assert_paths(back, "changed keep new new/y");
	assert_int_equal(fx_get(back, "changed").size, 1);
	tree_unref(back);
	tree_unref(d);
	/* against nothing: the whole upper */
	assert_int_equal(fileop_diff(&f->env, NULL, tu, &id, NULL), 0);
	d = load(f, &id);
	fx_assert_paths(d, "changed keep new new/y");
	tree_unref(d);
	tree_unref(tl);
	tree_unref(tu);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_merge_stacks_later_over_earlier),
	    cmocka_unit_test(test_diff_applied_to_lower_gives_upper),
	};
	return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}
