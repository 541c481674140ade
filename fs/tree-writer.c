// SPDX-License-Identifier: Apache-2.0
/* Streaming serialization: records, xattr records and strings are appended as entries arrive;
 * a directory's subtree_end is filled in when a later path leaves it, a hardlink's target
 * index when the tree ends. */
#include "fs/tree-writer.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fs/store.h"
#include "fs/tree-internal.h"
#include "util/error.h"
#include "util/xalloc.h"

struct open_dir {
	uint32_t idx;
	uint32_t path_len;
	uint64_t path_off; /* in strings */
};

struct tree_writer {
	uint8_t *recs; /* TREE_HEADER_SIZE bytes kept free for the header, then the records */
	size_t recs_len, recs_cap;
	uint8_t *xrecs; /* xattr records */
	size_t xrecs_len, xrecs_cap;
	uint32_t n_xattrs;
	char *strings;
	size_t strings_len, strings_cap;
	uint32_t n;
	uint32_t *links; /* indices of the hardlinks, whose targets are found at the end */
	size_t n_links, links_cap;
	struct open_dir *stack; /* the directories the next entry may still go into */
	size_t depth, stack_cap;
	uint64_t last_path_off; /* the previous entry's path, for the order check */
	uint32_t last_path_len;
	bool spent;
};

struct tree_writer *
tree_writer_new(void)
{
	struct tree_writer *w = xcalloc(1, sizeof(*w));

	w->recs_len = TREE_HEADER_SIZE;
	w->recs = xgrow(NULL, &w->recs_cap, 64 * 1024, 1);
	return w;
}

struct tree_writer *
tree_writer_free(struct tree_writer *w)
{
	if (!w)
		return NULL;
	free(w->recs);
	free(w->xrecs);
	free(w->strings);
	free(w->links);
	free(w->stack);
	free(w);
	return NULL;
}

/* Asks for huge pages behind a large buffer (just grown): a 100k-entry tree is ~20 MB of fresh
 * memory, and faulting it in 4 KiB at a time was a fifth of writing it. A hint only. */
static void
hint_huge_pages(void *p, size_t len)
{
	uintptr_t start = ((uintptr_t)p + 4095) & ~(uintptr_t)4095;
	uintptr_t end = ((uintptr_t)p + len) & ~(uintptr_t)4095;

	if (len >= (4u << 20) && end > start)
		(void)madvise((void *)start, end - start, MADV_HUGEPAGE);
}

/* Grows buf (*cap bytes) to hold want bytes. */
static void *
grow(void *buf, size_t *cap, size_t want)
{
	size_t old = *cap;

	buf = xgrow(buf, cap, want, 1);
	if (*cap != old)
		hint_huge_pages(buf, *cap);
	return buf;
}

/* Room for n more records, uninitialized. */
static uint8_t *
new_records(struct tree_writer *w, size_t n)
{
	uint8_t *r;

	w->recs = grow(w->recs, &w->recs_cap, w->recs_len + n * TREE_REC_SIZE);
	r = w->recs + w->recs_len;
	w->recs_len += n * TREE_REC_SIZE;
	return r;
}

static uint8_t *
new_xattr_records(struct tree_writer *w, size_t n)
{
	uint8_t *x;

	w->xrecs = grow(w->xrecs, &w->xrecs_cap, w->xrecs_len + n * TREE_XATTR_REC_SIZE);
	x = w->xrecs + w->xrecs_len;
	w->xrecs_len += n * TREE_XATTR_REC_SIZE;
	w->n_xattrs += (uint32_t)n;
	return x;
}

static uint8_t *
record(struct tree_writer *w, uint32_t idx)
{
	return w->recs + TREE_HEADER_SIZE + (size_t)idx * TREE_REC_SIZE;
}

/* Appends n bytes and a NUL to the string table: their offset. */
static uint64_t
add_string(struct tree_writer *w, const void *s, size_t n)
{
	uint64_t off = w->strings_len;

	w->strings = grow(w->strings, &w->strings_cap, w->strings_len + n + 1);
	if (n) /* the root's path may be NULL */
		memcpy(w->strings + off, s, n);
	w->strings[off + n] = '\0';
	w->strings_len += n + 1;
	return off;
}

static void
note_link(struct tree_writer *w, uint32_t idx)
{
	w->links = xgrow(w->links, &w->links_cap, w->n_links + 1, sizeof(*w->links));
	w->links[w->n_links++] = idx;
}

static void
close_top(struct tree_writer *w)
{
	tree_put32(record(w, w->stack[--w->depth].idx) + TREE_R_SUBTREE_END, w->n);
}

/* Checks that path follows the previous entry and that its parent is open, closing the
 * directories it leaves; the parent's index, or TREE_NONE for the root. */
static int
place(struct tree_writer *w, const char *path, size_t len, uint32_t *ret_parent,
      struct kl_error **err)
{
	const char *rest;

	if (w->spent)
		return kl_error_setf(err, EINVAL, "tree writer already finished");
	if (w->n == 0) {
		if (len != 0)
			return kl_error_setf(err, EINVAL,
			                     "tree entry '%.*s': the root must come first",
			                     (int)len, path);
		*ret_parent = TREE_NONE;
		return 0;
	}
	if (len == 0 ||
	    tree_path_compare(w->strings + w->last_path_off, w->last_path_len, path, len) >= 0)
		return kl_error_setf(err, EINVAL, "tree entry '%.*s' out of order or repeated",
		                     (int)len, path);
	while (w->depth > 1) { /* the root holds every path */
		const struct open_dir *d = &w->stack[w->depth - 1];

		if (len > d->path_len && path[d->path_len] == '/' &&
		    !memcmp(path, w->strings + d->path_off, d->path_len))
			break;
		close_top(w);
	}
	rest = path + (w->depth > 1 ? w->stack[w->depth - 1].path_len + 1 : 0);
	if (memchr(rest, '/', len - (size_t)(rest - path)))
		return kl_error_setf(err, EINVAL, "tree entry '%.*s': parent directory missing",
		                     (int)len, path);
	*ret_parent = w->stack[w->depth - 1].idx;
	return 0;
}

static void
push_dir(struct tree_writer *w, uint32_t idx, uint64_t path_off, size_t path_len)
{
	w->stack = xgrow(w->stack, &w->stack_cap, w->depth + 1, sizeof(*w->stack));
	w->stack[w->depth++] = (struct open_dir){idx, (uint32_t)path_len, path_off};
}

/* Appends an entry whose xattrs x[0..n) are sorted and valid. */
static int
append(struct tree_writer *w, const struct tree_entry *e, const struct tree_xattr *x, size_t n,
       struct kl_error **err)
{
	uint32_t parent, idx = w->n, xattr_first = w->n_xattrs;
	uint64_t str_off;
	uint8_t *r;
	int rc;

	if (w->n >= TREE_MAX_ENTRIES)
		return kl_error_setf(err, EINVAL, "more than %u tree entries", TREE_MAX_ENTRIES);
	rc = place(w, e->path, e->path_len, &parent, err);
	if (rc < 0)
		return rc;
	str_off = add_string(w, e->path, e->path_len);
	if (e->link_len)
		add_string(w, e->link, e->link_len);
	if (e->locator_len)
		add_string(w, e->locator, e->locator_len);
	if (n) {
		uint8_t *xr = memset(new_xattr_records(w, n), 0, n * TREE_XATTR_REC_SIZE);

		for (size_t k = 0; k < n; k++, xr += TREE_XATTR_REC_SIZE) {
			tree_put32(xr + TREE_X_NAME_OFF,
			           (uint32_t)add_string(w, x[k].name, x[k].name_len));
			tree_put16(xr + TREE_X_NAME_LEN, (uint16_t)x[k].name_len);
			tree_put32(xr + TREE_X_VALUE_OFF,
			           (uint32_t)add_string(w, x[k].value, x[k].value_len));
			tree_put32(xr + TREE_X_VALUE_LEN, (uint32_t)x[k].value_len);
		}
	}
	r = memset(new_records(w, 1), 0, TREE_REC_SIZE);
	tree_put32(r + TREE_R_STR_OFF, (uint32_t)str_off);
	tree_put16(r + TREE_R_PATH_LEN, (uint16_t)e->path_len);
	tree_put16(r + TREE_R_LINK_LEN, (uint16_t)e->link_len);
	tree_put16(r + TREE_R_LOCATOR_LEN, (uint16_t)e->locator_len);
	r[TREE_R_TYPE] = (uint8_t)e->type;
	r[TREE_R_FLAGS] = (uint8_t)e->flags;
	tree_put16(r + TREE_R_MODE, (uint16_t)e->mode);
	tree_put16(r + TREE_R_N_XATTRS, (uint16_t)n);
	tree_put32(r + TREE_R_XATTR_FIRST, xattr_first);
	tree_put32(r + TREE_R_UID, e->uid);
	tree_put32(r + TREE_R_GID, e->gid);
	tree_put32(r + TREE_R_MTIME_NSEC, e->mtime_nsec);
	tree_put64(r + TREE_R_MTIME_SEC, (uint64_t)e->mtime_sec);
	tree_put64(r + TREE_R_SIZE, e->size);
	tree_put64(r + TREE_R_RDEV, e->rdev);
	tree_put32(r + TREE_R_PARENT, parent);
	tree_put32(r + TREE_R_SUBTREE_END, idx + 1);
	tree_put32(r + TREE_R_LINK_TARGET, idx);
	tree_put16(r + TREE_R_NAME_LEN,
	           (uint16_t)(e->path_len - (parent == TREE_NONE || parent == 0
	                                         ? 0
	                                         : w->stack[w->depth - 1].path_len + 1)));
	if (e->flags & TREE_ENTRY_HAS_DIGEST)
		memcpy(r + TREE_R_DIGEST, e->digest.bytes, DIGEST_SIZE);
	w->n++;
	w->last_path_off = str_off;
	w->last_path_len = (uint32_t)e->path_len;
	if (e->type == TREE_DIR)
		push_dir(w, idx, str_off, e->path_len);
	else if (e->type == TREE_HARDLINK)
		note_link(w, idx);
	return 0;
}

int
tree_writer_add(struct tree_writer *w, const struct tree_entry *e, struct kl_error **err)
{
	return tree_writer_add_xattrs(w, e, /* xattrs= */ NULL, 0, err);
}

static int
xattr_cmp(const void *pa, const void *pb)
{
	const struct tree_xattr *a = pa, *b = pb;
	int c = memcmp(a->name, b->name, a->name_len < b->name_len ? a->name_len : b->name_len);

	return c ? c : (a->name_len > b->name_len) - (a->name_len < b->name_len);
}

int
tree_writer_add_xattrs(struct tree_writer *w, const struct tree_entry *e,
                       const struct tree_xattr *xattrs, size_t n_xattrs, struct kl_error **err)
{
	_cleanup_free_ struct tree_xattr *sorted = NULL;
	int r;

	r = tree_entry_check(e, xattrs, n_xattrs, err);
	if (r < 0)
		return r;
	if (n_xattrs == 0)
		return append(w, e, NULL, 0, err);
	sorted = xmemdup(xattrs, n_xattrs * sizeof(*xattrs));
	qsort(sorted, n_xattrs, sizeof(*sorted), xattr_cmp);
	for (size_t i = 1; i < n_xattrs; i++)
		if (xattr_cmp(&sorted[i - 1], &sorted[i]) == 0)
			return kl_error_setf(
			    err, EINVAL, "tree entry '%.*s': xattr '%.*s' given twice",
			    (int)e->path_len, e->path, (int)sorted[i].name_len, sorted[i].name);
	return append(w, e, sorted, n_xattrs, err);
}

int
tree_writer_add_view(struct tree_writer *w, const struct tree *t, const struct tree_entry *e,
                     struct kl_error **err)
{
	struct tree_xattr small[8];
	_cleanup_free_ struct tree_xattr *big = NULL;
	struct tree_xattr *x = small;

	if (e->n_xattrs > sizeof(small) / sizeof(small[0]))
		x = big = xmalloc(e->n_xattrs * sizeof(*x));
	for (uint32_t i = 0; i < e->n_xattrs; i++)
		tree_entry_xattr(t, e, i, &x[i]);
	return append(w, e, x, e->n_xattrs, err);
}

/* Whether [first, end) of t is a run of whole sibling subtrees below one directory. */
static bool
sibling_run(const struct tree *t, uint32_t first, uint32_t end)
{
	uint32_t parent, s = first;

	if (first == 0 || first >= end || end > t->n)
		return false;
	parent = tree_le32(tree_rec(t, first) + TREE_R_PARENT);
	if (end > tree_le32(tree_rec(t, parent) + TREE_R_SUBTREE_END))
		return false;
	while (s < end)
		s = tree_le32(tree_rec(t, s) + TREE_R_SUBTREE_END);
	return s == end;
}

/* Copies the xattr records [x_first, x_end) of t, their strings moved by delta. */
static void
copy_xattrs(struct tree_writer *w, const struct tree *t, uint32_t x_first, uint32_t x_end,
            int64_t delta)
{
	uint8_t *x = new_xattr_records(w, x_end - x_first);

	memcpy(x, t->xattrs + (size_t)x_first * TREE_XATTR_REC_SIZE,
	       (size_t)(x_end - x_first) * TREE_XATTR_REC_SIZE);
	for (uint32_t k = x_first; k < x_end; k++, x += TREE_XATTR_REC_SIZE) {
		tree_put32(x + TREE_X_NAME_OFF, (uint32_t)(tree_le32(x + TREE_X_NAME_OFF) + delta));
		tree_put32(x + TREE_X_VALUE_OFF,
		           (uint32_t)(tree_le32(x + TREE_X_VALUE_OFF) + delta));
	}
}

/* Patches the copied records r[0..count) of t's [first, first + count) to their new place. */
static void
patch_records(struct tree_writer *w, uint8_t *r, const struct tree *t, uint32_t first,
              uint32_t count, uint32_t parent, int64_t str_delta, int64_t x_delta,
              const struct tree_writer_copy_opts *o)
{
	uint32_t old_parent = tree_le32(tree_rec(t, first) + TREE_R_PARENT), base = w->n;
	uint8_t keep_flags =
	    (uint8_t) ~(o ? o->clear_flags & (TREE_ENTRY_IMPLICIT | TREE_ENTRY_OPAQUE) : 0);

	for (uint32_t i = 0; i < count; i++, r += TREE_REC_SIZE) {
		uint32_t p = tree_le32(r + TREE_R_PARENT);

		tree_put32(r + TREE_R_STR_OFF,
		           (uint32_t)(tree_le32(r + TREE_R_STR_OFF) + str_delta));
		tree_put32(r + TREE_R_XATTR_FIRST,
		           (uint32_t)(tree_le32(r + TREE_R_XATTR_FIRST) + x_delta));
		tree_put32(r + TREE_R_PARENT, p == old_parent ? parent : base + (p - first));
		tree_put32(r + TREE_R_SUBTREE_END,
		           base + (tree_le32(r + TREE_R_SUBTREE_END) - first));
		tree_put32(r + TREE_R_LINK_TARGET, base + i);
		r[TREE_R_FLAGS] &= keep_flags;
		if (r[TREE_R_TYPE] == TREE_HARDLINK)
			note_link(w, base + i);
		if (o && o->set_mtime) {
			tree_put32(r + TREE_R_MTIME_NSEC, o->mtime_nsec);
			tree_put64(r + TREE_R_MTIME_SEC, (uint64_t)o->mtime_sec);
		}
	}
}

int
tree_writer_copy_range(struct tree_writer *w, const struct tree *t, uint32_t first, uint32_t end,
                       const struct tree_writer_copy_opts *opts, struct kl_error **err)
{
	uint32_t count = end - first, parent, old_str, old_str_end, x_first, x_end;
	uint64_t new_str;
	size_t path_len;
	const char *path;
	int rc;

	if (!sibling_run(t, first, end))
		return kl_error_setf(err, EINVAL, "tree entries [%u, %u) are not whole subtrees",
		                     first, end);
	if ((uint64_t)w->n + count > TREE_MAX_ENTRIES)
		return kl_error_setf(err, EINVAL, "more than %u tree entries", TREE_MAX_ENTRIES);
	path = tree_path_at(t, first, &path_len);
	rc = place(w, path, path_len, &parent, err);
	if (rc < 0)
		return rc;
	/* The run's strings and xattr records are each one block: entries lay theirs out in
	 * order. */
	old_str = tree_le32(tree_rec(t, first) + TREE_R_STR_OFF);
	old_str_end = end < t->n ? tree_le32(tree_rec(t, end) + TREE_R_STR_OFF) : t->strings_len;
	x_first = tree_le32(tree_rec(t, first) + TREE_R_XATTR_FIRST);
	x_end = end < t->n ? tree_le32(tree_rec(t, end) + TREE_R_XATTR_FIRST) : t->n_xattrs;
	new_str = w->strings_len;
	w->strings = grow(w->strings, &w->strings_cap, w->strings_len + (old_str_end - old_str));
	memcpy(w->strings + new_str, t->strings + old_str, old_str_end - old_str);
	w->strings_len += old_str_end - old_str;
	patch_records(
	    w, memcpy(new_records(w, count), tree_rec(t, first), (size_t)count * TREE_REC_SIZE), t,
	    first, count, parent, (int64_t)new_str - old_str, (int64_t)w->n_xattrs - x_first, opts);
	if (x_end > x_first)
		copy_xattrs(w, t, x_first, x_end, (int64_t)new_str - old_str);
	w->n += count;
	w->last_path_off = new_str + (tree_le32(tree_rec(t, end - 1) + TREE_R_STR_OFF) - old_str);
	w->last_path_len = tree_le16(tree_rec(t, end - 1) + TREE_R_PATH_LEN);
	return 0;
}

int
tree_writer_copy(struct tree_writer *w, const struct tree *t, uint32_t idx, int64_t mtime_sec,
                 uint32_t mtime_nsec, struct kl_error **err)
{
	struct tree_writer_copy_opts o = {
	    .set_mtime = true, .mtime_sec = mtime_sec, .mtime_nsec = mtime_nsec};

	if (idx == 0)
		return -ENOTSUP;
	return tree_writer_copy_range(w, t, idx, tree_subtree_end(t, idx), &o, err);
}

/* The index of the entry at path, found by bisecting the records written, or TREE_NONE. */
static uint32_t
find_written(const struct tree_writer *w, const char *path, size_t len)
{
	uint32_t lo = 0, hi = w->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const uint8_t *r = w->recs + TREE_HEADER_SIZE + (size_t)mid * TREE_REC_SIZE;
		int c = tree_path_compare(w->strings + tree_le32(r + TREE_R_STR_OFF),
		                          tree_le16(r + TREE_R_PATH_LEN), path, len);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return TREE_NONE;
}

static int
resolve_links(struct tree_writer *w, struct kl_error **err)
{
	for (size_t k = 0; k < w->n_links; k++) {
		uint8_t *r = record(w, w->links[k]);
		uint32_t path_len = tree_le16(r + TREE_R_PATH_LEN);
		const char *path = w->strings + tree_le32(r + TREE_R_STR_OFF);
		const char *link = path + path_len + 1;
		uint32_t link_len = tree_le16(r + TREE_R_LINK_LEN);
		uint32_t target = find_written(w, link, link_len);

		if (target == TREE_NONE || record(w, target)[TREE_R_TYPE] != TREE_REG)
			return kl_error_setf(
			    err, EINVAL, "tree entry '%.*s': hardlink target '%.*s' is %s",
			    (int)path_len, path, (int)link_len, link,
			    target == TREE_NONE ? "missing" : "not a regular file");
		tree_put32(r + TREE_R_LINK_TARGET, target);
	}
	return 0;
}

/* Closes the open directories, resolves hardlinks and fills the header in front of the
 * records. */
static int
end_layout(struct tree_writer *w, struct kl_error **err)
{
	uint8_t *h = w->recs;
	int r;

	if (w->spent || w->n == 0)
		return kl_error_setf(err, EINVAL, "tree writer %s",
		                     w->spent ? "already finished" : "holds no root");
	w->spent = true;
	while (w->depth)
		close_top(w);
	if (w->strings_len > TREE_MAX_STRINGS)
		return kl_error_setf(err, EINVAL, "tree of %zu bytes of names is too large",
		                     w->strings_len);
	r = resolve_links(w, err);
	if (r < 0)
		return r;
	memset(h, 0, TREE_HEADER_SIZE);
	memcpy(h + TREE_H_MAGIC, TREE_MAGIC, 8);
	tree_put32(h + TREE_H_VERSION, TREE_FORMAT_VERSION);
	tree_put32(h + TREE_H_N_ENTRIES, w->n);
	tree_put32(h + TREE_H_N_XATTRS, w->n_xattrs);
	tree_put32(h + TREE_H_STRINGS_LEN, (uint32_t)w->strings_len);
	return 0;
}

int
tree_writer_finish(struct tree_writer *w, char **ret_buf, size_t *ret_len, struct kl_error **err)
{
	uint8_t *buf;
	int r;

	r = end_layout(w, err);
	if (r < 0)
		return r;
	buf = xrealloc(w->recs, w->recs_len + w->xrecs_len + w->strings_len);
	if (w->xrecs_len)
		memcpy(buf + w->recs_len, w->xrecs, w->xrecs_len);
	memcpy(buf + w->recs_len + w->xrecs_len, w->strings, w->strings_len);
	w->recs = NULL;
	*ret_buf = (char *)buf;
	*ret_len = w->recs_len + w->xrecs_len + w->strings_len;
	return 0;
}

int
tree_writer_write(struct tree_writer *w, struct store *s, struct digest *ret, struct kl_error **err)
{
	_cleanup_(store_writer_abortp) struct store_writer *sw = NULL;
	int r;

	r = end_layout(w, err);
	if (r >= 0)
		r = store_writer_begin(s, &sw, err);
	/* header and records, xattrs, then the strings: the parts are never joined in memory */
	if (r >= 0)
		r = store_writer_write(sw, w->recs, w->recs_len, err);
	if (r >= 0 && w->xrecs_len)
		r = store_writer_write(sw, w->xrecs, w->xrecs_len, err);
	if (r >= 0)
		r = store_writer_write(sw, w->strings, w->strings_len, err);
	if (r < 0)
		return r;
	return store_writer_commit(TAKE_PTR(sw), /* expected= */ NULL, ret, err);
}

static void
release_buf(void *buf, size_t len)
{
	(void)len;
	free(buf);
}

int
tree_writer_finish_tree(struct tree_writer *w, struct tree **ret, struct kl_error **err)
{
	char *buf;
	size_t len;
	int r;

	r = tree_writer_finish(w, &buf, &len, err);
	if (r < 0)
		return r;
	r = tree_parse(buf, len, release_buf, ret, err);
	if (r < 0)
		free(buf);
	return r;
}
