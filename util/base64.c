// SPDX-License-Identifier: Apache-2.0
/* Standard base64 over openssl's EVP block coder. */
#include "util/base64.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "util/cleanup.h"
#include "util/xalloc.h"

char *
kl_base64_encode(const void *in, size_t n)
{
	char *out;

	if (n > INT32_MAX / 4 * 3)
		abort(); /* callers encode credentials and small values */
	out = xmalloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	return out;
}

int
kl_base64_decode(const char *in, size_t len, uint8_t *out, size_t *ret_n)
{
	size_t full = (len + 3) / 4 * 4, pad = 0, data = len;
	_cleanup_free_ char *padded = NULL;
	int n;

	while (data > 0 && in[data - 1] == '=')
		data--;
	if (full > INT32_MAX || data % 4 == 1) /* one character is never a whole byte */
		return -EINVAL;
	padded = xmalloc(full + 1);
	memcpy(padded, in, len);
	memset(padded + len, '=', full - len);
	/* openssl decodes padding as zero bytes and counts them: take them off again */
	while (pad < 2 && pad < full && padded[full - 1 - pad] == '=')
		pad++;
	n = EVP_DecodeBlock(out, (const unsigned char *)padded, (int)full);
	if (n < 0 || (size_t)n < pad)
		return -EINVAL;
	*ret_n = (size_t)n - pad;
	return 0;
}
