/* cacheidx — the cache index: SQLite (WAL) at <store root>/cache/index.db, shared by every kiln
 * process of a store.
 *
 *   records(key → result tree, exec's diff tree, op, description, size, created, last_used)
 *   trees(id → parent, the tree blob's size): facts about trees in the store; a tree's parent
 *     is the tree it was made from (an exec's root, a file op's base), whose blobs it keeps
 *   tree_blobs(tree, blob, size): the blobs a tree refers to that its parent does not
 *     (content digests, and the layer blobs "layer:" locators read from)
 *   memo(tree, what → key): keys computed from a tree alone (cacheidx_memo_get_in_txn)
 *
 * so the blobs a record needs are its trees and, up the parent chain, their tree_blobs: du and
 * prune never load a tree of a record. A record is written only once its tree is in the store
 * (and a local context's selected files with it).
 *
 * Across processes: cacheidx_lock_key() (a lock file per key: two solves of one graph run each
 * vertex once, the second taking the first's record), and the collection lock, which every
 * running build holds shared (cacheidx_lease_begin) and prune takes exclusively to delete
 * blobs, so nothing a running build made or uses is ever collected.
 *
 * Thread-safe: one connection, guarded by a mutex inside. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/digest.h"
#include "util/cleanup.h"

struct cacheidx;
struct kl_error;
struct store;
struct tree;

#define CACHEIDX_PATH "cache/index.db" /* under the store root */
#define CACHEIDX_TOUCH_SEC 60          /* last_used is rewritten only when older than this */

/* Opens (creating) the index of s. */
int cacheidx_open(struct store *s, struct cacheidx **ret, struct kl_error **err);
struct cacheidx *cacheidx_free(struct cacheidx *ci);
KL_DEFINE_CLEANUP(struct cacheidx *, cacheidx_free)

struct cacheidx_hit {
	struct digest tree;
	bool has_diff;
	struct digest diff;
	int64_t created;   /* seconds since the epoch: when the result was made (recorded) */
	int64_t last_used; /* seconds since the epoch */
};

/* Looks keys[0..n) up in one read transaction: found[i] tells, hits[i] holds a found one.
 * Returns how many were found, or -errno (err set). */
int cacheidx_lookup(struct cacheidx *ci, const struct digest *keys, size_t n, bool *found,
                    struct cacheidx_hit *hits, struct kl_error **err);
/* Runs fn inside one read transaction of the index, the index's lock held: fn may call only
 * the _in_txn functions (and no other cacheidx function). Returns what fn returns, or -errno
 * (err set) when the transaction failed. */
int cacheidx_read(struct cacheidx *ci,
                  int (*fn)(struct cacheidx *ci, void *userdata, struct kl_error **err),
                  void *userdata, struct kl_error **err);
/* cacheidx_lookup inside cacheidx_read's fn. */
int cacheidx_lookup_in_txn(struct cacheidx *ci, const struct digest *keys, size_t n, bool *found,
                           struct cacheidx_hit *hits, struct kl_error **err);

/* Memos: keys that are pure functions of a tree and a question ("what": a digest naming, say,
 * the content key or one copy's selection), kept so a no-op solve does not walk its contexts'
 * trees again. A cache: prune drops them all. */
struct cacheidx_memo {
	struct digest tree, what, key;
};
/* Inside cacheidx_read's fn: 0 with ret, -ENOENT when not known. */
int cacheidx_memo_get_in_txn(struct cacheidx *ci, const struct digest *tree,
                             const struct digest *what, struct digest *ret);
/* Records memos (one write transaction). */
int cacheidx_memo_put(struct cacheidx *ci, const struct cacheidx_memo *m, size_t n,
                      struct kl_error **err);
/* Sets last_used of the records of keys[0..n) to now, skipping those whose hit says they were
 * used less than CACHEIDX_TOUCH_SEC ago (a no-op solve writes nothing); hits may be NULL. */
int cacheidx_touch(struct cacheidx *ci, const struct digest *keys, const struct cacheidx_hit *hits,
                   size_t n, struct kl_error **err);

struct cacheidx_entry {
	const struct digest *key;
	const struct tree *tree;   /* the result, in the store */
	const struct tree *parent; /* the tree it was made from, or NULL */
	const struct tree *diff;   /* exec: what the step changed; NULL otherwise */
	const char *op;            /* "source", "file", "exec", "merge", "diff" */
	const char *description;   /* the vertex's display name; may be NULL */
	int64_t created;           /* seconds since the epoch: when the result was made; 0: now */
};
/* Records e (replacing a record of the same key), with what its trees refer to. */
int cacheidx_put(struct cacheidx *ci, struct store *s, const struct cacheidx_entry *e,
                 struct kl_error **err);
/* Drops the record of key (one whose tree is gone); absent is fine. */
int cacheidx_remove(struct cacheidx *ci, const struct digest *key, struct kl_error **err);

/* Records a tree that is not a record's (an image or git source's own record of it) as a root
 * of its own in the trees tables, when it is not there yet; used by prune and du. */
int cacheidx_add_tree(struct cacheidx *ci, struct store *s, const struct tree *t,
                      struct kl_error **err);

/* Cross-process locks (cacheidx-lock.c). */

/* Takes the lock of key, waiting while another process (or thread) holds it; returns the fd
 * that holds it. -ECANCELED (err untouched) when cancel_fd (>= 0) becomes readable first. */
int cacheidx_lock_key(struct cacheidx *ci, const struct digest *key, int cancel_fd,
                      struct kl_error **err);
/* Releases a key's lock (removing its file). */
void cacheidx_unlock_key(struct cacheidx *ci, const struct digest *key, int fd);
/* A running build's lease: the collection lock, shared. Returns the fd that holds it. */
int cacheidx_lease_begin(struct cacheidx *ci, struct kl_error **err);
void cacheidx_lease_end(int fd);
/* The collection lock, exclusive: waits for every running build to end (and keeps new ones
 * waiting), calling waiting (when non-NULL) once before it does. Returns the fd that holds
 * it. */
int cacheidx_gc_lock(struct cacheidx *ci, void (*waiting)(void *userdata), void *userdata,
                     struct kl_error **err);

/* Records, usage and collection (cacheidx-gc.c). */

struct cacheidx_record {
	struct digest key, tree;
	bool has_diff;
	struct digest diff;
	const char *op, *description; /* lent for the callback */
	uint64_t size;                /* bytes of the blobs it added to its parent's */
	int64_t created, last_used;   /* seconds since the epoch */
};
typedef int (*cacheidx_record_fn)(const struct cacheidx_record *r, void *userdata);
/* Calls fn for every record, least recently used first; fn returns < 0 to stop. */
int cacheidx_foreach(struct cacheidx *ci, cacheidx_record_fn fn, void *userdata,
                     struct kl_error **err);

struct cacheidx_usage {
	uint64_t records;
	uint64_t records_bytes; /* the blobs the cache records need, each counted once */
	uint64_t sources_bytes; /* the blobs image and git source records need */
	uint64_t shared_bytes;  /* of records_bytes, also needed by source records */
	uint64_t reclaimable;   /* freed by `kiln prune --all`: all but sources_bytes */
	uint64_t unused;        /* freed by `kiln prune`: blobs nothing needs */
	uint64_t store_blobs, store_bytes;
};
/* Counts what the store's blobs are used for (without changing anything). */
int cacheidx_usage(struct cacheidx *ci, struct store *s, struct cacheidx_usage *ret,
                   struct kl_error **err);

struct cacheidx_prune_options {
	bool all;              /* drop every cache record */
	uint64_t keep_storage; /* drop the least recently used records until their sizes sum
	                        * to at most this (0: no limit) */
	int64_t until_sec;     /* drop records last used more than this many seconds ago (0: no
	                        * filter) */
	/* Called once when prune must wait for running builds to end; may be NULL. */
	void (*waiting)(void *userdata);
	void *userdata;
};
struct cacheidx_prune_stats {
	uint64_t records_removed, records_kept;
	uint64_t blobs_removed, bytes_removed;
	uint64_t blobs_kept, bytes_kept;
};
/* Drops the records opts selects (and records whose tree is gone), then, holding the
 * collection lock, deletes every blob that no kept record, no image or git source record and
 * no running build needs (a blob written since the prune began is spared). */
int cacheidx_prune(struct cacheidx *ci, struct store *s, const struct cacheidx_prune_options *opts,
                   struct cacheidx_prune_stats *ret, struct kl_error **err);
