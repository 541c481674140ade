// SPDX-License-Identifier: Apache-2.0
/* Unit tests for fs/mountpoint.c: mountinfo lines and escapes, tables, options, overlay layers,
 * and the checks that need neither root nor FUSE. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/mountpoint.h"
#include "tests/unit/test-helpers.h"
#include "util/error.h"
#include "util/io.h"

static void
test_line_fields_are_cut_out(void **state)
{
	char line[] = "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root "
	              "rw,errors=continue\n";
	struct mountpoint_entry e;

	(void)state;
	assert_int_equal(mountpoint_parse_line(line, &e, NULL), 0);
	assert_int_equal(e.id, 36);
	assert_int_equal(e.parent_id, 35);
	assert_int_equal(e.dev_major, 98);
	assert_int_equal(e.dev_minor, 0);
	assert_string_equal(e.root, "/mnt1");
	assert_string_equal(e.path, "/mnt2");
	assert_string_equal(e.options, "rw,noatime");
	assert_string_equal(e.fstype, "ext3");
	assert_string_equal(e.source, "/dev/root");
	assert_string_equal(e.super_options, "rw,errors=continue");
}

static void
test_optional_fields_may_be_none_or_many(void **state)
{
	char none[] = "1 0 0:5 / / rw - tmpfs none rw";
	char many[] = "2 1 0:40 / /a rw shared:1 master:2 propagate_from:3 unbindable - fuse.kiln "
	              "kiln ro,user_id=0";
	struct mountpoint_entry e;

	(void)state;
	assert_int_equal(mountpoint_parse_line(none, &e, NULL), 0);
	assert_string_equal(e.path, "/");
	assert_string_equal(e.fstype, "tmpfs");
	assert_int_equal(mountpoint_parse_line(many, &e, NULL), 0);
	assert_string_equal(e.path, "/a");
	assert_string_equal(e.fstype, "fuse.kiln");
	assert_string_equal(e.source, "kiln");
	assert_string_equal(e.super_options, "ro,user_id=0");
}

static void
test_escaped_paths_are_decoded(void **state)
{
	char line[] =
	    "40 27 0:41 /r\\040oot /tmp/dir\\040with\\040spaces/tab\\011nl\\012back\\134slash"
	    " rw - fuse.kiln so\\040urce ro";
	char literal[] = "41 27 0:41 / /a\\b\\9\\08 rw - tmpfs x rw";
	struct mountpoint_entry e;

	(void)state;
	assert_int_equal(mountpoint_parse_line(line, &e, NULL), 0);
	assert_string_equal(e.root, "/r oot");
	assert_string_equal(e.path, "/tmp/dir with spaces/tab\tnl\nback\\slash");
	assert_string_equal(e.source, "so urce");
	/* a backslash without three octal digits after it is itself */
	assert_int_equal(mountpoint_parse_line(literal, &e, NULL), 0);
	assert_string_equal(e.path, "/a\\b\\9\\08");
}

static void
parse_bad(const char *text, const char *msg_part)
{
	char *line = xstrdup(text);
	struct mountpoint_entry e;
	struct kl_error *err = NULL;

	assert_int_equal(mountpoint_parse_line(line, &e, &err), -EINVAL);
	assert_non_null(err);
	if (!strstr(err->msg, msg_part))
		fail_msg("'%s': message '%s' lacks '%s'", text, err->msg, msg_part);
	kl_error_freep(&err);
	free(line);
}

static void
test_malformed_lines_are_rejected_with_a_reason(void **state)
{
	(void)state;
	parse_bad("", "too few fields");
	parse_bad("36 35 98:0 /mnt1 /mnt2", "too few fields");
	parse_bad("36 35 98:0 /mnt1 /mnt2 rw master:1 ext3 /dev/root rw", "separator");
	parse_bad("36 35 98:0 /mnt1 /mnt2 rw - ext3 /dev/root", "after ' - '");
	parse_bad("36 35 98:0 /mnt1 /mnt2 rw - ext3 /dev/root rw extra", "after ' - '");
	parse_bad("x6 35 98:0 /mnt1 /mnt2 rw - ext3 /dev/root rw", "mount id");
	parse_bad("36 -1 98:0 /mnt1 /mnt2 rw - ext3 /dev/root rw", "mount id");
	parse_bad("99999999999 35 98:0 / /m rw - ext3 /dev/root rw", "mount id");
	parse_bad("36 35 98 / /m rw - ext3 /dev/root rw", "major:minor");
	parse_bad("36 35 98:x / /m rw - ext3 /dev/root rw", "major:minor");
	parse_bad("36 35 98:0 / /m\\000x rw - ext3 /dev/root rw", "NUL");
	parse_bad("36 35 98:0 / relative rw - ext3 /dev/root rw", "absolute");
}

static char *
write_table(const char *dir, const char *text)
{
	char *path = xasprintf("%s/mountinfo", dir);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	return path;
}

static void
test_table_finds_the_topmost_mount_at_a_path(void **state)
{
	char *dir = test_tmpdir(), *path;
	struct mountpoint_table *t = NULL;
	const struct mountpoint_entry *e;

	(void)state;
	path = write_table(dir, "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
	                        "2 1 0:40 / /m\\040n rw - fuse.kiln kiln ro\n"
	                        "\n"
	                        "3 2 0:41 / /m\\040n rw - overlay overlay rw,lowerdir=/l\n"
	                        "4 1 0:42 / /other rw - tmpfs tmpfs rw\n");
	assert_int_equal(mountpoint_table_load(path, &t, NULL), 0);
	assert_int_equal(mountpoint_table_count(t), 4);
	assert_int_equal(mountpoint_table_entry(t, 0)->id, 1);
	assert_null(mountpoint_table_entry(t, 4));
	e = mountpoint_table_find(t, "/m n");
	assert_non_null(e);
	assert_int_equal(e->id, 3);
	assert_string_equal(e->fstype, "overlay");
	assert_string_equal(mountpoint_table_find(t, "/")->fstype, "ext4");
	assert_null(mountpoint_table_find(t, "/m"));
	assert_null(mountpoint_table_find(t, "/m\\040n"));
	t = mountpoint_table_free(t);
	assert_null(t);
	free(path);
	test_rmdir(dir);
}

static void
test_table_errors_name_the_file_and_line(void **state)
{
	char *dir = test_tmpdir(), *path, *missing = xasprintf("%s/nope", dir), *want;
	struct mountpoint_table *t = NULL;
	struct kl_error *err = NULL;

	(void)state;
	path = write_table(dir, "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
	                        "2 1 0:40 / /m rw - fuse.kiln kiln ro\n"
	                        "3 2 0:41 / /x rw fuse kiln ro\n");
	assert_int_equal(mountpoint_table_load(path, &t, &err), -EINVAL);
	assert_null(t);
	want = xasprintf("%s:3: no ' - ' separator", path);
	assert_string_equal(err->msg, want);
	kl_error_freep(&err);
	assert_int_equal(mountpoint_table_load(missing, &t, &err), -ENOENT);
	assert_non_null(strstr(err->msg, missing));
	kl_error_freep(&err);
	free(want);
	free(missing);
	free(path);
	test_rmdir(dir);
}

static void
test_the_real_table_has_the_root(void **state)
{
	_cleanup_(mountpoint_table_freep) struct mountpoint_table *t = NULL;
	struct kl_error *err = NULL;

	(void)state;
	if (mountpoint_table_load(NULL, &t, &err) < 0)
		fail_msg("%s", err->msg);
	assert_true(mountpoint_table_count(t) > 0);
	assert_non_null(mountpoint_table_find(t, "/"));
	assert_int_equal(mountpoint_is_mounted("/", NULL, NULL), 1);
	assert_int_equal(mountpoint_is_mounted("/", "no-such-type", NULL), 0);
}

static void
test_super_options_are_found_and_unescaped(void **state)
{
	char line[] = "5 1 0:40 / /m rw - overlay overlay "
	              "rw,lowerdir=/a\\054b,upperdir=/u,uuid=on,index";
	struct mountpoint_entry e;
	char *v;

	(void)state;
	assert_int_equal(mountpoint_parse_line(line, &e, NULL), 0);
	v = mountpoint_entry_option(&e, "lowerdir");
	assert_string_equal(v, "/a,b");
	free(v);
	v = mountpoint_entry_option(&e, "index");
	assert_string_equal(v, "");
	free(v);
	v = mountpoint_entry_option(&e, "uuid");
	assert_string_equal(v, "on");
	free(v);
	assert_null(mountpoint_entry_option(&e, "upper"));
	assert_null(mountpoint_entry_option(&e, "workdir"));
}

static void
test_overlay_dirs_are_split_and_unescaped(void **state)
{
	/* as Linux 6.18 showed `mount -o 'lowerdir=/t/lo a\,b\:c:/t/lo2,upperdir=/t/u p\,x,…'` */
	char line[] =
	    "48 27 0:40 / /t/mg rw,relatime - overlay overlay "
	    "rw,lowerdir=/t/lo\\040a\\134\\054b\\134:c:/t/lo2,upperdir=/t/u\\040p\\134\\054x,"
	    "workdir=/t/wk,uuid=on";
	char data_only[] = "49 27 0:41 / /t/m2 ro - overlay overlay ro,lowerdir=/l1:/l2::/d1::/d2";
	char other[] = "50 27 0:42 / /t/m3 rw - tmpfs tmpfs rw,lowerdir=/not-an-overlay";
	struct mountpoint_entry e;
	char **dirs = NULL;

	(void)state;
	assert_int_equal(mountpoint_parse_line(line, &e, NULL), 0);
	assert_int_equal(mountpoint_overlay_dirs(&e, &dirs), 3);
	assert_string_equal(dirs[0], "/t/lo a,b:c");
	assert_string_equal(dirs[1], "/t/lo2");
	assert_string_equal(dirs[2], "/t/u p,x");
	assert_null(dirs[3]);
	free(dirs);

	assert_int_equal(mountpoint_parse_line(data_only, &e, NULL), 0);
	assert_int_equal(mountpoint_overlay_dirs(&e, &dirs), 4);
	assert_string_equal(dirs[0], "/l1");
	assert_string_equal(dirs[1], "/l2");
	assert_string_equal(dirs[2], "/d1");
	assert_string_equal(dirs[3], "/d2");
	assert_null(dirs[4]);
	free(dirs);

	assert_int_equal(mountpoint_parse_line(other, &e, NULL), 0);
	assert_int_equal(mountpoint_overlay_dirs(&e, &dirs), 0);
	assert_null(dirs[0]);
	free(dirs);
}

static void
test_plain_directories_are_neither_mounted_nor_stale(void **state)
{
	char *dir = test_tmpdir(), *missing = xasprintf("%s/missing", dir);
	struct kl_error *err = NULL;
	int r;

	(void)state;
	assert_int_equal(mountpoint_is_mounted(dir, NULL, NULL), 0);
	assert_int_equal(mountpoint_is_stale(dir), 0);
	assert_int_equal(mountpoint_is_stale(missing), 0);
	assert_int_equal(mountpoint_is_stale("/"), 0);
	assert_int_equal(mountpoint_clear_stale(dir, &err), 0);
	assert_null(err);
	assert_int_equal(mountpoint_clear_stale(missing, &err), 0);
	assert_null(err);
	/* root: umount2 says EINVAL; others: not permitted, and fusermount3 finds no mount */
	r = mountpoint_unmount(dir, /* flags= */ 0, &err);
	if (geteuid() == 0)
		assert_int_equal(r, -EINVAL);
	else
		assert_true(r < 0);
	assert_non_null(err);
	assert_non_null(strstr(err->msg, dir));
	kl_error_freep(&err);
	free(missing);
	test_rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_line_fields_are_cut_out),
	    cmocka_unit_test(test_optional_fields_may_be_none_or_many),
	    cmocka_unit_test(test_escaped_paths_are_decoded),
	    cmocka_unit_test(test_malformed_lines_are_rejected_with_a_reason),
	    cmocka_unit_test(test_table_finds_the_topmost_mount_at_a_path),
	    cmocka_unit_test(test_table_errors_name_the_file_and_line),
	    cmocka_unit_test(test_the_real_table_has_the_root),
	    cmocka_unit_test(test_super_options_are_found_and_unescaped),
	    cmocka_unit_test(test_overlay_dirs_are_split_and_unescaped),
	    cmocka_unit_test(test_plain_directories_are_neither_mounted_nor_stale),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
