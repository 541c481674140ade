// SPDX-License-Identifier: Apache-2.0
/* A layer's entries in tar order → a diff tree, applied as tar extraction would; and a diff
 * tree's entries back in tar order, whiteouts and opaque markers included. */
#include "fs/tree-layer.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fs/tree-internal.h"
#include "fs/tree.h"
#include "util/error.h"
#include "util/path.h"
#include "util/xalloc.h"

#define NONE UINT32_MAX

/* Every path the layer named, kept for the layer's life so a whiteout or a non-directory
 * remembers that the lower layers' entry there is gone even after the path is emptied. */
struct lpath {
	uint64_t off; /* in the arena */
	uint32_t len, hash;
	uint32_t node;    /* the node the path holds now, or NONE */
	bool hides_lower; /* a whiteout or a non-directory was here: lower's entry is gone */
};

struct lxattr {
	uint64_t name, value;
	uint32_t name_len, value_len;
};

/* One entry as added. Nodes are never freed: a replaced regular file may live on under the
 * names of the hardlinks to it. Directories list their children (first_child, next, prev), so
 * a replaced subtree is dropped in O(subtree). */
struct lnode {
	uint32_t path;
	uint32_t parent, first_child, next, prev;
	uint32_t inode;  /* hardlinks: the regular-file node they share */
	uint32_t holder; /* a replaced regular file: the link that takes its content */
	uint64_t link, locator;
	uint32_t link_len, locator_len;
	uint32_t xattr_first, n_xattrs;
	uint8_t type, flags;
	bool live;
	uint16_t mode;
	uint32_t uid, gid, mtime_nsec;
	int64_t mtime_sec;
	uint64_t size, rdev;
	struct digest digest;
};

struct tree_layer {
	char *source;
	struct lnode *nodes;
	size_t n_nodes, nodes_cap;
	struct lpath *paths;
	size_t n_paths, paths_cap;
	uint32_t *table; /* open addressing over paths: lpath index + 1, 0 for empty */
	size_t table_cap;
	struct lxattr *xattrs;
	size_t n_xattrs, xattrs_cap;
	char *arena;
	size_t arena_len, arena_cap;
	uint32_t *stack; /* scratch for subtree removal and parent creation */
	size_t stack_cap;
};

static uint64_t
arena_add(struct tree_layer *l, const void *s, size_t n)
{
	uint64_t off = l->arena_len;

	l->arena = xgrow(l->arena, &l->arena_cap, l->arena_len + n + 1, 1);
	if (n)
		memcpy(l->arena + off, s, n);
	l->arena[off + n] = '\0';
	l->arena_len += n + 1;
	return off;
}

static inline const char *
astr(const struct tree_layer *l, uint64_t off)
{
	return l->arena + off;
}

static inline const char *
node_path(const struct tree_layer *l, uint32_t n, size_t *ret_len)
{
	const struct lpath *p = &l->paths[l->nodes[n].path];

	*ret_len = p->len;
	return astr(l, p->off);
}

static void
table_insert(struct tree_layer *l, uint32_t pi)
{
	size_t mask = l->table_cap - 1, i = l->paths[pi].hash & mask;

	while (l->table[i])
		i = (i + 1) & mask;
	l->table[i] = pi + 1;
}

static uint32_t
path_find(const struct tree_layer *l, const char *p, size_t len)
{
	uint32_t hash = (uint32_t)tree_hash_bytes(p, len);
	size_t mask = l->table_cap - 1;

	for (size_t i = hash & mask; l->table[i]; i = (i + 1) & mask) {
		const struct lpath *lp = &l->paths[l->table[i] - 1];

		if (lp->hash == hash && lp->len == len && !memcmp(astr(l, lp->off), p, len))
			return l->table[i] - 1;
	}
	return NONE;
}

/* The path's index, created (holding no node) when new. p must not point into the arena. */
static uint32_t
path_get(struct tree_layer *l, const char *p, size_t len)
{
	uint32_t pi = path_find(l, p, len);

	if (pi != NONE)
		return pi;
	l->paths = xgrow(l->paths, &l->paths_cap, l->n_paths + 1, sizeof(*l->paths));
	pi = (uint32_t)l->n_paths++;
	l->paths[pi] = (struct lpath){.off = arena_add(l, p, len),
	                              .len = (uint32_t)len,
	                              .hash = (uint32_t)tree_hash_bytes(p, len),
	                              .node = NONE};
	if (l->n_paths * 2 > l->table_cap) {
		free(l->table);
		l->table_cap *= 2;
		l->table = xcalloc(l->table_cap, sizeof(*l->table));
		for (size_t i = 0; i < l->n_paths; i++)
			table_insert(l, (uint32_t)i);
	} else {
		table_insert(l, pi);
	}
	return pi;
}

/* A new live node at path pi, a child of parent (NONE for the root), holding the path. */
static uint32_t
node_new(struct tree_layer *l, uint32_t pi, uint32_t parent, enum tree_entry_type type)
{
	uint32_t n = (uint32_t)l->n_nodes;

	l->nodes = xgrow(l->nodes, &l->nodes_cap, l->n_nodes + 1, sizeof(*l->nodes));
	l->n_nodes++;
	l->nodes[n] = (struct lnode){.path = pi,
	                             .parent = parent,
	                             .first_child = NONE,
	                             .next = NONE,
	                             .prev = NONE,
	                             .inode = NONE,
	                             .holder = NONE,
	                             .type = (uint8_t)type,
	                             .live = true};
	if (parent != NONE) {
		uint32_t first = l->nodes[parent].first_child;

		l->nodes[n].next = first;
		if (first != NONE)
			l->nodes[first].prev = n;
		l->nodes[parent].first_child = n;
	}
	l->paths[pi].node = n;
	return n;
}

/* A directory with the defaults of one nobody listed: 0755, 0:0, mtime 0, no xattrs. */
static void
dir_defaults(struct lnode *d, uint8_t flags)
{
	d->type = TREE_DIR;
	d->flags = flags;
	d->mode = 0755;
	d->uid = d->gid = 0;
	d->mtime_sec = 0;
	d->mtime_nsec = 0;
	d->size = d->rdev = 0;
	d->link_len = d->locator_len = 0;
	d->n_xattrs = 0;
}

/* Drops node n and its subtree: out of its parent's list, their paths emptied. */
static void
remove_subtree(struct tree_layer *l, uint32_t n)
{
	struct lnode *x = &l->nodes[n];
	size_t depth = 0;

	if (x->prev != NONE)
		l->nodes[x->prev].next = x->next;
	else
		l->nodes[x->parent].first_child = x->next;
	if (x->next != NONE)
		l->nodes[x->next].prev = x->prev;
	x->live = false;
	l->paths[x->path].node = NONE;
	for (uint32_t c = x->first_child; c != NONE; c = l->nodes[c].next) {
		l->stack = xgrow(l->stack, &l->stack_cap, depth + 1, sizeof(*l->stack));
		l->stack[depth++] = c;
	}
	while (depth) {
		struct lnode *d = &l->nodes[l->stack[--depth]];

		d->live = false;
		l->paths[d->path].node = NONE;
		l->paths[d->path].hides_lower = false; /* the path above hides all of lower's */
		for (uint32_t c = d->first_child; c != NONE; c = l->nodes[c].next) {
			l->stack = xgrow(l->stack, &l->stack_cap, depth + 1, sizeof(*l->stack));
			l->stack[depth++] = c;
		}
	}
}

/* A path that hides lower's entry and now needs a directory: a fresh, opaque one. */
static void
make_fresh_dir(struct lnode *d)
{
	dir_defaults(d, TREE_ENTRY_OPAQUE);
}

/* The live directory node at path[0..len), made when missing: implicit directories where
 * nothing hid lower's, a whiteout turned into a fresh opaque directory. what names the entry
 * that needs it, for the message when a non-directory is in the way. */
static int
ensure_dir(struct tree_layer *l, const char *path, size_t len, const char *what, uint32_t *ret,
           struct kl_error **err)
{
	size_t depth = 0, at = len;
	uint32_t n = 0;

	for (;;) {
		uint32_t pi = at ? path_find(l, path, at) : 0;

		n = pi == NONE ? NONE : l->paths[pi].node;
		if (n != NONE)
			break;
		l->stack = xgrow(l->stack, &l->stack_cap, depth + 1, sizeof(*l->stack));
		l->stack[depth++] = (uint32_t)at;
		{
			const char *slash = memrchr(path, '/', at);

			at = slash ? (size_t)(slash - path) : 0;
		}
	}
	if (l->nodes[n].type == TREE_WHITEOUT)
		make_fresh_dir(&l->nodes[n]);
	else if (l->nodes[n].type != TREE_DIR)
		return kl_error_setf(err, EBADMSG,
		                     "layer %s: '%s' is below '%.*s', which is not a directory",
		                     l->source, what, (int)at, path);
	while (depth) {
		size_t plen = l->stack[--depth];
		uint32_t pi = path_get(l, path, plen);
		uint32_t d = node_new(l, pi, n, TREE_DIR);

		dir_defaults(&l->nodes[d],
		             l->paths[pi].hides_lower ? TREE_ENTRY_OPAQUE : TREE_ENTRY_IMPLICIT);
		n = d;
	}
	*ret = n;
	return 0;
}

static void
set_xattrs(struct tree_layer *l, struct lnode *n, const struct tree_xattr *x, size_t n_x)
{
	l->xattrs = xgrow(l->xattrs, &l->xattrs_cap, l->n_xattrs + n_x, sizeof(*l->xattrs));
	n->xattr_first = (uint32_t)l->n_xattrs;
	n->n_xattrs = (uint32_t)n_x;
	for (size_t i = 0; i < n_x; i++)
		l->xattrs[l->n_xattrs++] = (struct lxattr){
		    .name = arena_add(l, x[i].name, x[i].name_len),
		    .value = arena_add(l, x[i].value, x[i].value_len),
		    .name_len = (uint32_t)x[i].name_len,
		    .value_len = (uint32_t)x[i].value_len,
		};
}

/* Copies e's metadata (and for non-directories its content fields) into node ni. */
static void
set_fields(struct tree_layer *l, uint32_t ni, const struct tree_entry *e,
           const struct tree_xattr *x, size_t n_x)
{
	struct lnode *n = &l->nodes[ni];

	n->mode = (uint16_t)e->mode;
	n->uid = e->uid;
	n->gid = e->gid;
	n->mtime_sec = e->mtime_sec;
	n->mtime_nsec = e->mtime_nsec;
	if (e->type != TREE_DIR) {
		n->size = e->type == TREE_REG ? e->size : e->type == TREE_SYMLINK ? e->link_len : 0;
		n->rdev = e->type == TREE_CHAR || e->type == TREE_BLOCK ? e->rdev : 0;
		n->flags = (uint8_t)(e->type == TREE_REG ? e->flags & TREE_ENTRY_HAS_DIGEST : 0);
		if (n->flags & TREE_ENTRY_HAS_DIGEST)
			n->digest = e->digest;
		n->link_len = n->locator_len = 0;
		if (e->type == TREE_SYMLINK || e->type == TREE_HARDLINK) {
			uint64_t off = arena_add(l, e->link, e->link_len);

			n = &l->nodes[ni];
			n->link = off;
			n->link_len = (uint32_t)e->link_len;
		}
		if (e->type == TREE_REG && e->locator_len) {
			uint64_t off = arena_add(l, e->locator, e->locator_len);

			n = &l->nodes[ni];
			n->locator = off;
			n->locator_len = (uint32_t)e->locator_len;
		}
	}
	set_xattrs(l, &l->nodes[ni], x, n_x);
}

/* What a hardlink to target path names: the regular-file node (*ret_inode) or, for anything
 * else a link may share, the node to copy (*ret_copy). */
static int
resolve_link(struct tree_layer *l, const struct tree_entry *e, uint32_t cur, uint32_t *ret_inode,
             uint32_t *ret_copy, struct kl_error **err)
{
	uint32_t pi = path_find(l, e->link, e->link_len);
	uint32_t t = pi == NONE ? NONE : l->paths[pi].node;

	*ret_inode = *ret_copy = NONE;
	if (t == NONE || l->nodes[t].type == TREE_WHITEOUT)
		return kl_error_setf(err, EBADMSG,
		                     "layer %s: hardlink '%.*s' to '%.*s', which is not a file of "
		                     "this layer",
		                     l->source, (int)e->path_len, e->path, (int)e->link_len,
		                     e->link);
	if (l->nodes[t].type == TREE_DIR)
		return kl_error_setf(
		    err, EBADMSG, "layer %s: hardlink '%.*s' to '%.*s', which is a directory",
		    l->source, (int)e->path_len, e->path, (int)e->link_len, e->link);
	if (t == cur)
		return kl_error_setf(err, EBADMSG, "layer %s: hardlink '%.*s' links to itself",
		                     l->source, (int)e->path_len, e->path);
	if (l->nodes[t].type == TREE_HARDLINK)
		*ret_inode = l->nodes[t].inode;
	else if (l->nodes[t].type == TREE_REG)
		*ret_inode = t;
	else
		*ret_copy = t;
	return 0;
}

static void
copy_node(struct tree_layer *l, uint32_t dst, uint32_t src)
{
	struct lnode *d = &l->nodes[dst];
	const struct lnode *s = &l->nodes[src];
	uint32_t path = d->path, parent = d->parent, next = d->next, prev = d->prev;

	*d = *s;
	d->path = path;
	d->parent = parent;
	d->next = next;
	d->prev = prev;
	d->first_child = NONE;
	d->live = true;
}

static int
add_whiteout(struct tree_layer *l, const char *path, size_t len, struct kl_error **err)
{
	const char *slash = memrchr(path, '/', len);
	uint32_t parent, pi, cur;
	int r;

	r = ensure_dir(l, path, slash ? (size_t)(slash - path) : 0, path, &parent, err);
	if (r < 0)
		return r;
	pi = path_get(l, path, len);
	l->paths[pi].hides_lower = true;
	cur = l->paths[pi].node;
	if (cur == NONE)
		node_new(l, pi, parent, TREE_WHITEOUT);
	else if (l->nodes[cur].type == TREE_DIR)
		l->nodes[cur].flags =
		    (uint8_t)((l->nodes[cur].flags | TREE_ENTRY_OPAQUE) & ~TREE_ENTRY_IMPLICIT);
	return 0;
}

static int
check_entry(struct tree_layer *l, const struct tree_entry *e, const struct tree_xattr *x,
            size_t n_x, struct kl_error **err)
{
	struct tree_entry c = *e;
	int r;

	c.flags &= TREE_ENTRY_HAS_DIGEST;
	if (c.type != TREE_REG) {
		c.flags = 0;
		c.locator_len = 0;
	}
	if (c.type == TREE_WHITEOUT) {
		c = (struct tree_entry){
		    .path = e->path, .path_len = e->path_len, .type = TREE_WHITEOUT};
		n_x = 0;
	}
	if (c.type != TREE_SYMLINK && c.type != TREE_HARDLINK)
		c.link_len = 0;
	r = tree_entry_check(&c, x, n_x, err);
	if (r < 0)
		kl_error_prefix(err, "layer %s", l->source);
	return r;
}

int
tree_layer_add(struct tree_layer *l, const struct tree_entry *e, const struct tree_xattr *x,
               size_t n_x, struct kl_error **err)
{
	const char *slash;
	uint32_t parent, pi, cur, inode = NONE, copy = NONE, n;
	bool is_dir = e->type == TREE_DIR;
	int r;

	if (l->n_nodes >= TREE_MAX_ENTRIES)
		return kl_error_setf(err, EBADMSG, "layer %s: more than %u entries", l->source,
		                     TREE_MAX_ENTRIES);
	if (e->path_len == 0 && !is_dir)
		return kl_error_setf(err, EBADMSG, "layer %s: the root entry is not a directory",
		                     l->source);
	r = check_entry(l, e, x, n_x, err);
	if (r < 0)
		return r;
	if (e->path_len == 0) {
		set_fields(l, 0, e, x, n_x);
		l->nodes[0].flags &= (uint8_t)~TREE_ENTRY_IMPLICIT;
		return 0;
	}
	if (e->type == TREE_WHITEOUT)
		return add_whiteout(l, e->path, e->path_len, err);
	slash = memrchr(e->path, '/', e->path_len);
	r = ensure_dir(l, e->path, slash ? (size_t)(slash - e->path) : 0, e->path, &parent, err);
	if (r < 0)
		return r;
	pi = path_get(l, e->path, e->path_len);
	cur = l->paths[pi].node;
	if (e->type == TREE_HARDLINK) {
		r = resolve_link(l, e, cur, &inode, &copy, err);
		if (r < 0)
			return r;
	}
	if (cur != NONE && is_dir && l->nodes[cur].type == TREE_DIR) {
		set_fields(l, cur, e, x, n_x);
		l->nodes[cur].flags &= (uint8_t)~TREE_ENTRY_IMPLICIT;
		return 0;
	}
	if (cur != NONE)
		remove_subtree(l, cur);
	n = node_new(l, pi, parent, e->type);
	if (copy != NONE) {
		copy_node(l, n, copy);
	} else {
		set_fields(l, n, e, inode == NONE ? x : NULL, inode == NONE ? n_x : 0);
		l->nodes[n].inode = inode;
	}
	if (is_dir && l->paths[pi].hides_lower)
		l->nodes[n].flags |= TREE_ENTRY_OPAQUE;
	if (!is_dir)
		l->paths[pi].hides_lower = true;
	return 0;
}

int
tree_layer_add_opaque(struct tree_layer *l, const char *dir, size_t len, struct kl_error **err)
{
	uint32_t pi = len ? path_find(l, dir, len) : 0, n;
	_cleanup_free_ char *path = xstrndup(dir, len);
	int r;

	n = pi == NONE ? NONE : l->paths[pi].node;
	if (n != NONE && l->nodes[n].type != TREE_DIR && l->nodes[n].type != TREE_WHITEOUT)
		return kl_error_setf(err, EBADMSG,
		                     "layer %s: opaque marker in '%s', which is not a directory",
		                     l->source, path);
	if (len && !kl_path_is_clean_relative(path, len))
		return kl_error_setf(err, EBADMSG,
		                     "layer %s: opaque marker in '%s', not a clean path", l->source,
		                     path);
	r = ensure_dir(l, path, len, path, &n, err);
	if (r < 0)
		return r;
	l->nodes[n].flags |= TREE_ENTRY_OPAQUE;
	return 0;
}

struct tree_layer *
tree_layer_new(const char *source)
{
	struct tree_layer *l = xcalloc(1, sizeof(*l));
	uint32_t root;

	l->source = xstrdup(source);
	l->table_cap = 64;
	l->table = xcalloc(l->table_cap, sizeof(*l->table));
	root = node_new(l, path_get(l, "", 0), NONE, TREE_DIR);
	dir_defaults(&l->nodes[root], TREE_ENTRY_IMPLICIT);
	return l;
}

struct tree_layer *
tree_layer_free(struct tree_layer *l)
{
	if (!l)
		return NULL;
	free(l->source);
	free(l->nodes);
	free(l->paths);
	free(l->table);
	free(l->xattrs);
	free(l->arena);
	free(l->stack);
	free(l);
	return NULL;
}

/* Finishing. */

/* The entry view of node src's fields at node at's path. */
static void
node_entry(const struct tree_layer *l, uint32_t at, uint32_t src, struct tree_entry *ret)
{
	const struct lnode *s = &l->nodes[src];

	*ret = (struct tree_entry){
	    .type = (enum tree_entry_type)s->type,
	    .flags = s->flags,
	    .mode = s->mode,
	    .uid = s->uid,
	    .gid = s->gid,
	    .mtime_sec = s->mtime_sec,
	    .mtime_nsec = s->mtime_nsec,
	    .size = s->size,
	    .rdev = s->rdev,
	    .link = s->link_len ? astr(l, s->link) : NULL,
	    .link_len = s->link_len,
	    .digest = s->digest,
	    .locator = s->locator_len ? astr(l, s->locator) : NULL,
	    .locator_len = s->locator_len,
	};
	ret->path = node_path(l, at, &ret->path_len);
}

static int
emit(struct tree_builder *b, const struct tree_layer *l, uint32_t at, uint32_t src,
     const char *link, size_t link_len, struct tree_xattr **scratch, size_t *scratch_cap,
     struct kl_error **err)
{
	const struct lnode *s = &l->nodes[src];
	struct tree_entry e;
	size_t n_x = link ? 0 : s->n_xattrs;

	node_entry(l, at, src, &e);
	if (link) {
		/* A name of a shared inode: its metadata, no content of its own. */
		e.type = TREE_HARDLINK;
		e.flags = 0;
		e.size = 0;
		e.link = link;
		e.link_len = link_len;
		e.locator = NULL;
		e.locator_len = 0;
	}
	*scratch = xgrow(*scratch, scratch_cap, n_x, sizeof(**scratch));
	for (size_t i = 0; i < n_x; i++) {
		const struct lxattr *x = &l->xattrs[s->xattr_first + i];

		(*scratch)[i] = (struct tree_xattr){.name = astr(l, x->name),
		                                    .name_len = x->name_len,
		                                    .value = astr(l, x->value),
		                                    .value_len = x->value_len};
	}
	return tree_builder_add(b, &e, *scratch, n_x, err);
}

/* A replaced regular file that hardlinks still name: the first of them in tree order. */
static void
choose_holders(struct tree_layer *l)
{
	for (size_t i = 0; i < l->n_nodes; i++) {
		struct lnode *n = &l->nodes[i];
		struct lnode *ino;
		const char *p, *q;
		size_t pl, ql;

		if (!n->live || n->type != TREE_HARDLINK || l->nodes[n->inode].live)
			continue;
		ino = &l->nodes[n->inode];
		if (ino->holder == NONE) {
			ino->holder = (uint32_t)i;
			continue;
		}
		p = node_path(l, (uint32_t)i, &pl);
		q = node_path(l, ino->holder, &ql);
		if (tree_path_compare(p, pl, q, ql) < 0)
			ino->holder = (uint32_t)i;
	}
}

int
tree_layer_finish(struct tree_layer *l, struct tree_builder **ret, struct kl_error **err)
{
	_cleanup_(tree_builder_freep) struct tree_builder *b = tree_builder_new();
	_cleanup_free_ struct tree_xattr *scratch = NULL;
	size_t scratch_cap = 0;
	int r = 0;

	choose_holders(l);
	for (size_t i = 0; r >= 0 && i < l->n_nodes; i++) {
		const struct lnode *n = &l->nodes[i];
		uint32_t ino = n->inode, at = (uint32_t)i;
		const struct lnode *in;
		const char *p;
		size_t pl;

		if (!n->live)
			continue;
		if (n->type != TREE_HARDLINK) {
			r = emit(b, l, at, at, NULL, 0, &scratch, &scratch_cap, err);
			continue;
		}
		in = &l->nodes[ino];
		if (!in->live && in->holder == at) {
			r = emit(b, l, at, ino, NULL, 0, &scratch, &scratch_cap, err);
			continue;
		}
		p = node_path(l, in->live ? ino : in->holder, &pl);
		r = emit(b, l, at, ino, p, pl, &scratch, &scratch_cap, err);
	}
	if (r < 0) {
		kl_error_prefix(err, "layer %s", l->source);
		return r;
	}
	*ret = TAKE_PTR(b);
	return 0;
}

/* The walk. */

int
tree_layer_walk(const struct tree *diff, tree_layer_walk_fn fn, void *userdata)
{
	uint32_t n = tree_count(diff);
	_cleanup_free_ uint32_t *first = xmalloc((n ? n : 1) * sizeof(*first));
	int r = 0;

	memset(first, 0xff, (n ? n : 1) * sizeof(*first));
	for (uint32_t i = 0; r >= 0 && i < n; i++) {
		struct tree_entry e, t;
		uint32_t target;

		tree_entry_at(diff, i, &e);
		switch (e.type) {
		case TREE_WHITEOUT:
			r = fn(diff, TREE_LAYER_WHITEOUT, &e, userdata);
			break;
		case TREE_DIR:
			if (!(e.flags & TREE_ENTRY_IMPLICIT))
				r = fn(diff, TREE_LAYER_ENTRY, &e, userdata);
			if (r >= 0 && (e.flags & TREE_ENTRY_OPAQUE))
				r = fn(diff, TREE_LAYER_OPAQUE, &e, userdata);
			break;
		case TREE_HARDLINK:
			target = tree_resolve_hardlink(diff, i);
			if (first[target] == TREE_NONE) {
				/* The target sorts later: this name carries the content. */
				first[target] = i;
				tree_entry_at(diff, target, &t);
				t.index = e.index;
				t.path = e.path;
				t.path_len = e.path_len;
				t.name = e.name;
				t.name_len = e.name_len;
				r = fn(diff, TREE_LAYER_ENTRY, &t, userdata);
				break;
			}
			tree_entry_at(diff, first[target], &t);
			e.link = t.path;
			e.link_len = t.path_len;
			r = fn(diff, TREE_LAYER_ENTRY, &e, userdata);
			break;
		case TREE_REG:
			if (first[i] == TREE_NONE) {
				first[i] = i;
				r = fn(diff, TREE_LAYER_ENTRY, &e, userdata);
				break;
			}
			tree_entry_at(diff, first[i], &t);
			e.type = TREE_HARDLINK;
			e.flags = 0;
			e.size = 0;
			e.link = t.path;
			e.link_len = t.path_len;
			e.locator = NULL;
			e.locator_len = 0;
			e.n_xattrs = 0;
			r = fn(diff, TREE_LAYER_ENTRY, &e, userdata);
			break;
		default:
			r = fn(diff, TREE_LAYER_ENTRY, &e, userdata);
			break;
		}
	}
	return r < 0 ? r : 0;
}
