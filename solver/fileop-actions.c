// SPDX-License-Identifier: Apache-2.0
/* The simple file actions, mkdir, mkfile, rm and symlink, as BuildKit's FileOp backend does
 * them (fs.RootPath resolution, MkdirAll, a file replaced by rename, RemoveAll). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/store.h"
#include "solver/fileop-internal.h"
#include "solver/fileop.h"
#include "solver/graph.h"
#include "util/error.h"
#include "util/xalloc.h"

static int64_t
mtime_of(const struct graph_file_action *a)
{
	return a->has_timestamp ? a->timestamp : 0;
}

/* The action's path, cleaned and resolved in the action's tree (following a last symlink
 * too, as fs.RootPath does). */
static int
resolve(struct fileop_action_ctx *x, const char *what, char **ret, uint32_t *ret_idx,
        struct kl_error **err)
{
	_cleanup_free_ char *path = fileop_path_clean(x->a->cwd, x->a->src ? x->a->src : "", NULL);

	return fileop_path_resolve(fileop_changes_base(x->c), path, strlen(path), true, what, ret,
	                           ret_idx, err);
}

/* The parent of path must be a directory: -ENOENT (or -ENOTDIR) naming it otherwise. */
static int
check_parent(struct fileop_action_ctx *x, const char *path, struct kl_error **err)
{
	size_t plen = fileop_path_dirname(path, strlen(path));
	struct fileop_node node;

	fileop_changes_get(x->c, path, plen, &node);
	if (!node.exists)
		return kl_error_setf(err, ENOENT, "/%.*s: no such file or directory", (int)plen,
		                     path);
	if (node.type != TREE_DIR)
		return kl_error_setf(err, ENOTDIR, "/%.*s: not a directory", (int)plen, path);
	return 0;
}

int
fileop_mkdir(struct fileop_action_ctx *x, struct kl_error **err)
{
	const struct graph_file_action *a = x->a;
	_cleanup_free_ char *path = NULL;
	struct fileop_owner owner;
	struct fileop_node node;
	uint32_t mode = a->has_mode ? a->mode & 0777 : 0755, idx;
	struct tree_entry e;
	int r;

	r = resolve(x, "mkdir", &path, &idx, err);
	if (r >= 0)
		r = fileop_owner_resolve(x, fileop_changes_base(x->c), &a->owner, &owner, err);
	if (r < 0)
		return r;
	if (a->create_parents)
		return fileop_changes_mkdir_all(x->c, path, strlen(path), mode, &owner, mtime_of(a),
		                                "mkdir", err);
	fileop_changes_get(x->c, path, strlen(path), &node);
	if (node.exists)
		return 0; /* os.Mkdir's EEXIST, which BuildKit ignores */
	r = check_parent(x, path, err);
	if (r < 0)
		return r;
	e = (struct tree_entry){
	    .path = path,
	    .path_len = strlen(path),
	    .type = TREE_DIR,
	    .mode = mode,
	    .uid = owner.uid,
	    .gid = owner.gid,
	    .mtime_sec = mtime_of(a),
	};
	fileop_changes_put(x->c, &e, NULL, 0);
	return 0;
}

int
fileop_mkfile(struct fileop_action_ctx *x, struct kl_error **err)
{
	const struct graph_file_action *a = x->a;
	_cleanup_free_ char *path = NULL;
	struct fileop_owner owner;
	struct fileop_node node;
	uint32_t idx;
	struct tree_entry e;
	int r;

	r = resolve(x, "mkfile", &path, &idx, err);
	if (r >= 0 && path[0] == '\0')
		r = kl_error_setf(err, EISDIR, "mkfile /: is a directory");
	if (r >= 0)
		r = check_parent(x, path, err);
	if (r < 0)
		return r;
	fileop_changes_get(x->c, path, strlen(path), &node);
	if (node.exists && node.type == TREE_DIR)
		return kl_error_setf(err, EISDIR, "rename /%s: is a directory", path);
	r = fileop_owner_resolve(x, fileop_changes_base(x->c), &a->owner, &owner, err);
	if (r < 0)
		return r;
	e = (struct tree_entry){
	    .path = path,
	    .path_len = strlen(path),
	    .type = TREE_REG,
	    .mode = a->has_mode ? a->mode & 0777 : 0644,
	    .uid = owner.uid,
	    .gid = owner.gid,
	    .mtime_sec = mtime_of(a),
	    .size = a->data_len,
	};
	if (a->data_len) { /* an empty file has no bytes to name */
		r = store_ingest_buffer(x->env->store, a->data, a->data_len, &e.digest, err);
		if (r < 0)
			return r;
		e.flags = TREE_ENTRY_HAS_DIGEST;
	}
	fileop_changes_put(x->c, &e, NULL, 0);
	return 0;
}

/* Removes one path: its parent resolved, the last component itself (a symlink, not what it
 * points to), as BuildKit's rmPath. */
static int
rm_path(struct fileop_action_ctx *x, const char *path, bool allow_not_found, struct kl_error **err)
{
	const struct tree *base = fileop_changes_base(x->c);
	size_t plen = fileop_path_dirname(path, strlen(path));
	const char *name = path + (plen ? plen + 1 : 0);
	_cleanup_free_ char *dir = NULL, *full = NULL, *followed = NULL;
	uint32_t idx, followed_idx;
	int r;

	if (path[0] == '\0')
		return kl_error_setf(err, EINVAL, "rmPath: invalid empty path");
	r = fileop_path_resolve(base, path, plen, true, "rm", &dir, &idx, err);
	if (r < 0)
		return r;
	full = fileop_path_join(dir, strlen(dir), name, strlen(name));
	if (idx == TREE_NONE || tree_lookup_child(base, idx, name, strlen(name), &idx) < 0)
		idx = TREE_NONE;
	if (!allow_not_found) {
		/* os.Stat: a dangling symlink is not found either */
		r = fileop_path_resolve(base, full, strlen(full), true, "rm", &followed,
		                        &followed_idx, NULL);
		if (r < 0 || followed_idx == TREE_NONE)
			return kl_error_setf(err, ENOENT, "stat /%s: no such file or directory",
			                     full);
	}
	if (idx != TREE_NONE)
		fileop_changes_whiteout(x->c, full, strlen(full));
	return 0;
}

int
fileop_rm(struct fileop_action_ctx *x, struct kl_error **err)
{
	const struct graph_file_action *a = x->a;
	_cleanup_free_ char *path = fileop_path_clean(a->cwd, a->src ? a->src : "", NULL);
	struct fileop_matches m = {0};
	int r = 0;

	if (!a->allow_wildcard || !fileop_glob_has_wildcards(path, strlen(path)))
		return rm_path(x, path, a->allow_not_found, err);
	r = fileop_glob(fileop_changes_base(x->c), path, false, &m, err);
	for (size_t i = 0; r >= 0 && i < m.n; i++)
		r = rm_path(x, m.v[i], a->allow_not_found, err);
	fileop_matches_done(&m);
	return r;
}

int
fileop_symlink(struct fileop_action_ctx *x, struct kl_error **err)
{
	const struct graph_file_action *a = x->a;
	_cleanup_free_ char *path = NULL;
	struct fileop_owner owner;
	struct fileop_node node;
	uint32_t idx;
	struct tree_entry e;
	int r;

	if (!a->target || !*a->target)
		return kl_error_setf(err, EINVAL, "symlink without a target");
	r = resolve(x, "symlink", &path, &idx, err);
	if (r < 0)
		return r;
	fileop_changes_get(x->c, path, strlen(path), &node);
	if (node.exists)
		return kl_error_setf(err, EEXIST, "symlink /%s: file exists", path);
	r = check_parent(x, path, err);
	if (r >= 0)
		r = fileop_owner_resolve(x, fileop_changes_base(x->c), &a->owner, &owner, err);
	if (r < 0)
		return r;
	e = (struct tree_entry){
	    .path = path,
	    .path_len = strlen(path),
	    .type = TREE_SYMLINK,
	    .mode = 0777,
	    .uid = owner.uid,
	    .gid = owner.gid,
	    .mtime_sec = mtime_of(a),
	    .link = a->target,
	    .link_len = strlen(a->target),
	    .size = strlen(a->target),
	};
	fileop_changes_put(x->c, &e, NULL, 0);
	return 0;
}
