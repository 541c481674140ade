/* tree-layer — a layer as a diff tree, both ways. The collector takes a layer's entries in the
 * order its tar (or table of contents) lists them and applies them the way tar extraction and
 * containerd's applier do; the walk gives a diff tree's entries in tar order with whiteouts and
 * opaque markers as items of their own.
 *
 * Paths are clean tree paths ("" is the root); how a tar spells them, whiteouts and opaque
 * markers included, is the caller's business (oci/whiteout.h), so fs/ knows no tar names.
 *
 * The collector's rules:
 *  - a later entry for a path replaces the earlier one; a directory over a directory keeps its
 *    children and takes the later metadata (mode, owner, times, xattrs); anything else removes
 *    what was there, a directory's whole subtree included;
 *  - the root ("") takes the metadata of a directory entry at "", and is explicit from then on;
 *  - parents a layer does not list are implicit directories (0755, 0:0, TREE_ENTRY_IMPLICIT):
 *    applying the diff keeps the lower layer's directory there;
 *  - whiteouts and opaque markers hide what lower layers hold, never entries of the same layer,
 *    wherever they come: a whited-out or non-directory path that (later) holds a directory
 *    makes it opaque, and one that had no directory entry of its own a fresh one (0755, 0:0);
 *    an opaque marker in an implicit directory leaves it implicit (lower's metadata kept,
 *    lower's children hidden);
 *  - a hardlink shares the regular file its target path holds when the link is added; when
 *    that path is replaced later, the content survives under the links' names (the first in
 *    tree order becomes the regular file, the others link to it). A hardlink to a symlink,
 *    device or fifo becomes a copy of it. A target not (or no longer) in this layer, a
 *    directory or a whiteout is an error;
 *  - an entry below a non-directory is an error.
 * Errors are -EBADMSG with a message "layer SOURCE: …" naming the entry.
 *
 * Each add costs O(path length) (a hash map path → entry), a replaced directory O(subtree), and
 * finishing O(n log n): layers of millions of entries stream through. Not thread-safe. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "util/cleanup.h"

struct kl_error;
struct tree;
struct tree_builder;
struct tree_entry;
struct tree_xattr;

struct tree_layer;

/* A new, empty layer; source names it in messages (a layer digest). */
struct tree_layer *tree_layer_new(const char *source);
struct tree_layer *tree_layer_free(struct tree_layer *l);
KL_DEFINE_CLEANUP(struct tree_layer *, tree_layer_free)

/* Adds e at e->path (clean, "" for the root) with xattrs x[0..n_x); everything is copied.
 * e->type TREE_WHITEOUT whites out the lower layers' path (other fields ignored); for
 * TREE_HARDLINK e->link is the clean path of the entry linked to (size, digest and locator
 * ignored). e's index, name, n_xattrs and xattr_first are ignored, and of its flags only
 * TREE_ENTRY_HAS_DIGEST counts. Fields are checked as tree_builder_add checks them. */
int tree_layer_add(struct tree_layer *l, const struct tree_entry *e, const struct tree_xattr *x,
                   size_t n_x, struct kl_error **err);
/* An opaque marker in directory dir (clean, "" for the root): lower layers' entries below it
 * are hidden. */
int tree_layer_add_opaque(struct tree_layer *l, const char *dir, size_t len, struct kl_error **err);
/* Builds the diff tree of everything added (the layer stays usable but should be freed). */
int tree_layer_finish(struct tree_layer *l, struct tree_builder **ret, struct kl_error **err);

/* The walk. */

enum tree_layer_item {
	TREE_LAYER_ENTRY,    /* an entry to write as it is */
	TREE_LAYER_WHITEOUT, /* e is a TREE_WHITEOUT: write a whiteout of e->path */
	TREE_LAYER_OPAQUE,   /* e is the opaque directory just given (or implicit): its marker */
	_TREE_LAYER_ITEM_MAX
};

/* One item; e is a view into diff (its xattrs read with tree_entry_xattr(diff, e, i)), valid
 * during the call. A negative return stops the walk and is returned by tree_layer_walk. */
typedef int (*tree_layer_walk_fn)(const struct tree *diff, enum tree_layer_item item,
                                  const struct tree_entry *e, void *userdata);
/* Calls fn for diff's entries in tree order, which is an order tar extraction accepts:
 * implicit directories are left out (extraction creates missing parents, keeping a lower
 * layer's), an opaque directory is followed by TREE_LAYER_OPAQUE, and a hardlink that sorts
 * before its target is given as the regular file (path of the link, content and metadata of
 * the target) while the target's own name becomes a hardlink to it. */
int tree_layer_walk(const struct tree *diff, tree_layer_walk_fn fn, void *userdata);
