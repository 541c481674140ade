// SPDX-License-Identifier: Apache-2.0
/* tar-split's NDJSON (storage.Entry lines, as vbatts/tar-split's JSON packer writes them),
 * zstd-compressed as it grows, and the CRC-64 of file payloads it records. */
#include "exporters/compress-tarsplit-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <isa-l/crc64.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "util/base64.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

#define STAGE (64u << 10)
#define TYPE_FILE 1
#define TYPE_SEGMENT 2

struct compress_tarsplit {
	ZSTD_CCtx *cctx;
	char *stage; /* lines not yet compressed */
	size_t stage_len, stage_cap;
	char *out; /* the compressed stream */
	size_t out_len, out_cap;
	uint64_t ulen, position;
};

struct compress_tarsplit *
compress_tarsplit_new(int level)
{
	struct compress_tarsplit *ts = xcalloc(1, sizeof(*ts));

	ts->cctx = ZSTD_createCCtx();
	if (!ts->cctx)
		abort();
	(void)ZSTD_CCtx_setParameter(ts->cctx, ZSTD_c_compressionLevel, level);
	ts->stage_cap = STAGE;
	ts->stage = xmalloc(ts->stage_cap);
	return ts;
}

struct compress_tarsplit *
compress_tarsplit_free(struct compress_tarsplit *ts)
{
	if (ts) {
		ZSTD_freeCCtx(ts->cctx);
		free(ts->stage);
		free(ts->out);
		free(ts);
	}
	return NULL;
}

static int
compress_stage(struct compress_tarsplit *ts, ZSTD_EndDirective end, struct kl_error **err)
{
	ZSTD_inBuffer in = {ts->stage, ts->stage_len, 0};
	size_t left;

	do {
		ZSTD_outBuffer o;

		ts->out = xgrow(ts->out, &ts->out_cap, ts->out_len + ZSTD_CStreamOutSize(), 1);
		o = (ZSTD_outBuffer){ts->out + ts->out_len, ts->out_cap - ts->out_len, 0};
		left = ZSTD_compressStream2(ts->cctx, &o, &in, end);
		if (ZSTD_isError(left))
			return kl_error_setf(err, EIO, "zstd: compressing the tar-split: %s",
			                     ZSTD_getErrorName(left));
		ts->out_len += o.pos;
	} while (end == ZSTD_e_end ? left != 0 : in.pos < in.size);
	ts->stage_len = 0;
	return 0;
}

static int
add_line(struct compress_tarsplit *ts, const char *line, size_t n, struct kl_error **err)
{
	int r;

	ts->ulen += n;
	ts->position++;
	if (ts->stage_len + n > ts->stage_cap && ts->stage_len) {
		r = compress_stage(ts, ZSTD_e_continue, err);
		if (r < 0)
			return r;
	}
	ts->stage = xgrow(ts->stage, &ts->stage_cap, ts->stage_len + n, 1);
	memcpy(ts->stage + ts->stage_len, line, n);
	ts->stage_len += n;
	return 0;
}

int
compress_tarsplit_segment(struct compress_tarsplit *ts, const void *buf, size_t n,
                          struct kl_error **err)
{
	_cleanup_free_ char *b64 = kl_base64_encode(buf, n);
	_cleanup_free_ char *line =
	    xasprintf("{\"type\":%d,\"payload\":\"%s\",\"position\":%" PRIu64 "}\n", TYPE_SEGMENT,
	              b64, ts->position);

	return add_line(ts, line, strlen(line), err);
}

/* Go's encoding/json string escaping (HTML-safe, as json.Encoder defaults to). */
static char *
json_escape(const char *s, size_t n)
{
	char *out = xmalloc(6 * n + 1), *o = out;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			*o++ = '\\';
			*o++ = (char)c;
		} else if (c == '\n') {
			o += sprintf(o, "\\n");
		} else if (c == '\r') {
			o += sprintf(o, "\\r");
		} else if (c == '\t') {
			o += sprintf(o, "\\t");
		} else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
			o += sprintf(o, "\\u%04x", c);
		} else if (c == 0xe2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
		           ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9)) {
			o += sprintf(o, "\\u202%c", (unsigned char)s[i + 2] == 0xa8 ? '8' : '9');
			i += 2;
		} else {
			*o++ = (char)c;
		}
	}
	*o = '\0';
	return out;
}

int
compress_tarsplit_file(struct compress_tarsplit *ts, const char *name, size_t name_len,
                       uint64_t size, uint64_t crc64, struct kl_error **err)
{
	_cleanup_free_ char *esc = json_escape(name, name_len);
	_cleanup_free_ char *sum = NULL, *line = NULL, *size_field = NULL;
	uint8_t be[8];

	for (int i = 0; i < 8; i++)
		be[i] = (uint8_t)(crc64 >> (56 - 8 * i));
	/* tar-split sums only payloads that exist; an empty one is null */
	if (size) {
		_cleanup_free_ char *b64 = kl_base64_encode(be, 8);

		sum = xasprintf("\"%s\"", b64);
	} else {
		sum = xstrdup("null");
	}
	size_field = size ? xasprintf(",\"size\":%" PRIu64, size) : xstrdup("");
	line =
	    xasprintf("{\"type\":%d,\"name\":\"%s\"%s,\"payload\":%s,\"position\":%" PRIu64 "}\n",
	              TYPE_FILE, esc, size_field, sum, ts->position);
	return add_line(ts, line, strlen(line), err);
}

int
compress_tarsplit_finish(struct compress_tarsplit *ts, const char **ret, size_t *ret_len,
                         uint64_t *ret_ulen, struct kl_error **err)
{
	int r = compress_stage(ts, ZSTD_e_end, err);

	if (r < 0)
		return r;
	*ret = ts->out;
	*ret_len = ts->out_len;
	*ret_ulen = ts->ulen;
	return 0;
}

/* ISA-L's CRC-64/ISO takes and returns the sum with the same pre- and post-inversion as Go's
 * hash/crc64, so a running sum chains across calls; it folds with carry-less multiplies, about
 * ten times the speed of a table-driven loop. */
uint64_t
compress_crc64(uint64_t crc, const void *buf, size_t n)
{
	return crc64_iso_refl(crc, buf, n);
}
