/* cacheidx-internal — what the cache index's files share: the connection, its errors, and a
 * set of digests (the blobs a tree refers to, the blobs prune keeps). */
#pragma once
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/digest.h"

struct kl_error;
struct store;
struct tree;

struct cacheidx {
	struct store *store;
	char *db_path;
	char *dir; /* <root>/cache */
	pthread_mutex_t lock;
	sqlite3 *db;            /* protected by lock */
	bool schema_ok;         /* protected by lock */
	sqlite3_stmt *q_lookup; /* protected by lock */
	sqlite3_stmt *q_memo;   /* protected by lock */
	bool wrote;             /* protected by lock: a write transaction began */
};

/* -errno for a SQLite result, with the database's message in err. */
int cacheidx_error(struct cacheidx *ci, int rc, const char *what, struct kl_error **err);
/* Makes sure the schema exists (creating it in its own transaction); call with lock held and
 * no transaction open. */
int cacheidx_ensure_schema(struct cacheidx *ci, struct kl_error **err);

/* A set of digests, each with a size. */
struct cacheidx_set {
	struct cacheidx_set_item {
		struct digest d;
		uint64_t size;
		bool used;
	} * items;
	size_t n, cap; /* cap: a power of two, or 0 */
};
/* Adds d (size kept from the first add); returns true when it was new. */
bool cacheidx_set_add(struct cacheidx_set *s, const struct digest *d, uint64_t size);
bool cacheidx_set_has(const struct cacheidx_set *s, const struct digest *d);
void cacheidx_set_done(struct cacheidx_set *s);
