// SPDX-License-Identifier: Apache-2.0
/* Wildcard sources of copy and rm actions, matched in a tree one path component at a time. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "solver/fileop-internal.h"
#include "sources/dockerignore.h"
#include "util/error.h"
#include "util/xalloc.h"

bool
fileop_glob_has_wildcards(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '*' || s[i] == '?' || s[i] == '[')
			return true;
	}
	return false;
}

void
fileop_matches_done(struct fileop_matches *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i]);
	free(m->v);
	*m = (struct fileop_matches){0};
}

static void
matches_add(struct fileop_matches *m, size_t *cap, char *path)
{
	m->v = xgrow(m->v, cap, m->n + 1, sizeof(*m->v));
	m->v[m->n++] = path;
}

struct component {
	const char *s;
	size_t len;
};

struct globber {
	const struct tree *t;
	struct component *comps; /* of the pattern, from the first with a wildcard */
	size_t n_comps;
	const char *pattern;
	struct fileop_matches *out;
	size_t cap;
};

/* Matches the children of dir against comps[depth…). */
static int
glob_dir(struct globber *g, uint32_t dir, size_t depth, struct kl_error **err)
{
	const struct component *c = &g->comps[depth];

	for (uint32_t i = tree_first_child(g->t, dir); i != TREE_NONE;
	     i = tree_next_sibling(g->t, i)) {
		struct tree_entry e;
		int r;

		tree_entry_at(g->t, i, &e);
		r = dockerignore_filepath_match(c->s, c->len, e.name, e.name_len);
		if (r < 0)
			return kl_error_setf(err, EINVAL,
			                     "bad pattern '%s': syntax error in '%.*s'", g->pattern,
			                     (int)c->len, c->s);
		if (r == 0)
			continue;
		if (depth + 1 == g->n_comps)
			matches_add(g->out, &g->cap, xstrndup(e.path, e.path_len));
		else if (e.type == TREE_DIR && (r = glob_dir(g, i, depth + 1, err)) < 0)
			return r;
	}
	return 0;
}

int
fileop_glob(const struct tree *t, const char *pattern, bool follow_last, struct fileop_matches *ret,
            struct kl_error **err)
{
	struct globber g = {.t = t, .pattern = pattern};
	struct fileop_matches m = {0};
	_cleanup_free_ char *fixed = NULL;
	size_t len = strlen(pattern), split = 0, pos = 0;
	uint32_t dir;
	int r;

	/* The components before the first with a wildcard name a directory to start from. */
	while (pos < len) {
		size_t end = pos;

		while (end < len && pattern[end] != '/')
			end++;
		if (fileop_glob_has_wildcards(pattern + pos, end - pos))
			break;
		split = end;
		pos = end + 1;
	}
	for (size_t i = pos; i < len;) {
		size_t end = i;

		while (end < len && pattern[end] != '/')
			end++;
		g.comps = xrealloc(g.comps, (g.n_comps + 1) * sizeof(*g.comps));
		g.comps[g.n_comps++] = (struct component){pattern + i, end - i};
		i = end + 1;
	}
	r = fileop_path_resolve(t, pattern, split, follow_last, pattern, &fixed, &dir, err);
	if (r >= 0 && g.n_comps == 0) { /* no wildcard after all: the path itself */
		matches_add(&m, &g.cap, TAKE_PTR(fixed));
	} else if (r >= 0 && dir != TREE_NONE) {
		g.out = &m;
		r = glob_dir(&g, dir, 0, err);
	}
	free(g.comps);
	if (r < 0) {
		fileop_matches_done(&m);
		return r;
	}
	*ret = m;
	return 0;
}
