// SPDX-License-Identifier: Apache-2.0
/* Applying a file op: each action's changes merged into the tree so far, the last result
 * written to the store. */
#include "solver/fileop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/provider.h"
#include "fs/store.h"
#include "fs/tree-writer.h"
#include "fs/tree.h"
#include "fs/uring.h"
#include "solver/fileop-internal.h"
#include "solver/graph.h"
#include "util/error.h"
#include "util/io.h"
#include "util/xalloc.h"

int
fileop_ring(struct fileop_action_ctx *x, struct uring **ret, struct kl_error **err)
{
	int r;

	if (x->env->rings)
		return uring_pool_get(x->env->rings, ret, err);
	if (!x->own_ring) {
		r = uring_new(0, &x->own_ring, err);
		if (r < 0)
			return r;
	}
	*ret = x->own_ring;
	return 0;
}

int
fileop_read_file(struct fileop_action_ctx *x, const struct tree *t, uint32_t idx, size_t max,
                 char **ret, size_t *ret_len, struct kl_error **err)
{
	struct provider_request req;
	_cleanup_close_ int fd = -1;
	struct tree_entry e;
	struct uring *u;
	struct digest d;
	int r;

	tree_entry_at(t, idx, &e);
	if (e.size == 0) {
		*ret = xstrdup("");
		*ret_len = 0;
		return 0;
	}
	if (e.size > max)
		return kl_error_setf(err, EFBIG, "'/%s' is larger than %zu bytes", e.path, max);
	if (!x->env->providers)
		return kl_error_setf(err, ENOTSUP, "reading '/%s': no content providers", e.path);
	r = fileop_ring(x, &u, err);
	if (r < 0)
		return r;
	req = (struct provider_request){
	    .path = e.path,
	    .locator = e.locator,
	    .locator_len = e.locator_len,
	    .digest = (e.flags & TREE_ENTRY_HAS_DIGEST) ? &e.digest : NULL,
	    .size = e.size,
	};
	fd = provider_set_open(x->env->providers, u, &req, &d, err);
	if (fd < 0)
		return fd;
	r = kl_io_read_all(fd, max, ret, ret_len);
	if (r < 0)
		return kl_error_set(err, -r, "reading '/%s'", e.path);
	return 0;
}

static struct tree *
tree_of(struct tree_writer *w)
{
	struct tree *t = NULL;

	/* Entries this file writes are valid by construction: failing here is a bug. */
	if (tree_writer_finish_tree(w, &t, NULL) < 0)
		abort();
	tree_writer_free(w);
	return t;
}

struct tree *
fileop_empty_tree(void)
{
	struct tree_writer *w = tree_writer_new();
	struct tree_entry root = {.type = TREE_DIR, .mode = 0755};

	if (tree_writer_add(w, &root, NULL) < 0)
		abort();
	return tree_of(w);
}

static char *
describe(const struct graph_file_action *a)
{
	const char *src = a->src ? a->src : "";

	switch (a->kind) {
	case GRAPH_FILE_COPY:
		return xasprintf("copy '%s' to '%s'", src, a->dest ? a->dest : "");
	case GRAPH_FILE_MKDIR:
		return xasprintf("mkdir '%s'", src);
	case GRAPH_FILE_MKFILE:
		return xasprintf("mkfile '%s'", src);
	case GRAPH_FILE_RM:
		return xasprintf("rm '%s'", src);
	case GRAPH_FILE_SYMLINK:
		return xasprintf("symlink '%s' -> '%s'", src, a->target ? a->target : "");
	default:
		return xasprintf("file action %d", (int)a->kind);
	}
}

static int
run(struct fileop_action_ctx *x, const struct tree *const *inputs, size_t n_inputs,
    struct kl_error **err)
{
	const struct graph_file_action *a = x->a;
	_cleanup_(tree_unrefp) struct tree *empty = NULL;

	switch (a->kind) {
	case GRAPH_FILE_COPY:
		if (a->from >= n_inputs)
			return kl_error_setf(err, EINVAL, "input %u out of range (%zu inputs)",
			                     a->from, n_inputs);
		x->src = inputs[a->from];
		if (!x->src)
			x->src = empty = fileop_empty_tree();
		return fileop_copy(x, err);
	case GRAPH_FILE_MKDIR:
		return fileop_mkdir(x, err);
	case GRAPH_FILE_MKFILE:
		return fileop_mkfile(x, err);
	case GRAPH_FILE_RM:
		return fileop_rm(x, err);
	case GRAPH_FILE_SYMLINK:
		return fileop_symlink(x, err);
	default:
		return kl_error_setf(err, EINVAL, "unknown kind");
	}
}

/* The writer of t itself (base unchanged: the result is base, normalized). */
static int
identity(const struct tree *t, struct tree_writer **ret, struct kl_error **err)
{
	_cleanup_(tree_writer_freep) struct tree_writer *w = tree_writer_new();
	_cleanup_(tree_unrefp) struct tree *none = NULL;
	struct tree_entry root = {.type = TREE_DIR, .flags = TREE_ENTRY_IMPLICIT};

	if (tree_writer_add(w, &root, err) < 0 || tree_writer_finish_tree(w, &none, err) < 0)
		abort();
	return tree_apply(t, none, ret, err);
}

int
fileop_apply(const struct fileop_env *env, const struct graph_file *op, const struct tree *base,
             const struct tree *const *inputs, size_t n_inputs, struct digest *ret,
             struct kl_error **err)
{
	struct fileop_action_ctx x = {.env = env};
	_cleanup_(tree_unrefp) struct tree *cur =
	    base ? tree_ref((struct tree *)base) : fileop_empty_tree();
	struct tree_writer *w = NULL;
	int r = 0;

	for (size_t i = 0; r >= 0 && i < op->n_actions; i++) {
		_cleanup_(fileop_changes_freep) struct fileop_changes *c = fileop_changes_new(cur);

		x.a = &op->actions[i];
		x.c = c;
		x.src = NULL;
		r = run(&x, inputs, n_inputs, err);
		if (r >= 0 && !fileop_changes_empty(c))
			r = fileop_changes_apply(c, &w, err);
		/* The next action reads this one's result: parse it now, so errors land here. */
		if (r >= 0 && w && i + 1 < op->n_actions) {
			struct tree *next = NULL;

			r = tree_writer_finish_tree(w, &next, err);
			w = tree_writer_free(w);
			if (r >= 0) {
				tree_unref(cur);
				cur = next;
			}
		}
		if (r < 0) {
			_cleanup_free_ char *what = describe(x.a);

			kl_error_prefix(err, "%s", what);
		}
	}
	if (r >= 0 && !w)
		r = identity(cur, &w, err);
	if (r >= 0)
		r = tree_writer_write(w, env->store, ret, err);
	tree_writer_free(w);
	uring_free(x.own_ring);
	return r;
}
