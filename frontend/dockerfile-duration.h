/* dockerfile-duration — Go's time.ParseDuration, which BuildKit uses for HEALTHCHECK's
 * --interval, --timeout, --start-period and --start-interval: "300ms", "-1.5h", "2h45m",
 * units ns us µs μs ms s m h, "0" alone without a unit (util/duration.h). Pure. */
#pragma once
#include <stdint.h>

/* Parses s into nanoseconds. Returns 0, or -EINVAL with *ret_msg (malloc'd) worded as Go's:
 * `time: invalid duration "x"`, `time: missing unit in duration "1"`,
 * `time: unknown unit "x" in duration "1x"`. */
int dockerfile_duration_parse(const char *s, int64_t *ret_ns, char **ret_msg);
