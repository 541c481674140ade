/* lazyfs-warm-internal — small files pushed into the kernel's page cache before they are read.
 *
 * A step that reads a directory's files one after another (a hash over a source tree, a compiler
 * over its headers) pays one READ round trip through the server per file: ~100 µs each here,
 * five times a read from the page cache. At the first read of a file of a directory, background
 * threads take the files that follow it in the tree's order (the listing order, depth first: the
 * rest of its directory, then the directories after it) of at most WARM_MAX_FILE bytes whose
 * blobs are already in the store and whose inodes the kernel holds (a directory listed, as a
 * walk over the tree lists them ahead of its reads), verify them as a read would, and push each
 * whole into the kernel's page cache (FUSE_NOTIFY_STORE): their reads then never reach the
 * server. Each inode is pushed once, and not once a read opened it. Nothing is fetched for it,
 * so contents stay lazy; a content not in the store yet (a context file the solver is still
 * copying in) is a hole a later read there warms again, and WARM_MAX_MISSING of them end a job,
 * so a tree of remote contents costs few looks. Bounded: a job looks at WARM_MAX_JOB_ENTRIES
 * entries and pushes WARM_MAX_JOB_BYTES at most; a read inside what the last job walked through
 * starts the next one where that ended, so the warmed window moves ahead of a reader going through
 * the tree; each directory queues one job, in a queue of WARM_QUEUE (more are dropped). Off with
 * passthrough, whose opens bypass the page cache.
 *
 * Threads: lazyfs_warm_note_read() from any FUSE worker; WARM_THREADS warming threads share the
 * job at the head of the queue file by file (started with the first job, joined by
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
#define WARM_MAX_JOB_BYTES (16u << 20)
#define WARM_MAX_JOB_ENTRIES 4096u
#define WARM_QUEUE 64u
#define WARM_THREADS 2u
#define WARM_MAX_DIRS (1u << 20) /* directories remembered; past it, no more warming */
#define WARM_MAX_MISSING 64u     /* contents not in the store that end a job */

struct warm_job {
	uint32_t slot, after; /* warm the files that follow entry after in the tree's order */
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
	uint32_t scan_left;                /* entries left for it to look at */
	uint32_t missing;                  /* contents it found not in the store */
	/* What the jobs warmed last, in the tree of covered_slot: from covered_start, walked up
	 * to walked, except from hole on (the first file the kernel did not hold or whose content
	 * was not in the store yet, or TREE_NONE) */
	uint32_t covered_slot, covered_start, walked, hole;
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
