// SPDX-License-Identifier: Apache-2.0
/* Container paths resolved in a tree the way a runtime resolves them in a rootfs (symlinks
 * followed, ".." clamped at the root), so kiln knows which entry a mount lands on. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fs/tree.h"
#include "solver/exec-internal.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define MAX_LINKS 40

/* Drops the last component of the relative path p[0..*len). */
static void
pop_component(char *p, size_t *len)
{
	while (*len && p[*len - 1] != '/')
		(*len)--;
	if (*len)
		(*len)--;
	p[*len] = '\0';
}

char *
exec_path_clean(const char *path)
{
	size_t n = strlen(path), len = 0;
	char *out = xmalloc(n + 2);

	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && path[j] != '/')
			j++;
		if (j - i == 2 && path[i] == '.' && path[i + 1] == '.') {
			pop_component(out, &len);
		} else if (j > i && !(j - i == 1 && path[i] == '.')) {
			if (len)
				out[len++] = '/';
			memcpy(out + len, path + i, j - i);
			len += j - i;
		}
		i = j + 1;
	}
	out[len] = '\0';
	/* absolute form */
	memmove(out + 1, out, len + 1);
	out[0] = '/';
	return out;
}

int
exec_tree_resolve(const struct tree *t, const char *path, char **ret, bool *ret_exists)
{
	_cleanup_free_ char *todo = xstrdup(path);
	size_t cap = strlen(path) + 1, len = 0, pos = 0;
	_cleanup_free_ char *res = xmalloc(cap);
	unsigned links = 0;
	uint32_t idx;

	res[0] = '\0';
	while (todo[pos]) {
		size_t start, clen;

		while (todo[pos] == '/')
			pos++;
		start = pos;
		while (todo[pos] && todo[pos] != '/')
			pos++;
		clen = pos - start;
		if (clen == 0 || (clen == 1 && todo[start] == '.'))
			continue;
		if (clen == 2 && todo[start] == '.' && todo[start + 1] == '.') {
			pop_component(res, &len);
			continue;
		}
		res = xgrow(res, &cap, len + clen + 2, 1);
		size_t before = len;
		if (len)
			res[len++] = '/';
		memcpy(res + len, todo + start, clen);
		len += clen;
		res[len] = '\0';
		if (t && tree_lookup(t, res, len, &idx) == 0) {
			struct tree_entry e;

			tree_entry_at(t, idx, &e);
			if (e.type == TREE_SYMLINK) {
				char *next;

				if (++links > MAX_LINKS)
					return -ELOOP;
				/* the link's target, then what was left of the path */
				next = xasprintf("%.*s/%s", (int)e.link_len, e.link, todo + pos);
				free(todo);
				todo = next;
				pos = 0;
				len = e.link_len && e.link[0] == '/' ? 0 : before;
				res[len] = '\0';
				continue;
			}
		}
	}
	*ret_exists = t && tree_lookup(t, res, len, &idx) == 0;
	*ret = TAKE_PTR(res);
	return 0;
}
