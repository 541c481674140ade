// SPDX-License-Identifier: Apache-2.0
/* Blob streaming over io_uring: reads ahead, hashes in order, writes behind, many files at once. */
#include "fs/uring.h"

#include <assert.h>
#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/xalloc.h"

#define RING_ENTRIES 64u
#define MAX_DEPTH 8u

/* How a run spreads its buffers: jobs active at once, chunks in flight per job, chunk bytes. */
struct run_shape {
	unsigned window;
	unsigned depth;
	uint32_t chunk;
};
static const struct run_shape batch_shape = {.window = 16, .depth = 2, .chunk = 256u << 10};
static const struct run_shape stream_shape = {.window = 1, .depth = MAX_DEPTH, .chunk = 1u << 20};

struct uring {
	struct io_uring ring;
	struct uring_pool *pool;   /* owning pool, or NULL */
	struct uring *prev, *next; /* the pool's list; protected by pool->lock */
};

struct uring_pool {
	pthread_key_t key;
	pthread_mutex_t lock;
	struct uring *rings; /* protected by lock */
};

enum chunk_state { CHUNK_FREE, CHUNK_READING, CHUNK_READ, CHUNK_WRITING };

struct active;

struct chunk {
	struct active *a;
	char *buf;
	uint64_t off;
	uint32_t len, done;
	enum chunk_state state;
};

struct active {
	struct uring_job *job; /* NULL: slot unused */
	struct chunk chunks[MAX_DEPTH];
	unsigned n_chunks;
	uint64_t next_read, next_consume;
	unsigned inflight;
	int err;
};

int
uring_new(unsigned entries, struct uring **ret, struct kl_error **err)
{
	struct uring *u = xcalloc(1, sizeof(*u));
	int r;

	r = io_uring_queue_init(entries ? entries : RING_ENTRIES, &u->ring, 0);
	if (r < 0) {
		free(u);
		return kl_error_set(err, -r, "setting up an io_uring");
	}
	*ret = u;
	return 0;
}

struct uring *
uring_free(struct uring *u)
{
	if (!u)
		return NULL;
	io_uring_queue_exit(&u->ring);
	free(u);
	return NULL;
}

static struct io_uring_sqe *
get_sqe(struct uring *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe) {
		(void)io_uring_submit(&u->ring);
		sqe = io_uring_get_sqe(&u->ring);
	}
	assert(sqe); /* in-flight operations never exceed the ring */
	return sqe;
}

/* (Re)submits the unfinished part of a chunk's read or write. */
static void
submit_chunk(struct uring *u, struct chunk *c)
{
	struct io_uring_sqe *sqe = get_sqe(u);
	struct uring_job *j = c->a->job;

	if (c->state == CHUNK_READING)
		io_uring_prep_read(sqe, j->src_fd, c->buf + c->done, c->len - c->done,
		                   c->off + c->done);
	else
		io_uring_prep_write(sqe, j->dst_fd, c->buf + c->done, c->len - c->done,
		                    c->off + c->done);
	io_uring_sqe_set_data(sqe, c);
	c->a->inflight++;
}

static void
start_job(struct active *a, struct uring_job *j, const struct run_shape *shape)
{
	uint64_t n = (j->size + shape->chunk - 1) / shape->chunk;
	uint32_t len = j->size < shape->chunk ? (uint32_t)j->size : shape->chunk;

	memset(a, 0, sizeof(*a));
	a->job = j;
	a->n_chunks = n < shape->depth ? (unsigned)n : shape->depth;
	for (unsigned i = 0; i < a->n_chunks; i++) {
		a->chunks[i].a = a;
		a->chunks[i].buf = xmalloc(len);
	}
}

static void
finish_job(struct active *a)
{
	a->job->result = a->err;
	for (unsigned i = 0; i < a->n_chunks; i++)
		free(a->chunks[i].buf);
	a->job = NULL;
}

/* Issues reads into free chunks, in file order. */
static void
pump_reads(struct uring *u, struct active *a, const struct run_shape *shape)
{
	for (unsigned i = 0; i < a->n_chunks && !a->err; i++) {
		struct chunk *c = &a->chunks[i];
		uint64_t left = a->job->size - a->next_read;

		if (c->state != CHUNK_FREE || left == 0)
			continue;
		c->off = a->next_read;
		c->len = left < shape->chunk ? (uint32_t)left : shape->chunk;
		c->done = 0;
		c->state = CHUNK_READING;
		a->next_read += c->len;
		submit_chunk(u, c);
	}
}

/* Hands completed reads to the callback in file order and starts their writes. */
static void
consume_chunks(struct uring *u, struct active *a)
{
	bool progress = true;

	while (progress && !a->err) {
		progress = false;
		for (unsigned i = 0; i < a->n_chunks; i++) {
			struct chunk *c = &a->chunks[i];
			struct uring_job *j = a->job;

			if (c->state != CHUNK_READ || c->off != a->next_consume)
				continue;
			if (j->fn) {
				int r = j->fn(j->userdata, c->buf, c->len);
				if (r < 0) {
					a->err = r;
					return;
				}
			}
			a->next_consume += c->len;
			c->done = 0;
			c->state = j->dst_fd >= 0 ? CHUNK_WRITING : CHUNK_FREE;
			if (c->state == CHUNK_WRITING)
				submit_chunk(u, c);
			progress = true;
		}
	}
}

static void
complete_chunk(struct uring *u, struct chunk *c, int res)
{
	struct active *a = c->a;

	a->inflight--;
	if (res == -EINTR || res == -EAGAIN) {
		if (!a->err)
			submit_chunk(u, c);
		return;
	}
	if (res <= 0) {
		if (!a->err)
			a->err = res < 0 ? res : c->state == CHUNK_READING ? -ENODATA : -EIO;
		c->state = CHUNK_FREE;
		return;
	}
	c->done += (uint32_t)res;
	if (c->done < c->len) {
		if (!a->err)
			submit_chunk(u, c);
		else
			c->state = CHUNK_FREE;
		return;
	}
	if (c->state == CHUNK_READING) {
		c->state = CHUNK_READ;
		consume_chunks(u, a);
	} else {
		c->state = CHUNK_FREE;
	}
}

static bool
job_finished(const struct active *a)
{
	return a->inflight == 0 && (a->err || a->next_consume == a->job->size);
}

/* Starts jobs while slots are free; returns how many slots are in use. */
static unsigned
refill(struct uring *u, struct active *act, const struct run_shape *shape, struct uring_job *jobs,
       size_t n, size_t *next_job)
{
	unsigned busy = 0;

	for (unsigned i = 0; i < shape->window; i++) {
		struct active *a = &act[i];

		for (;;) {
			if (!a->job) {
				if (*next_job >= n)
					break;
				start_job(a, &jobs[(*next_job)++], shape);
			}
			pump_reads(u, a, shape);
			if (!job_finished(a)) {
				busy++;
				break;
			}
			finish_job(a); /* done, failed, or empty: the slot takes the next job */
		}
	}
	return busy;
}

static int
run(struct uring *u, struct uring_job *jobs, size_t n, const struct run_shape *shape)
{
	struct active *act = xcalloc(shape->window, sizeof(*act));
	size_t next_job = 0;
	int r = 0;

	while (refill(u, act, shape, jobs, n, &next_job) > 0) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		r = io_uring_submit_and_wait(&u->ring, 1);
		if (r == -EINTR)
			continue;
		if (r < 0)
			break;
		r = 0;
		io_uring_for_each_cqe(&u->ring, head, cqe)
		{
			complete_chunk(u, io_uring_cqe_get_data(cqe), cqe->res);
			seen++;
		}
		io_uring_cq_advance(&u->ring, seen);
	}
	if (r < 0) {
		/* The ring broke: nothing more completes; fail whatever is left. */
		for (unsigned i = 0; i < shape->window; i++)
			if (act[i].job) {
				act[i].err = r;
				finish_job(&act[i]);
			}
		for (; next_job < n; next_job++)
			jobs[next_job].result = r;
	}
	free(act);
	return r;
}

int
uring_run(struct uring *u, struct uring_job *jobs, size_t n)
{
	return run(u, jobs, n, &batch_shape);
}

int
uring_stream(struct uring *u, int src_fd, int dst_fd, uint64_t size, uring_chunk_fn fn,
             void *userdata)
{
	struct uring_job j = {
	    .src_fd = src_fd, .dst_fd = dst_fd, .size = size, .fn = fn, .userdata = userdata};
	int r;

	r = run(u, &j, 1, &stream_shape);
	return r < 0 ? r : j.result;
}

/* Thread exit: the ring leaves its pool's list. */
static void
pool_thread_exit(void *p)
{
	struct uring *u = p;
	struct uring_pool *pool = u->pool;

	pthread_mutex_lock(&pool->lock);
	if (u->prev)
		u->prev->next = u->next;
	else
		pool->rings = u->next;
	if (u->next)
		u->next->prev = u->prev;
	pthread_mutex_unlock(&pool->lock);
	uring_free(u);
}

struct uring_pool *
uring_pool_new(void)
{
	struct uring_pool *p = xcalloc(1, sizeof(*p));

	if (pthread_key_create(&p->key, pool_thread_exit) != 0)
		abort(); /* out of keys: a programming error, like OOM */
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

struct uring_pool *
uring_pool_free(struct uring_pool *p)
{
	if (!p)
		return NULL;
	pthread_key_delete(p->key);
	while (p->rings) {
		struct uring *u = p->rings;
		p->rings = u->next;
		uring_free(u);
	}
	pthread_mutex_destroy(&p->lock);
	free(p);
	return NULL;
}

int
uring_pool_get(struct uring_pool *p, struct uring **ret, struct kl_error **err)
{
	struct uring *u = pthread_getspecific(p->key);
	int r;

	if (!u) {
		r = uring_new(RING_ENTRIES, &u, err);
		if (r < 0)
			return r;
		u->pool = p;
		pthread_mutex_lock(&p->lock);
		u->next = p->rings;
		if (p->rings)
			p->rings->prev = u;
		p->rings = u;
		pthread_mutex_unlock(&p->lock);
		pthread_setspecific(p->key, u);
	}
	*ret = u;
	return 0;
}
