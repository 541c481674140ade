// SPDX-License-Identifier: Apache-2.0
/* The diff id hashed on its own thread, from a ring of buffers the feeding thread fills. */
#include "exporters/compress-hasher-internal.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

#define N_BUFS 4
#define BUF_SIZE (1u << 20)

struct compress_hasher {
	struct digest_ctx *ctx; /* the thread's while it runs */
	char *bufs[N_BUFS];
	size_t lens[N_BUFS];
	/* [head, head + count) are handed to the thread (head and count under lock), head the one
	 * it hashes; the caller fills bufs[fill], which is (head + count) % N_BUFS. */
	size_t head, count, fill;
	bool stop, threaded;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t ready; /* a buffer was handed over, or stop */
	pthread_cond_t freed; /* a buffer was hashed */
};

static void *
hash_thread(void *userdata)
{
	struct compress_hasher *h = userdata;
	size_t i;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		while (!h->count && !h->stop)
			pthread_cond_wait(&h->ready, &h->lock);
		if (!h->count)
			break;
		i = h->head;
		pthread_mutex_unlock(&h->lock);
		digest_ctx_update(h->ctx, h->bufs[i], h->lens[i]);
		pthread_mutex_lock(&h->lock);
		h->head = (h->head + 1) % N_BUFS;
		h->count--;
		pthread_cond_signal(&h->freed);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

struct compress_hasher *
compress_hasher_new(void)
{
	struct compress_hasher *h = xcalloc(1, sizeof(*h));

	h->ctx = digest_ctx_new();
	h->bufs[0] = xmalloc(BUF_SIZE);
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->ready, NULL);
	pthread_cond_init(&h->freed, NULL);
	h->threaded = pthread_create(&h->thread, NULL, hash_thread, h) == 0;
	if (h->threaded)
		for (size_t i = 1; i < N_BUFS; i++)
			h->bufs[i] = xmalloc(BUF_SIZE);
	return h;
}

/* The buffer being filled, handed to the thread; waits until another one is free. */
static void
hand(struct compress_hasher *h)
{
	if (!h->lens[h->fill])
		return;
	if (!h->threaded) {
		digest_ctx_update(h->ctx, h->bufs[0], h->lens[0]);
		h->lens[0] = 0;
		return;
	}
	pthread_mutex_lock(&h->lock);
	h->count++;
	pthread_cond_signal(&h->ready);
	while (h->count == N_BUFS)
		pthread_cond_wait(&h->freed, &h->lock);
	pthread_mutex_unlock(&h->lock);
	h->fill = (h->fill + 1) % N_BUFS; /* free: outside [head, head + count) */
	h->lens[h->fill] = 0;
}

void
compress_hasher_update(struct compress_hasher *h, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		size_t fill = h->fill;
		size_t k = BUF_SIZE - h->lens[fill] < n ? BUF_SIZE - h->lens[fill] : n;

		memcpy(h->bufs[fill] + h->lens[fill], p, k);
		h->lens[fill] += k;
		p += k;
		n -= k;
		if (h->lens[fill] == BUF_SIZE)
			hand(h);
	}
}

void
compress_hasher_final(struct compress_hasher *h, struct digest *ret)
{
	hand(h);
	if (h->threaded) {
		pthread_mutex_lock(&h->lock);
		while (h->count)
			pthread_cond_wait(&h->freed, &h->lock);
		pthread_mutex_unlock(&h->lock);
	}
	digest_ctx_final(h->ctx, ret);
}

struct compress_hasher *
compress_hasher_free(struct compress_hasher *h)
{
	if (!h)
		return NULL;
	if (h->threaded) {
		pthread_mutex_lock(&h->lock);
		h->stop = true;
		pthread_cond_signal(&h->ready);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->thread, NULL);
	}
	pthread_cond_destroy(&h->freed);
	pthread_cond_destroy(&h->ready);
	pthread_mutex_destroy(&h->lock);
	for (size_t i = 0; i < N_BUFS; i++)
		free(h->bufs[i]);
	digest_ctx_free(h->ctx);
	free(h);
	return NULL;
}
