// SPDX-License-Identifier: Apache-2.0
/* What a copy takes from its source tree: its matches, and below each the entries that the
 * include and exclude patterns keep, walked in tree order as fsutil's copier walks a
 * directory, with the inodes hardlinks share tracked per match. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "solver/fileop-internal.h"
#include "solver/graph.h"
#include "sources/dockerignore.h"
#include "util/error.h"
#include "util/xalloc.h"

struct fileop_selector {
	struct dockerignore *include, *exclude; /* NULL: no patterns */
};

static int
parse_patterns(const struct graph_strv *v, const char *what, struct dockerignore **ret,
               struct kl_error **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;

	*ret = NULL;
	if (v->n == 0)
		return 0;
	for (size_t i = 0; i < v->n; i++) {
		size_t n = strlen(v->v[i]);

		if (memchr(v->v[i], '\n', n))
			return kl_error_setf(err, EINVAL, "%s pattern '%s' holds a newline", what,
			                     v->v[i]);
		text = xrealloc(text, len + n + 2);
		memcpy(text + len, v->v[i], n);
		len += n;
		text[len++] = '\n';
	}
	return dockerignore_parse(text, len, what, ret, err);
}

int
fileop_selector_new(const struct graph_file_action *a, struct fileop_selector **ret,
                    struct kl_error **err)
{
	struct fileop_selector *s = xcalloc(1, sizeof(*s));
	int r;

	r = parse_patterns(&a->include, "include", &s->include, err);
	if (r >= 0)
		r = parse_patterns(&a->exclude, "exclude", &s->exclude, err);
	if (r < 0) {
		fileop_selector_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

struct fileop_selector *
fileop_selector_free(struct fileop_selector *s)
{
	if (s) {
		dockerignore_free(s->include);
		dockerignore_free(s->exclude);
		free(s);
	}
	return NULL;
}

/* Inodes seen in one match: the entry a file's content comes from → the first rel path. */
struct inode {
	uint32_t idx1; /* idx + 1, 0 for an empty slot */
	char *rel;
	size_t rel_len;
};

struct inodes {
	struct inode *slots;
	size_t cap, n;
};

static struct inode *
inode_slot(struct inodes *m, uint32_t idx)
{
	size_t mask = m->cap - 1, i = (idx * 2654435761u) & mask;

	while (m->slots[i].idx1 && m->slots[i].idx1 != idx + 1)
		i = (i + 1) & mask;
	return &m->slots[i];
}

/* The rel path recorded for idx, or NULL after recording rel for it. */
static const struct inode *
inode_seen(struct inodes *m, uint32_t idx, const char *rel, size_t rel_len)
{
	struct inode *s;

	if (m->n * 2 >= m->cap) {
		struct inodes bigger = {.cap = m->cap ? m->cap * 2 : 16};

		bigger.slots = xcalloc(bigger.cap, sizeof(*bigger.slots));
		for (size_t i = 0; i < m->cap; i++)
			if (m->slots[i].idx1)
				*inode_slot(&bigger, m->slots[i].idx1 - 1) = m->slots[i];
		bigger.n = m->n;
		free(m->slots);
		*m = bigger;
	}
	s = inode_slot(m, idx);
	if (s->idx1)
		return s;
	*s = (struct inode){idx + 1, xstrndup(rel, rel_len), rel_len};
	m->n++;
	return NULL;
}

static void
inodes_done(struct inodes *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].rel);
	free(m->slots);
}

/* One directory being walked. */
struct frame {
	uint32_t idx, next; /* the directory; its next child, TREE_NONE past the last */
	size_t rel_len;     /* its rel path: the walk's path buffer up to here */
	uint8_t *inc, *exc; /* its match infos for its children; NULL for the match itself */
	bool given;         /* handed to fn already */
};

struct walker {
	const struct fileop_selector *s;
	const struct tree *src;
	fileop_item_fn fn;
	void *userdata;
	char *path; /* the rel path of the entry at hand */
	size_t path_len, path_cap;
	struct frame *frames;
	size_t depth, frames_cap;
	struct inodes inodes;
};

static int
give(struct walker *w, uint32_t idx, size_t rel_len, struct kl_error **err)
{
	uint32_t content = tree_resolve_hardlink(w->src, idx);
	struct fileop_item it = {.rel = w->path, .rel_len = rel_len, .idx = content};
	struct tree_entry e;

	tree_entry_at(w->src, content, &e);
	if (e.type == TREE_REG && tree_nlink(w->src, content) > 1) {
		const struct inode *seen = inode_seen(&w->inodes, content, w->path, rel_len);

		if (seen) {
			it.link_rel = seen->rel;
			it.link_rel_len = seen->rel_len;
		}
	}
	return w->fn(w->userdata, &it, err);
}

/* Gives the directories above the entry at hand that were walked but not yet given. */
static int
give_parents(struct walker *w, struct kl_error **err)
{
	for (size_t k = 0; k < w->depth; k++) {
		struct frame *f = &w->frames[k];
		int r;

		if (f->given)
			continue;
		f->given = true;
		r = give(w, f->idx, f->rel_len, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static void
push_frame(struct walker *w, uint32_t idx, size_t rel_len, uint8_t *inc, uint8_t *exc, bool given)
{
	w->frames = xgrow(w->frames, &w->frames_cap, w->depth + 1, sizeof(*w->frames));
	w->frames[w->depth++] = (struct frame){
	    .idx = idx,
	    .next = tree_first_child(w->src, idx),
	    .rel_len = rel_len,
	    .inc = inc,
	    .exc = exc,
	    .given = given,
	};
}

static void
pop_frame(struct walker *w)
{
	struct frame *f = &w->frames[--w->depth];

	free(f->inc);
	free(f->exc);
}

static uint8_t *
match_info(const struct dockerignore *d)
{
	return d ? xcalloc(dockerignore_count(d) ? dockerignore_count(d) : 1, 1) : NULL;
}

/* The next child of the innermost directory: given and/or walked into as the patterns say. */
static int
step(struct walker *w, struct kl_error **err)
{
	struct frame *f = &w->frames[w->depth - 1];
	const struct fileop_selector *s = w->s;
	uint32_t c = f->next;
	uint8_t *inc = NULL, *exc = NULL;
	bool included = true, excluded = false;
	struct tree_entry e;
	size_t len;
	int r = 0;

	f->next = tree_next_sibling(w->src, c);
	tree_entry_at(w->src, c, &e);
	len = f->rel_len + (f->rel_len ? 1 : 0) + e.name_len;
	w->path = xgrow(w->path, &w->path_cap, len + 1, 1);
	if (f->rel_len)
		w->path[f->rel_len] = '/';
	memcpy(w->path + len - e.name_len, e.name, e.name_len);
	w->path[len] = '\0';
	if (s->include) {
		inc = match_info(s->include);
		included = dockerignore_match(s->include, w->path, len, f->inc, inc);
	}
	if (s->exclude) {
		exc = match_info(s->exclude);
		excluded = dockerignore_match(s->exclude, w->path, len, f->exc, exc);
	}
	if (included && !excluded) {
		r = give_parents(w, err);
		if (r >= 0)
			r = give(w, c, len, err);
	}
	if (r >= 0 && e.type == TREE_DIR &&
	    (!excluded || dockerignore_walk_excluded_dir(s->exclude, w->path, len))) {
		push_frame(w, c, len, inc, exc, included && !excluded);
		return 0;
	}
	free(inc);
	free(exc);
	return r;
}

int
fileop_select(const struct fileop_selector *s, const struct tree *src, uint32_t top,
              fileop_item_fn fn, void *userdata, struct kl_error **err)
{
	struct walker w = {.s = s, .src = src, .fn = fn, .userdata = userdata};
	struct tree_entry e;
	int r;

	w.path = xgrow(NULL, &w.path_cap, 256, 1);
	w.path[0] = '\0';
	r = give(&w, top, 0, err);
	tree_entry_at(src, top, &e);
	if (r >= 0 && e.type == TREE_DIR)
		push_frame(&w, top, 0, NULL, NULL, true);
	while (r >= 0 && w.depth) {
		if (w.frames[w.depth - 1].next == TREE_NONE) {
			pop_frame(&w);
			continue;
		}
		r = step(&w, err);
	}
	while (w.depth)
		pop_frame(&w);
	free(w.frames);
	free(w.path);
	inodes_done(&w.inodes);
	return r;
}

int
fileop_copy_sources(const struct graph_file_action *a, const struct tree *src,
                    struct fileop_matches *ret, struct kl_error **err)
{
	_cleanup_free_ char *path = fileop_path_clean(a->cwd, a->src ? a->src : "", NULL);

	if (a->allow_wildcard && fileop_glob_has_wildcards(path, strlen(path)))
		return fileop_glob(src, path, a->follow_symlinks, ret, err);
	ret->v = xmalloc(sizeof(*ret->v));
	ret->v[0] = TAKE_PTR(path);
	ret->n = 1;
	return 0;
}

int
fileop_copy_source_entry(const struct graph_file_action *a, const struct tree *src, const char *m,
                         uint32_t *ret_idx, struct kl_error **err)
{
	_cleanup_free_ char *resolved = NULL;
	uint32_t idx;
	int r;

	r = fileop_path_resolve(src, m, strlen(m), a->follow_symlinks, "copy source", &resolved,
	                        &idx, err);
	if (r < 0)
		return r;
	if (idx == TREE_NONE)
		return kl_error_setf(err, ENOENT, "failed to compute cache key: \"/%s\": not found",
		                     m);
	*ret_idx = tree_resolve_hardlink(src, idx);
	return 0;
}
