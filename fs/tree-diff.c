// SPDX-License-Identifier: Apache-2.0
/* Diffing two trees: a linear merge of two sorted entry arrays (applying one is tree-apply.c). */
#include "fs/tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/tree-internal.h"
#include "util/error.h"
#include "util/xalloc.h"

static int
compare_at(const struct tree *a, uint32_t i, const struct tree *b, uint32_t j)
{
	const char *pa, *pb;
	size_t la, lb;

	/* Past the end of either side compares greater, so the other side drains. */
	if (i >= tree_count(a))
		return 1;
	if (j >= tree_count(b))
		return -1;
	pa = tree_path_at(a, i, &la);
	pb = tree_path_at(b, j, &lb);
	return tree_path_compare(pa, la, pb, lb);
}

static bool
bytes_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	return alen == blen && (alen == 0 || !memcmp(a, b, alen));
}

static bool
xattrs_equal(const struct tree *ta, const struct tree_entry *a, const struct tree *tb,
             const struct tree_entry *b)
{
	if (a->n_xattrs != b->n_xattrs)
		return false;
	for (uint32_t k = 0; k < a->n_xattrs; k++) {
		struct tree_xattr xa, xb;

		tree_entry_xattr(ta, a, k, &xa);
		tree_entry_xattr(tb, b, k, &xb);
		if (!bytes_equal(xa.name, xa.name_len, xb.name, xb.name_len) ||
		    !bytes_equal(xa.value, xa.value_len, xb.value, xb.value_len))
			return false;
	}
	return true;
}

/* Every field but the path (equal by construction), the view-only index and the implicit
 * flag, which neither a diff nor an applied tree carries. */
static bool
entries_equal(const struct tree *ta, const struct tree_entry *a, const struct tree *tb,
              const struct tree_entry *b)
{
	uint32_t fa = a->flags & ~(uint32_t)TREE_ENTRY_IMPLICIT;
	uint32_t fb = b->flags & ~(uint32_t)TREE_ENTRY_IMPLICIT;

	return a->type == b->type && fa == fb && a->mode == b->mode && a->uid == b->uid &&
	       a->gid == b->gid && a->mtime_sec == b->mtime_sec && a->mtime_nsec == b->mtime_nsec &&
	       a->size == b->size && a->rdev == b->rdev &&
	       bytes_equal(a->link, a->link_len, b->link, b->link_len) &&
	       bytes_equal(a->locator, a->locator_len, b->locator, b->locator_len) &&
	       (!(a->flags & TREE_ENTRY_HAS_DIGEST) || digest_equal(&a->digest, &b->digest)) &&
	       xattrs_equal(ta, a, tb, b);
}

/* Diff. */

enum { MARK_NONE, MARK_KEEP, MARK_OPAQUE };

struct differ {
	const struct tree *lower, *upper;
	uint8_t *mark;       /* per upper entry */
	uint32_t *whiteouts; /* lower indices, in order */
	size_t n_whiteouts, whiteouts_cap;
};

/* Marks upper entry j and the directories above it; a hardlink brings its target, which the
 * diff tree must hold to be valid. */
static void
mark_upper(struct differ *d, uint32_t j, uint8_t how)
{
	uint32_t target = tree_resolve_hardlink(d->upper, j);

	if (how > d->mark[j])
		d->mark[j] = how;
	for (uint32_t p = tree_parent(d->upper, j); p != TREE_NONE && !d->mark[p];
	     p = tree_parent(d->upper, p))
		d->mark[p] = MARK_KEEP;
	if (target != j && !d->mark[target])
		mark_upper(d, target, MARK_KEEP);
}

static void
add_whiteout(struct differ *d, uint32_t i)
{
	struct tree_entry parent;
	uint32_t up;

	d->whiteouts =
	    xgrow(d->whiteouts, &d->whiteouts_cap, d->n_whiteouts + 1, sizeof(*d->whiteouts));
	d->whiteouts[d->n_whiteouts++] = i;
	/* The merge only reaches a lower entry whose parent matched a directory of upper. */
	tree_entry_at(d->lower, tree_parent(d->lower, i), &parent);
	if (tree_lookup(d->upper, parent.path, parent.path_len, &up) == 0)
		mark_upper(d, up, MARK_KEEP);
}

static void
diff_walk(struct differ *d)
{
	uint32_t i = 0, j = 0, ln = tree_count(d->lower), un = tree_count(d->upper);

	while (i < ln || j < un) {
		int c = compare_at(d->lower, i, d->upper, j);
		struct tree_entry le, ue;

		if (c < 0) {
			add_whiteout(d, i);
			i = tree_subtree_end(d->lower, i);
			continue;
		}
		if (c > 0) {
			mark_upper(d, j++, MARK_KEEP);
			continue;
		}
		tree_entry_at(d->lower, i, &le);
		tree_entry_at(d->upper, j, &ue);
		if (le.type == TREE_DIR && ue.type != TREE_DIR)
			i = tree_subtree_end(d->lower, i); /* the file replaces the subtree */
		else
			i++;
		if (le.type != TREE_DIR && ue.type == TREE_DIR)
			mark_upper(d, j, MARK_OPAQUE);
		else if (!entries_equal(d->lower, &le, d->upper, &ue))
			mark_upper(d, j, MARK_KEEP);
		j++;
	}
	mark_upper(d, TREE_ROOT, MARK_KEEP); /* else the builder would invent root metadata */
}

static int
diff_add_upper(struct tree_builder *b, const struct differ *d, uint32_t j, struct kl_error **err)
{
	struct tree_entry e;

	tree_entry_at(d->upper, j, &e);
	e.flags &= ~(uint32_t)TREE_ENTRY_IMPLICIT;
	if (d->mark[j] == MARK_OPAQUE)
		e.flags |= TREE_ENTRY_OPAQUE;
	return tree_builder_add_view(b, d->upper, &e, err);
}

static int
diff_add_whiteout(struct tree_builder *b, const struct tree *lower, uint32_t i,
                  struct kl_error **err)
{
	struct tree_entry le, e = {.type = TREE_WHITEOUT};

	tree_entry_at(lower, i, &le);
	e.path = le.path;
	e.path_len = le.path_len;
	e.name = le.name;
	e.name_len = le.name_len;
	return tree_builder_add(b, &e, /* xattrs= */ NULL, 0, err);
}

/* Adds marked upper entries and whiteouts merged in path order, so the builder need not sort. */
static int
diff_build(struct tree_builder *b, const struct differ *d, struct kl_error **err)
{
	uint32_t j = 0, un = tree_count(d->upper);
	size_t w = 0;
	int r = 0;

	while (r >= 0 && (j < un || w < d->n_whiteouts)) {
		if (j < un && !d->mark[j]) {
			j++;
			continue;
		}
		if (w < d->n_whiteouts && compare_at(d->lower, d->whiteouts[w], d->upper, j) < 0)
			r = diff_add_whiteout(b, d->lower, d->whiteouts[w++], err);
		else
			r = diff_add_upper(b, d, j++, err);
	}
	return r;
}

int
tree_diff(const struct tree *lower, const struct tree *upper, struct tree_builder **ret,
          struct kl_error **err)
{
	_cleanup_(tree_builder_freep) struct tree_builder *b = tree_builder_new();
	struct differ d = {.lower = lower, .upper = upper};
	int r;

	d.mark = xcalloc(tree_count(upper), sizeof(*d.mark));
	diff_walk(&d);
	r = diff_build(b, &d, err);
	free(d.mark);
	free(d.whiteouts);
	if (r < 0) {
		kl_error_prefix(err, "diffing trees");
		return r;
	}
	*ret = TAKE_PTR(b);
	return 0;
}
