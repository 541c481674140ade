/* singleflight — one execution per key among concurrent callers.
 *
 * The first caller of a key (the leader) runs the function; callers arriving while it runs wait
 * on a condition variable and all receive the leader's result: its return code, its value
 * (copied, value_size bytes) and, on failure, a copy of its error message. Once the leader
 * finishes, the key is forgotten: a later caller runs the function again (callers that want to
 * remember results keep their own cache).
 *
 * Thread-safe: one table serves every thread; the function runs without the table's lock held. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "fs/digest.h"
#include "util/cleanup.h"

struct kl_error;
struct singleflight;

/* Produces the value for a key into ret_value (value_size bytes, zeroed); >= 0 or -errno. */
typedef int (*singleflight_fn)(void *userdata, void *ret_value, struct kl_error **err);

struct singleflight_stats {
	uint64_t runs;   /* functions executed (one per flight) */
	uint64_t shared; /* callers that waited for another caller's flight */
};

/* An empty table. */
struct singleflight *singleflight_new(void);
/* Frees the table; no call may be in progress. NULL-safe; returns NULL. */
struct singleflight *singleflight_free(struct singleflight *sf);
KL_DEFINE_CLEANUP(struct singleflight *, singleflight_free)

/* Runs fn(userdata) unless a flight for key is in progress, in which case waits for it. Returns
 * the flight's code; on success (>= 0) ret_value (value_size bytes, may be NULL when 0) holds the
 * value, on failure err (when non-NULL) gets the flight's message. ret_shared, when non-NULL, is
 * set to 1 when this caller waited instead of running fn. */
int singleflight_do(struct singleflight *sf, const struct digest *key, singleflight_fn fn,
                    void *userdata, void *ret_value, size_t value_size, int *ret_shared,
                    struct kl_error **err);

/* The counters so far, as one snapshot. */
void singleflight_get_stats(struct singleflight *sf, struct singleflight_stats *ret);
