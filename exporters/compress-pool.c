// SPDX-License-Identifier: Apache-2.0
/* Worker threads compressing jobs in any order, handed back in submission order. */
#include "exporters/compress-pool-internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/compress-internal.h"
#include "util/error.h"
#include "util/xalloc.h"

#define POOL_KEEP_CAP (2u << 20) /* a job put back keeps buffers up to this size */

struct compress_pool {
	const struct compress_pool_ops *ops;
	void *arg;
	pthread_t *threads;
	unsigned n_threads;
	pthread_mutex_t lock;
	pthread_cond_t work; /* a job was queued, or stop */
	pthread_cond_t done; /* a job finished */
	/* A ring of the jobs in flight, oldest first: [head, head + n); those from head + started
	 * on are not yet picked by a worker. Protected by lock, as are the jobs' done flags. */
	struct compress_job **ring;
	size_t cap, head, n, started;
	size_t bytes, budget; /* input bytes in flight and their bound (the driving thread's) */
	bool stop;            /* protected by lock */
};

static void *
worker(void *userdata)
{
	struct compress_pool *p = userdata;
	void *state = p->ops->state_new(p->arg);

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct compress_job *j;

		while (!p->stop && p->started == p->n)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->stop && p->started == p->n)
			break;
		j = p->ring[(p->head + p->started++) % p->cap];
		pthread_mutex_unlock(&p->lock);
		if (state) {
			p->ops->run(state, j);
		} else {
			j->result = -ENOMEM;
			j->error = "creating a compression context";
		}
		pthread_mutex_lock(&p->lock);
		j->done = true;
		/* the driving thread only ever waits for the oldest job */
		if (j == p->ring[p->head])
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	if (state)
		p->ops->state_free(state);
	return NULL;
}

int
compress_pool_new(unsigned threads, const struct compress_pool_ops *ops, void *arg,
                  struct compress_pool **ret, struct kl_error **err)
{
	struct compress_pool *p = xcalloc(1, sizeof(*p));
	int r = 0;

	p->ops = ops;
	p->arg = arg;
	if (threads == 0)
		threads = 1;
	/* Jobs are handed back in order, so while a worker is on a long job (a 4 MiB chunk) the
	 * others go on only as far as the ring reaches: it takes many small jobs (a file each, in
	 * zstd:chunked and eStargz), their bytes bounded by what 2 jobs of 4 MiB per thread come
	 * to, so the one driving thread always has room to feed every worker. */
	p->cap = 64 * (size_t)threads + 2;
	p->budget = (2 * (size_t)threads + 2) * COMPRESS_CHUNK_SIZE;
	p->ring = xcalloc(p->cap, sizeof(*p->ring));
	p->threads = xcalloc(threads, sizeof(*p->threads));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	for (; p->n_threads < threads; p->n_threads++) {
		r = pthread_create(&p->threads[p->n_threads], NULL, worker, p);
		if (r != 0)
			break;
	}
	if (r != 0) {
		compress_pool_free(p);
		return kl_error_set(err, r, "starting compression threads");
	}
	*ret = p;
	return 0;
}

struct compress_pool *
compress_pool_free(struct compress_pool *p)
{
	if (!p)
		return NULL;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	for (size_t i = 0; i < p->n; i++) {
		struct compress_job *j = p->ring[(p->head + i) % p->cap];

		free(j->in);
		free(j->out);
		free(j);
	}
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p->ring);
	free(p);
	return NULL;
}

bool
compress_pool_full(const struct compress_pool *p)
{
	return p->n == p->cap || p->bytes >= p->budget; /* only the driving thread changes them */
}

int
compress_pool_make_room(struct compress_pool *p, compress_job_fn fn, void *userdata,
                        struct kl_error **err)
{
	int r;

	while (compress_pool_full(p)) {
		r = fn(userdata, compress_pool_take(p), err);
		if (r < 0)
			return r;
	}
	return 0;
}

void
compress_pool_submit(struct compress_pool *p, struct compress_job *j)
{
	j->done = false;
	j->result = 0;
	j->error = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->n == p->cap)
		abort(); /* a programming error: take before submitting */
	p->ring[(p->head + p->n++) % p->cap] = j;
	p->bytes += j->in_len;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
}

struct compress_job *
compress_pool_take(struct compress_pool *p)
{
	struct compress_job *j;

	pthread_mutex_lock(&p->lock);
	if (p->n == 0) {
		pthread_mutex_unlock(&p->lock);
		return NULL;
	}
	j = p->ring[p->head];
	while (!j->done)
		pthread_cond_wait(&p->done, &p->lock);
	p->head = (p->head + 1) % p->cap;
	p->n--;
	p->bytes -= j->in_len;
	p->started--;
	pthread_mutex_unlock(&p->lock);
	return j;
}

struct compress_job *
compress_job_get(struct compress_job **free_list, size_t cap)
{
	struct compress_job *j = *free_list;

	if (j)
		*free_list = j->next_free;
	else
		j = xcalloc(1, sizeof(*j));
	if (j->in_cap < cap) {
		free(j->in);
		j->in = xmalloc(cap);
		j->in_cap = cap;
	}
	j->in_len = j->out_len = 0;
	j->last = false;
	j->hash_len = 0;
	j->tag = j->tag2 = -1;
	j->next_free = NULL;
	return j;
}

void
compress_job_put(struct compress_job **free_list, struct compress_job *j)
{
	/* A long free list of small jobs would otherwise end up pinning a big buffer each. */
	if (j->in_cap > POOL_KEEP_CAP) {
		free(j->in);
		j->in = NULL;
		j->in_cap = 0;
	}
	if (j->out_cap > POOL_KEEP_CAP) {
		free(j->out);
		j->out = NULL;
		j->out_cap = 0;
	}
	j->next_free = *free_list;
	*free_list = j;
}

void
compress_job_list_free(struct compress_job **free_list)
{
	while (*free_list) {
		struct compress_job *j = *free_list;

		*free_list = j->next_free;
		free(j->in);
		free(j->out);
		free(j);
	}
}

void
compress_job_append(struct compress_job *j, const void *buf, size_t n)
{
	if (j->in_len + n > j->in_cap) {
		j->in_cap = j->in_cap * 2 > j->in_len + n ? j->in_cap * 2 : j->in_len + n;
		j->in = xrealloc(j->in, j->in_cap);
	}
	memcpy(j->in + j->in_len, buf, n);
	j->in_len += n;
}

void
compress_job_out_reserve(struct compress_job *j, size_t n)
{
	if (j->out_cap >= n)
		return;
	free(j->out);
	j->out = xmalloc(n);
	j->out_cap = n;
}
