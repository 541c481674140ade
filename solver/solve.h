/* solve — running a build graph: every vertex's cache key computed, cached results taken from
 * the cache index, the rest run (sources resolved, file ops as tree algebra, exec ops in an OCI
 * runtime over the build's own lazy filesystem), in parallel where the graph allows, each
 * vertex at most once across concurrent kiln processes sharing the store.
 *
 * solve_run() makes the calling process's mount namespace private (unshare) before it starts
 * any thread, so call it from a process that has started none; every mount of the build lives
 * in that namespace and is gone when the solve returns (or the process dies). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/digest.h"
#include "solver/progress.h"

struct graph;
struct kl_error;
struct source_options;
struct store;

/* A local source's name bound to a directory (buildctl's --local NAME=DIR). */
struct solve_local {
	const char *name;
	const char *dir;
	const char *ignore_file; /* NULL: <dir>/.dockerignore when present */
};

/* A secret's value, held in memory only: it is given to steps through a private tmpfs and
 * never written to the store, a layer, a cache key, the index or the progress log. */
struct solve_secret {
	const char *id;
	const void *value;
	size_t len;
};

/* An ssh agent socket for `type=ssh` mounts (a key file is turned into an agent by cli/). */
struct solve_ssh {
	const char *id; /* "default" unless named */
	const char *socket;
};

struct solve_options {
	const struct solve_local *locals;
	size_t n_locals;
	const struct solve_secret *secrets;
	size_t n_secrets;
	const struct solve_ssh *ssh;
	size_t n_ssh;
	const struct source_options *sources; /* registries, platform, credentials; may be NULL */
	const char *runtime;   /* "crun", "runc" or a path; NULL: crun, else runc, from PATH */
	bool no_cache;         /* run every vertex (and record the new results) */
	bool allow_insecure;   /* exec ops may ask for security=insecure */
	bool lazy_passthrough; /* the steps' lazy filesystem uses FUSE passthrough (lazyfs.h) */
	unsigned max_parallel; /* vertices run at once; 0: the number of cores */
	int cancel_fd;         /* becomes readable to cancel (a pipe a signal handler writes);
	                        * -1: none */
	progress_fn progress;  /* may be NULL */
	void *progress_userdata;
};

struct solve_result {
	struct digest tree;        /* the result vertex's tree */
	size_t n_vertices;         /* graph_count() */
	struct digest *trees;      /* per vertex: its tree (all zero for vertices not needed) */
	bool *cached;              /* per vertex: taken from the cache */
	int64_t *created;          /* per vertex: when its result was first made, in seconds since
	                            * the epoch: its cache record's creation time when taken from
	                            * the cache, the time it ran otherwise (so a no-op rebuild
	                            * sees the times of the first build); 0 for vertices not
	                            * needed and for local sources, which have no record */
	char **contents;           /* per vertex: what a remote source resolved to (a git
	                            * commit's 40 hex, an image manifest's "sha256:…"), or NULL */
	bool has_failed_tree;      /* on an exec failure: the failed step's filesystem … */
	struct digest failed_tree; /* … (its input plus what it wrote), for kiln mount */
	int failed_vertex;         /* on a vertex's failure: its index (a frontend shows its
	                            * line); -1 otherwise */
};

/* Solves g's result vertex (and only what it needs). On success fills ret (free with
 * solve_result_done). On failure returns -errno with err naming the vertex; a failing exec
 * gives -ECHILD ("vertex 'x' (RUN make): exit code 2", with the last lines of output) and
 * ret->failed_tree; a cancel gives -ECANCELED. Nothing of a failed or cancelled vertex is
 * cached; what was cached before stays. */
int solve_run(struct store *s, const struct graph *g, const struct solve_options *opts,
              struct solve_result *ret, struct kl_error **err);
void solve_result_done(struct solve_result *r);
