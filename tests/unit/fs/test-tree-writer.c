// SPDX-License-Identifier: Apache-2.0
/* Unit tests for fs/tree-writer: the same bytes as the builder, copies with patched records,
 * xattrs and hardlinks, and the order and parent rules. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/tree-writer.h"
#include "fs/tree.h"
#include "util/error.h"
#include "util/xalloc.h"
#include "tests/unit/test-helpers.h"

/* A generated tree: entries in tree order, with their own strings. */
struct spec {
	struct tree_entry *e;
	size_t n;
	char **paths; /* every path ever added, removed entries' too */
	size_t n_paths;
};

static void
spec_add(struct spec *s, const char *path, enum tree_entry_type type, unsigned seed)
{
	struct tree_entry *e;
	char *p = xstrdup(path);

	s->e = xrealloc(s->e, (s->n + 1) * sizeof(*s->e));
	s->paths = xrealloc(s->paths, (s->n_paths + 1) * sizeof(*s->paths));
	s->paths[s->n_paths++] = p;
	e = &s->e[s->n++];
	*e = (struct tree_entry){
	    .path = p,
	    .path_len = strlen(p),
	    .type = type,
	    .mode = type == TREE_DIR ? 0755 : 0644 | (seed & 0111),
	    .uid = seed % 3,
	    .gid = seed % 5,
	    .mtime_sec = 1700000000,
	    .mtime_nsec = 7,
	};
	switch (type) {
	case TREE_REG:
		e->size = seed * 37u;
		e->flags = seed % 2 ? TREE_ENTRY_HAS_DIGEST : 0;
		digest_buffer(p, strlen(p), &e->digest);
		e->locator = seed % 3
		                 ? "git:0123456789abcdef:0123456789012345678901234567890123456789"
		                 : NULL;
		e->locator_len = e->locator ? strlen(e->locator) : 0;
		break;
	case TREE_SYMLINK:
		e->link = seed % 2 ? "../target" : "t";
		e->link_len = strlen(e->link);
		e->size = e->link_len;
		break;
	case TREE_CHAR:
		e->rdev = seed;
		break;
	default:
		break;
	}
}

static void
spec_free(struct spec *s)
{
	for (size_t i = 0; i < s->n_paths; i++)
		free(s->paths[i]);
	free(s->paths);
	free(s->e);
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct tree_entry *x = a, *y = b;

	return tree_path_compare(x->path, x->path_len, y->path, y->path_len);
}

/* A tree of dirs d<i>/ and dir names that sort around '/' ("a", "a.b", "a-c"), in order. */
static void
spec_generate(struct spec *s, unsigned dirs)
{
	static const enum tree_entry_type types[] = {TREE_REG, TREE_REG, TREE_SYMLINK, TREE_CHAR,
	                                             TREE_FIFO};
	char path[64];

	spec_add(s, "", TREE_DIR, 0);
	for (unsigned d = 0; d < dirs; d++) {
		const char *names[] = {"a", "a.b", "a-c", "z"};

		snprintf(path, sizeof(path), "d%u", d);
		spec_add(s, path, TREE_DIR, d);
		for (unsigned k = 0; k < 4; k++) {
			snprintf(path, sizeof(path), "d%u/%s", d, names[k]);
			spec_add(s, path, k == 0 ? TREE_DIR : types[(d + k) % 5], d * 7 + k);
		}
		for (unsigned f = 0; f < 3 + d % 4; f++) {
			snprintf(path, sizeof(path), "d%u/a/f%u", d, f);
			spec_add(s, path, types[(d + f) % 5], d * 11 + f);
		}
		if (d % 3 == 0) {
			snprintf(path, sizeof(path), "d%u/a/sub", d);
			spec_add(s, path, TREE_DIR, d);
			snprintf(path, sizeof(path), "d%u/a/sub/deep", d);
			spec_add(s, path, TREE_REG, d);
		}
	}
	spec_add(s, "top-file", TREE_REG, 5);
	qsort(s->e, s->n, sizeof(*s->e), entry_cmp);
}

static void
spec_set_mtime(struct spec *s, int64_t sec, uint32_t nsec)
{
	for (size_t i = 0; i < s->n; i++) {
		s->e[i].mtime_sec = sec;
		s->e[i].mtime_nsec = nsec;
	}
}

static void
build_bytes(const struct spec *s, char **buf, size_t *len)
{
	struct tree_builder *b = tree_builder_new();
	struct kl_error *err = NULL;

	for (size_t i = 0; i < s->n; i++)
		if (tree_builder_add(b, &s->e[i], NULL, 0, &err) < 0)
			fail_msg("builder: %s", err->msg);
	if (tree_builder_serialize(b, buf, len, &err) < 0)
		fail_msg("builder: %s", err->msg);
	tree_builder_free(b);
}

static void
release(void *buf, size_t len)
{
	(void)len;
	free(buf);
}

static struct tree *
parse_owned(char *buf, size_t len)
{
	struct kl_error *err = NULL;
	struct tree *t = NULL;

	if (tree_parse(buf, len, release, &t, &err) < 0)
		fail_msg("parsing: %s", err->msg);
	return t;
}

static void
assert_same_bytes(char *got, size_t got_len, char *want, size_t want_len)
{
	assert_int_equal(got_len, want_len);
	assert_memory_equal(got, want, want_len);
	tree_unref(parse_owned(got, got_len)); /* a canonical tree the parser accepts */
	free(want);
}

static void
test_added_entries_give_the_builders_bytes(void **state)
{
	struct tree_writer *w = tree_writer_new();
	struct kl_error *err = NULL;
	struct spec s = {0};
	char *got, *want;
	size_t got_len, want_len;

	(void)state;
	spec_generate(&s, 9);
	for (size_t i = 0; i < s.n; i++)
		if (tree_writer_add(w, &s.e[i], &err) < 0)
			fail_msg("writer: %s", err->msg);
	assert_int_equal(tree_writer_finish(w, &got, &got_len, NULL), 0);
	build_bytes(&s, &want, &want_len);
	assert_same_bytes(got, got_len, want, want_len);
	tree_writer_free(w);
	spec_free(&s);
}

/* Entry i of s and the entries below it: how many. */
static uint32_t
subtree_size(const struct spec *s, uint32_t i)
{
	const struct tree_entry *top = &s->e[i];
	uint32_t n = 1;

	while (i + n < s->n && s->e[i + n].path_len > top->path_len &&
	       s->e[i + n].path[top->path_len] == '/' &&
	       !memcmp(s->e[i + n].path, top->path, top->path_len))
		n++;
	return n;
}

/* Writes s's entries with a new mtime, copying from t (an older tree of mostly the same
 * entries) every subtree that t holds at the same path and pattern picks, adding the rest. */
static void
write_mixed(struct tree_writer *w, const struct tree *t, const struct spec *s, unsigned pattern)
{
	struct kl_error *err = NULL;

	for (uint32_t i = 0; i < s->n;) {
		struct tree_entry e = s->e[i];
		uint32_t old;

		if (i > 0 && (i * 2654435761u + pattern) % 3 == 0 &&
		    tree_lookup(t, e.path, e.path_len, &old) == 0 &&
		    tree_subtree_end(t, old) - old == subtree_size(s, i)) {
			uint32_t n = tree_subtree_end(t, old) - old;

			assert_int_equal(tree_writer_copy(w, t, old, 1800000000, 9, &err), 0);
			i += n;
			continue;
		}
		e.mtime_sec = 1800000000;
		e.mtime_nsec = 9;
		if (tree_writer_add(w, &e, &err) < 0)
			fail_msg("writer: %s", err->msg);
		i++;
	}
}

/* Drops the entries at and below path. */
static void
spec_remove(struct spec *s, const char *path)
{
	size_t w = 0, len = strlen(path);

	for (size_t i = 0; i < s->n; i++) {
		if (!strncmp(s->e[i].path, path, len) &&
		    (s->e[i].path[len] == '\0' || s->e[i].path[len] == '/'))
			continue;
		s->e[w++] = s->e[i];
	}
	s->n = w;
}

static void
test_copies_patch_indices_strings_and_mtimes(void **state)
{
	struct spec s = {0};
	struct tree *old;
	char *buf;
	size_t len;

	(void)state;
	spec_generate(&s, 12);
	build_bytes(&s, &buf, &len);
	old = parse_owned(buf, len);
	/* The new tree: d1 gone, c-new and d3/a/new added, so copies land at other indices. */
	spec_remove(&s, "d1");
	spec_add(&s, "c-new", TREE_DIR, 1);
	spec_add(&s, "c-new/f", TREE_REG, 2);
	spec_add(&s, "d3/a/new", TREE_REG, 3);
	qsort(s.e, s.n, sizeof(*s.e), entry_cmp);
	spec_set_mtime(&s, 1800000000, 9);
	for (unsigned pattern = 0; pattern < 6; pattern++) {
		struct tree_writer *w = tree_writer_new();
		char *got, *want;
		size_t got_len, want_len;

		write_mixed(w, old, &s, pattern);
		assert_int_equal(tree_writer_finish(w, &got, &got_len, NULL), 0);
		build_bytes(&s, &want, &want_len);
		assert_same_bytes(got, got_len, want, want_len);
		tree_writer_free(w);
	}
	tree_unref(old);
	spec_free(&s);
}

static struct tree_entry
plain(const char *path, enum tree_entry_type type)
{
	return (struct tree_entry){
	    .path = path, .path_len = strlen(path), .type = type, .mode = 0755};
}

static void
add_ok(struct tree_writer *w, struct tree_entry e)
{
	struct kl_error *err = NULL;

	if (tree_writer_add(w, &e, &err) < 0)
		fail_msg("adding '%s': %s", e.path, err->msg);
}

static void
expect_error(struct tree_writer *w, struct tree_entry e, const char *what)
{
	struct kl_error *err = NULL;

	assert_int_equal(tree_writer_add(w, &e, &err), -EINVAL);
	if (!strstr(err->msg, what))
		fail_msg("'%s' lacks '%s'", err->msg, what);
	kl_error_freep(&err);
}

static void
test_order_parents_and_kinds_are_checked(void **state)
{
	struct tree_writer *w = tree_writer_new();
	struct tree_entry link = plain("d/z", TREE_HARDLINK);
	struct kl_error *err = NULL;
	struct spec s = {0};
	struct tree *t;
	char *buf;
	size_t len;

	(void)state;
	expect_error(w, plain("a", TREE_DIR), "the root must come first");
	assert_int_equal(tree_writer_add(w, &(struct tree_entry){.type = TREE_DIR}, NULL), 0);
	add_ok(w, plain("d", TREE_DIR));
	expect_error(w, plain("d/x/y", TREE_REG), "parent directory missing");
	add_ok(w, plain("d/m", TREE_REG));
	expect_error(w, plain("d/m", TREE_REG), "out of order or repeated");
	expect_error(w, plain("d/a", TREE_REG), "out of order or repeated");
	expect_error(w, plain("d/../x", TREE_REG), "not a clean relative path");
	link.link = "d/nothing";
	link.link_len = 9;
	add_ok(w, link); /* targets are found at the end */
	assert_int_equal(tree_writer_finish(w, &buf, &len, &err), -EINVAL);
	if (!strstr(err->msg, "hardlink target 'd/nothing' is missing"))
		fail_msg("unexpected '%s'", err->msg);
	kl_error_freep(&err);
	tree_writer_free(w);

	/* a copied directory is closed: nothing more goes into it */
	spec_generate(&s, 2);
	build_bytes(&s, &buf, &len);
	t = parse_owned(buf, len);
	w = tree_writer_new();
	assert_int_equal(tree_writer_add(w, &(struct tree_entry){.type = TREE_DIR}, NULL), 0);
	assert_int_equal(tree_writer_copy(w, t, 1, 0, 0, &err), 0); /* d0 */
	expect_error(w, plain("d0/zz", TREE_REG), "parent directory missing");
	expect_error(w, plain("d0", TREE_DIR), "out of order or repeated");
	add_ok(w, plain("d1", TREE_DIR));
	assert_int_equal(tree_writer_finish(w, &buf, &len, NULL), 0);
	tree_unref(parse_owned(buf, len));
	spec_free(&s);
	tree_unref(t);
	tree_writer_free(w);
}

/* A tree with xattrs and hardlinks whose targets sort before, after and outside the links'
 * subtree. */
static struct tree *
linked_tree(void)
{
	struct tree_builder *b = tree_builder_new();
	struct tree_xattr xa[] = {{"user.b", 6, "2", 1}, {"user.a", 6, "", 0}};
	struct tree_xattr xd = {"trusted.d", 9, "dir", 3};
	const char *regs[] = {"a/f", "b/g", "top"};
	const char *links[][2] = {{"a/h", "b/g"}, {"b/a", "b/g"}, {"b/z", "a/f"}, {"c", "top"}};
	char *buf;
	size_t len;

	for (size_t i = 0; i < 3; i++) {
		struct tree_entry e = plain(regs[i], TREE_REG);

		e.flags = TREE_ENTRY_HAS_DIGEST;
		e.size = i + 1;
		assert_int_equal(tree_builder_add(b, &e, xa, i == 1 ? 2 : 0, NULL), 0);
	}
	for (size_t i = 0; i < 4; i++) {
		struct tree_entry e = plain(links[i][0], TREE_HARDLINK);

		e.link = links[i][1];
		e.link_len = strlen(e.link);
		assert_int_equal(tree_builder_add(b, &e, NULL, 0, NULL), 0);
	}
	struct tree_entry dir = plain("b", TREE_DIR);

	assert_int_equal(tree_builder_add(b, &dir, &xd, 1, NULL), 0);
	assert_int_equal(tree_builder_serialize(b, &buf, &len, NULL), 0);
	tree_builder_free(b);
	return parse_owned(buf, len);
}

static char *
serialized(const struct tree *t, size_t *len)
{
	struct tree_builder *b = tree_builder_new();
	char *buf;

	for (uint32_t i = 0; i < tree_count(t); i++)
		assert_int_equal(tree_builder_add_from(b, t, i, NULL), 0);
	assert_int_equal(tree_builder_serialize(b, &buf, len, NULL), 0);
	tree_builder_free(b);
	return buf;
}

static void
test_copies_keep_xattrs_and_hardlinks(void **state)
{
	struct tree *t = linked_tree();
	struct kl_error *err = NULL;
	size_t want_len, got_len;
	char *want = serialized(t, &want_len), *got;

	(void)state;
	/* subtree by subtree, one run of every top-level entry, and entry by entry */
	for (int how = 0; how < 3; how++) {
		struct tree_writer *w = tree_writer_new();
		struct tree_entry e;

		tree_entry_at(t, TREE_ROOT, &e);
		assert_int_equal(tree_writer_add_view(w, t, &e, NULL), 0);
		for (uint32_t i = 1; i < tree_count(t);) {
			uint32_t end = how == 1 ? tree_count(t) : tree_subtree_end(t, i);

			tree_entry_at(t, i, &e);
			if (how == 2) {
				assert_int_equal(tree_writer_add_view(w, t, &e, &err), 0);
				end = i + 1;
			} else if (tree_writer_copy_range(w, t, i, end, NULL, &err) < 0) {
				fail_msg("copy: %s", err->msg);
			}
			i = end;
		}
		assert_int_equal(tree_writer_finish(w, &got, &got_len, NULL), 0);
		assert_int_equal(got_len, want_len);
		assert_memory_equal(got, want, want_len);
		free(got);
		tree_writer_free(w);
	}
	free(want);
	tree_unref(t);
}

static void
test_copy_options_and_ranges_are_checked(void **state)
{
	struct tree *t = linked_tree(), *got;
	struct tree_writer_copy_opts o = {.set_mtime = true, .mtime_sec = 5, .mtime_nsec = 6};
	struct tree_writer *w = tree_writer_new();
	struct kl_error *err = NULL;
	struct tree_entry e, root = plain("", TREE_DIR);
	uint32_t a, b;

	(void)state;
	assert_int_equal(tree_lookup(t, "a", 1, &a), 0);
	assert_int_equal(tree_lookup(t, "b", 1, &b), 0);
	assert_int_equal(tree_writer_add(w, &root, NULL), 0);
	/* a/f alone is not a run of "a"'s siblings' subtrees starting at a */
	assert_int_equal(tree_writer_copy_range(w, t, a, a + 2, NULL, &err), -EINVAL);
	kl_error_freep(&err);
	assert_int_equal(tree_writer_copy_range(w, t, 0, 1, NULL, &err), -EINVAL); /* root */
	kl_error_freep(&err);
	assert_int_equal(tree_writer_copy(w, t, 0, 0, 0, &err), -ENOTSUP);
	assert_null(err);
	o.clear_flags = TREE_ENTRY_IMPLICIT | TREE_ENTRY_HAS_DIGEST; /* the latter is ignored */
	assert_int_equal(tree_writer_copy_range(w, t, a, tree_subtree_end(t, b), &o, &err), 0);
	/* "c" and "top" are left out: "b/z" links to "a/f", inside; "a/h" to "b/g" */
	assert_int_equal(tree_writer_finish_tree(w, &got, &err), 0);
	for (uint32_t i = 1; i < tree_count(got); i++) {
		tree_entry_at(got, i, &e);
		assert_int_equal(e.mtime_sec, 5);
		assert_int_equal(e.mtime_nsec, 6);
		assert_int_equal(e.flags, e.type == TREE_REG ? TREE_ENTRY_HAS_DIGEST : 0);
	}
	assert_int_equal(tree_lookup(got, "b/z", 3, &a), 0);
	tree_entry_at(got, tree_resolve_hardlink(got, a), &e);
	assert_string_equal(e.path, "a/f");
	assert_int_equal(tree_nlink(got, a), 2);
	tree_unref(got);
	tree_writer_free(w);
	tree_unref(t);
}

static void
test_added_xattrs_are_sorted_and_checked(void **state)
{
	struct tree_xattr xa[] = {{"user.z", 6, "1", 1}, {"user.a", 6, "22", 2}};
	struct tree_xattr dup[] = {{"user.a", 6, "1", 1}, {"user.a", 6, "2", 1}};
	struct tree_entry f = plain("f", TREE_REG), g = plain("e", TREE_REG);
	struct tree_entry root = plain("", TREE_DIR);
	struct tree_builder *b = tree_builder_new();
	struct tree_writer *w = tree_writer_new();
	struct kl_error *err = NULL;
	char *got, *want;
	size_t got_len, want_len;

	(void)state;
	assert_int_equal(tree_writer_add(w, &root, NULL), 0);
	assert_int_equal(tree_writer_add_xattrs(w, &g, dup, 2, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "given twice"));
	kl_error_freep(&err);
	assert_int_equal(tree_writer_add_xattrs(w, &f, xa, 2, NULL), 0);
	assert_int_equal(tree_writer_finish(w, &got, &got_len, NULL), 0);
	assert_int_equal(tree_builder_add(b, &root, NULL, 0, NULL), 0);
	assert_int_equal(tree_builder_add(b, &f, xa, 2, NULL), 0);
	assert_int_equal(tree_builder_serialize(b, &want, &want_len, NULL), 0);
	assert_same_bytes(got, got_len, want, want_len);
	tree_builder_free(b);
	tree_writer_free(w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_added_entries_give_the_builders_bytes),
	    cmocka_unit_test(test_copies_patch_indices_strings_and_mtimes),
	    cmocka_unit_test(test_order_parents_and_kinds_are_checked),
	    cmocka_unit_test(test_copies_keep_xattrs_and_hardlinks),
	    cmocka_unit_test(test_copy_options_and_ranges_are_checked),
	    cmocka_unit_test(test_added_xattrs_are_sorted_and_checked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
