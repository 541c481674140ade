// SPDX-License-Identifier: Apache-2.0
/* Unit tests for exporters/layer-tar.c, through uncompressed exports read back with libarchive:
 * entries in tar order with OCI whiteout names and opaque markers after their directory,
 * hardlinks (one sorting before its target), devices, xattrs, long names, big ids, sub-second
 * mtimes; the same tree gives the same bytes; SOURCE_DATE_EPOCH clamps; bad contents refused. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exporters-helpers.h"
#include "fs/digest.h"

struct want {
	const char *name; /* NULL: the long names, checked by prefix */
	const char *prefix;
	mode_t type;
	const char *hardlink, *symlink;
	int64_t size;
};

static const struct want expected[] = {
    {"a/", NULL, AE_IFDIR, NULL, NULL, 0},
    {"a/file", NULL, AE_IFREG, NULL, NULL, 6},
    {"a/link", NULL, AE_IFREG, NULL, NULL, 7}, /* carries the content: its target sorts later */
    {"b/target", NULL, AE_IFREG, "a/link", NULL, 0},
    {"big", NULL, AE_IFREG, NULL, NULL, FX_BIG_SIZE},
    {"c/blk", NULL, AE_IFBLK, NULL, NULL, 0},
    {"c/chr", NULL, AE_IFCHR, NULL, NULL, 0},
    {"c/fifo", NULL, AE_IFIFO, NULL, NULL, 0},
    {"d/", NULL, AE_IFDIR, NULL, NULL, 0},
    {"d/.wh..wh..opq", NULL, AE_IFREG, NULL, NULL, 0},
    {"d/x", NULL, AE_IFREG, NULL, NULL, 1},
    {"e/.wh.gone", NULL, AE_IFREG, NULL, NULL, 0},
    {"empty", NULL, AE_IFREG, NULL, NULL, 0},
    {NULL, "l/nnnnnnnnnn", AE_IFREG, NULL, NULL, 5},
    {NULL, "m/sssssssss", AE_IFREG, NULL, NULL, 5},
    {"s", NULL, AE_IFLNK, NULL, "a/file", 0},
    {"u\xc3\xa9", NULL, AE_IFREG, NULL, NULL, 5},
};

/* The next entry; a warning (a name libarchive cannot convert to the C locale) is fine. */
static bool
next_header(struct archive *a, struct archive_entry **ae)
{
	int r = archive_read_next_header(a, ae);

	return r == ARCHIVE_OK || r == ARCHIVE_WARN;
}

/* The name as the tar holds it (libarchive converts to the locale, which may fail). */
static const char *
entry_name(struct archive_entry *ae)
{
	const char *n = archive_entry_pathname_utf8(ae);

	return n ? n : archive_entry_pathname(ae);
}

static char *
export_tar(struct fx *f, const struct tree *t, const struct layer_options *o, size_t *len)
{
	struct layer_options u = o ? *o : (struct layer_options){0};
	struct layer_blob b = {0};
	struct digest d;
	char *tar;

	u.compression = LAYER_UNCOMPRESSED;
	fx_export(f, t, &u, &b, NULL);
	tar = fx_blob(f, &b, len);
	digest_buffer(tar, *len, &d);
	assert_true(digest_equal(&d, &b.diff_id)); /* uncompressed: the blob is the tar */
	assert_int_equal(b.tar_size, *len);
	layer_blob_done(&b);
	return tar;
}

static void
test_entries_in_tar_order_with_oci_names(void **state)
{
	struct fx f;
	struct tree *t;
	struct archive *a;
	struct archive_entry *ae;
	char *tar, *big = fx_bytes(FX_BIG_SIZE, 7);
	size_t len, i = 0;

	(void)state;
	fx_open(&f);
	t = fx_every_kind(&f);
	tar = export_tar(&f, t, NULL, &len);
	assert_int_equal(len % 512, 0);
	assert_memory_equal(tar + len - 1024, (char[1024]){0}, 1024);
	a = archive_read_new();
	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_memory(a, tar, len), ARCHIVE_OK);
	while (next_header(a, &ae)) {
		const struct want *w = &expected[i];
		const char *name = entry_name(ae);
		const char *hl = archive_entry_hardlink(ae);
		char buf[16];

		assert_true(i < sizeof(expected) / sizeof(expected[0]));
		if (w->name)
			assert_string_equal(name, w->name);
		else
			assert_int_equal(strncmp(name, w->prefix, strlen(w->prefix)), 0);
		if (!hl) /* libarchive gives hardlinks no type */
			assert_int_equal(archive_entry_filetype(ae) & AE_IFMT, w->type);
		if (w->hardlink)
			assert_string_equal(hl, w->hardlink);
		else
			assert_null(hl);
		if (w->symlink)
			assert_string_equal(archive_entry_symlink(ae), w->symlink);
		assert_int_equal(archive_entry_size(ae), w->size);
		if (!strcmp(name, "a/")) {
			assert_int_equal(archive_entry_perm(ae), 0750);
			assert_int_equal(archive_entry_uid(ae), 1);
			assert_int_equal(archive_entry_gid(ae), 2);
		}
		if (!strcmp(name, "a/file")) {
			const char *xn;
			const void *xv;
			size_t xl;

			assert_int_equal(archive_entry_mtime(ae), 1700000000);
			assert_int_equal(archive_entry_mtime_nsec(ae), 500000000);
			int found = 0;

			assert_int_equal(archive_entry_xattr_reset(ae), 2);
			while (archive_entry_xattr_next(ae, &xn, &xv, &xl) == ARCHIVE_OK) {
				if (!strcmp(xn, "security.capability"))
					found += xl == 4 && !memcmp(xv, "\x01\0\0\x02", 4);
				if (!strcmp(xn, "user.k"))
					found += xl == 3 && !memcmp(xv, "v\0x", 3);
			}
			assert_int_equal(found, 2);
			assert_int_equal(archive_read_data(a, buf, sizeof(buf)), 6);
			assert_memory_equal(buf, "hello\n", 6);
		}
		if (!strcmp(name, "a/link")) {
			assert_int_equal(archive_read_data(a, buf, sizeof(buf)), 7);
			assert_memory_equal(buf, "shared\n", 7);
			assert_int_equal(archive_entry_uid(ae), 3000000); /* the target's */
			assert_int_equal(archive_entry_perm(ae), 0600);
		}
		if (!strcmp(name, "big")) {
			char *got = xmalloc(FX_BIG_SIZE);
			size_t have = 0;
			la_ssize_t n;

			while ((n = archive_read_data(a, got + have, FX_BIG_SIZE - have)) > 0)
				have += (size_t)n;
			assert_int_equal(have, FX_BIG_SIZE);
			assert_memory_equal(got, big, FX_BIG_SIZE);
			free(got);
		}
		if (!strcmp(name, "c/blk")) {
			assert_int_equal(archive_entry_rdevmajor(ae), 7);
			assert_int_equal(archive_entry_rdevminor(ae), 200);
		}
		if (!strcmp(name, "e/.wh.gone") || !strcmp(name, "d/.wh..wh..opq")) {
			assert_int_equal(archive_entry_mtime(ae), 0);
			assert_int_equal(archive_entry_perm(ae), 0);
		}
		if (!w->name && w->prefix[0] == 'l')
			assert_int_equal(strlen(name), 2 + FX_LONG_COMPONENT + 2);
		if (!w->name && w->prefix[0] == 'm')
			assert_true(strlen(name) > 255);
		i++;
	}
	assert_int_equal(i, sizeof(expected) / sizeof(expected[0]));
	archive_read_free(a);
	free(tar);
	free(big);
	tree_unref(t);
	fx_close(&f);
}

static void
test_same_tree_same_bytes(void **state)
{
	struct fx f1, f2;
	struct tree *t1, *t2;
	char *a, *b;
	size_t la, lb;

	(void)state;
	fx_open(&f1);
	fx_open(&f2);
	t1 = fx_every_kind(&f1);
	t2 = fx_every_kind(&f2);
	assert_true(digest_equal(tree_id(t1), tree_id(t2)));
	a = export_tar(&f1, t1, NULL, &la);
	b = export_tar(&f2, t2, NULL, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	free(a);
	free(b);
	tree_unref(t1);
	tree_unref(t2);
	fx_close(&f1);
	fx_close(&f2);
}

static void
test_rewrite_timestamp_clamps_to_the_epoch(void **state)
{
	struct layer_options o = {
	    .has_epoch = true, .epoch = FX_EPOCH_BEFORE, .rewrite_timestamp = true};
	struct fx f;
	struct tree *t;
	struct archive *a;
	struct archive_entry *ae;
	char *tar;
	size_t len;
	int seen = 0;

	(void)state;
	fx_open(&f);
	t = fx_every_kind(&f);
	tar = export_tar(&f, t, &o, &len);
	a = archive_read_new();
	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_memory(a, tar, len), ARCHIVE_OK);
	while (next_header(a, &ae)) {
		const char *name = entry_name(ae);

		if (!strcmp(name, "a/")) /* earlier than the epoch: kept */
			assert_int_equal(archive_entry_mtime(ae), 1600000000);
		else
			assert_int_equal(archive_entry_mtime(ae), FX_EPOCH_BEFORE);
		assert_int_equal(archive_entry_mtime_nsec(ae), 0);
		seen++;
	}
	assert_int_equal(seen, sizeof(expected) / sizeof(expected[0]));
	archive_read_free(a);
	free(tar);
	/* without rewrite-timestamp the epoch dates the whiteouts alone */
	o.rewrite_timestamp = false;
	tar = export_tar(&f, t, &o, &len);
	a = archive_read_new();
	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_memory(a, tar, len), ARCHIVE_OK);
	while (next_header(a, &ae)) {
		const char *name = entry_name(ae);

		if (strstr(name, ".wh."))
			assert_int_equal(archive_entry_mtime(ae), FX_EPOCH_BEFORE);
		else if (!strcmp(name, "a/file"))
			assert_int_equal(archive_entry_mtime_nsec(ae), 500000000);
	}
	archive_read_free(a);
	free(tar);
	tree_unref(t);
	fx_close(&f);
}

static void
test_explicit_root_is_dot_slash(void **state)
{
	struct tree_builder *b = tree_builder_new();
	struct tree_entry root = {.path = "", .type = TREE_DIR, .mode = 0700, .mtime_sec = 5};
	struct fx f;
	struct tree *t;
	char *tar;
	size_t len;

	(void)state;
	fx_open(&f);
	fx_add(b, &root, NULL, 0);
	fx_file(&f, b, "f", "1", 1, 0644, NULL, 0);
	t = fx_finish(b);
	tar = export_tar(&f, t, NULL, &len);
	assert_string_equal(tar, "./");
	assert_memory_equal(tar + 100, "0000700", 8);
	assert_string_equal(tar + 512, "f");
	assert_int_equal(len, 512 + 512 + 512 + 1024);
	free(tar);
	tree_unref(t);
	fx_close(&f);
}

static void
test_corrupt_store_blob_is_refused(void **state)
{
	struct layer_options o = {.compression = LAYER_GZIP};
	struct kl_error *err = NULL;
	char hex[DIGEST_HEX_LEN + 1], *p;
	struct layer_blob b = {0};
	struct tree_entry e;
	struct fx f;
	struct tree *t;
	uint32_t i;
	int fd;

	(void)state;
	fx_open(&f);
	t = fx_every_kind(&f);
	assert_int_equal(tree_lookup(t, "d/x", 3, &i), 0);
	tree_entry_at(t, i, &e);
	p = xasprintf("%s/content/sha256/%s", f.dir, digest_to_hex(&e.digest, hex));
	assert_int_equal(chmod(p, 0644), 0);
	fd = open(p, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "y", 1), 1);
	close(fd);
	assert_int_equal(layer_export(f.s, f.ps, t, &o, &b, NULL, &err), -EBADMSG);
	assert_non_null(strstr(err->msg, "corrupt"));
	assert_non_null(strstr(err->msg, "'d/x'"));
	kl_error_freep(&err);
	/* nothing was recorded: it fails again */
	assert_int_equal(layer_export(f.s, f.ps, t, &o, &b, NULL, &err), -EBADMSG);
	kl_error_freep(&err);
	free(p);
	tree_unref(t);
	fx_close(&f);
}

static void
test_content_nowhere_is_refused(void **state)
{
	struct tree_builder *b = tree_builder_new();
	struct tree_entry e = {.path = "lost",
	                       .path_len = 4,
	                       .type = TREE_REG,
	                       .mode = 0644,
	                       .size = 3,
	                       .flags = TREE_ENTRY_HAS_DIGEST};
	struct kl_error *err = NULL;
	struct layer_blob lb = {0};
	struct fx f;
	struct tree *t;

	(void)state;
	fx_open(&f);
	digest_buffer("abc", 3, &e.digest); /* never ingested */
	fx_add(b, &e, NULL, 0);
	t = fx_finish(b);
	assert_int_equal(layer_export(f.s, f.ps, t, NULL, &lb, NULL, &err), -ENOENT);
	assert_non_null(strstr(err->msg, "'lost'"));
	kl_error_freep(&err);
	tree_unref(t);
	fx_close(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_entries_in_tar_order_with_oci_names),
	    cmocka_unit_test(test_same_tree_same_bytes),
	    cmocka_unit_test(test_rewrite_timestamp_clamps_to_the_epoch),
	    cmocka_unit_test(test_explicit_root_is_dot_slash),
	    cmocka_unit_test(test_corrupt_store_blob_is_refused),
	    cmocka_unit_test(test_content_nowhere_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
