// SPDX-License-Identifier: Apache-2.0
/* Diffing two trees and applying a diff, each a linear merge of two sorted entry arrays. */
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

/* Apply. */

#define FATE_KEEP TREE_NONE
#define FATE_REMOVED (TREE_NONE - 1)
#define OUT_DIFF (1u << 31) /* TREE_MAX_ENTRIES leaves the top bit free */

struct applier {
	const struct tree *base, *diff;
	uint32_t *fate;     /* per base entry: keep, removed, or the diff entry replacing it */
	uint32_t *promoted; /* per base entry: the hardlink that became its copy, lazily made */
	uint32_t *out;      /* the result in order: base indices, or diff indices | OUT_DIFF */
	size_t n_out;
};

static void
remove_range(struct applier *a, uint32_t from, uint32_t to)
{
	for (uint32_t k = from; k < to; k++)
		a->fate[k] = FATE_REMOVED;
}

/* Decides what becomes of every base entry and lists the result's entries in order. */
static void
apply_walk(struct applier *a)
{
	uint32_t i = 0, j = 0, bn = tree_count(a->base), dn = tree_count(a->diff);

	while (i < bn || j < dn) {
		int c = compare_at(a->base, i, a->diff, j);
		struct tree_entry be, de;
		uint32_t end;

		if (c < 0) {
			a->out[a->n_out++] = i++;
			continue;
		}
		tree_entry_at(a->diff, j, &de);
		if (c > 0) {
			if (de.type != TREE_WHITEOUT)
				a->out[a->n_out++] = j | OUT_DIFF;
			j++;
			continue;
		}
		tree_entry_at(a->base, i, &be);
		end = tree_subtree_end(a->base, i);
		/* A directory the diff only implied (a layer's tar without it) leaves base's. */
		if (de.type == TREE_DIR && be.type == TREE_DIR &&
		    (de.flags & TREE_ENTRY_IMPLICIT)) {
			a->out[a->n_out++] = i;
		} else {
			if (de.type != TREE_WHITEOUT)
				a->out[a->n_out++] = j | OUT_DIFF;
			a->fate[i] = de.type == TREE_WHITEOUT ? FATE_REMOVED : j;
		}
		/* Lower entries below survive only under a plain directory merged into one. */
		if (de.type == TREE_DIR && be.type == TREE_DIR && !(de.flags & TREE_ENTRY_OPAQUE))
			end = i + 1;
		remove_range(a, i + 1, end);
		i = end;
		j++;
	}
}

/* A kept hardlink of base whose target did not survive as a regular file: the first one
 * becomes a copy of the target, the others link to that copy. */
static int
apply_promote(struct tree_builder *b, struct applier *a, struct tree_entry *e, uint32_t target,
              struct kl_error **err)
{
	struct tree_entry te, first;

	if (!a->promoted) {
		a->promoted = xmalloc(tree_count(a->base) * sizeof(*a->promoted));
		memset(a->promoted, 0xff, tree_count(a->base) * sizeof(*a->promoted));
	}
	if (a->promoted[target] != TREE_NONE) {
		tree_entry_at(a->base, a->promoted[target], &first);
		e->link = first.path;
		e->link_len = first.path_len;
		return tree_builder_add_view(b, a->base, e, err);
	}
	a->promoted[target] = e->index;
	tree_entry_at(a->base, target, &te);
	te.path = e->path;
	te.path_len = e->path_len;
	te.name = e->name;
	te.name_len = e->name_len;
	return tree_builder_add_view(b, a->base, &te, err);
}

static int
apply_add_base(struct tree_builder *b, struct applier *a, uint32_t i, struct kl_error **err)
{
	uint32_t target = tree_resolve_hardlink(a->base, i), fate;
	struct tree_entry e, de;

	tree_entry_at(a->base, i, &e);
	e.flags &= ~(uint32_t)TREE_ENTRY_IMPLICIT; /* a base built with missing parents */
	if (target == i || a->fate[target] == FATE_KEEP)
		return tree_builder_add_view(b, a->base, &e, err);
	fate = a->fate[target];
	if (fate == FATE_REMOVED)
		return apply_promote(b, a, &e, target, err);
	tree_entry_at(a->diff, fate, &de);
	if (de.type == TREE_REG)
		return tree_builder_add_view(b, a->base, &e, err);
	if (de.type == TREE_HARDLINK) {
		/* The target became a link itself: share the inode it now names. */
		e.link = de.link;
		e.link_len = de.link_len;
		return tree_builder_add_view(b, a->base, &e, err);
	}
	return apply_promote(b, a, &e, target, err);
}

static int
apply_add_diff(struct tree_builder *b, const struct tree *diff, uint32_t j, struct kl_error **err)
{
	struct tree_entry e;

	tree_entry_at(diff, j, &e);
	e.flags &= ~(uint32_t)(TREE_ENTRY_OPAQUE | TREE_ENTRY_IMPLICIT);
	return tree_builder_add_view(b, diff, &e, err);
}

int
tree_apply(const struct tree *base, const struct tree *diff, struct tree_builder **ret,
           struct kl_error **err)
{
	_cleanup_(tree_builder_freep) struct tree_builder *b = tree_builder_new();
	struct applier a = {.base = base, .diff = diff};
	int r = 0;

	a.fate = xmalloc(tree_count(base) * sizeof(*a.fate));
	memset(a.fate, 0xff, tree_count(base) * sizeof(*a.fate));
	a.out = xmalloc(((size_t)tree_count(base) + tree_count(diff)) * sizeof(*a.out));
	apply_walk(&a);
	for (size_t k = 0; r >= 0 && k < a.n_out; k++) {
		uint32_t o = a.out[k];
		if (o & OUT_DIFF)
			r = apply_add_diff(b, diff, o & ~OUT_DIFF, err);
		else
			r = apply_add_base(b, &a, o, err);
	}
	free(a.fate);
	free(a.promoted);
	free(a.out);
	if (r < 0) {
		kl_error_prefix(err, "applying a diff");
		return r;
	}
	*ret = TAKE_PTR(b);
	return 0;
}
