// SPDX-License-Identifier: Apache-2.0
/* zstd:chunked: the manifest-position annotation of a layer's table of contents and the TOC's
 * decompression. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <zstd.h>

#include "sources/imgsrc-internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

int
imgsrc_error_from_zstd(struct kl_error **err, size_t code, const char *what)
{
	return kl_error_setf(err, EBADMSG, "%s: %s", what, ZSTD_getErrorName(code));
}

int
imgsrc_chunked_position(const char *s, uint64_t *ret_off, uint64_t *ret_len, uint64_t *ret_ulen)
{
	unsigned long long off, len, ulen, type;
	int n = 0;

	if (sscanf(s, "%llu:%llu:%llu:%llu%n", &off, &len, &ulen, &type, &n) != 4 || s[n] != '\0' ||
	    type != 1 || len == 0 || len > IMGSRC_MAX_TOC_SIZE || ulen > IMGSRC_MAX_TOC_SIZE ||
	    off > UINT64_MAX - len)
		return -EINVAL;
	*ret_off = off;
	*ret_len = len;
	*ret_ulen = ulen;
	return 0;
}

int
imgsrc_chunked_decompress(const void *buf, size_t len, uint64_t ulen, char **ret, size_t *ret_len,
                          struct kl_error **err)
{
	_cleanup_free_ char *out = NULL;
	size_t n;

	if (ulen > IMGSRC_MAX_TOC_SIZE)
		return kl_error_setf(err, EFBIG, "table of contents larger than %u bytes",
		                     IMGSRC_MAX_TOC_SIZE);
	out = xmalloc(ulen + 1);
	n = ZSTD_decompress(out, ulen, buf, len);
	if (ZSTD_isError(n))
		return imgsrc_error_from_zstd(err, n, "decompressing the table of contents");
	if (n != ulen)
		return kl_error_setf(err, EBADMSG,
		                     "table of contents: %zu bytes, expected %" PRIu64, n, ulen);
	out[n] = '\0';
	*ret = TAKE_PTR(out);
	*ret_len = n;
	return 0;
}
