/* fileop — file ops as tree algebra: copy (globs, symlinks, chown/chmod, excludes, into a
 * directory or onto a path, as Docker's COPY and ADD do), mkdir, mkfile, rm, symlink, and the
 * merge and diff of whole trees. Only metadata is written: a copied file keeps its content id
 * (digest and locator), so copying a gigabyte writes no byte of content; unchanged subtrees are
 * copied as records, not entry by entry.
 *
 * Pure functions of their input trees: the same inputs give the same tree id. Thread-safe. */
#pragma once
#include <stddef.h>

#include "fs/digest.h"

struct graph_file;
struct graph_file_action;
struct kl_error;
struct provider_set;
struct store;
struct tree;
struct uring_pool;

struct fileop_env {
	struct store *store;
	/* Reads file contents when an action needs them: the destination's /etc/passwd and
	 * /etc/group for names in an owner, an archive to unpack. */
	struct provider_set *providers;
	/* The rings provider reads use, the calling thread's; NULL: a call that needs one makes
	 * its own. */
	struct uring_pool *rings;
};

/* Applies op's actions in order to base (NULL: the empty tree); inputs[i] is the tree of the
 * vertex's input i (NULL for an empty slot), which copy actions name with `from`. Writes the
 * result to the store and its id to ret. Errors name the action and the path, in Docker's words
 * where users know them ("copy '*.c' to '/app/': no source files were specified"). */
int fileop_apply(const struct fileop_env *env, const struct graph_file *op, const struct tree *base,
                 const struct tree *const *inputs, size_t n_inputs, struct digest *ret,
                 struct kl_error **err);

/* The content key of what a copy action selects in src: the sha256 over every selected
 * entry's path (relative to what the copy takes it from), type, mode, owner, link target,
 * content digest and xattrs, in tree order — never mtimes, inode numbers or locators — so the
 * same files give the same key on any machine. A local context's selection is hashed from
 * the context's digests (ctxsrc gives every file one). -ENOENT (err set, Docker's words) when
 * nothing matches and the action does not allow it. */
int fileop_selection_key(const struct graph_file_action *a, const struct tree *src,
                         struct digest *ret, struct kl_error **err);

/* Stacks trees[0..n): each later tree over the result so far, as tree_apply applies a diff
 * (whiteouts and opaque dirs of diff trees honoured; a plain tree's entries replace the same
 * paths). The result is written to the store, its id to ret. */
int fileop_merge(const struct fileop_env *env, const struct tree *const *trees, size_t n,
                 struct digest *ret, struct kl_error **err);
/* The diff tree that turns lower (NULL: empty) into upper, written to the store. */
int fileop_diff(const struct fileop_env *env, const struct tree *lower, const struct tree *upper,
                struct digest *ret, struct kl_error **err);
