// SPDX-License-Identifier: Apache-2.0
/* The cache's records listed, the store's bytes counted by what needs them, and prune: records
 * dropped by the caller's filters, then every blob nothing needs deleted under the collection
 * lock. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fs/store.h"
#include "fs/tree.h"
#include "solver/cacheidx-internal.h"
#include "solver/cacheidx.h"
#include "sources/source.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/log.h"
#include "util/xalloc.h"

static bool
column_digest(sqlite3_stmt *q, int col, struct digest *ret)
{
	if (sqlite3_column_bytes(q, col) != DIGEST_SIZE)
		return false;
	memcpy(ret->bytes, sqlite3_column_blob(q, col), DIGEST_SIZE);
	return true;
}

static int
foreach_locked(struct cacheidx *ci, cacheidx_record_fn fn, void *userdata, struct kl_error **err)
{
	sqlite3_stmt *q = NULL;
	int rc, r = 0;

	rc = sqlite3_prepare_v2(ci->db,
	                        "SELECT key, tree, diff, op, description, size, created, last_used"
	                        " FROM records ORDER BY last_used, created, key",
	                        -1, &q, NULL);
	while (rc == SQLITE_OK && r >= 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct cacheidx_record rec = {
		    .op = (const char *)sqlite3_column_text(q, 3),
		    .description = (const char *)sqlite3_column_text(q, 4),
		    .size = (uint64_t)sqlite3_column_int64(q, 5),
		    .created = sqlite3_column_int64(q, 6),
		    .last_used = sqlite3_column_int64(q, 7),
		};

		rc = SQLITE_OK;
		if (!column_digest(q, 0, &rec.key) || !column_digest(q, 1, &rec.tree))
			continue;
		rec.has_diff = column_digest(q, 2, &rec.diff);
		if (!rec.op)
			rec.op = "?";
		r = fn(&rec, userdata);
	}
	sqlite3_finalize(q);
	if (r < 0)
		return r;
	if (rc != SQLITE_DONE && rc != SQLITE_OK)
		return cacheidx_error(ci, rc, "reading", err);
	return 0;
}

int
cacheidx_foreach(struct cacheidx *ci, cacheidx_record_fn fn, void *userdata, struct kl_error **err)
{
	int r;

	pthread_mutex_lock(&ci->lock);
	r = cacheidx_ensure_schema(ci, err);
	if (r >= 0)
		r = foreach_locked(ci, fn, userdata, err);
	pthread_mutex_unlock(&ci->lock);
	return r;
}

/* Live sets. */

struct roots {
	struct cacheidx *ci;
	struct store *store;
	struct digest *v;
	size_t n, cap;
	struct kl_error **err;
};

/* A blob a source record names: a tree gets its references into the index (once), anything
 * else is a root as it is. */
static int
add_source_root(const struct digest *d, void *userdata)
{
	struct roots *r = userdata;
	_cleanup_(tree_unrefp) struct tree *t = NULL;
	struct kl_error *e = NULL;

	if (store_has_blob(r->store, d) != 1)
		return 0;
	if (tree_load(r->store, d, &t, &e) == 0) {
		int rc = cacheidx_add_tree(r->ci, r->store, t, r->err);

		if (rc < 0)
			return rc;
	}
	kl_error_free(e); /* not a tree: a config, a manifest */
	r->v = xgrow(r->v, &r->cap, r->n + 1, sizeof(*r->v));
	r->v[r->n++] = *d;
	return 0;
}

static int
exec_sql(struct cacheidx *ci, const char *sql, struct kl_error **err)
{
	int rc = sqlite3_exec(ci->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : cacheidx_error(ci, rc, "using", err);
}

/* Fills live with every blob the roots need: with records, the trees of every record; then
 * the given extra roots; then, up the parents, the trees and their blobs. Lock held. */
static int
live_locked(struct cacheidx *ci, bool records, const struct digest *extra, size_t n_extra,
            struct cacheidx_set *live, struct kl_error **err)
{
	sqlite3_stmt *q = NULL;
	int rc, r;

	r = exec_sql(ci,
	             "CREATE TEMP TABLE IF NOT EXISTS roots (id BLOB PRIMARY KEY) WITHOUT ROWID;"
	             "DELETE FROM temp.roots;",
	             err);
	if (r >= 0 && records)
		r = exec_sql(ci,
		             "INSERT OR IGNORE INTO temp.roots SELECT tree FROM records;"
		             "INSERT OR IGNORE INTO temp.roots SELECT diff FROM records"
		             " WHERE diff IS NOT NULL;",
		             err);
	if (r < 0)
		return r;
	rc = sqlite3_prepare_v2(ci->db, "INSERT OR IGNORE INTO temp.roots (id) VALUES (?1)", -1, &q,
	                        NULL);
	for (size_t i = 0; rc == SQLITE_OK && i < n_extra; i++) {
		sqlite3_bind_blob(q, 1, extra[i].bytes, DIGEST_SIZE, SQLITE_STATIC);
		rc = sqlite3_step(q);
		rc = rc == SQLITE_DONE ? sqlite3_reset(q) : rc;
	}
	sqlite3_finalize(q);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(
		    ci->db,
		    "WITH RECURSIVE live(id) AS ("
		    "  SELECT id FROM temp.roots"
		    "  UNION SELECT t.parent FROM trees t JOIN live l ON t.id = l.id"
		    "   WHERE t.parent IS NOT NULL)"
		    " SELECT l.id, COALESCE(t.size, 0) FROM live l LEFT JOIN trees t ON t.id = l.id"
		    " UNION ALL"
		    " SELECT b.blob, b.size FROM live l JOIN tree_blobs b ON b.tree = l.id",
		    -1, &q, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct digest d;

		rc = SQLITE_OK;
		if (column_digest(q, 0, &d))
			cacheidx_set_add(live, &d, (uint64_t)sqlite3_column_int64(q, 1));
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE && rc != SQLITE_OK)
		return cacheidx_error(ci, rc, "reading", err);
	return 0;
}

static int
live_set(struct cacheidx *ci, bool records, const struct digest *extra, size_t n_extra,
         struct cacheidx_set *live, struct kl_error **err)
{
	int r;

	pthread_mutex_lock(&ci->lock);
	r = cacheidx_ensure_schema(ci, err);
	if (r >= 0)
		r = live_locked(ci, records, extra, n_extra, live, err);
	pthread_mutex_unlock(&ci->lock);
	return r;
}

/* Usage. */

struct tally {
	const struct cacheidx_set *rec, *src;
	struct cacheidx_usage *u;
};

static int
tally_blob(const struct digest *d, uint64_t size, void *userdata)
{
	struct tally *t = userdata;
	bool in_rec = cacheidx_set_has(t->rec, d), in_src = cacheidx_set_has(t->src, d);

	t->u->store_blobs++;
	t->u->store_bytes += size;
	if (in_rec)
		t->u->records_bytes += size;
	if (in_src)
		t->u->sources_bytes += size;
	if (in_rec && in_src)
		t->u->shared_bytes += size;
	if (!in_src)
		t->u->reclaimable += size;
	if (!in_rec && !in_src)
		t->u->unused += size;
	return 0;
}

static int
count_record(const struct cacheidx_record *r, void *userdata)
{
	(void)r;
	((struct cacheidx_usage *)userdata)->records++;
	return 0;
}

int
cacheidx_usage(struct cacheidx *ci, struct store *s, struct cacheidx_usage *ret,
               struct kl_error **err)
{
	struct roots roots = {.ci = ci, .store = s, .err = err};
	struct cacheidx_set rec = {0}, src = {0};
	struct cacheidx_usage u = {0};
	struct tally t = {&rec, &src, &u};
	int r;

	r = source_foreach_root(s, add_source_root, &roots, err);
	if (r >= 0)
		r = live_set(ci, true, NULL, 0, &rec, err);
	if (r >= 0)
		r = live_set(ci, false, roots.v, roots.n, &src, err);
	if (r >= 0)
		r = cacheidx_foreach(ci, count_record, &u, err);
	if (r >= 0)
		r = store_foreach_blob(s, tally_blob, &t, err);
	cacheidx_set_done(&rec);
	cacheidx_set_done(&src);
	free(roots.v);
	if (r < 0)
		return r;
	*ret = u;
	return 0;
}

/* Prune. */

struct selection {
	const struct cacheidx_prune_options *opts;
	struct store *store;
	int64_t now;
	uint64_t total;
	struct digest *drop;
	size_t n_drop, cap;
	uint64_t kept;
};

static void
drop(struct selection *sel, const struct digest *key)
{
	sel->drop = xgrow(sel->drop, &sel->cap, sel->n_drop + 1, sizeof(*sel->drop));
	sel->drop[sel->n_drop++] = *key;
}

static int
sum_record(const struct cacheidx_record *r, void *userdata)
{
	((struct selection *)userdata)->total += r->size;
	return 0;
}

/* Called oldest first: a record goes when a filter says so, while the cache is over its
 * storage limit, or when its tree is gone from the store. */
static int
select_record(const struct cacheidx_record *r, void *userdata)
{
	struct selection *sel = userdata;
	const struct cacheidx_prune_options *o = sel->opts;
	bool go = o->all;

	go |= o->until_sec > 0 && r->last_used < sel->now - o->until_sec;
	go |= o->keep_storage > 0 && sel->total > o->keep_storage;
	go |= store_has_blob(sel->store, &r->tree) != 1;
	go |= r->has_diff && store_has_blob(sel->store, &r->diff) != 1;
	if (go) {
		drop(sel, &r->key);
		sel->total -= r->size < sel->total ? r->size : sel->total;
	} else {
		sel->kept++;
	}
	return 0;
}

struct sweep {
	struct store *store;
	const struct cacheidx_set *live;
	int64_t since_ns;
	struct cacheidx_prune_stats *stats;
};

static int
sweep_blob(const struct digest *d, uint64_t size, void *userdata)
{
	struct sweep *sw = userdata;

	if (!cacheidx_set_has(sw->live, d) && store_remove_blob(sw->store, d, sw->since_ns) == 0) {
		sw->stats->blobs_removed++;
		sw->stats->bytes_removed += size;
	} else {
		sw->stats->blobs_kept++;
		sw->stats->bytes_kept += size;
	}
	return 0;
}

struct forget {
	const struct digest *drop;
	size_t n;
};

static int
forget_fn(struct cacheidx *ci, const struct forget *f, struct kl_error **err)
{
	sqlite3_stmt *q = NULL;
	int rc, r;

	r = exec_sql(ci, "BEGIN IMMEDIATE", err);
	if (r < 0)
		return r;
	ci->wrote = true;
	rc = sqlite3_prepare_v2(ci->db, "DELETE FROM records WHERE key = ?1", -1, &q, NULL);
	for (size_t i = 0; rc == SQLITE_OK && i < f->n; i++) {
		sqlite3_bind_blob(q, 1, f->drop[i].bytes, DIGEST_SIZE, SQLITE_STATIC);
		rc = sqlite3_step(q);
		rc = rc == SQLITE_DONE ? sqlite3_reset(q) : rc;
	}
	sqlite3_finalize(q);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(ci->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		r = cacheidx_error(ci, rc, "writing", err);
		(void)sqlite3_exec(ci->db, "ROLLBACK", NULL, NULL, NULL);
		return r;
	}
	return 0;
}

/* Drops the trees rows no root reaches any more (their blobs are gone). Lock held; the
 * temp.roots of the last live set are the roots. */
static int
forget_dead_trees_locked(struct cacheidx *ci, struct kl_error **err)
{
	int r;

	ci->wrote = true;
	r = exec_sql(ci,
	             "BEGIN IMMEDIATE;"
	             "CREATE TEMP TABLE IF NOT EXISTS live (id BLOB PRIMARY KEY) WITHOUT ROWID;"
	             "DELETE FROM temp.live;"
	             "WITH RECURSIVE l(id) AS (SELECT id FROM temp.roots"
	             "  UNION SELECT t.parent FROM trees t JOIN l ON t.id = l.id"
	             "   WHERE t.parent IS NOT NULL)"
	             " INSERT OR IGNORE INTO temp.live SELECT id FROM l;"
	             "DELETE FROM tree_blobs WHERE tree NOT IN (SELECT id FROM temp.live);"
	             "DELETE FROM trees WHERE id NOT IN (SELECT id FROM temp.live);"
	             "DELETE FROM memo;"
	             "COMMIT;",
	             err);

	if (r < 0)
		(void)sqlite3_exec(ci->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

int
cacheidx_prune(struct cacheidx *ci, struct store *s, const struct cacheidx_prune_options *opts,
               struct cacheidx_prune_stats *ret, struct kl_error **err)
{
	struct selection sel = {.opts = opts, .store = s, .now = (int64_t)time(NULL)};
	struct roots roots = {.ci = ci, .store = s, .err = err};
	struct cacheidx_prune_stats stats = {0};
	struct cacheidx_set live = {0};
	struct timespec start;
	_cleanup_close_ int gc = -1;
	int r;

	/* Blobs written from now on (by a kiln that is not a build) are spared. The coarse
	 * clock is the one file times come from. */
	clock_gettime(CLOCK_REALTIME_COARSE, &start);
	r = cacheidx_foreach(ci, sum_record, &sel, err);
	if (r >= 0)
		r = cacheidx_foreach(ci, select_record, &sel, err);
	if (r >= 0 && sel.n_drop) {
		struct forget f = {sel.drop, sel.n_drop};

		pthread_mutex_lock(&ci->lock);
		r = forget_fn(ci, &f, err);
		pthread_mutex_unlock(&ci->lock);
	}
	stats.records_removed = r >= 0 ? sel.n_drop : 0;
	stats.records_kept = sel.kept;
	free(sel.drop);
	if (r < 0)
		return r;
	/* From here on no build runs: whatever a build made is a record or is garbage. */
	gc = cacheidx_gc_lock(ci, opts->waiting, opts->userdata, err);
	if (gc < 0)
		return gc;
	r = source_foreach_root(s, add_source_root, &roots, err);
	if (r >= 0)
		r = live_set(ci, true, roots.v, roots.n, &live, err);
	if (r >= 0) {
		struct sweep sw = {
		    s, &live, (int64_t)start.tv_sec * 1000000000 + (int64_t)start.tv_nsec, &stats};

		r = store_foreach_blob(s, sweep_blob, &sw, err);
		/* the records of removed blobs and the trust sets of removed trees go too */
		if (r >= 0 && stats.blobs_removed)
			store_trust_prune(s);
	}
	if (r >= 0) {
		pthread_mutex_lock(&ci->lock);
		r = forget_dead_trees_locked(ci, err);
		pthread_mutex_unlock(&ci->lock);
	}
	kl_debug("prune: %llu records removed, %llu blobs (%llu bytes) removed",
	         (unsigned long long)stats.records_removed, (unsigned long long)stats.blobs_removed,
	         (unsigned long long)stats.bytes_removed);
	cacheidx_set_done(&live);
	free(roots.v);
	if (r < 0)
		return r;
	*ret = stats;
	return 0;
}
