// SPDX-License-Identifier: Apache-2.0
/* Unit tests for solver/fileop-actions: mkdir, mkfile, rm and symlink as BuildKit's FileOp
 * backend does them, over trees. */
#include <errno.h>

#include "fs/provider.h"
#include "tests/unit/solver/fileop-fixture.h"

struct state {
	struct fx *f;
	struct tree *root;
};

static int
setup(void **state)
{
	struct state *s = xcalloc(1, sizeof(*s));
	struct spec b;

	if (fx_setup((void **)&s->f) < 0)
		return -1;
	b = fx_spec(s->f);
	fx_dir(&b, "etc", 0755);
	fx_file(&b, "etc/passwd", "root:x:0:0::/:/bin/sh\nwww:x:33:34::/:/bin/sh\n", 0644);
	fx_file(&b, "etc/group", "root:x:0:\nwww-data:x:34:\nlog:x:4:\n", 0644);
	fx_file(&b, "a/file", "content", 0644);
	fx_file(&b, "a/b/deep", "d", 0644);
	fx_link(&b, "a/hard", TREE_HARDLINK, "a/file");
	fx_link(&b, "link", TREE_SYMLINK, "a");
	fx_link(&b, "dangling", TREE_SYMLINK, "/nowhere");
	fx_file(&b, "x.tmp", "1", 0644);
	fx_file(&b, "y.tmp", "2", 0644);
	s->root = fx_build(&b);
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	struct state *s = *state;

	tree_unref(s->root);
	fx_teardown((void **)&s->f);
	free(s);
	return 0;
}

static struct tree *
run1(struct state *s, struct graph_file_action a)
{
	return fx_run(s->f, s->root, &a, 1, NULL, 0, NULL);
}

static struct graph_file_action
action(enum graph_file_action_kind kind, const char *path)
{
	return (struct graph_file_action){.kind = kind, .src = (char *)path};
}

static void
test_mkdir_with_parents_mode_owner_and_time(void **state)
{
	struct state *s = *state;
	struct graph_file_action a = action(GRAPH_FILE_MKDIR, "/p/q/r");
	struct tree *t;
	struct tree_entry e;

	a.create_parents = true;
	a.has_mode = true;
	a.mode = 04711; /* BuildKit keeps the permission bits only */
	a.owner.user = "www";
	a.has_timestamp = true;
	a.timestamp = 77;
	t = run1(s, a);
	for (int i = 0; i < 3; i++) {
		e = fx_get(t, (const char *[]){"p", "p/q", "p/q/r"}[i]);
		assert_int_equal(e.type, TREE_DIR);
		assert_int_equal(e.mode, 0711);
		assert_int_equal(e.uid, 33);
		assert_int_equal(e.gid, 34);
		assert_int_equal(e.mtime_sec, 77);
	}
	tree_unref(t);
	/* through a symlink, and over an existing dir: nothing changes there */
	a.src = "/link/b";
	t = run1(s, a);
	assert_int_equal(fx_get(t, "a/b").mode, 0755);
	assert_int_equal(fx_get(t, "a/b").uid, 0);
	tree_unref(t);
	a.src = "/a/file/sub";
	fx_fails(s->f, s->root, a, NULL, ENOTDIR, "not a directory");
}

static void
test_mkdir_without_parents(void **state)
{
	struct state *s = *state;
	struct graph_file_action a = action(GRAPH_FILE_MKDIR, "new");
	struct tree *t;
	struct tree_entry e;

	a.cwd = "/a";
	t = run1(s, a);
	e = fx_get(t, "a/new");
	assert_int_equal(e.mode, 0755);
	assert_int_equal(e.uid, 0);
	assert_int_equal(e.mtime_sec, 0);
	tree_unref(t);
	a.src = "/a/file"; /* exists (even as a file): os.Mkdir's EEXIST is ignored */
	t = run1(s, a);
	assert_int_equal(fx_get(t, "a/file").type, TREE_REG);
	tree_unref(t);
	a.src = "/no/parent";
	fx_fails(s->f, s->root, a, NULL, ENOENT, "/no: no such file or directory");
}

static void
test_mkfile_writes_a_blob_and_replaces(void **state)
{
	struct state *s = *state;
	struct graph_file_action a = action(GRAPH_FILE_MKFILE, "/a/file");
	struct tree *t;
	struct tree_entry e;
	char *buf;
	size_t len;

	a.data = "new bytes";
	a.data_len = 9;
	a.has_mode = true;
	a.mode = 0600;
	a.owner.user = "0";
	a.owner.group = "log";
	t = run1(s, a);
	e = fx_get(t, "a/file");
	assert_int_equal(e.type, TREE_REG);
	assert_int_equal(e.size, 9);
	assert_int_equal(e.mode, 0600);
	assert_int_equal(e.gid, 4);
	assert_int_equal(store_read_blob(s->f->store, &e.digest, 100, &buf, &len, NULL), 0);
	assert_memory_equal(buf, "new bytes", 9);
	free(buf);
	/* the other name of the replaced inode keeps the old content, as after a rename */
	e = fx_get(t, "a/hard");
	assert_int_equal(e.type, TREE_REG);
	assert_int_equal(e.size, 7);
	tree_unref(t);
	a.src = "/link/made"; /* a symlink on the way is followed */
	t = run1(s, a);
	assert_true(fx_lookup(t, "a/made", NULL));
	tree_unref(t);
	a.src = "/a/b";
	fx_fails(s->f, s->root, a, NULL, EISDIR, "is a directory");
	a.src = "/missing/f";
	fx_fails(s->f, s->root, a, NULL, ENOENT, "no such file or directory");
	a.src = "/empty";
	a.data_len = 0;
	t = run1(s, a);
	e = fx_get(t, "empty");
	assert_int_equal(e.size, 0);
	assert_int_equal(e.flags & TREE_ENTRY_HAS_DIGEST, 0);
	tree_unref(t);
}

static void
test_rm_paths_wildcards_and_missing(void **state)
{
	struct state *s = *state;
	struct graph_file_action a = action(GRAPH_FILE_RM, "/a");
	struct tree *t;
	struct tree_entry e;

	t = run1(s, a);
	fx_assert_paths(t, "dangling etc etc/group etc/passwd link x.tmp y.tmp");
	tree_unref(t);
	a.src = "/link"; /* the link itself, not what it points to */
	t = run1(s, a);
	assert_false(fx_lookup(t, "link", NULL));
	assert_true(fx_lookup(t, "a/file", NULL));
	tree_unref(t);
	a.src = "/link/file"; /* a symlink in the parent is followed */
	t = run1(s, a);
	assert_false(fx_lookup(t, "a/file", NULL));
	e = fx_get(t, "a/hard"); /* the other name keeps the content */
	assert_int_equal(e.type, TREE_REG);
	tree_unref(t);
	a.src = "/*.tmp";
	a.allow_wildcard = true;
	t = run1(s, a);
	assert_false(fx_lookup(t, "x.tmp", NULL));
	assert_false(fx_lookup(t, "y.tmp", NULL));
	tree_unref(t);
	a.allow_wildcard = false;
	fx_fails(s->f, s->root, a, NULL, ENOENT, "stat /*.tmp: no such file or directory");
	a.src = "/dangling"; /* os.Stat follows it: not found */
	fx_fails(s->f, s->root, a, NULL, ENOENT, "no such file or directory");
	a.allow_not_found = true;
	t = run1(s, a);
	assert_false(fx_lookup(t, "dangling", NULL));
	tree_unref(t);
	a.src = "/";
	fx_fails(s->f, s->root, a, NULL, EINVAL, "invalid empty path");
}

static void
test_symlink_is_made_once(void **state)
{
	struct state *s = *state;
	struct graph_file_action a = action(GRAPH_FILE_SYMLINK, "/a/to-deep");
	struct tree *t;
	struct tree_entry e;

	a.target = "b/deep";
	a.owner.user = "www";
	t = run1(s, a);
	e = fx_get(t, "a/to-deep");
	assert_int_equal(e.type, TREE_SYMLINK);
	assert_string_equal(e.link, "b/deep");
	assert_int_equal(e.uid, 33);
	tree_unref(t);
	a.src = "/a/file";
	fx_fails(s->f, s->root, a, NULL, EEXIST, "file exists");
	a.src = "/nope/l";
	fx_fails(s->f, s->root, a, NULL, ENOENT, "no such file or directory");
}

static void
test_actions_run_in_order(void **state)
{
	struct state *s = *state;
	struct graph_file_action a[] = {
	    action(GRAPH_FILE_MKDIR, "/w"),
	    action(GRAPH_FILE_MKFILE, "/w/f"),
	    action(GRAPH_FILE_SYMLINK, "/w/l"),
	    action(GRAPH_FILE_RM, "/etc"),
	};
	struct tree *t;

	a[1].data = "x";
	a[1].data_len = 1;
	a[2].target = "f";
	t = fx_run(s->f, s->root, a, 4, NULL, 0, NULL);
	assert_true(fx_lookup(t, "w/f", NULL));
	assert_true(fx_lookup(t, "w/l", NULL));
	assert_false(fx_lookup(t, "etc", NULL));
	tree_unref(t);
	/* no actions, no base: the empty tree */
	t = fx_run(s->f, NULL, NULL, 0, NULL, 0, NULL);
	assert_int_equal(tree_count(t), 1);
	assert_int_equal(fx_get(t, "").mode, 0755);
	tree_unref(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mkdir_with_parents_mode_owner_and_time),
	    cmocka_unit_test(test_mkdir_without_parents),
	    cmocka_unit_test(test_mkfile_writes_a_blob_and_replaces),
	    cmocka_unit_test(test_rm_paths_wildcards_and_missing),
	    cmocka_unit_test(test_symlink_is_made_once),
	    cmocka_unit_test(test_actions_run_in_order),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
