// SPDX-License-Identifier: Apache-2.0
/* Collecting entries in any order and writing them as one canonical serialized tree. */
#include "fs/tree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/store.h"
#include "fs/tree-internal.h"
#include "util/error.h"
#include "util/path.h"
#include "util/xalloc.h"

/* Strings live in one arena addressed by offset, so growing it never invalidates an entry
 * and adding an entry costs no allocation of its own. */
struct bxattr {
	uint64_t name, value;
	uint32_t name_len, value_len;
};

struct bentry {
	uint64_t path, link, locator;
	uint32_t path_len, link_len, locator_len;
	uint32_t xattr_first, n_xattrs;
	uint32_t hash;
	uint8_t type, flags;
	uint16_t mode;
	uint32_t uid, gid, mtime_nsec;
	int64_t mtime_sec;
	uint64_t size, rdev;
	struct digest digest;
};

/* The hash rides along so that probing past other paths touches no entry. */
struct bucket {
	uint32_t idx1; /* entry index + 1, 0 for empty */
	uint32_t hash;
};

struct tree_builder {
	struct bentry *entries;
	size_t n, cap;
	struct bxattr *xattrs;
	size_t n_xattrs, xattrs_cap;
	char *arena;
	size_t arena_len, arena_cap;
	struct bucket *table; /* open addressing over paths */
	size_t table_cap;
};

/* One serialized entry: a builder entry or a directory created for it (src == TREE_NONE). */
struct slot {
	uint32_t src;
	uint32_t parent, end, target;
	uint64_t path;
	uint32_t path_len, name_len;
};

struct tree_builder *
tree_builder_new(void)
{
	struct tree_builder *b = xcalloc(1, sizeof(*b));

	b->table_cap = 64;
	b->table = xcalloc(b->table_cap, sizeof(*b->table));
	return b;
}

struct tree_builder *
tree_builder_free(struct tree_builder *b)
{
	if (b) {
		free(b->entries);
		free(b->xattrs);
		free(b->arena);
		free(b->table);
		free(b);
	}
	return NULL;
}

static inline const char *
astr(const struct tree_builder *b, uint64_t off)
{
	return b->arena + off;
}

/* The index of the entry at path, or TREE_NONE. */
static uint32_t
find(const struct tree_builder *b, const char *path, size_t len, uint32_t hash)
{
	size_t mask = b->table_cap - 1;

	for (size_t i = hash & mask; b->table[i].idx1; i = (i + 1) & mask) {
		const struct bentry *e;

		if (b->table[i].hash != hash)
			continue;
		e = &b->entries[b->table[i].idx1 - 1];
		if (e->path_len == len && !memcmp(astr(b, e->path), path, len))
			return b->table[i].idx1 - 1;
	}
	return TREE_NONE;
}

static void
table_insert(struct tree_builder *b, uint32_t idx)
{
	size_t mask = b->table_cap - 1, i = b->entries[idx].hash & mask;

	while (b->table[i].idx1)
		i = (i + 1) & mask;
	b->table[i] = (struct bucket){idx + 1, b->entries[idx].hash};
}

static void
table_grow(struct tree_builder *b)
{
	free(b->table);
	b->table_cap *= 2;
	b->table = xcalloc(b->table_cap, sizeof(*b->table));
	for (size_t i = 0; i < b->n; i++)
		table_insert(b, (uint32_t)i);
}

/* Copies n bytes and a NUL into the arena; returns their offset. */
static uint64_t
arena_add(struct tree_builder *b, const void *s, size_t n)
{
	uint64_t off = b->arena_len;

	b->arena = xgrow(b->arena, &b->arena_cap, b->arena_len + n + 1, 1);
	if (n)
		memcpy(b->arena + off, s, n);
	b->arena[off + n] = '\0';
	b->arena_len += n + 1;
	return off;
}

/* Checking an entry before it is added. */

#define BAD_ENTRY(err, e, fmt, ...)                                                                \
	kl_error_setf(err, EINVAL, "tree entry '%.*s': " fmt, shown_len((e)->path_len), (e)->path, \
	              ##__VA_ARGS__)

/* Bounds what a message quotes of a path that may be absurdly long. */
static inline int
shown_len(size_t len)
{
	return len > TREE_MAX_PATH ? (int)TREE_MAX_PATH : (int)len;
}

static int
check_path(const struct tree_entry *e, struct kl_error **err)
{
	size_t start = 0;

	if (e->path_len == 0)
		return e->type == TREE_DIR ? 0 : BAD_ENTRY(err, e, "the root must be a directory");
	if (e->path_len > TREE_MAX_PATH)
		return BAD_ENTRY(err, e, "path longer than %u bytes", TREE_MAX_PATH);
	if (!kl_path_is_clean_relative(e->path, e->path_len))
		return BAD_ENTRY(err, e, "not a clean relative path");
	for (size_t i = 0; i <= e->path_len; i++) {
		if (i < e->path_len && e->path[i] != '/')
			continue;
		if (i - start > TREE_MAX_NAME)
			return BAD_ENTRY(err, e, "a name longer than %u bytes", TREE_MAX_NAME);
		start = i + 1;
	}
	return 0;
}

static int
check_link(const struct tree_entry *e, struct kl_error **err)
{
	bool is_link = e->type == TREE_SYMLINK || e->type == TREE_HARDLINK;

	if (!is_link)
		return e->link_len ? BAD_ENTRY(err, e, "a link on a non-link") : 0;
	if (!e->link || e->link_len == 0)
		return BAD_ENTRY(err, e, "a link without a target");
	if (e->link_len > TREE_MAX_LINK)
		return BAD_ENTRY(err, e, "link longer than %u bytes", TREE_MAX_LINK);
	if (memchr(e->link, '\0', e->link_len))
		return BAD_ENTRY(err, e, "link holds a NUL byte");
	if (e->type == TREE_HARDLINK && !kl_path_is_clean_relative(e->link, e->link_len))
		return BAD_ENTRY(err, e, "hardlink target '%.*s' is not a clean relative path",
		                 (int)e->link_len, e->link);
	return 0;
}

static int
check_fields(const struct tree_entry *e, struct kl_error **err)
{
	if ((unsigned)e->type >= _TREE_TYPE_MAX)
		return BAD_ENTRY(err, e, "unknown type %u", (unsigned)e->type);
	if (e->flags & ~TREE_KNOWN_FLAGS)
		return BAD_ENTRY(err, e, "unknown flags 0x%x", e->flags);
	if ((e->flags & TREE_ENTRY_OPAQUE) && e->type != TREE_DIR)
		return BAD_ENTRY(err, e, "opaque flag on a non-directory");
	if ((e->flags & TREE_ENTRY_IMPLICIT) && e->type != TREE_DIR)
		return BAD_ENTRY(err, e, "implicit flag on a non-directory");
	if ((e->flags & TREE_ENTRY_HAS_DIGEST) && e->type != TREE_REG)
		return BAD_ENTRY(err, e, "digest on a non-regular file");
	if (e->locator_len && e->type != TREE_REG)
		return BAD_ENTRY(err, e, "locator on a non-regular file");
	if (e->locator_len > TREE_MAX_LOCATOR || (e->locator_len && !e->locator))
		return BAD_ENTRY(err, e, "bad locator length %zu", e->locator_len);
	if (e->locator_len && memchr(e->locator, '\0', e->locator_len))
		return BAD_ENTRY(err, e, "locator holds a NUL byte");
	if (e->mode & ~TREE_MODE_MASK)
		return BAD_ENTRY(err, e, "mode 0%o has bits outside 07777", e->mode);
	if (e->mtime_nsec >= 1000000000u)
		return BAD_ENTRY(err, e, "mtime nanoseconds %u out of range", e->mtime_nsec);
	return 0;
}

static int
check_xattrs(const struct tree_entry *e, const struct tree_xattr *x, size_t n,
             struct kl_error **err)
{
	if (n > TREE_MAX_XATTRS)
		return BAD_ENTRY(err, e, "more than %u xattrs", TREE_MAX_XATTRS);
	for (size_t i = 0; i < n; i++) {
		if (x[i].name_len == 0 || x[i].name_len > TREE_MAX_XATTR_NAME ||
		    memchr(x[i].name, '\0', x[i].name_len))
			return BAD_ENTRY(err, e, "bad xattr name");
		if (x[i].value_len > TREE_MAX_XATTR_VALUE)
			return BAD_ENTRY(err, e, "xattr '%.*s' value longer than %u bytes",
			                 (int)x[i].name_len, x[i].name, TREE_MAX_XATTR_VALUE);
		if (x[i].value_len && !x[i].value)
			return BAD_ENTRY(err, e, "xattr '%.*s' without a value", (int)x[i].name_len,
			                 x[i].name);
	}
	return 0;
}

int
tree_entry_check(const struct tree_entry *e, const struct tree_xattr *xattrs, size_t n_xattrs,
                 struct kl_error **err)
{
	int r;

	r = check_path(e, err);
	if (r >= 0)
		r = check_fields(e, err);
	if (r >= 0)
		r = check_link(e, err);
	if (r >= 0)
		r = check_xattrs(e, xattrs, n_xattrs, err);
	return r;
}

static int
xattr_cmp(const void *pa, const void *pb, void *userdata)
{
	const struct tree_builder *b = userdata;
	const struct bxattr *xa = pa, *xb = pb;
	size_t n = xa->name_len < xb->name_len ? xa->name_len : xb->name_len;
	int c = memcmp(astr(b, xa->name), astr(b, xb->name), n);

	if (c)
		return c;
	return xa->name_len < xb->name_len ? -1 : xa->name_len > xb->name_len;
}

/* Appends, sorts and checks for duplicates the xattrs of entry be; on failure the caller
 * rolls the arena and the xattr array back. */
static int
add_xattrs(struct tree_builder *b, struct bentry *be, const struct tree_entry *e,
           const struct tree_xattr *x, size_t n, struct kl_error **err)
{
	struct bxattr *bx;

	be->xattr_first = (uint32_t)b->n_xattrs;
	be->n_xattrs = (uint32_t)n;
	if (n == 0)
		return 0;
	b->xattrs = xgrow(b->xattrs, &b->xattrs_cap, b->n_xattrs + n, sizeof(*b->xattrs));
	bx = b->xattrs + b->n_xattrs;
	for (size_t i = 0; i < n; i++) {
		bx[i].name = arena_add(b, x[i].name, x[i].name_len);
		bx[i].value = arena_add(b, x[i].value, x[i].value_len);
		bx[i].name_len = (uint32_t)x[i].name_len;
		bx[i].value_len = (uint32_t)x[i].value_len;
	}
	b->n_xattrs += n;
	qsort_r(bx, n, sizeof(*bx), xattr_cmp, b);
	for (size_t i = 1; i < n; i++)
		if (xattr_cmp(&bx[i - 1], &bx[i], b) == 0)
			return BAD_ENTRY(err, e, "xattr '%.*s' given twice", (int)x[i].name_len,
			                 astr(b, bx[i].name));
	return 0;
}

/* Copies a checked entry in, unless its path is taken. */
static int
append(struct tree_builder *b, const struct tree_entry *e, const struct tree_xattr *xattrs,
       size_t n_xattrs, struct kl_error **err)
{
	size_t arena_len = b->arena_len, x_len = b->n_xattrs;
	uint32_t hash;
	struct bentry *be;
	int r;

	if (b->n >= TREE_MAX_ENTRIES)
		return BAD_ENTRY(err, e, "more than %u entries", TREE_MAX_ENTRIES);
	hash = (uint32_t)tree_hash_bytes(e->path, e->path_len);
	if (find(b, e->path, e->path_len, hash) != TREE_NONE)
		return kl_error_setf(err, EEXIST, "tree entry '%.*s' added twice", (int)e->path_len,
		                     e->path);

	b->entries = xgrow(b->entries, &b->cap, b->n + 1, sizeof(*b->entries));
	be = &b->entries[b->n];
	*be = (struct bentry){
	    .path_len = (uint32_t)e->path_len,
	    .hash = hash,
	    .type = (uint8_t)e->type,
	    .flags = (uint8_t)e->flags,
	    .mode = (uint16_t)e->mode,
	    .uid = e->uid,
	    .gid = e->gid,
	    .mtime_nsec = e->mtime_nsec,
	    .mtime_sec = e->mtime_sec,
	    .size = e->size,
	    .rdev = e->rdev,
	};
	be->path = arena_add(b, e->path, e->path_len);
	if (e->link_len) {
		be->link = arena_add(b, e->link, e->link_len);
		be->link_len = (uint32_t)e->link_len;
	}
	if (e->locator_len) {
		be->locator = arena_add(b, e->locator, e->locator_len);
		be->locator_len = (uint32_t)e->locator_len;
	}
	if (e->flags & TREE_ENTRY_HAS_DIGEST)
		be->digest = e->digest;
	r = add_xattrs(b, be, e, xattrs, n_xattrs, err);
	if (r < 0) {
		b->arena_len = arena_len;
		b->n_xattrs = x_len;
		return r;
	}
	b->n++;
	if (b->n * 2 > b->table_cap)
		table_grow(b);
	else
		table_insert(b, (uint32_t)(b->n - 1));
	return 0;
}

int
tree_builder_add(struct tree_builder *b, const struct tree_entry *e,
                 const struct tree_xattr *xattrs, size_t n_xattrs, struct kl_error **err)
{
	int r = tree_entry_check(e, xattrs, n_xattrs, err);

	if (r < 0)
		return r;
	return append(b, e, xattrs, n_xattrs, err);
}

int
tree_builder_add_view(struct tree_builder *b, const struct tree *t, const struct tree_entry *e,
                      struct kl_error **err)
{
	struct tree_xattr small[8];
	_cleanup_free_ struct tree_xattr *big = NULL;
	struct tree_xattr *x = small;

	if (e->n_xattrs > sizeof(small) / sizeof(small[0]))
		x = big = xmalloc(e->n_xattrs * sizeof(*x));
	for (uint32_t i = 0; i < e->n_xattrs; i++)
		tree_entry_xattr(t, e, i, &x[i]);
	/* Parsing proved the entry valid; callers only rewrite it into other valid forms. */
	return append(b, e, x, e->n_xattrs, err);
}

int
tree_builder_add_from(struct tree_builder *b, const struct tree *t, uint32_t idx,
                      struct kl_error **err)
{
	struct tree_entry e;

	tree_entry_at(t, idx, &e);
	return tree_builder_add_view(b, t, &e, err);
}

/* Ordering. */

/* Sort keys carry the path itself, so a comparison touches two strings and no entry. */
struct skey {
	const char *path;
	uint32_t len;
	uint32_t idx;
};

static int
skey_cmp(const void *pa, const void *pb)
{
	const struct skey *a = pa, *b = pb;

	return tree_path_compare(a->path, a->len, b->path, b->len);
}

/* The entries' indices in path order; callers that add in order (diff, apply) skip the sort. */
static uint32_t *
sorted_order(const struct tree_builder *b)
{
	uint32_t *order = xmalloc((b->n ? b->n : 1) * sizeof(*order));
	_cleanup_free_ struct skey *keys = NULL;
	bool sorted = true;

	for (size_t i = 0; i < b->n; i++) {
		order[i] = (uint32_t)i;
		if (i > 0 && sorted) {
			const struct bentry *x = &b->entries[i - 1], *y = &b->entries[i];
			sorted = tree_path_compare(astr(b, x->path), x->path_len, astr(b, y->path),
			                           y->path_len) < 0;
		}
	}
	if (sorted)
		return order;
	keys = xmalloc(b->n * sizeof(*keys));
	for (size_t i = 0; i < b->n; i++)
		keys[i] =
		    (struct skey){astr(b, b->entries[i].path), b->entries[i].path_len, (uint32_t)i};
	qsort(keys, b->n, sizeof(*keys), skey_cmp);
	for (size_t i = 0; i < b->n; i++)
		order[i] = keys[i].idx;
	return order;
}

/* Laying out: the slots in order, with the directories nobody added (written implicit). */

struct layout {
	struct slot *slots;
	size_t n, cap;
	uint32_t *stack; /* open directories, as slot indices */
	size_t depth, stack_cap;
	uint32_t *pos; /* builder entry → slot */
};

static int
layout_push(struct layout *l, uint32_t src, uint64_t path, uint32_t path_len, bool is_dir)
{
	uint32_t parent = l->depth ? l->stack[l->depth - 1] : TREE_NONE;
	uint32_t idx = (uint32_t)l->n;
	uint32_t name_off =
	    parent == TREE_NONE || parent == TREE_ROOT ? 0 : l->slots[parent].path_len + 1;

	if (l->n >= TREE_MAX_ENTRIES)
		return -E2BIG;
	l->slots = xgrow(l->slots, &l->cap, l->n + 1, sizeof(*l->slots));
	l->slots[idx] = (struct slot){
	    .src = src,
	    .parent = parent,
	    .end = idx + 1,
	    .target = idx,
	    .path = path,
	    .path_len = path_len,
	    .name_len = path_len - name_off,
	};
	l->n++;
	if (is_dir) {
		l->stack = xgrow(l->stack, &l->stack_cap, l->depth + 1, sizeof(*l->stack));
		l->stack[l->depth++] = idx;
	}
	return 0;
}

static void
layout_pop(struct layout *l)
{
	l->slots[l->stack[--l->depth]].end = (uint32_t)l->n;
}

static bool
layout_top_contains(const struct layout *l, const char *arena, const struct bentry *e)
{
	const struct slot *top = &l->slots[l->stack[l->depth - 1]];

	if (l->stack[l->depth - 1] == TREE_ROOT)
		return true;
	return e->path_len > top->path_len && arena[e->path + top->path_len] == '/' &&
	       !memcmp(arena + e->path, arena + top->path, top->path_len);
}

/* Opens the directories between the innermost open one and e's parent, creating those that
 * were not added; one that was added but is not a directory is an error. */
static int
layout_parents(struct layout *l, const struct tree_builder *b, const struct bentry *e,
               struct kl_error **err)
{
	const char *path = astr(b, e->path);
	uint32_t top = l->stack[l->depth - 1];
	size_t off = top == TREE_ROOT ? 0 : l->slots[top].path_len + 1;
	const char *slash;
	int r;

	while ((slash = memchr(path + off, '/', e->path_len - off))) {
		uint32_t len = (uint32_t)(slash - path);
		uint32_t found = find(b, path, len, (uint32_t)tree_hash_bytes(path, len));

		if (found != TREE_NONE)
			return kl_error_setf(
			    err, EINVAL, "tree entry '%.*s': its parent '%.*s' is not a directory",
			    (int)e->path_len, path, (int)len, path);
		r = layout_push(l, TREE_NONE, e->path, len, true);
		if (r < 0)
			return r;
		off = len + 1u;
	}
	return 0;
}

static int
layout_entries(struct layout *l, struct tree_builder *b, const uint32_t *order,
               struct kl_error **err)
{
	size_t first = 0;
	int r;

	/* The root sorts first; it is created when nobody added it. */
	if (b->n && b->entries[order[0]].path_len == 0) {
		l->pos[order[0]] = 0;
		r = layout_push(l, order[0], b->entries[order[0]].path, 0, true);
		first = 1;
	} else {
		r = layout_push(l, TREE_NONE, arena_add(b, "", 0), 0, true);
	}
	for (size_t i = first; r >= 0 && i < b->n; i++) {
		const struct bentry *e = &b->entries[order[i]];

		while (!layout_top_contains(l, b->arena, e))
			layout_pop(l);
		r = layout_parents(l, b, e, err);
		if (r >= 0) {
			l->pos[order[i]] = (uint32_t)l->n;
			r = layout_push(l, order[i], e->path, e->path_len, e->type == TREE_DIR);
		}
	}
	while (l->depth)
		layout_pop(l);
	if (r == -E2BIG)
		return kl_error_setf(err, EINVAL, "tree of more than %u entries", TREE_MAX_ENTRIES);
	return r;
}

static int
layout_hardlinks(struct layout *l, const struct tree_builder *b, struct kl_error **err)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct bentry *e, *te;
		uint32_t target;

		if (l->slots[i].src == TREE_NONE)
			continue;
		e = &b->entries[l->slots[i].src];
		if (e->type != TREE_HARDLINK)
			continue;
		target = find(b, astr(b, e->link), e->link_len,
		              (uint32_t)tree_hash_bytes(astr(b, e->link), e->link_len));
		te = target == TREE_NONE ? NULL : &b->entries[target];
		if (!te || te->type != TREE_REG)
			return kl_error_setf(
			    err, EINVAL, "tree entry '%.*s': hardlink target '%.*s' is %s",
			    (int)e->path_len, astr(b, e->path), (int)e->link_len, astr(b, e->link),
			    te ? "not a regular file" : "missing");
		l->slots[i].target = l->pos[target];
	}
	return 0;
}

/* Writing the bytes. */

static uint64_t
strings_size(const struct tree_builder *b, const struct bentry *e, const struct slot *s)
{
	uint64_t n = s->path_len + 1u;

	if (!e)
		return n;
	if (e->link_len)
		n += e->link_len + 1u;
	if (e->locator_len)
		n += e->locator_len + 1u;
	for (uint32_t k = 0; k < e->n_xattrs; k++)
		n += b->xattrs[e->xattr_first + k].name_len + 1u +
		     b->xattrs[e->xattr_first + k].value_len + 1u;
	return n;
}

static uint64_t
put_string(uint8_t *strings, uint64_t off, const char *s, size_t n)
{
	memcpy(strings + off, s, n);
	return off + n + 1; /* the NUL is already there: the buffer starts zeroed */
}

static void
write_record(uint8_t *r, const struct slot *s, const struct bentry *e, uint64_t str_off,
             uint32_t xattr_first)
{
	tree_put32(r + TREE_R_STR_OFF, (uint32_t)str_off);
	tree_put16(r + TREE_R_PATH_LEN, (uint16_t)s->path_len);
	tree_put32(r + TREE_R_XATTR_FIRST, xattr_first);
	tree_put32(r + TREE_R_PARENT, s->parent);
	tree_put32(r + TREE_R_SUBTREE_END, s->end);
	tree_put32(r + TREE_R_LINK_TARGET, s->target);
	tree_put16(r + TREE_R_NAME_LEN, (uint16_t)s->name_len);
	if (!e) {
		r[TREE_R_TYPE] = TREE_DIR;
		r[TREE_R_FLAGS] = TREE_ENTRY_IMPLICIT;
		tree_put16(r + TREE_R_MODE, 0755);
		return;
	}
	tree_put16(r + TREE_R_LINK_LEN, (uint16_t)e->link_len);
	tree_put16(r + TREE_R_LOCATOR_LEN, (uint16_t)e->locator_len);
	r[TREE_R_TYPE] = e->type;
	r[TREE_R_FLAGS] = e->flags;
	tree_put16(r + TREE_R_MODE, e->mode);
	tree_put16(r + TREE_R_N_XATTRS, (uint16_t)e->n_xattrs);
	tree_put32(r + TREE_R_UID, e->uid);
	tree_put32(r + TREE_R_GID, e->gid);
	tree_put32(r + TREE_R_MTIME_NSEC, e->mtime_nsec);
	tree_put64(r + TREE_R_MTIME_SEC, (uint64_t)e->mtime_sec);
	tree_put64(r + TREE_R_SIZE, e->size);
	tree_put64(r + TREE_R_RDEV, e->rdev);
	memcpy(r + TREE_R_DIGEST, e->digest.bytes, DIGEST_SIZE);
}

/* Writes slot i's record, strings and xattr records; advances the cursors. */
static void
write_entry(uint8_t *buf, const struct tree_builder *b, const struct layout *l, uint32_t i,
            uint64_t *soff, uint32_t *xoff)
{
	const struct slot *s = &l->slots[i];
	const struct bentry *e = s->src == TREE_NONE ? NULL : &b->entries[s->src];
	uint8_t *xrecs = buf + TREE_HEADER_SIZE + l->n * TREE_REC_SIZE;
	uint8_t *strings = xrecs + b->n_xattrs * TREE_XATTR_REC_SIZE;
	uint8_t *x;

	write_record(buf + TREE_HEADER_SIZE + (size_t)i * TREE_REC_SIZE, s, e, *soff, *xoff);
	*soff = put_string(strings, *soff, astr(b, s->path), s->path_len);
	if (!e)
		return;
	if (e->link_len)
		*soff = put_string(strings, *soff, astr(b, e->link), e->link_len);
	if (e->locator_len)
		*soff = put_string(strings, *soff, astr(b, e->locator), e->locator_len);
	for (uint32_t k = 0; k < e->n_xattrs; k++) {
		const struct bxattr *bx = &b->xattrs[e->xattr_first + k];

		x = xrecs + (size_t)(*xoff)++ * TREE_XATTR_REC_SIZE;
		tree_put32(x + TREE_X_NAME_OFF, (uint32_t)*soff);
		tree_put16(x + TREE_X_NAME_LEN, (uint16_t)bx->name_len);
		*soff = put_string(strings, *soff, astr(b, bx->name), bx->name_len);
		tree_put32(x + TREE_X_VALUE_OFF, (uint32_t)*soff);
		tree_put32(x + TREE_X_VALUE_LEN, bx->value_len);
		*soff = put_string(strings, *soff, astr(b, bx->value), bx->value_len);
	}
}

static int
write_tree(const struct tree_builder *b, const struct layout *l, char **ret_buf, size_t *ret_len,
           struct kl_error **err)
{
	uint64_t strings = 0, soff = 0, total;
	uint32_t xoff = 0;
	uint8_t *buf;

	for (size_t i = 0; i < l->n; i++) {
		const struct slot *s = &l->slots[i];
		strings += strings_size(b, s->src == TREE_NONE ? NULL : &b->entries[s->src], s);
	}
	if (strings > TREE_MAX_STRINGS || b->n_xattrs > UINT32_MAX)
		return kl_error_setf(err, EINVAL, "tree of %llu bytes of names is too large",
		                     (unsigned long long)strings);
	total =
	    TREE_HEADER_SIZE + l->n * TREE_REC_SIZE + b->n_xattrs * TREE_XATTR_REC_SIZE + strings;
	/* Zeroed: padding, reserved fields and NUL terminators are all zero bytes. */
	buf = calloc(1, total);
	if (!buf)
		return kl_error_set(err, ENOMEM, "serializing a tree of %zu entries", l->n);
	memcpy(buf + TREE_H_MAGIC, TREE_MAGIC, 8);
	tree_put32(buf + TREE_H_VERSION, TREE_FORMAT_VERSION);
	tree_put32(buf + TREE_H_N_ENTRIES, (uint32_t)l->n);
	tree_put32(buf + TREE_H_N_XATTRS, (uint32_t)b->n_xattrs);
	tree_put32(buf + TREE_H_STRINGS_LEN, (uint32_t)strings);
	for (uint32_t i = 0; i < l->n; i++)
		write_entry(buf, b, l, i, &soff, &xoff);
	*ret_buf = (char *)buf;
	*ret_len = total;
	return 0;
}

int
tree_builder_serialize(struct tree_builder *b, char **ret_buf, size_t *ret_len,
                       struct kl_error **err)
{
	_cleanup_free_ uint32_t *order = sorted_order(b);
	struct layout l = {.pos = xmalloc((b->n ? b->n : 1) * sizeof(*l.pos))};
	size_t arena_len = b->arena_len;
	int r;

	r = layout_entries(&l, b, order, err);
	if (r >= 0)
		r = layout_hardlinks(&l, b, err);
	if (r >= 0)
		r = write_tree(b, &l, ret_buf, ret_len, err);
	b->arena_len = arena_len; /* drops the auto-created root's path */
	free(l.slots);
	free(l.stack);
	free(l.pos);
	return r;
}

/* Serializes and ingests b; with trust, records the tree's trust set too. */
static int
write_to_store(struct tree_builder *b, struct store *s, bool trust, struct digest *ret,
               struct kl_error **err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	r = tree_builder_serialize(b, &buf, &len, err);
	if (r >= 0)
		r = store_ingest_buffer(s, buf, len, ret, err);
	if (r >= 0 && trust)
		(void)tree_trust_save_serialized(s, buf, len);
	return r;
}

int
tree_builder_write(struct tree_builder *b, struct store *s, struct digest *ret,
                   struct kl_error **err)
{
	return write_to_store(b, s, /* trust= */ false, ret, err);
}

int
tree_builder_write_trusted(struct tree_builder *b, struct store *s, struct digest *ret,
                           struct kl_error **err)
{
	return write_to_store(b, s, /* trust= */ true, ret, err);
}
