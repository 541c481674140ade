/* uring — kiln's blob I/O over io_uring: streaming a file through a chunk callback (hashing) and
 * optionally into another fd, with several reads and writes in flight, for one file or a batch
 * of files at once.
 *
 * A struct uring belongs to one thread. A uring_pool hands every thread its own ring, created
 * on first use and freed when the thread exits or the pool is freed. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "util/cleanup.h"

struct kl_error;
struct uring;
struct uring_pool;

/* Receives the bytes of a job in file order; returns < 0 to fail the job with that code. */
typedef int (*uring_chunk_fn)(void *userdata, const void *buf, size_t n);

/* One stream: reads src_fd from offset 0 for exactly size bytes, hands each chunk in order to
 * fn (when set), and writes it at the same offset to dst_fd (when >= 0). A file shorter than
 * size fails the job with -ENODATA. */
struct uring_job {
	int src_fd;
	int dst_fd;
	uint64_t size;
	uring_chunk_fn fn;
	void *userdata;
	int result; /* out: 0 or -errno */
};

int uring_new(unsigned entries, struct uring **ret, struct kl_error **err);
struct uring *uring_free(struct uring *u);
KL_DEFINE_CLEANUP(struct uring *, uring_free)

/* Runs jobs[0..n) concurrently (a bounded number at a time); each job's result says how it
 * ended. Returns 0, or -errno when the ring itself failed (then unfinished jobs hold it too). */
int uring_run(struct uring *u, struct uring_job *jobs, size_t n);

/* One job, with more reads in flight; returns the job's result. */
int uring_stream(struct uring *u, int src_fd, int dst_fd, uint64_t size, uring_chunk_fn fn,
                 void *userdata);

struct uring_pool *uring_pool_new(void);
/* Frees the pool and the rings of threads still alive; no thread may be using one. */
struct uring_pool *uring_pool_free(struct uring_pool *p);
KL_DEFINE_CLEANUP(struct uring_pool *, uring_pool_free)
/* The calling thread's ring, created on first use; lent, valid until the thread exits. */
int uring_pool_get(struct uring_pool *p, struct uring **ret, struct kl_error **err);
