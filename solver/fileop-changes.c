// SPDX-License-Identifier: Apache-2.0
/* The changes one file action makes, kept by path over its base tree, then written as a diff
 * tree and merged into base with tree_apply. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/tree-writer.h"
#include "solver/fileop-internal.h"
#include "util/error.h"
#include "util/xalloc.h"

/* An entry; its strings and xattrs live in the arena, named by offset. */
struct change {
	struct tree_entry e; /* path, link, locator NULL here */
	uint64_t path, link, locator;
	uint32_t x_first, n_x;
	uint32_t hash;
};

struct cxattr {
	uint64_t name, value;
	size_t name_len, value_len;
};

struct fileop_changes {
	const struct tree *base;
	struct change *v;
	size_t n, cap;
	struct cxattr *x;
	size_t n_x, x_cap;
	char *arena;
	size_t arena_len, arena_cap;
	uint32_t *table; /* change index + 1 by path hash, 0 for empty */
	size_t table_cap;
};

struct fileop_changes *
fileop_changes_new(const struct tree *base)
{
	struct fileop_changes *c = xcalloc(1, sizeof(*c));

	c->base = base;
	c->table_cap = 64;
	c->table = xcalloc(c->table_cap, sizeof(*c->table));
	return c;
}

struct fileop_changes *
fileop_changes_free(struct fileop_changes *c)
{
	if (c) {
		free(c->v);
		free(c->x);
		free(c->arena);
		free(c->table);
		free(c);
	}
	return NULL;
}

const struct tree *
fileop_changes_base(const struct fileop_changes *c)
{
	return c->base;
}

bool
fileop_changes_empty(const struct fileop_changes *c)
{
	return c->n == 0;
}

static enum tree_entry_type
type_at(const struct tree *t, uint32_t idx)
{
	struct tree_entry e;

	tree_entry_at(t, idx, &e);
	return e.type;
}

static uint32_t
hash_path(const char *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 16777619u;
	return h;
}

static uint64_t
arena_add(struct fileop_changes *c, const void *s, size_t n)
{
	uint64_t off = c->arena_len;

	c->arena = xgrow(c->arena, &c->arena_cap, c->arena_len + n + 1, 1);
	if (n)
		memcpy(c->arena + off, s, n);
	c->arena[off + n] = '\0';
	c->arena_len += n + 1;
	return off;
}

/* The slot of path in the table: its change index + 1, or 0 where it would go. */
static uint32_t *
slot(const struct fileop_changes *c, const char *path, size_t len, uint32_t hash)
{
	size_t mask = c->table_cap - 1;

	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		const struct change *ch;

		if (!c->table[i])
			return &c->table[i];
		ch = &c->v[c->table[i] - 1];
		if (ch->hash == hash && ch->e.path_len == len &&
		    !memcmp(c->arena + ch->path, path, len))
			return &c->table[i];
	}
}

static void
table_grow(struct fileop_changes *c)
{
	free(c->table);
	c->table_cap *= 2;
	c->table = xcalloc(c->table_cap, sizeof(*c->table));
	for (size_t i = 0; i < c->n; i++) {
		const struct change *ch = &c->v[i];

		*slot(c, c->arena + ch->path, ch->e.path_len, ch->hash) = (uint32_t)i + 1;
	}
}

static const struct change *
find(const struct fileop_changes *c, const char *path, size_t len)
{
	uint32_t k = *slot(c, path, len, hash_path(path, len));

	return k ? &c->v[k - 1] : NULL;
}

void
fileop_changes_get(const struct fileop_changes *c, const char *path, size_t len,
                   struct fileop_node *ret)
{
	const struct change *ch = find(c, path, len);
	uint32_t idx;

	*ret = (struct fileop_node){0};
	if (ch) {
		ret->exists = ch->e.type != TREE_WHITEOUT;
		ret->type = ch->e.type == TREE_HARDLINK ? TREE_REG : ch->e.type;
		ret->changed = true;
		return;
	}
	if (tree_lookup(c->base, path, len, &idx) < 0)
		return;
	ret->exists = true;
	ret->type = type_at(c->base, idx);
	if (ret->type == TREE_HARDLINK)
		ret->type = TREE_REG;
}

void
fileop_changes_put(struct fileop_changes *c, const struct tree_entry *e, const struct tree_xattr *x,
                   size_t n)
{
	uint32_t hash = hash_path(e->path, e->path_len), *s = slot(c, e->path, e->path_len, hash);
	struct change *ch;

	if (!*s) {
		c->v = xgrow(c->v, &c->cap, c->n + 1, sizeof(*c->v));
		*s = (uint32_t)++c->n;
	}
	ch = &c->v[*s - 1];
	*ch =
	    (struct change){.e = *e, .hash = hash, .x_first = (uint32_t)c->n_x, .n_x = (uint32_t)n};
	ch->path = arena_add(c, e->path, e->path_len);
	ch->link = arena_add(c, e->link, e->link_len);
	ch->locator = arena_add(c, e->locator, e->locator_len);
	ch->e.path = ch->e.link = ch->e.locator = ch->e.name = NULL;
	ch->e.n_xattrs = 0;
	c->x = xgrow(c->x, &c->x_cap, c->n_x + n, sizeof(*c->x));
	for (size_t k = 0; k < n; k++) {
		struct cxattr *cx = &c->x[c->n_x++];

		cx->name = arena_add(c, x[k].name, x[k].name_len);
		cx->value = arena_add(c, x[k].value, x[k].value_len);
		cx->name_len = x[k].name_len;
		cx->value_len = x[k].value_len;
	}
	if (c->n * 2 > c->table_cap)
		table_grow(c);
}

void
fileop_changes_put_view(struct fileop_changes *c, const struct tree *t, const struct tree_entry *e)
{
	struct tree_xattr small[8];
	_cleanup_free_ struct tree_xattr *big = NULL;
	struct tree_xattr *x = small;

	if (e->n_xattrs > sizeof(small) / sizeof(small[0]))
		x = big = xmalloc(e->n_xattrs * sizeof(*x));
	for (uint32_t i = 0; i < e->n_xattrs; i++)
		tree_entry_xattr(t, e, i, &x[i]);
	fileop_changes_put(c, e, x, e->n_xattrs);
}

void
fileop_changes_keep_dir(struct fileop_changes *c, const char *path, size_t len)
{
	struct tree_entry e = {
	    .path = path, .path_len = len, .type = TREE_DIR, .flags = TREE_ENTRY_IMPLICIT};

	if (!find(c, path, len))
		fileop_changes_put(c, &e, NULL, 0);
}

void
fileop_changes_whiteout(struct fileop_changes *c, const char *path, size_t len)
{
	struct tree_entry e = {.path = path, .path_len = len, .type = TREE_WHITEOUT};

	fileop_changes_put(c, &e, NULL, 0);
}

int
fileop_changes_mkdir_all(struct fileop_changes *c, const char *path, size_t len, uint32_t mode,
                         const struct fileop_owner *owner, int64_t mtime, const char *shown,
                         struct kl_error **err)
{
	for (size_t end = 0; end <= len; end++) {
		struct fileop_node node;
		struct tree_entry e;

		if (end < len && path[end] != '/')
			continue;
		if (end == 0 && len > 0)
			continue; /* the root always is */
		fileop_changes_get(c, path, end, &node);
		if (node.exists && node.type == TREE_DIR)
			continue;
		if (node.exists)
			return kl_error_setf(err, ENOTDIR, "%s: mkdir /%.*s: not a directory",
			                     shown, (int)end, path);
		e = (struct tree_entry){
		    .path = path,
		    .path_len = end,
		    .type = TREE_DIR,
		    .mode = mode,
		    .uid = owner && owner->set ? owner->uid : 0,
		    .gid = owner && owner->set ? owner->gid : 0,
		    .mtime_sec = mtime,
		};
		fileop_changes_put(c, &e, NULL, 0);
	}
	return 0;
}

/* Change ch as an entry view (pointers into the arena) and its xattrs. */
static struct tree_entry
materialize(const struct fileop_changes *c, const struct change *ch, struct tree_xattr **ret_x)
{
	struct tree_entry e = ch->e;
	struct tree_xattr *x = ch->n_x ? xmalloc(ch->n_x * sizeof(*x)) : NULL;

	e.path = c->arena + ch->path;
	e.link = e.link_len ? c->arena + ch->link : NULL;
	e.locator = e.locator_len ? c->arena + ch->locator : NULL;
	for (uint32_t k = 0; k < ch->n_x; k++) {
		const struct cxattr *cx = &c->x[ch->x_first + k];

		x[k] = (struct tree_xattr){c->arena + cx->name, cx->name_len, c->arena + cx->value,
		                           cx->value_len};
	}
	*ret_x = x;
	return e;
}

/* Base files with other hardlinks that a new file replaces: those links keep the old content,
 * as after unlink and create, while tree_apply would have them follow the path. The first
 * link in tree order not itself changed becomes a copy, the others link to it. */
static void
keep_old_inodes(struct fileop_changes *c)
{
	const struct tree *base = c->base;
	_cleanup_free_ uint32_t *lost = NULL, *first = NULL;
	size_t n_lost = 0, cap = 0, n = c->n;

	for (size_t i = 0; i < n; i++) {
		const struct change *ch = &c->v[i];
		uint32_t idx;

		if ((ch->e.type != TREE_REG && ch->e.type != TREE_HARDLINK) ||
		    tree_lookup(base, c->arena + ch->path, ch->e.path_len, &idx) < 0 ||
		    type_at(base, idx) != TREE_REG || tree_nlink(base, idx) < 2)
			continue;
		lost = xgrow(lost, &cap, n_lost + 1, sizeof(*lost));
		lost[n_lost++] = idx;
	}
	if (!n_lost)
		return;
	first = xmalloc(n_lost * sizeof(*first));
	memset(first, 0xff, n_lost * sizeof(*first));
	for (uint32_t i = 0; i < tree_count(base); i++) {
		uint32_t target;
		struct tree_entry e, te;
		size_t k;

		if (type_at(base, i) != TREE_HARDLINK)
			continue;
		target = tree_resolve_hardlink(base, i);
		for (k = 0; k < n_lost && lost[k] != target; k++)
			;
		tree_entry_at(base, i, &e);
		if (k == n_lost || find(c, e.path, e.path_len))
			continue;
		if (first[k] == TREE_NONE) {
			first[k] = i;
			tree_entry_at(base, target, &te);
			te.path = e.path;
			te.path_len = e.path_len;
			fileop_changes_put_view(c, base, &te);
			continue;
		}
		tree_entry_at(base, first[k], &te);
		e.link = te.path;
		e.link_len = te.path_len;
		fileop_changes_put(c, &e, NULL, 0);
	}
}

static void
release_buf(void *buf, size_t len)
{
	(void)len;
	free(buf);
}

int
fileop_changes_apply(struct fileop_changes *c, struct tree_writer **ret, struct kl_error **err)
{
	_cleanup_(tree_builder_freep) struct tree_builder *b = tree_builder_new();
	_cleanup_(tree_unrefp) struct tree *diff = NULL;
	char *buf;
	size_t len;
	int r = 0;

	keep_old_inodes(c);
	for (size_t i = 0; r >= 0 && i < c->n; i++) {
		struct tree_xattr *x;
		struct tree_entry e = materialize(c, &c->v[i], &x);

		r = tree_builder_add(b, &e, x, c->v[i].n_x, err);
		free(x);
	}
	if (r >= 0)
		r = tree_builder_serialize(b, &buf, &len, err);
	if (r < 0)
		return r;
	r = tree_parse(buf, len, release_buf, &diff, err);
	if (r < 0) {
		free(buf);
		return r;
	}
	return tree_apply(c->base, diff, ret, err);
}
