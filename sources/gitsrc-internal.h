/* gitsrc-internal — what the git source's files share: gitsrc.c (resolving a spec to a commit,
 * fetching), gitsrc-cache.c (the tree cache), gitsrc-tree.c (trees from git objects) and
 * gitsrc-provider.c (the "git:" provider). */
#pragma once
#include <git2.h>
#include <stdbool.h>
#include <stdint.h>

#include "fs/digest.h"
#include "util/dl-git2.h"

/* For _cleanup_(gitsrc_object_freep) and _cleanup_(gitsrc_tree_freep): libgit2 objects freed
 * at the end of a scope (NULL-safe, as git_object_free is). */
static inline void
gitsrc_object_freep(git_object **p)
{
	kl_git2()->object_free(*p);
}
static inline void
gitsrc_tree_freep(git_tree **p)
{
	kl_git2()->tree_free(*p);
}

struct kl_error;
struct store;
struct store_writer;
struct tree;

#define GITSRC_REPO_NAME_LEN DIGEST_HEX_LEN
#define GITSRC_REPO_ID_LEN 16 /* a locator names the repository by this much of its name */
#define GITSRC_LOCATOR_LEN (4 + GITSRC_REPO_ID_LEN + 1 + GIT_OID_HEXSZ) /* git:<id>:<oid> */
/* git:<id>:<oid>:loose names the object as a loose object file (gitsrc-loose.c), any type */
#define GITSRC_LOOSE_SUFFIX ":loose"
#define GITSRC_LOOSE_LOCATOR_LEN (GITSRC_LOCATOR_LEN + sizeof(GITSRC_LOOSE_SUFFIX) - 1)
#define GITSRC_LOOSE_HEADER_MAX 32 /* "commit 18446744073709551615" and its NUL */

/* Loads libgit2 and sets it up once per process, and keeps it (gitsrc.c); thread-safe. -ELIBACC
 * with err when libgit2 cannot be loaded. */
int gitsrc_init_libgit2(struct kl_error **err);

/* Translates libgit2's last error (and its return code) into err: "what: libgit2's message"
 * (gitsrc.c). */
int gitsrc_error_from_git(struct kl_error **err, int gerr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The tree cache of one repository and subdir (gitsrc-cache.c): a stack struct, set up by
 * gitsrc_cache_init, cleared by gitsrc_cache_done. Records live under <git_dir>/trees/. */
#define GITSRC_CACHE_KEY_LEN 32
struct gitsrc_cache {
	struct store *store;                /* not a reference: the caller's outlives the cache */
	char *dir;                          /* <git_dir>/trees */
	char key[GITSRC_CACHE_KEY_LEN + 1]; /* names the repository and subdir in record names */
};

/* Sets c up for the repository named repo_name (64 hex) under git_dir (<root>/git), subdir
 * ("" for the whole commit) and variant (what else the tree depends on: "" for a plain tree,
 * whose keys stay those of older kilns); touches no file. */
void gitsrc_cache_init(struct gitsrc_cache *c, struct store *s, const char *git_dir,
                       const char *repo_name, const char *subdir, const char *variant);
void gitsrc_cache_done(struct gitsrc_cache *c);
/* The tree recorded for commit: 0 with *ret, or -ENOENT on a miss (a missing, malformed or
 * dangling record: its tree is not in the store). */
int gitsrc_cache_get(const struct gitsrc_cache *c, const git_oid *commit, struct digest *ret);
/* The commit built last and its loaded tree (a reference for the caller); false when there is
 * none or it cannot be read. */
bool gitsrc_cache_get_base(const struct gitsrc_cache *c, git_oid *ret_commit,
                           struct tree **ret_tree);
/* Records tree (already in the store) as commit's, then commit as the one built last. */
int gitsrc_cache_put(const struct gitsrc_cache *c, const git_oid *commit, const struct digest *tree,
                     struct kl_error **err);

/* What a tree is built from. */
struct gitsrc_tree_source {
	struct store *store;
	git_repository *repo;
	git_odb *odb;           /* repo's */
	const char *repo_name;  /* the bare repository's 64-hex name */
	const char *sizes_path; /* its blob-size cache */
	const char *subdir;     /* "" for the whole commit */
};

/* Builds the tree of commit (of its subdir) and writes it to the store; its id to ret
 * (gitsrc-tree.c). With a base (the tree built for base_commit from the same source), every
 * subtree and file whose git object and mode are the same at the same path is copied from the
 * base with the new mtime instead of being walked: another commit of a large repository costs
 * what changed, plus one copy. A base that cannot be read is ignored. */
int gitsrc_tree_build(const struct gitsrc_tree_source *src, const git_oid *commit,
                      const git_oid *base_commit, const struct tree *base, struct digest *ret,
                      struct kl_error **err);

/* Loose objects (gitsrc-loose.c): the bytes of git's objects/xx/yyyy… file of an object, zlib
 * of "<type> <size>\0" and the object's bytes in stored deflate blocks, so that the file's size
 * is a function of the object's type and size. */
uint64_t gitsrc_loose_size(git_object_t type, uint64_t size);
/* Writes the loose object file of an object (type, data, size bytes) into w. */
int gitsrc_loose_write(struct store_writer *w, git_object_t type, const void *data, size_t size,
                       struct kl_error **err);

/* A kept .git (gitsrc-gitdir.c): what it is made of. */
struct gitsrc_gitdir {
	const struct gitsrc_tree_source *src; /* store, repo, odb, repo_name */
	const git_oid *commit;
	const char *ref_name;   /* "refs/heads/main", "refs/tags/v1"; NULL: a commit id was named */
	const git_oid *ref_oid; /* what ref_name points at (an annotated tag's object) */
	const char *origin_url; /* remote.origin.url */
	const char *tmp_dir;    /* where the index is written before it enters the store */
};
/* The url a kept .git names its origin by: url without a password ("https://user@host/…"). A
 * new string. */
char *gitsrc_gitdir_origin_url(const char *url);
/* The commit's tree (plain, in the store) with .git added as BuildKit's keepGitDir has it:
 * HEAD detached at the commit, config (core.bare false, origin), the named ref under refs/,
 * shallow (when the commit has parents), an index of the commit's tree, and every object the
 * commit reaches (and the tag objects on the way from ref_name) as a loose object file behind a
 * "git:<repo id>:<oid>:loose" locator. Its id goes to ret. */
int gitsrc_gitdir_build(const struct gitsrc_gitdir *g, const struct digest *plain,
                        struct digest *ret, struct kl_error **err);
