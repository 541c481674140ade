// SPDX-License-Identifier: Apache-2.0
/* Unit tests for solver/exec-user: "user[:group]" resolved by BuildKit's rules. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "solver/exec-internal.h"
#include "util/error.h"

static const char passwd[] = "# users\n"
                             "root:x:0:0:root:/root:/bin/sh\n"
                             "\n"
                             "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n"
                             "nohome:x:1001:1001::\n"
                             "alice:x:1002:1002:second alice:/nope:/bin/sh\n";
static const char group[] = "root:x:0:\n"
                            "alice:x:1000:\n"
                            "wheel:x:10:bob,alice\n"
                            "staff:x:50:alice\n"
                            "other:x:60:alicex,xalice\n";

static struct exec_user
resolve(const char *spec)
{
	struct exec_user u;
	struct kl_error *err = NULL;

	assert_int_equal(
	    exec_user_parse(spec, passwd, strlen(passwd), group, strlen(group), &u, &err), 0);
	return u;
}

static void
test_no_user_is_root_without_groups(void **state)
{
	struct exec_user u = resolve(NULL);

	(void)state;
	assert_int_equal(u.uid, 0);
	assert_int_equal(u.gid, 0);
	assert_int_equal(u.n_groups, 0);
	assert_string_equal(u.home, "/root");
	exec_user_done(&u);
}

static void
test_numbers_for_both_are_taken_as_they_are(void **state)
{
	struct exec_user u = resolve("1000:1234");

	(void)state;
	assert_int_equal(u.uid, 1000);
	assert_int_equal(u.gid, 1234);
	assert_int_equal(u.n_groups, 0);
	assert_string_equal(u.home, "/home/alice");
	exec_user_done(&u);
}

static void
test_name_gives_primary_and_supplementary_groups(void **state)
{
	struct exec_user u = resolve("alice");

	(void)state;
	assert_int_equal(u.uid, 1000);
	assert_int_equal(u.gid, 1000);
	assert_int_equal(u.n_groups, 2); /* wheel and staff, not "alicex" */
	assert_int_equal(u.groups[0], 10);
	assert_int_equal(u.groups[1], 50);
	assert_string_equal(u.home, "/home/alice");
	exec_user_done(&u);
}

static void
test_uid_with_entry_is_that_user(void **state)
{
	struct exec_user u = resolve("1000");

	(void)state;
	assert_int_equal(u.gid, 1000);
	assert_int_equal(u.n_groups, 2);
	exec_user_done(&u);
}

static void
test_uid_without_entry_has_group_zero(void **state)
{
	struct exec_user u = resolve("4242");

	(void)state;
	assert_int_equal(u.uid, 4242);
	assert_int_equal(u.gid, 0);
	assert_int_equal(u.n_groups, 0);
	assert_string_equal(u.home, "/");
	exec_user_done(&u);
}

static void
test_explicit_group_replaces_and_drops_supplementary(void **state)
{
	struct exec_user u = resolve("alice:staff");

	(void)state;
	assert_int_equal(u.uid, 1000);
	assert_int_equal(u.gid, 50);
	assert_int_equal(u.n_groups, 0);
	exec_user_done(&u);
	u = resolve("alice:777");
	assert_int_equal(u.gid, 777);
	exec_user_done(&u);
	u = resolve("nohome:wheel");
	assert_int_equal(u.uid, 1001);
	assert_int_equal(u.gid, 10);
	assert_string_equal(u.home, "/");
	exec_user_done(&u);
}

static void
test_first_entry_wins(void **state)
{
	struct exec_user u = resolve("alice");

	(void)state;
	assert_int_equal(u.uid, 1000);
	exec_user_done(&u);
}

static void
test_unknown_names_are_errors_naming_them(void **state)
{
	struct kl_error *err = NULL;
	struct exec_user u;

	(void)state;
	assert_int_equal(
	    exec_user_parse("bob", passwd, strlen(passwd), group, strlen(group), &u, &err),
	    -EINVAL);
	assert_non_null(strstr(err->msg, "'bob'"));
	kl_error_freep(&err);
	assert_int_equal(exec_user_parse("alice:nogroup", passwd, strlen(passwd), group,
	                                 strlen(group), &u, &err),
	                 -EINVAL);
	assert_non_null(strstr(err->msg, "'nogroup'"));
	kl_error_freep(&err);
	assert_int_equal(
	    exec_user_parse(":staff", passwd, strlen(passwd), group, strlen(group), &u, &err),
	    -EINVAL);
	kl_error_freep(&err);
}

static void
test_missing_files_allow_numbers_only(void **state)
{
	struct kl_error *err = NULL;
	struct exec_user u;

	(void)state;
	assert_int_equal(exec_user_parse("5:6", NULL, 0, NULL, 0, &u, &err), 0);
	assert_int_equal(u.uid, 5);
	assert_int_equal(u.gid, 6);
	assert_string_equal(u.home, "/");
	exec_user_done(&u);
	assert_int_equal(exec_user_parse("7", NULL, 0, NULL, 0, &u, &err), 0);
	assert_int_equal(u.uid, 7);
	assert_int_equal(u.gid, 0);
	exec_user_done(&u);
	assert_int_equal(exec_user_parse("alice", NULL, 0, NULL, 0, &u, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "no such file"));
	kl_error_freep(&err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_user_is_root_without_groups),
	    cmocka_unit_test(test_numbers_for_both_are_taken_as_they_are),
	    cmocka_unit_test(test_name_gives_primary_and_supplementary_groups),
	    cmocka_unit_test(test_uid_with_entry_is_that_user),
	    cmocka_unit_test(test_uid_without_entry_has_group_zero),
	    cmocka_unit_test(test_explicit_group_replaces_and_drops_supplementary),
	    cmocka_unit_test(test_first_entry_wins),
	    cmocka_unit_test(test_unknown_names_are_errors_naming_them),
	    cmocka_unit_test(test_missing_files_allow_numbers_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
