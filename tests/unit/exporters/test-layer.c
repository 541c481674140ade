// SPDX-License-Identifier: Apache-2.0
/* Unit tests for exporters/layer.c, layer-record.c and layer-diffid.c: a second export finds
 * the record and compresses nothing; a record whose blob is gone or changed size is not
 * trusted; the record key tells levels and timestamp rules apart; levels out of range and
 * names are checked; media types; diff ids without blobs. */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exporters-helpers.h"
#include "fs/digest.h"

static void
assert_same_blob(const struct layer_blob *a, const struct layer_blob *b)
{
	assert_true(digest_equal(&a->digest, &b->digest));
	assert_true(digest_equal(&a->diff_id, &b->diff_id));
	assert_int_equal(a->size, b->size);
	assert_int_equal(a->tar_size, b->tar_size);
	assert_int_equal(a->compression, b->compression);
	assert_int_equal(a->level, b->level);
	assert_int_equal(a->n_annotations, b->n_annotations);
	for (size_t i = 0; i < a->n_annotations; i++) {
		assert_string_equal(a->annotations[i].key, b->annotations[i].key);
		assert_string_equal(a->annotations[i].value, b->annotations[i].value);
	}
	assert_int_equal(!a->toc_digest, !b->toc_digest);
	if (a->toc_digest)
		assert_string_equal(a->toc_digest, b->toc_digest);
	assert_int_equal(!a->chunked_position, !b->chunked_position);
	if (a->chunked_position)
		assert_string_equal(a->chunked_position, b->chunked_position);
	assert_int_equal(!a->uncompressed_size, !b->uncompressed_size);
	if (a->uncompressed_size)
		assert_string_equal(a->uncompressed_size, b->uncompressed_size);
}

static void
test_second_export_is_reused(void **state)
{
	static const enum layer_compression all[] = {LAYER_GZIP, LAYER_UNCOMPRESSED, LAYER_ZSTD,
	                                             LAYER_ZSTD_CHUNKED, LAYER_ESTARGZ};
	struct fx f;
	struct tree *t;

	(void)state;
	fx_open(&f);
	t = fx_every_kind(&f);
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		struct layer_options o = {.compression = all[i]};
		struct layer_blob a = {0}, b = {0};
		bool reused = true;

		fx_export(&f, t, &o, &a, &reused);
		assert_false(reused);
		fx_export(&f, t, &o, &b, &reused);
		assert_true(reused);
		assert_same_blob(&a, &b);
		/* the default level is the level it stands for */
		o.level = all[i] == LAYER_GZIP || all[i] == LAYER_ESTARGZ ? 6 : 3;
		layer_blob_done(&b);
		fx_export(&f, t, &o, &b, &reused);
		assert_true(reused);
		layer_blob_done(&a);
		layer_blob_done(&b);
	}
	tree_unref(t);
	fx_close(&f);
}

static void
test_record_needs_its_blob(void **state)
{
	struct layer_options o = {.compression = LAYER_ZSTD};
	struct layer_blob a = {0}, b = {0};
	char hex[DIGEST_HEX_LEN + 1], *p;
	bool reused;
	struct fx f;
	struct tree *t;

	(void)state;
	fx_open(&f);
	t = fx_every_kind(&f);
	fx_export(&f, t, &o, &a, &reused);
	p = xasprintf("%s/content/sha256/%s", f.dir, digest_to_hex(&a.digest, hex));
	assert_int_equal(unlink(p), 0);
	fx_export(&f, t, &o, &b, &reused);
	assert_false(reused); /* made again, the same */
	assert_same_blob(&a, &b);
	assert_int_equal(access(p, F_OK), 0);
	/* a blob of another size at that name is not the recorded one */
	assert_int_equal(chmod(p, 0644), 0);
	assert_int_equal(truncate(p, 10), 0);
	layer_blob_done(&b);
	fx_export(&f, t, &o, &b, &reused);
	assert_false(reused);
	free(p);
	layer_blob_done(&a);
	layer_blob_done(&b);
	tree_unref(t);
	fx_close(&f);
}

static void
test_options_make_records_of_their_own(void **state)
{
	struct layer_options o1 = {.compression = LAYER_GZIP, .level = 1};
	struct layer_options o9 = {.compression = LAYER_GZIP, .level = 9};
	struct layer_options clamp = {.compression = LAYER_GZIP,
	                              .level = 1,
	                              .has_epoch = true,
	                              .epoch = FX_EPOCH_BEFORE,
	                              .rewrite_timestamp = true};
	struct layer_blob a = {0}, b = {0}, c = {0};
	bool reused;
	struct fx f;
	struct tree *t;

	(void)state;
	fx_open(&f);
	t = fx_every_kind(&f);
	fx_export(&f, t, &o1, &a, &reused);
	fx_export(&f, t, &o9, &b, &reused);
	assert_false(reused);
	assert_int_equal(b.level, 9);
	assert_false(digest_equal(&a.digest, &b.digest));
	assert_true(digest_equal(&a.diff_id, &b.diff_id));
	fx_export(&f, t, &clamp, &c, &reused);
	assert_false(reused);
	assert_false(digest_equal(&a.diff_id, &c.diff_id));
	layer_blob_done(&a);
	layer_blob_done(&b);
	layer_blob_done(&c);
	tree_unref(t);
	fx_close(&f);
}

static void
test_levels_are_checked(void **state)
{
	struct layer_options o = {.compression = LAYER_GZIP, .level = 10};
	struct kl_error *err = NULL;
	struct layer_blob b = {0};
	struct fx f;
	struct tree *t;
	int lo, hi, def;

	(void)state;
	fx_open(&f);
	t = fx_every_kind(&f);
	assert_int_equal(layer_export(f.s, f.ps, t, &o, &b, NULL, &err), -EINVAL);
	assert_string_equal(err->msg, "gzip compression level 10 is not in [1, 9]");
	kl_error_freep(&err);
	o = (struct layer_options){.compression = LAYER_ZSTD_CHUNKED, .level = 23};
	assert_int_equal(layer_export(f.s, f.ps, t, &o, &b, NULL, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "[1, 22]"));
	kl_error_freep(&err);
	/* uncompressed takes any level and records it as none */
	o = (struct layer_options){.compression = LAYER_UNCOMPRESSED, .level = 5};
	fx_export(&f, t, &o, &b, NULL);
	assert_int_equal(b.level, 0);
	layer_blob_done(&b);
	layer_compression_levels(LAYER_ESTARGZ, &lo, &hi, &def);
	assert_int_equal(lo, 1);
	assert_int_equal(hi, 9);
	assert_int_equal(def, 6);
	tree_unref(t);
	fx_close(&f);
}

static void
test_names_and_media_types(void **state)
{
	static const char *names[] = {"gzip", "uncompressed", "zstd", "zstd:chunked", "estargz"};
	enum layer_compression c;

	(void)state;
	for (int i = 0; i < _LAYER_COMPRESSION_MAX; i++) {
		assert_int_equal(layer_compression_parse(names[i], &c), 0);
		assert_int_equal(c, i);
		assert_string_equal(layer_compression_name(c), names[i]);
	}
	assert_int_equal(layer_compression_parse("zstd:chunky", &c), -EINVAL);
	assert_string_equal(layer_media_type(LAYER_GZIP, true),
	                    "application/vnd.oci.image.layer.v1.tar+gzip");
	assert_string_equal(layer_media_type(LAYER_ESTARGZ, false),
	                    "application/vnd.docker.image.rootfs.diff.tar.gzip");
	assert_string_equal(layer_media_type(LAYER_ZSTD_CHUNKED, true),
	                    "application/vnd.oci.image.layer.v1.tar+zstd");
	assert_string_equal(layer_media_type(LAYER_UNCOMPRESSED, false),
	                    "application/vnd.docker.image.rootfs.diff.tar");
	assert_null(layer_media_type(LAYER_ZSTD, false));
}

/* The diff id alone: the uncompressed tar's digest, hashed once and then recorded; a gzip
 * export made before gives it with no tar written; timestamp rules give their own. */
static void
test_diff_id_without_a_blob(void **state)
{
	struct layer_options plain = {.compression = LAYER_UNCOMPRESSED};
	struct layer_options clamp = {.has_epoch = true, .epoch = 1, .rewrite_timestamp = true};
	struct layer_blob tar = {0}, gz = {0};
	struct digest d1, d2, d3;
	uint64_t n1 = 0, n2 = 0;
	struct fx f;
	struct tree *t;
	char *dir;

	(void)state;
	fx_open(&f);
	t = fx_every_kind(&f);
	assert_int_equal(layer_diff_id(f.s, NULL, t, NULL, &d1, &n1, NULL), 0);
	dir = xasprintf("%s/exporters/diffids", store_root(f.s));
	assert_int_equal(access(dir, F_OK), 0);
	fx_export(&f, t, &plain, &tar, NULL);
	assert_true(digest_equal(&d1, &tar.diff_id));
	assert_int_equal(n1, tar.tar_size);
	/* recorded: the same answer */
	assert_int_equal(layer_diff_id(f.s, NULL, t, NULL, &d2, &n2, NULL), 0);
	assert_true(digest_equal(&d1, &d2));
	assert_int_equal(n1, n2);
	/* a clamped tar differs (every file here is later than epoch 1), and so does its id; after
	 * a gzip export with the same rule, no record of its own is needed */
	fx_export(&f, t,
	          &(struct layer_options){.compression = LAYER_GZIP,
	                                  .has_epoch = true,
	                                  .epoch = 1,
	                                  .rewrite_timestamp = true},
	          &gz, NULL);
	assert_false(digest_equal(&gz.diff_id, &d1));
	test_rmdir(xstrdup(dir));
	assert_int_equal(layer_diff_id(f.s, NULL, t, &clamp, &d3, NULL, NULL), 0);
	assert_true(digest_equal(&d3, &gz.diff_id));
	assert_int_not_equal(access(dir, F_OK), 0);
	free(dir);
	layer_blob_done(&tar);
	layer_blob_done(&gz);
	tree_unref(t);
	fx_close(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_second_export_is_reused),
	    cmocka_unit_test(test_record_needs_its_blob),
	    cmocka_unit_test(test_options_make_records_of_their_own),
	    cmocka_unit_test(test_levels_are_checked),
	    cmocka_unit_test(test_names_and_media_types),
	    cmocka_unit_test(test_diff_id_without_a_blob),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
