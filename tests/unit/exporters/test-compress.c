// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the compressors (exporters/compress-*.c): every compression decompresses to the
 * layer's tar and its diff id; the bytes do not depend on the number of threads; gzip is one
 * members of 1 MiB; zstd:chunked and eStargz have the layouts their readers expect — checked with
 * kiln's own reader (sources/imgsrc-*), which must see the same diff tree through the table of
 * contents as through the tar, and whose every file range decompresses to that file alone; the
 * tar-split rebuilds the tar exactly; the diff id hashed on its own thread is the sha256 of the
 * bytes in the order given, whatever pieces they came in. */
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <unistd.h>

#include "exporters-helpers.h"
#include "exporters/compress-hasher-internal.h"
#include "exporters/compress-tarsplit-internal.h"
#include "fs/digest.h"
#include "sources/imgsrc-internal.h"
#include "util/base64.h"

static const enum layer_compression compressed[] = {LAYER_GZIP, LAYER_ZSTD, LAYER_ZSTD_CHUNKED,
                                                    LAYER_ESTARGZ};
#define N_COMPRESSED (sizeof(compressed) / sizeof(compressed[0]))

static char *export(struct fx *f, const struct tree *t, enum layer_compression c, unsigned threads,
                    struct layer_blob *b, size_t *len)
{
	struct layer_options o = {.compression = c, .threads = threads};

	fx_export(f, t, &o, b, NULL);
	return fx_blob(f, b, len);
}

static char *
decompress(enum layer_compression c, const char *blob, size_t len, size_t *ret_len)
{
	if (c == LAYER_GZIP || c == LAYER_ESTARGZ)
		return fx_gunzip(blob, len, ret_len, NULL);
	return fx_unzstd(blob, len, ret_len);
}

static const char *
annotation(const struct layer_blob *b, const char *key)
{
	for (size_t i = 0; i < b->n_annotations; i++)
		if (!strcmp(b->annotations[i].key, key))
			return b->annotations[i].value;
	return NULL;
}

static void
test_every_compression_decompresses_to_the_tar(void **state)
{
	struct layer_blob plain = {0};
	struct fx f;
	struct tree *t;
	char *tar;
	size_t tar_len;

	(void)state;
	fx_open(&f);
	t = fx_every_kind(&f);
	tar = export(&f, t, LAYER_UNCOMPRESSED, 0, &plain, &tar_len);
	for (size_t i = 0; i < N_COMPRESSED; i++) {
		struct layer_blob b = {0};
		size_t len, out_len;
		char *blob = export(&f, t, compressed[i], 0, &b, &len), *out;
		struct digest d;

		out = decompress(compressed[i], blob, len, &out_len);
		digest_buffer(out, out_len, &d);
		assert_true(digest_equal(&d, &b.diff_id));
		assert_int_equal(b.tar_size, out_len);
		if (compressed[i] == LAYER_ESTARGZ) {
			/* the tar, then the tar of the TOC */
			assert_true(out_len > tar_len + 1536);
			assert_memory_equal(out, tar, tar_len);
			assert_string_equal(out + tar_len, "stargz.index.json");
		} else {
			assert_int_equal(out_len, tar_len);
			assert_memory_equal(out, tar, tar_len);
			assert_true(digest_equal(&b.diff_id, &plain.diff_id));
		}
		assert_true(b.size < tar_len);
		free(out);
		free(blob);
		layer_blob_done(&b);
	}
	free(tar);
	layer_blob_done(&plain);
	tree_unref(t);
	fx_close(&f);
}

static void
test_bytes_do_not_depend_on_threads(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_COMPRESSED; i++) {
		struct layer_blob b1 = {0}, b2 = {0};
		struct fx f1, f2;
		struct tree *t1, *t2;
		size_t l1, l2;
		char *x1, *x2;

		fx_open(&f1);
		fx_open(&f2);
		t1 = fx_every_kind(&f1);
		t2 = fx_every_kind(&f2);
		x1 = export(&f1, t1, compressed[i], 1, &b1, &l1);
		x2 = export(&f2, t2, compressed[i], 3, &b2, &l2);
		assert_true(digest_equal(&b1.digest, &b2.digest));
		assert_int_equal(b1.n_annotations, b2.n_annotations);
		for (size_t k = 0; k < b1.n_annotations; k++)
			assert_string_equal(b1.annotations[k].value, b2.annotations[k].value);
		free(x1);
		free(x2);
		layer_blob_done(&b1);
		layer_blob_done(&b2);
		tree_unref(t1);
		tree_unref(t2);
		fx_close(&f1);
		fx_close(&f2);
	}
}

static void
test_gzip_is_members_of_1_mib(void **state)
{
	/* magic, deflate, no name, mtime 0, XFL 0, OS 255 (as Go's compress/gzip writes) */
	static const uint8_t header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
	struct layer_blob b = {0};
	struct fx f;
	struct tree *t;
	size_t len, out_len, members;
	char *blob, *out;

	(void)state;
	fx_open(&f);
	t = fx_every_kind(&f);
	blob = export(&f, t, LAYER_GZIP, 0, &b, &len);
	assert_memory_equal(blob, header, sizeof(header));
	out = fx_gunzip(blob, len, &out_len, &members);
	assert_int_equal(members, (out_len + (1u << 20) - 1) >> 20);
	assert_true(members >= 5);
	assert_int_equal(b.n_annotations, 0);
	assert_null(b.toc_digest);
	free(out);
	free(blob);
	layer_blob_done(&b);
	tree_unref(t);
	fx_close(&f);
}

static void
assert_same_entry(const struct tree *a, const struct tree *b, uint32_t i)
{
	struct tree_entry x, y;
	const uint32_t flags = TREE_ENTRY_OPAQUE | TREE_ENTRY_IMPLICIT;

	tree_entry_at(a, i, &x);
	tree_entry_at(b, i, &y);
	assert_string_equal(x.path, y.path);
	assert_int_equal(x.type, y.type);
	assert_int_equal(x.flags & flags, y.flags & flags);
	assert_int_equal(x.mode, y.mode);
	assert_int_equal(x.uid, y.uid);
	assert_int_equal(x.gid, y.gid);
	assert_int_equal(x.mtime_sec, y.mtime_sec);
	assert_int_equal(x.mtime_nsec, y.mtime_nsec);
	assert_int_equal(x.size, y.size);
	assert_int_equal(x.rdev, y.rdev);
	assert_int_equal(x.link_len, y.link_len);
	if (x.link_len)
		assert_memory_equal(x.link, y.link, x.link_len);
	if (x.type == TREE_REG && x.size)
		assert_true(digest_equal(&x.digest, &y.digest));
	assert_int_equal(x.n_xattrs, y.n_xattrs);
	for (uint32_t k = 0; k < x.n_xattrs; k++) {
		struct tree_xattr xa, xb;

		tree_entry_xattr(a, &x, k, &xa);
		tree_entry_xattr(b, &y, k, &xb);
		assert_string_equal(xa.name, xb.name);
		assert_int_equal(xa.value_len, xb.value_len);
		assert_memory_equal(xa.value, xb.value, xa.value_len);
	}
}

/* The diff tree kiln's image source makes of the blob read as a plain tar stream. */
static struct tree *
tree_from_tar(struct fx *f, const struct layer_blob *b)
{
	struct kl_error *err = NULL;
	struct tree *t = NULL;
	struct digest id;
	int fd = store_open_blob(f->s, &b->digest, NULL);

	assert_true(fd >= 0);
	if (imgsrc_layer_from_tar(f->s, fd, &b->digest, "test", &id, &err) < 0)
		fail_msg("imgsrc_layer_from_tar: %s", err->msg);
	close(fd);
	assert_int_equal(tree_load(f->s, &id, &t, &err), 0);
	return t;
}

static struct tree *
tree_from_toc(const char *toc, size_t len, const struct layer_blob *b, bool estargz,
              uint64_t toc_off)
{
	struct tree_builder *builder = NULL;
	struct kl_error *err = NULL;

	if (imgsrc_toc_parse(toc, len, &b->digest, estargz, toc_off, "test", &builder, &err) < 0)
		fail_msg("imgsrc_toc_parse: %s", err->msg);
	return fx_finish(builder);
}

/* Every file of the TOC's tree: its range of the blob decompresses to its bytes alone. */
static void
assert_ranges(const struct tree *toc_tree, const char *blob, size_t len, bool estargz)
{
	size_t checked = 0;

	for (uint32_t i = 0; i < tree_count(toc_tree); i++) {
		struct tree_entry e;
		unsigned long long off, n;
		char hex[65], *out, *loc;
		size_t out_len;
		struct digest d;

		tree_entry_at(toc_tree, i, &e);
		if (e.type != TREE_REG || !e.size)
			continue;
		assert_non_null(e.locator);
		loc = xstrndup(e.locator, e.locator_len);
		assert_int_equal(sscanf(loc,
		                        estargz ? "layer:%64[0-9a-f]:gz:%llu:%llu"
		                                : "layer:%64[0-9a-f]:%llu:%llu",
		                        hex, &off, &n),
		                 3);
		assert_true(off + n <= len);
		if (estargz) {
			out = fx_gunzip(blob + off, n, &out_len, NULL);
			/* a member runs on into the padding and next headers: readers cut */
			assert_true(out_len >= e.size);
		} else {
			out = fx_unzstd(blob + off, n, &out_len);
			assert_int_equal(out_len, e.size); /* the frames hold the file alone */
		}
		digest_buffer(out, e.size, &d);
		assert_true(digest_equal(&d, &e.digest));
		free(out);
		free(loc);
		checked++;
	}
	assert_int_equal(checked, 7); /* a/file a/link big d/x l/…/f m/…/leaf ué */
}

static void
assert_trees_equal(const struct tree *a, const struct tree *b)
{
	assert_int_equal(tree_count(a), tree_count(b));
	for (uint32_t i = 0; i < tree_count(a); i++)
		assert_same_entry(a, b, i);
}

static uint64_t
le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The tar-split's lines rebuild the tar: segments are its bytes, file records its payloads
 * (their CRC-64) in order. */
static void
assert_tarsplit_rebuilds(const char *ts, size_t ts_len, uint64_t ulen, const char *tar,
                         size_t tar_len)
{
	size_t nd_len, pos = 0, lines = 0;
	char *nd = fx_unzstd(ts, ts_len, &nd_len), *line, *save = NULL;

	assert_int_equal(nd_len, ulen);
	nd = xrealloc(nd, nd_len + 1);
	nd[nd_len] = '\0';
	for (line = strtok_r(nd, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_auto_t *j = json_loads(line, 0, NULL);
		json_t *payload;
		int type;

		assert_non_null(j);
		type = (int)json_integer_value(json_object_get(j, "type"));
		assert_int_equal(json_integer_value(json_object_get(j, "position")), lines);
		payload = json_object_get(j, "payload");
		if (type == 2) {
			const char *p = json_string_value(payload);
			uint8_t *raw = xmalloc(KL_BASE64_DECODED_MAX(strlen(p)));
			size_t n;

			assert_int_equal(kl_base64_decode(p, strlen(p), raw, &n), 0);
			assert_true(pos + n <= tar_len);
			assert_memory_equal(tar + pos, raw, n);
			pos += n;
			free(raw);
		} else {
			uint64_t size = (uint64_t)json_integer_value(json_object_get(j, "size"));

			assert_int_equal(type, 1);
			assert_non_null(json_string_value(json_object_get(j, "name")));
			if (size) {
				uint64_t crc = compress_crc64(0, tar + pos, size);
				uint8_t raw[12];
				size_t n;

				assert_int_equal(
				    kl_base64_decode(json_string_value(payload), 12, raw, &n), 0);
				assert_int_equal(n, 8);
				for (int k = 0; k < 8; k++)
					assert_int_equal(raw[k], (uint8_t)(crc >> (56 - 8 * k)));
			} else {
				assert_true(json_is_null(payload));
			}
			pos += size;
		}
		lines++;
	}
	assert_int_equal(pos, tar_len);
	free(nd);
}

static void
test_zstd_chunked_layout(void **state)
{
	struct layer_blob b = {0}, plain = {0};
	struct kl_error *err = NULL;
	struct fx f;
	struct tree *t, *from_tar, *from_toc;
	size_t len, tar_len, toc_len;
	char *blob = NULL, *tar, *toc = NULL, want[DIGEST_STRING_SIZE];
	const char *pos, *ts_pos;
	uint64_t off, zlen, ulen, ts_off, ts_len, ts_ulen;
	const uint8_t *footer;
	json_auto_t *j = NULL;
	struct digest d;

	(void)state;
	fx_open(&f);
	t = fx_every_kind(&f);
	tar = export(&f, t, LAYER_UNCOMPRESSED, 0, &plain, &tar_len);
	blob = export(&f, t, LAYER_ZSTD_CHUNKED, 0, &b, &len);
	/* the footer: a skippable frame of 64 bytes, ending in "GNUlInUx" */
	footer = (const uint8_t *)blob + len - 64;
	assert_memory_equal(footer - 8, "\x50\x2a\x4d\x18\x40\x00\x00\x00", 8);
	assert_memory_equal(footer + 56, "GNUlInUx", 8);
	pos = annotation(&b, "io.github.containers.zstd-chunked.manifest-position");
	assert_non_null(pos);
	assert_string_equal(pos, annotation(&b, "io.containers.zstd-chunked.manifest-position"));
	assert_string_equal(pos, b.chunked_position);
	assert_int_equal(imgsrc_chunked_position(pos, &off, &zlen, &ulen), 0);
	assert_int_equal(le64(footer), off);
	assert_int_equal(le64(footer + 8), zlen);
	assert_int_equal(le64(footer + 16), ulen);
	assert_int_equal(le64(footer + 24), 1);
	/* the checksum is of the compressed TOC, as containers/storage checks it */
	digest_buffer(blob + off, zlen, &d);
	assert_string_equal(digest_to_string(&d, want),
	                    annotation(&b, "io.github.containers.zstd-chunked.manifest-checksum"));
	assert_string_equal(want, annotation(&b, "io.containers.zstd-chunked.manifest-checksum"));
	assert_string_equal(want, b.toc_digest);
	assert_int_equal(imgsrc_chunked_decompress(blob + off, zlen, ulen, &toc, &toc_len, &err),
	                 0);
	/* the tar-split, where the footer and the annotation say */
	ts_pos = annotation(&b, "io.github.containers.zstd-chunked.tarsplit-position");
	assert_int_equal(
	    sscanf(ts_pos, "%" SCNu64 ":%" SCNu64 ":%" SCNu64, &ts_off, &ts_len, &ts_ulen), 3);
	assert_int_equal(le64(footer + 32), ts_off);
	assert_int_equal(le64(footer + 40), ts_len);
	assert_int_equal(le64(footer + 48), ts_ulen);
	j = json_loadb(toc, toc_len, 0, NULL);
	digest_buffer(blob + ts_off, ts_len, &d);
	assert_string_equal(json_string_value(json_object_get(j, "tarSplitDigest")),
	                    digest_to_string(&d, want));
	assert_tarsplit_rebuilds(blob + ts_off, ts_len, ts_ulen, tar, tar_len);
	/* kiln's reader: the TOC says what the tar says, each range holds one file */
	from_tar = tree_from_tar(&f, &b);
	from_toc = tree_from_toc(toc, toc_len, &b, false, 0);
	assert_trees_equal(from_tar, from_toc);
	assert_ranges(from_toc, blob, len, false);
	tree_unref(from_tar);
	tree_unref(from_toc);
	free(toc);
	free(tar);
	free(blob);
	layer_blob_done(&b);
	layer_blob_done(&plain);
	tree_unref(t);
	fx_close(&f);
}

static void
test_estargz_layout(void **state)
{
	struct layer_blob b = {0};
	struct kl_error *err = NULL;
	struct fx f;
	struct tree *t, *from_tar, *from_toc;
	size_t len, toc_len, out_len;
	char *blob, *toc = NULL, *out, want[DIGEST_STRING_SIZE], usize[32];
	uint64_t toc_off;
	json_auto_t *j = NULL;
	struct digest d;

	(void)state;
	fx_open(&f);
	t = fx_every_kind(&f);
	blob = export(&f, t, LAYER_ESTARGZ, 0, &b, &len);
	assert_int_equal(imgsrc_estargz_footer(blob + len - 51, 51, len, &toc_off), 51);
	assert_int_equal(
	    imgsrc_estargz_toc(blob + toc_off, len - 51 - toc_off, &toc, &toc_len, &err), 0);
	digest_buffer(toc, toc_len, &d);
	assert_string_equal(digest_to_string(&d, want),
	                    annotation(&b, "containerd.io/snapshot/stargz/toc.digest"));
	assert_string_equal(want, b.toc_digest);
	out = fx_gunzip(blob, len, &out_len, NULL);
	snprintf(usize, sizeof(usize), "%zu", out_len);
	assert_string_equal(annotation(&b, "io.containers.estargz.uncompressed-size"), usize);
	assert_string_equal(b.uncompressed_size, usize);
	/* the big file is in two chunks, each starting a member */
	j = json_loadb(toc, toc_len, 0, NULL);
	{
		size_t i, chunks = 0;
		json_t *e;

		json_array_foreach(json_object_get(j, "entries"), i, e)
		{
			const char *name = json_string_value(json_object_get(e, "name"));
			json_int_t o = json_integer_value(json_object_get(e, "offset"));

			if (strcmp(name, "big"))
				continue;
			chunks++;
			assert_memory_equal(blob + o, "\x1f\x8b", 2);
			assert_non_null(json_object_get(e, "chunkDigest"));
		}
		assert_int_equal(chunks, 2);
	}
	from_tar = tree_from_tar(&f, &b);
	from_toc = tree_from_toc(toc, toc_len, &b, true, toc_off);
	assert_trees_equal(from_tar, from_toc);
	assert_ranges(from_toc, blob, len, true);
	tree_unref(from_tar);
	tree_unref(from_toc);
	free(out);
	free(toc);
	free(blob);
	layer_blob_done(&b);
	tree_unref(t);
	fx_close(&f);
}

static void
test_toc_needs_utf8_names(void **state)
{
	static const enum layer_compression tocs[] = {LAYER_ZSTD_CHUNKED, LAYER_ESTARGZ};
	struct tree_builder *builder = tree_builder_new();
	struct layer_blob b = {0};
	struct kl_error *err = NULL;
	struct fx f;
	struct tree *t;
	size_t len;

	(void)state;
	fx_open(&f);
	fx_file(&f, builder, "bad-\xff", "x", 1, 0644, NULL, 0);
	t = fx_finish(builder);
	for (size_t i = 0; i < 2; i++) {
		struct layer_options o = {.compression = tocs[i]};

		assert_int_equal(layer_export(f.s, f.ps, t, &o, &b, NULL, &err), -EINVAL);
		assert_non_null(strstr(err->msg, "not UTF-8"));
		assert_non_null(strstr(err->msg, "bad-"));
		kl_error_freep(&err);
	}
	free(export(&f, t, LAYER_GZIP, 0, &b, &len)); /* a plain tar takes any name */
	layer_blob_done(&b);
	tree_unref(t);
	fx_close(&f);
}

static void
test_crc64_is_go_iso(void **state)
{
	(void)state;
	/* CRC-64/GO-ISO's check value */
	assert_int_equal(compress_crc64(0, "123456789", 9), 0xb90956c775a41001ull);
	assert_int_equal(compress_crc64(compress_crc64(0, "1234", 4), "56789", 5),
	                 0xb90956c775a41001ull);
	assert_int_equal(compress_crc64(0, "", 0), 0);
}

static void
test_hasher_is_sha256_of_the_stream(void **state)
{
	/* 9 MiB + 5 bytes: more than the hasher's ring of 1 MiB buffers holds, in pieces that
	 * straddle its buffers (1 byte, 3 MiB, odd sizes) */
	static const size_t pieces[] = {1, 3u << 20, 511, 1u << 20, 7, (1u << 20) - 1, 4099};
	size_t total = (9u << 20) + 5, off = 0;
	char *data = malloc(total);
	struct compress_hasher *h;
	struct digest want, got;

	(void)state;
	for (size_t i = 0; i < total; i++)
		data[i] = (char)(i * 2654435761u >> 13);
	digest_buffer(data, total, &want);
	for (int round = 0; round < 2; round++) {
		h = compress_hasher_new();
		off = 0;
		for (size_t i = 0; off < total; i++) {
			size_t n = pieces[i % (sizeof(pieces) / sizeof(pieces[0]))];

			n = n < total - off ? n : total - off;
			compress_hasher_update(h, data + off, n);
			off += n;
		}
		compress_hasher_final(h, &got);
		assert_memory_equal(got.bytes, want.bytes, DIGEST_SIZE);
		compress_hasher_free(h);
	}
	h = compress_hasher_new(); /* an empty stream */
	compress_hasher_final(h, &got);
	digest_buffer("", 0, &want);
	assert_memory_equal(got.bytes, want.bytes, DIGEST_SIZE);
	compress_hasher_free(h);
	compress_hasher_free(NULL);
	free(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_compression_decompresses_to_the_tar),
	    cmocka_unit_test(test_bytes_do_not_depend_on_threads),
	    cmocka_unit_test(test_gzip_is_members_of_1_mib),
	    cmocka_unit_test(test_zstd_chunked_layout),
	    cmocka_unit_test(test_estargz_layout),
	    cmocka_unit_test(test_toc_needs_utf8_names),
	    cmocka_unit_test(test_crc64_is_go_iso),
	    cmocka_unit_test(test_hasher_is_sha256_of_the_stream),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
