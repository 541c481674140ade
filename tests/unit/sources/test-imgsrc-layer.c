// SPDX-License-Identifier: Apache-2.0
/* Unit tests for sources/imgsrc-layer: tar layers → diff trees (names, types, whiteouts, opaque
 * dirs, hardlinks, xattrs) and every bad tar refused with a message and nothing stored; eStargz
 * footers, TOC members and TOCs → diff trees of "layer:…:gz:…" locators, malformed ones refused. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <zlib.h>

#include "fs/store.h"
#include "fs/tree.h"
#include "fs/tree-writer.h"
#include "sources/imgsrc-internal.h"
#include "util/error.h"
#include "util/io.h"
#include "util/xalloc.h"
#include "../test-helpers.h"

struct fx {
	char *dir;
	struct store *store;
	char *tar;
};

struct ent {
	const char *name;
	int type;          /* AE_IF*; 0: hardlink */
	const char *data;  /* file contents, symlink or hardlink target */
	int64_t size;      /* -1: strlen(data) */
	const char *xattr; /* "name=value" or NULL */
};

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	struct store_options o = {.flags = STORE_NO_SYNC};
	char *root;

	f->dir = test_tmpdir();
	root = kl_path_join(f->dir, "store");
	assert_int_equal(store_open(root, &o, &f->store, NULL), 0);
	free(root);
	f->tar = kl_path_join(f->dir, "layer.tar");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	store_unref(f->store);
	free(f->tar);
	test_rmdir(f->dir);
	free(f);
	return 0;
}

/* Writes a tar (gzip when asked) of ents to f->tar. */
static void
write_tar(struct fx *f, const struct ent *ents, size_t n, bool gzip)
{
	struct archive *a = archive_write_new();

	archive_write_set_format_pax_restricted(a);
	if (gzip)
		archive_write_add_filter_gzip(a);
	assert_int_equal(archive_write_open_filename(a, f->tar), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		const struct ent *x = &ents[i];
		int64_t size = x->size >= 0 ? x->size : (int64_t)(x->data ? strlen(x->data) : 0);

		archive_entry_set_pathname(e, x->name);
		archive_entry_set_mtime(e, 1700000000, 5);
		archive_entry_set_uid(e, 1000);
		archive_entry_set_gid(e, 100);
		if (x->type == 0) {
			archive_entry_set_hardlink(e, x->data);
		} else {
			archive_entry_set_filetype(e, (unsigned)x->type);
			archive_entry_set_perm(e, x->type == AE_IFDIR ? 0755 : 0644);
		}
		if (x->type == AE_IFLNK)
			archive_entry_set_symlink(e, x->data);
		if (x->type == AE_IFCHR)
			archive_entry_set_rdev(e, makedev(1, 3));
		if (x->type == AE_IFREG)
			archive_entry_set_size(e, size);
		if (x->xattr) {
			const char *eq = strchr(x->xattr, '=');
			char *name = xstrndup(x->xattr, (size_t)(eq - x->xattr));

			archive_entry_xattr_add_entry(e, name, eq + 1, strlen(eq + 1));
			free(name);
		}
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (x->type == AE_IFREG && x->data)
			archive_write_data(a, x->data, strlen(x->data));
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
}

static int
convert(struct fx *f, const struct digest *blob, struct digest *ret, struct kl_error **err)
{
	int fd = open(f->tar, O_RDONLY | O_CLOEXEC), r;

	assert_true(fd >= 0);
	r = imgsrc_layer_from_tar(f->store, fd, blob, "test-layer", ret, err);
	close(fd);
	return r;
}

static struct tree *
load(struct fx *f, const struct ent *ents, size_t n, bool gzip)
{
	struct kl_error *err = NULL;
	struct tree *t;
	struct digest id;

	write_tar(f, ents, n, gzip);
	if (convert(f, NULL, &id, &err) < 0)
		fail_msg("converting: %s", err->msg);
	assert_int_equal(tree_load(f->store, &id, &t, NULL), 0);
	return t;
}

static void
entry(const struct tree *t, const char *path, struct tree_entry *ret)
{
	uint32_t idx;

	if (tree_lookup(t, path, strlen(path), &idx) < 0)
		fail_msg("no entry '%s'", path);
	tree_entry_at(t, idx, ret);
}

static void
test_entries_become_tree_entries(void **state)
{
	static const struct ent ents[] = {
	    {"./", AE_IFDIR, NULL, 0, NULL},
	    {"./bin/", AE_IFDIR, NULL, 0, NULL},
	    {"./bin/busybox", AE_IFREG, "#!busybox", -1, "user.k=v"},
	    {"./bin/sh", AE_IFLNK, "/bin/busybox", -1, NULL},
	    {"./bin/ash", 0, "./bin/busybox", -1, NULL},
	    {"/dev/null", AE_IFCHR, NULL, 0, NULL},
	    {"dev/fifo", AE_IFIFO, NULL, 0, NULL},
	    {"empty", AE_IFREG, NULL, 0, NULL},
	};
	struct fx *f = *state;
	struct tree *t = load(f, ents, sizeof(ents) / sizeof(ents[0]), true);
	struct tree_entry e;
	struct tree_xattr x;
	char *buf;
	size_t len;

	entry(t, "bin/busybox", &e);
	assert_int_equal(e.type, TREE_REG);
	assert_int_equal(e.size, 9);
	assert_int_equal(e.uid, 1000);
	assert_int_equal(e.mtime_sec, 1700000000);
	assert_int_equal(e.mode, 0644);
	assert_true(e.flags & TREE_ENTRY_HAS_DIGEST);
	assert_int_equal(store_read_blob(f->store, &e.digest, 100, &buf, &len, NULL), 0);
	assert_memory_equal(buf, "#!busybox", 9);
	free(buf);
	assert_int_equal(e.n_xattrs, 1);
	tree_entry_xattr(t, &e, 0, &x);
	assert_string_equal(x.name, "user.k");
	entry(t, "bin/sh", &e);
	assert_int_equal(e.type, TREE_SYMLINK);
	assert_memory_equal(e.link, "/bin/busybox", 12);
	entry(t, "bin/ash", &e);
	assert_int_equal(e.type, TREE_HARDLINK);
	assert_memory_equal(e.link, "bin/busybox", 11);
	entry(t, "dev/null", &e);
	assert_int_equal(e.type, TREE_CHAR);
	assert_int_equal(e.rdev, makedev(1, 3));
	entry(t, "dev/fifo", &e);
	assert_int_equal(e.type, TREE_FIFO);
	entry(t, "empty", &e);
	assert_int_equal(e.type, TREE_REG);
	assert_int_equal(e.size, 0);
	tree_unref(t);
}

static void
test_whiteouts_and_opaque_dirs(void **state)
{
	static const struct ent lower[] = {
	    {"etc/", AE_IFDIR, NULL, 0, NULL},    {"etc/a", AE_IFREG, "a", -1, NULL},
	    {"etc/b", AE_IFREG, "b", -1, NULL},   {"var/", AE_IFDIR, NULL, 0, NULL},
	    {"var/old", AE_IFREG, "o", -1, NULL},
	};
	static const struct ent upper[] = {
	    {"etc/", AE_IFDIR, NULL, 0, NULL},    {"etc/.wh.a", AE_IFREG, NULL, 0, NULL},
	    {"var/", AE_IFDIR, NULL, 0, NULL},    {"var/.wh..wh..opq", AE_IFREG, NULL, 0, NULL},
	    {"var/new", AE_IFREG, "n", -1, NULL}, {".wh..wh.plnk/", AE_IFDIR, NULL, 0, NULL},
	};
	struct fx *f = *state;
	struct tree *lo = load(f, lower, 5, false), *up = load(f, upper, 6, true), *merged;
	struct tree_writer *w;
	struct tree_entry e;
	uint32_t idx;

	entry(up, "etc/a", &e);
	assert_int_equal(e.type, TREE_WHITEOUT);
	entry(up, "var", &e);
	assert_true(e.flags & TREE_ENTRY_OPAQUE);
	assert_int_equal(tree_lookup(up, "var/.wh..wh..opq", 16, &idx), -ENOENT);
	assert_int_equal(tree_apply(lo, up, &w, NULL), 0);
	assert_int_equal(tree_writer_finish_tree(w, &merged, NULL), 0);
	tree_writer_free(w);
	assert_int_equal(tree_lookup(merged, "etc/a", 5, &idx), -ENOENT);
	assert_int_equal(tree_lookup(merged, "etc/b", 5, &idx), 0);
	assert_int_equal(tree_lookup(merged, "var/old", 7, &idx), -ENOENT);
	assert_int_equal(tree_lookup(merged, "var/new", 7, &idx), 0);
	tree_unref(merged);
	tree_unref(lo);
	tree_unref(up);
}

/* Counts blobs by listing the content directory (not store_foreach_blob, whose dup'd directory
 * fd shares its offset with the store's, so a second walk sees nothing). */
static int
blob_count(struct fx *f)
{
	char *p = xasprintf("%s/content/sha256", store_root(f->store));
	DIR *d = opendir(p);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	free(p);
	return n;
}

/* The bad tar is refused with a message holding pattern, and the store gains nothing. */
static void
expect_bad(struct fx *f, const struct digest *blob, const char *pattern)
{
	struct kl_error *err = NULL;
	struct digest id;
	int before = blob_count(f);

	if (convert(f, blob, &id, &err) >= 0)
		fail_msg("a bad layer was accepted (wanted '%s')", pattern);
	assert_non_null(err);
	if (!strstr(err->msg, pattern))
		fail_msg("message '%s' lacks '%s'", err->msg, pattern);
	assert_non_null(strstr(err->msg, "test-layer"));
	kl_error_free(err);
	if (blob_count(f) != before)
		fail_msg("the store went from %d to %d blobs", before, blob_count(f));
}

static void
bad_tar(struct fx *f, const struct ent *ents, size_t n, const char *pattern)
{
	write_tar(f, ents, n, true);
	expect_bad(f, NULL, pattern);
}

static void
test_escaping_names_are_refused(void **state)
{
	static const struct ent e1[] = {{"../evil", AE_IFREG, "x", -1, NULL}};
	static const struct ent e2[] = {{"a/../../evil", AE_IFREG, "x", -1, NULL}};
	static const struct ent e3[] = {{"ok", AE_IFREG, "x", -1, NULL},
	                                {"link", 0, "../ok", -1, NULL}};
	static const struct ent e4[] = {{"x/.wh...", AE_IFREG, NULL, 0, NULL}};

	bad_tar(*state, e1, 1, "escapes the root");
	bad_tar(*state, e2, 1, "escapes the root");
	bad_tar(*state, e3, 2, "outside the layer");
	bad_tar(*state, e4, 1, "bad whiteout");
}

static void
test_bad_hardlinks_are_refused(void **state)
{
	static const struct ent e1[] = {{"link", 0, "missing", -1, NULL}};
	static const struct ent e2[] = {{"d/", AE_IFDIR, NULL, 0, NULL},
	                                {"link", 0, "d", -1, NULL}};
	static const struct ent e3[] = {{"a", 0, "b", -1, NULL}, {"b", 0, "a", -1, NULL}};
	static const struct ent e4[] = {{"self", 0, "self", -1, NULL}};

	bad_tar(*state, e1, 1, "not a file of this layer");
	bad_tar(*state, e2, 2, "hardlink 'link' to 'd', which is a directory");
	bad_tar(*state, e3, 2, "not a file of this layer");
	bad_tar(*state, e4, 1, "not a file of this layer");
}

static void
test_hardlink_to_a_symlink_becomes_a_copy(void **state)
{
	static const struct ent ents[] = {{"s", AE_IFLNK, "/target", -1, NULL},
	                                  {"h", 0, "s", -1, NULL}};
	struct tree *t = load(*state, ents, 2, false);
	struct tree_entry e;

	entry(t, "h", &e);
	assert_int_equal(e.type, TREE_SYMLINK);
	assert_memory_equal(e.link, "/target", 7);
	tree_unref(t);
}

/* The digest of "contents". */
static void
assert_content(struct fx *f, const struct tree_entry *e, const char *want)
{
	char *buf;
	size_t len;

	assert_true(e->flags & TREE_ENTRY_HAS_DIGEST);
	assert_int_equal(store_read_blob(f->store, &e->digest, 100, &buf, &len, NULL), 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(buf, want, len);
	free(buf);
}

static void
test_a_later_entry_replaces_an_earlier_one(void **state)
{
	static const struct ent ents[] = {
	    {"./", AE_IFDIR, NULL, 0, NULL},      {".", AE_IFDIR, NULL, 0, "user.root=1"},
	    {"a", AE_IFREG, "1", -1, NULL},       {"./a", AE_IFREG, "2", -1, NULL},
	    {"d/", AE_IFDIR, NULL, 0, NULL},      {"d/x", AE_IFREG, "x", -1, NULL},
	    {"d", AE_IFDIR, NULL, 0, "user.d=2"}, {"f", AE_IFREG, "f", -1, NULL},
	    {"f/", AE_IFDIR, NULL, 0, NULL},      {"g/", AE_IFDIR, NULL, 0, NULL},
	    {"g/y", AE_IFREG, "y", -1, NULL},     {"g", AE_IFLNK, "/target", -1, NULL},
	};
	struct fx *f = *state;
	struct tree *t = load(f, ents, sizeof(ents) / sizeof(ents[0]), true);
	struct tree_entry e;
	uint32_t idx;

	entry(t, "", &e);
	assert_false(e.flags & TREE_ENTRY_IMPLICIT);
	assert_int_equal(e.uid, 1000);
	assert_int_equal(e.n_xattrs, 1);
	entry(t, "a", &e);
	assert_content(f, &e, "2");
	entry(t, "d", &e);
	assert_int_equal(e.n_xattrs, 1);
	entry(t, "d/x", &e);
	assert_content(f, &e, "x");
	entry(t, "f", &e);
	assert_int_equal(e.type, TREE_DIR);
	assert_true(e.flags & TREE_ENTRY_OPAQUE); /* the file removed lower's f first */
	entry(t, "g", &e);
	assert_int_equal(e.type, TREE_SYMLINK);
	assert_int_equal(tree_lookup(t, "g/y", 3, &idx), -ENOENT);
	tree_unref(t);
}

static void
test_whiteouts_hide_only_lower_layers_in_any_order(void **state)
{
	static const struct ent ents[] = {
	    {".wh.d", AE_IFREG, NULL, 0, NULL},  {"d/", AE_IFDIR, NULL, 0, NULL},
	    {"d/in", AE_IFREG, "in", -1, NULL},  {"e/x", AE_IFREG, "x", -1, NULL},
	    {".wh.e", AE_IFREG, NULL, 0, NULL},  {"o/.wh..wh..opq", AE_IFREG, NULL, 0, NULL},
	    {"o/kept", AE_IFREG, "k", -1, NULL}, {"f", AE_IFREG, "f", -1, NULL},
	    {".wh.f", AE_IFREG, NULL, 0, NULL},  {".wh.gone", AE_IFREG, NULL, 0, NULL},
	};
	struct fx *f = *state;
	struct tree *t = load(f, ents, sizeof(ents) / sizeof(ents[0]), false);
	struct tree_entry e;

	entry(t, "d", &e);
	assert_int_equal(e.type, TREE_DIR);
	assert_int_equal(e.flags & (TREE_ENTRY_OPAQUE | TREE_ENTRY_IMPLICIT), TREE_ENTRY_OPAQUE);
	entry(t, "d/in", &e);
	assert_content(f, &e, "in");
	entry(t, "e", &e);
	assert_int_equal(e.flags & (TREE_ENTRY_OPAQUE | TREE_ENTRY_IMPLICIT), TREE_ENTRY_OPAQUE);
	assert_int_equal(e.mode, 0755);
	assert_int_equal(e.uid, 0);
	entry(t, "e/x", &e);
	assert_content(f, &e, "x");
	entry(t, "o", &e);
	assert_int_equal(e.flags & (TREE_ENTRY_OPAQUE | TREE_ENTRY_IMPLICIT),
	                 TREE_ENTRY_OPAQUE | TREE_ENTRY_IMPLICIT);
	entry(t, "o/kept", &e);
	entry(t, "f", &e);
	assert_int_equal(e.type, TREE_REG);
	entry(t, "gone", &e);
	assert_int_equal(e.type, TREE_WHITEOUT);
	tree_unref(t);
}

static void
test_a_hardlink_keeps_what_its_target_held(void **state)
{
	static const struct ent ents[] = {
	    {"a", AE_IFREG, "old", -1, NULL},
	    {"l1", 0, "a", -1, NULL},
	    {"./l0", 0, "./a", -1, NULL},
	    {"a", AE_IFREG, "new", -1, NULL},
	};
	struct fx *f = *state;
	struct tree *t = load(f, ents, sizeof(ents) / sizeof(ents[0]), true);
	struct tree_entry e;

	entry(t, "a", &e);
	assert_content(f, &e, "new");
	entry(t, "l0", &e);
	assert_int_equal(e.type, TREE_REG);
	assert_content(f, &e, "old");
	entry(t, "l1", &e);
	assert_int_equal(e.type, TREE_HARDLINK);
	assert_memory_equal(e.link, "l0", 2);
	tree_unref(t);
}

static void
test_an_entry_below_a_file_is_refused(void **state)
{
	static const struct ent e1[] = {{"f", AE_IFREG, "1", -1, NULL},
	                                {"f/x", AE_IFREG, "2", -1, NULL}};

	bad_tar(*state, e1, 2, "layer test-layer: 'f/x' is below 'f', which is not a directory");
}

static void
test_an_empty_layer_is_an_empty_tree(void **state)
{
	struct fx *f = *state;
	char zeros[1024] = {0};
	struct kl_error *err = NULL;
	struct digest id;
	struct tree *t;
	int fd = open(f->tar, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_int_equal(write(fd, zeros, sizeof(zeros)), (ssize_t)sizeof(zeros));
	close(fd);
	if (convert(f, NULL, &id, &err) < 0)
		fail_msg("converting: %s", err->msg);
	assert_int_equal(tree_load(f->store, &id, &t, NULL), 0);
	assert_int_equal(tree_count(t), 1);
	tree_unref(t);
}

static void
test_opaque_marker_in_a_file_is_refused(void **state)
{
	static const struct ent e1[] = {{"f", AE_IFREG, "1", -1, NULL},
	                                {"f/.wh..wh..opq", AE_IFREG, NULL, 0, NULL}};

	bad_tar(*state, e1, 2, "not a directory");
}

static void
truncate_file(const char *path, off_t keep)
{
	assert_int_equal(truncate(path, keep), 0);
}

static void
test_truncated_and_corrupt_blobs_are_refused(void **state)
{
	static const struct ent ents[] = {
	    {"big", AE_IFREG, NULL, 0, NULL}, /* filled below */
	};
	struct fx *f = *state;
	char *data = xmalloc(300001);
	struct ent e[1] = {ents[0]};
	struct stat st;
	int fd;

	for (size_t i = 0; i < 300000; i++)
		data[i] = (char)('a' + (i * 7919) % 26);
	data[300000] = '\0';
	e[0].data = data;
	e[0].size = -1;
	{
		/* Intact, it round-trips (contents larger than one read of the compressed blob). */
		struct tree *t = load(f, e, 1, true);
		struct tree_entry te;
		char *buf;
		size_t len;

		entry(t, "big", &te);
		assert_int_equal(store_read_blob(f->store, &te.digest, 1u << 20, &buf, &len, NULL),
		                 0);
		assert_int_equal(len, 300000);
		assert_memory_equal(buf, data, 300000);
		free(buf);
		tree_unref(t);
	}
	write_tar(f, e, 1, true);
	assert_int_equal(stat(f->tar, &st), 0);
	truncate_file(f->tar, st.st_size / 2);
	expect_bad(f, NULL, "test-layer");

	write_tar(f, e, 1, true);
	fd = open(f->tar, O_WRONLY);
	assert_int_equal(pwrite(fd, "garbage!", 8, st.st_size / 3), 8);
	close(fd);
	expect_bad(f, NULL, "test-layer");

	write_tar(f, e, 1, false);
	truncate_file(f->tar, 1024);
	expect_bad(f, NULL, "test-layer");
	free(data);
}

static void
test_a_blob_that_does_not_match_its_digest_stores_nothing(void **state)
{
	static const struct ent ents[] = {{"f", AE_IFREG, "contents", -1, NULL}};
	struct fx *f = *state;
	struct digest wrong;

	write_tar(f, ents, 1, true);
	digest_buffer("not this", 8, &wrong);
	expect_bad(f, &wrong, "does not match its digest");
}

static void
test_absurd_sizes_are_refused(void **state)
{
	struct fx *f = *state;
	char hdr[1536] = {0};
	unsigned sum = 0;
	int fd;

	/* A ustar header claiming a file of 2^60 bytes, then nothing. */
	strcpy(hdr, "huge");
	memcpy(hdr + 100, "0000644", 7);
	memcpy(hdr + 108, "0000000", 7);
	memcpy(hdr + 116, "0000000", 7);
	hdr[124] = (char)0x80; /* base-256 size */
	hdr[124 + 4] = 0x10;
	memcpy(hdr + 136, "14000000000", 11);
	hdr[156] = '0';
	memcpy(hdr + 257, "ustar", 6);
	memcpy(hdr + 263, "00", 2);
	memset(hdr + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += (unsigned char)hdr[i];
	snprintf(hdr + 148, 8, "%06o", sum);
	fd = open(f->tar, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(write(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	close(fd);
	expect_bad(f, NULL, "test-layer");
}

static void
test_garbage_is_not_a_tar(void **state)
{
	struct fx *f = *state;
	int fd = open(f->tar, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_int_equal(write(fd, "this is not a tar archive at all, not even close", 48), 48);
	close(fd);
	expect_bad(f, NULL, "test-layer");
}

/* eStargz. */

/* A gzip member of buf (zlib, gzip wrapper). */
static char *
gzip_member(const void *buf, size_t len, size_t *ret_len)
{
	z_stream z = {0};
	size_t cap = len + 1024;
	char *out = xmalloc(cap);

	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
	                 Z_OK);
	z.next_in = (Bytef *)buf;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	*ret_len = cap - z.avail_out;
	deflateEnd(&z);
	return out;
}

static void
make_footer(char out[51], uint64_t toc_off)
{
	static const char head[] = "\x1f\x8b\x08\x04\0\0\0\0\0\xff\x1a\0SG\x16\0";
	char extra[23];

	memcpy(out, head, 16);
	snprintf(extra, sizeof(extra), "%016" PRIx64 "STARGZ", toc_off);
	memcpy(out + 16, extra, 22);
	memcpy(out + 38, "\x01\0\0\xff\xff\0\0\0\0\0\0\0\0", 13);
}

static void
test_estargz_footer(void **state)
{
	char footer[51];
	uint64_t off = 0;

	(void)state;
	make_footer(footer, 0x1234);
	assert_int_equal(imgsrc_estargz_footer(footer, 51, 10000, &off), 51);
	assert_int_equal(off, 0x1234);
	/* the TOC must start before the footer */
	assert_int_equal(imgsrc_estargz_footer(footer, 51, 0x1234 + 51, &off), -EINVAL);
	assert_int_equal(imgsrc_estargz_footer(footer, 47, 10000, &off), -EINVAL);
	footer[33] = 'X'; /* "SXARGZ" */
	assert_int_equal(imgsrc_estargz_footer(footer, 51, 10000, &off), -EINVAL);
	make_footer(footer, 0x1234);
	footer[20] = 'g'; /* not hex */
	assert_int_equal(imgsrc_estargz_footer(footer, 51, 10000, &off), -EINVAL);
	make_footer(footer, 0x1234);
	footer[0] = 0; /* not gzip */
	assert_int_equal(imgsrc_estargz_footer(footer, 51, 10000, &off), -EINVAL);
}

/* Legacy stargz's 47-byte footer: XLEN 22 holding "%016xSTARGZ" with no subfield header. */
static void
make_legacy_footer(char out[47], uint64_t toc_off)
{
	static const char head[] = "\x1f\x8b\x08\x04\0\0\0\0\0\xff\x16\0";
	char extra[23];

	memcpy(out, head, 12);
	snprintf(extra, sizeof(extra), "%016" PRIx64 "STARGZ", toc_off);
	memcpy(out + 12, extra, 22);
	memcpy(out + 34, "\x01\0\0\xff\xff\0\0\0\0\0\0\0\0", 13);
}

static void
test_legacy_stargz_footer(void **state)
{
	char tail[51];
	uint64_t off = 0;

	(void)state;
	/* the caller reads the last 51 bytes: 4 bytes of the TOC member, then the footer */
	memset(tail, 0, 4);
	make_legacy_footer(tail + 4, 0xabcdef);
	assert_int_equal(imgsrc_estargz_footer(tail, 51, 20000000, &off), 47);
	assert_int_equal(off, 0xabcdef);
	/* a blob shorter than 51 bytes is read whole */
	make_legacy_footer(tail + 1, 0);
	assert_int_equal(imgsrc_estargz_footer(tail, 48, 48, &off), 47);
	assert_int_equal(off, 0);
	assert_int_equal(imgsrc_estargz_footer(tail + 1, 47, 47, &off), -EINVAL);
	/* the TOC must start before the footer; len cannot exceed the blob */
	make_legacy_footer(tail + 4, 0x1234);
	assert_int_equal(imgsrc_estargz_footer(tail, 51, 0x1234 + 47, &off), -EINVAL);
	assert_int_equal(imgsrc_estargz_footer(tail, 51, 0x1234 + 48, &off), 47);
	assert_int_equal(imgsrc_estargz_footer(tail, 51, 50, &off), -EINVAL);
	/* eStargz's XLEN over the legacy layout makes it neither footer */
	tail[4 + 10] = 26;
	assert_int_equal(imgsrc_estargz_footer(tail, 51, 10000, &off), -EINVAL);
	make_legacy_footer(tail + 4, 0x1234);
	tail[4 + 28] = 's'; /* "sTARGZ" */
	assert_int_equal(imgsrc_estargz_footer(tail, 51, 10000, &off), -EINVAL);
	make_legacy_footer(tail + 4, 0x1234);
	tail[4 + 12] = 'A'; /* uppercase hex is not what the writers print */
	assert_int_equal(imgsrc_estargz_footer(tail, 51, 10000, &off), -EINVAL);
	assert_int_equal(off, 0x1234); /* failures leave it alone */
}

static void
test_garbage_is_no_footer(void **state)
{
	char buf[51];
	uint64_t off = 7;

	(void)state;
	memset(buf, 0, sizeof(buf));
	assert_int_equal(imgsrc_estargz_footer(buf, 51, 10000, &off), -EINVAL);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(imgsrc_estargz_footer(buf, 51, 10000, &off), -EINVAL);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 37 + 11);
	assert_int_equal(imgsrc_estargz_footer(buf, 51, 10000, &off), -EINVAL);
	/* a footer's bytes, but short: neither size fits */
	make_legacy_footer(buf, 0x10);
	assert_int_equal(imgsrc_estargz_footer(buf, 46, 10000, &off), -EINVAL);
	assert_int_equal(imgsrc_estargz_footer(buf, 0, 10000, &off), -EINVAL);
	assert_int_equal(off, 7);
}

/* The TOC member: a tar of name holding json (then the tar's end), gzipped. */
static char *
toc_member(const char *name, const char *json, size_t *ret_len)
{
	size_t len = strlen(json), tar_len = 512 + (len + 511) / 512 * 512 + 1024;
	char *tar = xcalloc(1, tar_len), *z;
	unsigned sum = 0;

	snprintf(tar, 100, "%s", name);
	memcpy(tar + 100, "0000644", 7);
	snprintf(tar + 124, 12, "%011o", (unsigned)len);
	tar[156] = '0';
	memcpy(tar + 257, "ustar", 6);
	memset(tar + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += (unsigned char)tar[i];
	snprintf(tar + 148, 8, "%06o", sum);
	memcpy(tar + 512, json, len);
	z = gzip_member(tar, tar_len, ret_len);
	free(tar);
	return z;
}

static void
test_estargz_toc_member(void **state)
{
	struct kl_error *err = NULL;
	char *z, *json = NULL;
	size_t z_len, len;

	(void)state;
	z = toc_member("stargz.index.json", "{\"version\":1,\"entries\":[]}", &z_len);
	assert_int_equal(imgsrc_estargz_toc(z, z_len, &json, &len, &err), 0);
	assert_string_equal(json, "{\"version\":1,\"entries\":[]}");
	assert_int_equal(len, strlen(json));
	free(json);
	/* truncated, then corrupt */
	assert_int_equal(imgsrc_estargz_toc(z, z_len / 2, &json, &len, &err), -EBADMSG);
	assert_non_null(strstr(err->msg, "table of contents"));
	kl_error_freep(&err);
	z[z_len / 2] ^= 0x55;
	z[z_len - 3] ^= 0x55;
	assert_int_equal(imgsrc_estargz_toc(z, z_len, &json, &len, &err), -EBADMSG);
	kl_error_freep(&err);
	free(z);
	/* some other file where the TOC should be */
	z = toc_member("etc/passwd", "{}", &z_len);
	assert_int_equal(imgsrc_estargz_toc(z, z_len, &json, &len, &err), -EBADMSG);
	assert_non_null(strstr(err->msg, "stargz.index.json"));
	kl_error_freep(&err);
	free(z);
}

static const char estargz_toc[] =
    "{\"version\":1,\"entries\":["
    "{\"name\":\"etc\",\"type\":\"dir\",\"mode\":493,\"modtime\":\"2023-11-14T22:13:20Z\"},"
    "{\"name\":\"etc/motd\",\"type\":\"reg\",\"size\":5,\"mode\":420,\"uid\":1000,"
    "\"offset\":100,\"digest\":\"sha256:"
    "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\","
    "\"xattrs\":{\"user.k\":\"dmFsdWU=\"}},"
    "{\"name\":\"big\",\"type\":\"reg\",\"size\":10,\"offset\":200,\"chunkSize\":4,"
    "\"digest\":\"sha256:"
    "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\"},"
    "{\"name\":\"big\",\"type\":\"chunk\",\"offset\":300,\"chunkOffset\":4,\"chunkSize\":4},"
    "{\"name\":\"big\",\"type\":\"chunk\",\"offset\":400,\"chunkOffset\":8,\"chunkSize\":2},"
    "{\"name\":\"empty\",\"type\":\"reg\",\"size\":0},"
    "{\"name\":\"link\",\"type\":\"symlink\",\"linkName\":\"etc/motd\"},"
    "{\"name\":\"etc/hard\",\"type\":\"hardlink\",\"linkName\":\"etc/motd\"},"
    "{\"name\":\"null\",\"type\":\"char\",\"devMajor\":1,\"devMinor\":3},"
    "{\"name\":\".wh.gone\",\"type\":\"reg\",\"size\":0},"
    "{\"name\":\"last\",\"type\":\"reg\",\"size\":1,\"offset\":500,\"digest\":\"sha256:"
    "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\"},"
    "{\"name\":\".prefetch.landmark\",\"type\":\"reg\",\"size\":1,\"offset\":550,"
    "\"digest\":\"sha256:"
    "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\"}"
    "]}";

static void
expect_locator(const struct tree *t, const char *path, const char *want)
{
	struct tree_entry e;

	entry(t, path, &e);
	assert_true(e.flags & TREE_ENTRY_HAS_DIGEST);
	if (e.locator_len != strlen(want) || memcmp(e.locator, want, e.locator_len))
		fail_msg("'%s': locator '%.*s', wanted '%s'", path, (int)e.locator_len, e.locator,
		         want);
}

static void
test_estargz_toc_becomes_locators(void **state)
{
	struct fx *f = *state;
	struct kl_error *err = NULL;
	char hex[DIGEST_HEX_LEN + 1], *want;
	struct tree *t;
	struct tree_entry e;
	struct digest blob, id;
	uint32_t idx;

	digest_buffer("blob", 4, &blob);
	digest_to_hex(&blob, hex);
	if (imgsrc_layer_from_estargz_toc(f->store, estargz_toc, strlen(estargz_toc), &blob, 600,
	                                  "test-layer", &id, &err) < 0)
		fail_msg("converting: %s", err->msg);
	assert_int_equal(tree_load(f->store, &id, &t, NULL), 0);
	/* a member runs to the next member with content; the last one to the TOC */
	want = xasprintf("layer:%s:gz:100:100", hex);
	expect_locator(t, "etc/motd", want);
	free(want);
	want = xasprintf("layer:%s:gz:200:300", hex); /* its chunks at 300 and 400 */
	expect_locator(t, "big", want);
	free(want);
	want = xasprintf("layer:%s:gz:500:50", hex);
	expect_locator(t, "last", want);
	free(want);
	entry(t, "etc/motd", &e);
	assert_int_equal(e.size, 5);
	assert_int_equal(e.mode, 0644);
	assert_int_equal(e.uid, 1000);
	assert_int_equal(e.n_xattrs, 1);
	entry(t, "etc", &e);
	assert_int_equal(e.type, TREE_DIR);
	assert_int_equal(e.mtime_sec, 1700000000);
	entry(t, "empty", &e);
	assert_int_equal(e.type, TREE_REG);
	assert_int_equal(e.locator_len, 0);
	entry(t, "link", &e);
	assert_int_equal(e.type, TREE_SYMLINK);
	entry(t, "null", &e);
	assert_int_equal(e.rdev, makedev(1, 3));
	entry(t, "gone", &e);
	assert_int_equal(e.type, TREE_WHITEOUT);
	assert_int_equal(tree_lookup(t, ".prefetch.landmark", 18, &idx), -ENOENT);
	tree_unref(t);
}

static void
expect_bad_toc(struct fx *f, const char *toc, const char *pattern)
{
	struct kl_error *err = NULL;
	struct digest blob, id;
	int before = blob_count(f);

	digest_buffer("blob", 4, &blob);
	if (imgsrc_layer_from_estargz_toc(f->store, toc, strlen(toc), &blob, 600, "test-layer", &id,
	                                  &err) >= 0)
		fail_msg("a bad TOC was accepted (wanted '%s')", pattern);
	if (!strstr(err->msg, pattern) || !strstr(err->msg, "test-layer"))
		fail_msg("message '%s' lacks '%s' or the layer", err->msg, pattern);
	kl_error_free(err);
	if (blob_count(f) != before)
		fail_msg("the store went from %d to %d blobs", before, blob_count(f));
}

static void
test_malformed_estargz_tocs_are_refused(void **state)
{
	struct fx *f = *state;

	expect_bad_toc(f, "{\"version\":1,", "malformed JSON");
	expect_bad_toc(f, "{\"version\":1}", "without entries");
	expect_bad_toc(f, "{\"entries\":[{\"name\":\"a\",\"type\":\"socket\"}]}", "unknown type");
	/* content without an offset, or past the TOC */
	expect_bad_toc(
	    f,
	    "{\"entries\":[{\"name\":\"a\",\"type\":\"reg\",\"size\":3,\"digest\":"
	    "\"sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\"}]}",
	    "byte range");
	expect_bad_toc(f,
	               "{\"entries\":[{\"name\":\"a\",\"type\":\"reg\",\"size\":3,\"offset\":700,"
	               "\"digest\":\"sha256:"
	               "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\"}]}",
	               "byte range");
	expect_bad_toc(f,
	               "{\"entries\":[{\"name\":\"a\",\"type\":\"reg\",\"size\":3,\"offset\":9}]}",
	               "digest");
	expect_bad_toc(f, "{\"entries\":[{\"name\":\"../x\",\"type\":\"dir\"}]}", "escapes");
	expect_bad_toc(f, "{\"entries\":[{\"name\":\"a\",\"type\":\"dir\",\"modtime\":\"noon\"}]}",
	               "bad modtime");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_entries_become_tree_entries, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_whiteouts_and_opaque_dirs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_escaping_names_are_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_hardlinks_are_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hardlink_to_a_symlink_becomes_a_copy, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_a_later_entry_replaces_an_earlier_one, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_whiteouts_hide_only_lower_layers_in_any_order,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_hardlink_keeps_what_its_target_held, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_an_entry_below_a_file_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_an_empty_layer_is_an_empty_tree, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_opaque_marker_in_a_file_is_refused, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_truncated_and_corrupt_blobs_are_refused, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_blob_that_does_not_match_its_digest_stores_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_absurd_sizes_are_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_garbage_is_not_a_tar, setup, teardown),
	    cmocka_unit_test(test_estargz_footer),
	    cmocka_unit_test(test_legacy_stargz_footer),
	    cmocka_unit_test(test_garbage_is_no_footer),
	    cmocka_unit_test(test_estargz_toc_member),
	    cmocka_unit_test_setup_teardown(test_estargz_toc_becomes_locators, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_estargz_tocs_are_refused, setup,
	                                    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
