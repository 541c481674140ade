// SPDX-License-Identifier: Apache-2.0
/* Unit tests for fs/singleflight: one run per key among concurrent callers, result shared. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "fs/singleflight.h"
#include "util/error.h"
#include "util/xalloc.h"

#define N_WAITERS 15

struct job {
	struct singleflight *sf;
	struct digest key;
	_Atomic int runs;
	int code;          /* what fn returns */
	unsigned wait_for; /* fn waits until this many callers are waiting on it */
};

struct caller {
	struct job *job;
	pthread_t thread;
	int r, shared;
	uint64_t value;
	char *msg;
};

static int
produce(void *userdata, void *ret_value, struct kl_error **err)
{
	struct job *j = userdata;
	struct singleflight_stats st;

	atomic_fetch_add(&j->runs, 1);
	/* Hold the flight open until every other caller joined it. */
	do {
		sched_yield();
		singleflight_get_stats(j->sf, &st);
	} while (st.shared < j->wait_for);
	if (j->code < 0)
		return kl_error_setf(err, -j->code, "fetching failed for a reason");
	*(uint64_t *)ret_value = 4242;
	return 0;
}

static void *
call(void *p)
{
	struct caller *c = p;
	struct kl_error *err = NULL;

	c->r = singleflight_do(c->job->sf, &c->job->key, produce, c->job, &c->value,
	                       sizeof(c->value), &c->shared, &err);
	if (err)
		c->msg = xstrdup(err->msg);
	kl_error_free(err);
	return NULL;
}

static void
run_callers(struct job *j, struct caller *cs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		cs[i] = (struct caller){.job = j};
		assert_int_equal(pthread_create(&cs[i].thread, NULL, call, &cs[i]), 0);
	}
	for (size_t i = 0; i < n; i++)
		pthread_join(cs[i].thread, NULL);
}

static void
test_single_caller_runs_function(void **state)
{
	struct job j = {.sf = singleflight_new()};
	uint64_t v = 0;
	int shared = -1;

	(void)state;
	assert_int_equal(singleflight_do(j.sf, &j.key, produce, &j, &v, sizeof(v), &shared, NULL),
	                 0);
	assert_int_equal(v, 4242);
	assert_int_equal(shared, 0);
	assert_int_equal(j.runs, 1);
	singleflight_free(j.sf);
}

static void
test_concurrent_callers_share_one_run(void **state)
{
	struct job j = {.sf = singleflight_new(), .wait_for = N_WAITERS};
	struct caller cs[N_WAITERS + 1];
	struct singleflight_stats st;
	int n_shared = 0;

	(void)state;
	run_callers(&j, cs, N_WAITERS + 1);
	assert_int_equal(j.runs, 1);
	for (size_t i = 0; i <= N_WAITERS; i++) {
		assert_int_equal(cs[i].r, 0);
		assert_int_equal(cs[i].value, 4242);
		n_shared += cs[i].shared;
	}
	assert_int_equal(n_shared, N_WAITERS);
	singleflight_get_stats(j.sf, &st);
	assert_int_equal(st.runs, 1);
	assert_int_equal(st.shared, N_WAITERS);
	singleflight_free(j.sf);
}

static void
test_error_reaches_every_waiter(void **state)
{
	struct job j = {.sf = singleflight_new(), .wait_for = N_WAITERS, .code = -EIO};
	struct caller cs[N_WAITERS + 1];

	(void)state;
	run_callers(&j, cs, N_WAITERS + 1);
	assert_int_equal(j.runs, 1);
	for (size_t i = 0; i <= N_WAITERS; i++) {
		assert_int_equal(cs[i].r, -EIO);
		assert_non_null(cs[i].msg);
		assert_string_equal(cs[i].msg, "fetching failed for a reason");
		free(cs[i].msg);
	}
	singleflight_free(j.sf);
}

static void
test_finished_flight_is_forgotten(void **state)
{
	struct job j = {.sf = singleflight_new()};
	uint64_t v;

	(void)state;
	assert_int_equal(singleflight_do(j.sf, &j.key, produce, &j, &v, sizeof(v), NULL, NULL), 0);
	assert_int_equal(singleflight_do(j.sf, &j.key, produce, &j, &v, sizeof(v), NULL, NULL), 0);
	assert_int_equal(j.runs, 2);
	singleflight_free(j.sf);
}

static void
test_distinct_keys_run_separately(void **state)
{
	struct job a = {.sf = singleflight_new()}, b = {.sf = a.sf};
	struct caller ca = {.job = &a}, cb = {.job = &b};

	(void)state;
	b.key.bytes[0] = 1;
	b.key.bytes[31] = 7;
	call(&ca);
	call(&cb);
	assert_int_equal(a.runs, 1);
	assert_int_equal(b.runs, 1);
	assert_int_equal(ca.shared, 0);
	assert_int_equal(cb.shared, 0);
	singleflight_free(a.sf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_single_caller_runs_function),
	    cmocka_unit_test(test_concurrent_callers_share_one_run),
	    cmocka_unit_test(test_error_reaches_every_waiter),
	    cmocka_unit_test(test_finished_flight_is_forgotten),
	    cmocka_unit_test(test_distinct_keys_run_separately),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
