// SPDX-License-Identifier: Apache-2.0
/* HEALTHCHECK's durations: util/duration's parser, its errors worded as Go's. */
#include "frontend/dockerfile-duration.h"

#include <errno.h>
#include <string.h>

#include "frontend/dockerfile-dump.h"
#include "util/duration.h"
#include "util/strbuf.h"

int
dockerfile_duration_parse(const char *orig, int64_t *ret_ns, char **ret_msg)
{
	char unit[KL_DURATION_UNIT_SIZE];
	enum kl_duration_error e = kl_duration_parse(orig, ret_ns, unit);
	struct kl_strbuf b = {0};

	switch (e) {
	case KL_DURATION_OK:
		return 0;
	case KL_DURATION_MISSING_UNIT:
		kl_strbuf_puts(&b, "time: missing unit in duration ");
		break;
	case KL_DURATION_UNKNOWN_UNIT:
		kl_strbuf_puts(&b, "time: unknown unit ");
		dockerfile_go_quote(&b, unit, strlen(unit));
		kl_strbuf_puts(&b, " in duration ");
		break;
	default:
		kl_strbuf_puts(&b, "time: invalid duration ");
		break;
	}
	dockerfile_go_quote(&b, orig, strlen(orig));
	*ret_msg = kl_strbuf_steal(&b, NULL);
	return -EINVAL;
}
