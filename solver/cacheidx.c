// SPDX-License-Identifier: Apache-2.0
/* The cache index in SQLite: records looked up in one read transaction, and written with the
 * blobs their trees refer to beyond their parents'. */
#include "solver/cacheidx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/store.h"
#include "fs/tree.h"
#include "solver/cacheidx-internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/hex.h"
#include "util/path.h"
#include "util/xalloc.h"

#define BUSY_TIMEOUT_MS 60000
#define SCHEMA_VERSION 2

static const char schema[] =
    "PRAGMA journal_mode = WAL;"
    "BEGIN IMMEDIATE;"
    "CREATE TABLE IF NOT EXISTS records ("
    " key BLOB PRIMARY KEY, tree BLOB NOT NULL, diff BLOB, op TEXT NOT NULL,"
    " description TEXT, size INTEGER NOT NULL, created INTEGER NOT NULL,"
    " last_used INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS records_last_used ON records (last_used);"
    "CREATE TABLE IF NOT EXISTS trees ("
    " id BLOB PRIMARY KEY, parent BLOB, size INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS tree_blobs ("
    " tree BLOB NOT NULL, blob BLOB NOT NULL, size INTEGER NOT NULL,"
    " PRIMARY KEY (tree, blob)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS memo ("
    " tree BLOB NOT NULL, what BLOB NOT NULL, key BLOB NOT NULL,"
    " PRIMARY KEY (tree, what)) WITHOUT ROWID;"
    "PRAGMA user_version = 2;"
    "COMMIT;";

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
	case SQLITE_CANTOPEN:
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

int
cacheidx_error(struct cacheidx *ci, int rc, const char *what, struct kl_error **err)
{
	return kl_error_setf(err, errno_from_sqlite(rc), "%s the cache index '%s': %s", what,
	                     ci->db_path, ci->db ? sqlite3_errmsg(ci->db) : sqlite3_errstr(rc));
}

/* The digest set. */

static size_t
slot_of(const struct digest *d, size_t cap)
{
	uint64_t h;

	memcpy(&h, d->bytes, sizeof(h)); /* a sha256 is as good a hash as any */
	return (size_t)h & (cap - 1);
}

static void
set_grow(struct cacheidx_set *s)
{
	struct cacheidx_set old = *s;

	s->cap = old.cap ? old.cap * 2 : 256;
	s->items = xcalloc(s->cap, sizeof(*s->items));
	s->n = 0;
	for (size_t i = 0; i < old.cap; i++)
		if (old.items[i].used)
			cacheidx_set_add(s, &old.items[i].d, old.items[i].size);
	free(old.items);
}

bool
cacheidx_set_add(struct cacheidx_set *s, const struct digest *d, uint64_t size)
{
	size_t i;

	if ((s->n + 1) * 2 > s->cap)
		set_grow(s);
	for (i = slot_of(d, s->cap); s->items[i].used; i = (i + 1) & (s->cap - 1))
		if (digest_equal(&s->items[i].d, d))
			return false;
	s->items[i] = (struct cacheidx_set_item){*d, size, true};
	s->n++;
	return true;
}

bool
cacheidx_set_has(const struct cacheidx_set *s, const struct digest *d)
{
	if (!s->cap)
		return false;
	for (size_t i = slot_of(d, s->cap); s->items[i].used; i = (i + 1) & (s->cap - 1))
		if (digest_equal(&s->items[i].d, d))
			return true;
	return false;
}

void
cacheidx_set_done(struct cacheidx_set *s)
{
	free(s->items);
	*s = (struct cacheidx_set){0};
}

static uint64_t
blob_size(struct store *st, const struct digest *d)
{
	_cleanup_close_ int fd = store_open_blob(st, d, NULL);
	struct stat sb;

	return fd >= 0 && fstat(fd, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/* The blob a locator reads from: "layer:<hex>:…" or "sha256:<hex>". */
static bool
locator_blob(const char *loc, size_t len, struct digest *ret)
{
	static const char *const prefixes[] = {"layer:", "sha256:"};

	for (size_t i = 0; i < 2; i++) {
		size_t pl = strlen(prefixes[i]);

		if (len >= pl + DIGEST_HEX_LEN && !memcmp(loc, prefixes[i], pl) &&
		    kl_hex_decode(loc + pl, DIGEST_HEX_LEN, ret->bytes, DIGEST_SIZE) == 0)
			return true;
	}
	return false;
}

/* Adds to s the blobs t refers to: content digests, and the blobs named by "layer:" and
 * "sha256:" locators (their sizes read from the store when present, else 0). */
static void
cacheidx_tree_blobs(struct store *st, const struct tree *t, struct cacheidx_set *s)
{
	uint32_t n = tree_count(t);

	for (uint32_t i = 0; i < n; i++) {
		struct tree_entry e;
		struct digest d;

		tree_entry_at(t, i, &e);
		if (e.type != TREE_REG)
			continue;
		if (e.flags & TREE_ENTRY_HAS_DIGEST)
			cacheidx_set_add(s, &e.digest, e.size);
		if (e.locator && locator_blob(e.locator, e.locator_len, &d) &&
		    !cacheidx_set_has(s, &d))
			cacheidx_set_add(s, &d, blob_size(st, &d));
	}
}

/* Opening. */

int
cacheidx_ensure_schema(struct cacheidx *ci, struct kl_error **err)
{
	sqlite3_stmt *q = NULL;
	int rc, version = 0;

	if (ci->schema_ok)
		return 0;
	rc = sqlite3_prepare_v2(ci->db, "PRAGMA user_version", -1, &q, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		version = sqlite3_column_int(q, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_OK)
		return cacheidx_error(ci, rc, "reading", err);
	if (version > SCHEMA_VERSION)
		return kl_error_setf(
		    err, EPROTO, "the cache index '%s' has schema %d, newer than this kiln's %d",
		    ci->db_path, version, SCHEMA_VERSION);
	if (version < SCHEMA_VERSION) {
		/* Switching a new database to WAL while another process does the same fails with
		 * SQLITE_BUSY at once, without the busy handler: try again. */
		for (int waited = 0;; waited += 10) {
			rc = sqlite3_exec(ci->db, schema, NULL, NULL, NULL);
			if ((rc & 0xff) != SQLITE_BUSY || waited >= BUSY_TIMEOUT_MS)
				break;
			(void)sqlite3_exec(ci->db, "ROLLBACK", NULL, NULL, NULL);
			sqlite3_sleep(10);
		}
		if (rc != SQLITE_OK) {
			int r = cacheidx_error(ci, rc, "creating", err);

			(void)sqlite3_exec(ci->db, "ROLLBACK", NULL, NULL, NULL);
			return r;
		}
	}
	ci->schema_ok = true;
	return 0;
}

int
cacheidx_open(struct store *s, struct cacheidx **ret, struct kl_error **err)
{
	_cleanup_(cacheidx_freep) struct cacheidx *ci = xcalloc(1, sizeof(*ci));
	int rc;

	ci->store = store_ref(s);
	pthread_mutex_init(&ci->lock, NULL);
	ci->dir = kl_path_join(store_root(s), "cache");
	ci->db_path = kl_path_join(store_root(s), CACHEIDX_PATH);
	if (mkdir(ci->dir, 0700) < 0 && errno != EEXIST)
		return kl_error_set(err, errno, "creating '%s'", ci->dir);
	rc =
	    sqlite3_open_v2(ci->db_path, &ci->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		return cacheidx_error(ci, rc, "opening", err);
	sqlite3_extended_result_codes(ci->db, 1);
	sqlite3_busy_timeout(ci->db, BUSY_TIMEOUT_MS);
	sqlite3_db_config(ci->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	sqlite3_file_control(ci->db, "main", SQLITE_FCNTL_PERSIST_WAL, &(int){1});
	/* A record lost to a power cut is only a cache miss; its blobs were synced before it. */
	rc = sqlite3_exec(ci->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return cacheidx_error(ci, rc, "opening", err);
	*ret = TAKE_PTR(ci);
	return 0;
}

struct cacheidx *
cacheidx_free(struct cacheidx *ci)
{
	if (!ci)
		return NULL;
	sqlite3_finalize(ci->q_lookup);
	sqlite3_finalize(ci->q_memo);
	/* An empty WAL is what makes the next process's open cheap: with frames in it, the first
	 * connection rebuilds the WAL index by reading them all. Only a writer pays this. */
	if (ci->wrote)
		(void)sqlite3_wal_checkpoint_v2(ci->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL,
		                                NULL);
	sqlite3_close_v2(ci->db);
	pthread_mutex_destroy(&ci->lock);
	store_unref(ci->store);
	free(ci->db_path);
	free(ci->dir);
	free(ci);
	return NULL;
}

/* Reads: one transaction, statements prepared once. */

#define Q_LOOKUP "SELECT tree, diff, created, last_used FROM records WHERE key = ?1"
#define Q_MEMO "SELECT key FROM memo WHERE tree = ?1 AND what = ?2"

/* The statements of the read path. The hot path (a no-op solve) is one read transaction: the
 * schema is made only when they cannot even be prepared. Lock held. */
static int
prepare_reads(struct cacheidx *ci, struct kl_error **err)
{
	int rc = SQLITE_OK, r;

	for (int attempt = 0; attempt < 2; attempt++) {
		rc = SQLITE_OK;
		if (!ci->q_lookup)
			rc = sqlite3_prepare_v3(ci->db, Q_LOOKUP, -1, SQLITE_PREPARE_PERSISTENT,
			                        &ci->q_lookup, NULL);
		if (rc == SQLITE_OK && !ci->q_memo)
			rc = sqlite3_prepare_v3(ci->db, Q_MEMO, -1, SQLITE_PREPARE_PERSISTENT,
			                        &ci->q_memo, NULL);
		if (rc == SQLITE_OK || attempt)
			break;
		r = cacheidx_ensure_schema(ci, err);
		if (r < 0)
			return r;
	}
	return rc == SQLITE_OK ? 0 : cacheidx_error(ci, rc, "reading", err);
}

int
cacheidx_read(struct cacheidx *ci,
              int (*fn)(struct cacheidx *ci, void *userdata, struct kl_error **err), void *userdata,
              struct kl_error **err)
{
	int rc, r;

	pthread_mutex_lock(&ci->lock);
	r = prepare_reads(ci, err);
	if (r >= 0 && (rc = sqlite3_exec(ci->db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK)
		r = cacheidx_error(ci, rc, "reading", err);
	if (r >= 0) {
		r = fn(ci, userdata, err);
		rc = sqlite3_exec(ci->db, r >= 0 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
		if (r >= 0 && rc != SQLITE_OK)
			r = cacheidx_error(ci, rc, "reading", err);
	}
	pthread_mutex_unlock(&ci->lock);
	return r;
}

int
cacheidx_lookup_in_txn(struct cacheidx *ci, const struct digest *keys, size_t n, bool *found,
                       struct cacheidx_hit *hits, struct kl_error **err)
{
	sqlite3_stmt *q = ci->q_lookup;
	int rc = SQLITE_OK, count = 0;

	for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
		found[i] = false;
		sqlite3_bind_blob(q, 1, keys[i].bytes, DIGEST_SIZE, SQLITE_STATIC);
		rc = sqlite3_step(q);
		if (rc == SQLITE_ROW && sqlite3_column_bytes(q, 0) == DIGEST_SIZE) {
			struct cacheidx_hit *h = &hits[i];

			*h = (struct cacheidx_hit){
			    .created = sqlite3_column_int64(q, 2),
			    .last_used = sqlite3_column_int64(q, 3),
			};
			memcpy(h->tree.bytes, sqlite3_column_blob(q, 0), DIGEST_SIZE);
			if (sqlite3_column_bytes(q, 1) == DIGEST_SIZE) {
				h->has_diff = true;
				memcpy(h->diff.bytes, sqlite3_column_blob(q, 1), DIGEST_SIZE);
			}
			found[i] = true;
			count++;
		}
		if (rc == SQLITE_ROW || rc == SQLITE_DONE)
			rc = SQLITE_OK;
		sqlite3_reset(q);
	}
	return rc == SQLITE_OK ? count : cacheidx_error(ci, rc, "reading", err);
}

int
cacheidx_memo_get_in_txn(struct cacheidx *ci, const struct digest *tree, const struct digest *what,
                         struct digest *ret)
{
	sqlite3_stmt *q = ci->q_memo;
	int rc, r = -ENOENT;

	sqlite3_bind_blob(q, 1, tree->bytes, DIGEST_SIZE, SQLITE_STATIC);
	sqlite3_bind_blob(q, 2, what->bytes, DIGEST_SIZE, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(q, 0) == DIGEST_SIZE) {
		memcpy(ret->bytes, sqlite3_column_blob(q, 0), DIGEST_SIZE);
		r = 0;
	}
	sqlite3_reset(q);
	return r;
}

struct lookup {
	const struct digest *keys;
	size_t n;
	bool *found;
	struct cacheidx_hit *hits;
};

static int
lookup_fn(struct cacheidx *ci, void *userdata, struct kl_error **err)
{
	struct lookup *l = userdata;

	return cacheidx_lookup_in_txn(ci, l->keys, l->n, l->found, l->hits, err);
}

int
cacheidx_lookup(struct cacheidx *ci, const struct digest *keys, size_t n, bool *found,
                struct cacheidx_hit *hits, struct kl_error **err)
{
	struct lookup l = {keys, n, found, hits};

	return cacheidx_read(ci, lookup_fn, &l, err);
}

static int64_t
now_sec(void)
{
	return (int64_t)time(NULL);
}

/* Runs fn inside one write transaction (taken at once, so the busy timeout applies). */
static int
write_txn(struct cacheidx *ci, int (*fn)(struct cacheidx *ci, void *userdata), void *userdata,
          struct kl_error **err)
{
	int rc, r;

	r = cacheidx_ensure_schema(ci, err);
	if (r < 0)
		return r;
	rc = sqlite3_exec(ci->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	ci->wrote = true;
	if (rc == SQLITE_OK)
		rc = fn(ci, userdata);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(ci->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		r = cacheidx_error(ci, rc, "writing", err);
		(void)sqlite3_exec(ci->db, "ROLLBACK", NULL, NULL, NULL);
		return r;
	}
	return 0;
}

struct touch {
	const struct digest *keys;
	const struct cacheidx_hit *hits;
	size_t n;
	int64_t now;
};

static int
touch_fn(struct cacheidx *ci, void *userdata)
{
	struct touch *t = userdata;
	sqlite3_stmt *q = NULL;
	int rc;

	rc = sqlite3_prepare_v2(ci->db, "UPDATE records SET last_used = ?2 WHERE key = ?1", -1, &q,
	                        NULL);
	for (size_t i = 0; rc == SQLITE_OK && i < t->n; i++) {
		if (t->hits && t->now - t->hits[i].last_used < CACHEIDX_TOUCH_SEC)
			continue;
		sqlite3_bind_blob(q, 1, t->keys[i].bytes, DIGEST_SIZE, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, t->now);
		rc = sqlite3_step(q);
		rc = rc == SQLITE_DONE ? sqlite3_reset(q) : rc;
	}
	sqlite3_finalize(q);
	return rc;
}

int
cacheidx_touch(struct cacheidx *ci, const struct digest *keys, const struct cacheidx_hit *hits,
               size_t n, struct kl_error **err)
{
	struct touch t = {keys, hits, n, now_sec()};
	size_t stale = 0;
	int r;

	for (size_t i = 0; i < n; i++)
		stale += !hits || t.now - hits[i].last_used >= CACHEIDX_TOUCH_SEC;
	if (!stale)
		return 0;
	pthread_mutex_lock(&ci->lock);
	r = write_txn(ci, touch_fn, &t, err);
	pthread_mutex_unlock(&ci->lock);
	return r;
}

/* Writing records. */

struct tree_facts {
	const struct digest *id;
	const struct digest *parent;
	uint64_t size;             /* the tree blob's */
	struct cacheidx_set blobs; /* beyond the parent's */
	bool known;                /* in the trees table already: nothing to write */
};

static int
tree_known(struct cacheidx *ci, const struct digest *id, bool *ret)
{
	sqlite3_stmt *q = NULL;
	int rc;

	rc = sqlite3_prepare_v2(ci->db, "SELECT 1 FROM trees WHERE id = ?1", -1, &q, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_blob(q, 1, id->bytes, DIGEST_SIZE, SQLITE_STATIC);
		rc = sqlite3_step(q);
		*ret = rc == SQLITE_ROW;
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	sqlite3_finalize(q);
	return rc;
}

/* What t refers to beyond parent (NULL: everything), unless the index knows t already. */
static int
facts_of(struct cacheidx *ci, struct store *s, const struct tree *t, const struct tree *parent,
         struct tree_facts *f, struct kl_error **err)
{
	struct cacheidx_set pb = {0};
	int rc, r;

	*f = (struct tree_facts){.id = tree_id(t), .parent = parent ? tree_id(parent) : NULL};
	pthread_mutex_lock(&ci->lock);
	r = cacheidx_ensure_schema(ci, err);
	if (r >= 0 && (rc = tree_known(ci, f->id, &f->known)) != SQLITE_OK)
		r = cacheidx_error(ci, rc, "reading", err);
	pthread_mutex_unlock(&ci->lock);
	if (r < 0)
		return r;
	if (f->known)
		return 0;
	f->size = blob_size(s, f->id);
	cacheidx_tree_blobs(s, t, &f->blobs);
	if (!parent || !f->blobs.n)
		return 0;
	cacheidx_tree_blobs(s, parent, &pb);
	{
		struct cacheidx_set only = {0};

		for (size_t i = 0; i < f->blobs.cap; i++) {
			const struct cacheidx_set_item *it = &f->blobs.items[i];

			if (it->used && !cacheidx_set_has(&pb, &it->d))
				cacheidx_set_add(&only, &it->d, it->size);
		}
		cacheidx_set_done(&f->blobs);
		f->blobs = only;
	}
	cacheidx_set_done(&pb);
	return 0;
}

static int
write_tree(struct cacheidx *ci, const struct tree_facts *f)
{
	sqlite3_stmt *q = NULL;
	int rc;

	if (f->known)
		return SQLITE_OK;
	rc = sqlite3_prepare_v2(
	    ci->db, "INSERT OR IGNORE INTO trees (id, parent, size) VALUES (?1, ?2, ?3)", -1, &q,
	    NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_blob(q, 1, f->id->bytes, DIGEST_SIZE, SQLITE_STATIC);
	if (f->parent)
		sqlite3_bind_blob(q, 2, f->parent->bytes, DIGEST_SIZE, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, (int64_t)f->size);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return rc;
	if (!sqlite3_changes(ci->db)) /* another process recorded it meanwhile */
		return SQLITE_OK;
	rc = sqlite3_prepare_v2(
	    ci->db, "INSERT OR IGNORE INTO tree_blobs (tree, blob, size) VALUES (?1, ?2, ?3)", -1,
	    &q, NULL);
	for (size_t i = 0; rc == SQLITE_OK && i < f->blobs.cap; i++) {
		const struct cacheidx_set_item *it = &f->blobs.items[i];

		if (!it->used)
			continue;
		sqlite3_bind_blob(q, 1, f->id->bytes, DIGEST_SIZE, SQLITE_STATIC);
		sqlite3_bind_blob(q, 2, it->d.bytes, DIGEST_SIZE, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, (int64_t)it->size);
		rc = sqlite3_step(q);
		rc = rc == SQLITE_DONE ? sqlite3_reset(q) : rc;
	}
	sqlite3_finalize(q);
	return rc;
}

struct put {
	const struct cacheidx_entry *e;
	struct tree_facts tree, diff;
	bool has_diff;
	int64_t created, now;
};

static int
put_fn(struct cacheidx *ci, void *userdata)
{
	struct put *p = userdata;
	sqlite3_stmt *q = NULL;
	int rc;

	rc = write_tree(ci, &p->tree);
	if (rc == SQLITE_OK && p->has_diff)
		rc = write_tree(ci, &p->diff);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(
		    ci->db,
		    "INSERT OR REPLACE INTO records"
		    " (key, tree, diff, op, description, size, created, last_used)"
		    " VALUES (?1, ?2, ?3, ?4, ?5,"
		    "  (SELECT COALESCE(SUM(size), 0) FROM trees WHERE id IN (?2, ?3)) +"
		    "  (SELECT COALESCE(SUM(size), 0) FROM tree_blobs WHERE tree IN (?2, ?3)),"
		    "  ?6, ?7)",
		    -1, &q, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_blob(q, 1, p->e->key->bytes, DIGEST_SIZE, SQLITE_STATIC);
	sqlite3_bind_blob(q, 2, tree_id(p->e->tree)->bytes, DIGEST_SIZE, SQLITE_STATIC);
	if (p->has_diff)
		sqlite3_bind_blob(q, 3, tree_id(p->e->diff)->bytes, DIGEST_SIZE, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, p->e->op, -1, SQLITE_STATIC);
	if (p->e->description)
		sqlite3_bind_text(q, 5, p->e->description, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 6, p->created);
	sqlite3_bind_int64(q, 7, p->now);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int
cacheidx_put(struct cacheidx *ci, struct store *s, const struct cacheidx_entry *e,
             struct kl_error **err)
{
	struct put p = {.e = e, .has_diff = e->diff != NULL, .now = now_sec()};
	int r;

	p.created = e->created ? e->created : p.now;
	r = facts_of(ci, s, e->tree, e->parent, &p.tree, err);
	if (r >= 0 && p.has_diff)
		r = facts_of(ci, s, e->diff, e->tree, &p.diff, err);
	if (r >= 0) {
		pthread_mutex_lock(&ci->lock);
		r = write_txn(ci, put_fn, &p, err);
		pthread_mutex_unlock(&ci->lock);
	}
	cacheidx_set_done(&p.tree.blobs);
	cacheidx_set_done(&p.diff.blobs);
	return r;
}

static int
add_tree_fn(struct cacheidx *ci, void *userdata)
{
	return write_tree(ci, userdata);
}

int
cacheidx_add_tree(struct cacheidx *ci, struct store *s, const struct tree *t, struct kl_error **err)
{
	struct tree_facts f;
	int r;

	r = facts_of(ci, s, t, NULL, &f, err);
	if (r >= 0 && !f.known) {
		pthread_mutex_lock(&ci->lock);
		r = write_txn(ci, add_tree_fn, &f, err);
		pthread_mutex_unlock(&ci->lock);
	}
	cacheidx_set_done(&f.blobs);
	return r;
}

static int
remove_fn(struct cacheidx *ci, void *userdata)
{
	sqlite3_stmt *q = NULL;
	int rc;

	rc = sqlite3_prepare_v2(ci->db, "DELETE FROM records WHERE key = ?1", -1, &q, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_blob(q, 1, ((const struct digest *)userdata)->bytes, DIGEST_SIZE,
	                  SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int
cacheidx_remove(struct cacheidx *ci, const struct digest *key, struct kl_error **err)
{
	int r;

	pthread_mutex_lock(&ci->lock);
	r = write_txn(ci, remove_fn, (void *)key, err);
	pthread_mutex_unlock(&ci->lock);
	return r;
}

struct memo_put {
	const struct cacheidx_memo *m;
	size_t n;
};

static int
memo_fn(struct cacheidx *ci, void *userdata)
{
	struct memo_put *p = userdata;
	sqlite3_stmt *q = NULL;
	int rc;

	rc = sqlite3_prepare_v2(ci->db,
	                        "INSERT OR REPLACE INTO memo (tree, what, key) VALUES (?1, ?2, ?3)",
	                        -1, &q, NULL);
	for (size_t i = 0; rc == SQLITE_OK && i < p->n; i++) {
		sqlite3_bind_blob(q, 1, p->m[i].tree.bytes, DIGEST_SIZE, SQLITE_STATIC);
		sqlite3_bind_blob(q, 2, p->m[i].what.bytes, DIGEST_SIZE, SQLITE_STATIC);
		sqlite3_bind_blob(q, 3, p->m[i].key.bytes, DIGEST_SIZE, SQLITE_STATIC);
		rc = sqlite3_step(q);
		rc = rc == SQLITE_DONE ? sqlite3_reset(q) : rc;
	}
	sqlite3_finalize(q);
	return rc;
}

int
cacheidx_memo_put(struct cacheidx *ci, const struct cacheidx_memo *m, size_t n,
                  struct kl_error **err)
{
	struct memo_put p = {m, n};
	int r;

	if (!n)
		return 0;
	pthread_mutex_lock(&ci->lock);
	r = write_txn(ci, memo_fn, &p, err);
	pthread_mutex_unlock(&ci->lock);
	return r;
}
