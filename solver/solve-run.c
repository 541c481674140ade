// SPDX-License-Identifier: Apache-2.0
/* Running one vertex: its key locked across processes, the index checked again, the op run
 * (sources, file ops, merge, diff, exec), the local contents it refers to ingested, and the
 * result recorded. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fs/provider.h"
#include "fs/store.h"
#include "fs/tree.h"
#include "fs/uring.h"
#include "solver/exec.h"
#include "solver/fileop.h"
#include "solver/graph-internal.h"
#include "solver/graph.h"
#include "solver/solve-internal.h"
#include "sources/httpsrc.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/log.h"
#include "util/xalloc.h"

#define INGEST_BATCH 256u     /* local files ingested at once */
#define INGEST_MAX_THREADS 4u /* threads sharing one ingest */

/* The empty tree's id (written once). */
static int
solve_empty_tree(struct solve *sv, struct digest *ret, struct kl_error **err)
{
	_cleanup_(tree_builder_freep) struct tree_builder *b = NULL;
	struct digest d;
	bool have;
	int r;

	pthread_mutex_lock(&sv->lock);
	have = sv->has_empty_tree;
	d = sv->empty_tree;
	pthread_mutex_unlock(&sv->lock);
	if (have) {
		*ret = d;
		return 0;
	}
	b = tree_builder_new();
	r = tree_builder_add(b, &(struct tree_entry){.path = "", .type = TREE_DIR, .mode = 0755},
	                     NULL, 0, err);
	if (r >= 0)
		r = tree_builder_write(b, sv->store, &d, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&sv->lock);
	sv->empty_tree = d;
	sv->has_empty_tree = true;
	pthread_mutex_unlock(&sv->lock);
	*ret = d;
	return 0;
}

int
solve_vertex_tree(struct solve *sv, uint32_t idx, struct tree **ret, struct kl_error **err)
{
	struct vstate *vs = &sv->v[idx];
	struct tree *t;
	int r;

	if (vs->local) {
		*ret = vs->local;
		return 0;
	}
	pthread_mutex_lock(&sv->lock);
	t = vs->t;
	pthread_mutex_unlock(&sv->lock);
	if (t) {
		*ret = t;
		return 0;
	}
	r = tree_load(sv->store, &vs->tree, &t, err);
	if (r == -ENOENT)
		r = kl_error_setf(err, ENOENT, "the tree of vertex '%s' is not in the store",
		                  graph_vertex(sv->g, idx)->id);
	if (r < 0)
		return r;
	pthread_mutex_lock(&sv->lock);
	if (vs->t)
		tree_unref(t); /* another worker loaded it meanwhile */
	else
		vs->t = t;
	t = vs->t;
	pthread_mutex_unlock(&sv->lock);
	*ret = t;
	return 0;
}

/* The tree of input slot k of v (the empty tree for an empty slot); lent. */
static int
input_tree(struct solve *sv, const struct graph_vertex *v, size_t k, struct tree **keep,
           struct tree **ret, struct kl_error **err)
{
	struct digest empty;
	int r;

	if (k < v->n_inputs && v->inputs[k] != GRAPH_NO_INPUT)
		return solve_vertex_tree(sv, v->inputs[k], ret, err);
	if (*keep) {
		*ret = *keep;
		return 0;
	}
	r = solve_empty_tree(sv, &empty, err);
	if (r >= 0)
		r = tree_load(sv->store, &empty, keep, err);
	if (r >= 0)
		*ret = *keep;
	return r;
}

/* What a vertex made. */
struct outcome {
	struct digest tree;
	struct digest diff;
	bool has_diff;
	const struct tree *parent; /* lent: an input's tree */
};

static int
run_file(struct solve *sv, const struct graph_vertex *v, struct outcome *o, struct kl_error **err)
{
	const struct fileop_env env = {sv->store, sv->providers, sv->rings};
	_cleanup_free_ const struct tree **inputs = xcalloc(v->n_inputs + 1, sizeof(*inputs));
	const struct tree *base = NULL;
	struct tree *t;
	int r;

	for (size_t k = 0; k < v->n_inputs; k++) {
		if (v->inputs[k] == GRAPH_NO_INPUT)
			continue;
		r = solve_vertex_tree(sv, v->inputs[k], &t, err);
		if (r < 0)
			return r;
		inputs[k] = t;
	}
	if (v->n_inputs)
		base = inputs[0];
	o->parent = base;
	return fileop_apply(&env, &v->file, base, inputs, v->n_inputs, &o->tree, err);
}

static int
run_merge_diff(struct solve *sv, const struct graph_vertex *v, struct outcome *o,
               struct kl_error **err)
{
	const struct fileop_env env = {sv->store, sv->providers, sv->rings};
	_cleanup_free_ const struct tree **trees = xcalloc(v->n_inputs + 1, sizeof(*trees));
	_cleanup_(tree_unrefp) struct tree *empty = NULL;
	int r;

	for (size_t k = 0; k < v->n_inputs; k++) {
		struct tree *t;

		r = input_tree(sv, v, k, &empty, &t, err);
		if (r < 0)
			return r;
		trees[k] = t;
	}
	if (v->kind == GRAPH_OP_DIFF)
		return fileop_diff(&env, trees[0], trees[1], &o->tree, err);
	o->parent = trees[0];
	return fileop_merge(&env, trees, v->n_inputs, &o->tree, err);
}

struct log_ctx {
	struct solve *sv;
	uint32_t idx;
};

static void
on_log(void *userdata, int stream, const char *data, size_t len)
{
	struct log_ctx *l = userdata;
	const struct graph_vertex *v = graph_vertex(l->sv->g, l->idx);
	struct progress_event ev = {
	    .kind = PROGRESS_VERTEX_LOG,
	    .vertex = l->idx,
	    .name = graph_vertex_display_name(v),
	    .digest = &v->digest,
	    .stream = stream,
	    .data = data,
	    .len = len,
	};
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ev.time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	solve_emit(l->sv, &ev);
}

static int
run_exec(struct solve *sv, uint32_t idx, struct outcome *o, struct kl_error **err)
{
	const struct graph_vertex *v = graph_vertex(sv->g, idx);
	const struct solve_options *so = sv->opts;
	_cleanup_free_ const struct digest **mounts =
	    xcalloc(v->exec.n_mounts + 1, sizeof(*mounts));
	struct log_ctx lc = {sv, idx};
	const struct exec_env env = {
	    .store = sv->store,
	    .providers = sv->providers,
	    .lazy_root = sv->lazy_root,
	    .state_dir = sv->exec_dir,
	    .runtime = sv->runtime,
	    .secrets = so->secrets,
	    .n_secrets = so->n_secrets,
	    .ssh = so->ssh,
	    .n_ssh = so->n_ssh,
	    .allow_insecure = so->allow_insecure,
	    .cancel_fd = sv->stop_pipe[0],
	    .log = on_log,
	    .log_userdata = &lc,
	};
	const struct digest *root = NULL;
	struct exec_result res = {0};
	struct tree *t;
	int r;

	if (v->n_inputs && v->inputs[0] != GRAPH_NO_INPUT) {
		r = solve_vertex_tree(sv, v->inputs[0], &t, err);
		if (r < 0)
			return r;
		root = tree_id(t);
		o->parent = t;
	}
	for (size_t i = 0; i < v->exec.n_mounts; i++) {
		uint32_t in = v->exec.mounts[i].input;

		if (in == GRAPH_NO_INPUT || v->inputs[in] == GRAPH_NO_INPUT)
			continue;
		mounts[i] = &sv->v[v->inputs[in]].tree;
	}
	r = exec_run(&env, v, root, mounts, &res, err);
	if (r < 0 && res.has_failed_tree) {
		pthread_mutex_lock(&sv->lock);
		if (!sv->has_failed_tree) {
			sv->has_failed_tree = true;
			sv->failed_tree = res.failed_tree;
		}
		pthread_mutex_unlock(&sv->lock);
	}
	if (r < 0)
		return r;
	o->tree = res.tree;
	o->diff = res.diff;
	o->has_diff = true;
	return 0;
}

static int
run_source(struct solve *sv, uint32_t idx, struct outcome *o, struct kl_error **err)
{
	const struct graph_source *src = &graph_vertex(sv->g, idx)->source;
	struct digest checksum, content;
	struct httpsrc_options ho = {
	    .url = src->ref,
	    .checksum = &checksum,
	    .filename = src->filename,
	    .mode = src->mode,
	    .uid = src->uid,
	    .gid = src->gid,
	    .cancel_fd = sv->stop_pipe[0],
	};
	int r;

	if (src->kind == GRAPH_SOURCE_SCRATCH)
		return solve_empty_tree(sv, &o->tree, err);
	/* the others ran in the key pass; only http with a checksum is left for a miss */
	r = digest_parse(src->checksum, strlen(src->checksum), &checksum, err);
	if (r >= 0)
		r = httpsrc_fetch(sv->store, &ho, &o->tree, &content, err);
	return r;
}

/* A file whose bytes are still only in a local context. */
static bool
needs_ingest(struct solve *sv, const struct tree_entry *e)
{
	return e->type == TREE_REG && (e->flags & TREE_ENTRY_HAS_DIGEST) && e->locator &&
	       e->locator_len > 6 && !memcmp(e->locator, "local:", 6) &&
	       store_has_blob(sv->store, &e->digest) != 1;
}

static int
ingest_batch(struct solve *sv, struct uring **u, const struct provider_request *reqs, size_t n,
             struct kl_error **err)
{
	int results[INGEST_BATCH];
	int r;

	if (!*u) {
		r = uring_pool_get(sv->rings, u, err);
		if (r < 0)
			return r;
	}
	return provider_set_fetch_batch(sv->providers, *u, reqs, n, results, NULL, err);
}

/* One thread's share of an ingest: reqs[0..n) in batches, on the thread's own ring. */
struct ingest_part {
	struct solve *sv;
	const struct provider_request *reqs;
	size_t n;
	int r;
	struct kl_error *err;
};

static void *
ingest_part_run(void *userdata)
{
	struct ingest_part *p = userdata;
	struct uring *u = NULL;

	for (size_t i = 0; i < p->n && p->r >= 0; i += INGEST_BATCH) {
		size_t k = p->n - i < INGEST_BATCH ? p->n - i : INGEST_BATCH;

		p->r = ingest_batch(p->sv, &u, p->reqs + i, k, &p->err);
	}
	return NULL;
}

/* How many threads share an ingest of n files: one per core, each with a batch at least. */
static size_t
ingest_threads(size_t n)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	size_t t = n / INGEST_BATCH;

	if (cores < 1)
		cores = 1;
	if (t > (size_t)cores)
		t = (size_t)cores;
	if (t > INGEST_MAX_THREADS)
		t = INGEST_MAX_THREADS;
	return t ? t : 1;
}

/* The contents of a local context that t names, copied into the store (verified against
 * their digests): a record must stay readable once the context is gone. A large context is
 * split between threads: each file costs a create, a copy and a rename, which keep a core
 * busy only in part. */
static int
ingest_local(struct solve *sv, const struct tree *t, struct kl_error **err)
{
	_cleanup_free_ struct provider_request *reqs = NULL;
	_cleanup_free_ struct digest *want = NULL;
	struct ingest_part parts[INGEST_MAX_THREADS] = {{0}};
	pthread_t threads[INGEST_MAX_THREADS];
	bool started[INGEST_MAX_THREADS] = {false};
	uint32_t count = tree_count(t);
	size_t n = 0, cap = 0, want_cap = 0, n_threads, share;
	int r = 0;

	for (uint32_t i = 0; i < count; i++) {
		struct tree_entry e;

		tree_entry_at(t, i, &e);
		if (!needs_ingest(sv, &e))
			continue;
		reqs = xgrow(reqs, &cap, n + 1, sizeof(*reqs));
		want = xgrow(want, &want_cap, n + 1, sizeof(*want));
		want[n] = e.digest;
		reqs[n++] = (struct provider_request){
		    .path = e.path,
		    .locator = e.locator,
		    .locator_len = e.locator_len,
		    .size = e.size,
		};
	}
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		reqs[i].digest = &want[i]; /* want no longer moves */
	n_threads = ingest_threads(n);
	share = (n + n_threads - 1) / n_threads;
	for (size_t i = 0; i < n_threads; i++) {
		size_t from = i * share < n ? i * share : n;

		parts[i] = (struct ingest_part){
		    .sv = sv, .reqs = reqs + from, .n = n - from < share ? n - from : share};
	}
	/* the calling thread takes the first share */
	for (size_t i = 1; i < n_threads; i++)
		started[i] = pthread_create(&threads[i], NULL, ingest_part_run, &parts[i]) == 0;
	for (size_t i = 1; i < n_threads; i++)
		if (!started[i])
			ingest_part_run(&parts[i]);
	ingest_part_run(&parts[0]);
	for (size_t i = 0; i < n_threads; i++) {
		if (started[i])
			pthread_join(threads[i], NULL);
		if (parts[i].r < 0 && r >= 0) {
			r = parts[i].r;
			if (err && !*err)
				*err = TAKE_PTR(parts[i].err);
		}
		kl_error_free(parts[i].err);
	}
	if (r >= 0)
		kl_debug("solve: %zu local files ingested on %zu thread%s", n, n_threads,
		         n_threads == 1 ? "" : "s");
	return r;
}

static int
load(struct solve *sv, const struct digest *id, struct tree **ret, struct kl_error **err)
{
	int r = tree_load(sv->store, id, ret, err);

	if (r == -ENOENT)
		return kl_error_setf(err, ENOENT, "tree %s is not in the store",
		                     digest_to_string(id, (char[DIGEST_STRING_SIZE]){0}));
	return r;
}

/* Writes the record of what idx made: its tree (kept as the vertex's loaded tree), the tree
 * it was made from, and exec's diff. The users of idx start as soon as its tree is known: the
 * copy of context files into the store that the record waits for (most of a COPY's time) then
 * runs beside the next step, whose reads of files not copied yet go to the context (not with
 * passthrough, see below). */
static int
record(struct solve *sv, uint32_t idx, const struct outcome *o, struct kl_error **err)
{
	const struct graph_vertex *v = graph_vertex(sv->g, idx);
	struct vstate *vs = &sv->v[idx];
	_cleanup_(tree_unrefp) struct tree *diff = NULL;
	struct tree *t;
	int r;

	vs->tree = o->tree;
	vs->created = (int64_t)time(NULL);
	r = solve_vertex_tree(sv, idx, &t, err);
	/* with passthrough, the next step's opens are served by the kernel only from blobs
	 * already in the store: they wait for the copy */
	if (r >= 0 && !sv->opts->lazy_passthrough) {
		solve_release_users(sv, idx);
		r = solve_wait_inputs_recorded(sv, idx);
	}
	if (r >= 0)
		r = ingest_local(sv, t, err);
	if (r >= 0 && o->has_diff)
		r = load(sv, &o->diff, &diff, err);
	if (r >= 0) {
		const struct cacheidx_entry e = {
		    .key = &vs->key,
		    .tree = t,
		    .parent = o->parent,
		    .diff = diff,
		    .op = graph_op_name(v->kind),
		    .description = graph_vertex_display_name(v),
		    .created = vs->created,
		};

		r = cacheidx_put(sv->idx, sv->store, &e, err);
	}
	return r;
}

/* Another process may have made the record while this one waited for the key's lock. */
static bool
recheck(struct solve *sv, uint32_t idx)
{
	struct vstate *vs = &sv->v[idx];
	struct cacheidx_hit h;
	bool found = false;

	if (sv->opts->no_cache || graph_vertex(sv->g, idx)->ignore_cache)
		return false;
	if (cacheidx_lookup(sv->idx, &vs->key, 1, &found, &h, NULL) < 0 || !found ||
	    store_has_blob(sv->store, &h.tree) != 1)
		return false;
	vs->hit = true;
	vs->h = h;
	vs->tree = h.tree;
	vs->created = h.created;
	vs->cached = true;
	return true;
}

static int
run_op(struct solve *sv, uint32_t idx, struct outcome *o, struct kl_error **err)
{
	const struct graph_vertex *v = graph_vertex(sv->g, idx);

	switch (v->kind) {
	case GRAPH_OP_SOURCE:
		return run_source(sv, idx, o, err);
	case GRAPH_OP_FILE:
		return run_file(sv, v, o, err);
	case GRAPH_OP_EXEC:
		return run_exec(sv, idx, o, err);
	default:
		return run_merge_diff(sv, v, o, err);
	}
}

int
solve_run_vertex(struct solve *sv, uint32_t idx, struct kl_error **err)
{
	const struct graph_vertex *v = graph_vertex(sv->g, idx);
	struct vstate *vs = &sv->v[idx];
	struct outcome o = {0};
	int lock_fd, r;

	lock_fd = cacheidx_lock_key(sv->idx, &vs->key, sv->stop_pipe[0], err);
	if (lock_fd < 0)
		return lock_fd;
	if (recheck(sv, idx)) {
		cacheidx_unlock_key(sv->idx, &vs->key, lock_fd);
		kl_debug("solve: vertex '%s' was made by another process meanwhile", v->id);
		solve_emit_vertex(sv, idx, PROGRESS_VERTEX_CACHED, NULL, 0);
		return 0;
	}
	solve_emit_vertex(sv, idx, PROGRESS_VERTEX_STARTED, NULL, 0);
	r = run_op(sv, idx, &o, err);
	/* only a success is recorded: a failed or cancelled step leaves no record */
	if (r >= 0)
		r = record(sv, idx, &o, err);
	cacheidx_unlock_key(sv->idx, &vs->key, lock_fd);
	if (r == -ECANCELED)
		return r;
	if (r < 0) {
		kl_error_prefix(err, "vertex '%s'", v->id);
		return r;
	}
	solve_emit_vertex(sv, idx, PROGRESS_VERTEX_DONE, NULL, 0);
	return 0;
}
