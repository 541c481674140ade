/* duration — Go's time.ParseDuration, the one duration syntax every kiln option and Dockerfile
 * flag takes (BuildKit and Docker parse theirs with it): "300ms", "-1.5h", "2h45m", units ns,
 * us, µs, μs, ms, s, m, h, and "0" alone without a unit. Callers add their own range rules and
 * word the errors for their users. Pure. */
#pragma once
#include <stdint.h>

enum kl_duration_error {
	KL_DURATION_OK,
	KL_DURATION_INVALID,      /* not a duration: "", "s", "1s ", "1..5s" */
	KL_DURATION_MISSING_UNIT, /* a number without a unit: "10" */
	KL_DURATION_UNKNOWN_UNIT, /* a unit Go does not know: "10x" (unit: "x") */
	KL_DURATION_OVERFLOW,     /* beyond ±2^63 ns (about 292 years) */
};

#define KL_DURATION_UNIT_SIZE 32 /* room for the unknown unit's text (truncated) */

/* Parses s into nanoseconds. Returns KL_DURATION_OK, else the error; for an unknown unit, its
 * text goes to unit (KL_DURATION_UNIT_SIZE bytes) when unit is not NULL. */
enum kl_duration_error kl_duration_parse(const char *s, int64_t *ret_ns, char *unit);
