/* compress-pool-internal — worker threads running compression jobs of one kind (gzip members,
 * zstd frames), handed back in the order they were submitted, so output stays
 * deterministic whatever the number of threads. Driven by one thread; the workers lock inside. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/digest.h"

struct kl_error;

/* A job. Every worker keeps a state of its own (a zlib stream, a zstd context) for run(). */
struct compress_job {
	char *in; /* owned by the job */
	size_t in_len, in_cap;
	char *out; /* owned by the job; run() sizes it */
	size_t out_len, out_cap;
	bool last;       /* zstd:chunked: the last chunk of a file */
	size_t hash_len; /* run() also hashes the first hash_len bytes of in into digest */
	struct digest digest;
	long tag, tag2;    /* the format's own bookkeeping */
	int result;        /* run()'s: 0 or -errno */
	const char *error; /* a static message when result < 0 */
	struct compress_job *next_free;
	bool done; /* the pool's */
};

struct compress_pool_ops {
	/* A worker's state from arg (the pool's), NULL on failure. */
	void *(*state_new)(void *arg);
	void (*state_free)(void *state);
	void (*run)(void *state, struct compress_job *j);
};

struct compress_pool;

/* Starts threads workers (at least 1). */
int compress_pool_new(unsigned threads, const struct compress_pool_ops *ops, void *arg,
                      struct compress_pool **ret, struct kl_error **err);
/* Stops the workers after the jobs in flight; jobs not taken are freed. NULL-safe. */
struct compress_pool *compress_pool_free(struct compress_pool *p);
/* True when as many jobs are in flight as the pool takes: take one before submitting. */
bool compress_pool_full(const struct compress_pool *p);
/* A taken job's handler: writes j out and puts it back on its free list, result or not. */
typedef int (*compress_job_fn)(void *userdata, struct compress_job *j, struct kl_error **err);
/* Takes the oldest jobs and hands them to fn until the pool has room; the first error of fn. */
int compress_pool_make_room(struct compress_pool *p, compress_job_fn fn, void *userdata,
                            struct kl_error **err);
/* Queues j (the pool holds it until compress_pool_take returns it). */
void compress_pool_submit(struct compress_pool *p, struct compress_job *j);
/* Waits for the oldest job in flight and hands it back; NULL when none is. */
struct compress_job *compress_pool_take(struct compress_pool *p);
/* A job with an input buffer of at least cap bytes, from free (a list of taken jobs) or new. */
struct compress_job *compress_job_get(struct compress_job **free_list, size_t cap);
/* Puts a taken job on the list for reuse (buffers over 2 MiB freed: the list can hold many
 * jobs); frees every job of the list. */
void compress_job_put(struct compress_job **free_list, struct compress_job *j);
void compress_job_list_free(struct compress_job **free_list);
/* Appends n bytes to j->in, growing it as needed. */
void compress_job_append(struct compress_job *j, const void *buf, size_t n);
/* Makes j->out hold at least n bytes (what it held is not kept). */
void compress_job_out_reserve(struct compress_job *j, size_t n);

/* Workers making one whole gzip member of each job with libdeflate (compress-gzip.c), hashing
 * its first hash_len bytes too; the pool's arg points to the level, an int that outlives it. */
extern const struct compress_pool_ops compress_gzip_member_ops;
