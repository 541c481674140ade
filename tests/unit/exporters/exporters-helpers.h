/* exporters-helpers — what the exporters' unit tests share: a store in a temp dir, a diff tree
 * with every kind of entry, exports, and decompression of what they wrote. */
#pragma once
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <zlib.h>
#include <zstd.h>

#include "../test-helpers.h"
#include "exporters/layer.h"
#include "fs/provider.h"
#include "fs/store.h"
#include "fs/tree.h"
#include "util/error.h"
#include "util/xalloc.h"

struct fx {
	char *dir;
	struct store *s;
	struct provider_set *ps;
};

static inline void
fx_open(struct fx *f)
{
	struct store_options o = {.flags = STORE_NO_SYNC};
	struct kl_error *err = NULL;

	f->dir = test_tmpdir();
	assert_int_equal(store_open(f->dir, &o, &f->s, &err), 0);
	f->ps = provider_set_new(f->s);
}

static inline void
fx_close(struct fx *f)
{
	provider_set_free(f->ps);
	store_unref(f->s);
	test_rmdir(f->dir);
}

static inline void
fx_add(struct tree_builder *b, const struct tree_entry *e, const struct tree_xattr *x, size_t nx)
{
	struct kl_error *err = NULL;

	if (tree_builder_add(b, e, x, nx, &err) < 0)
		fail_msg("adding '%s': %s", e->path, err->msg);
}

/* A regular file whose bytes are in the store. */
static inline void
fx_file(struct fx *f, struct tree_builder *b, const char *path, const void *data, size_t n,
        uint32_t mode, const struct tree_xattr *x, size_t nx)
{
	struct tree_entry e = {.path = path,
	                       .path_len = strlen(path),
	                       .type = TREE_REG,
	                       .mode = mode,
	                       .mtime_sec = 1700000000,
	                       .size = n};

	if (n) {
		assert_int_equal(store_ingest_buffer(f->s, data, n, &e.digest, NULL), 0);
		e.flags = TREE_ENTRY_HAS_DIGEST;
	}
	fx_add(b, &e, x, nx);
}

static inline void
fx_release(void *buf, size_t len)
{
	(void)len;
	free(buf);
}

static inline struct tree *
fx_finish(struct tree_builder *b)
{
	struct kl_error *err = NULL;
	struct tree *t = NULL;
	char *buf;
	size_t len;

	assert_int_equal(tree_builder_serialize(b, &buf, &len, &err), 0);
	assert_int_equal(tree_parse(buf, len, fx_release, &t, &err), 0);
	tree_builder_free(b);
	return t;
}

/* Bytes that compress somewhat, the same every run. */
static inline char *
fx_bytes(size_t n, uint32_t seed)
{
	char *p = xmalloc(n ? n : 1);
	uint32_t x = seed ? seed : 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = "abcdefgh \n"[x % 10];
	}
	return p;
}

#define FX_BIG_SIZE ((5u << 20) + 123) /* two chunks of a TOC format */
#define FX_LONG_COMPONENT 150
#define FX_EPOCH_BEFORE 1650000000

/* A diff tree with every kind of entry the tar writer knows: a directory with owner and mode, a
 * file with a sub-second mtime and xattrs, a hardlink that sorts before its target (a big uid),
 * a big file, devices, a fifo, an opaque directory, a whiteout, an empty file, a name longer
 * than 100 bytes without a place to split and a path longer than 255, a symlink, a non-ASCII
 * name. Paths are listed in fx_expected below. */
static inline struct tree *
fx_every_kind(struct fx *f)
{
	static const struct tree_xattr x[] = {{"security.capability", 19, "\x01\x00\x00\x02", 4},
	                                      {"user.k", 6, "v\0x", 3}};
	struct tree_builder *b = tree_builder_new();
	struct tree_entry e;
	char *big = fx_bytes(FX_BIG_SIZE, 7), path[512];

	e = (struct tree_entry){.path = "a",
	                        .path_len = 1,
	                        .type = TREE_DIR,
	                        .mode = 0750,
	                        .uid = 1,
	                        .gid = 2,
	                        .mtime_sec = 1600000000};
	fx_add(b, &e, NULL, 0);
	e = (struct tree_entry){.path = "a/file",
	                        .path_len = 6,
	                        .type = TREE_REG,
	                        .mode = 0644,
	                        .mtime_sec = 1700000000,
	                        .mtime_nsec = 500000000,
	                        .size = 6,
	                        .flags = TREE_ENTRY_HAS_DIGEST};
	assert_int_equal(store_ingest_buffer(f->s, "hello\n", 6, &e.digest, NULL), 0);
	fx_add(b, &e, x, 2);
	e = (struct tree_entry){.path = "a/link",
	                        .path_len = 6,
	                        .type = TREE_HARDLINK,
	                        .mode = 0600,
	                        .uid = 3000000,
	                        .link = "b/target",
	                        .link_len = 8,
	                        .mtime_sec = 1700000000};
	fx_add(b, &e, NULL, 0);
	e = (struct tree_entry){.path = "b/target",
	                        .path_len = 8,
	                        .type = TREE_REG,
	                        .mode = 0600,
	                        .uid = 3000000,
	                        .mtime_sec = 1700000000,
	                        .size = 7,
	                        .flags = TREE_ENTRY_HAS_DIGEST};
	assert_int_equal(store_ingest_buffer(f->s, "shared\n", 7, &e.digest, NULL), 0);
	fx_add(b, &e, NULL, 0);
	fx_file(f, b, "big", big, FX_BIG_SIZE, 0644, NULL, 0);
	e = (struct tree_entry){.path = "c/blk",
	                        .path_len = 5,
	                        .type = TREE_BLOCK,
	                        .mode = 0660,
	                        .rdev = makedev(7, 200),
	                        .mtime_sec = 1700000000};
	fx_add(b, &e, NULL, 0);
	e = (struct tree_entry){.path = "c/chr",
	                        .path_len = 5,
	                        .type = TREE_CHAR,
	                        .mode = 0666,
	                        .rdev = makedev(1, 3),
	                        .mtime_sec = 1700000000};
	fx_add(b, &e, NULL, 0);
	e = (struct tree_entry){.path = "c/fifo",
	                        .path_len = 6,
	                        .type = TREE_FIFO,
	                        .mode = 0644,
	                        .mtime_sec = 1700000000};
	fx_add(b, &e, NULL, 0);
	e = (struct tree_entry){.path = "d",
	                        .path_len = 1,
	                        .type = TREE_DIR,
	                        .mode = 0755,
	                        .flags = TREE_ENTRY_OPAQUE,
	                        .mtime_sec = 1700000000};
	fx_add(b, &e, NULL, 0);
	fx_file(f, b, "d/x", "x", 1, 0644, NULL, 0);
	e = (struct tree_entry){.path = "e/gone", .path_len = 6, .type = TREE_WHITEOUT};
	fx_add(b, &e, NULL, 0);
	fx_file(f, b, "empty", "", 0, 0644, NULL, 0);
	memcpy(path, "l/", 2);
	memset(path + 2, 'n', FX_LONG_COMPONENT);
	strcpy(path + 2 + FX_LONG_COMPONENT, "/f");
	fx_file(f, b, path, "long\n", 5, 0644, NULL, 0);
	strcpy(path, "m");
	for (int i = 0; i < 5; i++)
		strcat(path, "/sssssssssssssssssssssssssssssssssssssssssssssssssssssssssss");
	strcat(path, "/leaf");
	fx_file(f, b, path, "deep\n", 5, 0644, NULL, 0);
	e = (struct tree_entry){.path = "s",
	                        .path_len = 1,
	                        .type = TREE_SYMLINK,
	                        .mode = 0777,
	                        .link = "a/file",
	                        .link_len = 6,
	                        .size = 6,
	                        .mtime_sec = 1700000000};
	fx_add(b, &e, NULL, 0);
	fx_file(f, b, "u\xc3\xa9", "utf8\n", 5, 0644, NULL, 0);
	free(big);
	return fx_finish(b);
}

static inline void
fx_export(struct fx *f, const struct tree *t, const struct layer_options *o, struct layer_blob *ret,
          bool *reused)
{
	struct kl_error *err = NULL;

	if (layer_export(f->s, f->ps, t, o, ret, reused, &err) < 0)
		fail_msg("layer_export: %s", err->msg);
}

/* The blob as exported (checked against its digest and size). */
static inline char *
fx_blob(struct fx *f, const struct layer_blob *b, size_t *ret_len)
{
	struct kl_error *err = NULL;
	char *buf = NULL;

	assert_int_equal(store_read_blob(f->s, &b->digest, 1u << 30, &buf, ret_len, &err), 0);
	assert_int_equal(*ret_len, b->size);
	return buf;
}

/* Every gzip member of buf, inflated one after the other; the members' count in *ret_members. */
static inline char *
fx_gunzip(const char *buf, size_t len, size_t *ret_len, size_t *ret_members)
{
	size_t cap = len * 4 + (1 << 20), have = 0, members = 0;
	char *out = xmalloc(cap);
	z_stream z = {0};
	int zr;

	assert_int_equal(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
	z.next_in = (Bytef *)buf;
	z.avail_in = (uInt)len;
	while (z.avail_in) {
		if (cap - have < (1 << 20))
			out = xrealloc(out, cap *= 2);
		z.next_out = (Bytef *)out + have;
		z.avail_out = (uInt)(cap - have);
		zr = inflate(&z, Z_NO_FLUSH);
		have = cap - z.avail_out;
		if (zr == Z_STREAM_END) {
			members++;
			inflateReset(&z);
			continue;
		}
		assert_int_equal(zr, Z_OK);
	}
	inflateEnd(&z);
	*ret_len = have;
	if (ret_members)
		*ret_members = members;
	return out;
}

/* Every frame of a zstd stream (skippable ones skipped). */
static inline char *
fx_unzstd(const char *buf, size_t len, size_t *ret_len)
{
	size_t cap = len * 4 + (1 << 20), have = 0;
	char *out = xmalloc(cap);
	ZSTD_DStream *d = ZSTD_createDStream();
	ZSTD_inBuffer in = {buf, len, 0};

	while (in.pos < in.size) {
		ZSTD_outBuffer o;
		size_t r;

		if (cap - have < (1 << 20))
			out = xrealloc(out, cap *= 2);
		o = (ZSTD_outBuffer){out + have, cap - have, 0};
		r = ZSTD_decompressStream(d, &o, &in);
		assert_false(ZSTD_isError(r));
		have += o.pos;
	}
	ZSTD_freeDStream(d);
	*ret_len = have;
	return out;
}
