// SPDX-License-Identifier: Apache-2.0
/* Image config times and SOURCE_DATE_EPOCH: one formatter and one parser for all of kiln. */
#include "util/timestamp.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "util/error.h"

const char *
kl_timestamp_format(int64_t t, char buf[KL_TIMESTAMP_SIZE])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t < 0 || t > KL_EPOCH_MAX || !gmtime_r(&tt, &tm) ||
	    !strftime(buf, KL_TIMESTAMP_SIZE, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, KL_TIMESTAMP_SIZE, "1970-01-01T00:00:00Z");
	return buf;
}

int
kl_source_date_epoch_parse(const char *name, const char *value, int64_t *ret, struct kl_error **err)
{
	int64_t v = 0;

	if (!value || !*value)
		return 0;
	/* digits only: no sign, space or base prefix, which strtoll would take */
	for (const char *p = value; *p; p++) {
		if (*p < '0' || *p > '9' || v > (KL_EPOCH_MAX - (*p - '0')) / 10)
			return kl_error_setf(err, EINVAL,
			                     "invalid %s '%s': not a number of seconds since "
			                     "1970-01-01 (0 to %lld)",
			                     name, value, (long long)KL_EPOCH_MAX);
		v = v * 10 + (*p - '0');
	}
	*ret = v;
	return 1;
}
