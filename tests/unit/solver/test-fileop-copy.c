// SPDX-License-Identifier: Apache-2.0
/* Unit tests for solver/fileop-copy: Docker's COPY semantics over trees (into a directory,
 * onto a path, directory contents, globs, symlinks, chown by name, chmod, timestamps,
 * include and exclude patterns, hardlinks), and that a copy writes no content. */
#include <errno.h>
#include <time.h>

#include "tests/unit/solver/fileop-fixture.h"

/* The source: a context-like tree. */
static struct tree *
context(struct fx *f)
{
	struct spec s = fx_spec(f);

	fx_file(&s, "f", "hello", 0640);
	fx_file(&s, "a.c", "a", 0644);
	fx_file(&s, "b.c", "b", 0644);
	fx_file(&s, "*.txt", "star", 0644);
	fx_file(&s, "x.txt", "x", 0644);
	fx_dir(&s, "dir", 0700);
	fx_file(&s, "dir/one", "1", 0600);
	fx_dir(&s, "dir/sub", 0750);
	fx_file(&s, "dir/sub/two.log", "2", 0644);
	fx_file(&s, "dir/sub/keep.log", "k", 0644);
	fx_link(&s, "dir/rel", TREE_SYMLINK, "one");
	fx_link(&s, "link", TREE_SYMLINK, "f");
	fx_link(&s, "dirlink", TREE_SYMLINK, "/dir");
	fx_file(&s, "sub/c.c", "c", 0644);
	fx_file(&s, "etc/passwd", "app:x:9:9::/:/bin/sh\n", 0644); /* never used: dest's wins */
	return fx_build(&s);
}

/* The destination: a small root filesystem. */
static struct tree *
rootfs(struct fx *f)
{
	struct spec s = fx_spec(f);
	struct tree_entry e = fx_entry("app", TREE_DIR, 0711);

	e.uid = 5;
	e.gid = 6;
	e.mtime_sec = 42;
	fx_add(&s, &e);
	fx_file(&s, "app/old", "old", 0644);
	fx_file(&s, "etc/passwd",
	        "root:x:0:0:root:/root:/bin/sh\n# comment\napp:x:1000:1001:App:/app:/bin/sh\n",
	        0644);
	fx_file(&s, "etc/group", "root:x:0:\nstaff:x:50:app\n", 0644);
	fx_link(&s, "lnk", TREE_SYMLINK, "/real");
	fx_dir(&s, "real", 0755);
	fx_file(&s, "file", "f", 0644);
	return fx_build(&s);
}

struct state {
	struct fx *f;
	struct tree *ctx, *root;
};

static int
setup(void **state)
{
	struct state *s = xcalloc(1, sizeof(*s));

	if (fx_setup((void **)&s->f) < 0)
		return -1;
	s->ctx = context(s->f);
	s->root = rootfs(s->f);
	*state = s;
	return 0;
}

static int
teardown(void **state)
{
	struct state *s = *state;

	tree_unref(s->ctx);
	tree_unref(s->root);
	fx_teardown((void **)&s->f);
	free(s);
	return 0;
}

static struct tree *
copy1(struct state *s, struct graph_file_action a)
{
	const struct tree *in[] = {s->ctx};

	return fx_run(s->f, s->root, &a, 1, in, 1, NULL);
}

static void
test_file_into_existing_dir_keeps_its_metadata_and_content_id(void **state)
{
	struct state *s = *state;
	struct tree *t = copy1(s, fx_copy("/f", "/app"));
	struct tree_entry src = fx_get(s->ctx, "f"), e = fx_get(t, "app/f");

	assert_int_equal(e.type, TREE_REG);
	assert_true(digest_equal(&e.digest, &src.digest));
	assert_int_equal(e.mode, 0640);
	assert_int_equal(e.mtime_sec, 1600000000); /* kept without a timestamp */
	e = fx_get(t, "app");
	assert_int_equal(e.mode, 0711);
	assert_int_equal(e.uid, 5);
	assert_int_equal(e.mtime_sec, 42);
	assert_true(fx_lookup(t, "app/old", NULL));
	tree_unref(t);
}

static void
test_file_onto_a_new_path_makes_its_parents(void **state)
{
	struct state *s = *state;
	struct tree *t = copy1(s, fx_copy("f", "/new/deep/name"));
	struct tree_entry e = fx_get(t, "new/deep");

	assert_int_equal(e.type, TREE_DIR);
	assert_int_equal(e.mode, 0755);
	assert_int_equal(e.uid, 0);
	assert_int_equal(e.mtime_sec, 0);
	assert_int_equal(fx_get(t, "new/deep/name").type, TREE_REG);
	tree_unref(t);
	/* a trailing slash: into a new directory */
	t = copy1(s, fx_copy("f", "/d/"));
	assert_int_equal(fx_get(t, "d/f").type, TREE_REG);
	tree_unref(t);
	/* onto an existing file: replaced */
	t = copy1(s, fx_copy("f", "/file"));
	assert_int_equal(fx_get(t, "file").size, 5);
	tree_unref(t);
}

static void
test_without_create_parents_the_parent_must_exist(void **state)
{
	struct state *s = *state;
	struct graph_file_action a = fx_copy("f", "/missing/name");

	a.create_parents = false;
	fx_fails(s->f, s->root, a, s->ctx, ENOENT, "failed to stat /missing");
	a.dest = "/app/name";
	tree_unref(copy1(s, a));
}

static void
test_dir_contents_go_into_dest(void **state)
{
	struct state *s = *state;
	struct tree *t = copy1(s, fx_copy("dir", "/out"));
	struct tree_entry e;

	fx_assert_paths(t, "app app/old etc etc/group etc/passwd file lnk out out/one out/rel "
	                   "out/sub out/sub/keep.log out/sub/two.log real");
	e = fx_get(t, "out"); /* made by MkdirAll, not the source dir's 0700 */
	assert_int_equal(e.mode, 0755);
	assert_int_equal(fx_get(t, "out/sub").mode, 0750);
	e = fx_get(t, "out/rel"); /* a symlink inside is kept as a link */
	assert_int_equal(e.type, TREE_SYMLINK);
	assert_string_equal(e.link, "one");
	tree_unref(t);
	/* into an existing dir: merged, the dir keeps its metadata */
	t = copy1(s, fx_copy("dir/", "/app"));
	assert_true(fx_lookup(t, "app/old", NULL));
	assert_true(fx_lookup(t, "app/sub/two.log", NULL));
	assert_int_equal(fx_get(t, "app").mode, 0711);
	tree_unref(t);
}

static void
test_dir_itself_without_dir_contents(void **state)
{
	struct state *s = *state;
	struct graph_file_action a = fx_copy("dir", "/app");
	struct tree *t;

	a.dir_contents = false;
	t = copy1(s, a);
	assert_int_equal(fx_get(t, "app/dir").mode, 0700); /* created: the source's metadata */
	assert_true(fx_lookup(t, "app/dir/sub/keep.log", NULL));
	tree_unref(t);
}

static void
test_globs_match_one_component_each(void **state)
{
	struct state *s = *state;
	struct graph_file_action a = fx_copy("*.c", "/out/");
	struct tree *t = copy1(s, a);

	assert_true(fx_lookup(t, "out/a.c", NULL));
	assert_true(fx_lookup(t, "out/b.c", NULL));
	assert_false(fx_lookup(t, "out/c.c", NULL)); /* sub/c.c: '*' never matches '/' */
	tree_unref(t);
	t = copy1(s, fx_copy("*/c.?", "/out/"));
	fx_assert_paths(t, "app app/old etc etc/group etc/passwd file lnk out out/c.c real");
	tree_unref(t);
	t = copy1(s, fx_copy("[ab].c", "/out/"));
	assert_true(fx_lookup(t, "out/a.c", NULL));
	assert_true(fx_lookup(t, "out/b.c", NULL));
	tree_unref(t);
	t = copy1(s, fx_copy("\\*.tx?", "/out/")); /* escaped: the file named "*.txt" only */
	assert_true(fx_lookup(t, "out/*.txt", NULL));
	assert_false(fx_lookup(t, "out/x.txt", NULL));
	tree_unref(t);
	/* several matches want a directory */
	fx_fails(s->f, s->root, fx_copy("*.c", "/out"), s->ctx, EINVAL,
	         "the destination must be a directory and end with a /");
	fx_fails(s->f, s->root, fx_copy("[", "/out/"), s->ctx, EINVAL, "bad pattern '['");
}

static void
test_empty_globs_and_missing_sources(void **state)
{
	struct state *s = *state;
	struct graph_file_action a = fx_copy("*.nothing", "/out/");
	struct tree *t;

	fx_fails(s->f, s->root, a, s->ctx, ENOENT,
	         "copy '*.nothing' to '/out/': no source files were specified");
	a.allow_empty_wildcard = true;
	t = copy1(s, a);
	fx_assert_paths(t, "app app/old etc etc/group etc/passwd file lnk real");
	tree_unref(t);
	fx_fails(s->f, s->root, fx_copy("/nope", "/x"), s->ctx, ENOENT,
	         "failed to compute cache key: \"/nope\": not found");
}

static void
test_symlink_sources_are_followed_or_kept(void **state)
{
	struct state *s = *state;
	struct graph_file_action a = fx_copy("link", "/out/");
	struct tree *t = copy1(s, a);
	struct tree_entry e = fx_get(t, "out/link");

	assert_int_equal(e.type, TREE_REG); /* the target's content, under the link's name */
	assert_int_equal(e.size, 5);
	tree_unref(t);
	t = copy1(s, fx_copy("dirlink", "/o2")); /* a link to a directory: its contents */
	assert_true(fx_lookup(t, "o2/one", NULL));
	tree_unref(t);
	a.follow_symlinks = false;
	t = copy1(s, a);
	e = fx_get(t, "out/link");
	assert_int_equal(e.type, TREE_SYMLINK);
	assert_string_equal(e.link, "f");
	tree_unref(t);
	/* a symlink in the destination path is followed */
	t = copy1(s, fx_copy("f", "/lnk/"));
	assert_true(fx_lookup(t, "real/f", NULL));
	assert_int_equal(fx_get(t, "lnk").type, TREE_SYMLINK);
	tree_unref(t);
}

static void
test_chown_names_resolve_in_the_destination(void **state)
{
	struct state *s = *state;
	struct graph_file_action a = fx_copy("dir", "/out");
	struct tree *t;
	struct tree_entry e;

	a.owner.user = "app";
	t = copy1(s, a);
	e = fx_get(t, "out/one");
	assert_int_equal(e.uid, 1000); /* /etc/passwd of the rootfs, not of the context */
	assert_int_equal(e.gid, 1001);
	e = fx_get(t, "out"); /* made for the copy: owned too */
	assert_int_equal(e.uid, 1000);
	assert_int_equal(fx_get(t, "out/rel").uid, 1000);
	tree_unref(t);
	a.owner.group = "staff";
	t = copy1(s, a);
	assert_int_equal(fx_get(t, "out/sub/keep.log").gid, 50);
	tree_unref(t);
	a.owner.user = "7";
	a.owner.group = NULL;
	t = copy1(s, a);
	e = fx_get(t, "out/one");
	assert_int_equal(e.uid, 7);
	assert_int_equal(e.gid, 7);
	tree_unref(t);
	a.owner.user = "nobody-here";
	fx_fails(s->f, s->root, a, s->ctx, ENOENT,
	         "unable to find user nobody-here: no matching entries in passwd file");
	a.owner.user = "app";
	a.owner.group = "nogroup";
	fx_fails(s->f, s->root, a, s->ctx, ENOENT,
	         "unable to find group nogroup: no matching entries in group file");
}

static void
test_chmod_and_timestamp_on_every_copied_entry(void **state)
{
	struct state *s = *state;
	struct graph_file_action a = fx_copy("dir", "/app");
	struct tree *t;
	struct tree_entry e;

	a.has_mode = true;
	a.mode = 02750;
	a.has_timestamp = true;
	a.timestamp = 1234;
	t = copy1(s, a);
	e = fx_get(t, "app/sub");
	assert_int_equal(e.mode, 02750); /* directories too */
	assert_int_equal(e.mtime_sec, 1234);
	e = fx_get(t, "app/one");
	assert_int_equal(e.mode, 02750);
	assert_int_equal(e.mtime_sec, 1234);
	e = fx_get(t, "app/rel");
	assert_int_equal(e.mode, 0777); /* not symlinks */
	assert_int_equal(e.mtime_sec, 1234);
	e = fx_get(t, "app"); /* the existing destination is not a copied entry */
	assert_int_equal(e.mode, 0711);
	assert_int_equal(e.mtime_sec, 42);
	tree_unref(t);
}

static void
test_exclude_and_include_patterns(void **state)
{
	struct state *s = *state;
	struct graph_file_action a = fx_copy("dir", "/out");
	char *ex[] = {"*/*.log", "!sub/keep.log", "rel"}, *in[] = {"sub/*.log"};
	struct tree *t;

	a.exclude = (struct graph_strv){ex, 3};
	t = copy1(s, a);
	assert_true(fx_lookup(t, "out/one", NULL));
	assert_true(fx_lookup(t, "out/sub/keep.log", NULL));
	assert_false(fx_lookup(t, "out/sub/two.log", NULL));
	assert_false(fx_lookup(t, "out/rel", NULL));
	tree_unref(t);
	a.exclude = (struct graph_strv){0};
	a.include = (struct graph_strv){in, 1};
	t = copy1(s, a);
	fx_assert_paths(t, "app app/old etc etc/group etc/passwd file lnk out out/sub "
	                   "out/sub/keep.log out/sub/two.log real");
	assert_int_equal(fx_get(t, "out/sub").mode, 0750); /* made when its first file was */
	tree_unref(t);
}

static void
test_type_conflicts_fail_as_docker_does(void **state)
{
	struct state *s = *state;
	struct spec b = fx_spec(s->f);
	struct tree *base;

	fx_file(&b, "out/sub", "a file where the source has a dir", 0644);
	fx_dir(&b, "out/x/one", 0755);
	base = fx_build(&b);
	fx_fails(s->f, base, fx_copy("dir/sub", "/out/sub"), s->ctx, ENOTDIR,
	         "cannot copy to non-directory: /out/sub");
	fx_fails(s->f, base, fx_copy("dir", "/out/x"), s->ctx, EISDIR,
	         "cannot replace to directory /out/x/one with file");
	tree_unref(base);
}

static void
test_hardlinks_stay_links_and_replaced_files_keep_old_links(void **state)
{
	struct state *s = *state;
	struct spec c = fx_spec(s->f), b = fx_spec(s->f);
	struct tree *src, *base, *t;
	const struct tree *in[1];
	struct graph_file_action a = fx_copy("d", "/out");
	char *ex[] = {"t"};
	struct tree_entry e;

	fx_file(&c, "d/t", "target", 0644);
	fx_link(&c, "d/l1", TREE_HARDLINK, "d/t");
	fx_link(&c, "d/l2", TREE_HARDLINK, "d/t");
	fx_file(&c, "new", "new content", 0644);
	src = fx_build(&c);
	in[0] = src;
	t = fx_run(s->f, s->root, &a, 1, in, 1, NULL);
	e = fx_get(t, "out/l1"); /* the first in tree order carries the content */
	assert_int_equal(e.type, TREE_REG);
	assert_int_equal(tree_nlink(t, e.index), 3);
	tree_unref(t);
	a.exclude = (struct graph_strv){ex, 1}; /* the target left out: the links stay one inode */
	t = fx_run(s->f, s->root, &a, 1, in, 1, NULL);
	assert_int_equal(tree_nlink(t, fx_get(t, "out/l1").index), 2);
	assert_false(fx_lookup(t, "out/t", NULL));
	tree_unref(t);
	/* copying over a file with hardlinks: the other names keep the old content */
	fx_file(&b, "x/f", "old", 0644);
	fx_link(&b, "x/g", TREE_HARDLINK, "x/f");
	fx_link(&b, "y", TREE_HARDLINK, "x/f");
	base = fx_build(&b);
	a = fx_copy("new", "/x/f");
	t = fx_run(s->f, base, &a, 1, in, 1, NULL);
	assert_int_equal(fx_get(t, "x/f").size, 11);
	e = fx_get(t, "x/g");
	assert_int_equal(e.type, TREE_REG);
	assert_int_equal(e.size, 3);
	e = fx_get(t, "y");
	assert_int_equal(e.type, TREE_HARDLINK);
	assert_string_equal(e.link, "x/g");
	tree_unref(t);
	tree_unref(base);
	tree_unref(src);
}

static void
test_several_actions_see_each_others_results(void **state)
{
	struct state *s = *state;
	struct graph_file_action a[] = {fx_copy("f", "/w/"), fx_copy("dir/one", "/w/")};
	const struct tree *in[] = {s->ctx};
	struct tree *t;

	a[1].owner.user = "app";
	t = fx_run(s->f, s->root, a, 2, in, 1, NULL);
	assert_true(fx_lookup(t, "w/f", NULL));
	assert_int_equal(fx_get(t, "w/one").uid, 1000);
	tree_unref(t);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
count_blob(const struct digest *d, uint64_t size, void *userdata)
{
	uint64_t *n = userdata;

	(void)d;
	(void)size;
	n[0]++;
	n[1] += size;
	return 0;
}

/* COPY of a 1 GiB file between two trees is a metadata operation: measured, and the store
 * gains only the result tree. */
static void
test_copy_of_a_1gib_file_writes_no_content(void **state)
{
	struct state *s = *state;
	struct spec c = fx_spec(s->f);
	struct tree_entry big = fx_entry("big.bin", TREE_REG, 0644);
	struct graph_file_action a = fx_copy("big.bin", "/data/");
	uint64_t before[2] = {0}, after[2] = {0};
	const struct tree *in[1];
	double best = 1e9;
	struct tree *src;

	big.size = 1ull << 30;
	big.flags = TREE_ENTRY_HAS_DIGEST;
	digest_buffer("not the real bytes", 18, &big.digest); /* valid, and in no store */
	big.locator = "local:/nowhere/big.bin";
	big.locator_len = strlen(big.locator);
	fx_add(&c, &big);
	src = fx_build(&c);
	in[0] = src;
	assert_int_equal(store_foreach_blob(s->f->store, count_blob, before, NULL), 0);
	for (int k = 0; k < 5; k++) {
		struct graph_file op = {.actions = &a, .n_actions = 1};
		struct digest id;
		double t0 = now_ms();

		assert_int_equal(fileop_apply(&s->f->env, &op, s->root, in, 1, &id, NULL), 0);
		best = best < now_ms() - t0 ? best : now_ms() - t0;
	}
	assert_int_equal(store_foreach_blob(s->f->store, count_blob, after, NULL), 0);
	assert_int_equal(after[0], before[0] + 1); /* the result tree, nothing else */
	assert_true(after[1] - before[1] < 4096);
	print_message("COPY of a 1 GiB file: %.3f ms, %llu bytes written to the store (the tree)\n",
	              best, (unsigned long long)(after[1] - before[1]));
	assert_true(best <= 10.0);
	{
		struct tree *t = fx_run(s->f, s->root, &a, 1, in, 1, NULL);
		struct tree_entry e = fx_get(t, "data/big.bin");

		assert_int_equal(e.size, 1ull << 30);
		assert_true(digest_equal(&e.digest, &big.digest));
		assert_string_equal(e.locator, "local:/nowhere/big.bin");
		tree_unref(t);
	}
	tree_unref(src);
}

/* A COPY into a 100k-entry tree merges a small diff: timed, and compared with a tree that
 * holds the same entries. */
static void
test_copy_into_a_100k_entry_tree_streams(void **state)
{
	struct state *s = *state;
	struct spec b = fx_spec(s->f);
	struct graph_file_action a = fx_copy("dir", "/usr/d250/");
	const struct tree *in[] = {s->ctx};
	struct tree *base, *t;
	double best = 1e9;
	char path[64];

	for (unsigned d = 0; d < 500; d++) {
		for (unsigned f = 0; f < 200; f++) {
			struct tree_entry e;

			snprintf(path, sizeof(path), "usr/d%03u/file-%03u", d, f);
			e = fx_entry(path, TREE_REG, 0644);
			e.size = 100;
			e.flags = TREE_ENTRY_HAS_DIGEST;
			fx_add(&b, &e);
		}
	}
	base = fx_build(&b);
	for (int k = 0; k < 3; k++) {
		struct graph_file op = {.actions = &a, .n_actions = 1};
		struct digest id;
		double t0 = now_ms();

		assert_int_equal(fileop_apply(&s->f->env, &op, base, in, 1, &id, NULL), 0);
		best = best < now_ms() - t0 ? best : now_ms() - t0;
	}
	t = fx_run(s->f, base, &a, 1, in, 1, NULL);
	assert_int_equal(tree_count(t), tree_count(base) + 5);
	assert_true(fx_lookup(t, "usr/d250/sub/keep.log", NULL));
	assert_true(fx_lookup(t, "usr/d499/file-199", NULL));
	print_message("COPY of a 5-entry dir into a %u-entry tree: %.2f ms (merge, hash and "
	              "write of the result)\n",
	              tree_count(base), best);
	tree_unref(t);
	tree_unref(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_file_into_existing_dir_keeps_its_metadata_and_content_id),
	    cmocka_unit_test(test_file_onto_a_new_path_makes_its_parents),
	    cmocka_unit_test(test_without_create_parents_the_parent_must_exist),
	    cmocka_unit_test(test_dir_contents_go_into_dest),
	    cmocka_unit_test(test_dir_itself_without_dir_contents),
	    cmocka_unit_test(test_globs_match_one_component_each),
	    cmocka_unit_test(test_empty_globs_and_missing_sources),
	    cmocka_unit_test(test_symlink_sources_are_followed_or_kept),
	    cmocka_unit_test(test_chown_names_resolve_in_the_destination),
	    cmocka_unit_test(test_chmod_and_timestamp_on_every_copied_entry),
	    cmocka_unit_test(test_exclude_and_include_patterns),
	    cmocka_unit_test(test_type_conflicts_fail_as_docker_does),
	    cmocka_unit_test(test_hardlinks_stay_links_and_replaced_files_keep_old_links),
	    cmocka_unit_test(test_several_actions_see_each_others_results),
	    cmocka_unit_test(test_copy_of_a_1gib_file_writes_no_content),
	    cmocka_unit_test(test_copy_into_a_100k_entry_tree_streams),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
