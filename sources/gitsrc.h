/* gitsrc — a git ref as a tree, from git tree objects alone; blob contents are read from the
 * object database only when a file is read ("git:" locators). One shared bare repository per
 * remote URL lives in the store (<root>/git/), reused across builds and processes (a lock file
 * serializes fetches into it), with a cache of the trees built from its commits. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "fs/digest.h"

struct kl_error;
struct provider_set;
struct store;

/* True when spec looks like a git source (see source.h). */
bool gitsrc_matches(const char *spec);

/* A byte counter of a fetch: current of total bytes (0: unknown), id what is fetched (a URL). */
typedef void (*gitsrc_progress_fn)(void *userdata, const char *id, uint64_t current,
                                   uint64_t total);

struct gitsrc_options {
	/* The tree holds a working .git as BuildKit's keepGitDir gives it: HEAD detached at the
	 * commit, the ref named (a branch or tag) under refs/, origin's url, a shallow commit (its
	 * parents are not there), an index of the commit's tree and, as loose objects, exactly the
	 * objects the commit reaches (and an annotated tag's own), each read from the store's
	 * bare repository when first read ("git:<repo>:<oid>:loose"). Ignored with a subdir, as
	 * BuildKit ignores it. */
	bool keep_git_dir;
	/* Bytes received while fetching, from the calling thread; NULL: none. The last call of a
	 * fetch has current == total. */
	gitsrc_progress_fn progress;
	void *progress_userdata;
};

/* Fetches spec's ref when needed (never when it is a full commit id already present), then takes
 * the tree of the commit (or of its subdir) from the tree cache or builds it into the store; its
 * id goes to ret and, when ret_commit is non-NULL, the 40-hex commit id to ret_commit (41
 * bytes). opts may be NULL (no .git, no progress). Errors name spec. */
int gitsrc_resolve(struct store *s, const char *spec, const struct gitsrc_options *opts,
                   struct digest *ret, char *ret_commit, struct kl_error **err);
/* Registers the "git:" provider, reading blobs from the repositories under s's root (only the
 * path is kept, no reference); safe for every thread of the set. */
void gitsrc_add_provider(struct provider_set *ps, struct store *s);
