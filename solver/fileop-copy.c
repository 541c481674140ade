// SPDX-License-Identifier: Apache-2.0
/* The copy action as BuildKit's FileOp copy (fsutil's copier) does it, over trees: every
 * selected entry is put at its destination path with its content id, so no byte moves. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "solver/fileop-internal.h"
#include "solver/graph.h"
#include "util/error.h"
#include "util/xalloc.h"

struct copier {
	struct fileop_action_ctx *x;
	const struct graph_file_action *a;
	struct fileop_owner owner;
	const char *target; /* where the current match goes */
	size_t target_len;
};

/* The action's chmod, chown and timestamp on an entry it writes: the mode on everything but
 * symlinks (whose mode nothing reads), as fsutil's copyFileInfo. */
static void
override(const struct copier *cp, struct tree_entry *e)
{
	if (cp->a->has_mode && e->type != TREE_SYMLINK)
		e->mode = cp->a->mode & 07777;
	if (cp->owner.set) {
		e->uid = cp->owner.uid;
		e->gid = cp->owner.gid;
	}
	if (cp->a->has_timestamp) {
		e->mtime_sec = cp->a->timestamp;
		e->mtime_nsec = 0;
	}
	e->flags &= ~(uint32_t)(TREE_ENTRY_IMPLICIT | TREE_ENTRY_OPAQUE);
}

static int
copy_item(void *userdata, const struct fileop_item *it, struct kl_error **err)
{
	struct copier *cp = userdata;
	const struct tree *src = cp->x->src;
	_cleanup_free_ char *path =
	    fileop_path_join(cp->target, cp->target_len, it->rel, it->rel_len);
	_cleanup_free_ char *link = NULL;
	size_t len = strlen(path);
	struct fileop_node node;
	struct tree_entry e;

	tree_entry_at(src, it->idx, &e);
	if (e.type == TREE_WHITEOUT)
		return 0; /* a source that is a diff: nothing to copy there */
	fileop_changes_get(cp->x->c, path, len, &node);
	if (e.type == TREE_DIR) {
		if (node.exists && node.type != TREE_DIR)
			return kl_error_setf(err, ENOTDIR, "cannot copy to non-directory: /%s",
			                     path);
		/* The destination directory a copy goes into keeps its own metadata. */
		if (it->rel_len == 0 && node.exists) {
			if (!node.changed)
				fileop_changes_keep_dir(cp->x->c, path, len);
			return 0;
		}
	} else if (node.exists && node.type == TREE_DIR) {
		return kl_error_setf(err, EISDIR, "cannot replace to directory /%s with file",
		                     path);
	}
	e.path = path;
	e.path_len = len;
	override(cp, &e);
	if (it->link_rel) {
		link = fileop_path_join(cp->target, cp->target_len, it->link_rel, it->link_rel_len);
		e = (struct tree_entry){
		    .path = path,
		    .path_len = len,
		    .type = TREE_HARDLINK,
		    .mode = e.mode,
		    .uid = e.uid,
		    .gid = e.gid,
		    .mtime_sec = e.mtime_sec,
		    .mtime_nsec = e.mtime_nsec,
		    .link = link,
		    .link_len = strlen(link),
		};
		fileop_changes_put(cp->x->c, &e, NULL, 0);
		return 0;
	}
	fileop_changes_put_view(cp->x->c, src, &e);
	return 0;
}

/* Makes path's missing directories as fsutil's MkdirAll does for a copy: 0755, the owner,
 * the timestamp. */
static int
mkdir_all(struct copier *cp, const char *path, size_t len, struct kl_error **err)
{
	return fileop_changes_mkdir_all(cp->x->c, path, len, 0755, &cp->owner,
	                                cp->a->has_timestamp ? cp->a->timestamp : 0, "copy", err);
}

/* The destination exists before anything is copied: its parent, or with a trailing slash
 * itself. */
static int
prepare_dest(struct copier *cp, const char *dest, bool into, const char *resolved,
             struct kl_error **err)
{
	const struct tree *base = fileop_changes_base(cp->x->c);
	_cleanup_free_ char *parent = NULL;
	uint32_t idx;
	int r;

	if (into)
		return mkdir_all(cp, resolved, strlen(resolved), err);
	r = fileop_path_resolve(base, dest, fileop_path_dirname(dest, strlen(dest)), true, "copy",
	                        &parent, &idx, err);
	if (r < 0)
		return r;
	if (!cp->a->create_parents && idx == TREE_NONE)
		return kl_error_setf(err, ENOENT, "failed to stat /%s: no such file or directory",
		                     parent);
	return mkdir_all(cp, parent, strlen(parent), err);
}

static const char *
base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* One match: where it goes, as fsutil's prepareTargetDir decides, then its entries. */
static int
copy_match(struct copier *cp, const struct fileop_selector *sel, const char *m, const char *dest,
           struct kl_error **err)
{
	const struct tree *src = cp->x->src;
	_cleanup_free_ char *target = NULL;
	size_t dest_len = strlen(dest);
	struct fileop_node node;
	struct tree_entry e;
	uint32_t idx;
	bool is_dir;
	int r;

	r = fileop_copy_source_entry(cp->a, src, m, &idx, err);
	if (r < 0)
		return r;
	tree_entry_at(src, idx, &e);
	if (cp->a->unpack && e.type == TREE_REG) {
		r = fileop_unpack(cp->x, idx, dest, dest_len, &cp->owner, err);
		if (r != 0)
			return r < 0 ? r : 0;
	}
	is_dir = e.type == TREE_DIR;
	fileop_changes_get(cp->x->c, dest, dest_len, &node);
	if ((!cp->a->dir_contents && is_dir && node.exists) ||
	    (!is_dir && node.exists && node.type == TREE_DIR))
		target = fileop_path_join(dest, dest_len, base_name(m), strlen(base_name(m)));
	else
		target = xstrdup(dest);
	if (cp->a->dir_contents && is_dir && !node.exists)
		r = mkdir_all(cp, target, strlen(target), err);
	else
		r = mkdir_all(cp, target, fileop_path_dirname(target, strlen(target)), err);
	if (r < 0)
		return r;
	cp->target = target;
	cp->target_len = strlen(target);
	return fileop_select(sel, src, idx, copy_item, cp, err);
}

int
fileop_copy(struct fileop_action_ctx *x, struct kl_error **err)
{
	const struct graph_file_action *a = x->a;
	const struct tree *base = fileop_changes_base(x->c);
	_cleanup_(fileop_selector_freep) struct fileop_selector *sel = NULL;
	_cleanup_free_ char *dest = NULL, *resolved = NULL;
	struct fileop_matches m = {0};
	struct copier cp = {.x = x, .a = a};
	struct fileop_node node;
	uint32_t idx;
	bool into;
	int r;

	r = fileop_copy_sources(a, x->src, &m, err);
	if (r >= 0 && m.n == 0 && !a->allow_empty_wildcard)
		r = kl_error_setf(err, ENOENT, "no source files were specified");
	if (r >= 0 && m.n > 0)
		r = fileop_selector_new(a, &sel, err);
	if (r >= 0 && m.n > 0)
		r = fileop_owner_resolve(x, base, &a->owner, &cp.owner, err);
	if (r < 0 || m.n == 0)
		goto out;
	dest = fileop_path_clean(a->cwd, a->dest ? a->dest : "", &into);
	r = fileop_path_resolve(base, dest, strlen(dest), true, "copy", &resolved, &idx, err);
	if (r < 0)
		goto out;
	fileop_changes_get(x->c, resolved, strlen(resolved), &node);
	if (m.n > 1 && !into && !(node.exists && node.type == TREE_DIR)) {
		r = kl_error_setf(err, EINVAL,
		                  "when using COPY with more than one source file, the destination "
		                  "must be a directory and end with a /");
		goto out;
	}
	r = prepare_dest(&cp, dest, into, resolved, err);
	for (size_t i = 0; r >= 0 && i < m.n; i++)
		r = copy_match(&cp, sel, m.v[i], resolved, err);
out:
	fileop_matches_done(&m);
	return r;
}
