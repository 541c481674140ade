// SPDX-License-Identifier: Apache-2.0
/* Unit tests for exporters/layer-tar-header.c: ustar fields byte for byte, PAX headers only
 * where ustar cannot say it (long unsplittable or non-ASCII names, long links, big ids and sizes,
 * sub-second and negative times, xattrs), records sorted and self-counting, bad input refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/compress-internal.h"
#include "exporters/layer-internal.h"
#include "fs/tree.h"
#include "util/error.h"
#include "util/xalloc.h"

struct hdr {
	char *buf;
	size_t cap, len;
};

static void
hdr_done(struct hdr *h)
{
	free(h->buf);
	*h = (struct hdr){0};
}

static struct compress_entry
file_entry(const char *name)
{
	return (struct compress_entry){.name = name,
	                               .name_len = strlen(name),
	                               .type = COMPRESS_TAR_REG,
	                               .mode = 0644,
	                               .uid = 1000,
	                               .gid = 100,
	                               .mtime_sec = 1700000000,
	                               .size = 6};
}

static void
header(const struct compress_entry *e, struct hdr *h)
{
	struct kl_error *err = NULL;

	assert_int_equal(layer_tar_header(e, &h->buf, &h->cap, &h->len, &err), 0);
	assert_null(err);
	assert_int_equal(h->len % 512, 0);
}

/* The checksum field holds the sum of the block's bytes with the field read as spaces. */
static void
assert_checksum(const char *b)
{
	unsigned sum = 0;
	char want[8];

	for (int i = 0; i < 512; i++)
		sum += (unsigned char)(i >= 148 && i < 156 ? ' ' : b[i]);
	snprintf(want, sizeof(want), "%06o", sum);
	assert_memory_equal(b + 148, want, 6);
	assert_int_equal(b[154], '\0');
	assert_int_equal(b[155], ' ');
}

/* The records of a PAX header block pair at b: each "%d k=v\n" counts itself. Returns them
 * joined by '|' without the lengths, for comparison. */
static char *
pax_records(const char *b)
{
	unsigned long size = strtoul(b + 124, NULL, 8);
	const char *p = b + 512, *end = p + size;
	char *out = xstrdup("");

	assert_int_equal(b[156], 'x');
	assert_checksum(b);
	while (p < end) {
		char *sp;
		unsigned long n = strtoul(p, &sp, 10);
		char *next;

		assert_int_equal(*sp, ' ');
		assert_true(p + n <= end);
		assert_int_equal(p[n - 1], '\n');
		next = xasprintf("%s%s%.*s", out, *out ? "|" : "", (int)(p + n - 1 - (sp + 1)),
		                 sp + 1);
		free(out);
		out = next;
		p += n;
	}
	return out;
}

static void
test_short_file_is_one_ustar_block(void **state)
{
	struct compress_entry e = file_entry("dir/file");
	struct hdr h = {0};
	char block[512] = {0};

	(void)state;
	header(&e, &h);
	assert_int_equal(h.len, 512);
	/* what Go's archive/tar writes for the same header */
	memcpy(block, "dir/file", 8);
	memcpy(block + 100, "0000644", 8);
	memcpy(block + 108, "0001750", 8);
	memcpy(block + 116, "0000144", 8);
	memcpy(block + 124, "00000000006", 12);
	memcpy(block + 136, "14524770400", 12);
	block[156] = '0';
	memcpy(block + 257,
	       "ustar\0"
	       "00",
	       8);
	memcpy(block + 329, "0000000", 8);
	memcpy(block + 337, "0000000", 8);
	memcpy(block + 148, h.buf + 148, 8);
	assert_memory_equal(h.buf, block, 512);
	assert_checksum(h.buf);
	hdr_done(&h);
}

static void
test_long_name_splits_into_prefix(void **state)
{
	char name[201];
	struct compress_entry e;
	struct hdr h = {0};

	(void)state;
	memset(name, 'a', 150);
	name[150] = '/';
	memset(name + 151, 'b', 49);
	name[200] = '\0';
	e = file_entry(name);
	header(&e, &h);
	assert_int_equal(h.len, 512); /* no PAX header */
	assert_memory_equal(h.buf + 345, name, 150);
	assert_int_equal(h.buf[345 + 150], '\0');
	assert_memory_equal(h.buf, name + 151, 49);
	assert_int_equal(h.buf[49], '\0');
	hdr_done(&h);
}

static void
test_unsplittable_names_take_a_pax_path(void **state)
{
	char component[151], deep[301], *recs, *want;
	struct compress_entry e;
	struct hdr h = {0};

	(void)state;
	/* one component of 150 bytes: no '/' to split at */
	memset(component, 'c', 150);
	component[150] = '\0';
	e = file_entry(component);
	header(&e, &h);
	assert_int_equal(h.len, 3 * 512);
	recs = pax_records(h.buf);
	want = xasprintf("path=%s", component);
	assert_string_equal(recs, want);
	free(recs);
	free(want);
	/* the extended header is named as Go names it; the ustar name is truncated */
	want = xasprintf("PaxHeaders.0/%s", component);
	assert_memory_equal(h.buf, want, 100);
	free(want);
	assert_memory_equal(h.buf + 1024, component, 100);
	assert_checksum(h.buf + 1024);
	hdr_done(&h);
	/* more than 255 bytes in all */
	for (int i = 0; i < 5; i++) {
		memset(deep + 60 * i, 'd', 59);
		deep[60 * i + 59] = '/';
	}
	strcpy(deep + 300, "");
	deep[299] = 'f';
	e = file_entry(deep);
	header(&e, &h);
	recs = pax_records(h.buf);
	want = xasprintf("path=%s", deep);
	assert_string_equal(recs, want);
	assert_memory_equal(h.buf, deep, 100); /* "<dir>/PaxHeaders.0/<base>", cut at 100 */
	free(recs);
	free(want);
	hdr_done(&h);
}

static void
test_non_ascii_name_is_in_pax_only(void **state)
{
	struct compress_entry e = file_entry("caf\xc3\xa9/\xff\xfe");
	struct hdr h = {0};
	char *recs;

	(void)state;
	header(&e, &h);
	recs = pax_records(h.buf);
	assert_string_equal(recs, "path=caf\xc3\xa9/\xff\xfe");
	assert_string_equal(h.buf + 1024, "caf/"); /* ustar: the ASCII bytes */
	free(recs);
	hdr_done(&h);
}

static void
test_big_ids_sizes_and_fine_times_take_pax_records(void **state)
{
	struct compress_entry e = file_entry("f");
	struct hdr h = {0};
	char *recs;

	(void)state;
	e.uid = 3000000;
	e.gid = 2097151; /* the largest ustar holds */
	e.size = 9ull << 30;
	e.mtime_nsec = 500000000;
	header(&e, &h);
	recs = pax_records(h.buf);
	assert_string_equal(recs, "mtime=1700000000.5|size=9663676416|uid=3000000");
	assert_memory_equal(h.buf + 1024 + 108, "0000000", 8); /* uid: 0, the record says */
	assert_memory_equal(h.buf + 1024 + 116, "7777777", 8);
	assert_memory_equal(h.buf + 1024 + 124, "00000000000", 12);
	assert_memory_equal(h.buf + 1024 + 136, "14524770400", 12); /* seconds stay */
	free(recs);
	hdr_done(&h);
	/* before 1970: Go's formatPAXTime */
	e = file_entry("old");
	e.mtime_sec = -2;
	e.mtime_nsec = 500000000;
	header(&e, &h);
	recs = pax_records(h.buf);
	assert_string_equal(recs, "mtime=-1.5");
	assert_memory_equal(h.buf + 1024 + 136, "00000000000", 12);
	free(recs);
	hdr_done(&h);
}

static void
test_xattrs_and_long_links_are_sorted_records(void **state)
{
	static const struct tree_xattr x[] = {{"user.b", 6, "2", 1},
	                                      {"security.capability", 19, "\x01\x02\x03\x04", 4}};
	char target[121];
	struct compress_entry e = file_entry("l");
	struct hdr h = {0};
	char *recs;

	(void)state;
	memset(target, 't', 120);
	target[120] = '\0';
	e.type = COMPRESS_TAR_SYMLINK;
	e.size = 0;
	e.link = target;
	e.link_len = 120;
	e.xattrs = x;
	e.n_xattrs = 2;
	header(&e, &h);
	recs = pax_records(h.buf);
	/* bytewise order: "SCHILY…" before "linkpath" */
	assert_int_equal(strncmp(recs, "SCHILY.xattr.security.capability=\x01\x02\x03\x04|", 38),
	                 0);
	assert_non_null(strstr(recs, "|SCHILY.xattr.user.b=2|linkpath=tttt"));
	assert_memory_equal(h.buf + 1024 + 157, target, 100);
	assert_int_equal(h.buf[1024 + 156], '2');
	free(recs);
	hdr_done(&h);
}

/* A record whose length field grows a digit as it counts itself: "9x" → 10 → 11 bytes. */
static void
test_record_lengths_count_themselves(void **state)
{
	struct compress_entry e = file_entry("f");
	struct hdr h = {0};

	(void)state;
	for (size_t len = 1; len < 120; len++) {
		char *v = xmalloc(len + 1);
		struct tree_xattr x = {"user.k", 6, v, len};

		memset(v, 'v', len);
		v[len] = '\0';
		e.xattrs = &x;
		e.n_xattrs = 1;
		h.len = 0;
		header(&e, &h);
		free(pax_records(h.buf)); /* asserts every length */
		free(v);
	}
	hdr_done(&h);
}

static void
test_dirs_and_devices(void **state)
{
	struct compress_entry e = file_entry("./");
	struct hdr h = {0};
	struct kl_error *err = NULL;

	(void)state;
	e.type = COMPRESS_TAR_DIR;
	e.size = 0;
	header(&e, &h);
	assert_string_equal(h.buf, "./");
	assert_int_equal(h.buf[156], '5');
	hdr_done(&h);
	e = file_entry("dev/sda");
	e.type = COMPRESS_TAR_BLOCK;
	e.size = 0;
	e.devmajor = 8;
	e.devminor = 1048575;
	header(&e, &h);
	assert_memory_equal(h.buf + 329, "0000010", 8);
	assert_memory_equal(h.buf + 337, "3777777", 8);
	hdr_done(&h);
	e.devmajor = 1u << 22;
	assert_int_equal(layer_tar_header(&e, &h.buf, &h.cap, &h.len, &err), -EOVERFLOW);
	assert_non_null(strstr(err->msg, "dev/sda"));
	kl_error_free(err);
	hdr_done(&h);
}

static void
test_xattr_name_with_equals_is_refused(void **state)
{
	static const struct tree_xattr x = {"user.a=b", 8, "v", 1};
	struct compress_entry e = file_entry("f");
	struct hdr h = {0};
	struct kl_error *err = NULL;

	(void)state;
	e.xattrs = &x;
	e.n_xattrs = 1;
	assert_int_equal(layer_tar_header(&e, &h.buf, &h.cap, &h.len, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "user.a=b"));
	kl_error_free(err);
	hdr_done(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_short_file_is_one_ustar_block),
	    cmocka_unit_test(test_long_name_splits_into_prefix),
	    cmocka_unit_test(test_unsplittable_names_take_a_pax_path),
	    cmocka_unit_test(test_non_ascii_name_is_in_pax_only),
	    cmocka_unit_test(test_big_ids_sizes_and_fine_times_take_pax_records),
	    cmocka_unit_test(test_xattrs_and_long_links_are_sorted_records),
	    cmocka_unit_test(test_record_lengths_count_themselves),
	    cmocka_unit_test(test_dirs_and_devices),
	    cmocka_unit_test(test_xattr_name_with_equals_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
