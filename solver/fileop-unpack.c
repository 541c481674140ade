// SPDX-License-Identifier: Apache-2.0
/* ADD of a local archive: placeholder until the shared tar collector lands. */
#include "solver/fileop-internal.h"

int
fileop_unpack(struct fileop_action_ctx *x, uint32_t src_idx, const char *dest, size_t dest_len,
              const struct fileop_owner *owner, struct kl_error **err)
{
	(void)x;
	(void)src_idx;
	(void)dest;
	(void)dest_len;
	(void)owner;
	(void)err;
	return 0;
}
