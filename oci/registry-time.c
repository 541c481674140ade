// SPDX-License-Identifier: Apache-2.0
/* Time for the registry client: timeout durations as people write them, and Retry-After. */
#include "oci/registry.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/dl-curl.h"
#include "util/duration.h"
#include "util/error.h"

int
registry_parse_duration(const char *text, unsigned *ret_ms, struct kl_error **err)
{
	char max[REGISTRY_DURATION_SIZE], unit[KL_DURATION_UNIT_SIZE];
	int64_t ns = 0;

	if (!*text)
		return kl_error_setf(err, EINVAL,
		                     "an empty duration (write one like 10s or 500ms)");
	switch (kl_duration_parse(text, &ns, unit)) {
	case KL_DURATION_OK:
		break;
	case KL_DURATION_MISSING_UNIT:
		return kl_error_setf(err, EINVAL,
		                     "duration '%s': a number needs a unit, ms, s, m or h "
		                     "(like 10s or 500ms)",
		                     text);
	case KL_DURATION_UNKNOWN_UNIT:
		return kl_error_setf(
		    err, EINVAL, "duration '%s': unknown unit '%s' (use ms, s, m or h, like 10s)",
		    text, unit);
	case KL_DURATION_OVERFLOW:
		ns = INT64_MAX;
		break;
	default:
		ns = -1;
		break;
	}
	if (ns < 0)
		return kl_error_setf(
		    err, EINVAL, "'%s' is not a duration (write one like 10s, 500ms or 2m)", text);
	if ((uint64_t)ns / 1000000 > REGISTRY_MAX_TIMEOUT_MS)
		return kl_error_setf(err, EINVAL, "duration '%s': longer than %s", text,
		                     registry_format_duration(REGISTRY_MAX_TIMEOUT_MS, max));
	if (ns < 1000000)
		return kl_error_setf(err, EINVAL, "duration '%s': shorter than 1ms", text);
	*ret_ms = (unsigned)(ns / 1000000);
	return 0;
}

const char *
registry_format_duration(unsigned ms, char *buf)
{
	unsigned h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, rest = ms % 1000;
	size_t n = 0, size = REGISTRY_DURATION_SIZE;

	buf[0] = '\0';
	if (h)
		n += (size_t)snprintf(buf + n, size - n, "%uh", h);
	if (m)
		n += (size_t)snprintf(buf + n, size - n, "%um", m);
	if (rest && !h && !m && !s) {
		snprintf(buf + n, size - n, "%ums", rest);
	} else if (rest) {
		char frac[4];
		int len = 3;

		snprintf(frac, sizeof(frac), "%03u", rest);
		while (frac[len - 1] == '0')
			len--;
		snprintf(buf + n, size - n, "%u.%.*ss", s, len, frac);
	} else if (s || ms == 0) {
		snprintf(buf + n, size - n, "%us", s);
	}
	return buf;
}

int
registry_parse_retry_after(const char *value, time_t now, uint64_t *ret_ms)
{
	size_t len = strlen(value);
	const char *p = value;
	uint64_t secs = 0;
	time_t t;

	while (*p == ' ' || *p == '\t')
		p++, len--;
	while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	if (len && strspn(p, "0123456789") >= len) {
		for (size_t i = 0; i < len; i++) {
			secs = secs * 10 + (uint64_t)(p[i] - '0');
			if (secs > UINT64_MAX / 10000)
				break; /* longer than anyone waits: keep it huge, not wrapped */
		}
		*ret_ms = secs * 1000;
		return 0;
	}
	t = kl_curl()->getdate(p, NULL);
	if (t == -1)
		return -EINVAL;
	*ret_ms = t > now ? (uint64_t)(t - now) * 1000 : 0;
	return 0;
}
