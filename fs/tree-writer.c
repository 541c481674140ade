// SPDX-License-Identifier: Apache-2.0
/* Streaming serialization: records and strings are appended as entries arrive; a directory's
 * subtree_end is filled in when a later path leaves it. */
#include "fs/tree-writer.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>

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
	char *strings;
	size_t strings_len, strings_cap;
	uint32_t n;
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
	free(w->strings);
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
record(struct tree_writer *w, uint32_t idx)
{
	return w->recs + TREE_HEADER_SIZE + (size_t)idx * TREE_REC_SIZE;
}

/* Appends n bytes and a NUL to the string table: their offset. */
static uint64_t
add_string(struct tree_writer *w, const char *s, size_t n)
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

int
tree_writer_add(struct tree_writer *w, const struct tree_entry *e, struct kl_error **err)
{
	uint32_t parent, idx = w->n;
	uint64_t str_off;
	uint8_t *r;
	int rc;

	rc = tree_entry_check(e, NULL, 0, err);
	if (rc < 0)
		return rc;
	if (e->type == TREE_HARDLINK)
		return kl_error_setf(err, EINVAL, "tree entry '%.*s': a hardlink needs the builder",
		                     (int)e->path_len, e->path);
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
	r = memset(new_records(w, 1), 0, TREE_REC_SIZE);
	tree_put32(r + TREE_R_STR_OFF, (uint32_t)str_off);
	tree_put16(r + TREE_R_PATH_LEN, (uint16_t)e->path_len);
	tree_put16(r + TREE_R_LINK_LEN, (uint16_t)e->link_len);
	tree_put16(r + TREE_R_LOCATOR_LEN, (uint16_t)e->locator_len);
	r[TREE_R_TYPE] = (uint8_t)e->type;
	r[TREE_R_FLAGS] = (uint8_t)e->flags;
	tree_put16(r + TREE_R_MODE, (uint16_t)e->mode);
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
	return 0;
}

/* Whether entries [idx, end) of t can be copied as records: no xattrs, no hardlinks. */
static bool
copyable(const struct tree *t, uint32_t idx, uint32_t end)
{
	for (uint32_t i = idx; i < end; i++) {
		const uint8_t *r = tree_rec(t, i);

		if (tree_le16(r + TREE_R_N_XATTRS) || r[TREE_R_TYPE] == TREE_HARDLINK)
			return false;
	}
	return true;
}

int
tree_writer_copy(struct tree_writer *w, const struct tree *t, uint32_t idx, int64_t mtime_sec,
                 uint32_t mtime_nsec, struct kl_error **err)
{
	uint32_t end = tree_subtree_end(t, idx), count = end - idx, base = w->n, parent;
	uint32_t old_str = tree_le32(tree_rec(t, idx) + TREE_R_STR_OFF);
	uint32_t old_str_end =
	    end < t->n ? tree_le32(tree_rec(t, end) + TREE_R_STR_OFF) : t->strings_len;
	uint64_t new_str;
	size_t path_len;
	const char *path = tree_path_at(t, idx, &path_len);
	uint8_t *r;
	int rc;

	if (idx == 0 || !copyable(t, idx, end))
		return -ENOTSUP;
	if ((uint64_t)w->n + count > TREE_MAX_ENTRIES)
		return kl_error_setf(err, EINVAL, "more than %u tree entries", TREE_MAX_ENTRIES);
	rc = place(w, path, path_len, &parent, err);
	if (rc < 0)
		return rc;
	/* The subtree's strings are one run: entries lay theirs out in order. */
	new_str = w->strings_len;
	w->strings = grow(w->strings, &w->strings_cap, w->strings_len + (old_str_end - old_str));
	memcpy(w->strings + new_str, t->strings + old_str, old_str_end - old_str);
	w->strings_len += old_str_end - old_str;
	r = new_records(w, count);
	memcpy(r, tree_rec(t, idx), (size_t)count * TREE_REC_SIZE);
	for (uint32_t i = 0; i < count; i++, r += TREE_REC_SIZE) {
		uint32_t old_parent = tree_le32(r + TREE_R_PARENT);

		tree_put32(r + TREE_R_STR_OFF,
		           (uint32_t)(new_str + tree_le32(r + TREE_R_STR_OFF) - old_str));
		tree_put32(r + TREE_R_XATTR_FIRST, 0);
		tree_put32(r + TREE_R_PARENT, i == 0 ? parent : base + (old_parent - idx));
		tree_put32(r + TREE_R_SUBTREE_END,
		           base + (tree_le32(r + TREE_R_SUBTREE_END) - idx));
		tree_put32(r + TREE_R_LINK_TARGET, base + i);
		tree_put32(r + TREE_R_MTIME_NSEC, mtime_nsec);
		tree_put64(r + TREE_R_MTIME_SEC, (uint64_t)mtime_sec);
	}
	w->n += count;
	w->last_path_off = new_str + (tree_le32(tree_rec(t, end - 1) + TREE_R_STR_OFF) - old_str);
	w->last_path_len = tree_le16(tree_rec(t, end - 1) + TREE_R_PATH_LEN);
	return 0;
}

/* Closes the open directories and fills the header in front of the records. */
static int
end_layout(struct tree_writer *w, struct kl_error **err)
{
	uint8_t *h = w->recs;

	if (w->spent || w->n == 0)
		return kl_error_setf(err, EINVAL, "tree writer %s",
		                     w->spent ? "already finished" : "holds no root");
	w->spent = true;
	while (w->depth)
		close_top(w);
	if (w->strings_len > TREE_MAX_STRINGS)
		return kl_error_setf(err, EINVAL, "tree of %zu bytes of names is too large",
		                     w->strings_len);
	memset(h, 0, TREE_HEADER_SIZE);
	memcpy(h + TREE_H_MAGIC, TREE_MAGIC, 8);
	tree_put32(h + TREE_H_VERSION, TREE_FORMAT_VERSION);
	tree_put32(h + TREE_H_N_ENTRIES, w->n);
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
	buf = xrealloc(w->recs, w->recs_len + w->strings_len);
	memcpy(buf + w->recs_len, w->strings, w->strings_len);
	w->recs = NULL;
	*ret_buf = (char *)buf;
	*ret_len = w->recs_len + w->strings_len;
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
	/* header and records, then the strings: the two parts are never joined in memory */
	if (r >= 0)
		r = store_writer_write(sw, w->recs, w->recs_len, err);
	if (r >= 0)
		r = store_writer_write(sw, w->strings, w->strings_len, err);
	if (r < 0)
		return r;
	return store_writer_commit(TAKE_PTR(sw), /* expected= */ NULL, ret, err);
}
