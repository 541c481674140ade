// SPDX-License-Identifier: Apache-2.0
/* solve_run: the key pass (sources resolved, every key computed), one read transaction of the
 * index, the plan (what must run for the result), and the run pass over a pool of workers. A
 * solve that finds everything cached ends after the lookup: no mount, no thread, no write. */
#include "solver/solve.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "fs/store.h"
#include "fs/tree.h"
#include "solver/cachekey.h"
#include "solver/graph-internal.h"
#include "solver/graph.h"
#include "solver/solve-internal.h"
#include "sources/ctxsrc.h"
#include "sources/gitsrc.h"
#include "sources/httpsrc.h"
#include "sources/imgsrc.h"
#include "sources/source.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/log.h"
#include "util/xalloc.h"

static int64_t
realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time of the process, for the debug lines (a loaded machine stretches wall time); 0
 * when they are off, which costs no syscall. */
static uint64_t
cpu_ns(void)
{
	struct timespec ts;

	if (!kl_log_enabled(KL_LOG_DEBUG))
		return 0;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Progress. */

void
solve_emit(struct solve *sv, const struct progress_event *ev)
{
	if (!sv->opts->progress)
		return;
	pthread_mutex_lock(&sv->progress_lock);
	sv->opts->progress(ev, sv->opts->progress_userdata);
	pthread_mutex_unlock(&sv->progress_lock);
}

void
solve_emit_vertex(struct solve *sv, uint32_t idx, enum progress_event_kind kind, const char *data,
                  size_t len)
{
	const struct graph_vertex *v = graph_vertex(sv->g, idx);
	struct vstate *vs = &sv->v[idx];
	struct progress_event ev = {
	    .kind = kind,
	    .vertex = idx,
	    .name = graph_vertex_display_name(v),
	    .digest = &v->digest,
	    .time_ns = realtime_ns(),
	    .data = data,
	    .len = len,
	};

	if (kind == PROGRESS_VERTEX_STARTED) {
		vs->started_ns = ev.time_ns;
		vs->mono_ns = mono_ns();
	} else if (kind != PROGRESS_VERTEX_LOG && kind != PROGRESS_VERTEX_BYTES && vs->mono_ns) {
		ev.started_ns = vs->started_ns;
		ev.duration_ns = mono_ns() - vs->mono_ns;
	}
	vs->reported = true;
	solve_emit(sv, &ev);
}

/* The needed set: what the result depends on. */

static void
mark_needed(struct solve *sv)
{
	sv->v[graph_result(sv->g)].needed = true;
	for (size_t i = sv->n; i-- > 0;) {
		const struct graph_vertex *v = graph_vertex(sv->g, (uint32_t)i);

		if (!sv->v[i].needed)
			continue;
		for (size_t k = 0; k < v->n_inputs; k++)
			if (v->inputs[k] != GRAPH_NO_INPUT)
				sv->v[v->inputs[k]].needed = true;
	}
}

/* The key pass: sources resolved where their keys need it. */

static const struct solve_local *
find_local(const struct solve_options *o, const char *name)
{
	for (size_t i = 0; i < o->n_locals; i++)
		if (!strcmp(o->locals[i].name, name))
			return &o->locals[i];
	return NULL;
}

static int
scan_local(struct solve *sv, uint32_t idx, struct kl_error **err)
{
	const struct graph_vertex *v = graph_vertex(sv->g, idx);
	const struct graph_source *src = &v->source;
	const struct solve_local *l = find_local(sv->opts, src->name);
	struct vstate *vs = &sv->v[idx];
	struct ctxsrc_stats stats = {0};
	struct ctxsrc_options o = {
	    .ignore_file = l ? l->ignore_file : NULL,
	    .followpaths = (const char *const *)src->followpaths.v,
	    .n_followpaths = src->followpaths.n,
	    .exclude_patterns = (const char *const *)src->exclude.v,
	    .n_exclude_patterns = src->exclude.n,
	    .include_patterns = (const char *const *)src->include.v,
	    .n_include_patterns = src->include.n,
	    .stats = &stats,
	    .ret_tree = &vs->local,
	};
	int64_t start = realtime_ns();
	uint64_t m0 = mono_ns();
	int r;

	if (!l)
		return kl_error_setf(
		    err, ENOENT, "vertex '%s': the local source '%s' is not bound (--local %s=DIR)",
		    v->id, src->name, src->name);
	r = ctxsrc_scan(sv->store, l->dir, &o, &vs->tree, err);
	if (r < 0) {
		kl_error_prefix(err, "vertex '%s'", v->id);
		return r;
	}
	vs->resolved = true;
	/* Only a context whose every file came from the stat cache is "cached": a fresh clone is
	 * hashed (and then hits the cache of what copies from it). */
	vs->cached = stats.hashed_files == 0 && !sv->opts->no_cache;
	if (!vs->cached) {
		vs->started_ns = start;
		vs->mono_ns = m0;
		solve_emit_vertex(sv, idx, PROGRESS_VERTEX_DONE, NULL, 0);
	}
	return 0;
}

/* The byte counters of one source's fetches (an http download, a git fetch, an image's layer
 * blobs), each reported at most every BYTES_INTERVAL_NS and at its end (current == total). */
#define BYTES_INTERVAL_NS 100000000u

struct bytes_ctx {
	struct solve *sv;
	uint32_t idx;
	const char *id; /* http: the URL */
	char *last_id;  /* the counter reported last, and when */
	uint64_t last_ns;
};

static void
emit_bytes(struct bytes_ctx *b, const char *id, uint64_t current, uint64_t total)
{
	const struct graph_vertex *v = graph_vertex(b->sv->g, b->idx);
	uint64_t now = mono_ns();
	bool same = b->last_id && !strcmp(b->last_id, id);
	struct progress_event ev = {
	    .kind = PROGRESS_VERTEX_BYTES,
	    .vertex = b->idx,
	    .name = graph_vertex_display_name(v),
	    .digest = &v->digest,
	    .time_ns = realtime_ns(),
	    .id = id,
	    .current = current,
	    .total = total,
	};

	if (!b->sv->opts->progress)
		return;
	if (same && !(total && current >= total) && now - b->last_ns < BYTES_INTERVAL_NS)
		return;
	if (!same) {
		free(b->last_id);
		b->last_id = xstrdup(id);
	}
	b->last_ns = now;
	solve_emit(b->sv, &ev);
}

static void
on_bytes(void *userdata, uint64_t current, uint64_t total)
{
	struct bytes_ctx *b = userdata;

	emit_bytes(b, b->id, current, total);
}

static void
on_source_bytes(void *userdata, const char *id, uint64_t current, uint64_t total)
{
	emit_bytes(userdata, id, current, total);
}

/* Git, image and http without a checksum: their keys need what they resolve to. */
static int
resolve_remote(struct solve *sv, uint32_t idx, struct kl_error **err)
{
	const struct graph_vertex *v = graph_vertex(sv->g, idx);
	const struct graph_source *src = &v->source;
	struct vstate *vs = &sv->v[idx];
	char commit[41], id[DIGEST_STRING_SIZE];
	struct bytes_ctx b = {sv, idx, src->ref, NULL, 0};
	struct digest d;
	int r;

	solve_emit_vertex(sv, idx, PROGRESS_VERTEX_STARTED, NULL, 0);
	switch (src->kind) {
	case GRAPH_SOURCE_GIT: {
		const struct gitsrc_options o = {
		    .keep_git_dir = src->keep_git_dir,
		    .progress = on_source_bytes,
		    .progress_userdata = &b,
		};

		r = gitsrc_resolve(sv->store, src->ref, &o, &vs->tree, commit, err);
		if (r >= 0)
			vs->content = xstrdup(commit);
		break;
	}
	case GRAPH_SOURCE_IMAGE: {
		struct source_options o =
		    sv->opts->sources ? *sv->opts->sources : (struct source_options){0};
		_cleanup_free_ char *spec = NULL;

		o.progress = on_source_bytes;
		o.progress_userdata = &b;
		if (src->platform)
			o.platform = src->platform;
		/* an image a frontend resolved already: its merged tree, by id */
		if (!strncmp(src->ref, "sha256:", 7) &&
		    digest_parse(src->ref, strlen(src->ref), &d, NULL) >= 0) {
			r = store_has_blob(sv->store, &d) == 1 ? 0 : -ENOENT;
			if (r < 0)
				kl_error_setf(err, ENOENT, "the image tree %s is not in the store",
				              src->ref);
			vs->tree = d;
			if (r >= 0)
				vs->content = xasprintf("tree:%s", src->ref);
			break;
		}
		/* a bare name is an image reference, as in a Dockerfile's FROM */
		if (!strstr(src->ref, "://"))
			spec = xasprintf("docker-image://%s", src->ref);
		r = imgsrc_resolve_manifest(sv->store, spec ? spec : src->ref, &o, &vs->tree, &d,
		                            err);
		if (r >= 0)
			vs->content = xstrdup(digest_to_string(&d, id));
		break;
	}
	default: { /* http without a checksum */
		struct httpsrc_options o = {
		    .url = src->ref,
		    .filename = src->filename,
		    .mode = src->mode,
		    .uid = src->uid,
		    .gid = src->gid,
		    .cancel_fd = sv->opts->cancel_fd,
		    .progress = on_bytes,
		    .progress_userdata = &b,
		};

		r = httpsrc_fetch(sv->store, &o, &vs->tree, &d, err);
		if (r >= 0)
			vs->content = xstrdup(digest_to_string(&d, id));
		break;
	}
	}
	free(b.last_id);
	if (r < 0) {
		if (r != -ECANCELED)
			kl_error_prefix(err, "vertex '%s'", v->id);
		return r;
	}
	vs->resolved = true;
	return 0;
}

static bool
cancel_requested(const struct solve *sv)
{
	struct pollfd p = {.fd = sv->opts->cancel_fd, .events = POLLIN};

	return p.fd >= 0 && poll(&p, 1, 0) > 0;
}

/* Sources resolved where their keys need it (contexts scanned, refs fetched). */
static int
resolve_pass(struct solve *sv, struct kl_error **err)
{
	for (uint32_t i = 0; i < sv->n; i++) {
		const struct graph_vertex *v = graph_vertex(sv->g, i);
		const struct graph_source *src = &v->source;
		uint64_t t0 = cpu_ns();
		int r = 0;

		if (!sv->v[i].needed || v->kind != GRAPH_OP_SOURCE)
			continue;
		if (cancel_requested(sv))
			return kl_error_setf(err, ECANCELED, "cancelled");
		if (src->kind == GRAPH_SOURCE_LOCAL)
			r = scan_local(sv, i, err);
		else if (src->kind == GRAPH_SOURCE_GIT || src->kind == GRAPH_SOURCE_IMAGE ||
		         (src->kind == GRAPH_SOURCE_HTTP && !src->checksum))
			r = resolve_remote(sv, i, err);
		if (r < 0)
			return r;
		kl_debug("solve: vertex '%s' resolved in %.3f ms (CPU)", v->id,
		         (double)(cpu_ns() - t0) / 1e6);
	}
	return 0;
}

static bool
is_local(const struct solve *sv, uint32_t i)
{
	const struct graph_vertex *v = graph_vertex(sv->g, i);

	return v->kind == GRAPH_OP_SOURCE && v->source.kind == GRAPH_SOURCE_LOCAL;
}

/* The keys and the lookup: one read transaction, where the memo of keys computed from a
 * context's tree is read too; the memos that were missing are written after it. */
struct key_pass {
	struct solve *sv;
	struct cacheidx *ci;
	struct cacheidx_memo *puts;
	size_t n_puts, cap;
};

static int
memo_get(void *userdata, const struct digest *tree, const struct digest *what, struct digest *ret)
{
	struct key_pass *kp = userdata;

	return cacheidx_memo_get_in_txn(kp->ci, tree, what, ret);
}

static void
memo_put(void *userdata, const struct digest *tree, const struct digest *what,
         const struct digest *key)
{
	struct key_pass *kp = userdata;

	kp->puts = xgrow(kp->puts, &kp->cap, kp->n_puts + 1, sizeof(*kp->puts));
	kp->puts[kp->n_puts++] = (struct cacheidx_memo){*tree, *what, *key};
}

static int
compute_keys(struct key_pass *kp, struct kl_error **err)
{
	struct solve *sv = kp->sv;
	_cleanup_free_ const struct tree **locals = xcalloc(sv->n + 1, sizeof(*locals));
	_cleanup_free_ struct digest *keys = xcalloc(sv->n + 1, sizeof(*keys));
	const struct cachekey_memo memo = {memo_get, memo_put, kp};
	struct cachekey_ctx kc = {sv->g, keys, locals, &memo};
	int r;

	for (uint32_t i = 0; i < sv->n; i++)
		locals[i] = sv->v[i].local;
	for (uint32_t i = 0; i < sv->n; i++) {
		if (!sv->v[i].needed)
			continue;
		r = cachekey_vertex(&kc, i, sv->v[i].content, &keys[i], err);
		if (r < 0) {
			kl_error_prefix(err, "vertex '%s'", graph_vertex(sv->g, i)->id);
			return r;
		}
		sv->v[i].key = keys[i];
	}
	return 0;
}

static int
lookup_keys(struct key_pass *kp, struct kl_error **err)
{
	struct solve *sv = kp->sv;
	_cleanup_free_ struct digest *keys = xcalloc(sv->n + 1, sizeof(*keys));
	_cleanup_free_ uint32_t *which = xcalloc(sv->n + 1, sizeof(*which));
	_cleanup_free_ struct cacheidx_hit *hits = xcalloc(sv->n + 1, sizeof(*hits));
	_cleanup_free_ bool *found = xcalloc(sv->n + 1, sizeof(*found));
	size_t n = 0;
	int r;

	for (uint32_t i = 0; i < sv->n; i++) {
		if (!sv->v[i].needed || is_local(sv, i))
			continue;
		keys[n] = sv->v[i].key;
		which[n++] = i;
	}
	r = n ? cacheidx_lookup_in_txn(kp->ci, keys, n, found, hits, err) : 0;
	if (r < 0)
		return r;
	for (size_t k = 0; k < n; k++) {
		sv->v[which[k]].hit = found[k];
		if (found[k])
			sv->v[which[k]].h = hits[k];
	}
	return 0;
}

static int
keys_in_txn(struct cacheidx *ci, void *userdata, struct kl_error **err)
{
	struct key_pass *kp = userdata;
	int r;

	kp->ci = ci;
	r = compute_keys(kp, err);
	if (r >= 0)
		r = lookup_keys(kp, err);
	return r;
}

static int
key_pass(struct solve *sv, struct kl_error **err)
{
	struct key_pass kp = {.sv = sv};
	int r;

	r = cacheidx_read(sv->idx, keys_in_txn, &kp, err);
	if (r >= 0 && kp.n_puts)
		r = cacheidx_memo_put(sv->idx, kp.puts, kp.n_puts, err);
	free(kp.puts);
	return r;
}

/* The plan. */

static bool
usable_hit(const struct solve *sv, uint32_t i)
{
	return sv->v[i].hit && !sv->opts->no_cache && !graph_vertex(sv->g, i)->ignore_cache;
}

/* Decides what runs: a vertex whose tree is needed and neither resolved nor cached; its
 * inputs' trees are needed then. A vertex that ignores the cache runs whenever it is needed. */
static void
plan(struct solve *sv)
{
	for (size_t i = 0; i < sv->n; i++) {
		struct vstate *vs = &sv->v[i];

		vs->need_tree = vs->run = false;
		if (vs->needed && graph_vertex(sv->g, (uint32_t)i)->ignore_cache && !vs->resolved)
			vs->need_tree = true;
	}
	sv->v[graph_result(sv->g)].need_tree = true;
	sv->n_run = 0;
	for (size_t i = sv->n; i-- > 0;) {
		const struct graph_vertex *v = graph_vertex(sv->g, (uint32_t)i);
		struct vstate *vs = &sv->v[i];

		if (!vs->need_tree || vs->resolved || usable_hit(sv, (uint32_t)i))
			continue;
		vs->run = true;
		sv->n_run++;
		for (size_t k = 0; k < v->n_inputs; k++)
			if (v->inputs[k] != GRAPH_NO_INPUT)
				sv->v[v->inputs[k]].need_tree = true;
	}
}

/* A record whose trees left the store (an external cleanup) is a miss: forget it. Returns
 * true when one was found, so the plan is made again. */
static bool
drop_dangling(struct solve *sv)
{
	bool again = false;

	for (uint32_t i = 0; i < sv->n; i++) {
		struct vstate *vs = &sv->v[i];

		if (!vs->need_tree || vs->run || !usable_hit(sv, i))
			continue;
		if (store_has_blob(sv->store, &vs->h.tree) == 1)
			continue;
		kl_debug("solve: the record of vertex '%s' names a tree that is gone",
		         graph_vertex(sv->g, i)->id);
		(void)cacheidx_remove(sv->idx, &vs->key, NULL);
		vs->hit = false;
		again = true;
	}
	return again;
}

/* Every vertex whose tree is known without running: CACHED, in graph order. */
static void
report_cached(struct solve *sv)
{
	for (uint32_t i = 0; i < sv->n; i++) {
		struct vstate *vs = &sv->v[i];

		if (!vs->needed || vs->run)
			continue;
		if (vs->resolved) {
			/* a remote source is cached when its record exists (else it ran: DONE) */
			if (!is_local(sv, i))
				vs->cached = vs->hit && !sv->opts->no_cache;
			if (vs->cached && vs->hit)
				vs->created = vs->h.created;
			vs->done = true;
			if (vs->cached)
				solve_emit_vertex(sv, i, PROGRESS_VERTEX_CACHED, NULL, 0);
			else if (!is_local(sv, i))
				solve_emit_vertex(sv, i, PROGRESS_VERTEX_DONE, NULL, 0);
			continue;
		}
		if (!usable_hit(sv, i))
			continue; /* behind a cached vertex, without a record of its own */
		vs->tree = vs->h.tree;
		vs->created = vs->h.created;
		vs->cached = vs->done = true;
		solve_emit_vertex(sv, i, PROGRESS_VERTEX_CACHED, NULL, 0);
	}
}

/* The run pass. */

static void
push_ready(struct solve *sv, uint32_t idx)
{
	sv->queue[sv->q_tail++] = idx;
}

static void
stop_locked(struct solve *sv)
{
	if (sv->stopping)
		return;
	sv->stopping = true;
	(void)!write(sv->stop_pipe[1], "x", 1);
	pthread_cond_broadcast(&sv->cond);
}

static void
release_locked(struct solve *sv, uint32_t idx)
{
	struct vstate *vs = &sv->v[idx];

	vs->released = true;
	for (size_t k = 0; k < vs->n_users; k++)
		if (--sv->v[vs->users[k]].waiting == 0 && !sv->stopping)
			push_ready(sv, vs->users[k]);
}

void
solve_release_users(struct solve *sv, uint32_t idx)
{
	pthread_mutex_lock(&sv->lock);
	if (!sv->v[idx].released)
		release_locked(sv, idx);
	pthread_cond_broadcast(&sv->cond);
	pthread_mutex_unlock(&sv->lock);
}

int
solve_wait_inputs_recorded(struct solve *sv, uint32_t idx)
{
	const struct graph_vertex *v = graph_vertex(sv->g, idx);
	int r = 0;

	pthread_mutex_lock(&sv->lock);
	for (size_t k = 0; k < v->n_inputs && r == 0; k++) {
		uint32_t in = v->inputs[k];

		if (in == GRAPH_NO_INPUT || !sv->v[in].run)
			continue;
		/* released, so its worker is writing the record: it ends one way or the other */
		while (!sv->v[in].recorded && !sv->v[in].failed)
			pthread_cond_wait(&sv->cond, &sv->lock);
		if (!sv->v[in].recorded)
			r = -ECANCELED;
	}
	pthread_mutex_unlock(&sv->lock);
	return r;
}

static void
finish_vertex(struct solve *sv, uint32_t idx, int r, struct kl_error *e)
{
	struct vstate *vs = &sv->v[idx];

	pthread_mutex_lock(&sv->lock);
	sv->running--;
	sv->n_finished++;
	if (r >= 0) {
		vs->done = vs->recorded = true;
		if (!vs->released)
			release_locked(sv, idx);
	} else if (r == -ECANCELED && sv->cancelled) {
		vs->failed = true;
		kl_error_free(e);
	} else {
		vs->failed = true;
		if (sv->failed_vertex < 0) {
			sv->failed_vertex = (int)idx;
			sv->fail_code = r;
			sv->fail_err = e;
		} else {
			kl_error_free(e);
		}
		stop_locked(sv);
	}
	pthread_cond_broadcast(&sv->cond);
	pthread_mutex_unlock(&sv->lock);
	(void)!write(sv->done_fd, &(uint64_t){1}, sizeof(uint64_t));
}

static void *
worker(void *arg)
{
	struct solve *sv = arg;

	pthread_mutex_lock(&sv->lock);
	for (;;) {
		struct kl_error *e = NULL;
		uint32_t idx;
		int r;

		while (sv->q_head == sv->q_tail && !sv->stopping && sv->n_finished < sv->n_run)
			pthread_cond_wait(&sv->cond, &sv->lock);
		if (sv->stopping || sv->q_head == sv->q_tail)
			break;
		idx = sv->queue[sv->q_head++];
		sv->running++;
		pthread_mutex_unlock(&sv->lock);
		r = solve_run_vertex(sv, idx, &e);
		if (r == -ECANCELED)
			solve_emit_vertex(sv, idx, PROGRESS_VERTEX_CANCELED, NULL, 0);
		else if (r < 0)
			solve_emit_vertex(sv, idx, PROGRESS_VERTEX_FAILED,
			                  e ? e->msg : strerror(-r),
			                  strlen(e ? e->msg : strerror(-r)));
		finish_vertex(sv, idx, r, e);
		pthread_mutex_lock(&sv->lock);
	}
	pthread_mutex_unlock(&sv->lock);
	return NULL;
}

/* Waits for the workers, turning a readable cancel_fd into a stop. */
static void
wait_workers(struct solve *sv)
{
	int cancel_fd = sv->opts->cancel_fd;

	for (;;) {
		struct pollfd p[2] = {{.fd = sv->done_fd, .events = POLLIN},
		                      {.fd = cancel_fd, .events = POLLIN}};
		bool end;
		int r;

		pthread_mutex_lock(&sv->lock);
		end = sv->n_finished == sv->n_run || (sv->stopping && sv->running == 0);
		pthread_mutex_unlock(&sv->lock);
		if (end)
			break;
		r = poll(p, cancel_fd >= 0 ? 2 : 1, sv->opts->progress ? PROGRESS_TICK_MS : -1);
		if (r == 0) {
			struct progress_event ev = {
			    .kind = PROGRESS_TICK, .vertex = UINT32_MAX, .time_ns = realtime_ns()};

			solve_emit(sv, &ev);
			continue;
		}
		if (r < 0)
			continue; /* EINTR */
		if (p[0].revents)
			(void)!read(sv->done_fd, &(uint64_t){0}, sizeof(uint64_t));
		if (cancel_fd >= 0 && p[1].revents) {
			pthread_mutex_lock(&sv->lock);
			sv->cancelled = true;
			stop_locked(sv);
			pthread_mutex_unlock(&sv->lock);
		}
	}
	pthread_mutex_lock(&sv->lock);
	sv->stopping = true; /* lets idle workers go */
	pthread_cond_broadcast(&sv->cond);
	pthread_mutex_unlock(&sv->lock);
}

/* Sources resolved in the key pass without a record get one now. */
static int
record_resolved(struct solve *sv, struct kl_error **err)
{
	for (uint32_t i = 0; i < sv->n; i++) {
		struct vstate *vs = &sv->v[i];
		const struct graph_vertex *v = graph_vertex(sv->g, i);
		struct tree *t;
		int r;

		if (!vs->needed || !vs->resolved || is_local(sv, i) || vs->cached)
			continue;
		vs->created = (int64_t)time(NULL);
		r = solve_vertex_tree(sv, i, &t, err);
		if (r >= 0) {
			const struct cacheidx_entry e = {
			    .key = &vs->key,
			    .tree = t,
			    .op = graph_op_name(v->kind),
			    .description = graph_vertex_display_name(v),
			    .created = vs->created,
			};

			r = cacheidx_put(sv->idx, sv->store, &e, err);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static bool
needs_mount(const struct solve *sv)
{
	for (uint32_t i = 0; i < sv->n; i++)
		if (sv->v[i].run && graph_vertex(sv->g, i)->kind == GRAPH_OP_EXEC)
			return true;
	return false;
}

/* Links every running vertex to the running vertices it waits for. */
static void
link_users(struct solve *sv)
{
	sv->queue = xcalloc(sv->n_run + 1, sizeof(*sv->queue));
	for (uint32_t i = 0; i < sv->n; i++) {
		const struct graph_vertex *v = graph_vertex(sv->g, i);
		struct vstate *vs = &sv->v[i];

		if (!vs->run)
			continue;
		for (size_t k = 0; k < v->n_inputs; k++) {
			uint32_t in = v->inputs[k];
			struct vstate *is;
			bool seen = false;

			if (in == GRAPH_NO_INPUT || !sv->v[in].run)
				continue;
			for (size_t j = 0; j < k && !seen; j++)
				seen = v->inputs[j] == in;
			if (seen)
				continue;
			is = &sv->v[in];
			is->users = xrealloc(is->users, (is->n_users + 1) * sizeof(*is->users));
			is->users[is->n_users++] = i;
			vs->waiting++;
		}
		if (!vs->waiting)
			push_ready(sv, i);
	}
}

static int
run_pass(struct solve *sv, struct kl_error **err)
{
	unsigned n_workers = sv->opts->max_parallel;
	_cleanup_free_ pthread_t *threads = NULL;
	unsigned started = 0;
	int r;

	r = solve_build_begin(sv, err);
	if (r >= 0 && needs_mount(sv))
		r = solve_build_mount(sv, err);
	if (r < 0)
		return r;
	if (!n_workers) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);

		n_workers = cores > 0 ? (unsigned)cores : 1;
	}
	if (n_workers > sv->n_run)
		n_workers = (unsigned)sv->n_run;
	if (pipe2(sv->stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return kl_error_set(err, errno, "creating a pipe");
	sv->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (sv->done_fd < 0)
		return kl_error_set(err, errno, "creating an eventfd");
	link_users(sv);
	threads = xcalloc(n_workers, sizeof(*threads));
	for (; started < n_workers; started++) {
		r = pthread_create(&threads[started], NULL, worker, sv);
		if (r != 0) {
			r = kl_error_set(err, r, "starting a worker thread");
			break;
		}
	}
	if (started < n_workers) {
		pthread_mutex_lock(&sv->lock);
		stop_locked(sv);
		pthread_mutex_unlock(&sv->lock);
	}
	if (started)
		wait_workers(sv);
	for (unsigned i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	if (started < n_workers)
		return r;
	if (sv->failed_vertex >= 0) {
		r = sv->fail_code;
		if (err && !*err)
			*err = TAKE_PTR(sv->fail_err);
		return r;
	}
	if (sv->cancelled)
		return kl_error_setf(err, ECANCELED, "cancelled");
	return 0;
}

/* Setup, result, cleanup. */

static void
solve_done(struct solve *sv)
{
	solve_build_end(sv);
	for (size_t i = 0; sv->v && i < sv->n; i++) {
		free(sv->v[i].content);
		free(sv->v[i].users);
		tree_unref(sv->v[i].t);
		tree_unref(sv->v[i].local);
	}
	free(sv->v);
	free(sv->queue);
	kl_error_free(sv->fail_err);
	if (sv->stop_pipe[0] >= 0) {
		close(sv->stop_pipe[0]);
		close(sv->stop_pipe[1]);
	}
	if (sv->done_fd >= 0)
		close(sv->done_fd);
	cacheidx_lease_end(sv->lease_fd);
	cacheidx_free(sv->idx);
	pthread_mutex_destroy(&sv->lock);
	pthread_cond_destroy(&sv->cond);
	pthread_mutex_destroy(&sv->progress_lock);
}

static int
fill_result(struct solve *sv, struct solve_result *ret, struct kl_error **err)
{
	uint32_t res = graph_result(sv->g);
	struct vstate *rv = &sv->v[res];

	if (rv->resolved || rv->cached || rv->done) {
		if (!rv->resolved && rv->cached)
			rv->tree = rv->h.tree;
	} else {
		return kl_error_setf(err, EIO, "the result vertex '%s' has no tree",
		                     graph_vertex(sv->g, res)->id);
	}
	ret->tree = rv->tree;
	ret->n_vertices = sv->n;
	ret->trees = xcalloc(sv->n + 1, sizeof(*ret->trees));
	ret->cached = xcalloc(sv->n + 1, sizeof(*ret->cached));
	ret->created = xcalloc(sv->n + 1, sizeof(*ret->created));
	ret->contents = xcalloc(sv->n + 1, sizeof(*ret->contents));
	for (size_t i = 0; i < sv->n; i++) {
		if (sv->v[i].done || sv->v[i].resolved) {
			ret->trees[i] = sv->v[i].tree;
			ret->created[i] = sv->v[i].created;
		}
		ret->cached[i] = sv->v[i].cached;
		if (sv->v[i].resolved && sv->v[i].content)
			ret->contents[i] = xstrdup(sv->v[i].content);
	}
	return 0;
}

/* The touch of what was used, unless used within the last minute: a no-op solve writes
 * nothing. */
static int
touch_hits(struct solve *sv, struct kl_error **err)
{
	_cleanup_free_ struct digest *keys = xcalloc(sv->n + 1, sizeof(*keys));
	_cleanup_free_ struct cacheidx_hit *hits = xcalloc(sv->n + 1, sizeof(*hits));
	size_t n = 0;

	for (uint32_t i = 0; i < sv->n; i++) {
		if (!sv->v[i].cached || !sv->v[i].hit)
			continue;
		keys[n] = sv->v[i].key;
		hits[n++] = sv->v[i].h;
	}
	return n ? cacheidx_touch(sv->idx, keys, hits, n, err) : 0;
}

int
solve_run(struct store *s, const struct graph *g, const struct solve_options *opts,
          struct solve_result *ret, struct kl_error **err)
{
	static const struct solve_options defaults = {.cancel_fd = -1};
	_cleanup_(solve_done) struct solve sv = {
	    .store = s,
	    .g = g,
	    .opts = opts ? opts : &defaults,
	    .n = graph_count(g),
	    .lease_fd = -1,
	    .failed_vertex = -1,
	    .stop_pipe = {-1, -1},
	    .done_fd = -1,
	    .build_lock_fd = -1,
	    .lock = PTHREAD_MUTEX_INITIALIZER,
	    .cond = PTHREAD_COND_INITIALIZER,
	    .progress_lock = PTHREAD_MUTEX_INITIALIZER,
	};
	int r;

	uint64_t t0 = cpu_ns(), t1, t2, t3;

	*ret = (struct solve_result){.failed_vertex = -1};
	sv.v = xcalloc(sv.n + 1, sizeof(*sv.v));
	mark_needed(&sv);
	r = cacheidx_open(s, &sv.idx, err);
	/* the lease comes before any lookup: what a record names is not collected under us */
	if (r >= 0)
		r = sv.lease_fd = cacheidx_lease_begin(sv.idx, err);
	t1 = cpu_ns();
	if (r >= 0)
		r = resolve_pass(&sv, err);
	t2 = cpu_ns();
	if (r >= 0)
		r = key_pass(&sv, err);
	if (r < 0)
		return r;
	do
		plan(&sv);
	while (drop_dangling(&sv));
	t3 = cpu_ns();
	kl_debug("solve: open %.3f ms, sources %.3f ms, keys, lookup and plan %.3f ms (CPU): "
	         "%zu to run",
	         (double)(t1 - t0) / 1e6, (double)(t2 - t1) / 1e6, (double)(t3 - t2) / 1e6,
	         sv.n_run);
	report_cached(&sv);
	r = record_resolved(&sv, err);
	if (r >= 0 && sv.n_run)
		r = run_pass(&sv, err);
	if (r >= 0)
		r = touch_hits(&sv, err);
	ret->has_failed_tree = sv.has_failed_tree;
	ret->failed_tree = sv.failed_tree;
	ret->failed_vertex = sv.failed_vertex;
	if (r >= 0)
		r = fill_result(&sv, ret, err);
	return r;
}

void
solve_result_done(struct solve_result *r)
{
	for (size_t i = 0; r->contents && i < r->n_vertices; i++)
		free(r->contents[i]);
	free(r->contents);
	free(r->trees);
	free(r->cached);
	free(r->created);
	*r = (struct solve_result){0};
}
