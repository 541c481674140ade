// SPDX-License-Identifier: Apache-2.0
/* Fuzz target for tree_parse: a blob is either rejected or every read of it is consistent,
 * and a valid blob re-serializes to exactly its own bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fs/tree.h"
#include "fs/tree-writer.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

static void
walk_entry(const struct tree *t, uint32_t i, bool *plain)
{
	struct tree_entry e;
	struct tree_xattr x;
	uint32_t idx, n = 0;

	tree_entry_at(t, i, &e);
	CHECK(e.index == i && e.path[e.path_len] == '\0');
	CHECK(tree_lookup(t, e.path, e.path_len, &idx) == 0 && idx == i);
	if (i != TREE_ROOT) {
		CHECK(tree_lookup_child(t, tree_parent(t, i), e.name, e.name_len, &idx) == 0);
		CHECK(idx == i);
	}
	for (uint32_t k = 0; k < e.n_xattrs; k++) {
		tree_entry_xattr(t, &e, k, &x);
		CHECK(x.name_len > 0 && x.name[x.name_len] == '\0');
		CHECK(((const char *)x.value)[x.value_len] == '\0');
	}
	for (uint32_t c = tree_first_child(t, i); c != TREE_NONE; c = tree_next_sibling(t, c)) {
		CHECK(tree_parent(t, c) == i && c < tree_subtree_end(t, i));
		n++;
	}
	CHECK(e.type == TREE_DIR || n == 0);
	CHECK(tree_nlink(t, i) >= 1);
	CHECK(tree_resolve_hardlink(t, i) < tree_count(t));
	/* Diff and apply drop these, so only a tree without them comes back unchanged. */
	if (e.type == TREE_WHITEOUT || (e.flags & (TREE_ENTRY_OPAQUE | TREE_ENTRY_IMPLICIT)))
		*plain = false;
}

static void
release(void *buf, size_t len)
{
	(void)len;
	free(buf);
}

static struct tree *
build(struct tree_builder *b, const uint8_t *want, size_t want_len)
{
	struct tree *t = NULL;
	char *buf;
	size_t len;

	CHECK(tree_builder_serialize(b, &buf, &len, NULL) == 0);
	tree_builder_free(b);
	CHECK(!want || (len == want_len && !memcmp(buf, want, len)));
	CHECK(tree_parse(buf, len, release, &t, NULL) == 0);
	return t;
}

/* Finishes an applied tree (which must succeed) and parses it. */
static struct tree *
finish(struct tree_writer *w)
{
	struct tree *t = NULL;

	CHECK(tree_writer_finish_tree(w, &t, NULL) == 0);
	tree_writer_free(w);
	return t;
}

static void
check_algebra(const struct tree *t, bool plain)
{
	struct tree_builder *b = tree_builder_new(), *db = NULL;
	struct tree_writer *ab = NULL;
	struct tree *empty = build(b, NULL, 0), *d, *r;

	CHECK(tree_diff(empty, t, &db, NULL) == 0);
	d = build(db, NULL, 0);
	CHECK(tree_apply(empty, d, &ab, NULL) == 0);
	r = finish(ab);
	CHECK(!plain || digest_equal(tree_id(r), tree_id(t)));
	tree_unref(r);
	tree_unref(d);
	CHECK(tree_diff(t, empty, &db, NULL) == 0);
	d = build(db, NULL, 0);
	CHECK(tree_apply(t, d, &ab, NULL) == 0);
	r = finish(ab);
	CHECK(tree_count(r) == 1);
	tree_unref(r);
	tree_unref(d);
	CHECK(tree_apply(t, t, &ab, NULL) == 0);
	tree_unref(finish(ab));
	tree_unref(empty);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tree_builder *b;
	struct tree *t = NULL;
	bool plain = true;

	if (tree_parse(data, size, NULL, &t, NULL) < 0)
		return 0;
	b = tree_builder_new();
	for (uint32_t i = 0; i < tree_count(t); i++) {
		walk_entry(t, i, &plain);
		CHECK(tree_builder_add_from(b, t, i, NULL) == 0);
	}
	/* Canonical: the same entries always serialize to the same bytes. */
	tree_unref(build(b, data, size));
	check_algebra(t, plain);
	tree_unref(t);
	return 0;
}
