/* fileop-internal — what the file-op sources share: paths in trees, globs, the selection a copy
 * makes, owners, and the changes an action makes to its tree before they are applied. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/tree.h"
#include "util/cleanup.h"

struct fileop_env;
struct graph_file_action;
struct graph_owner;
struct kl_error;
struct tree_writer;
struct uring;
struct fileop_action_ctx;

/* Paths (fileop-path.c). Tree paths are clean and relative, "" being the root. */

/* Joins cwd (NULL: "/") and p as BuildKit's cleanPath and filepath.Join("/", …) do: "." and
 * ".." are resolved lexically, ".." stopping at the root. *ret_dir (may be NULL) tells whether
 * p ends with "/" or "/." (Docker's "into this directory"). A new string. */
char *fileop_path_clean(const char *cwd, const char *p, bool *ret_dir);
/* The parent of a clean path ("" for a top-level name and for the root): its length. */
size_t fileop_path_dirname(const char *path, size_t len);
/* "a" + "b" → "a/b", "" + "b" → "b", "a" + "" → "a"; a new string. */
char *fileop_path_join(const char *a, size_t alen, const char *b, size_t blen);

/* Resolves path in t as continuity's fs.RootPath does, inside t: a symlink met on the way is
 * replaced by its target (an absolute one starts again at the root, ".." never climbs above
 * it), the last component too when follow_last; components that do not exist are kept as
 * they are. The resolved path goes to *ret_path (a new string) and its entry to *ret_idx
 * (TREE_NONE when it does not exist). -ENOTDIR when a component with more after it is a
 * non-directory, -ELOOP after 255 links; err names shown. */
int fileop_path_resolve(const struct tree *t, const char *path, size_t len, bool follow_last,
                        const char *shown, char **ret_path, uint32_t *ret_idx,
                        struct kl_error **err);

/* Globs (fileop-glob.c). */

/* Whether one of the bytes is '*', '?' or '[' (a backslash escaping the next). */
bool fileop_glob_has_wildcards(const char *s, size_t n);

struct fileop_matches {
	char **v; /* clean tree paths, in tree order */
	size_t n;
};
void fileop_matches_done(struct fileop_matches *m);

/* The paths of t that pattern (a clean tree path) matches, as BuildKit's ResolveWildcards
 * finds them: the components before the first with a wildcard are resolved (the last of them
 * followed only when follow_last), then each remaining component is matched against the
 * names of one level (Go's filepath.Match), descending into real directories only; a match
 * is not descended into. -EINVAL for a malformed pattern, with a message naming it. */
int fileop_glob(const struct tree *t, const char *pattern, bool follow_last,
                struct fileop_matches *ret, struct kl_error **err);

/* What a copy selects (fileop-select.c). */

/* One entry a copy takes from a match: the match itself (rel "") or an entry below it. */
struct fileop_item {
	const char *rel; /* path below the match; valid during the callback */
	size_t rel_len;
	uint32_t idx; /* the entry, a hardlink resolved to the file it shares an inode with */
	/* A file whose inode an earlier item of the same match took: that item's rel path (the
	 * copy links to it), NULL otherwise. */
	const char *link_rel;
	size_t link_rel_len;
};

typedef int (*fileop_item_fn)(void *userdata, const struct fileop_item *it, struct kl_error **err);

struct fileop_selector;

/* The include and exclude patterns of copy action a (.dockerignore syntax); -EINVAL naming
 * the bad pattern. */
int fileop_selector_new(const struct graph_file_action *a, struct fileop_selector **ret,
                        struct kl_error **err);
struct fileop_selector *fileop_selector_free(struct fileop_selector *s);
KL_DEFINE_CLEANUP(struct fileop_selector *, fileop_selector_free)

/* Calls fn for top (an entry of src, already resolved as the copy resolves its match) and,
 * for a directory, every entry below it the patterns keep, in tree order, as fsutil's copier
 * walks: an excluded directory is skipped unless an exception may re-include something below
 * it, a directory that include patterns do not name is walked and given only before the
 * first entry below it that they keep. A negative return of fn stops the walk. */
int fileop_select(const struct fileop_selector *s, const struct tree *src, uint32_t top,
                  fileop_item_fn fn, void *userdata, struct kl_error **err);

/* The sources of a copy action: its matches in src (clean tree paths). Without wildcards (or
 * not allowed) the one path src names, whether it exists or not. */
int fileop_copy_sources(const struct graph_file_action *a, const struct tree *src,
                        struct fileop_matches *ret, struct kl_error **err);
/* Match m resolved as the copy takes it (followed when the action follows symlinks), then a
 * hardlink resolved to its file: the entry, or -ENOENT with Docker's message. */
int fileop_copy_source_entry(const struct graph_file_action *a, const struct tree *src,
                             const char *m, uint32_t *ret_idx, struct kl_error **err);

/* Owners (fileop-owner.c). */

struct fileop_owner {
	bool set; /* false: unchanged (a copy) or 0:0 (created entries) */
	uint32_t uid, gid;
};

/* Resolves o (NULL: none) as Docker does: numbers as they are, names in t's /etc/passwd and
 * /etc/group (read through the providers of x's env), a user's primary group when no group
 * is given. A name not found: -ENOENT, "unable to find user NAME: no matching entries in
 * passwd file" (or the group one). */
int fileop_owner_resolve(struct fileop_action_ctx *x, const struct tree *t,
                         const struct graph_owner *o, struct fileop_owner *ret,
                         struct kl_error **err);

/* Changes (fileop-changes.c): what one action does to base, kept by path, later ones
 * replacing earlier ones; then applied as a diff. */

struct fileop_changes;

/* What a path holds with the changes so far. */
struct fileop_node {
	bool exists;
	enum tree_entry_type type; /* a hardlink of base shows as the regular file it is */
	bool changed;              /* set by the changes, not base's */
};

struct fileop_changes *fileop_changes_new(const struct tree *base);
struct fileop_changes *fileop_changes_free(struct fileop_changes *c);
KL_DEFINE_CLEANUP(struct fileop_changes *, fileop_changes_free)

const struct tree *fileop_changes_base(const struct fileop_changes *c);
bool fileop_changes_empty(const struct fileop_changes *c);
/* What path holds now. Whiteouts are for actions that only remove (not seen here). */
void fileop_changes_get(const struct fileop_changes *c, const char *path, size_t len,
                        struct fileop_node *ret);
/* Puts e (its strings and xattrs x[0..n) copied) at e->path, over what was there. */
void fileop_changes_put(struct fileop_changes *c, const struct tree_entry *e,
                        const struct tree_xattr *x, size_t n);
/* Puts view e of t with its xattrs (e possibly altered: path, mode, owner…). */
void fileop_changes_put_view(struct fileop_changes *c, const struct tree *t,
                             const struct tree_entry *e);
/* path, a directory of base, stays as base has it while entries go into it. */
void fileop_changes_keep_dir(struct fileop_changes *c, const char *path, size_t len);
/* Removes path (and what is below it). */
void fileop_changes_whiteout(struct fileop_changes *c, const char *path, size_t len);
/* Makes the missing directories of path (resolved, clean) as MkdirAll does, each with mode,
 * owner (or 0:0) and mtime; -ENOTDIR naming shown when a component is not a directory. */
int fileop_changes_mkdir_all(struct fileop_changes *c, const char *path, size_t len, uint32_t mode,
                             const struct fileop_owner *owner, int64_t mtime, const char *shown,
                             struct kl_error **err);
/* The changes as a diff applied to base; the result's writer goes to ret. A regular file
 * replaced by a new one leaves its other hardlinks base had with the old content, as
 * unlinking and creating it does. */
int fileop_changes_apply(struct fileop_changes *c, struct tree_writer **ret, struct kl_error **err);

/* The actions (fileop-copy.c, fileop-actions.c, fileop-unpack.c), each adding its changes to
 * c, whose base is the tree the action applies to. */

struct fileop_action_ctx {
	const struct fileop_env *env;
	struct uring *own_ring; /* made on first use when env has no ring pool */
	const struct graph_file_action *a;
	const struct tree *src; /* copy: the tree of input a->from */
	struct fileop_changes *c;
};

/* The calling thread's ring for provider reads (lent). */
int fileop_ring(struct fileop_action_ctx *x, struct uring **ret, struct kl_error **err);
/* Reads the whole content of regular file idx of t (at most max bytes, else -EFBIG) through
 * the providers: a new NUL-terminated buffer. */
int fileop_read_file(struct fileop_action_ctx *x, const struct tree *t, uint32_t idx, size_t max,
                     char **ret, size_t *ret_len, struct kl_error **err);

int fileop_copy(struct fileop_action_ctx *x, struct kl_error **err);
int fileop_mkdir(struct fileop_action_ctx *x, struct kl_error **err);
int fileop_mkfile(struct fileop_action_ctx *x, struct kl_error **err);
int fileop_rm(struct fileop_action_ctx *x, struct kl_error **err);
int fileop_symlink(struct fileop_action_ctx *x, struct kl_error **err);
/* A copy with unpack whose source, entry src_idx of x->src, is a tar archive (plain, gzip,
 * bzip2, xz or zstd, told by its content): extracts it into directory dest (clean, resolved,
 * made as MkdirAll makes it) and returns 1; 0, nothing done, when it is not an archive. */
int fileop_unpack(struct fileop_action_ctx *x, uint32_t src_idx, const char *dest, size_t dest_len,
                  const struct fileop_owner *owner, struct kl_error **err);

/* The empty tree's root: a directory 0755, owned by 0:0, mtime 0. */
struct tree *fileop_empty_tree(void);
