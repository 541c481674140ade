/* solve-internal — what the solver's files share: the state of one solve, of each vertex, and
 * the build's resources (state dir, private mount namespace, lazy filesystem, worker pool). */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/digest.h"
#include "solver/cacheidx.h"
#include "solver/solve.h"

struct graph;
struct graph_vertex;
struct kl_error;
struct lazyfs;
struct provider_set;
struct store;
struct tree;
struct uring_pool;

struct vstate {
	bool needed;    /* reachable from the result */
	bool resolved;  /* a source whose tree the key pass produced (local, git, image, http) */
	bool hit;       /* the index holds its key */
	bool run;       /* it runs (or, resolved, gets recorded) in the run pass */
	bool need_tree; /* its tree is the result or an input of a vertex that runs */
	bool cached;    /* its tree came from the cache: nothing ran */
	bool reported;  /* a first event went out */
	bool done;      /* protected by solve.lock in the run pass: tree is final */
	bool released;  /* protected by lock: its users were let go before its record was written */
	bool recorded;  /* protected by lock: it ran and its record is written */
	bool failed;    /* protected by lock: it ran and failed or was cancelled */
	struct digest key;
	struct cacheidx_hit h;
	char *content; /* what a source resolved to, for its key */
	struct digest tree;
	struct tree *t;     /* the loaded tree, once a vertex needed it (protected by lock) */
	struct tree *local; /* local source: the scanned tree */
	uint32_t waiting;   /* run inputs not done yet (protected by lock) */
	uint32_t *users;    /* vertices that run and take this as an input */
	size_t n_users;
	int64_t created;    /* seconds since the epoch: when its result was made (its record's
	                     * time on a hit, the time it ran otherwise); 0: not known */
	int64_t started_ns; /* CLOCK_REALTIME */
	uint64_t mono_ns;   /* CLOCK_MONOTONIC at start */
};

struct solve {
	struct store *store;
	const struct graph *g;
	const struct solve_options *opts;
	size_t n;
	struct vstate *v;
	struct cacheidx *idx;
	int lease_fd;

	/* The run pass. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint32_t *queue; /* protected by lock: vertices ready to run */
	size_t q_head, q_tail;
	size_t n_run, n_finished; /* protected by lock */
	unsigned running;         /* protected by lock */
	bool stopping;            /* protected by lock: a failure or a cancel */
	bool cancelled;           /* protected by lock */
	int failed_vertex;        /* protected by lock: the first failure, -1 none */
	int fail_code;
	struct kl_error *fail_err; /* protected by lock */
	bool has_failed_tree;
	struct digest failed_tree;
	int stop_pipe[2]; /* written once to stop: exec steps watch the read end */
	int done_fd;      /* eventfd: a worker finished a vertex */

	pthread_mutex_t progress_lock; /* serializes progress calls */

	/* The build's resources, made when something runs (solve-build.c). */
	char *build_dir;   /* <root>/builds/<id> */
	int build_lock_fd; /* holds <build_dir>/lock */
	char *lazy_root;   /* <build_dir>/lazy, when mounted */
	char *exec_dir;    /* <build_dir>/exec */
	char *runtime;     /* the runtime's path, found when an exec runs */
	struct lazyfs *lazy;
	pthread_t lazy_thread;
	bool lazy_running;
	struct provider_set *providers; /* the solver's own (fileops, ingest) */
	struct uring_pool *rings;
	struct digest empty_tree;
	bool has_empty_tree; /* protected by lock */
};

/* Progress (solve.c). */
void solve_emit(struct solve *sv, const struct progress_event *ev);
void solve_emit_vertex(struct solve *sv, uint32_t idx, enum progress_event_kind kind,
                       const char *data, size_t len);

/* Running one vertex (solve-run.c): runs it or takes the record another process made
 * meanwhile; fills sv->v[idx].tree. 0 or -errno with err naming the vertex. */
int solve_run_vertex(struct solve *sv, uint32_t idx, struct kl_error **err);
/* The loaded tree of vertex idx (loading it once); lent. */
int solve_vertex_tree(struct solve *sv, uint32_t idx, struct tree **ret, struct kl_error **err);
/* Lets the users of idx start while idx's record is still being written: its tree is final. */
void solve_release_users(struct solve *sv, uint32_t idx);
/* Waits until every input of idx that ran has its record, so that a record never comes before
 * its inputs' and what an input's record copies into the store is not copied twice.
 * -ECANCELED when the solve stops first. */
int solve_wait_inputs_recorded(struct solve *sv, uint32_t idx);

/* The build's resources (solve-build.c). */
/* Makes the build's state dir (cleaning up those of builds that died) and its providers. */
int solve_build_begin(struct solve *sv, struct kl_error **err);
/* Makes the mount namespace private and mounts the lazy filesystem (for exec steps). Call
 * from the thread that starts the workers, before it does. */
int solve_build_mount(struct solve *sv, struct kl_error **err);
/* Unmounts, stops the server and removes the state dir. Safe to call when nothing was made. */
void solve_build_end(struct solve *sv);
