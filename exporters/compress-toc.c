// SPDX-License-Identifier: Apache-2.0
/* Tables of contents of zstd:chunked and eStargz layers: the entries as the tar says them, with
 * the offsets of the frames or members that hold each file, in the JSON of containers/storage
 * (minimal.FileMetadata) or of stargz-snapshotter (estargz.TOCEntry). */
#include "exporters/compress-toc-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exporters/compress-internal.h"
#include "fs/tree.h"
#include "util/base64.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

struct toc_xattr {
	uint64_t name, value; /* in the arena */
	uint32_t name_len, value_len;
};

struct toc_entry {
	uint64_t name, link; /* in the arena */
	uint32_t name_len, link_len;
	char type;
	bool has_digest;
	uint32_t mode, uid, gid, mtime_nsec, devmajor, devminor;
	int64_t mtime_sec;
	uint64_t size, end_offset;
	uint32_t xattr_first, n_xattrs;
	uint32_t chunk_first, n_chunks;
	struct digest digest;
};

struct compress_toc {
	struct toc_entry *entries;
	size_t n_entries, entries_cap;
	struct compress_toc_chunk *chunks;
	size_t n_chunks, chunks_cap;
	struct toc_xattr *xattrs;
	size_t n_xattrs, xattrs_cap;
	char *arena;
	size_t arena_len, arena_cap;
};

struct compress_toc *
compress_toc_new(void)
{
	return xcalloc(1, sizeof(struct compress_toc));
}

struct compress_toc *
compress_toc_free(struct compress_toc *t)
{
	if (t) {
		free(t->entries);
		free(t->chunks);
		free(t->xattrs);
		free(t->arena);
		free(t);
	}
	return NULL;
}

static uint64_t
arena_add(struct compress_toc *t, const void *p, size_t n)
{
	uint64_t off = t->arena_len;

	t->arena = xgrow(t->arena, &t->arena_cap, t->arena_len + n + 1, 1);
	if (n)
		memcpy(t->arena + off, p, n);
	t->arena[off + n] = '\0';
	t->arena_len += n + 1;
	return off;
}

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF), no NUL. */
static bool
utf8_valid(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t len;
		uint32_t cp;

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			len = 2, cp = c & 0x1f;
		else if ((c & 0xf0) == 0xe0)
			len = 3, cp = c & 0x0f;
		else if ((c & 0xf8) == 0xf0)
			len = 4, cp = c & 0x07;
		else
			return false;
		if (i + len > n)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

int
compress_toc_add(struct compress_toc *t, const struct compress_entry *e, size_t *ret_index,
                 struct kl_error **err)
{
	struct toc_entry *x;

	if (!utf8_valid((const unsigned char *)e->name, e->name_len) ||
	    (e->link && !utf8_valid((const unsigned char *)e->link, e->link_len)))
		return kl_error_setf(err, EINVAL,
		                     "'%.*s': a name that is not UTF-8 cannot be listed in a table "
		                     "of contents (JSON); use gzip or zstd",
		                     (int)e->name_len, e->name);
	for (size_t i = 0; i < e->n_xattrs; i++)
		if (!utf8_valid((const unsigned char *)e->xattrs[i].name, e->xattrs[i].name_len))
			return kl_error_setf(err, EINVAL,
			                     "'%.*s': xattr names must be UTF-8 in a table of "
			                     "contents",
			                     (int)e->name_len, e->name);
	t->entries = xgrow(t->entries, &t->entries_cap, t->n_entries + 1, sizeof(*t->entries));
	x = &t->entries[t->n_entries];
	*x = (struct toc_entry){
	    .name_len = (uint32_t)e->name_len,
	    .link_len = (uint32_t)e->link_len,
	    .type = e->type,
	    .mode = e->mode,
	    .uid = e->uid,
	    .gid = e->gid,
	    .mtime_sec = e->mtime_sec,
	    .mtime_nsec = e->mtime_nsec,
	    .devmajor = e->devmajor,
	    .devminor = e->devminor,
	    .size = e->size,
	    .xattr_first = (uint32_t)t->n_xattrs,
	    .n_xattrs = (uint32_t)e->n_xattrs,
	};
	x->name = arena_add(t, e->name, e->name_len);
	x = &t->entries[t->n_entries];
	if (e->link) {
		uint64_t off = arena_add(t, e->link, e->link_len);

		t->entries[t->n_entries].link = off;
	}
	t->xattrs = xgrow(t->xattrs, &t->xattrs_cap, t->n_xattrs + e->n_xattrs, sizeof(*t->xattrs));
	for (size_t i = 0; i < e->n_xattrs; i++) {
		struct toc_xattr tx = {.name_len = (uint32_t)e->xattrs[i].name_len,
		                       .value_len = (uint32_t)e->xattrs[i].value_len};

		tx.name = arena_add(t, e->xattrs[i].name, e->xattrs[i].name_len);
		tx.value = arena_add(t, e->xattrs[i].value, e->xattrs[i].value_len);
		t->xattrs[t->n_xattrs++] = tx;
	}
	*ret_index = t->n_entries++;
	return 0;
}

void
compress_toc_set_digest(struct compress_toc *t, size_t i, const struct digest *d)
{
	t->entries[i].digest = *d;
	t->entries[i].has_digest = true;
}

void
compress_toc_set_end(struct compress_toc *t, size_t i, uint64_t end_offset)
{
	t->entries[i].end_offset = end_offset;
}

void
compress_toc_add_chunk(struct compress_toc *t, size_t i, uint64_t start, uint64_t size)
{
	struct toc_entry *x = &t->entries[i];

	if (!x->n_chunks)
		x->chunk_first = (uint32_t)t->n_chunks;
	t->chunks = xgrow(t->chunks, &t->chunks_cap, t->n_chunks + 1, sizeof(*t->chunks));
	t->chunks[t->n_chunks++] = (struct compress_toc_chunk){.start = start, .size = size};
	x->n_chunks++;
}

void
compress_toc_chunk_offset(struct compress_toc *t, size_t i, size_t n, uint64_t offset)
{
	t->chunks[t->entries[i].chunk_first + n].offset = offset;
}

void
compress_toc_chunk_digest(struct compress_toc *t, size_t i, size_t n, const struct digest *d)
{
	t->chunks[t->entries[i].chunk_first + n].digest = *d;
}

static const char *
type_name(char type)
{
	switch (type) {
	case COMPRESS_TAR_REG:
		return "reg";
	case COMPRESS_TAR_LINK:
		return "hardlink";
	case COMPRESS_TAR_SYMLINK:
		return "symlink";
	case COMPRESS_TAR_CHAR:
		return "char";
	case COMPRESS_TAR_BLOCK:
		return "block";
	case COMPRESS_TAR_DIR:
		return "dir";
	default:
		return "fifo";
	}
}

/* RFC 3339 in UTC, with the fraction Go's RFC3339Nano gives (trailing zeros dropped); -EINVAL
 * for a year JSON times cannot hold. */
static int
format_time(int64_t sec, uint32_t nsec, char out[48])
{
	time_t t = (time_t)sec;
	struct tm tm;
	size_t n;

	if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
		return -EINVAL;
	n = strftime(out, 48, "%Y-%m-%dT%H:%M:%S", &tm);
	if (nsec) {
		n += (size_t)snprintf(out + n, 48 - n, ".%09" PRIu32, nsec);
		while (out[n - 1] == '0')
			n--;
	}
	out[n++] = 'Z';
	out[n] = '\0';
	return 0;
}

static void
set_int(json_t *o, const char *key, int64_t v)
{
	if (v) /* Go's omitempty */
		json_object_set_new(o, key, json_integer((json_int_t)v));
}

static void
set_str(json_t *o, const char *key, const char *s, size_t n)
{
	json_object_set_new(o, key, json_stringn_nocheck(s, n));
}

static void
set_digest(json_t *o, const char *key, const struct digest *d)
{
	char s[DIGEST_STRING_SIZE];

	json_object_set_new(o, key, json_string(digest_to_string(d, s)));
}

static void
set_xattrs(const struct compress_toc *t, const struct toc_entry *x, json_t *o)
{
	json_t *xs;

	if (!x->n_xattrs)
		return;
	xs = json_object();
	for (uint32_t i = 0; i < x->n_xattrs; i++) {
		const struct toc_xattr *tx = &t->xattrs[x->xattr_first + i];
		_cleanup_free_ char *v = kl_base64_encode(t->arena + tx->value, tx->value_len);

		json_object_setn_new_nocheck(xs, t->arena + tx->name, tx->name_len, json_string(v));
	}
	json_object_set_new(o, "xattrs", xs);
}

/* containers/storage's minimal.FileMetadata, fields in its order. */
static json_t *
chunked_entry(const struct compress_toc *t, const struct toc_entry *x, const char *mtime)
{
	json_t *o = json_object();
	const struct compress_toc_chunk *c = x->n_chunks ? &t->chunks[x->chunk_first] : NULL;

	json_object_set_new(o, "type", json_string(type_name(x->type)));
	set_str(o, "name", t->arena + x->name, x->name_len);
	if (x->link_len)
		set_str(o, "linkName", t->arena + x->link, x->link_len);
	set_int(o, "mode", x->mode);
	set_int(o, "size", (int64_t)x->size);
	set_int(o, "uid", x->uid);
	set_int(o, "gid", x->gid);
	json_object_set_new(o, "modtime", json_string(mtime));
	set_int(o, "devMajor", x->devmajor);
	set_int(o, "devMinor", x->devminor);
	set_xattrs(t, x, o);
	if (x->has_digest)
		set_digest(o, "digest", &x->digest);
	if (c) {
		set_int(o, "offset", (int64_t)c->offset);
		set_int(o, "endOffset", (int64_t)x->end_offset);
	}
	if (c && x->n_chunks > 1) {
		set_int(o, "chunkSize", (int64_t)c->size);
		set_digest(o, "chunkDigest", &c->digest);
	}
	return o;
}

static json_t *
chunked_chunk(const struct compress_toc *t, const struct toc_entry *x,
              const struct compress_toc_chunk *c)
{
	json_t *o = json_object();

	json_object_set_new(o, "type", json_string("chunk"));
	set_str(o, "name", t->arena + x->name, x->name_len);
	set_int(o, "offset", (int64_t)c->offset);
	set_int(o, "chunkSize", (int64_t)c->size);
	set_int(o, "chunkOffset", (int64_t)c->start);
	set_digest(o, "chunkDigest", &c->digest);
	return o;
}

/* stargz-snapshotter's estargz.TOCEntry, fields in its order; chunk is the file's chunk this
 * entry stands for (NULL for entries without contents). */
static json_t *
estargz_entry(const struct compress_toc *t, const struct toc_entry *x, const char *mtime,
              const struct compress_toc_chunk *c)
{
	json_t *o = json_object();
	bool first = !c || c == &t->chunks[x->chunk_first];

	set_str(o, "name", t->arena + x->name, x->name_len);
	json_object_set_new(o, "type", json_string(first ? type_name(x->type) : "chunk"));
	if (first) {
		set_int(o, "size", (int64_t)x->size);
		json_object_set_new(o, "modtime", json_string(mtime));
		if (x->link_len)
			set_str(o, "linkName", t->arena + x->link, x->link_len);
		set_int(o, "mode", x->mode);
		set_int(o, "uid", x->uid);
		set_int(o, "gid", x->gid);
	}
	if (c)
		set_int(o, "offset", (int64_t)c->offset);
	if (first) {
		set_int(o, "devMajor", x->devmajor);
		set_int(o, "devMinor", x->devminor);
		set_xattrs(t, x, o);
		if (x->has_digest)
			set_digest(o, "digest", &x->digest);
	}
	if (c) {
		set_int(o, "chunkOffset", (int64_t)c->start);
		/* eStargz gives the size of full chunks only: the last runs to the file's end */
		if (c->size == COMPRESS_CHUNK_SIZE)
			set_int(o, "chunkSize", (int64_t)c->size);
		set_digest(o, "chunkDigest", &c->digest);
	}
	return o;
}

int
compress_toc_json(const struct compress_toc *t, enum compress_toc_style style,
                  const char *tar_split_digest, char **ret, size_t *ret_len, struct kl_error **err)
{
	json_auto_t *root = json_object();
	json_t *entries = json_array();
	char *s;

	json_object_set_new(root, "version", json_integer(1));
	json_object_set_new(root, "entries", entries);
	for (size_t i = 0; i < t->n_entries; i++) {
		const struct toc_entry *x = &t->entries[i];
		char mtime[48];

		if (format_time(x->mtime_sec, x->mtime_nsec, mtime) < 0)
			return kl_error_setf(err, EINVAL,
			                     "'%s': mtime %" PRId64 " is past what a table of "
			                     "contents can say (years 0 to 9999)",
			                     t->arena + x->name, x->mtime_sec);
		if (style == COMPRESS_TOC_ESTARGZ) {
			if (!x->n_chunks)
				json_array_append_new(entries, estargz_entry(t, x, mtime, NULL));
			for (uint32_t k = 0; k < x->n_chunks; k++)
				json_array_append_new(
				    entries,
				    estargz_entry(t, x, mtime, &t->chunks[x->chunk_first + k]));
			continue;
		}
		json_array_append_new(entries, chunked_entry(t, x, mtime));
		for (uint32_t k = 1; k < x->n_chunks; k++)
			json_array_append_new(entries,
			                      chunked_chunk(t, x, &t->chunks[x->chunk_first + k]));
	}
	if (tar_split_digest)
		json_object_set_new(root, "tarSplitDigest", json_string(tar_split_digest));
	s = json_dumps(root, JSON_COMPACT);
	if (!s)
		return kl_error_setf(err, ENOMEM, "writing the table of contents");
	*ret_len = strlen(s);
	*ret = s;
	return 0;
}
