// SPDX-License-Identifier: Apache-2.0
/* eStargz (and legacy stargz): the footer that locates the table of contents, the TOC member,
 * and the TOC digests a manifest's layer annotations carry. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "oci/image.h"
#include "sources/imgsrc-internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

int
imgsrc_error_from_zlib(struct kl_error **err, int code, const char *msg, const char *what)
{
	return kl_error_setf(err, EBADMSG, "%s: %s", what,
	                     msg                   ? msg
	                     : code == Z_BUF_ERROR ? "truncated"
	                                           : "corrupt");
}

/* The TOC offset in a footer's "%016xSTARGZ" (16 lowercase hex digits), below the footer. */
static int
footer_offset(const uint8_t *p, uint64_t blob_size, size_t footer_size, uint64_t *ret)
{
	uint64_t off = 0;

	if (memcmp(p + 16, "STARGZ", 6))
		return -EINVAL;
	for (int i = 0; i < 16; i++) {
		uint8_t c = p[i];

		if (c >= '0' && c <= '9')
			off = off << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			off = off << 4 | (uint64_t)(c - 'a' + 10);
		else
			return -EINVAL;
	}
	if (blob_size < footer_size || off >= blob_size - footer_size)
		return -EINVAL;
	*ret = off;
	return 0;
}

/* eStargz: XLEN 26 holding one RFC 1952 subfield 'S' 'G' of 22 bytes: "%016xSTARGZ". */
static bool
estargz_footer(const uint8_t *p, uint64_t blob_size, uint64_t *ret_toc_off)
{
	return p[10] == 26 && p[11] == 0 && p[12] == 'S' && p[13] == 'G' && p[14] == 22 &&
	       p[15] == 0 &&
	       footer_offset(p + 16, blob_size, IMGSRC_ESTARGZ_FOOTER_SIZE, ret_toc_off) == 0;
}

/* Legacy stargz: XLEN 22 holding "%016xSTARGZ" itself, without a subfield header. */
static bool
legacy_footer(const uint8_t *p, uint64_t blob_size, uint64_t *ret_toc_off)
{
	return p[10] == 22 && p[11] == 0 &&
	       footer_offset(p + 12, blob_size, IMGSRC_STARGZ_FOOTER_SIZE, ret_toc_off) == 0;
}

int
imgsrc_estargz_footer(const void *buf, size_t len, uint64_t blob_size, uint64_t *ret_toc_off)
{
	/* an empty gzip member: magic, deflate, flags FEXTRA only (then mtime, XFL, OS, XLEN) */
	static const uint8_t head[] = {0x1f, 0x8b, 8, 4};
	const uint8_t *end = (const uint8_t *)buf + len;

	if (len > blob_size)
		return -EINVAL;
	if (len >= IMGSRC_ESTARGZ_FOOTER_SIZE &&
	    !memcmp(end - IMGSRC_ESTARGZ_FOOTER_SIZE, head, sizeof(head)) &&
	    estargz_footer(end - IMGSRC_ESTARGZ_FOOTER_SIZE, blob_size, ret_toc_off))
		return IMGSRC_ESTARGZ_FOOTER_SIZE;
	if (len >= IMGSRC_STARGZ_FOOTER_SIZE &&
	    !memcmp(end - IMGSRC_STARGZ_FOOTER_SIZE, head, sizeof(head)) &&
	    legacy_footer(end - IMGSRC_STARGZ_FOOTER_SIZE, blob_size, ret_toc_off))
		return IMGSRC_STARGZ_FOOTER_SIZE;
	return -EINVAL;
}

/* Inflates the TOC's gzip member(s) into at most IMGSRC_MAX_TOC_SIZE + one tar header; the
 * buffer grows with the output, so a small TOC costs little. */
static int
gunzip_toc(const void *buf, size_t len, char **ret, size_t *ret_len, struct kl_error **err)
{
	const size_t max = IMGSRC_MAX_TOC_SIZE + 1024;
	size_t cap = 64u << 10, have = 0;
	_cleanup_free_ char *out = NULL;
	z_stream z = {0};
	int zr;

	if (len > UINT32_MAX)
		return kl_error_setf(err, EFBIG, "table of contents larger than %u bytes",
		                     IMGSRC_MAX_TOC_SIZE);
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return kl_error_setf(err, ENOMEM, "creating a zlib stream");
	out = xmalloc(cap + 1);
	z.next_in = (Bytef *)buf;
	z.avail_in = (uInt)len;
	for (;;) {
		z.next_out = (Bytef *)out + have;
		z.avail_out = (uInt)(cap - have);
		zr = inflate(&z, Z_NO_FLUSH);
		have = cap - z.avail_out;
		if (have == cap && cap < max && (zr == Z_OK || zr == Z_BUF_ERROR ||
		                                 (zr == Z_STREAM_END && z.avail_in))) {
			cap = cap * 2 < max ? cap * 2 : max;
			out = xrealloc(out, cap + 1);
			if (zr == Z_STREAM_END)
				inflateReset(&z);
			continue;
		}
		if (zr == Z_STREAM_END && z.avail_in && have < cap) {
			inflateReset(&z); /* the tar's end may sit in a member of its own */
			continue;
		}
		break;
	}
	if ((zr == Z_OK || zr == Z_BUF_ERROR) && have == max) {
		inflateEnd(&z);
		return kl_error_setf(err, EFBIG, "table of contents larger than %u bytes",
		                     IMGSRC_MAX_TOC_SIZE);
	}
	if (zr != Z_STREAM_END) {
		int r =
		    imgsrc_error_from_zlib(err, zr, z.msg, "decompressing the table of contents");

		inflateEnd(&z);
		return r;
	}
	*ret_len = have;
	inflateEnd(&z);
	*ret = TAKE_PTR(out);
	return 0;
}

int
imgsrc_estargz_toc(const void *buf, size_t len, char **ret, size_t *ret_len, struct kl_error **err)
{
	_cleanup_free_ char *tar = NULL;
	char size_field[13];
	unsigned long long size;
	size_t tar_len = 0;
	char *end;
	int r;

	r = gunzip_toc(buf, len, &tar, &tar_len, err);
	if (r < 0)
		return r;
	if (tar_len < 512 || strncmp(tar, "stargz.index.json", 100))
		return kl_error_setf(err, EBADMSG,
		                     "table of contents: no 'stargz.index.json' tar entry");
	memcpy(size_field, tar + 124, 12);
	size_field[12] = '\0';
	size = strtoull(size_field, &end, 8);
	if (end == size_field || size > IMGSRC_MAX_TOC_SIZE || size > tar_len - 512)
		return kl_error_setf(err, EBADMSG,
		                     "table of contents: bad size of 'stargz.index.json'");
	memmove(tar, tar + 512, (size_t)size);
	tar[size] = '\0';
	*ret = TAKE_PTR(tar);
	*ret_len = (size_t)size;
	return 0;
}

int
imgsrc_estargz_toc_digests(const char *manifest, size_t len, size_t n_layers, char ***ret)
{
	json_auto_t *j = json_loadb(manifest, len, 0, NULL);
	json_t *layers = j ? json_object_get(j, "layers") : NULL;
	char **out;

	if (!json_is_array(layers) || json_array_size(layers) != n_layers)
		return -EINVAL;
	out = xcalloc(n_layers + 1, sizeof(*out));
	for (size_t i = 0; i < n_layers; i++) {
		json_t *a = json_object_get(json_array_get(layers, i), "annotations");
		json_t *jv = json_object_get(a, OCI_ANN_ESTARGZ_TOC);
		const char *v = json_is_string(jv) ? json_string_value(jv) : NULL;

		if (v && strlen(v) <= OCI_MAX_ANNOTATION)
			out[i] = xstrdup(v);
	}
	*ret = out;
	return 0;
}
