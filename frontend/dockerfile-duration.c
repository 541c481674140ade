// SPDX-License-Identifier: Apache-2.0
/* Go's time.ParseDuration, for HEALTHCHECK's durations. */
#include "frontend/dockerfile-duration.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "frontend/dockerfile-dump.h"
#include "util/strbuf.h"

#define LIMIT (UINT64_C(1) << 63)

static int
err_msg(char **ret_msg, const char *pre, const char *unit, const char *orig)
{
	struct kl_strbuf b = {0};

	kl_strbuf_puts(&b, pre);
	if (unit) {
		dockerfile_go_quote(&b, unit, strlen(unit));
		kl_strbuf_puts(&b, " in duration ");
	}
	dockerfile_go_quote(&b, orig, strlen(orig));
	*ret_msg = kl_strbuf_steal(&b, NULL);
	return -EINVAL;
}

static int
invalid(char **ret_msg, const char *orig)
{
	return err_msg(ret_msg, "time: invalid duration ", NULL, orig);
}

static const struct {
	const char *name;
	uint64_t ns;
} units[] = {
    {"ns", 1},
    {"us", 1000},
    {"\xC2\xB5s", 1000}, /* U+00B5 micro sign */
    {"\xCE\xBCs", 1000}, /* U+03BC Greek mu */
    {"ms", 1000000},
    {"s", 1000000000},
    {"m", UINT64_C(60000000000)},
    {"h", UINT64_C(3600000000000)},
};

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int
dockerfile_duration_parse(const char *orig, int64_t *ret_ns, char **ret_msg)
{
	const char *s = orig;
	uint64_t d = 0;
	bool neg = false;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (strcmp(s, "0") == 0) {
		*ret_ns = 0;
		return 0;
	}
	if (*s == '\0')
		return invalid(ret_msg, orig);
	while (*s) {
		uint64_t v = 0, f = 0, unit = 0;
		double scale = 1.0;
		bool pre, post = false, overflow = false;
		const char *start = s, *u;
		size_t ulen;
		char ubuf[64];

		if (!(*s == '.' || is_digit(*s)))
			return invalid(ret_msg, orig);
		for (; is_digit(*s); s++) {
			if (v > LIMIT / 10)
				return invalid(ret_msg, orig);
			v = v * 10 + (uint64_t)(*s - '0');
			if (v > LIMIT)
				return invalid(ret_msg, orig);
		}
		pre = s != start;
		if (*s == '.') {
			const char *fs = ++s;

			for (; is_digit(*s); s++) {
				uint64_t y;

				if (overflow)
					continue;
				if (f > (LIMIT - 1) / 10) {
					overflow = true;
					continue;
				}
				y = f * 10 + (uint64_t)(*s - '0');
				if (y > LIMIT) {
					overflow = true;
					continue;
				}
				f = y;
				scale *= 10;
			}
			post = s != fs;
		}
		if (!pre && !post)
			return invalid(ret_msg, orig);
		u = s;
		while (*s && *s != '.' && !is_digit(*s))
			s++;
		ulen = (size_t)(s - u);
		if (ulen == 0)
			return err_msg(ret_msg, "time: missing unit in duration ", NULL, orig);
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strlen(units[i].name) == ulen && memcmp(units[i].name, u, ulen) == 0)
				unit = units[i].ns;
		if (!unit) {
			if (ulen >= sizeof(ubuf))
				ulen = sizeof(ubuf) - 1;
			memcpy(ubuf, u, ulen);
			ubuf[ulen] = '\0';
			return err_msg(ret_msg, "time: unknown unit ", ubuf, orig);
		}
		if (v > LIMIT / unit)
			return invalid(ret_msg, orig);
		v *= unit;
		if (f > 0) {
			v += (uint64_t)((double)f * ((double)unit / scale));
			if (v > LIMIT)
				return invalid(ret_msg, orig);
		}
		d += v;
		if (d > LIMIT)
			return invalid(ret_msg, orig);
	}
	if (neg) {
		*ret_ns = d == LIMIT ? INT64_MIN : -(int64_t)d;
		return 0;
	}
	if (d > LIMIT - 1)
		return invalid(ret_msg, orig);
	*ret_ns = (int64_t)d;
	return 0;
}
