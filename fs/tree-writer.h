/* tree-writer — a serialized tree written straight from entries given in the tree's own order,
 * and whole subtrees copied from an existing tree with their records patched, not rebuilt.
 *
 * The builder (tree.h) takes entries in any order and pays for it with a path table and a
 * sort; a source that walks in order anyway (git trees) needs neither, and a tree derived from
 * an earlier one (another commit of the same repository) copies what did not change. The bytes
 * are the same canonical serialization the builder makes. Entries carry no xattrs and no
 * hardlinks: those need the builder. One writer per thread. */
#pragma once
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

/* Adds e (checked as tree_builder_add checks it; e->index and the xattr fields are ignored).
 * The first entry is the root directory ""; each later one must follow the previous one in
 * tree_path_compare() order and have its parent directory among the entries still open (added,
 * not copied). -EINVAL naming the path otherwise, and for a hardlink. */
int tree_writer_add(struct tree_writer *w, const struct tree_entry *e, struct kl_error **err);
/* Adds entry idx of t and its whole subtree, at the same paths, with every mtime set to
 * mtime_sec.mtime_nsec; the same order and parent rules apply to entry idx. -ENOTSUP (err
 * untouched) when the subtree holds xattrs or hardlinks: add its entries one by one then. */
int tree_writer_copy(struct tree_writer *w, const struct tree *t, uint32_t idx, int64_t mtime_sec,
                     uint32_t mtime_nsec, struct kl_error **err);
/* Ends the tree: its serialized bytes (malloc'd). The writer is spent either way. */
int tree_writer_finish(struct tree_writer *w, char **ret_buf, size_t *ret_len,
                       struct kl_error **err);
/* tree_writer_finish into the store; the tree's id is written to ret. */
int tree_writer_write(struct tree_writer *w, struct store *s, struct digest *ret,
                      struct kl_error **err);
