/* lazyfs-warm-internal — small files pushed into the kernel's page cache before they are read.
 *
 * A step that reads a directory's files one after another (a hash over a source tree, a compiler
 * over its headers) pays one READ round trip through the server per file: ~100 µs each here,
 * five times a read from the page cache. At the first read of a file of a directory, background
 * threads take the directory's following files (in the tree's order, which is the listing
 * order) of at most WARM_MAX_FILE bytes whose blobs are already in the store and whose inodes the
 * kernel holds, verify them as a read would, and push each whole into the kernel's page cache
 * (FUSE_NOTIFY_STORE): their reads then never reach the server. Nothing is fetched for it, so
 * contents stay lazy. Bounded: WARM_MAX_DIR_BYTES per directory, each directory once, a queue of
 * WARM_QUEUE directories (more are dropped). Off with passthrough, whose opens bypass the page
 * cache.
 *
 * Threads: lazyfs_warm_note_read() from any FUSE worker; WARM_THREADS warming threads share the
 * directory at the head of the queue file by file (started with the first job, joined by
 * lazyfs_warm_done()). */
#pragma once
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lazyfs;
struct tree;

#define WARM_MAX_FILE (128u << 10)
#define WARM_MAX_DIR_BYTES (16u << 20)
#define WARM_QUEUE 64u
#define WARM_THREADS 2u
#define WARM_MAX_DIRS (1u << 20) /* directories remembered; past it, no more warming */

struct warm_job {
	uint32_t slot, after; /* warm the files that follow entry after in its directory */
};

struct lazyfs_warm {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;                     /* protected by lock */
	pthread_t threads[WARM_THREADS];   /* the first n_threads run */
	unsigned n_threads;                /* protected by lock */
	struct warm_job queue[WARM_QUEUE]; /* a ring; protected by lock */
	unsigned head, n_queued;           /* protected by lock */
	struct tree *active;               /* the job's tree being warmed (a reference) */
	uint32_t active_slot, cursor;      /* its slot; the next entry to look at */
	uint64_t budget;                   /* bytes left for the active job */
	uint64_t *dir_keys; /* directories warmed (open addressing, 0 = free); protected by lock */
	size_t dir_cap, n_dirs; /* protected by lock */
	_Atomic uint64_t files; /* files pushed (the stats' warmed) */
};

void lazyfs_warm_init(struct lazyfs_warm *w);
/* Stops and joins the warming threads (each finishes its file) and frees the tables. */
void lazyfs_warm_done(struct lazyfs *fs);
/* The first read (offset 0) of file idx of the tree in slot, whose size is size: may queue
 * warming of its directory. */
void lazyfs_warm_note_read(struct lazyfs *fs, uint32_t slot, uint32_t idx, uint64_t size);
