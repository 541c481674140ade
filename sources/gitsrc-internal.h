/* gitsrc-internal — what gitsrc.c (fetching, resolving, the tree cache, the provider) and
 * gitsrc-tree.c (trees from git objects) share. */
#pragma once
#include <git2.h>
#include <stdint.h>

#include "fs/digest.h"

struct kl_error;
struct store;
struct tree;

#define GITSRC_REPO_NAME_LEN DIGEST_HEX_LEN
#define GITSRC_REPO_ID_LEN 16 /* a locator names the repository by this much of its name */
#define GITSRC_LOCATOR_LEN (4 + GITSRC_REPO_ID_LEN + 1 + GIT_OID_HEXSZ) /* git:<id>:<oid> */

/* Translates libgit2's last error (and its return code) into err: "what: libgit2's message". */
int gitsrc_error_from_git(struct kl_error **err, int gerr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* What a tree is built from. */
struct gitsrc_tree_source {
	struct store *store;
	git_repository *repo;
	git_odb *odb;           /* repo's */
	const char *repo_name;  /* the bare repository's 64-hex name */
	const char *sizes_path; /* its blob-size cache */
	const char *subdir;     /* "" for the whole commit */
};

/* Builds the tree of commit (of its subdir) and writes it to the store; its id to ret. With a
 * base (the tree built for base_commit from the same source), every subtree and file whose git
 * object and mode are the same at the same path is copied from the base with the new mtime
 * instead of being walked: another commit of a large repository costs what changed, plus one
 * copy. A base that cannot be read is ignored. */
int gitsrc_tree_build(const struct gitsrc_tree_source *src, const git_oid *commit,
                      const git_oid *base_commit, const struct tree *base, struct digest *ret,
                      struct kl_error **err);
