/* ctxsrc-statcache — the persistent stat cache of local contexts: absolute path and the stat a
 * file had when it was hashed (size, mtime, ctime, inode, device, mode) → its sha256 and xattrs,
 * in SQLite (WAL) at <store root>/ctxsrc/statcache.db.
 *
 * A scan loads the records under its directory once, looks files up in memory, and writes what
 * changed in one transaction at the end. Several processes may use the database at once; a
 * corrupt database is replaced by an empty one (it is only a cache). One object per scan, used
 * by one thread. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "fs/digest.h"
#include "util/cleanup.h"

struct kl_error;
struct store;
struct ctxsrc_statcache;

#define CTXSRC_STATCACHE_PATH "ctxsrc/statcache.db" /* under the store root */

/* Opens (creating if needed) the database of store s and loads the records of the files
 * under abs_dir (an absolute path without a trailing slash, "/" aside). */
int ctxsrc_statcache_open(struct store *s, const char *abs_dir, struct ctxsrc_statcache **ret,
                          struct kl_error **err);
struct ctxsrc_statcache *ctxsrc_statcache_free(struct ctxsrc_statcache *c);
KL_DEFINE_CLEANUP(struct ctxsrc_statcache *, ctxsrc_statcache_free)

/* Finds the record of path (absolute, len bytes); true with its digest in ret and its xattrs
 * (tree_xattrs_encode()'s form, NULL and 0 for none; lent until c is freed) when the record
 * still describes st. A file's ctime changes with its xattrs, so they need no reading then.
 * The record counts as seen either way. */
bool ctxsrc_statcache_lookup(struct ctxsrc_statcache *c, const char *path, size_t len,
                             const struct stat *st, struct digest *ret, const void **ret_xattrs,
                             size_t *ret_xattrs_len);
/* Queues a record for path with its encoded xattrs (copied); written by
 * ctxsrc_statcache_commit. */
void ctxsrc_statcache_put(struct ctxsrc_statcache *c, const char *path, size_t len,
                          const struct stat *st, const struct digest *d, const void *xattrs,
                          size_t xattrs_len);
/* Writes the queued records in one transaction and, with prune, deletes the loaded records
 * that no lookup saw (files gone from the directory or no longer scanned). */
int ctxsrc_statcache_commit(struct ctxsrc_statcache *c, bool prune, struct kl_error **err);
