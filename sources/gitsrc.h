/* gitsrc — a git ref as a tree, from git tree objects alone; blob contents are read from the
 * object database only when a file is read ("git:" locators). One shared bare repository per
 * remote URL lives in the store (<root>/git/), reused across builds. */
#pragma once
#include <stdbool.h>

#include "fs/digest.h"

struct kl_error;
struct provider_set;
struct store;

/* True when spec looks like a git source (see source.h). */
bool gitsrc_matches(const char *spec);
/* Fetches spec's ref when needed (never when it is a full commit id already present), builds the
 * tree of the commit (or of its subdir) and writes it to the store; its id goes to ret and, when
 * ret_commit is non-NULL, the 40-hex commit id to ret_commit (41 bytes). */
int gitsrc_resolve(struct store *s, const char *spec, struct digest *ret, char *ret_commit,
                   struct kl_error **err);
/* Registers the "git:" provider, reading blobs from the store's repositories. */
void gitsrc_add_provider(struct provider_set *ps, struct store *s);
