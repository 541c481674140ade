/* exec-cache — the dirs of `type=cache` mounts, kept in the store under cache-mounts/ and
 * shared by every build and stage that names the same id, and their snapshots into trees.
 *
 * A cache is <root>/cache-mounts/<sha256 of its id>/: the id in "id", its main instance in
 * "0" (shared and locked users) and instances made for private users in "1", "2", …, each
 * with a lock file ("0.lock", …) that users hold while a step runs: shared users share it,
 * a locked user holds it alone, a private user takes the first instance nobody holds (making
 * a new one when all are held). Several kiln processes may use one store at once. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "fs/digest.h"

struct kl_error;
struct store;

#define EXEC_CACHE_DIR "cache-mounts"

struct exec_cache_info {
	char *id;
	unsigned instances;
	uint64_t bytes; /* the size of the files of every instance */
};

/* Lists the caches of the store (sorted by id); the caller frees with exec_cache_list_free. */
int exec_cache_list(struct store *s, struct exec_cache_info **ret, size_t *ret_n,
                    struct kl_error **err);
void exec_cache_list_free(struct exec_cache_info *v, size_t n);

/* Imports the main instance of cache id into a tree (its files ingested, so the tree does not
 * change with the cache), waiting while a locked user holds it. -ENOENT with a message when
 * there is no such cache. */
int exec_cache_snapshot(struct store *s, const char *id, struct digest *ret, struct kl_error **err);
