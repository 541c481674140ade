/* tree — an immutable snapshot of a filesystem: a sorted list of entries in a compact binary
 * form whose sha256 is the tree's id, so identical filesystems have identical ids.
 *
 * Paths are relative, without a leading slash, "" being the root directory; they may hold any
 * byte but NUL, and '/' only as a separator. Entries are ordered component by component
 * ('/' sorts before every other byte), so a directory's whole subtree follows it directly.
 *
 * A loaded tree is immutable and shared without locks; reading it never allocates: entries are
 * returned as views (struct tree_entry) into the tree's own memory, valid while a reference to
 * the tree is held. Trees are written through a tree_builder. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/digest.h"
#include "util/cleanup.h"

struct kl_error;
struct store;
struct tree;
struct tree_builder;
struct tree_writer;

#define TREE_NONE UINT32_MAX
#define TREE_ROOT 0u                /* index of the root entry in every tree */
#define TREE_MAX_PATH 65535u        /* bytes in a whole path */
#define TREE_MAX_NAME 255u          /* bytes in one component */
#define TREE_MAX_ENTRIES (1u << 26) /* entries in one tree */
#define TREE_MAX_XATTR_VALUE 65536u /* bytes in one xattr value */

enum tree_entry_type {
	TREE_REG,
	TREE_DIR,
	TREE_SYMLINK,
	TREE_HARDLINK, /* link names the path of the TREE_REG it shares an inode with */
	TREE_CHAR,
	TREE_BLOCK,
	TREE_FIFO,
	TREE_WHITEOUT, /* diff trees only: the lower entry at this path (and below) is removed */
	_TREE_TYPE_MAX
};

enum tree_entry_flags {
	TREE_ENTRY_OPAQUE = 1 << 0, /* diff trees, dirs: hide every lower entry below this dir */
	TREE_ENTRY_HAS_DIGEST = 1 << 1, /* digest names the file's bytes in the store */
	/* Dirs nobody listed: made by the builder because a descendant needed them, or by a
	 * layer that omits a parent (fs/tree-layer.h); tree_apply keeps base's entry at that path
	 * when base has a directory there, as docker does. May come with TREE_ENTRY_OPAQUE (base's
	 * directory kept, its children hidden). */
	TREE_ENTRY_IMPLICIT = 1 << 2,
};

/* One extended attribute of an entry. */
struct tree_xattr {
	const char *name; /* NUL-terminated */
	size_t name_len;
	const void *value;
	size_t value_len;
};

struct tree_entry {
	uint32_t index;   /* position in the tree (views only) */
	const char *path; /* NUL-terminated; path_len bytes */
	size_t path_len;
	const char *name; /* last component, inside path; "" for the root */
	size_t name_len;
	enum tree_entry_type type;
	uint32_t flags; /* enum tree_entry_flags */
	uint32_t mode;  /* permission bits including setuid/setgid/sticky (07777) */
	uint32_t uid, gid;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint64_t size;    /* regular files: byte count; symlinks: target length; else 0 */
	uint64_t rdev;    /* char/block devices: makedev(major, minor) */
	const char *link; /* symlink target, or hardlink's target path; NULL otherwise */
	size_t link_len;
	/* A regular file's content: its sha256 when known, and/or a locator saying where the bytes
	 * can be fetched more cheaply ("<scheme>:<provider-specific text>", for example a local
	 * context file, a git blob or a range of a layer blob). A file with neither has no bytes
	 * (size 0). */
	struct digest digest; /* valid with TREE_ENTRY_HAS_DIGEST */
	const char *locator;  /* NULL when none */
	size_t locator_len;
	uint32_t n_xattrs;    /* views: read them with tree_entry_xattr() */
	uint32_t xattr_first; /* views: internal position of the first xattr */
};

/* Loading and the read API. */

/* Loads tree id from the store, verifying the blob's bytes and the format; a corrupt or
 * truncated tree is -EBADMSG with a message naming the id, an absent one -ENOENT (err
 * untouched). Returns a new reference. */
int tree_load(struct store *s, const struct digest *id, struct tree **ret, struct kl_error **err);
/* Parses a serialized tree held in memory; copies nothing, so buf must outlive the tree unless
 * free_fn is given, which the tree calls on buf when it is freed (free, or an munmap wrapper).
 * On failure (-EBADMSG for any malformed input) buf stays the caller's: free_fn is not called. */
typedef void (*tree_release_fn)(void *buf, size_t len);
int tree_parse(const void *buf, size_t len, tree_release_fn free_fn, struct tree **ret,
               struct kl_error **err);
struct tree *tree_ref(struct tree *t);
struct tree *tree_unref(struct tree *t);
KL_DEFINE_CLEANUP(struct tree *, tree_unref)

/* The digest of the serialized form (computed on parse when not loaded from the store). */
const struct digest *tree_id(const struct tree *t);
uint32_t tree_count(const struct tree *t);
/* Fills *ret with a view of entry idx (< tree_count). */
void tree_entry_at(const struct tree *t, uint32_t idx, struct tree_entry *ret);
/* Fills *ret with xattr i (< e->n_xattrs) of entry e; xattrs are sorted by name. */
void tree_entry_xattr(const struct tree *t, const struct tree_entry *e, uint32_t i,
                      struct tree_xattr *ret);
/* Finds a path ("" = root, no leading or trailing slash): its index, or -ENOENT. */
int tree_lookup(const struct tree *t, const char *path, size_t len, uint32_t *ret_idx);
/* Finds name inside directory dir: its index, or -ENOENT. */
int tree_lookup_child(const struct tree *t, uint32_t dir, const char *name, size_t name_len,
                      uint32_t *ret_idx);
/* Directory iteration in name order: first child of dir, next sibling; TREE_NONE at the end. */
uint32_t tree_first_child(const struct tree *t, uint32_t dir);
uint32_t tree_next_sibling(const struct tree *t, uint32_t idx);
uint32_t tree_parent(const struct tree *t, uint32_t idx); /* TREE_NONE for the root */
/* For a TREE_HARDLINK, the index of the entry it links to; otherwise idx itself. */
uint32_t tree_resolve_hardlink(const struct tree *t, uint32_t idx);
/* Number of entries sharing idx's inode (1 + hardlinks to it); dirs: 2 + subdirectories. */
uint32_t tree_nlink(const struct tree *t, uint32_t idx);
/* One past the last index of idx's subtree (idx + 1 for a non-directory). */
uint32_t tree_subtree_end(const struct tree *t, uint32_t idx);
/* Component-wise order of two paths ('/' before every other byte): <0, 0, >0. */
int tree_path_compare(const char *a, size_t alen, const char *b, size_t blen);
/* Records a trust set (store_trust_set_save) named after t's id for t's files below
 * STORE_RECORD_MIN_SIZE whose blobs this process trusts now: where a tree was just made from
 * blobs it wrote or hashed, so a later export of it hashes none of them. Returns how many. */
size_t tree_trust_save(struct store *s, const struct tree *t);
/* tree_trust_save of the serialized tree buf (0 when it does not parse). */
size_t tree_trust_save_serialized(struct store *s, const void *buf, size_t len);

/* Building. The builder copies everything it is given. Entries may be added in any order;
 * missing parent directories are created (mode 0755, owner 0:0, mtime 0, flagged
 * TREE_ENTRY_IMPLICIT) and so is the root. */

struct tree_builder *tree_builder_new(void);
struct tree_builder *tree_builder_free(struct tree_builder *b);
KL_DEFINE_CLEANUP(struct tree_builder *, tree_builder_free)
/* Adds e (its index, n_xattrs and xattr_first are ignored) with xattrs[0..n_xattrs). Fails with
 * -EINVAL and a message naming the path for an unclean path, a name or path too long, a link
 * on the wrong type, or too many entries; likewise for a root that is not a directory, mode
 * bits outside 07777, mtime_nsec >= 1e9, a digest or locator on a non-regular file, an opaque
 * or implicit non-directory, a link or locator over 65535 bytes, and a bad or repeated xattr
 * name; -EEXIST for a path added twice. The digest is kept only with TREE_ENTRY_HAS_DIGEST, an
 * empty locator is none, and xattrs may come in any order. */
int tree_builder_add(struct tree_builder *b, const struct tree_entry *e,
                     const struct tree_xattr *xattrs, size_t n_xattrs, struct kl_error **err);
/* Adds entry idx of t with its xattrs, at the same path. */
int tree_builder_add_from(struct tree_builder *b, const struct tree *t, uint32_t idx,
                          struct kl_error **err);
/* Serializes: sorts, checks (a parent that is not a directory, a hardlink to a missing or
 * non-regular entry: -EINVAL naming the path), and returns the canonical bytes (malloc'd). */
int tree_builder_serialize(struct tree_builder *b, char **ret_buf, size_t *ret_len,
                           struct kl_error **err);
/* Serializes into the store; the id is written to ret. */
int tree_builder_write(struct tree_builder *b, struct store *s, struct digest *ret,
                       struct kl_error **err);
/* tree_builder_write, then tree_trust_save: for a tree of blobs this process just wrote or
 * hashed (an import, a diff to export). */
int tree_builder_write_trusted(struct tree_builder *b, struct store *s, struct digest *ret,
                               struct kl_error **err);

/* Diffs (trees holding whiteouts and opaque directories). A layer tar becomes one, and one
 * becomes a tar again, through fs/tree-layer.h. */

/* Builds the diff that turns lower into upper: entries of upper that are new or differ from
 * lower (any field, xattrs included, TREE_ENTRY_IMPLICIT aside), their parent directories,
 * and whiteouts for lower entries gone from upper (one at the top of each removed subtree).
 * A file the diff holds brings every other name upper gives its inode (tree_apply makes it a
 * new inode). Entries are upper's without TREE_ENTRY_IMPLICIT: a diff holds no implicit
 * directory. */
int tree_diff(const struct tree *lower, const struct tree *upper, struct tree_builder **ret,
              struct kl_error **err);
/* Merges diff into base: a whiteout removes the path and its subtree, an opaque directory
 * drops base's entries below it, an implicit directory over a directory of base keeps base's
 * entry (metadata and xattrs; flagged opaque too, it keeps them but drops base's children),
 * any other entry replaces base's at its path (a non-directory replacing a directory removes
 * its subtree). A file of base that the diff removes or replaces lives on under base's other
 * names of it that the diff leaves alone, as after unlink and create, and as overlayfs shows a
 * lower hardlink whose other name was copied up: the first of them in tree order becomes a
 * copy of it, the others link to that copy. The result has no whiteouts, opaque or implicit
 * flags (unless base held some).
 *
 * The result is streamed into a new writer (ret), for tree_writer_finish() or
 * tree_writer_write(): the walk goes down only the diff's directories, and the runs of base
 * entries it leaves alone are copied as records, so applying a small diff to a large tree
 * costs a copy of base's bytes, not a rebuild. */
int tree_apply(const struct tree *base, const struct tree *diff, struct tree_writer **ret,
               struct kl_error **err);
