// SPDX-License-Identifier: Apache-2.0
/* A stage's layers as diff trees between consecutive results, remembered in the cache index's
 * memos so a rebuild of the same steps computes none. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/build-internal.h"
#include "fs/store.h"
#include "fs/tree.h"
#include "solver/cacheidx.h"
#include "solver/fileop.h"
#include "solver/graph.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

struct lookup {
	size_t n;
	const struct digest *uppers;
	const struct digest *diff_what, *empty_what;
	struct digest *diffs, *emptiness;
	bool *known;
};

static void
what(const char *kind, const struct digest *lower, struct digest *ret)
{
	char buf[128], id[DIGEST_STRING_SIZE];

	snprintf(buf, sizeof(buf), "kiln layer %s 1 %s", kind,
	         lower ? digest_to_string(lower, id) : "empty");
	digest_buffer(buf, strlen(buf), ret);
}

static int
lookup_in_txn(struct cacheidx *ci, void *userdata, struct kl_error **err)
{
	struct lookup *l = userdata;

	(void)err;
	for (size_t i = 0; i < l->n; i++)
		l->known[i] = cacheidx_memo_get_in_txn(ci, &l->uppers[i], &l->diff_what[i],
		                                       &l->diffs[i]) == 0 &&
		              cacheidx_memo_get_in_txn(ci, &l->uppers[i], &l->empty_what[i],
		                                       &l->emptiness[i]) == 0;
	return 0;
}

static int
load(struct store *s, const struct digest *d, struct tree **ret, struct kl_error **err)
{
	int r = tree_load(s, d, ret, err);
	char id[DIGEST_STRING_SIZE];

	if (r == -ENOENT)
		return kl_error_setf(err, ENOENT, "the tree %s is not in the store",
		                     digest_to_string(d, id));
	return r;
}

static int
compute(struct store *s, const struct digest *lower, const struct digest *upper, struct digest *ret,
        bool *ret_empty, struct kl_error **err)
{
	_cleanup_(tree_unrefp) struct tree *lo = NULL, *up = NULL, *diff = NULL;
	struct fileop_env env = {.store = s};
	int r;

	if (lower) {
		r = load(s, lower, &lo, err);
		if (r < 0)
			return r;
	}
	r = load(s, upper, &up, err);
	if (r >= 0)
		r = fileop_diff(&env, lo, up, ret, err);
	if (r >= 0)
		r = load(s, ret, &diff, err);
	if (r < 0)
		return r;
	*ret_empty = tree_count(diff) <= 1;
	return 0;
}

int
build_layer_diffs(struct store *s, const struct dockerfile_stage_result *st,
                  const struct digest *trees, struct digest *ret, bool *empty,
                  struct kl_error **err)
{
	_cleanup_(cacheidx_freep) struct cacheidx *ci = NULL;
	size_t n = st->n_layers;
	_cleanup_free_ struct digest *uppers = xcalloc(n + 1, sizeof(*uppers));
	_cleanup_free_ struct digest *dw = xcalloc(n + 1, sizeof(*dw));
	_cleanup_free_ struct digest *ew = xcalloc(n + 1, sizeof(*ew));
	_cleanup_free_ struct digest *emptiness = xcalloc(n + 1, sizeof(*emptiness));
	_cleanup_free_ bool *known = xcalloc(n + 1, sizeof(*known));
	_cleanup_free_ struct cacheidx_memo *puts = xcalloc(2 * n + 1, sizeof(*puts));
	struct lookup l = {n, uppers, dw, ew, ret, emptiness, known};
	struct digest yes, no;
	size_t n_puts = 0;
	int r;

	if (!n)
		return 0;
	digest_buffer("empty", 5, &yes);
	digest_buffer("not empty", 9, &no);
	for (size_t i = 0; i < n; i++) {
		const struct dockerfile_layer *ly = &st->layers[i];
		const struct digest *lower = ly->lower == GRAPH_NO_INPUT ? NULL : &trees[ly->lower];

		uppers[i] = trees[ly->upper];
		what("diff", lower, &dw[i]);
		what("empty", lower, &ew[i]);
	}
	r = cacheidx_open(s, &ci, err);
	if (r >= 0)
		r = cacheidx_read(ci, lookup_in_txn, &l, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const struct dockerfile_layer *ly = &st->layers[i];
		const struct digest *lower = ly->lower == GRAPH_NO_INPUT ? NULL : &trees[ly->lower];

		if (known[i] && store_has_blob(s, &ret[i]) == 1) {
			empty[i] = digest_equal(&emptiness[i], &yes);
			continue;
		}
		r = compute(s, lower, &uppers[i], &ret[i], &empty[i], err);
		if (r < 0) {
			kl_error_prefix(err, "the layer of stage '%s'", st->name);
			return r;
		}
		puts[n_puts++] = (struct cacheidx_memo){uppers[i], dw[i], ret[i]};
		puts[n_puts++] = (struct cacheidx_memo){uppers[i], ew[i], empty[i] ? yes : no};
	}
	return n_puts ? cacheidx_memo_put(ci, puts, n_puts, err) : 0;
}
