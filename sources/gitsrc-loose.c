// SPDX-License-Identifier: Apache-2.0
/* Git loose objects as kiln writes them: zlib of "<type> <size>\0" and the object's bytes, in
 * stored (uncompressed) deflate blocks, so a file's size follows from its object's type and
 * size alone and a tree can name it before any byte is read. git inflates stored blocks as it
 * inflates any others. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "fs/store.h"
#include "sources/gitsrc-internal.h"
#include "util/dl-git2.h"
#include "util/error.h"

#define STORED_MAX 65535u /* bytes of one stored deflate block */

/* "<type> <size>\0" into buf (GITSRC_LOOSE_HEADER_MAX bytes); its length with the NUL. */
static size_t
loose_header(git_object_t type, uint64_t size, char *buf)
{
	int n = snprintf(buf, GITSRC_LOOSE_HEADER_MAX, "%s %llu",
	                 kl_git2()->object_type2string(type), (unsigned long long)size);

	return (size_t)n + 1;
}

uint64_t
gitsrc_loose_size(git_object_t type, uint64_t size)
{
	char h[GITSRC_LOOSE_HEADER_MAX];
	uint64_t len = loose_header(type, size, h) + size;
	uint64_t blocks = (len + STORED_MAX - 1) / STORED_MAX;

	/* zlib header, each block's 5-byte header and bytes, adler-32 */
	return 2 + blocks * 5 + len + 4;
}

/* The stream's bytes after the zlib header: the payload cut into stored blocks, pos counting
 * what was sent of the total len. */
struct stored {
	struct store_writer *w;
	uint64_t len, pos;
	size_t left; /* bytes still to come in the current block */
	uLong adler;
};

static int
stored_put(struct stored *s, const unsigned char *p, size_t n, struct kl_error **err)
{
	int r;

	while (n) {
		size_t k;

		if (!s->left) {
			uint64_t rest = s->len - s->pos;
			size_t b = rest > STORED_MAX ? STORED_MAX : (size_t)rest;
			unsigned char h[5] = {rest <= STORED_MAX, (unsigned char)b,
			                      (unsigned char)(b >> 8), (unsigned char)~b,
			                      (unsigned char)(~b >> 8)};

			r = store_writer_write(s->w, h, sizeof(h), err);
			if (r < 0)
				return r;
			s->left = b;
		}
		k = n < s->left ? n : s->left;
		r = store_writer_write(s->w, p, k, err);
		if (r < 0)
			return r;
		s->adler = adler32(s->adler, p, (uInt)k);
		s->pos += k;
		s->left -= k;
		p += k;
		n -= k;
	}
	return 0;
}

int
gitsrc_loose_write(struct store_writer *w, git_object_t type, const void *data, size_t size,
                   struct kl_error **err)
{
	static const unsigned char zhead[2] = {0x78, 0x01}; /* deflate, 32K window, check bits */
	char h[GITSRC_LOOSE_HEADER_MAX];
	size_t hl = loose_header(type, size, h);
	struct stored s = {.w = w, .len = hl + size, .adler = adler32(0, NULL, 0)};
	unsigned char tail[4];
	int r;

	r = store_writer_write(w, zhead, sizeof(zhead), err);
	if (r >= 0)
		r = stored_put(&s, (const unsigned char *)h, hl, err);
	/* in pieces a uInt can count */
	for (size_t off = 0; r >= 0 && off < size; off += 1u << 30)
		r = stored_put(&s, (const unsigned char *)data + off,
		               size - off < (1u << 30) ? size - off : (1u << 30), err);
	if (r < 0)
		return r;
	tail[0] = (unsigned char)(s.adler >> 24);
	tail[1] = (unsigned char)(s.adler >> 16);
	tail[2] = (unsigned char)(s.adler >> 8);
	tail[3] = (unsigned char)s.adler;
	return store_writer_write(w, tail, sizeof(tail), err);
}
