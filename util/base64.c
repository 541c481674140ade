// SPDX-License-Identifier: Apache-2.0
/* Standard base64 over nettle's coder (not openssl's: libcrypto would be loaded for it alone). */
#include "util/base64.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <nettle/base64.h>

#include "util/xalloc.h"

char *
kl_base64_encode(const void *in, size_t n)
{
	char *out;

	if (n > SIZE_MAX / 4 * 3 - 3)
		abort(); /* callers encode credentials and small values */
	out = xmalloc(BASE64_ENCODE_RAW_LENGTH(n) + 1);
	base64_encode_raw(out, n, in);
	out[BASE64_ENCODE_RAW_LENGTH(n)] = '\0';
	return out;
}

int
kl_base64_decode(const char *in, size_t len, uint8_t *out, size_t *ret_n)
{
	static const char padding[] = "===";
	struct base64_decode_ctx ctx;
	size_t data = len, n = 0, tail = 0;

	while (data > 0 && in[data - 1] == '=')
		data--;
	if (data % 4 == 1) /* one character is never a whole byte */
		return -EINVAL;
	base64_decode_init(&ctx);
	if (!base64_decode_update(&ctx, &n, out, len, in))
		return -EINVAL;
	/* nettle wants the padding that the input may leave out */
	if (len % 4 && !base64_decode_update(&ctx, &tail, out + n, 4 - len % 4, padding))
		return -EINVAL;
	if (!base64_decode_final(&ctx))
		return -EINVAL;
	*ret_n = n + tail;
	return 0;
}
