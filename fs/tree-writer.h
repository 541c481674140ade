/* tree-writer — a serialized tree written straight from entries given in the tree's own order,
 * and runs of whole subtrees copied from an existing tree with their records patched, not
 * rebuilt.
 *
 * The builder (tree.h) takes entries in any order and pays for it with a path table and a
 * sort; a source that walks in order anyway (git trees, the merge of a tree and a diff) needs
 * neither, and a tree derived from an earlier one copies what did not change: a copy costs a
 * memcpy of the records, xattrs and strings plus one pass patching their offsets. The bytes
 * are the same canonical serialization the builder makes. Hardlinks (added or copied) name
 * their target by path; the writer finds each target when the tree ends, so a target may come
 * before or after its links. One writer per thread. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/tree.h"
#include "util/cleanup.h"

struct kl_error;
struct store;
struct tree_writer;

struct tree_writer *tree_writer_new(void);
struct tree_writer *tree_writer_free(struct tree_writer *w);
KL_DEFINE_CLEANUP(struct tree_writer *, tree_writer_free)

/* Adds e without xattrs (checked as tree_builder_add checks it; e->index and the xattr fields
 * are ignored). The first entry is the root directory ""; each later one must follow the
 * previous one in tree_path_compare() order and have its parent directory among the entries
 * still open (added, not copied). -EINVAL naming the path otherwise. */
int tree_writer_add(struct tree_writer *w, const struct tree_entry *e, struct kl_error **err);
/* As tree_writer_add, with xattrs[0..n_xattrs) in any order (a name given twice: -EINVAL). */
int tree_writer_add_xattrs(struct tree_writer *w, const struct tree_entry *e,
                           const struct tree_xattr *xattrs, size_t n_xattrs, struct kl_error **err);
/* Adds view e of t, possibly altered by the caller (path, name, type, flags, link…), with the
 * xattrs e->xattr_first and e->n_xattrs name in t. Only the order and parent rules are
 * checked: t was validated when parsed and the caller keeps the alterations valid. */
int tree_writer_add_view(struct tree_writer *w, const struct tree *t, const struct tree_entry *e,
                         struct kl_error **err);

/* How tree_writer_copy_range copies. */
struct tree_writer_copy_opts {
	bool set_mtime; /* every mtime becomes mtime_sec.mtime_nsec; otherwise kept */
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint32_t clear_flags; /* TREE_ENTRY_IMPLICIT and/or _OPAQUE: removed from every entry */
};

/* Adds entries [first, end) of t at the same paths: whole subtrees of siblings (first is a
 * child of some directory of t, end the subtree end of one of its later siblings or its
 * own), xattrs and hardlinks included; first follows the order and parent rules. NULL opts
 * copy every field as it is. -EINVAL for a range that is not such a run or that holds the
 * root. */
int tree_writer_copy_range(struct tree_writer *w, const struct tree *t, uint32_t first,
                           uint32_t end, const struct tree_writer_copy_opts *opts,
                           struct kl_error **err);
/* Adds entry idx of t and its whole subtree, at the same paths, with every mtime set to
 * mtime_sec.mtime_nsec (tree_writer_copy_range of one subtree). -ENOTSUP (err untouched) for
 * the root, which has no parent to copy it into. */
int tree_writer_copy(struct tree_writer *w, const struct tree *t, uint32_t idx, int64_t mtime_sec,
                     uint32_t mtime_nsec, struct kl_error **err);

/* Ends the tree: finds every hardlink's target (-EINVAL naming the link when its target path
 * is missing or not a regular file) and returns the serialized bytes (malloc'd). The writer
 * is spent either way. */
int tree_writer_finish(struct tree_writer *w, char **ret_buf, size_t *ret_len,
                       struct kl_error **err);
/* tree_writer_finish into the store; the tree's id is written to ret. */
int tree_writer_write(struct tree_writer *w, struct store *s, struct digest *ret,
                      struct kl_error **err);
/* tree_writer_finish, then the bytes parsed into a tree that owns them (its id computed). */
int tree_writer_finish_tree(struct tree_writer *w, struct tree **ret, struct kl_error **err);
