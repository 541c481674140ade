// SPDX-License-Identifier: Apache-2.0
/* Merge and diff ops: trees stacked with tree_apply, and the diff of two trees. */
#include <errno.h>
#include <stdlib.h>

#include "fs/tree-writer.h"
#include "fs/tree.h"
#include "solver/fileop-internal.h"
#include "solver/fileop.h"
#include "util/error.h"

int
fileop_merge(const struct fileop_env *env, const struct tree *const *trees, size_t n,
             struct digest *ret, struct kl_error **err)
{
	_cleanup_(tree_unrefp) struct tree *cur = fileop_empty_tree();
	struct tree_writer *w = NULL;
	int r = 0;

	/* Over the empty tree even for one input: the result holds no whiteouts. */
	for (size_t i = 0; r >= 0 && i < n; i++) {
		struct tree *next = NULL;

		if (!trees[i])
			continue; /* an empty input adds nothing */
		if (w) {
			r = tree_writer_finish_tree(w, &next, err);
			w = tree_writer_free(w);
			if (r < 0)
				break;
			tree_unref(cur);
			cur = next;
		}
		r = tree_apply(cur, trees[i], &w, err);
		if (r < 0)
			kl_error_prefix(err, "merging input %zu", i);
	}
	if (r < 0)
		return r;
	if (!w) {
		struct tree_entry root = {.type = TREE_DIR, .mode = 0755};

		w = tree_writer_new();
		r = tree_writer_add(w, &root, err);
		if (r < 0) {
			tree_writer_free(w);
			return r;
		}
	}
	r = tree_writer_write(w, env->store, ret, err);
	tree_writer_free(w);
	return r;
}

int
fileop_diff(const struct fileop_env *env, const struct tree *lower, const struct tree *upper,
            struct digest *ret, struct kl_error **err)
{
	_cleanup_(tree_unrefp) struct tree *empty = NULL, *empty_upper = NULL;
	_cleanup_(tree_builder_freep) struct tree_builder *b = NULL;
	int r;

	if (!lower)
		lower = empty = fileop_empty_tree();
	if (!upper)
		upper = empty_upper = fileop_empty_tree();
	r = tree_diff(lower, upper, &b, err);
	if (r < 0)
		return r;
	return tree_builder_write_trusted(b, env->store, ret, err);
}
