// SPDX-License-Identifier: Apache-2.0
/* Paths of file actions: lexical cleaning as BuildKit's cleanPath, and symlink resolution
 * inside a tree as continuity's fs.RootPath does it inside a mount. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "solver/fileop-internal.h"
#include "util/error.h"
#include "util/xalloc.h"

#define MAX_LINKS 255 /* continuity's limit */

/* A growing string. */
struct buf {
	char *s;
	size_t len, cap;
};

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	b->s = xgrow(b->s, &b->cap, b->len + n + 1, 1);
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* Appends component c to b, a clean path. */
static void
buf_add_component(struct buf *b, const char *c, size_t n)
{
	if (b->len)
		buf_add(b, "/", 1);
	buf_add(b, c, n);
}

/* Drops b's last component. */
static void
buf_pop_component(struct buf *b)
{
	while (b->len && b->s[b->len - 1] != '/')
		b->len--;
	if (b->len)
		b->len--;
	if (b->s)
		b->s[b->len] = '\0';
}

/* The next component of s[*pos, n): its start and length; false when none is left. */
static bool
next_component(const char *s, size_t n, size_t *pos, const char **ret, size_t *ret_len)
{
	while (*pos < n && s[*pos] == '/')
		(*pos)++;
	if (*pos >= n)
		return false;
	*ret = s + *pos;
	while (*pos < n && s[*pos] != '/')
		(*pos)++;
	*ret_len = (size_t)(s + *pos - *ret);
	return true;
}

static void
clean_into(struct buf *b, const char *p, size_t n)
{
	const char *c;
	size_t pos = 0, len;

	while (next_component(p, n, &pos, &c, &len)) {
		if (len == 1 && c[0] == '.')
			continue;
		if (len == 2 && c[0] == '.' && c[1] == '.')
			buf_pop_component(b);
		else
			buf_add_component(b, c, len);
	}
}

char *
fileop_path_clean(const char *cwd, const char *p, bool *ret_dir)
{
	struct buf b = {0};
	size_t n = strlen(p);

	if (p[0] != '/' && cwd)
		clean_into(&b, cwd, strlen(cwd));
	clean_into(&b, p, n);
	if (ret_dir)
		*ret_dir = (n > 0 && p[n - 1] == '/') || (n >= 2 && !strcmp(p + n - 2, "/."));
	return b.s ? b.s : xstrdup("");
}

size_t
fileop_path_dirname(const char *path, size_t len)
{
	while (len && path[len - 1] != '/')
		len--;
	return len ? len - 1 : 0;
}

char *
fileop_path_join(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen == 0)
		return xstrndup(b, blen);
	if (blen == 0)
		return xstrndup(a, alen);
	return xasprintf("%.*s/%.*s", (int)alen, a, (int)blen, b);
}

/* Whether s[pos, n) holds another component (anything but slashes). */
static bool
more_components(const char *s, size_t n, size_t pos)
{
	for (; pos < n; pos++)
		if (s[pos] != '/')
			return true;
	return false;
}

struct resolver {
	struct buf res;    /* the resolved path so far */
	uint32_t *idx;     /* per resolved component, its entry (TREE_NONE: missing); [0] root */
	size_t depth, cap; /* components resolved */
	struct buf todo;   /* what is left, from pos */
	size_t pos;
	unsigned links;
};

static void
push_component(struct resolver *r, const char *c, size_t n, uint32_t idx)
{
	r->idx = xgrow(r->idx, &r->cap, r->depth + 2, sizeof(*r->idx));
	r->idx[++r->depth] = idx;
	buf_add_component(&r->res, c, n);
}

/* Continues with target + the rest of todo; an absolute target restarts at the root. */
static void
expand_link(struct resolver *r, const char *target, size_t n)
{
	struct buf next = {0};

	buf_add(&next, target, n);
	buf_add(&next, "/", 1);
	buf_add(&next, r->todo.s + r->pos, r->todo.len - r->pos);
	free(r->todo.s);
	r->todo = next;
	r->pos = 0;
	if (n && target[0] == '/') {
		r->depth = 0;
		r->res.len = 0;
		r->res.s[0] = '\0';
	}
}

int
fileop_path_resolve(const struct tree *t, const char *path, size_t len, bool follow_last,
                    const char *shown, char **ret_path, uint32_t *ret_idx, struct kl_error **err)
{
	struct resolver r = {0};
	const char *c;
	size_t n;
	int rc = 0;

	buf_add(&r.res, "", 0);
	buf_add(&r.todo, path, len);
	r.idx = xgrow(NULL, &r.cap, 1, sizeof(*r.idx));
	r.idx[0] = TREE_ROOT;
	while (next_component(r.todo.s, r.todo.len, &r.pos, &c, &n)) {
		uint32_t parent = r.idx[r.depth], idx = TREE_NONE;
		bool last = !more_components(r.todo.s, r.todo.len, r.pos);
		struct tree_entry e;

		if (n == 1 && c[0] == '.')
			continue;
		if (n == 2 && c[0] == '.' && c[1] == '.') {
			if (r.depth) {
				r.depth--;
				buf_pop_component(&r.res);
			}
			continue;
		}
		if (parent != TREE_NONE && tree_lookup_child(t, parent, c, n, &idx) < 0)
			idx = TREE_NONE;
		if (idx != TREE_NONE) {
			tree_entry_at(t, idx, &e);
			if (e.type == TREE_SYMLINK && (!last || follow_last)) {
				if (++r.links > MAX_LINKS) {
					rc = kl_error_setf(err, ELOOP,
					                   "%s: too many levels of symbolic links",
					                   shown);
					break;
				}
				expand_link(&r, e.link, e.link_len);
				continue;
			}
			if (!last && e.type != TREE_DIR) {
				rc = kl_error_setf(err, ENOTDIR,
				                   "%s: '/%s%s%.*s' is not a directory", shown,
				                   r.res.s, r.res.len ? "/" : "", (int)n, c);
				break;
			}
		}
		push_component(&r, c, n, idx);
	}
	if (rc >= 0) {
		*ret_idx = r.idx[r.depth];
		*ret_path = r.res.s;
		r.res.s = NULL;
	}
	free(r.res.s);
	free(r.todo.s);
	free(r.idx);
	return rc;
}
