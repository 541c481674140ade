// SPDX-License-Identifier: Apache-2.0
/* Unit tests for solver/fileop-unpack: ADD of a local archive extracts tar, tar.gz, tar.bz2,
 * tar.xz and tar.zst (told by content) into the destination with tar extraction's rules, and
 * copies anything else as a file. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>

#include "tests/unit/solver/fileop-fixture.h"

enum filter { F_NONE, F_GZIP, F_BZIP2, F_XZ, F_ZSTD, _F_MAX };

struct member {
	const char *name;
	unsigned type; /* AE_IF* */
	unsigned mode;
	const char *data; /* regular files: content; symlinks and hardlinks: target */
};

/* An archive of members[0..n) in memory (caller frees). */
static char *
make_archive(enum filter f, const struct member *m, size_t n, size_t *ret_len)
{
	struct archive *a = archive_write_new();
	size_t cap = 1 << 20, used = 0;
	char *buf = xmalloc(cap);

	switch (f) {
	case F_GZIP:
		assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
		break;
	case F_BZIP2:
		assert_int_equal(archive_write_add_filter_bzip2(a), ARCHIVE_OK);
		break;
	case F_XZ:
		assert_int_equal(archive_write_add_filter_xz(a), ARCHIVE_OK);
		break;
	case F_ZSTD:
		assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
		break;
	default:
		break;
	}
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();

		archive_entry_set_pathname(e, m[i].name);
		archive_entry_set_mtime(e, 1500000000, 0);
		archive_entry_set_uid(e, 1);
		archive_entry_set_gid(e, 2);
		if (m[i].type == AE_IFREG + 1) { /* a hardlink */
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_hardlink(e, m[i].data);
		} else {
			archive_entry_set_filetype(e, m[i].type);
			archive_entry_set_perm(e, m[i].mode);
			if (m[i].type == AE_IFLNK)
				archive_entry_set_symlink(e, m[i].data);
			if (m[i].type == AE_IFREG)
				archive_entry_set_size(e, (la_int64_t)strlen(m[i].data));
		}
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (m[i].type == AE_IFREG)
			assert_int_equal(archive_write_data(a, m[i].data, strlen(m[i].data)),
			                 (la_ssize_t)strlen(m[i].data));
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	*ret_len = used;
	return buf;
}

#define HARDLINK (AE_IFREG + 1)

static const struct member members[] = {
    {"./", AE_IFDIR, 0750, NULL},
    {"etc/", AE_IFDIR, 0755, NULL},
    {"etc/conf", AE_IFREG, 0600, "first"},
    {"etc/conf", AE_IFREG, 0640, "second wins"}, /* a later entry replaces */
    {"etc/link", AE_IFLNK, 0777, "conf"},
    {"etc/hard", HARDLINK, 0, "etc/conf"},
    {"bin/tool", AE_IFREG, 0755, "#!/bin/sh\n"}, /* bin/ is implied */
    {".wh.notawhiteout", AE_IFREG, 0644, "plain here"},
    {"was-dir", AE_IFREG, 0644, "a file over dest's dir"},
};

/* A source tree holding one file with the given bytes. */
static struct tree *
source_with(struct fx *f, const char *name, const char *bytes, size_t len)
{
	struct spec s = fx_spec(f);
	struct tree_entry e = fx_entry(name, TREE_REG, 0644);

	assert_int_equal(store_ingest_buffer(f->store, bytes, len, &e.digest, NULL), 0);
	e.flags = TREE_ENTRY_HAS_DIGEST;
	e.size = len;
	fx_add(&s, &e);
	return fx_build(&s);
}

static struct tree *
dest_tree(struct fx *f)
{
	struct spec s = fx_spec(f);

	fx_file(&s, "opt/keep", "kept", 0644);
	fx_file(&s, "opt/was-dir/child", "gone after the archive's file", 0644);
	return fx_build(&s);
}

static struct graph_file_action
add_action(const char *src, const char *dest)
{
	struct graph_file_action a = fx_copy(src, dest);

	a.unpack = true;
	return a;
}

static void
check_extracted(const struct tree *t)
{
	struct tree_entry e;

	e = fx_get(t, "opt"); /* the archive's "./" */
	assert_int_equal(e.mode, 0750);
	assert_int_equal(e.uid, 1);
	assert_true(fx_lookup(t, "opt/keep", NULL)); /* merged with what was there */
	e = fx_get(t, "opt/etc/conf");
	assert_int_equal(e.size, 11);
	assert_int_equal(e.mode, 0640);
	assert_int_equal(e.mtime_sec, 1500000000); /* the archive's times */
	e = fx_get(t, "opt/etc/hard");
	assert_int_equal(e.type, TREE_HARDLINK);
	assert_string_equal(e.link, "opt/etc/conf");
	assert_string_equal(fx_get(t, "opt/etc/link").link, "conf");
	assert_int_equal(fx_get(t, "opt/bin").type, TREE_DIR);
	assert_int_equal(fx_get(t, "opt/.wh.notawhiteout").type, TREE_REG);
	assert_int_equal(fx_get(t, "opt/was-dir").type, TREE_REG);
	assert_false(fx_lookup(t, "opt/was-dir/child", NULL));
}

static void
test_archives_are_extracted_whatever_their_compression(void **state)
{
	static const char *names[] = {"a.tar", "a.tar.gz", "a.tar.bz2", "a.tar.xz", "a.tar.zst"};
	struct fx *f = *state;
	struct tree *dest = dest_tree(f);

	for (int k = F_NONE; k < _F_MAX; k++) {
		size_t len;
		char *bytes = make_archive((enum filter)k, members,
		                           sizeof(members) / sizeof(members[0]), &len);
		struct tree *src = source_with(f, names[k], bytes, len), *t;
		struct graph_file_action a = add_action(names[k], "/opt");
		const struct tree *in[] = {src};

		t = fx_run(f, dest, &a, 1, in, 1, NULL);
		check_extracted(t);
		assert_false(fx_lookup(t, "opt/a.tar", NULL));
		tree_unref(t);
		tree_unref(src);
		free(bytes);
	}
	tree_unref(dest);
}

static void
test_chown_applies_to_every_entry(void **state)
{
	struct fx *f = *state;
	size_t len;
	char *bytes = make_archive(F_GZIP, members, 3, &len);
	struct tree *src = source_with(f, "x.tgz", bytes, len), *t;
	struct graph_file_action a = add_action("x.tgz", "/new/dir");
	const struct tree *in[] = {src};

	a.owner.user = "42";
	t = fx_run(f, NULL, &a, 1, in, 1, NULL);
	assert_int_equal(fx_get(t, "new/dir/etc/conf").uid, 42);
	assert_int_equal(fx_get(t, "new/dir").uid, 42);
	assert_int_equal(fx_get(t, "new").uid, 42); /* made by MkdirAll with the owner */
	tree_unref(t);
	tree_unref(src);
	free(bytes);
}

static void
test_what_is_no_archive_is_copied(void **state)
{
	struct fx *f = *state;
	size_t len;
	char *empty = make_archive(F_GZIP, NULL, 0, &len);
	const struct {
		const char *name, *bytes;
		size_t len;
	} cases[] = {
	    {"notes.txt", "just text, not a tar", 20},
	    {"empty.tgz", empty, len}, /* an archive without entries: tar.Next fails */
	    {"empty", "", 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tree *src = source_with(f, cases[i].name, cases[i].bytes, cases[i].len), *t;
		struct graph_file_action a = add_action(cases[i].name, "/d/");
		const struct tree *in[] = {src};
		char *path = xasprintf("d/%s", cases[i].name);

		t = fx_run(f, NULL, &a, 1, in, 1, NULL);
		assert_int_equal(fx_get(t, path).size, cases[i].len);
		free(path);
		tree_unref(t);
		tree_unref(src);
	}
	free(empty);
}

static void
test_escaping_entries_are_errors(void **state)
{
	struct fx *f = *state;
	static const struct member bad[] = {{"../evil", AE_IFREG, 0644, "x"}};
	size_t len;
	char *bytes = make_archive(F_NONE, bad, 1, &len);
	struct tree *src = source_with(f, "bad.tar", bytes, len);

	fx_fails(f, NULL, add_action("bad.tar", "/d"), src, EBADMSG,
	         "archive '/bad.tar': '../evil' points outside the archive");
	tree_unref(src);
	free(bytes);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_archives_are_extracted_whatever_their_compression),
	    cmocka_unit_test(test_chown_applies_to_every_entry),
	    cmocka_unit_test(test_what_is_no_archive_is_copied),
	    cmocka_unit_test(test_escaping_entries_are_errors),
	};
	return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}
