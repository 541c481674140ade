// SPDX-License-Identifier: Apache-2.0
/* Applying a diff to a tree as a streaming merge: the walk follows the diff's directories
 * down through base, and every run of base siblings the diff does not touch is copied into
 * the writer as records, so a small diff over a large tree costs a copy of its bytes. */
#include "fs/tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/tree-internal.h"
#include "fs/tree-writer.h"
#include "util/error.h"
#include "util/xalloc.h"

/* The result is a list of these, in order; they are written once the walk decided what
 * becomes of every base hardlink. */
enum op_kind {
	OP_BASE_RUN, /* base entries [a, b): whole sibling subtrees, copied */
	OP_BASE_DIR, /* base entry a, kept (an implicit directory of the diff over it) */
	OP_DIFF,     /* diff entry a */
	OP_DIFF_RUN, /* diff entries [a, b): whole sibling subtrees without whiteouts */
	_OP_MAX
};

struct op {
	enum op_kind kind;
	uint32_t a, b;
};

struct range {
	uint32_t a, b;
};

struct replaced {
	uint32_t base, diff;
};

/* A base hardlink whose target lost its inode in the merge, and what it becomes. */
struct bad_link {
	uint32_t link, target;
	uint32_t leader; /* the link that becomes the target's copy (itself: this one) */
	const char *to;  /* or the path it links to now (a diff hardlink's), NULL */
	size_t to_len;
};

/* Where the walk is in one directory of base and the diff it is merged with. */
struct level {
	uint32_t bi, dj;       /* next child on each side, TREE_NONE past the last */
	uint32_t run, run_end; /* base siblings not yet written, run == TREE_NONE for none */
};

#define FATE_KEEP TREE_NONE
#define FATE_REMOVED (TREE_NONE - 1)

struct applier {
	const struct tree *base, *diff;
	struct op *ops;
	size_t n_ops, ops_cap;
	struct range *removed; /* sorted, disjoint */
	size_t n_removed, removed_cap;
	struct replaced *replaced; /* non-directories of base replaced by the diff, sorted */
	size_t n_replaced, replaced_cap;
	uint32_t *wh_before; /* diff whiteouts among entries [0, j); NULL when there are none */
	bool lost_inode;     /* a base file with hardlinks was removed or replaced */
	struct level *stack;
	size_t depth, stack_cap;
	struct bad_link *bad; /* sorted by link */
	size_t n_bad;
	struct tree_writer *w;
};

static void
add_op(struct applier *a, enum op_kind kind, uint32_t x, uint32_t y)
{
	a->ops = xgrow(a->ops, &a->ops_cap, a->n_ops + 1, sizeof(*a->ops));
	a->ops[a->n_ops++] = (struct op){kind, x, y};
}

static bool
has_other_links(const struct tree *t, uint32_t i)
{
	return tree_rec(t, i)[TREE_R_TYPE] == TREE_REG && tree_nlink(t, i) > 1;
}

static void
remove_range(struct applier *a, uint32_t from, uint32_t to)
{
	if (from >= to)
		return;
	a->removed = xgrow(a->removed, &a->removed_cap, a->n_removed + 1, sizeof(*a->removed));
	a->removed[a->n_removed++] = (struct range){from, to};
	for (uint32_t k = from; k < to && !a->lost_inode; k++)
		a->lost_inode = has_other_links(a->base, k);
}

static void
replace_entry(struct applier *a, uint32_t bi, uint32_t dj)
{
	a->replaced = xgrow(a->replaced, &a->replaced_cap, a->n_replaced + 1, sizeof(*a->replaced));
	a->replaced[a->n_replaced++] = (struct replaced){bi, dj};
	if (has_other_links(a->base, bi) && tree_rec(a->diff, dj)[TREE_R_TYPE] != TREE_REG)
		a->lost_inode = true;
}

/* What became of base entry i: FATE_KEEP, FATE_REMOVED or the diff entry replacing it. */
static uint32_t
fate(const struct applier *a, uint32_t i)
{
	size_t lo = 0, hi = a->n_removed;

	while (lo < hi) { /* the first range ending after i */
		size_t mid = lo + (hi - lo) / 2;
		if (a->removed[mid].b <= i)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < a->n_removed && a->removed[lo].a <= i)
		return FATE_REMOVED;
	lo = 0;
	hi = a->n_replaced;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a->replaced[mid].base < i)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < a->n_replaced && a->replaced[lo].base == i ? a->replaced[lo].diff : FATE_KEEP;
}

/* The walk. */

static void
push_level(struct applier *a, uint32_t bi, uint32_t dj)
{
	a->stack = xgrow(a->stack, &a->stack_cap, a->depth + 1, sizeof(*a->stack));
	a->stack[a->depth++] = (struct level){bi, dj, TREE_NONE, TREE_NONE};
}

static void
flush_run(struct applier *a, struct level *l)
{
	if (l->run != TREE_NONE)
		add_op(a, OP_BASE_RUN, l->run, l->run_end);
	l->run = TREE_NONE;
}

static int
compare_children(const struct applier *a, uint32_t bi, uint32_t dj)
{
	const char *pb, *pd;
	size_t lb, ld;

	if (bi == TREE_NONE)
		return 1;
	if (dj == TREE_NONE)
		return -1;
	pb = tree_path_at(a->base, bi, &lb);
	pd = tree_path_at(a->diff, dj, &ld);
	return tree_path_compare(pb, lb, pd, ld);
}

static bool
diff_has_whiteouts(const struct applier *a, uint32_t from, uint32_t to)
{
	return a->wh_before && a->wh_before[to] > a->wh_before[from];
}

/* A diff entry base has nothing at: it and its subtree, whiteouts aside. */
static void
walk_diff_only(struct applier *a, uint32_t dj)
{
	uint8_t type = tree_rec(a->diff, dj)[TREE_R_TYPE];
	uint32_t end = tree_subtree_end(a->diff, dj);

	if (type == TREE_WHITEOUT)
		return;
	if (type != TREE_DIR || !diff_has_whiteouts(a, dj, end)) {
		add_op(a, end == dj + 1 ? OP_DIFF : OP_DIFF_RUN, dj, end);
		return;
	}
	add_op(a, OP_DIFF, dj, 0);
	push_level(a, TREE_NONE, tree_first_child(a->diff, dj));
}

/* Base entry bi and diff entry dj at the same path. */
static void
walk_both(struct applier *a, uint32_t bi, uint32_t dj)
{
	struct tree_entry be, de;
	uint32_t bend = tree_subtree_end(a->base, bi);

	tree_entry_at(a->base, bi, &be);
	tree_entry_at(a->diff, dj, &de);
	if (de.type == TREE_WHITEOUT) {
		remove_range(a, bi, bend);
		return;
	}
	if (de.type == TREE_DIR && be.type == TREE_DIR) {
		/* A directory the diff only implied (a layer's tar without it) leaves base's. */
		if (de.flags & TREE_ENTRY_IMPLICIT)
			add_op(a, OP_BASE_DIR, bi, 0);
		else
			add_op(a, OP_DIFF, dj, 0);
		/* Base entries below survive only under a plain directory merged into one. */
		if (de.flags & TREE_ENTRY_OPAQUE) {
			remove_range(a, bi + 1, bend);
			push_level(a, TREE_NONE, tree_first_child(a->diff, dj));
		} else {
			push_level(a, tree_first_child(a->base, bi), tree_first_child(a->diff, dj));
		}
		return;
	}
	add_op(a, OP_DIFF, dj, 0);
	if (be.type == TREE_DIR)
		remove_range(a, bi + 1, bend);
	else
		replace_entry(a, bi, dj);
	if (de.type == TREE_DIR)
		push_level(a, TREE_NONE, tree_first_child(a->diff, dj));
}

static void
walk(struct applier *a)
{
	struct tree_entry de;

	tree_entry_at(a->diff, TREE_ROOT, &de);
	add_op(a, (de.flags & TREE_ENTRY_IMPLICIT) ? OP_BASE_DIR : OP_DIFF, TREE_ROOT, 0);
	if (de.flags & TREE_ENTRY_OPAQUE) {
		remove_range(a, 1, tree_count(a->base));
		push_level(a, TREE_NONE, tree_first_child(a->diff, TREE_ROOT));
	} else {
		push_level(a, tree_first_child(a->base, TREE_ROOT),
		           tree_first_child(a->diff, TREE_ROOT));
	}
	while (a->depth) {
		struct level *l = &a->stack[a->depth - 1];
		uint32_t bi = l->bi, dj = l->dj;
		int c;

		if (bi == TREE_NONE && dj == TREE_NONE) {
			flush_run(a, l);
			a->depth--;
			continue;
		}
		c = compare_children(a, bi, dj);
		if (c < 0) {
			if (l->run == TREE_NONE)
				l->run = bi;
			l->run_end = tree_subtree_end(a->base, bi);
			l->bi = tree_next_sibling(a->base, bi);
			continue;
		}
		flush_run(a, l);
		l->dj = tree_next_sibling(a->diff, dj);
		if (c > 0) {
			walk_diff_only(a, dj); /* may move the stack: l is stale after it */
			continue;
		}
		l->bi = tree_next_sibling(a->base, bi);
		walk_both(a, bi, dj);
	}
}

/* Base hardlinks whose target lost its inode. */

static int
bad_by_target(const void *pa, const void *pb)
{
	const struct bad_link *x = *(struct bad_link *const *)pa,
	                      *y = *(struct bad_link *const *)pb;

	if (x->target != y->target)
		return x->target < y->target ? -1 : 1;
	return x->link < y->link ? -1 : x->link > y->link;
}

/* Finds them (a scan of base, done only when a file with links lost its inode) and decides
 * what each becomes: the first in tree order of each target a copy of it, the others links
 * to that copy; a link whose target became a hardlink itself links where that one does. */
static void
find_bad_links(struct applier *a)
{
	_cleanup_free_ struct bad_link **by_target = NULL;
	size_t cap = 0;

	for (uint32_t i = 0; i < tree_count(a->base); i++) {
		uint32_t target, f;

		if (tree_rec(a->base, i)[TREE_R_TYPE] != TREE_HARDLINK || fate(a, i) != FATE_KEEP)
			continue;
		target = tree_resolve_hardlink(a->base, i);
		f = fate(a, target);
		if (f == FATE_KEEP ||
		    (f != FATE_REMOVED && tree_rec(a->diff, f)[TREE_R_TYPE] == TREE_REG))
			continue;
		a->bad = xgrow(a->bad, &cap, a->n_bad + 1, sizeof(*a->bad));
		a->bad[a->n_bad] = (struct bad_link){.link = i, .target = target, .leader = i};
		if (f != FATE_REMOVED && tree_rec(a->diff, f)[TREE_R_TYPE] == TREE_HARDLINK) {
			struct tree_entry de;

			tree_entry_at(a->diff, f, &de);
			a->bad[a->n_bad].to = de.link;
			a->bad[a->n_bad].to_len = de.link_len;
		}
		a->n_bad++;
	}
	by_target = xmalloc((a->n_bad ? a->n_bad : 1) * sizeof(*by_target));
	for (size_t k = 0; k < a->n_bad; k++)
		by_target[k] = &a->bad[k];
	qsort(by_target, a->n_bad, sizeof(*by_target), bad_by_target);
	for (size_t k = 1; k < a->n_bad; k++)
		if (by_target[k]->target == by_target[k - 1]->target)
			by_target[k]->leader = by_target[k - 1]->leader;
}

/* The first bad link at or after i, as an index into bad. */
static size_t
bad_at(const struct applier *a, uint32_t i)
{
	size_t lo = 0, hi = a->n_bad;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a->bad[mid].link < i)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool
has_bad(const struct applier *a, uint32_t from, uint32_t to)
{
	size_t k = bad_at(a, from);

	return k < a->n_bad && a->bad[k].link < to;
}

/* Writing. */

static const struct tree_writer_copy_opts base_copy = {.clear_flags = TREE_ENTRY_IMPLICIT};
static const struct tree_writer_copy_opts diff_copy = {.clear_flags =
                                                           TREE_ENTRY_IMPLICIT | TREE_ENTRY_OPAQUE};

static int
write_base_entry(struct applier *a, uint32_t i, struct kl_error **err)
{
	struct tree_entry e;

	tree_entry_at(a->base, i, &e);
	e.flags &= ~(uint32_t)TREE_ENTRY_IMPLICIT; /* a base built with missing parents */
	return tree_writer_add_view(a->w, a->base, &e, err);
}

static int
write_bad_link(struct applier *a, uint32_t i, struct kl_error **err)
{
	const struct bad_link *bl = &a->bad[bad_at(a, i)];
	struct tree_entry e, te;

	tree_entry_at(a->base, i, &e);
	if (bl->to) {
		e.link = bl->to;
		e.link_len = bl->to_len;
	} else if (bl->leader != i) {
		tree_entry_at(a->base, bl->leader, &te);
		e.link = te.path;
		e.link_len = te.path_len;
	} else {
		tree_entry_at(a->base, bl->target, &te);
		te.path = e.path;
		te.path_len = e.path_len;
		te.name = e.name;
		te.name_len = e.name_len;
		return tree_writer_add_view(a->w, a->base, &te, err);
	}
	return tree_writer_add_view(a->w, a->base, &e, err);
}

static int
copy_base(struct applier *a, uint32_t from, uint32_t to, struct kl_error **err)
{
	return from < to ? tree_writer_copy_range(a->w, a->base, from, to, &base_copy, err) : 0;
}

/* Base siblings [from, to): copied as they are, but for the subtrees holding bad links,
 * which are written entry by entry down to those links. */
static int
write_base_run(struct applier *a, uint32_t from, uint32_t to, struct kl_error **err)
{
	struct range *stack = NULL; /* per open directory: [next sibling, end) */
	uint32_t *runs = NULL;      /* per open directory: the first sibling not yet written */
	size_t depth = 0, cap = 0, rcap = 0;
	int r = 0;

	if (!has_bad(a, from, to))
		return copy_base(a, from, to, err);
	stack = xgrow(stack, &cap, 1, sizeof(*stack));
	runs = xgrow(runs, &rcap, 1, sizeof(*runs));
	stack[0] = (struct range){from, to};
	runs[0] = from;
	depth = 1;
	while (r >= 0 && depth) {
		struct range *f = &stack[depth - 1];
		uint32_t s = f->a, end;

		if (s >= f->b) {
			r = copy_base(a, runs[depth - 1], f->b, err);
			depth--;
			continue;
		}
		end = tree_subtree_end(a->base, s);
		f->a = end;
		if (!has_bad(a, s, end))
			continue;
		r = copy_base(a, runs[depth - 1], s, err);
		runs[depth - 1] = end;
		if (r < 0)
			break;
		if (tree_rec(a->base, s)[TREE_R_TYPE] == TREE_HARDLINK) {
			r = write_bad_link(a, s, err);
			continue;
		}
		r = write_base_entry(a, s, err); /* a directory holding bad links */
		stack = xgrow(stack, &cap, depth + 1, sizeof(*stack));
		runs = xgrow(runs, &rcap, depth + 1, sizeof(*runs));
		stack[depth] = (struct range){s + 1, end};
		runs[depth++] = s + 1;
	}
	free(stack);
	free(runs);
	return r;
}

static int
write_op(struct applier *a, const struct op *op, struct kl_error **err)
{
	struct tree_entry e;

	switch (op->kind) {
	case OP_BASE_RUN:
		return write_base_run(a, op->a, op->b, err);
	case OP_BASE_DIR:
		return write_base_entry(a, op->a, err);
	case OP_DIFF:
		tree_entry_at(a->diff, op->a, &e);
		e.flags &= ~(uint32_t)(TREE_ENTRY_OPAQUE | TREE_ENTRY_IMPLICIT);
		return tree_writer_add_view(a->w, a->diff, &e, err);
	case OP_DIFF_RUN:
		return tree_writer_copy_range(a->w, a->diff, op->a, op->b, &diff_copy, err);
	default:
		abort();
	}
}

static void
count_whiteouts(struct applier *a)
{
	uint32_t n = tree_count(a->diff), seen = 0;

	for (uint32_t j = 0; j < n && !seen; j++)
		seen = tree_rec(a->diff, j)[TREE_R_TYPE] == TREE_WHITEOUT;
	if (!seen)
		return;
	a->wh_before = xmalloc(((size_t)n + 1) * sizeof(*a->wh_before));
	a->wh_before[0] = 0;
	for (uint32_t j = 0; j < n; j++)
		a->wh_before[j + 1] =
		    a->wh_before[j] + (tree_rec(a->diff, j)[TREE_R_TYPE] == TREE_WHITEOUT);
}

int
tree_apply(const struct tree *base, const struct tree *diff, struct tree_writer **ret,
           struct kl_error **err)
{
	struct applier a = {.base = base, .diff = diff, .w = tree_writer_new()};
	int r = 0;

	count_whiteouts(&a);
	walk(&a);
	if (a.lost_inode)
		find_bad_links(&a);
	for (size_t k = 0; r >= 0 && k < a.n_ops; k++)
		r = write_op(&a, &a.ops[k], err);
	free(a.ops);
	free(a.removed);
	free(a.replaced);
	free(a.wh_before);
	free(a.stack);
	free(a.bad);
	if (r < 0) {
		tree_writer_free(a.w);
		kl_error_prefix(err, "applying a diff");
		return r;
	}
	*ret = a.w;
	return 0;
}
