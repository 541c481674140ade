// SPDX-License-Identifier: Apache-2.0
/* Parallel fstatat: helpers sleep on a condition variable between batches and take chunks of a
 * batch from a shared counter, as the caller does; the caller waits for the last chunk. */
#include "fs/tree-statbatch.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "util/xalloc.h"

#define CHUNK 16u     /* names taken at once: fewer atomic operations, still balanced */
#define MIN_SHARED 48 /* smaller batches run in the caller: waking helpers costs more */

struct tree_statbatch {
	pthread_mutex_t lock;
	pthread_cond_t wake, done;
	pthread_t *helpers;
	unsigned n_helpers;
	uint64_t generation; /* bumped per shared batch, under lock */
	unsigned busy;       /* helpers still in the current batch, under lock */
	bool stop;
	/* The current batch: written before the generation is bumped. */
	int dir_fd;
	char *const *names;
	size_t n;
	struct stat *st;
	int *errs;
	atomic_size_t next;
};

static void
work(struct tree_statbatch *b)
{
	size_t i;

	while ((i = atomic_fetch_add_explicit(&b->next, CHUNK, memory_order_relaxed)) < b->n) {
		size_t end = b->n - i < CHUNK ? b->n : i + CHUNK;

		for (; i < end; i++)
			b->errs[i] =
			    fstatat(b->dir_fd, b->names[i], &b->st[i], AT_SYMLINK_NOFOLLOW) < 0
			        ? errno
			        : 0;
	}
}

static void *
helper_main(void *arg)
{
	struct tree_statbatch *b = arg;
	uint64_t seen = 0;

	pthread_mutex_lock(&b->lock);
	for (;;) {
		while (!b->stop && b->generation == seen)
			pthread_cond_wait(&b->wake, &b->lock);
		if (b->stop)
			break;
		seen = b->generation;
		pthread_mutex_unlock(&b->lock);
		work(b);
		pthread_mutex_lock(&b->lock);
		if (--b->busy == 0)
			pthread_cond_signal(&b->done);
	}
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

struct tree_statbatch *
tree_statbatch_new(unsigned max_helpers)
{
	struct tree_statbatch *b = xcalloc(1, sizeof(*b));
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned want = cpus > 1 ? (unsigned)(cpus - 1) : 0;

	if (want > max_helpers)
		want = max_helpers;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->wake, NULL);
	pthread_cond_init(&b->done, NULL);
	b->helpers = xcalloc(want ? want : 1, sizeof(*b->helpers));
	for (unsigned i = 0; i < want; i++) {
		int r = pthread_create(&b->helpers[i], NULL, helper_main, b);

		if (r != 0) {
			kl_debug("statbatch: no helper thread: %s", strerror(r));
			break;
		}
		b->n_helpers++;
	}
	return b;
}

struct tree_statbatch *
tree_statbatch_free(struct tree_statbatch *b)
{
	if (!b)
		return NULL;
	pthread_mutex_lock(&b->lock);
	b->stop = true;
	pthread_cond_broadcast(&b->wake);
	pthread_mutex_unlock(&b->lock);
	for (unsigned i = 0; i < b->n_helpers; i++)
		pthread_join(b->helpers[i], NULL);
	pthread_cond_destroy(&b->done);
	pthread_cond_destroy(&b->wake);
	pthread_mutex_destroy(&b->lock);
	free(b->helpers);
	free(b);
	return NULL;
}

void
tree_statbatch_run(struct tree_statbatch *b, int dir_fd, char *const *names, size_t n,
                   struct stat *ret_st, int *ret_errno)
{
	bool shared = b->n_helpers > 0 && n >= MIN_SHARED;

	b->dir_fd = dir_fd;
	b->names = names;
	b->n = n;
	b->st = ret_st;
	b->errs = ret_errno;
	atomic_store_explicit(&b->next, 0, memory_order_relaxed);
	if (shared) {
		pthread_mutex_lock(&b->lock);
		b->busy = b->n_helpers;
		b->generation++;
		pthread_cond_broadcast(&b->wake);
		pthread_mutex_unlock(&b->lock);
	}
	work(b);
	if (shared) {
		pthread_mutex_lock(&b->lock);
		while (b->busy)
			pthread_cond_wait(&b->done, &b->lock);
		pthread_mutex_unlock(&b->lock);
	}
}
