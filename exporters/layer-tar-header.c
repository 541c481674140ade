// SPDX-License-Identifier: Apache-2.0
/* Tar headers as Go's archive/tar writes a FormatPAX header — what BuildKit, containerd and
 * Docker emit — byte for byte: ustar when it can say everything, else a PAX extended header with
 * the records it cannot (sorted by key) before the ustar header. libarchive is not used here:
 * its pax_restricted writer drops sub-second times unless another record forces a PAX header,
 * and its name conversions depend on the process locale (a "hdrcharset=BINARY" record for any
 * non-ASCII name under the C locale), so its bytes would not be the same everywhere. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/compress-internal.h"
#include "exporters/layer-internal.h"
#include "fs/tree.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

#define BLOCK 512u
#define NAME_SIZE 100u
#define PREFIX_SIZE 155u

/* ustar field offsets and widths */
enum {
	F_NAME = 0,
	F_MODE = 100,
	F_UID = 108,
	F_GID = 116,
	F_SIZE = 124,
	F_MTIME = 136,
	F_CHKSUM = 148,
	F_TYPE = 156,
	F_LINK = 157,
	F_MAGIC = 257,
	F_VERSION = 263,
	F_UNAME = 265,
	F_GNAME = 297,
	F_DEVMAJOR = 329,
	F_DEVMINOR = 337,
	F_PREFIX = 345,
};

static bool
is_ascii(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80 || s[i] == '\0')
			return false;
	return true;
}

/* A field of width bytes holds width - 1 octal digits and a NUL. */
static bool
fits_octal(int64_t v, size_t width)
{
	return v >= 0 && (width - 1 >= 21 || (uint64_t)v < (1ull << (3 * (width - 1))));
}

/* Go's formatOctal: zero-padded digits and a NUL; a value that does not fit is written as 0
 * (a PAX record says it). */
static void
put_octal(char *field, size_t width, int64_t v)
{
	char tmp[32];

	if (!fits_octal(v, width))
		v = 0;
	snprintf(tmp, sizeof(tmp), "%0*" PRIo64, (int)(width - 1), (uint64_t)v);
	memcpy(field, tmp, width - 1);
	field[width - 1] = '\0';
}

/* Go's formatString: as much as fits, NUL-terminated when shorter; a truncated value does not
 * end in '/' (readers would take a file for a directory). */
static void
put_string(char *field, size_t width, const char *s, size_t n)
{
	memcpy(field, s, n < width ? n : width);
	if (n < width)
		field[n] = '\0';
	if (n > width && field[width - 1] == '/') {
		size_t k = width;

		while (k > 0 && field[k - 1] == '/')
			k--;
		field[k] = '\0';
	}
}

/* Go's toASCII: the name without its non-ASCII bytes. */
static char *
to_ascii(const char *s, size_t n, size_t *ret_len)
{
	char *out = xmalloc(n + 1);
	size_t o = 0;

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x80 && s[i] != '\0')
			out[o++] = s[i];
	out[o] = '\0';
	*ret_len = o;
	return out;
}

/* Go's splitUSTARPath: a long ASCII name cut at a '/' into prefix (≤ 155) and name (≤ 100). */
static bool
split_ustar(const char *name, size_t len, size_t *ret_prefix)
{
	size_t length = len, i;

	if (len <= NAME_SIZE || !is_ascii(name, len))
		return false;
	if (length > PREFIX_SIZE + 1)
		length = PREFIX_SIZE + 1;
	else if (name[length - 1] == '/')
		length--;
	for (i = length; i > 0 && name[i - 1] != '/'; i--)
		;
	if (i == 0)
		return false; /* no '/' */
	i--;                  /* the slash's index */
	if (i == 0 || len - i - 1 > NAME_SIZE || len - i - 1 == 0 || i > PREFIX_SIZE)
		return false;
	*ret_prefix = i;
	return true;
}

static void
set_checksum(char *h)
{
	unsigned sum = 0;

	memset(h + F_CHKSUM, ' ', 8);
	for (size_t i = 0; i < BLOCK; i++)
		sum += (unsigned char)h[i];
	put_octal(h + F_CHKSUM, 7, sum);
	h[F_CHKSUM + 7] = ' ';
}

struct record {
	char *key;
	const char *value;
	size_t value_len;
	char *owned; /* value, when formatted here */
};

static int
record_cmp(const void *a, const void *b)
{
	return strcmp(((const struct record *)a)->key, ((const struct record *)b)->key);
}

static void
add_record(struct record **recs, size_t *n, size_t *cap, const char *key, const char *value,
           size_t value_len, char *owned)
{
	*recs = xgrow(*recs, cap, *n + 1, sizeof(**recs));
	(*recs)[(*n)++] = (struct record){xstrdup(key), value, value_len, owned};
}

static void
add_number(struct record **recs, size_t *n, size_t *cap, const char *key, uint64_t v)
{
	char *s = xasprintf("%" PRIu64, v);

	add_record(recs, n, cap, key, s, strlen(s), s);
}

/* Go's formatPAXTime: seconds, and the fraction without trailing zeros. */
static char *
pax_time(int64_t sec, uint32_t nsec)
{
	const char *sign = "";
	size_t n;
	char *s;

	if (!nsec)
		return xasprintf("%" PRId64, sec);
	if (sec < 0) {
		sign = "-";
		sec = -(sec + 1);
		nsec = 1000000000u - nsec;
	}
	s = xasprintf("%s%" PRId64 ".%09" PRIu32, sign, sec, nsec);
	n = strlen(s);
	while (s[n - 1] == '0')
		s[--n] = '\0';
	return s;
}

/* "%d key=value\n", where %d counts the whole record, itself included. */
static void
append_record(char **buf, size_t *cap, size_t *len, const struct record *r)
{
	size_t base = strlen(r->key) + r->value_len + 3, size = base, digits;
	char num[24];

	for (;;) {
		digits = (size_t)snprintf(num, sizeof(num), "%zu", size);
		if (base + digits == size)
			break;
		size = base + digits;
	}
	*buf = xgrow(*buf, cap, *len + size, 1);
	memcpy(*buf + *len, num, digits);
	(*buf)[*len + digits] = ' ';
	memcpy(*buf + *len + digits + 1, r->key, strlen(r->key));
	(*buf)[*len + digits + 1 + strlen(r->key)] = '=';
	memcpy(*buf + *len + digits + 2 + strlen(r->key), r->value, r->value_len);
	(*buf)[*len + size - 1] = '\n';
	*len += size;
}

/* Go's name for the extended header: path.Join(dir, "PaxHeaders.0", base), made ASCII, at most
 * 100 bytes, no trailing '/'. */
static char *
pax_header_name(const char *name, size_t len, size_t *ret_len)
{
	const char *slash = memrchr(name, '/', len);
	size_t dir_len = slash ? (size_t)(slash - name) : 0; /* without the slash */
	const char *base = slash ? slash + 1 : name;
	size_t base_len = len - (size_t)(base - name);
	_cleanup_free_ char *joined = NULL;
	char *out;
	size_t n;

	if (dir_len == 1 && name[0] == '.')
		dir_len = 0; /* "./": Join cleans "./PaxHeaders.0" */
	joined = xasprintf("%.*s%sPaxHeaders.0%s%.*s", (int)dir_len, name, dir_len ? "/" : "",
	                   base_len ? "/" : "", (int)base_len, base);
	out = to_ascii(joined, strlen(joined), &n);
	if (n > NAME_SIZE)
		n = NAME_SIZE;
	while (n > 0 && out[n - 1] == '/')
		n--;
	out[n] = '\0';
	*ret_len = n;
	return out;
}

static char *
block_at(char **buf, size_t *cap, size_t *len)
{
	char *h;

	*buf = xgrow(*buf, cap, *len + BLOCK, 1);
	h = *buf + *len;
	memset(h, 0, BLOCK);
	*len += BLOCK;
	return h;
}

static void
pax_header(const struct compress_entry *e, struct record *recs, size_t n, char **buf, size_t *cap,
           size_t *len)
{
	size_t data_len = 0, data_cap = 0, name_len;
	_cleanup_free_ char *data = NULL;
	_cleanup_free_ char *name = pax_header_name(e->name, e->name_len, &name_len);
	char *h;
	size_t pad;

	qsort(recs, n, sizeof(*recs), record_cmp);
	for (size_t i = 0; i < n; i++)
		append_record(&data, &data_cap, &data_len, &recs[i]);
	h = block_at(buf, cap, len);
	put_string(h + F_NAME, NAME_SIZE, name, name_len);
	put_octal(h + F_MODE, 8, 0);
	put_octal(h + F_UID, 8, 0);
	put_octal(h + F_GID, 8, 0);
	put_octal(h + F_SIZE, 12, (int64_t)data_len);
	put_octal(h + F_MTIME, 12, 0);
	h[F_TYPE] = 'x';
	memcpy(h + F_MAGIC,
	       "ustar\0"
	       "00",
	       8);
	set_checksum(h);
	pad = (BLOCK - data_len % BLOCK) % BLOCK;
	*buf = xgrow(*buf, cap, *len + data_len + pad, 1);
	memcpy(*buf + *len, data, data_len);
	memset(*buf + *len + data_len, 0, pad);
	*len += data_len + pad;
}

static void
ustar_header(const struct compress_entry *e, bool pax, char **buf, size_t *cap, size_t *len)
{
	size_t prefix = 0, n, ln;
	char *h = block_at(buf, cap, len);

	if (pax) {
		_cleanup_free_ char *name = to_ascii(e->name, e->name_len, &n);
		_cleanup_free_ char *link = e->link ? to_ascii(e->link, e->link_len, &ln) : NULL;

		put_string(h + F_NAME, NAME_SIZE, name, n);
		if (link)
			put_string(h + F_LINK, NAME_SIZE, link, ln);
	} else if (split_ustar(e->name, e->name_len, &prefix)) {
		put_string(h + F_PREFIX, PREFIX_SIZE, e->name, prefix);
		put_string(h + F_NAME, NAME_SIZE, e->name + prefix + 1, e->name_len - prefix - 1);
	} else {
		put_string(h + F_NAME, NAME_SIZE, e->name, e->name_len);
	}
	if (!pax && e->link)
		put_string(h + F_LINK, NAME_SIZE, e->link, e->link_len);
	put_octal(h + F_MODE, 8, e->mode & 07777);
	put_octal(h + F_UID, 8, e->uid);
	put_octal(h + F_GID, 8, e->gid);
	put_octal(h + F_SIZE, 12, (int64_t)e->size);
	put_octal(h + F_MTIME, 12, e->mtime_sec);
	h[F_TYPE] = e->type;
	memcpy(h + F_MAGIC,
	       "ustar\0"
	       "00",
	       8);
	put_octal(h + F_DEVMAJOR, 8, e->devmajor);
	put_octal(h + F_DEVMINOR, 8, e->devminor);
	set_checksum(h);
}

int
layer_tar_header(const struct compress_entry *e, char **buf, size_t *cap, size_t *len,
                 struct kl_error **err)
{
	struct record *recs = NULL;
	size_t n = 0, rcap = 0, prefix;
	bool pax = false;

	if (!fits_octal(e->devmajor, 8) || !fits_octal(e->devminor, 8))
		return kl_error_setf(err, EOVERFLOW,
		                     "'%s': device %" PRIu32 ",%" PRIu32
		                     " does not fit a tar header",
		                     e->name, e->devmajor, e->devminor);
	for (size_t i = 0; i < e->n_xattrs; i++)
		if (memchr(e->xattrs[i].name, '=', e->xattrs[i].name_len))
			return kl_error_setf(err, EINVAL,
			                     "'%s': xattr '%s' has a '=' a PAX record cannot hold",
			                     e->name, e->xattrs[i].name);
	if (e->name_len > NAME_SIZE || !is_ascii(e->name, e->name_len)) {
		add_record(&recs, &n, &rcap, "path", e->name, e->name_len, NULL);
		pax |= !split_ustar(e->name, e->name_len, &prefix);
	}
	if (e->link && (e->link_len > NAME_SIZE || !is_ascii(e->link, e->link_len))) {
		add_record(&recs, &n, &rcap, "linkpath", e->link, e->link_len, NULL);
		pax = true;
	}
	if (!fits_octal(e->uid, 8)) {
		add_number(&recs, &n, &rcap, "uid", e->uid);
		pax = true;
	}
	if (!fits_octal(e->gid, 8)) {
		add_number(&recs, &n, &rcap, "gid", e->gid);
		pax = true;
	}
	if (!fits_octal((int64_t)e->size, 12)) {
		add_number(&recs, &n, &rcap, "size", e->size);
		pax = true;
	}
	if (e->mtime_nsec || !fits_octal(e->mtime_sec, 12)) {
		char *t = pax_time(e->mtime_sec, e->mtime_nsec);

		add_record(&recs, &n, &rcap, "mtime", t, strlen(t), t);
		pax = true;
	}
	for (size_t i = 0; i < e->n_xattrs; i++) {
		_cleanup_free_ char *key = xasprintf("SCHILY.xattr.%s", e->xattrs[i].name);

		add_record(&recs, &n, &rcap, key, e->xattrs[i].value, e->xattrs[i].value_len, NULL);
		pax = true;
	}
	if (pax)
		pax_header(e, recs, n, buf, cap, len);
	ustar_header(e, pax, buf, cap, len);
	for (size_t i = 0; i < n; i++) {
		free(recs[i].key);
		free(recs[i].owned);
	}
	free(recs);
	return 0;
}
