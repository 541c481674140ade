/* tree-xattrs — reading an entry's extended attributes from disk for a tree, shared by the
 * directory importer and the build-context scanner. */
#pragma once
#include <stddef.h>

#include "fs/tree.h"

struct kl_error;

/* An entry's xattrs: xs[0..n) point into names and values, which the list owns. */
struct tree_xattr_list {
	char *names;
	char *values;
	struct tree_xattr *xs;
	size_t n;
};

/* Reads the xattrs of name in dir_fd (name "." is the directory itself) into an empty list l,
 * without following a symlink; a filesystem without xattrs gives none. Values over
 * TREE_MAX_XATTR_VALUE bytes fail with -E2BIG. Errors name shown_path. On failure l may hold
 * part of the xattrs: clear it with tree_xattr_list_done() either way. */
int tree_xattrs_read(int dir_fd, const char *name, const char *shown_path,
                     struct tree_xattr_list *l, struct kl_error **err);

/* Frees what l holds and empties it. */
void tree_xattr_list_done(struct tree_xattr_list *l);

/* Packs xattrs into one new buffer (each: name, NUL, u32 little-endian value length, value),
 * as the context stat cache keeps them. */
void tree_xattrs_encode(const struct tree_xattr *xs, size_t n, char **ret, size_t *ret_len);
/* Unpacks what tree_xattrs_encode made into an empty list l (which then owns a copy);
 * -EBADMSG, and l empty, when buf is not such an encoding or names an xattr twice. */
int tree_xattrs_decode(const void *buf, size_t len, struct tree_xattr_list *l);
