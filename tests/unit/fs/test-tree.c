// SPDX-License-Identifier: Apache-2.0
/* Unit tests for fs/tree and fs/tree-builder: the format, its checks, lookup and iteration. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/store.h"
#include "fs/tree.h"
#include "fs/tree-xattrs.h"
#include "util/error.h"
#include "util/io.h"
#include "tests/unit/test-helpers.h"

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
	    .uid = 1000,
	    .gid = 100,
	    .mtime_sec = 1700000000,
	    .mtime_nsec = 5,
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
	if (type == TREE_SYMLINK)
		e.size = e.link_len;
	return e;
}

static void
add(struct tree_builder *b, struct tree_entry e)
{
	struct kl_error *err = NULL;

	if (tree_builder_add(b, &e, NULL, 0, &err) < 0)
		fail_msg("adding '%s': %s", e.path, err->msg);
}

static struct tree *
parse_owned(char *buf, size_t len)
{
	struct tree *t = NULL;
	struct kl_error *err = NULL;

	if (tree_parse(buf, len, release, &t, &err) < 0)
		fail_msg("parsing: %s", err->msg);
	return t;
}

/* Serializes b (which it frees) and parses the result. */
static struct tree *
build(struct tree_builder *b)
{
	struct kl_error *err = NULL;
	char *buf;
	size_t len;

	if (tree_builder_serialize(b, &buf, &len, &err) < 0)
		fail_msg("serializing: %s", err->msg);
	tree_builder_free(b);
	return parse_owned(buf, len);
}

static uint32_t
lookup(const struct tree *t, const char *path)
{
	uint32_t idx = TREE_NONE;

	if (tree_lookup(t, path, strlen(path), &idx) < 0)
		fail_msg("'%s' not found", path);
	return idx;
}

static void
serialize(struct tree_builder *b, char **buf, size_t *len)
{
	struct kl_error *err = NULL;

	if (tree_builder_serialize(b, buf, len, &err) < 0)
		fail_msg("serializing: %s", err->msg);
}

/* A small tree with one of everything, the fixture of the corruption tests. */
static struct tree_builder *
sample_builder(void)
{
	struct tree_builder *b = tree_builder_new();
	struct tree_entry e = mk("etc/passwd", TREE_REG);
	struct tree_xattr x[] = {
	    {"user.b", 6, "\0bin", 4},
	    {"security.capability", 19, "caps", 4},
	};

	e.flags = TREE_ENTRY_HAS_DIGEST;
	digest_buffer("root:x:0:0", 10, &e.digest);
	e.size = 10;
	e.locator = "git:abc";
	e.locator_len = 7;
	assert_int_equal(tree_builder_add(b, &e, x, 2, NULL), 0);
	add(b, mk("etc", TREE_DIR));
	add(b, mk_link("etc/passwd-", TREE_HARDLINK, "etc/passwd"));
	add(b, mk_link("bin", TREE_SYMLINK, "usr/bin"));
	e = mk("dev/null", TREE_CHAR);
	e.rdev = (1 << 8) | 3;
	add(b, e);
	add(b, mk("run/fifo", TREE_FIFO));
	add(b, mk("usr/bin/sh", TREE_REG));
	return b;
}

static void
test_roundtrip_preserves_every_field(void **state)
{
	struct tree *t = build(sample_builder());
	struct tree_entry e;
	struct tree_xattr x;
	struct digest d;

	(void)state;
	/* root bin dev dev/null etc etc/passwd etc/passwd- run run/fifo usr usr/bin usr/bin/sh */
	assert_int_equal(tree_count(t), 12);
	tree_entry_at(t, lookup(t, "etc/passwd"), &e);
	assert_int_equal(e.type, TREE_REG);
	assert_int_equal(e.flags, TREE_ENTRY_HAS_DIGEST);
	assert_int_equal(e.mode, 0644);
	assert_int_equal(e.uid, 1000);
	assert_int_equal(e.gid, 100);
	assert_int_equal(e.mtime_sec, 1700000000);
	assert_int_equal(e.mtime_nsec, 5);
	assert_int_equal(e.size, 10);
	assert_string_equal(e.name, "passwd");
	assert_int_equal(e.name_len, 6);
	assert_string_equal(e.locator, "git:abc");
	assert_null(e.link);
	digest_buffer("root:x:0:0", 10, &d);
	assert_true(digest_equal(&e.digest, &d));
	assert_int_equal(e.n_xattrs, 2);
	tree_entry_xattr(t, &e, 0, &x); /* sorted by name */
	assert_string_equal(x.name, "security.capability");
	assert_memory_equal(x.value, "caps", 4);
	tree_entry_xattr(t, &e, 1, &x);
	assert_string_equal(x.name, "user.b");
	assert_int_equal(x.value_len, 4);
	assert_memory_equal(x.value, "\0bin", 4);

	tree_entry_at(t, lookup(t, "bin"), &e);
	assert_int_equal(e.type, TREE_SYMLINK);
	assert_string_equal(e.link, "usr/bin");
	assert_null(e.locator);
	tree_entry_at(t, lookup(t, "dev/null"), &e);
	assert_int_equal(e.type, TREE_CHAR);
	assert_int_equal(e.rdev, (1 << 8) | 3);
	tree_entry_at(t, lookup(t, "run/fifo"), &e);
	assert_int_equal(e.type, TREE_FIFO);
	assert_int_equal(e.n_xattrs, 0);
	tree_entry_at(t, TREE_ROOT, &e);
	assert_int_equal(e.type, TREE_DIR);
	assert_int_equal(e.path_len, 0);
	assert_string_equal(e.path, "");
	assert_string_equal(e.name, "");
	assert_int_equal(tree_parent(t, TREE_ROOT), TREE_NONE);
	tree_unref(t);
}

static void
test_missing_parents_and_root_are_created(void **state)
{
	struct tree_builder *b = tree_builder_new();
	struct tree *t;
	struct tree_entry e;

	(void)state;
	add(b, mk("x/y/z", TREE_REG));
	t = build(b);
	assert_int_equal(tree_count(t), 4);
	for (uint32_t i = 0; i < 3; i++) {
		tree_entry_at(t, i, &e);
		assert_int_equal(e.type, TREE_DIR);
		assert_int_equal(e.mode, 0755);
		assert_int_equal(e.uid, 0);
		assert_int_equal(e.gid, 0);
		assert_int_equal(e.mtime_sec, 0);
		assert_int_equal(e.mtime_nsec, 0);
		assert_int_equal(e.n_xattrs, 0);
	}
	tree_entry_at(t, 2, &e);
	assert_string_equal(e.path, "x/y");
	assert_string_equal(e.name, "y");
	tree_unref(t);

	t = build(tree_builder_new()); /* nothing at all: just the root */
	assert_int_equal(tree_count(t), 1);
	assert_int_equal(tree_first_child(t, TREE_ROOT), TREE_NONE);
	assert_int_equal(tree_nlink(t, TREE_ROOT), 2);
	tree_unref(t);
}

/* A deterministic shuffle, so a failure reproduces. */
static void
shuffle(size_t *v, size_t n, uint64_t *seed)
{
	for (size_t i = n; i > 1; i--) {
		size_t j, tmp;
		*seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
		j = (size_t)(*seed >> 33) % i;
		tmp = v[i - 1];
		v[i - 1] = v[j];
		v[j] = tmp;
	}
}

static void
test_id_is_independent_of_add_order(void **state)
{
	static const struct {
		const char *path;
		enum tree_entry_type type;
	} ents[] = {
	    {"", TREE_DIR},      {"a", TREE_DIR},   {"a/b", TREE_DIR}, {"a.c", TREE_REG},
	    {"a/b/c", TREE_REG}, {"z", TREE_DIR},   {"a-b", TREE_REG}, {"m/n/o", TREE_REG},
	    {"m", TREE_DIR},     {"z/f", TREE_REG},
	};
	enum { N = sizeof(ents) / sizeof(ents[0]) };
	struct tree_xattr x[] = {{"user.z", 6, "1", 1}, {"user.a", 6, "2", 1}};
	struct tree_xattr xr[] = {x[1], x[0]};
	size_t order[N];
	uint64_t seed = 42;
	struct digest first;

	(void)state;
	for (size_t i = 0; i < N; i++)
		order[i] = i;
	for (int round = 0; round < 20; round++) {
		struct tree_builder *b = tree_builder_new();
		struct tree *t;

		shuffle(order, N, &seed);
		for (size_t i = 0; i < N; i++) {
			struct tree_entry e = mk(ents[order[i]].path, ents[order[i]].type);
			/* xattrs given in either order are stored sorted */
			assert_int_equal(tree_builder_add(b, &e, round % 2 ? x : xr, 2, NULL), 0);
		}
		t = build(b);
		if (round == 0)
			first = *tree_id(t);
		assert_true(digest_equal(&first, tree_id(t)));
		tree_unref(t);
	}
}

/* Every field, changed alone, changes the id. */
static void
test_any_field_change_changes_the_id(void **state)
{
	enum { N = 16 };
	struct digest ids[N];

	(void)state;
	for (int v = 0; v < N; v++) {
		struct tree_builder *b = tree_builder_new();
		struct tree_entry e = mk("f", TREE_REG);
		struct tree_xattr x = {"user.k", 6, "v", 1};
		struct tree *t;

		e.flags = TREE_ENTRY_HAS_DIGEST;
		e.size = 3;
		switch (v) {
		case 1:
			e.mode = 0600;
			break;
		case 2:
			e.uid = 1;
			break;
		case 3:
			e.gid = 1;
			break;
		case 4:
			e.mtime_sec = -1;
			break;
		case 5:
			e.mtime_nsec = 6;
			break;
		case 6:
			e.size = 4;
			break;
		case 7:
			e.digest.bytes[31] = 1;
			break;
		case 8:
			e.locator = "x:y";
			e.locator_len = 3;
			break;
		case 9:
			x.value = "w";
			break;
		case 10:
			x.name = "user.j";
			break;
		case 11:
			e.flags = 0;
			break;
		case 12:
			e = mk("f", TREE_FIFO);
			break;
		case 13:
			e = mk("g", TREE_REG);
			e.flags = TREE_ENTRY_HAS_DIGEST;
			e.size = 3;
			break;
		case 14:
			e = mk("f", TREE_CHAR);
			e.rdev = 1;
			break;
		case 15:
			x.value_len = 0;
			break;
		default:
			break;
		}
		assert_int_equal(tree_builder_add(b, &e, &x, 1, NULL), 0);
		t = build(b);
		ids[v] = *tree_id(t);
		for (int k = 0; k < v; k++)
			if (digest_equal(&ids[k], &ids[v]))
				fail_msg("variants %d and %d share an id", k, v);
		tree_unref(t);
	}
}

static void
test_order_puts_slash_before_every_other_byte(void **state)
{
	static const char *want[] = {"", "a", "a/b", "a!", "a-b", "a.c", "a0", "b"};
	struct tree_builder *b = tree_builder_new();
	struct tree_entry e;
	struct tree *t;

	(void)state;
	assert_true(tree_path_compare("a/b", 3, "a.c", 3) < 0);
	assert_true(tree_path_compare("a", 1, "a/b", 3) < 0);
	assert_true(tree_path_compare("a/b/c/d/e/f/g/h/i", 17, "a/b/c/d/e/f/g/h!", 16) < 0);
	assert_true(tree_path_compare("ab", 2, "a/b", 3) > 0);
	assert_true(tree_path_compare("a\xff", 2, "a\x01", 2) > 0);
	assert_int_equal(tree_path_compare("abc", 3, "abc", 3), 0);
	for (size_t i = 7; i > 0; i--)
		add(b, mk(want[i], !strcmp(want[i], "a") ? TREE_DIR : TREE_REG));
	t = build(b);
	assert_int_equal(tree_count(t), 8);
	for (uint32_t i = 0; i < 8; i++) {
		tree_entry_at(t, i, &e);
		assert_string_equal(e.path, want[i]);
	}
	tree_unref(t);
}

static void
test_lookup_handles_odd_names_and_long_paths(void **state)
{
	static const char *names[] = {"with space", "new\nline", "\xff\xfe\x80", "tab\tx",
	                              "-",          "~",         "\x01"};
	struct tree_builder *b = tree_builder_new();
	char long_path[4096] = "";
	char name255[256];
	uint32_t idx, dir;
	struct tree *t;
	struct tree_entry e;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *p = xasprintf("d/%s", names[i]);
		add(b, mk(p, TREE_REG));
		free(p);
	}
	memset(name255, 'n', 255);
	name255[255] = '\0';
	for (int i = 0; i < 10; i++) {
		strcat(long_path, i ? "/" : "");
		strcat(long_path, name255);
	}
	add(b, mk(long_path, TREE_REG));
	t = build(b);
	dir = lookup(t, "d");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *p = xasprintf("d/%s", names[i]);
		idx = lookup(t, p);
		tree_entry_at(t, idx, &e);
		assert_string_equal(e.path, p);
		assert_string_equal(e.name, names[i]);
		assert_int_equal(tree_lookup_child(t, dir, names[i], strlen(names[i]), &idx), 0);
		assert_int_equal(idx, lookup(t, p));
		assert_int_equal(tree_parent(t, idx), dir);
		free(p);
	}
	idx = lookup(t, long_path);
	tree_entry_at(t, idx, &e);
	assert_int_equal(e.path_len, 2559);
	assert_int_equal(e.name_len, 255);
	assert_int_equal(tree_lookup(t, "", 0, &idx), 0);
	assert_int_equal(idx, TREE_ROOT);
	assert_int_equal(tree_lookup(t, "d/", 2, &idx), -ENOENT);
	assert_int_equal(tree_lookup(t, "/d", 2, &idx), -ENOENT);
	assert_int_equal(tree_lookup(t, "e", 1, &idx), -ENOENT);
	assert_int_equal(tree_lookup(t, "c", 1, &idx), -ENOENT);
	assert_int_equal(tree_lookup_child(t, dir, "missing", 7, &idx), -ENOENT);
	assert_int_equal(tree_lookup_child(t, TREE_ROOT, "d", 1, &idx), 0);
	assert_int_equal(idx, dir);
	/* A name is one component: it never reaches into a subdirectory. */
	assert_int_equal(tree_lookup_child(t, TREE_ROOT, "d/-", 3, &idx), -ENOENT);
	assert_int_equal(tree_lookup_child(t, TREE_ROOT, "", 0, &idx), -ENOENT);
	assert_int_equal(tree_lookup_child(t, lookup(t, "d/-"), "x", 1, &idx), -ENOENT);
	tree_unref(t);
}

static void
test_directory_iterates_in_name_order(void **state)
{
	static const char *kids[] = {"b", "b.txt", "c", "zz"};
	struct tree_builder *b = tree_builder_new();
	struct tree_entry e;
	uint32_t dir, k, n = 0;
	struct tree *t;

	(void)state;
	add(b, mk("dir/zz", TREE_REG));
	add(b, mk("dir/c", TREE_REG));
	add(b, mk("dir/b/deep/deeper", TREE_REG));
	add(b, mk("dir/b.txt", TREE_REG));
	add(b, mk("other", TREE_REG));
	t = build(b);
	dir = lookup(t, "dir");
	for (k = tree_first_child(t, dir); k != TREE_NONE; k = tree_next_sibling(t, k)) {
		tree_entry_at(t, k, &e);
		assert_true(n < 4);
		assert_string_equal(e.name, kids[n++]);
		assert_int_equal(tree_parent(t, k), dir);
	}
	assert_int_equal(n, 4);
	assert_int_equal(tree_subtree_end(t, dir), lookup(t, "other"));
	assert_int_equal(tree_subtree_end(t, lookup(t, "dir/b")), lookup(t, "dir/b.txt"));
	assert_int_equal(tree_subtree_end(t, TREE_ROOT), tree_count(t));
	assert_int_equal(tree_subtree_end(t, lookup(t, "dir/c")), lookup(t, "dir/c") + 1);
	assert_int_equal(tree_next_sibling(t, lookup(t, "other")), TREE_NONE);
	assert_int_equal(tree_next_sibling(t, TREE_ROOT), TREE_NONE);
	assert_int_equal(tree_first_child(t, lookup(t, "other")), TREE_NONE);
	tree_unref(t);
}

static void
test_hardlinks_share_nlink_and_resolve(void **state)
{
	struct tree_builder *b = tree_builder_new();
	uint32_t a, l1, l2;
	struct tree *t;

	(void)state;
	add(b, mk_link("x/link1", TREE_HARDLINK, "y/file"));
	add(b, mk("y/file", TREE_REG));
	add(b, mk_link("y/link2", TREE_HARDLINK, "y/file"));
	add(b, mk("y/sub1", TREE_DIR));
	add(b, mk("y/sub2/sub3", TREE_DIR));
	add(b, mk("lonely", TREE_REG));
	t = build(b);
	a = lookup(t, "y/file");
	l1 = lookup(t, "x/link1");
	l2 = lookup(t, "y/link2");
	assert_true(l1 < a); /* a link may come before its target */
	assert_int_equal(tree_resolve_hardlink(t, l1), a);
	assert_int_equal(tree_resolve_hardlink(t, l2), a);
	assert_int_equal(tree_resolve_hardlink(t, a), a);
	assert_int_equal(tree_nlink(t, a), 3);
	assert_int_equal(tree_nlink(t, l1), 3);
	assert_int_equal(tree_nlink(t, l2), 3);
	assert_int_equal(tree_nlink(t, lookup(t, "lonely")), 1);
	assert_int_equal(tree_nlink(t, lookup(t, "y")), 4); /* 2 + sub1 + sub2 */
	assert_int_equal(tree_nlink(t, TREE_ROOT), 4);      /* 2 + x + y */
	assert_int_equal(tree_nlink(t, lookup(t, "y/sub2")), 3);
	tree_unref(t);
}

static void
expect_add_fails(struct tree_entry e, int code, const char *what)
{
	struct tree_builder *b = tree_builder_new();
	struct kl_error *err = NULL;

	if (tree_builder_add(b, &e, NULL, 0, &err) != code)
		fail_msg("adding '%.40s' did not fail with %d", e.path, code);
	if (!strstr(err->msg, what))
		fail_msg("message '%s' lacks '%s'", err->msg, what);
	kl_error_free(err);
	tree_builder_free(b);
}

static void
test_builder_rejects_bad_entries(void **state)
{
	struct tree_entry e;
	char *huge;

	(void)state;
	expect_add_fails(mk("/abs", TREE_REG), -EINVAL, "'/abs'");
	expect_add_fails(mk("a//b", TREE_REG), -EINVAL, "'a//b'");
	expect_add_fails(mk("a/../b", TREE_REG), -EINVAL, "'a/../b'");
	expect_add_fails(mk("a/./b", TREE_REG), -EINVAL, "'a/./b'");
	expect_add_fails(mk(".", TREE_REG), -EINVAL, "'.'");
	expect_add_fails(mk("a/", TREE_DIR), -EINVAL, "'a/'");
	expect_add_fails(mk("", TREE_REG), -EINVAL, "root must be a directory");
	huge = xmalloc(70000);
	memset(huge, 'a', 69999);
	huge[69999] = '\0';
	for (size_t i = 200; i < 69999; i += 200)
		huge[i] = '/';
	expect_add_fails(mk(huge, TREE_REG), -EINVAL, "longer than 65535");
	memset(huge, 'b', 300);
	huge[2] = '/';
	huge[259] = '\0'; /* "bb/" and a name of 256 bytes */
	expect_add_fails(mk(huge, TREE_REG), -EINVAL, "name longer than 255");
	free(huge);
	e = mk("f", TREE_REG);
	e.link = "x";
	e.link_len = 1;
	expect_add_fails(e, -EINVAL, "a link on a non-link");
	expect_add_fails(mk("s", TREE_SYMLINK), -EINVAL, "without a target");
	expect_add_fails(mk_link("h", TREE_HARDLINK, "/etc/x"), -EINVAL, "not a clean");
	e = mk("f", TREE_REG);
	e.mode = 0100644;
	expect_add_fails(e, -EINVAL, "outside 07777");
	e = mk("f", TREE_REG);
	e.mtime_nsec = 1000000000;
	expect_add_fails(e, -EINVAL, "nanoseconds");
	e = mk("f", TREE_REG);
	e.flags = TREE_ENTRY_OPAQUE;
	expect_add_fails(e, -EINVAL, "opaque");
	e = mk("f", TREE_REG);
	e.flags = TREE_ENTRY_IMPLICIT;
	expect_add_fails(e, -EINVAL, "implicit flag on a non-directory");
	e = mk("d", TREE_DIR);
	e.flags = TREE_ENTRY_HAS_DIGEST;
	expect_add_fails(e, -EINVAL, "digest");
	e = mk("d", TREE_DIR);
	e.locator = "git:x";
	e.locator_len = 5;
	expect_add_fails(e, -EINVAL, "locator");
	expect_add_fails(mk("f", _TREE_TYPE_MAX), -EINVAL, "unknown type");
}

static void
test_builder_rejects_duplicates_and_bad_structure(void **state)
{
	struct tree_builder *b = tree_builder_new();
	struct tree_xattr dup[] = {{"user.a", 6, "1", 1}, {"user.a", 6, "2", 1}};
	struct tree_entry e = mk("f", TREE_REG);
	struct kl_error *err = NULL;
	char *buf = NULL;
	size_t len;

	(void)state;
	add(b, mk("f", TREE_REG));
	assert_int_equal(tree_builder_add(b, &e, NULL, 0, &err), -EEXIST);
	assert_non_null(strstr(err->msg, "'f'"));
	kl_error_freep(&err);
	e = mk("g", TREE_REG);
	assert_int_equal(tree_builder_add(b, &e, dup, 2, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "twice"));
	kl_error_freep(&err);
	add(b, mk("g", TREE_REG)); /* the failed add left nothing behind */
	add(b, mk("f/child", TREE_REG));
	assert_int_equal(tree_builder_serialize(b, &buf, &len, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "'f/child'"));
	assert_non_null(strstr(err->msg, "not a directory"));
	kl_error_freep(&err);
	tree_builder_free(b);

	b = tree_builder_new();
	add(b, mk_link("h", TREE_HARDLINK, "missing"));
	assert_int_equal(tree_builder_serialize(b, &buf, &len, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "'h'"));
	assert_non_null(strstr(err->msg, "missing"));
	kl_error_freep(&err);
	tree_builder_free(b);

	b = tree_builder_new();
	add(b, mk("d", TREE_DIR));
	add(b, mk_link("h", TREE_HARDLINK, "d"));
	assert_int_equal(tree_builder_serialize(b, &buf, &len, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "not a regular file"));
	kl_error_freep(&err);
	tree_builder_free(b);
	assert_null(buf);
}

static void
test_every_truncation_is_ebadmsg(void **state)
{
	struct tree_builder *b = sample_builder();
	char *buf;
	size_t len;

	(void)state;
	serialize(b, &buf, &len);
	tree_builder_free(b);
	for (size_t n = 0; n < len; n++) {
		/* A copy of exactly n bytes, so ASan sees any read past them. */
		char *cut = xmalloc(n ? n : 1);
		struct tree *t = NULL;
		struct kl_error *err = NULL;

		memcpy(cut, buf, n);
		assert_int_equal(tree_parse(cut, n, NULL, &t, &err), -EBADMSG);
		assert_null(t);
		assert_int_equal(err->code, EBADMSG);
		assert_non_null(strstr(err->msg, "malformed tree"));
		kl_error_free(err);
		free(cut);
	}
	free(buf);
}

static void
test_byte_flips_never_crash(void **state)
{
	static const uint8_t masks[] = {0x01, 0x80, 0xff, 0x10};
	struct tree_builder *b = sample_builder();
	size_t len, bad = 0;
	char *buf;

	(void)state;
	serialize(b, &buf, &len);
	tree_builder_free(b);
	for (size_t i = 0; i < len; i++) {
		for (size_t m = 0; m < sizeof(masks); m++) {
			char *copy = xmalloc(len);
			struct tree *t = NULL;
			int r;

			memcpy(copy, buf, len);
			copy[i] ^= (char)masks[m];
			r = tree_parse(copy, len, release, &t, NULL);
			if (r < 0) {
				assert_int_equal(r, -EBADMSG);
				free(copy);
				bad++;
				continue;
			}
			/* A flip in a plain field (uid, mtime, a name byte…) is a valid tree. */
			for (uint32_t k = 0; k < tree_count(t); k++) {
				struct tree_entry e;
				uint32_t idx;
				tree_entry_at(t, k, &e);
				assert_int_equal(tree_lookup(t, e.path, e.path_len, &idx), 0);
				assert_int_equal(idx, k);
			}
			tree_unref(t);
		}
	}
	assert_true(bad > len); /* most flips break something the parser checks */
	free(buf);
}

static void
test_reserved_and_padding_bytes_are_checked(void **state)
{
	struct tree_builder *b = sample_builder();
	struct tree *t = NULL;
	size_t len;
	char *buf;

	(void)state;
	serialize(b, &buf, &len);
	tree_builder_free(b);
	buf[12] = 1; /* header reserved */
	assert_int_equal(tree_parse(buf, len, NULL, &t, NULL), -EBADMSG);
	buf[12] = 0;
	buf[32 + 70] = 1; /* root record reserved */
	assert_int_equal(tree_parse(buf, len, NULL, &t, NULL), -EBADMSG);
	buf[32 + 70] = 0;
	buf[32 + 72] = 1; /* root digest without the flag */
	assert_int_equal(tree_parse(buf, len, NULL, &t, NULL), -EBADMSG);
	buf[32 + 72] = 0;
	assert_int_equal(tree_parse(buf, len, release, &t, NULL), 0);
	tree_unref(t);
}

static void
test_parse_computes_the_id_of_the_bytes(void **state)
{
	struct tree_builder *b = sample_builder();
	struct tree *t, *t2;
	struct digest d;
	size_t len;
	char *buf;

	(void)state;
	serialize(b, &buf, &len);
	tree_builder_free(b);
	digest_buffer(buf, len, &d);
	t = parse_owned(buf, len);
	assert_true(digest_equal(tree_id(t), &d));
	t2 = tree_ref(t);
	assert_ptr_equal(t2, t);
	assert_null(tree_unref(t));
	assert_int_equal(tree_count(t2), 12); /* still alive: one reference left */
	tree_unref(t2);
	assert_null(tree_unref(NULL));
}

static void
test_load_from_store_verifies(void **state)
{
	char *dir = test_tmpdir();
	struct store *s = NULL;
	struct tree *t = NULL;
	struct kl_error *err = NULL;
	struct digest id, missing = {{1}};
	char hexid[DIGEST_HEX_LEN + 1], *path;
	int fd;

	(void)state;
	assert_int_equal(store_open(dir, &(struct store_options){.flags = STORE_NO_SYNC}, &s, NULL),
	                 0);
	{
		struct tree_builder *b = sample_builder();
		assert_int_equal(tree_builder_write(b, s, &id, NULL), 0);
		tree_builder_free(b);
	}
	assert_int_equal(tree_load(s, &id, &t, &err), 0);
	assert_true(digest_equal(tree_id(t), &id));
	assert_int_equal(tree_count(t), 12);
	tree_unref(t);
	assert_int_equal(tree_load(s, &missing, &t, &err), -ENOENT);
	assert_null(err);

	/* Corrupt the blob in place, with times of its own: this store wrote and loaded it, but
	 * it is not the inode it trusted any more, so the load hashes it and fails naming it. */
	path = xasprintf("%s/content/sha256/%s", dir, digest_to_hex(&id, hexid));
	assert_int_equal(chmod(path, 0644), 0);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, 40), 1);
	assert_int_equal(futimens(fd, (struct timespec[]){{1, 0}, {1, 0}}), 0);
	close(fd);
	assert_int_equal(tree_load(s, &id, &t, &err), -EBADMSG);
	assert_non_null(strstr(err->msg, hexid));
	kl_error_freep(&err);
	/* and a store opened afterwards trusts nothing it did not hash itself */
	store_unref(s);
	assert_int_equal(store_open(dir, &(struct store_options){.flags = STORE_NO_SYNC}, &s, NULL),
	                 0);
	assert_int_equal(tree_load(s, &id, &t, &err), -EBADMSG);
	kl_error_freep(&err);
	free(path);
	store_unref(s);
	test_rmdir(dir);
}

/* A blob that hashes right but is no tree (say, a file's content asked for as a tree). */
static void
test_load_of_a_non_tree_blob_names_the_id(void **state)
{
	char *dir = test_tmpdir();
	struct store *s = NULL;
	struct tree *t = NULL;
	struct kl_error *err = NULL;
	char hexid[DIGEST_HEX_LEN + 1];
	struct digest id;

	(void)state;
	assert_int_equal(store_open(dir, &(struct store_options){.flags = STORE_NO_SYNC}, &s, NULL),
	                 0);
	assert_int_equal(
	    store_ingest_buffer(s, "not a tree, but long enough for a header", 40, &id, NULL), 0);
	assert_int_equal(tree_load(s, &id, &t, &err), -EBADMSG);
	assert_non_null(strstr(err->msg, digest_to_hex(&id, hexid)));
	assert_non_null(strstr(err->msg, "malformed tree"));
	kl_error_freep(&err);
	assert_int_equal(store_ingest_buffer(s, "tiny", 4, &id, NULL), 0);
	assert_int_equal(tree_load(s, &id, &t, &err), -EBADMSG);
	assert_non_null(strstr(err->msg, digest_to_hex(&id, hexid)));
	kl_error_freep(&err);
	store_unref(s);
	test_rmdir(dir);
}

static void
test_add_from_copies_an_entry_with_xattrs(void **state)
{
	struct tree *t = build(sample_builder()), *t2;
	struct tree_builder *b = tree_builder_new();
	struct tree_entry e1, e2;
	struct tree_xattr x1, x2;

	(void)state;
	for (uint32_t i = 0; i < tree_count(t); i++)
		assert_int_equal(tree_builder_add_from(b, t, i, NULL), 0);
	t2 = build(b);
	assert_true(digest_equal(tree_id(t), tree_id(t2)));
	tree_entry_at(t2, lookup(t2, "etc/passwd"), &e2);
	tree_entry_at(t, lookup(t, "etc/passwd"), &e1);
	tree_entry_xattr(t, &e1, 1, &x1);
	tree_entry_xattr(t2, &e2, 1, &x2);
	assert_memory_equal(x1.value, x2.value, 4);
	tree_unref(t);
	tree_unref(t2);
}

static void
test_builder_marks_created_parents_implicit(void **state)
{
	struct tree_builder *b = tree_builder_new();
	struct tree *t;
	struct tree_entry e;

	(void)state;
	add(b, mk("x/y/z", TREE_REG));
	add(b, mk("a", TREE_DIR));
	add(b, mk("a/b/c", TREE_DIR));
	t = build(b);
	for (uint32_t i = 0; i < tree_count(t); i++) {
		bool created;

		tree_entry_at(t, i, &e);
		created = !strcmp(e.path, "") || !strcmp(e.path, "x") || !strcmp(e.path, "x/y") ||
		          !strcmp(e.path, "a/b");
		if (e.flags != (created ? TREE_ENTRY_IMPLICIT : 0u))
			fail_msg("'%s' has flags 0x%x", e.path, e.flags);
	}
	tree_unref(t);

	b = tree_builder_new(); /* an added root is a real one */
	add(b, mk("", TREE_DIR));
	add(b, mk("f", TREE_REG));
	t = build(b);
	tree_entry_at(t, TREE_ROOT, &e);
	assert_int_equal(e.flags, 0);
	tree_unref(t);
}

static void
test_implicit_flag_roundtrips(void **state)
{
	struct tree_builder *b = tree_builder_new();
	struct tree_entry d = mk("d", TREE_DIR), e;
	struct tree *t, *t2;

	(void)state;
	d.flags = TREE_ENTRY_IMPLICIT;
	d.mode = 0700;
	add(b, d);
	add(b, mk("d/f", TREE_REG));
	add(b, mk("e", TREE_DIR));
	t = build(b);
	tree_entry_at(t, lookup(t, "d"), &e);
	assert_int_equal(e.flags, TREE_ENTRY_IMPLICIT);
	assert_int_equal(e.mode, 0700);
	tree_entry_at(t, lookup(t, "e"), &e);
	assert_int_equal(e.flags, 0);
	b = tree_builder_new();
	for (uint32_t i = 0; i < tree_count(t); i++)
		assert_int_equal(tree_builder_add_from(b, t, i, NULL), 0);
	t2 = build(b);
	assert_true(digest_equal(tree_id(t), tree_id(t2)));
	tree_unref(t2);

	b = tree_builder_new(); /* the flag is part of the id */
	d.flags = 0;
	add(b, d);
	add(b, mk("d/f", TREE_REG));
	add(b, mk("e", TREE_DIR));
	t2 = build(b);
	assert_false(digest_equal(tree_id(t), tree_id(t2)));
	tree_unref(t2);
	tree_unref(t);
}

static void
test_parse_rejects_implicit_on_a_non_directory(void **state)
{
	struct tree_builder *b = tree_builder_new();
	struct kl_error *err = NULL;
	struct tree *t = NULL;
	size_t len;
	char *buf;

	(void)state;
	add(b, mk("", TREE_DIR));
	add(b, mk("f", TREE_REG));
	serialize(b, &buf, &len);
	tree_builder_free(b);
	buf[32 + 104 + 11] = TREE_ENTRY_IMPLICIT; /* the flags of entry 1, "f" */
	assert_int_equal(tree_parse(buf, len, NULL, &t, &err), -EBADMSG);
	assert_non_null(strstr(err->msg, "implicit flag on a non-directory"));
	kl_error_freep(&err);
	buf[32 + 11] = TREE_ENTRY_IMPLICIT; /* on the root too: still the file that is wrong */
	assert_int_equal(tree_parse(buf, len, NULL, &t, NULL), -EBADMSG);
	buf[32 + 104 + 11] = 0; /* on the root alone: fine (the id differs, parse computes it) */
	assert_int_equal(tree_parse(buf, len, release, &t, NULL), 0);
	assert_int_equal(tree_count(t), 2);
	tree_unref(t);
}

/* The stat cache's packed xattrs: a round trip, and every truncation or bad length refused. */
static void
test_xattrs_encode_decode(void **state)
{
	static const char big[] = "binary\0value";
	const struct tree_xattr xs[] = {
	    {"user.a", 6, "1", 1},
	    {"security.selinux", 16, "", 0},
	    {"trusted.b", 9, big, sizeof(big)},
	};
	struct tree_xattr_list l;
	size_t len;
	char *buf;

	(void)state;
	tree_xattrs_encode(xs, 3, &buf, &len);
	assert_int_equal(tree_xattrs_decode(buf, len, &l), 0);
	assert_int_equal(l.n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(l.xs[i].name_len, xs[i].name_len);
		assert_string_equal(l.xs[i].name, xs[i].name);
		assert_int_equal(l.xs[i].value_len, xs[i].value_len);
		assert_memory_equal(l.xs[i].value, xs[i].value, xs[i].value_len);
	}
	tree_xattr_list_done(&l);
	for (size_t cut = 1; cut < len; cut++) { /* a cut inside the last value's length or bytes */
		int r = tree_xattrs_decode(buf, cut, &l);

		if (r == 0) /* only at an xattr boundary */
			assert_true(cut == 6 + 1 + 4 + 1 || cut == 6 + 1 + 4 + 1 + 16 + 1 + 4);
		else
			assert_int_equal(r, -EBADMSG);
		tree_xattr_list_done(&l);
	}
	buf[6 + 1 + 3] = 0x7f; /* user.a's length past the end */
	assert_int_equal(tree_xattrs_decode(buf, len, &l), -EBADMSG);
	assert_int_equal(l.n, 0);
	buf[0] = '\0'; /* an empty name */
	assert_int_equal(tree_xattrs_decode(buf, len, &l), -EBADMSG);
	free(buf);
	assert_int_equal(tree_xattrs_decode("", 0, &l), 0);
	assert_int_equal(l.n, 0);
	/* the same name twice: a tree would refuse it, so the cache's copy is refused too */
	{
		const struct tree_xattr twice[] = {{"user.a", 6, "1", 1}, {"user.a", 6, "2", 1}};

		tree_xattrs_encode(twice, 2, &buf, &len);
		assert_int_equal(tree_xattrs_decode(buf, len, &l), -EBADMSG);
		assert_int_equal(l.n, 0);
		free(buf);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_preserves_every_field),
	    cmocka_unit_test(test_missing_parents_and_root_are_created),
	    cmocka_unit_test(test_id_is_independent_of_add_order),
	    cmocka_unit_test(test_any_field_change_changes_the_id),
	    cmocka_unit_test(test_order_puts_slash_before_every_other_byte),
	    cmocka_unit_test(test_lookup_handles_odd_names_and_long_paths),
	    cmocka_unit_test(test_directory_iterates_in_name_order),
	    cmocka_unit_test(test_hardlinks_share_nlink_and_resolve),
	    cmocka_unit_test(test_builder_rejects_bad_entries),
	    cmocka_unit_test(test_builder_rejects_duplicates_and_bad_structure),
	    cmocka_unit_test(test_every_truncation_is_ebadmsg),
	    cmocka_unit_test(test_byte_flips_never_crash),
	    cmocka_unit_test(test_reserved_and_padding_bytes_are_checked),
	    cmocka_unit_test(test_parse_computes_the_id_of_the_bytes),
	    cmocka_unit_test(test_load_from_store_verifies),
	    cmocka_unit_test(test_load_of_a_non_tree_blob_names_the_id),
	    cmocka_unit_test(test_add_from_copies_an_entry_with_xattrs),
	    cmocka_unit_test(test_builder_marks_created_parents_implicit),
	    cmocka_unit_test(test_implicit_flag_roundtrips),
	    cmocka_unit_test(test_parse_rejects_implicit_on_a_non_directory),
	    cmocka_unit_test(test_xattrs_encode_decode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
