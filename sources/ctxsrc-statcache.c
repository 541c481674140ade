// SPDX-License-Identifier: Apache-2.0
/* The stat cache of local contexts: one SQLite table read in one range query per scan. */
#include "sources/ctxsrc-statcache.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/store.h"
#include "util/error.h"
#include "util/log.h"
#include "util/xalloc.h"

#define BUSY_TIMEOUT_MS 60000

/* WAL with synchronous=NORMAL: a commit does not sync (a cache may lose its last writes, never
 * its consistency); mmap: the range query reads pages without a syscall each. */
static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "PRAGMA mmap_size=268435456;"
    "DROP TABLE IF EXISTS files_v1;" /* v1 had no xattrs */
    "CREATE TABLE IF NOT EXISTS files_v2 ("
    "  path BLOB PRIMARY KEY NOT NULL,"
    "  size INTEGER NOT NULL, mtime_sec INTEGER NOT NULL, mtime_nsec INTEGER NOT NULL,"
    "  ctime_sec INTEGER NOT NULL, ctime_nsec INTEGER NOT NULL,"
    "  ino INTEGER NOT NULL, dev INTEGER NOT NULL, mode INTEGER NOT NULL,"
    "  digest BLOB NOT NULL,"
    "  xattrs BLOB" /* tree_xattrs_encode()'s form; NULL: none */
    ") WITHOUT ROWID;";

/* What must still hold for a record to be trusted. */
struct stat_key {
	int64_t size, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec, ino, dev, mode;
};

struct record {
	char *path;
	size_t len;
	char *xattrs; /* encoded; NULL: none */
	size_t xattrs_len;
	struct stat_key key;
	struct digest digest;
	bool seen;
};

struct ctxsrc_statcache {
	sqlite3 *db;
	char *db_path;
	struct record *loaded; /* sorted by path, as the primary key orders it */
	size_t n_loaded;
	char *arena; /* the loaded records' paths, at offsets until loading ends */
	size_t arena_len, arena_cap;
	struct record *queued;
	size_t n_queued, queued_cap;
	bool wrote; /* a commit wrote records: the WAL is checkpointed when closing */
};

static int
errno_from_sqlite(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return EBUSY;
	case SQLITE_NOMEM:
		return ENOMEM;
	case SQLITE_READONLY:
		return EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return EACCES;
	case SQLITE_FULL:
		return ENOSPC;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return EBADMSG;
	default:
		return EIO;
	}
}

static int
error_from_sqlite(struct ctxsrc_statcache *c, int rc, const char *what, struct kl_error **err)
{
	return kl_error_setf(err, errno_from_sqlite(rc), "%s stat cache '%s': %s", what, c->db_path,
	                     c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
}

static void
key_from_stat(const struct stat *st, struct stat_key *k)
{
	*k = (struct stat_key){
	    .size = (int64_t)st->st_size,
	    .mtime_sec = (int64_t)st->st_mtim.tv_sec,
	    .mtime_nsec = (int64_t)st->st_mtim.tv_nsec,
	    .ctime_sec = (int64_t)st->st_ctim.tv_sec,
	    .ctime_nsec = (int64_t)st->st_ctim.tv_nsec,
	    .ino = (int64_t)st->st_ino,
	    .dev = (int64_t)st->st_dev,
	    .mode = (int64_t)st->st_mode,
	};
}

static void
records_free(struct record *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(r[i].path);
		free(r[i].xattrs);
	}
	free(r);
}

struct ctxsrc_statcache *
ctxsrc_statcache_free(struct ctxsrc_statcache *c)
{
	if (!c)
		return NULL;
	/* The next scan's open rebuilds the WAL index from every frame left in the WAL: leave
	 * none behind, so an unchanged context (which writes nothing) opens it cheaply. */
	if (c->db && c->wrote)
		(void)sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL,
		                                NULL);
	sqlite3_close_v2(c->db);
	free(c->loaded);
	free(c->arena);
	records_free(c->queued, c->n_queued);
	free(c->db_path);
	free(c);
	return NULL;
}

static int
open_db(struct ctxsrc_statcache *c)
{
	int rc;

	rc =
	    sqlite3_open_v2(c->db_path, &c->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
	/* Keep the WAL between runs and let commits checkpoint it when it grows: closing then
	 * neither checkpoints nor deletes it, which costs several syncs per scan otherwise. */
	sqlite3_db_config(c->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	sqlite3_file_control(c->db, "main", SQLITE_FCNTL_PERSIST_WAL, &(int){1});
	/* Switching a new database to WAL while another process does the same fails with
	 * SQLITE_BUSY at once, without the busy handler (it could deadlock): try again. */
	for (int waited = 0;; waited += 10) {
		rc = sqlite3_exec(c->db, schema, NULL, NULL, NULL);
		if ((rc & 0xff) != SQLITE_BUSY || waited >= BUSY_TIMEOUT_MS)
			return rc;
		sqlite3_sleep(10);
	}
}

/* A cache is worth nothing corrupt: start again with an empty one. */
static void
remove_db(struct ctxsrc_statcache *c)
{
	static const char *const suffixes[] = {"", "-wal", "-shm"};

	sqlite3_close_v2(c->db);
	c->db = NULL;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		_cleanup_free_ char *p = xasprintf("%s%s", c->db_path, suffixes[i]);
		(void)unlink(p);
	}
}

/* Copies n bytes into the arena: their offset, a pointer once loading ends. */
static size_t
arena_add(struct ctxsrc_statcache *c, const void *p, size_t n)
{
	size_t off = c->arena_len;

	c->arena = xgrow(c->arena, &c->arena_cap, c->arena_len + n + 1, 1);
	memcpy(c->arena + off, p, n);
	c->arena[off + n] = '\0';
	c->arena_len += n + 1;
	return off;
}

static int
read_row(struct ctxsrc_statcache *c, sqlite3_stmt *st, struct record *r)
{
	const void *path = sqlite3_column_blob(st, 0), *digest = sqlite3_column_blob(st, 9);
	const void *xattrs = sqlite3_column_blob(st, 10);
	int len = sqlite3_column_bytes(st, 0), xlen = sqlite3_column_bytes(st, 10);

	if (!path || len <= 0 || sqlite3_column_bytes(st, 9) != DIGEST_SIZE)
		return -EBADMSG;
	r->path = (char *)(uintptr_t)arena_add(c, path, (size_t)len);
	r->len = (size_t)len;
	r->xattrs = xattrs && xlen > 0 ? (char *)(uintptr_t)(arena_add(c, xattrs, (size_t)xlen) + 1)
	                               : NULL; /* offset + 1: 0 is none */
	r->xattrs_len = xattrs && xlen > 0 ? (size_t)xlen : 0;
	r->key = (struct stat_key){
	    .size = sqlite3_column_int64(st, 1),
	    .mtime_sec = sqlite3_column_int64(st, 2),
	    .mtime_nsec = sqlite3_column_int64(st, 3),
	    .ctime_sec = sqlite3_column_int64(st, 4),
	    .ctime_nsec = sqlite3_column_int64(st, 5),
	    .ino = sqlite3_column_int64(st, 6),
	    .dev = sqlite3_column_int64(st, 7),
	    .mode = sqlite3_column_int64(st, 8),
	};
	memcpy(r->digest.bytes, digest, DIGEST_SIZE);
	r->seen = false;
	return 0;
}

/* Loads the records whose path lies under abs_dir: [dir + "/", dir + "0"), '0' following '/'. */
static int
load(struct ctxsrc_statcache *c, const char *abs_dir, struct kl_error **err)
{
	size_t dl = strlen(abs_dir), cap = 0;
	_cleanup_free_ char *lo = NULL, *hi = NULL;
	sqlite3_stmt *st = NULL;
	int rc;

	while (dl > 0 && abs_dir[dl - 1] == '/')
		dl--;
	lo = xasprintf("%.*s/", (int)dl, abs_dir);
	hi = xasprintf("%.*s0", (int)dl, abs_dir);
	rc = sqlite3_prepare_v2(c->db,
	                        "SELECT path, size, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec,"
	                        " ino, dev, mode, digest, xattrs FROM files_v2"
	                        " WHERE path >= ?1 AND path < ?2 ORDER BY path",
	                        -1, &st, NULL);
	if (rc != SQLITE_OK)
		return error_from_sqlite(c, rc, "reading", err);
	sqlite3_bind_blob(st, 1, lo, (int)dl + 1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, hi, (int)dl + 1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		c->loaded = xgrow(c->loaded, &cap, c->n_loaded + 1, sizeof(*c->loaded));
		if (read_row(c, st, &c->loaded[c->n_loaded]) == 0)
			c->n_loaded++;
	}
	sqlite3_finalize(st);
	for (size_t i = 0; i < c->n_loaded; i++) {
		struct record *r = &c->loaded[i];

		r->path = c->arena + (uintptr_t)r->path;
		if (r->xattrs)
			r->xattrs = c->arena + (uintptr_t)r->xattrs - 1;
	}
	if (rc != SQLITE_DONE)
		return error_from_sqlite(c, rc, "reading", err);
	return 0;
}

int
ctxsrc_statcache_open(struct store *s, const char *abs_dir, struct ctxsrc_statcache **ret,
                      struct kl_error **err)
{
	_cleanup_(ctxsrc_statcache_freep) struct ctxsrc_statcache *c = xcalloc(1, sizeof(*c));
	int rc, r = 0;

	if (mkdirat(store_root_fd(s), "ctxsrc", 0755) < 0 && errno != EEXIST)
		return kl_error_set(err, errno, "creating '%s/ctxsrc'", store_root(s));
	c->db_path = xasprintf("%s/%s", store_root(s), CTXSRC_STATCACHE_PATH);
	for (int attempt = 0;; attempt++) {
		rc = open_db(c);
		if (rc == SQLITE_OK) {
			r = load(c, abs_dir, err);
			if (r != -EBADMSG || attempt > 0)
				break;
		} else if (attempt > 0 || errno_from_sqlite(rc) != EBADMSG) {
			return error_from_sqlite(c, rc, "opening", err);
		}
		kl_debug("stat cache '%s' is corrupt: starting a new one", c->db_path);
		c->n_loaded = c->arena_len = 0;
		if (err && *err)
			kl_error_freep(err);
		remove_db(c);
	}
	if (r < 0)
		return r;
	*ret = TAKE_PTR(c);
	return 0;
}

static int
compare_paths(const char *a, size_t alen, const char *b, size_t blen)
{
	int d = memcmp(a, b, alen < blen ? alen : blen);

	if (d)
		return d;
	return alen < blen ? -1 : alen > blen;
}

bool
ctxsrc_statcache_lookup(struct ctxsrc_statcache *c, const char *path, size_t len,
                        const struct stat *st, struct digest *ret, const void **ret_xattrs,
                        size_t *ret_xattrs_len)
{
	size_t lo = 0, hi = c->n_loaded;
	struct stat_key k;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		struct record *r = &c->loaded[mid];
		int d = compare_paths(path, len, r->path, r->len);

		if (d < 0) {
			hi = mid;
		} else if (d > 0) {
			lo = mid + 1;
		} else {
			r->seen = true;
			key_from_stat(st, &k);
			if (memcmp(&k, &r->key, sizeof(k)) != 0)
				return false;
			*ret = r->digest;
			*ret_xattrs = r->xattrs;
			*ret_xattrs_len = r->xattrs_len;
			return true;
		}
	}
	return false;
}

void
ctxsrc_statcache_put(struct ctxsrc_statcache *c, const char *path, size_t len,
                     const struct stat *st, const struct digest *d, const void *xattrs,
                     size_t xattrs_len)
{
	struct record *r;

	c->queued = xgrow(c->queued, &c->queued_cap, c->n_queued + 1, sizeof(*c->queued));
	r = &c->queued[c->n_queued++];
	r->path = xstrndup(path, len);
	r->len = len;
	key_from_stat(st, &r->key);
	r->digest = *d;
	r->xattrs = xattrs_len ? xmemdup(xattrs, xattrs_len) : NULL;
	r->xattrs_len = xattrs_len;
	r->seen = true;
}

static int
run_batch(struct ctxsrc_statcache *c, bool prune)
{
	sqlite3_stmt *ins = NULL, *del = NULL;
	int rc;

	rc =
	    sqlite3_prepare_v2(c->db,
	                       "INSERT OR REPLACE INTO files_v2 (path, size, mtime_sec, mtime_nsec,"
	                       " ctime_sec, ctime_nsec, ino, dev, mode, digest, xattrs)"
	                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	                       -1, &ins, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(c->db, "DELETE FROM files_v2 WHERE path = ?1", -1, &del,
		                        NULL);
	for (size_t i = 0; rc == SQLITE_OK && i < c->n_queued; i++) {
		const struct record *r = &c->queued[i];
		const int64_t f[] = {r->key.size,      r->key.mtime_sec,  r->key.mtime_nsec,
		                     r->key.ctime_sec, r->key.ctime_nsec, r->key.ino,
		                     r->key.dev,       r->key.mode};

		sqlite3_bind_blob(ins, 1, r->path, (int)r->len, SQLITE_STATIC);
		for (int col = 0; col < 8; col++)
			sqlite3_bind_int64(ins, 2 + col, f[col]);
		sqlite3_bind_blob(ins, 10, r->digest.bytes, DIGEST_SIZE, SQLITE_STATIC);
		if (r->xattrs)
			sqlite3_bind_blob(ins, 11, r->xattrs, (int)r->xattrs_len, SQLITE_STATIC);
		else
			sqlite3_bind_null(ins, 11);
		rc = sqlite3_step(ins);
		rc = rc == SQLITE_DONE ? sqlite3_reset(ins) : rc;
	}
	for (size_t i = 0; prune && rc == SQLITE_OK && i < c->n_loaded; i++) {
		const struct record *r = &c->loaded[i];

		if (r->seen)
			continue;
		sqlite3_bind_blob(del, 1, r->path, (int)r->len, SQLITE_STATIC);
		rc = sqlite3_step(del);
		rc = rc == SQLITE_DONE ? sqlite3_reset(del) : rc;
	}
	sqlite3_finalize(ins);
	sqlite3_finalize(del);
	return rc;
}

int
ctxsrc_statcache_commit(struct ctxsrc_statcache *c, bool prune, struct kl_error **err)
{
	bool stale = false;
	int rc;

	for (size_t i = 0; prune && !stale && i < c->n_loaded; i++)
		stale = !c->loaded[i].seen;
	if (c->n_queued == 0 && !stale)
		return 0;
	/* IMMEDIATE: take the write lock now, so the busy timeout applies instead of a
	 * deadlock error when two scans upgrade their read transactions at once. */
	rc = sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = run_batch(c, prune);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		int r = error_from_sqlite(c, rc, "writing", err);
		(void)sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
		return r;
	}
	records_free(c->queued, c->n_queued);
	c->queued = NULL;
	c->n_queued = c->queued_cap = 0;
	c->wrote = true;
	return 0;
}
