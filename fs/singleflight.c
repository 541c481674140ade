// SPDX-License-Identifier: Apache-2.0
/* An in-flight table: concurrent requests for one key share a single execution and its result. */
#include "fs/singleflight.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/xalloc.h"

#define N_BUCKETS 64

struct flight {
	struct digest key;
	struct flight *next; /* bucket chain, while in the table; protected by lock */
	pthread_cond_t done_cond;
	bool done;            /* protected by lock */
	unsigned users;       /* leader + waiters still to read the result; protected by lock */
	int code;             /* valid once done */
	char *msg;            /* the leader's error message, or NULL */
	unsigned char *value; /* value_size bytes, valid once done */
	size_t value_size;
};

struct singleflight {
	pthread_mutex_t lock;
	struct flight *buckets[N_BUCKETS]; /* protected by lock */
	struct singleflight_stats stats;   /* protected by lock */
};

struct singleflight *
singleflight_new(void)
{
	struct singleflight *sf = xcalloc(1, sizeof(*sf));

	pthread_mutex_init(&sf->lock, NULL);
	return sf;
}

struct singleflight *
singleflight_free(struct singleflight *sf)
{
	if (!sf)
		return NULL;
	for (size_t i = 0; i < N_BUCKETS; i++)
		assert(!sf->buckets[i]); /* no call may be in progress */
	pthread_mutex_destroy(&sf->lock);
	free(sf);
	return NULL;
}

static size_t
bucket_of(const struct digest *key)
{
	return key->bytes[0] % N_BUCKETS;
}

static struct flight *
find_flight(struct singleflight *sf, const struct digest *key)
{
	for (struct flight *f = sf->buckets[bucket_of(key)]; f; f = f->next)
		if (digest_equal(&f->key, key))
			return f;
	return NULL;
}

static void
unlink_flight(struct singleflight *sf, struct flight *f)
{
	struct flight **p = &sf->buckets[bucket_of(&f->key)];

	while (*p != f)
		p = &(*p)->next;
	*p = f->next;
}

static void
flight_free(struct flight *f)
{
	pthread_cond_destroy(&f->done_cond);
	free(f->msg);
	free(f->value);
	free(f);
}

/* Copies the flight's result out and drops this caller's use; called with lock held. */
static int
take_result(struct flight *f, void *ret_value, size_t value_size, struct kl_error **err)
{
	int code = f->code;

	if (code >= 0 && value_size)
		memcpy(ret_value, f->value,
		       value_size < f->value_size ? value_size : f->value_size);
	if (code < 0 && f->msg)
		kl_error_setf(err, -code, "%s", f->msg);
	if (--f->users == 0)
		flight_free(f);
	return code;
}

int
singleflight_do(struct singleflight *sf, const struct digest *key, singleflight_fn fn,
                void *userdata, void *ret_value, size_t value_size, int *ret_shared,
                struct kl_error **err)
{
	struct kl_error *lerr = NULL;
	struct flight *f;
	int r;

	pthread_mutex_lock(&sf->lock);
	f = find_flight(sf, key);
	if (f) {
		f->users++;
		sf->stats.shared++;
		while (!f->done)
			pthread_cond_wait(&f->done_cond, &sf->lock);
		r = take_result(f, ret_value, value_size, err);
		pthread_mutex_unlock(&sf->lock);
		if (ret_shared)
			*ret_shared = 1;
		return r;
	}
	f = xcalloc(1, sizeof(*f));
	f->key = *key;
	f->users = 1;
	f->value_size = value_size;
	f->value = value_size ? xcalloc(1, value_size) : NULL;
	pthread_cond_init(&f->done_cond, NULL);
	f->next = sf->buckets[bucket_of(key)];
	sf->buckets[bucket_of(key)] = f;
	sf->stats.runs++;
	pthread_mutex_unlock(&sf->lock);

	r = fn(userdata, f->value, &lerr);

	pthread_mutex_lock(&sf->lock);
	f->code = r;
	if (r < 0 && lerr)
		f->msg = xstrdup(lerr->msg);
	f->done = true;
	unlink_flight(sf, f);
	pthread_cond_broadcast(&f->done_cond);
	r = take_result(f, ret_value, value_size, NULL);
	pthread_mutex_unlock(&sf->lock);
	if (ret_shared)
		*ret_shared = 0;
	if (r < 0 && lerr && err && !*err)
		*err = TAKE_PTR(lerr);
	kl_error_free(lerr);
	return r;
}

void
singleflight_get_stats(struct singleflight *sf, struct singleflight_stats *ret)
{
	pthread_mutex_lock(&sf->lock);
	*ret = sf->stats;
	pthread_mutex_unlock(&sf->lock);
}
