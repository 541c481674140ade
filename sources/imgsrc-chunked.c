// SPDX-License-Identifier: Apache-2.0
/* zstd:chunked and eStargz layers: the table of contents → a diff tree of "layer:" locators, and
 * the "layer" provider that range-reads one file's frames (zstd) or gzip members (eStargz) from
 * the registry (or a layout, or the store) and decompresses them. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "fs/provider.h"
#include "fs/store.h"
#include "fs/tree.h"
#include "oci/image.h"
#include "oci/layout.h"
#include "oci/reference.h"
#include "oci/registry.h"
#include "sources/imgsrc-internal.h"
#include "sources/imgsrc.h"
#include "sources/source.h"
#include "util/base64.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/log.h"
#include "util/xalloc.h"

static int
error_from_zstd(struct kl_error **err, size_t code, const char *what)
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
		return error_from_zstd(err, n, "decompressing the table of contents");
	if (n != ulen)
		return kl_error_setf(err, EBADMSG,
		                     "table of contents: %zu bytes, expected %" PRIu64, n, ulen);
	out[n] = '\0';
	*ret = TAKE_PTR(out);
	*ret_len = n;
	return 0;
}

/* RFC 3339 ("2023-11-14T22:13:20.5Z", "…+02:00") → seconds and nanoseconds. */
static int
parse_time(const char *s, int64_t *ret_sec, uint32_t *ret_nsec)
{
	struct tm tm = {0};
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	uint32_t nsec = 0, scale = 100000000;
	int64_t sec;

	if (!p)
		return -EINVAL;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			nsec += (uint32_t)(*p - '0') * scale;
	sec = (int64_t)timegm(&tm);
	if ((*p == '+' || *p == '-') && strlen(p) == 6) {
		int64_t off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 +
		              ((p[4] - '0') * 10 + (p[5] - '0')) * 60;

		sec += *p == '+' ? -off : off;
	} else if (strcmp(p, "Z") && *p) {
		return -EINVAL;
	}
	*ret_sec = sec;
	*ret_nsec = nsec;
	return 0;
}

static int64_t
int_field(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static const char *
str_field(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int
toc_type(const char *t, enum tree_entry_type *ret)
{
	static const struct {
		const char *name;
		enum tree_entry_type type;
	} types[] = {
	    {"reg", TREE_REG},           {"dir", TREE_DIR},   {"symlink", TREE_SYMLINK},
	    {"hardlink", TREE_HARDLINK}, {"char", TREE_CHAR}, {"block", TREE_BLOCK},
	    {"fifo", TREE_FIFO},
	};

	for (size_t i = 0; t && i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(t, types[i].name)) {
			*ret = types[i].type;
			return 0;
		}
	return -EINVAL;
}

static int
toc_xattrs(json_t *o, const char *source, const char *name, struct tree_xattr **ret, size_t *ret_n,
           struct kl_error **err)
{
	json_t *xs = json_object_get(o, "xattrs"), *v;
	struct tree_xattr *x;
	const char *key;
	size_t n = 0;

	*ret = NULL;
	*ret_n = 0;
	if (!xs)
		return 0;
	if (!json_is_object(xs) || json_object_size(xs) > IMGSRC_MAX_XATTRS)
		return kl_error_setf(err, EBADMSG, "layer %s: '%s': bad xattrs", source, name);
	x = xcalloc(json_object_size(xs) + 1, sizeof(*x));
	json_object_foreach(xs, key, v)
	{
		size_t len = json_is_string(v) ? json_string_length(v) : 0;
		uint8_t *val;

		if (!json_is_string(v) || len > 2 * TREE_MAX_XATTR_VALUE)
			goto bad;
		val = xmalloc(KL_BASE64_DECODED_MAX(len));
		x[n] = (struct tree_xattr){.name = key, .name_len = strlen(key), .value = val};
		n++;
		if (kl_base64_decode(json_string_value(v), len, val, &x[n - 1].value_len) < 0)
			goto bad;
	}
	*ret = x;
	*ret_n = n;
	return 0;
bad:
	for (size_t i = 0; i < n; i++)
		free((void *)x[i].value);
	free(x);
	return kl_error_setf(err, EBADMSG, "layer %s: '%s': bad xattr value", source, name);
}

/* How a TOC's file ranges are spelled: zstd:chunked gives "endOffset"; eStargz gives only the
 * member's start, which ends where the next member with content starts (or at the TOC). */
struct toc_ctx {
	const char *blob_hex;
	const char *source;
	bool estargz;
	const uint64_t *starts; /* eStargz: sorted offsets of every member with content */
	size_t n_starts;
	uint64_t toc_off;
};

/* The smallest member start above off, or the TOC's offset. */
static uint64_t
next_start(const struct toc_ctx *c, uint64_t off)
{
	size_t lo = 0, hi = c->n_starts;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->starts[mid] <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < c->n_starts ? c->starts[lo] : c->toc_off;
}

/* The last member of the file whose "reg" entry is entries[i] (its "chunk" entries follow). */
static int64_t
last_chunk_offset(json_t *entries, size_t i, int64_t off)
{
	for (size_t j = i + 1; j < json_array_size(entries); j++) {
		json_t *o = json_array_get(entries, j);
		const char *t = str_field(o, "type");

		if (!t || strcmp(t, "chunk"))
			break;
		if (int_field(o, "offset") > off)
			off = int_field(o, "offset");
	}
	return off;
}

static int
toc_entry(struct imgsrc_diff *d, json_t *entries, size_t i, const struct toc_ctx *c,
          struct kl_error **err)
{
	json_t *o = json_array_get(entries, i);
	const char *blob_hex = c->blob_hex, *source = c->source;
	const char *name = str_field(o, "name"), *type = str_field(o, "type");
	const char *link = str_field(o, "linkName"), *mtime = str_field(o, "modtime");
	const char *digest = str_field(o, "digest");
	_cleanup_free_ char *locator = NULL;
	struct tree_xattr *x = NULL;
	struct tree_entry e = {0}, *added;
	int64_t size = int_field(o, "size"), off = int_field(o, "offset");
	int64_t end = int_field(o, "endOffset");
	size_t n_x = 0;
	int r;

	if (type && !strcmp(type, "chunk"))
		return 0; /* the file's "reg" entry spans all its chunks */
	if (c->estargz && name &&
	    (!strcmp(name, ".prefetch.landmark") || !strcmp(name, ".no.prefetch.landmark")))
		return 0; /* eStargz's prefetch markers are not part of the layer */
	if (!json_is_object(o) || !name || toc_type(type, &e.type) < 0)
		return kl_error_setf(err, EBADMSG,
		                     "layer %s: a TOC entry without a name or with an "
		                     "unknown type",
		                     source);
	e.mode = (uint32_t)int_field(o, "mode") & 07777;
	e.uid = (uint32_t)int_field(o, "uid");
	e.gid = (uint32_t)int_field(o, "gid");
	if (mtime && parse_time(mtime, &e.mtime_sec, &e.mtime_nsec) < 0)
		return kl_error_setf(err, EBADMSG, "layer %s: '%s': bad modtime '%s'", source, name,
		                     mtime);
	if (e.type == TREE_CHAR || e.type == TREE_BLOCK)
		e.rdev =
		    makedev((unsigned)int_field(o, "devMajor"), (unsigned)int_field(o, "devMinor"));
	if (e.type == TREE_SYMLINK) {
		e.link = link;
		e.link_len = link ? strlen(link) : 0;
	}
	if (e.type == TREE_REG) {
		if (size < 0 || (uint64_t)size > IMGSRC_MAX_FILE_SIZE)
			return kl_error_setf(err, EFBIG,
			                     "layer %s: '%s' has an absurd size %" PRId64, source,
			                     name, size);
		e.size = (uint64_t)size;
	}
	if (e.type == TREE_REG && size > 0) {
		if (c->estargz && off > 0 && (uint64_t)off < c->toc_off)
			end = (int64_t)next_start(c, (uint64_t)last_chunk_offset(entries, i, off));
		if (!digest || digest_parse(digest, strlen(digest), &e.digest, NULL) < 0 ||
		    off < 0 || end <= off)
			return kl_error_setf(err, EBADMSG,
			                     "layer %s: '%s': TOC entry lacks a digest "
			                     "or a byte range",
			                     source, name);
		e.flags |= TREE_ENTRY_HAS_DIGEST;
		if (c->estargz)
			locator =
			    xasprintf("layer:%s:gz:%" PRId64 ":%" PRId64, blob_hex, off, end - off);
		else
			locator =
			    xasprintf("layer:%s:%" PRId64 ":%" PRId64, blob_hex, off, end - off);
		e.locator = locator;
		e.locator_len = strlen(locator);
	}
	r = toc_xattrs(o, source, name, &x, &n_x, err);
	if (r < 0)
		return r;
	r = imgsrc_diff_add(d, name, e.type == TREE_HARDLINK ? (link ? link : "") : NULL, &e, x,
	                    n_x, &added, err);
	for (size_t k = 0; k < n_x; k++)
		free((void *)x[k].value);
	free(x);
	return r;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* eStargz: every member start with content, sorted, for next_start(). */
static void
collect_starts(json_t *entries, struct toc_ctx *c, uint64_t **ret)
{
	uint64_t *starts = xcalloc(json_array_size(entries) + 1, sizeof(*starts));
	size_t n = 0;

	for (size_t i = 0; i < json_array_size(entries); i++) {
		json_t *o = json_array_get(entries, i);
		const char *t = str_field(o, "type");
		int64_t off = int_field(o, "offset");

		if (t && (!strcmp(t, "reg") || !strcmp(t, "chunk")) && off > 0 &&
		    (uint64_t)off < c->toc_off)
			starts[n++] = (uint64_t)off;
	}
	qsort(starts, n, sizeof(*starts), cmp_u64);
	c->starts = starts;
	c->n_starts = n;
	*ret = starts;
}

static int
layer_from_toc(struct store *s, const char *toc, size_t len, const struct digest *blob,
               bool estargz, uint64_t toc_off, const char *source, struct digest *ret,
               struct kl_error **err)
{
	_cleanup_free_ uint64_t *starts = NULL;
	char hex[DIGEST_HEX_LEN + 1];
	struct toc_ctx c = {
	    .blob_hex = hex, .source = source, .estargz = estargz, .toc_off = toc_off};
	json_auto_t *j = NULL;
	struct imgsrc_diff *d;
	json_error_t je;
	json_t *entries;
	int r = 0;

	if (len > IMGSRC_MAX_TOC_SIZE)
		return kl_error_setf(err, EFBIG, "layer %s: table of contents larger than %u bytes",
		                     source, IMGSRC_MAX_TOC_SIZE);
	j = json_loadb(toc, len, 0, &je);
	if (!j)
		return kl_error_setf(err, EBADMSG,
		                     "layer %s: table of contents: malformed JSON at "
		                     "%d:%d: %s",
		                     source, je.line, je.column, je.text);
	entries = json_object_get(j, "entries");
	if (!json_is_array(entries) || json_array_size(entries) > IMGSRC_MAX_LAYER_ENTRIES)
		return kl_error_setf(err, EBADMSG,
		                     "layer %s: table of contents without entries or "
		                     "with more than %u",
		                     source, IMGSRC_MAX_LAYER_ENTRIES);
	digest_to_hex(blob, hex);
	if (estargz)
		collect_starts(entries, &c, &starts);
	d = imgsrc_diff_new(s, source);
	for (size_t i = 0; r >= 0 && i < json_array_size(entries); i++)
		r = toc_entry(d, entries, i, &c, err);
	if (r >= 0)
		r = imgsrc_diff_finish(d, ret, err);
	imgsrc_diff_free(d);
	return r;
}

int
imgsrc_layer_from_toc(struct store *s, const char *toc, size_t len, const struct digest *blob,
                      const char *source, struct digest *ret, struct kl_error **err)
{
	return layer_from_toc(s, toc, len, blob, false, 0, source, ret, err);
}

int
imgsrc_layer_from_estargz_toc(struct store *s, const char *toc, size_t len,
                              const struct digest *blob, uint64_t toc_off, const char *source,
                              struct digest *ret, struct kl_error **err)
{
	return layer_from_toc(s, toc, len, blob, true, toc_off, source, ret, err);
}

/* eStargz: the footer, the TOC member, and the TOC digests of a manifest's layers. */

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

static int
error_from_zlib(struct kl_error **err, int code, const z_stream *z, const char *what)
{
	return kl_error_setf(err, EBADMSG, "%s: %s", what,
	                     z->msg                ? z->msg
	                     : code == Z_BUF_ERROR ? "truncated"
	                                           : "corrupt");
}

/* Inflates the TOC's gzip member(s) into at most IMGSRC_MAX_TOC_SIZE + one tar header. */
static int
gunzip_toc(const void *buf, size_t len, char **ret, size_t *ret_len, struct kl_error **err)
{
	size_t cap = IMGSRC_MAX_TOC_SIZE + 1024;
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
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	for (;;) {
		zr = inflate(&z, Z_NO_FLUSH);
		if (zr == Z_STREAM_END && z.avail_in && z.avail_out) {
			inflateReset(&z); /* the tar's end may sit in a member of its own */
			continue;
		}
		break;
	}
	if (zr == Z_OK && !z.avail_out) {
		inflateEnd(&z);
		return kl_error_setf(err, EFBIG, "table of contents larger than %u bytes",
		                     IMGSRC_MAX_TOC_SIZE);
	}
	if (zr != Z_STREAM_END) {
		int r = error_from_zlib(err, zr, &z, "decompressing the table of contents");

		inflateEnd(&z);
		return r;
	}
	*ret_len = cap - z.avail_out;
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
		const char *v = str_field(a, OCI_ANN_ESTARGZ_TOC);

		if (v && strlen(v) <= OCI_MAX_ANNOTATION)
			out[i] = xstrdup(v);
	}
	*ret = out;
	return 0;
}

/* The "layer" provider. */

struct provider_data {
	struct store *store;
	char *auth_file; /* a Docker config.json for registry reads, or NULL */
	/* registry_options.timeout_ms of those reads */
	unsigned timeout_ms;
};

/* One file's decoder: zstd frames or gzip members, writing at most want bytes (an eStargz
 * member runs on into the tar padding and the next headers: that tail is dropped). */
struct unzstd {
	bool gz;
	ZSTD_DStream *z;
	z_stream zs;
	bool zs_end;
	struct store_writer *w;
	uint64_t want, got;
	char *out;
	size_t out_size;
	int error;
	size_t zerr;
	int gzerr;
};

static int
gunzip_feed(struct unzstd *u, const void *buf, size_t n)
{
	u->zs.next_in = (Bytef *)buf;
	u->zs.avail_in = (uInt)n;
	while (u->zs.avail_in && u->got < u->want) {
		uint64_t left = u->want - u->got;
		size_t room = left < u->out_size ? (size_t)left : u->out_size;
		int zr, w;

		if (u->zs_end) {
			inflateReset(&u->zs); /* a file split into chunks: one member per chunk */
			u->zs_end = false;
		}
		u->zs.next_out = (Bytef *)u->out;
		u->zs.avail_out = (uInt)room;
		zr = inflate(&u->zs, Z_NO_FLUSH);
		if (zr == Z_STREAM_END)
			u->zs_end = true;
		else if (zr != Z_OK && !(zr == Z_BUF_ERROR && !u->zs.avail_in)) {
			u->gzerr = zr;
			return -EBADMSG;
		}
		u->got += room - u->zs.avail_out;
		w = store_writer_write(u->w, u->out, room - u->zs.avail_out, NULL);
		if (w < 0)
			return w;
	}
	return 0;
}

static int
unzstd_feed(const void *buf, size_t n, void *userdata)
{
	struct unzstd *u = userdata;
	ZSTD_inBuffer in = {buf, n, 0};

	if (u->gz)
		return gunzip_feed(u, buf, n);
	while (in.pos < in.size) {
		ZSTD_outBuffer out = {u->out, u->out_size, 0};
		size_t r = ZSTD_decompressStream(u->z, &out, &in);
		int w;

		if (ZSTD_isError(r)) {
			u->zerr = r;
			return -EBADMSG;
		}
		if (u->got + out.pos > u->want)
			return -EFBIG;
		u->got += out.pos;
		w = store_writer_write(u->w, u->out, out.pos, NULL);
		if (w < 0)
			return w;
	}
	return 0;
}

/* Parses "layer:<hex>:<off>:<len>" (zstd) or "layer:<hex>:gz:<off>:<len>" (eStargz). */
static int
parse_locator(const struct provider_request *req, struct digest *ret_blob, bool *ret_gz,
              uint64_t *ret_off, uint64_t *ret_len)
{
	_cleanup_free_ char *s = xstrndup(req->locator, req->locator_len);
	_cleanup_free_ char *d = NULL;
	char hex[DIGEST_HEX_LEN + 1];
	unsigned long long off, len;
	bool gz = false;
	int n = 0;

	if (sscanf(s, "layer:%64[0-9a-f]:gz:%llu:%llu%n", hex, &off, &len, &n) == 3 && !s[n])
		gz = true;
	else if (n = 0,
	         sscanf(s, "layer:%64[0-9a-f]:%llu:%llu%n", hex, &off, &len, &n) != 3 || s[n])
		return -EINVAL;
	if (strlen(hex) != DIGEST_HEX_LEN || len == 0 || off > UINT64_MAX - len)
		return -EINVAL;
	d = xasprintf("sha256:%s", hex);
	if (digest_parse(d, strlen(d), ret_blob, NULL) < 0)
		return -EINVAL;
	*ret_gz = gz;
	*ret_off = off;
	*ret_len = len;
	return 0;
}

/* Reads [off, off+len) of a local file (a store blob or a layout blob) into fn. */
static int
read_local_range(int fd, uint64_t off, uint64_t len, registry_data_fn fn, void *userdata)
{
	_cleanup_free_ char *buf = xmalloc(1u << 16);

	while (len) {
		size_t want = len < (1u << 16) ? (size_t)len : (1u << 16);
		ssize_t n = kl_io_pread_full(fd, buf, want, (off_t)off);
		int r;

		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO;
		r = fn(buf, (size_t)n, userdata);
		if (r < 0)
			return r;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

/* Fetches the range from where the blob came from: the store when the whole blob is there,
 * else the origin recorded at resolve time ("oci-layout DIR" or "SCHEME HOST REPOSITORY"). */
static int
fetch_range(struct provider_data *pd, const struct digest *blob, uint64_t off, uint64_t len,
            struct unzstd *u, struct kl_error **err)
{
	_cleanup_free_ char *origin = NULL;
	_cleanup_(registry_freep) struct registry *reg = NULL;
	char id[DIGEST_STRING_SIZE];
	char scheme[16], host[1024], *repo;
	_cleanup_close_ int fd = store_open_blob(pd->store, blob, NULL);
	int r;

	if (fd >= 0)
		return read_local_range(fd, off, len, unzstd_feed, u);
	if (imgsrc_record_read(pd->store, "origins", blob, &origin) < 0)
		return kl_error_setf(err, ENOENT, "layer %s: no record of where it came from",
		                     digest_to_string(blob, id));
	if (!strncmp(origin, "oci-layout ", 11)) {
		fd = oci_layout_open_blob(origin + 11, blob, err);
		if (fd < 0)
			return fd;
		return read_local_range(fd, off, len, unzstd_feed, u);
	}
	repo = strchr(origin, '\n');
	if (repo)
		*repo = '\0';
	if (sscanf(origin, "%15s %1023s", scheme, host) != 2 || !(repo = strrchr(origin, ' ')))
		return kl_error_setf(err, EBADMSG, "layer %s: bad origin record",
		                     digest_to_string(blob, id));
	{
		const char *insecure[] = {host};
		struct registry_options o = {.insecure_hosts = insecure,
		                             .n_insecure_hosts = !strcmp(scheme, "http") ? 1 : 0,
		                             .auth_file = pd->auth_file,
		                             .timeout_ms = pd->timeout_ms};

		r = registry_new(host, repo + 1, &o, &reg, err);
	}
	if (r < 0)
		return r;
	return registry_get_range(reg, blob, off, len, unzstd_feed, u, err);
}

static int
layer_fetch(void *data, const struct provider_request *req, struct store_writer *w,
            struct kl_error **err)
{
	struct provider_data *pd = data;
	struct unzstd u = {.w = w, .want = req->size, .out_size = ZSTD_DStreamOutSize()};
	struct digest blob;
	uint64_t off, len;
	int r;

	if (parse_locator(req, &blob, &u.gz, &off, &len) < 0)
		return kl_error_setf(err, EINVAL, "bad layer locator '%.*s'", (int)req->locator_len,
		                     req->locator);
	if (u.gz ? inflateInit2(&u.zs, 16 + MAX_WBITS) != Z_OK : !(u.z = ZSTD_createDStream()))
		return kl_error_setf(err, ENOMEM, "creating a %s stream", u.gz ? "zlib" : "zstd");
	u.out = xmalloc(u.out_size);
	r = fetch_range(pd, &blob, off, len, &u, err);
	if (r >= 0 && u.got != u.want)
		r = kl_error_setf(err, EBADMSG,
		                  "'%s': %" PRIu64 " bytes in its %s, expected %" PRIu64,
		                  req->path ? req->path : "file", u.got,
		                  u.gz ? "gzip members" : "frames", u.want);
	if (r == -EBADMSG && u.zerr)
		r = error_from_zstd(err, u.zerr, "decompressing a file of a zstd:chunked layer");
	if (r == -EBADMSG && u.gzerr)
		r = error_from_zlib(err, u.gzerr, &u.zs,
		                    "decompressing a file of an eStargz layer");
	if (u.gz)
		inflateEnd(&u.zs);
	else
		ZSTD_freeDStream(u.z);
	free(u.out);
	kl_debug("layer provider: %s %" PRIu64 "+%" PRIu64 ": %d", req->path ? req->path : "?", off,
	         len, r);
	return r < 0 ? r : 0;
}

static void
layer_free(void *data)
{
	struct provider_data *pd = data;

	store_unref(pd->store);
	free(pd->auth_file);
	free(pd);
}

static const struct provider_ops layer_ops = {
    .scheme = "layer",
    .fetch = layer_fetch,
    .free = layer_free,
};

void
imgsrc_add_provider(struct provider_set *ps, struct store *s, const struct source_options *opts)
{
	struct provider_data *pd = xcalloc(1, sizeof(*pd));

	pd->store = store_ref(s);
	pd->auth_file = opts && opts->auth_file ? xstrdup(opts->auth_file) : NULL;
	pd->timeout_ms = opts ? opts->registry_timeout_ms : 0;
	provider_set_add(ps, &layer_ops, pd);
}
