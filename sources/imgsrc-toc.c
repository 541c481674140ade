// SPDX-License-Identifier: Apache-2.0
/* Tables of contents → diff trees: the JSON form zstd:chunked and eStargz share ("entries" of
 * name, type, mode, owner, modtime, size, digest, offsets, xattrs), each file behind a locator of
 * its compressed bytes in the layer blob. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "fs/store.h"
#include "fs/tree.h"
#include "sources/imgsrc-internal.h"
#include "util/base64.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

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
	struct tree_entry e = {0};
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
	                    n_x, /* content= */ NULL, NULL, err);
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

int
imgsrc_toc_parse(const char *toc, size_t len, const struct digest *blob, bool estargz,
                 uint64_t toc_off, const char *source, struct tree_builder **ret,
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
		                     "layer %s: table of contents: malformed JSON at %d:%d: %s",
		                     source, je.line, je.column, je.text);
	entries = json_object_get(j, "entries");
	if (!json_is_array(entries) || json_array_size(entries) > IMGSRC_MAX_LAYER_ENTRIES)
		return kl_error_setf(err, EBADMSG,
		                     "layer %s: table of contents without entries or with more "
		                     "than %u",
		                     source, IMGSRC_MAX_LAYER_ENTRIES);
	digest_to_hex(blob, hex);
	if (estargz)
		collect_starts(entries, &c, &starts);
	d = imgsrc_diff_new(/* s= */ NULL, source);
	for (size_t i = 0; r >= 0 && i < json_array_size(entries); i++)
		r = toc_entry(d, entries, i, &c, err);
	if (r >= 0)
		r = imgsrc_diff_finish(d, ret, err);
	imgsrc_diff_free(d);
	return r;
}

static int
layer_from_toc(struct store *s, const char *toc, size_t len, const struct digest *blob,
               bool estargz, uint64_t toc_off, const char *source, struct digest *ret,
               struct kl_error **err)
{
	_cleanup_(tree_builder_freep) struct tree_builder *b = NULL;
	int r;

	r = imgsrc_toc_parse(toc, len, blob, estargz, toc_off, source, &b, err);
	if (r < 0)
		return r;
	r = tree_builder_write(b, s, ret, err);
	if (r < 0)
		kl_error_prefix(err, "layer %s", source);
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
