// SPDX-License-Identifier: Apache-2.0
/* Go's time.ParseDuration: the same values and the same refusals. */
#include "util/duration.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define LIMIT (UINT64_C(1) << 63)

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

/* Reads the fraction after '.': its digits as f / scale, those past uint64's room dropped as
 * Go drops them. Returns whether there was at least one digit. */
static bool
fraction(const char **p, uint64_t *ret_f, double *ret_scale)
{
	const char *start = *p;
	uint64_t f = 0;
	double scale = 1.0;
	bool overflow = false;

	for (; is_digit(**p); (*p)++) {
		uint64_t y;

		if (overflow)
			continue;
		if (f > (LIMIT - 1) / 10) {
			overflow = true;
			continue;
		}
		y = f * 10 + (uint64_t)(**p - '0');
		if (y > LIMIT) {
			overflow = true;
			continue;
		}
		f = y;
		scale *= 10;
	}
	*ret_f = f;
	*ret_scale = scale;
	return *p != start;
}

static uint64_t
unit_ns(const char *u, size_t len)
{
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strlen(units[i].name) == len && memcmp(units[i].name, u, len) == 0)
			return units[i].ns;
	return 0;
}

enum kl_duration_error
kl_duration_parse(const char *orig, int64_t *ret_ns, char *unit_text)
{
	const char *s = orig;
	uint64_t d = 0;
	bool neg = false;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (strcmp(s, "0") == 0) {
		*ret_ns = 0;
		return KL_DURATION_OK;
	}
	if (*s == '\0')
		return KL_DURATION_INVALID;
	while (*s) {
		uint64_t v = 0, f = 0, unit;
		double scale = 1.0;
		bool pre, post = false;
		const char *start = s, *u;
		size_t ulen;

		if (!(*s == '.' || is_digit(*s)))
			return KL_DURATION_INVALID;
		for (; is_digit(*s); s++) {
			if (v > LIMIT / 10)
				return KL_DURATION_OVERFLOW;
			v = v * 10 + (uint64_t)(*s - '0');
			if (v > LIMIT)
				return KL_DURATION_OVERFLOW;
		}
		pre = s != start;
		if (*s == '.') {
			s++;
			post = fraction(&s, &f, &scale);
		}
		if (!pre && !post)
			return KL_DURATION_INVALID;
		u = s;
		while (*s && *s != '.' && !is_digit(*s))
			s++;
		ulen = (size_t)(s - u);
		if (ulen == 0)
			return KL_DURATION_MISSING_UNIT;
		unit = unit_ns(u, ulen);
		if (!unit) {
			if (unit_text) {
				if (ulen >= KL_DURATION_UNIT_SIZE)
					ulen = KL_DURATION_UNIT_SIZE - 1;
				memcpy(unit_text, u, ulen);
				unit_text[ulen] = '\0';
			}
			return KL_DURATION_UNKNOWN_UNIT;
		}
		if (v > LIMIT / unit)
			return KL_DURATION_OVERFLOW;
		v *= unit;
		if (f > 0) {
			v += (uint64_t)((double)f * ((double)unit / scale));
			if (v > LIMIT)
				return KL_DURATION_OVERFLOW;
		}
		d += v;
		if (d > LIMIT)
			return KL_DURATION_OVERFLOW;
	}
	if (neg) {
		*ret_ns = d == LIMIT ? INT64_MIN : -(int64_t)d;
		return KL_DURATION_OK;
	}
	if (d > LIMIT - 1)
		return KL_DURATION_OVERFLOW;
	*ret_ns = (int64_t)d;
	return KL_DURATION_OK;
}
