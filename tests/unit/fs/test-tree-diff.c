// SPDX-License-Identifier: Apache-2.0
/* Unit tests for fs/tree-diff: what a diff holds, how it applies, and that diff then apply
 * gives back exactly the upper tree. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "fs/tree.h"
#include "fs/tree-writer.h"
#include "util/error.h"
#include "util/xalloc.h"

static void
release(void *buf, size_t len)
{
	(void)len;
	free(buf);
}

static struct tree_entry
mk(const char *path, enum tree_entry_type type)
{
	const char *slash = strrchr(path, '/');
	struct tree_entry e = {
	    .path = path,
	    .path_len = strlen(path),
	    .name = slash ? slash + 1 : path,
	    .type = type,
	    .mode = type == TREE_DIR ? 0755 : 0644,
	    .mtime_sec = 1000,
	};

	e.name_len = strlen(e.name);
	return e;
}

static struct tree_entry
mk_link(const char *path, enum tree_entry_type type, const char *link)
{
	struct tree_entry e = mk(path, type);

	e.link = link;
	e.link_len = strlen(link);
	return e;
}

static void
add(struct tree_builder *b, struct tree_entry e)
{
	struct kl_error *err = NULL;

	if (tree_builder_add(b, &e, NULL, 0, &err) < 0)
		fail_msg("adding '%s': %s", e.path, err->msg);
}

/* Serializes b (which it frees) and parses the result. */
static struct tree *
build(struct tree_builder *b)
{
	struct kl_error *err = NULL;
	struct tree *t = NULL;
	char *buf;
	size_t len;

	if (tree_builder_serialize(b, &buf, &len, &err) < 0)
		fail_msg("serializing: %s", err->msg);
	tree_builder_free(b);
	if (tree_parse(buf, len, release, &t, &err) < 0)
		fail_msg("parsing: %s", err->msg);
	return t;
}

static struct tree *
diff(const struct tree *lower, const struct tree *upper)
{
	struct tree_builder *b = NULL;
	struct kl_error *err = NULL;

	if (tree_diff(lower, upper, &b, &err) < 0)
		fail_msg("diff: %s", err->msg);
	return build(b);
}

static struct tree *
apply(const struct tree *base, const struct tree *d)
{
	struct tree_writer *w = NULL;
	struct kl_error *err = NULL;
	struct tree *t = NULL;

	if (tree_apply(base, d, &w, &err) < 0)
		fail_msg("apply: %s", err->msg);
	if (tree_writer_finish_tree(w, &t, &err) < 0)
		fail_msg("apply: %s", err->msg);
	tree_writer_free(w);
	return t;
}

static bool
has(const struct tree *t, const char *path, struct tree_entry *ret)
{
	uint32_t idx;

	if (tree_lookup(t, path, strlen(path), &idx) < 0)
		return false;
	if (ret)
		tree_entry_at(t, idx, ret);
	return true;
}

/* The paths of t, one per line, for whole-tree comparisons. */
static char *
paths(const struct tree *t)
{
	char *s = xstrdup("");

	for (uint32_t i = 1; i < tree_count(t); i++) {
		struct tree_entry e;
		char *n;

		tree_entry_at(t, i, &e);
		n = xasprintf("%s%s%s", s, *s ? " " : "", e.path);
		free(s);
		s = n;
	}
	return s;
}

static void
assert_paths(const struct tree *t, const char *want)
{
	char *got = paths(t);

	if (strcmp(got, want))
		fail_msg("paths '%s', want '%s'", got, want);
	free(got);
}

/* t as a snapshot: its entries without the implicit flags that neither diff nor apply keep. */
static struct tree *
without_implicit(const struct tree *t)
{
	struct tree_builder *b = tree_builder_new();

	for (uint32_t i = 0; i < tree_count(t); i++) {
		struct tree_xattr x[4];
		struct tree_entry e;

		tree_entry_at(t, i, &e);
		assert_true(e.n_xattrs <= 4);
		for (uint32_t k = 0; k < e.n_xattrs; k++)
			tree_entry_xattr(t, &e, k, &x[k]);
		e.flags &= ~(uint32_t)TREE_ENTRY_IMPLICIT;
		assert_int_equal(tree_builder_add(b, &e, x, e.n_xattrs, NULL), 0);
	}
	return build(b);
}

static void
assert_no_implicit(const struct tree *t)
{
	for (uint32_t i = 0; i < tree_count(t); i++) {
		struct tree_entry e;

		tree_entry_at(t, i, &e);
		if (e.flags & TREE_ENTRY_IMPLICIT)
			fail_msg("'%s' is implicit", e.path);
	}
}

static void
assert_roundtrip(const struct tree *lower, const struct tree *upper)
{
	struct tree *d = diff(lower, upper);
	struct tree *r = apply(lower, d);
	struct tree *snap = without_implicit(upper);

	assert_no_implicit(d);
	assert_no_implicit(r);
	if (!digest_equal(tree_id(r), tree_id(snap))) {
		char *want = paths(upper), *got = paths(r), *dp = paths(d);
		fail_msg("apply(lower, diff) != upper\n  upper: %s\n  got:   %s\n  diff:  %s", want,
		         got, dp);
	}
	tree_unref(snap);
	tree_unref(d);
	tree_unref(r);
}

static void
test_diff_of_identical_trees_is_just_the_root(void **state)
{
	struct tree_builder *b = tree_builder_new();
	struct tree_entry root = mk("", TREE_DIR), e;
	struct tree *t, *d;

	(void)state;
	root.mode = 0700;
	root.uid = 7;
	add(b, root);
	add(b, mk("a/b", TREE_REG));
	t = build(b);
	d = diff(t, t);
	assert_int_equal(tree_count(d), 1);
	tree_entry_at(d, TREE_ROOT, &e);
	assert_int_equal(e.mode, 0700); /* upper's root, not an invented one */
	assert_int_equal(e.uid, 7);
	assert_roundtrip(t, t);
	tree_unref(d);
	tree_unref(t);
}

static void
test_diff_holds_changes_and_their_parents(void **state)
{
	struct tree_builder *lb = tree_builder_new(), *ub = tree_builder_new();
	struct tree_entry e = mk("d", TREE_DIR), got;
	struct tree *lower, *upper, *d;

	(void)state;
	add(lb, e);
	add(lb, mk("d/e/f", TREE_REG));
	add(lb, mk("d/g", TREE_REG));
	add(lb, mk("h", TREE_REG));
	e.mtime_sec = 2000; /* upper's parent has other metadata: the diff carries upper's */
	add(ub, e);
	e = mk("d/e/f", TREE_REG);
	e.mode = 0600;
	add(ub, e);
	add(ub, mk("d/g", TREE_REG));
	add(ub, mk("h", TREE_REG));
	add(ub, mk("new/x", TREE_REG));
	lower = build(lb);
	upper = build(ub);
	d = diff(lower, upper);
	assert_paths(d, "d d/e d/e/f new new/x");
	assert_true(has(d, "d", &got));
	assert_int_equal(got.mtime_sec, 2000);
	assert_true(has(d, "d/e/f", &got));
	assert_int_equal(got.mode, 0600);
	assert_roundtrip(lower, upper);
	tree_unref(lower);
	tree_unref(upper);
	tree_unref(d);
}

static void
test_removed_subtree_gets_one_whiteout_at_its_top(void **state)
{
	struct tree_builder *lb = tree_builder_new(), *ub = tree_builder_new();
	struct tree *lower, *upper, *d;
	struct tree_entry e;

	(void)state;
	add(lb, mk("keep/x/y/z", TREE_REG));
	add(lb, mk("keep/x/w", TREE_REG));
	add(lb, mk("keep/v", TREE_REG));
	add(ub, mk("keep/v", TREE_REG));
	lower = build(lb);
	upper = build(ub);
	/* keep and keep/x were created 0755 0:0 mtime 0 on both sides: keep is unchanged */
	d = diff(lower, upper);
	assert_paths(d, "keep keep/x");
	assert_true(has(d, "keep/x", &e));
	assert_int_equal(e.type, TREE_WHITEOUT);
	assert_roundtrip(lower, upper);
	tree_unref(d);
	tree_unref(lower);
	tree_unref(upper);
}

static void
test_type_changes_replace_or_hide(void **state)
{
	struct tree_builder *lb = tree_builder_new(), *ub = tree_builder_new();
	struct tree *lower, *upper, *d, *r;
	struct tree_entry e;

	(void)state;
	add(lb, mk("p", TREE_REG));     /* file → dir */
	add(lb, mk("q/old", TREE_REG)); /* dir → file */
	add(lb, mk_link("s", TREE_SYMLINK, "x"));
	add(ub, mk("p/child", TREE_REG));
	add(ub, mk("q", TREE_REG));
	add(ub, mk_link("s", TREE_SYMLINK, "y"));
	lower = build(lb);
	upper = build(ub);
	d = diff(lower, upper);
	assert_paths(d, "p p/child q s");
	assert_true(has(d, "p", &e));
	assert_int_equal(e.type, TREE_DIR);
	assert_int_equal(e.flags & TREE_ENTRY_OPAQUE, TREE_ENTRY_OPAQUE);
	assert_true(has(d, "q", &e));
	assert_int_equal(e.type, TREE_REG);
	r = apply(lower, d);
	assert_paths(r, "p p/child q s");
	assert_true(has(r, "p", &e));
	assert_int_equal(e.flags, 0); /* a result holds no opaque flags */
	assert_true(has(r, "s", &e));
	assert_string_equal(e.link, "y");
	assert_roundtrip(lower, upper);
	tree_unref(r);
	tree_unref(d);
	tree_unref(lower);
	tree_unref(upper);
}

static void
test_whiteout_hides_lower_subtree(void **state)
{
	struct tree_builder *bb = tree_builder_new(), *db = tree_builder_new();
	struct tree *base, *d, *r;

	(void)state;
	add(bb, mk("gone/a/b", TREE_REG));
	add(bb, mk("gone/c", TREE_REG));
	add(bb, mk("gone.txt", TREE_REG));
	add(bb, mk("stay/file", TREE_REG));
	add(db, mk("gone", TREE_WHITEOUT));
	add(db, mk("stay/nothing-here", TREE_WHITEOUT)); /* whiteout of nothing: no effect */
	base = build(bb);
	d = build(db);
	r = apply(base, d);
	assert_paths(r, "gone.txt stay stay/file");
	tree_unref(r);
	tree_unref(d);
	tree_unref(base);
}

static void
test_opaque_dir_hides_lower_children(void **state)
{
	struct tree_builder *bb = tree_builder_new(), *db = tree_builder_new();
	struct tree_entry o = mk("o", TREE_DIR), e;
	struct tree *base, *d, *r;

	(void)state;
	add(bb, mk("o/a", TREE_REG));
	add(bb, mk("o/sub/deep", TREE_REG));
	add(bb, mk("p/a", TREE_REG));
	o.flags = TREE_ENTRY_OPAQUE;
	o.mode = 0711;
	add(db, o);
	add(db, mk("o/c", TREE_REG));
	add(db, mk("p/b", TREE_REG)); /* p is not opaque: p/a stays */
	base = build(bb);
	d = build(db);
	r = apply(base, d);
	assert_paths(r, "o o/c p p/a p/b");
	assert_true(has(r, "o", &e));
	assert_int_equal(e.mode, 0711);
	assert_int_equal(e.flags, 0);
	tree_unref(r);
	tree_unref(d);
	tree_unref(base);
}

static void
test_nondir_replacing_dir_removes_its_subtree(void **state)
{
	struct tree_builder *bb = tree_builder_new(), *db = tree_builder_new();
	struct tree *base, *d, *r;

	(void)state;
	add(bb, mk("x/y/z", TREE_REG));
	add(bb, mk("x0", TREE_REG));
	add(db, mk_link("x", TREE_SYMLINK, "elsewhere"));
	base = build(bb);
	d = build(db);
	r = apply(base, d);
	assert_paths(r, "x x0");
	tree_unref(r);
	tree_unref(d);
	tree_unref(base);
}

static void
test_hardlinks_to_a_removed_target_become_copies(void **state)
{
	struct tree_builder *bb = tree_builder_new(), *db = tree_builder_new();
	struct tree_entry t = mk("t", TREE_REG), e;
	struct tree_xattr x = {"user.k", 6, "v", 1}, got;
	struct tree *base, *d, *r;

	(void)state;
	t.flags = TREE_ENTRY_HAS_DIGEST;
	t.digest.bytes[0] = 0xaa;
	t.size = 12;
	t.uid = 33;
	assert_int_equal(tree_builder_add(bb, &t, &x, 1, NULL), 0);
	add(bb, mk_link("l1", TREE_HARDLINK, "t"));
	add(bb, mk_link("l2", TREE_HARDLINK, "t"));
	add(bb, mk("u", TREE_REG));
	add(bb, mk_link("l3", TREE_HARDLINK, "u"));
	add(db, mk("t", TREE_WHITEOUT));
	add(db, mk_link("u", TREE_SYMLINK, "t")); /* no longer a regular file either */
	base = build(bb);
	d = build(db);
	r = apply(base, d);
	assert_paths(r, "l1 l2 l3 u");
	assert_true(has(r, "l1", &e));
	assert_int_equal(e.type, TREE_REG);
	assert_int_equal(e.flags, TREE_ENTRY_HAS_DIGEST);
	assert_int_equal(e.digest.bytes[0], 0xaa);
	assert_int_equal(e.size, 12);
	assert_int_equal(e.uid, 33);
	assert_int_equal(e.n_xattrs, 1);
	tree_entry_xattr(r, &e, 0, &got);
	assert_string_equal(got.name, "user.k");
	assert_true(has(r, "l2", &e)); /* still sharing an inode, now l1's */
	assert_int_equal(e.type, TREE_HARDLINK);
	assert_string_equal(e.link, "l1");
	assert_int_equal(tree_nlink(r, e.index), 2);
	assert_true(has(r, "l3", &e));
	assert_int_equal(e.type, TREE_REG);
	tree_unref(r);
	tree_unref(d);
	tree_unref(base);
}

static void
test_hardlinks_follow_a_replaced_target(void **state)
{
	struct tree_builder *bb = tree_builder_new(), *db = tree_builder_new();
	struct tree_entry t = mk("t", TREE_REG), e;
	struct tree *base, *d, *r;

	(void)state;
	add(bb, t);
	add(bb, mk_link("l", TREE_HARDLINK, "t"));
	t.size = 99;
	add(db, t);
	base = build(bb);
	d = build(db);
	r = apply(base, d);
	assert_true(has(r, "l", &e));
	assert_int_equal(e.type, TREE_HARDLINK);
	assert_int_equal(tree_nlink(r, e.index), 2);
	tree_entry_at(r, tree_resolve_hardlink(r, e.index), &e);
	assert_int_equal(e.size, 99);
	tree_unref(r);
	tree_unref(d);
	tree_unref(base);
}

static void
test_diff_of_a_new_hardlink_carries_its_target(void **state)
{
	struct tree_builder *lb = tree_builder_new(), *ub = tree_builder_new();
	struct tree *lower, *upper, *d;

	(void)state;
	add(lb, mk("dir/t", TREE_REG));
	add(lb, mk("other", TREE_REG));
	add(ub, mk("dir/t", TREE_REG));
	add(ub, mk("other", TREE_REG));
	add(ub, mk_link("l", TREE_HARDLINK, "dir/t"));
	lower = build(lb);
	upper = build(ub);
	d = diff(lower, upper);
	assert_paths(d, "dir dir/t l");
	assert_roundtrip(lower, upper);
	tree_unref(d);
	tree_unref(lower);
	tree_unref(upper);
}

static void
test_xattr_and_content_changes_are_changes(void **state)
{
	struct tree_builder *lb = tree_builder_new(), *ub = tree_builder_new();
	struct tree_xattr x1 = {"user.a", 6, "1", 1}, x2 = {"user.a", 6, "2", 1};
	struct tree_entry f = mk("f", TREE_REG), g = mk("g", TREE_REG);
	struct tree_entry h = mk("h", TREE_REG), h2;
	struct tree *lower, *upper, *d;

	(void)state;
	f.flags = g.flags = h.flags = TREE_ENTRY_HAS_DIGEST;
	h.locator = "git:1";
	h.locator_len = 5;
	h2 = h;
	h2.locator = "git:2";
	assert_int_equal(tree_builder_add(lb, &f, &x1, 1, NULL), 0);
	assert_int_equal(tree_builder_add(ub, &f, &x2, 1, NULL), 0);
	add(lb, g);
	g.digest.bytes[5] = 1;
	add(ub, g);
	add(lb, h);
	add(ub, h2);
	add(lb, mk("same", TREE_REG));
	add(ub, mk("same", TREE_REG));
	lower = build(lb);
	upper = build(ub);
	d = diff(lower, upper);
	assert_paths(d, "f g h");
	assert_roundtrip(lower, upper);
	tree_unref(d);
	tree_unref(lower);
	tree_unref(upper);
}

/* A layer whose tar has usr/bin/foo but no usr/bin entry must not reset base's usr/bin. */
static void
test_implicit_dir_keeps_base_metadata_xattrs_and_children(void **state)
{
	struct tree_builder *bb = tree_builder_new(), *db = tree_builder_new();
	struct tree_entry root = mk("", TREE_DIR), bin = mk("usr/bin", TREE_DIR), e;
	struct tree_xattr x = {"security.selinux", 16, "bin_t", 5}, got;
	struct tree *base, *d, *r;

	(void)state;
	root.mode = 0700;
	root.uid = 3;
	add(bb, root);
	bin.mode = 0711;
	bin.uid = 5;
	bin.gid = 6;
	bin.mtime_sec = 42;
	bin.mtime_nsec = 7;
	assert_int_equal(tree_builder_add(bb, &bin, &x, 1, NULL), 0);
	add(bb, mk("usr", TREE_DIR));
	add(bb, mk("usr/bin/old", TREE_REG));
	add(bb, mk("usr/lib/libc", TREE_REG));
	add(db, mk("usr/bin/foo", TREE_REG));
	base = build(bb);
	d = build(db);
	assert_true(has(d, "usr/bin", &e));
	assert_int_equal(e.flags, TREE_ENTRY_IMPLICIT);
	r = apply(base, d);
	assert_paths(r, "usr usr/bin usr/bin/foo usr/bin/old usr/lib usr/lib/libc");
	assert_true(has(r, "usr/bin", &e));
	assert_int_equal(e.flags, 0);
	assert_int_equal(e.mode, 0711);
	assert_int_equal(e.uid, 5);
	assert_int_equal(e.gid, 6);
	assert_int_equal(e.mtime_sec, 42);
	assert_int_equal(e.mtime_nsec, 7);
	assert_int_equal(e.n_xattrs, 1);
	tree_entry_xattr(r, &e, 0, &got);
	assert_string_equal(got.name, "security.selinux");
	assert_memory_equal(got.value, "bin_t", 5);
	assert_true(has(r, "usr", &e));
	assert_int_equal(e.mtime_sec, 1000); /* base's, not the builder's 0 */
	tree_entry_at(r, TREE_ROOT, &e);     /* the diff's root was implicit too */
	assert_int_equal(e.mode, 0700);
	assert_int_equal(e.uid, 3);
	assert_no_implicit(r);
	tree_unref(r);
	tree_unref(d);

	/* Opaque and implicit (no builder makes it): base's metadata, none of its children. */
	db = tree_builder_new();
	e = mk("usr/bin", TREE_DIR);
	e.flags = TREE_ENTRY_OPAQUE | TREE_ENTRY_IMPLICIT;
	add(db, e);
	add(db, mk("usr/bin/foo", TREE_REG));
	d = build(db);
	r = apply(base, d);
	assert_paths(r, "usr usr/bin usr/bin/foo usr/lib usr/lib/libc");
	assert_true(has(r, "usr/bin", &e));
	assert_int_equal(e.flags, 0);
	assert_int_equal(e.mode, 0711);
	assert_int_equal(e.n_xattrs, 1);
	tree_unref(r);
	tree_unref(d);
	tree_unref(base);
}

static void
test_implicit_dir_over_a_file_or_nothing_is_a_plain_default_dir(void **state)
{
	struct tree_builder *bb = tree_builder_new(), *db = tree_builder_new();
	struct tree *base, *d, *r;
	struct tree_entry e;

	(void)state;
	add(bb, mk("usr", TREE_REG));
	add(db, mk("usr/bin/foo", TREE_REG));
	base = build(bb);
	d = build(db);
	r = apply(base, d);
	assert_paths(r, "usr usr/bin usr/bin/foo");
	assert_true(has(r, "usr", &e)); /* base has a file there: the diff's dir replaces it */
	assert_int_equal(e.type, TREE_DIR);
	assert_int_equal(e.flags, 0);
	assert_int_equal(e.mode, 0755);
	assert_int_equal(e.uid, 0);
	assert_int_equal(e.mtime_sec, 0);
	assert_true(has(r, "usr/bin", &e)); /* base has nothing there */
	assert_int_equal(e.type, TREE_DIR);
	assert_int_equal(e.flags, 0);
	assert_int_equal(e.mode, 0755);
	assert_no_implicit(r);
	tree_unref(r);
	tree_unref(d);
	tree_unref(base);
}

static void
test_diff_never_holds_implicit_dirs(void **state)
{
	struct tree_builder *lb = tree_builder_new(), *ub = tree_builder_new();
	struct tree *lower, *upper, *d;
	struct tree_entry e;

	(void)state;
	add(lb, mk("a/old", TREE_REG));
	add(ub, mk("a/new", TREE_REG)); /* a and the root are implicit in upper */
	add(ub, mk("b/c/d", TREE_REG));
	lower = build(lb);
	upper = build(ub);
	assert_true(has(upper, "b/c", &e));
	assert_int_equal(e.flags, TREE_ENTRY_IMPLICIT);
	d = diff(lower, upper);
	assert_paths(d, "a a/new a/old b b/c b/c/d");
	assert_no_implicit(d);
	assert_roundtrip(lower, upper);
	tree_unref(d);
	tree_unref(lower);
	tree_unref(upper);
}

/* Random pairs of trees over a small namespace, mostly alike, cover the combinations the
 * hand-written cases miss. */

struct rng {
	uint64_t s;
};

static uint32_t
rnd(struct rng *r, uint32_t n)
{
	r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(r->s >> 33) % n;
}

enum kind { K_NONE, K_REG, K_DIR, K_SYMLINK, K_FIFO, _K_MAX };

struct side {
	struct tree_builder *b;
	char *regs[256];
	size_t n_regs;
};

static void
gen_entry(struct side *s, const char *path, enum kind k, uint32_t attr)
{
	static const enum tree_entry_type types[] = {TREE_REG, TREE_REG, TREE_DIR, TREE_SYMLINK,
	                                             TREE_FIFO};
	struct tree_entry e = mk(path, types[k]);
	struct tree_xattr x = {"user.x", 6, (attr & 4) ? "b" : "a", 1};

	e.mode = (attr & 1) ? 0600 : e.mode;
	e.uid = (attr & 2) ? 5 : 0;
	if (k == K_SYMLINK)
		e = mk_link(path, TREE_SYMLINK, (attr & 8) ? "t1" : "t2");
	if (k == K_REG) {
		e.flags = TREE_ENTRY_HAS_DIGEST;
		e.digest.bytes[0] = (uint8_t)(attr >> 4);
		if (s->n_regs < 256)
			s->regs[s->n_regs++] = xstrdup(path);
	}
	assert_int_equal(tree_builder_add(s->b, &e, &x, (attr & 16) ? 1 : 0, NULL), 0);
}

/* Fills both sides (either may be NULL: that side has nothing here) below dir. */
static void
gen(struct rng *r, struct side *lo, struct side *up, const char *dir, int depth)
{
	static const char *names[] = {"a", "b", "c", "d.e"};

	for (size_t i = 0; i < 4; i++) {
		char *path = *dir ? xasprintf("%s/%s", dir, names[i]) : xstrdup(names[i]);
		enum kind lk = (enum kind)rnd(r, depth < 3 ? _K_MAX : K_DIR);
		enum kind uk = rnd(r, 4) ? lk : (enum kind)rnd(r, depth < 3 ? _K_MAX : K_DIR);
		uint32_t la = rnd(r, 64), ua = rnd(r, 3) ? la : rnd(r, 64);

		if (!lo)
			lk = K_NONE;
		if (!up)
			uk = K_NONE;
		if (lk != K_NONE)
			gen_entry(lo, path, lk, la);
		if (uk != K_NONE)
			gen_entry(up, path, uk, ua);
		if (lk == K_DIR || uk == K_DIR)
			gen(r, lk == K_DIR ? lo : NULL, uk == K_DIR ? up : NULL, path, depth + 1);
		free(path);
	}
}

static void
gen_hardlinks(struct rng *r, struct side *lo, struct side *up)
{
	for (int k = 0; k < 3; k++) {
		char name[8];
		uint32_t pick = rnd(r, 256);

		snprintf(name, sizeof(name), "h%d", k);
		if (lo->n_regs && rnd(r, 2))
			add(lo->b, mk_link(name, TREE_HARDLINK, lo->regs[pick % lo->n_regs]));
		if (up->n_regs && rnd(r, 2))
			add(up->b,
			    mk_link(name, TREE_HARDLINK,
			            up->regs[(rnd(r, 3) ? pick : rnd(r, 256)) % up->n_regs]));
	}
}

static void
test_diff_then_apply_reproduces_random_uppers(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 400; seed++) {
		struct rng r = {seed};
		struct side lo = {.b = tree_builder_new()}, up = {.b = tree_builder_new()};
		struct tree *lower, *upper;

		gen(&r, &lo, &up, "", 0);
		gen_hardlinks(&r, &lo, &up);
		lower = build(lo.b);
		upper = build(up.b);
		assert_roundtrip(lower, upper);
		assert_roundtrip(upper, lower);
		tree_unref(lower);
		tree_unref(upper);
		for (size_t i = 0; i < lo.n_regs; i++)
			free(lo.regs[i]);
		for (size_t i = 0; i < up.n_regs; i++)
			free(up.regs[i]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_diff_of_identical_trees_is_just_the_root),
	    cmocka_unit_test(test_diff_holds_changes_and_their_parents),
	    cmocka_unit_test(test_removed_subtree_gets_one_whiteout_at_its_top),
	    cmocka_unit_test(test_type_changes_replace_or_hide),
	    cmocka_unit_test(test_whiteout_hides_lower_subtree),
	    cmocka_unit_test(test_opaque_dir_hides_lower_children),
	    cmocka_unit_test(test_nondir_replacing_dir_removes_its_subtree),
	    cmocka_unit_test(test_hardlinks_to_a_removed_target_become_copies),
	    cmocka_unit_test(test_hardlinks_follow_a_replaced_target),
	    cmocka_unit_test(test_diff_of_a_new_hardlink_carries_its_target),
	    cmocka_unit_test(test_xattr_and_content_changes_are_changes),
	    cmocka_unit_test(test_implicit_dir_keeps_base_metadata_xattrs_and_children),
	    cmocka_unit_test(test_implicit_dir_over_a_file_or_nothing_is_a_plain_default_dir),
	    cmocka_unit_test(test_diff_never_holds_implicit_dirs),
	    cmocka_unit_test(test_diff_then_apply_reproduces_random_uppers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
