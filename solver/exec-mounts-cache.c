// SPDX-License-Identifier: Apache-2.0
/* type=cache: an instance of the cache, chosen and locked by its sharing mode, made from the
 * mount's input (from/source) when it is new, bound at the target. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "fs/store.h"
#include "fs/tree.h"
#include "solver/exec-cache.h"
#include "solver/exec-internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

#define PRIVATE_MAX 1024 /* instances one cache may grow to */

/* The lazy view of the mount's seed (from + source), resolved in its tree; NULL without. */
static int
seed_path(struct exec_step *st, size_t i, const struct graph_mount *m, char **ret,
          struct kl_error **err)
{
	const struct digest *id = st->mount_inputs ? st->mount_inputs[i] : NULL;
	_cleanup_(tree_unrefp) struct tree *t = NULL;
	_cleanup_free_ char *rel = NULL, *base = NULL;
	const char *src = m->source && *m->source ? m->source : "/";
	struct tree_entry e;
	uint32_t idx;
	bool exists;
	int r;

	*ret = NULL;
	if (m->input == GRAPH_NO_INPUT || !id)
		return 0;
	r = tree_load(st->env->store, id, &t, err);
	if (r == -ENOENT)
		return kl_error_setf(err, ENOENT, "its input tree is not in the store");
	if (r < 0)
		return r;
	r = exec_tree_resolve(t, src, &rel, &exists);
	if (r < 0 || !exists)
		return kl_error_setf(err, ENOENT, "source '%s' is not in its input", src);
	(void)tree_lookup(t, rel, strlen(rel), &idx);
	tree_entry_at(t, idx, &e);
	if (e.type != TREE_DIR)
		return kl_error_setf(err, ENOTDIR, "source '%s' is not a directory", src);
	base = exec_lazy_path(st->env, id);
	*ret = *rel ? xasprintf("%s/%s", base, rel) : TAKE_PTR(base);
	return 0;
}

int
exec_mount_cache(struct exec_step *st, size_t i, const struct graph_mount *m, struct kl_error **err)
{
	const char *id = m->id && *m->id ? m->id : m->target;
	_cleanup_free_ char *seed = NULL, *source = NULL;
	_cleanup_close_ int dir_fd = -1, lock = -1;
	struct exec_cache_new fresh = {
	    .mode = m->has_mode ? m->mode : 0755, .uid = m->uid, .gid = m->gid};
	struct exec_spec_mount *sm;
	unsigned instance = 0;
	bool created;
	int r;

	r = seed_path(st, i, m, &seed, err);
	if (r < 0)
		return r;
	fresh.seed = seed;
	r = exec_cache_open(st->env->store, id, /* create= */ true, &dir_fd, err);
	if (r < 0)
		return r;
	if (m->sharing == GRAPH_CACHE_PRIVATE) {
		/* the first instance nobody holds, or a new one */
		for (;; instance++) {
			if (instance >= PRIVATE_MAX)
				return kl_error_setf(
				    err, EBUSY, "cache '%s' has %u instances in use", id, instance);
			r = exec_cache_lock(dir_fd, instance, LOCK_EX | LOCK_NB, -1, &lock, err);
			if (r == 0)
				break;
			if (r != -EWOULDBLOCK)
				return r;
		}
	} else {
		r = exec_cache_lock(dir_fd, 0, m->sharing == GRAPH_CACHE_LOCKED ? LOCK_EX : LOCK_SH,
		                    st->env->cancel_fd, &lock, err);
		if (r < 0)
			return r;
	}
	r = exec_cache_instance(dir_fd, instance, &fresh, &created, err);
	if (r < 0)
		return r;
	{
		_cleanup_free_ char *dir = exec_cache_path(st->env->store, id);
		source = xasprintf("%s/%u", dir, instance);
	}
	sm = exec_step_add_mount(st, m->target, "bind", source);
	exec_spec_mount_option(sm, "rbind");
	if (m->readonly)
		exec_spec_mount_option(sm, "ro");
	st->locks = xgrow(st->locks, &st->cap_locks, st->n_locks + 1, sizeof(*st->locks));
	st->locks[st->n_locks++] = TAKE_FD(lock);
	return 0;
}
