// SPDX-License-Identifier: Apache-2.0
/* Unit tests for frontend/dockerfile-mount.c: defaults, aliases, expansion with a stage's
 * variables, deferred specs, CSV quoting, sizes and the rules between options. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/dockerfile-expand.h"
#include "frontend/dockerfile-mount.h"

static void
test_defaults(void **state)
{
	struct dockerfile_mount m;
	char *msg = NULL;

	(void)state;
	assert_int_equal(dockerfile_mount_parse("target=/x", NULL, &m, &msg), 0);
	assert_int_equal(m.type, DOCKERFILE_MOUNT_BIND);
	assert_true(m.readonly); /* bind is read-only unless rw */
	assert_null(m.source);
	dockerfile_mount_done(&m);
	assert_int_equal(dockerfile_mount_parse("type=Cache,target=/c", NULL, &m, &msg), 0);
	assert_int_equal(m.type, DOCKERFILE_MOUNT_CACHE);
	assert_false(m.readonly);
	assert_int_equal(m.sharing, DOCKERFILE_SHARING_UNSET);
	dockerfile_mount_done(&m);
	assert_int_equal(
	    dockerfile_mount_parse("type=tmpfs,destination=/t,readonly", NULL, &m, &msg), 0);
	assert_true(m.readonly);
	assert_string_equal(m.target, "/t");
	dockerfile_mount_done(&m);
	assert_int_equal(
	    dockerfile_mount_parse("type=bind,readwrite=true,ro=false", NULL, &m, &msg), 0);
	assert_false(m.readonly);
	dockerfile_mount_done(&m);
}

static void
test_csv_quoting_and_shell_words(void **state)
{
	struct dockerfile_mount m;
	char *msg = NULL;

	(void)state;
	assert_int_equal(
	    dockerfile_mount_parse("type=bind,\"target=/a,b\",source='/s p'", NULL, &m, &msg), 0);
	assert_string_equal(m.target, "/a,b");
	assert_string_equal(m.source, "/s p"); /* the value is a shell word */
	dockerfile_mount_done(&m);
	assert_int_equal(dockerfile_mount_parse("target=a\"b", NULL, &m, &msg), -EINVAL);
	assert_string_equal(msg,
	                    "failed to parse csv mounts: parse error on line 1, column 9: bare "
	                    "\" in non-quoted-field");
	free(msg);
	assert_int_equal(dockerfile_mount_parse("\"target=a", NULL, &m, &msg), -EINVAL);
	assert_non_null(strstr(msg, "extraneous or missing \" in quoted-field"));
	free(msg);
}

static bool
lookup(void *userdata, const char *name, const char **ret, size_t *ret_len)
{
	(void)userdata;
	if (strcmp(name, "CACHE") != 0)
		return false;
	*ret = "gomod";
	*ret_len = 5;
	return true;
}

static void
test_deferred_then_expanded(void **state)
{
	struct dockerfile_expander ex = {.escape = '\\', .lookup = lookup};
	struct dockerfile_mount m;
	char *msg = NULL;

	(void)state;
	assert_int_equal(
	    dockerfile_mount_parse("type=cache,id=$CACHE,target=/${CACHE}", NULL, &m, &msg), 0);
	assert_true(m.deferred);
	assert_null(m.id);
	dockerfile_mount_done(&m);
	assert_int_equal(
	    dockerfile_mount_parse("type=cache,id=$CACHE,target=/${CACHE}", &ex, &m, &msg), 0);
	assert_false(m.deferred);
	assert_string_equal(m.id, "gomod");
	assert_string_equal(m.target, "/gomod");
	dockerfile_mount_done(&m);
	assert_int_equal(dockerfile_mount_parse("type=cache,target=${X:?no cache}", &ex, &m, &msg),
	                 -EINVAL);
	assert_string_equal(msg, "failed to process \"${X:?no cache}\": X: no cache");
	free(msg);
}

static void
test_sizes_and_numbers(void **state)
{
	struct dockerfile_mount m;
	char *msg = NULL;

	(void)state;
	assert_int_equal(dockerfile_mount_parse("type=tmpfs,target=/t,size=1.5GiB", NULL, &m, &msg),
	                 0);
	assert_int_equal(m.size, (int64_t)(1.5 * 1024 * 1024 * 1024));
	dockerfile_mount_done(&m);
	assert_int_equal(dockerfile_mount_parse("type=tmpfs,target=/t,size=512 kb", NULL, &m, &msg),
	                 0);
	assert_int_equal(m.size, 512 * 1024);
	dockerfile_mount_done(&m);
	assert_int_equal(dockerfile_mount_parse("type=tmpfs,size=1x", NULL, &m, &msg), -EINVAL);
	assert_string_equal(msg, "invalid value for size: 1x");
	free(msg);
	assert_int_equal(dockerfile_mount_parse("type=cache,uid=-1", NULL, &m, &msg), -EINVAL);
	assert_string_equal(msg, "invalid value -1 for uid");
	free(msg);
	assert_int_equal(dockerfile_mount_parse("type=cache,gid=4294967296", NULL, &m, &msg),
	                 -EINVAL);
	assert_string_equal(msg, "invalid value 4294967296 for gid");
	free(msg);
	assert_int_equal(
	    dockerfile_mount_parse("type=ssh,required=false,mode=600,uid=0", NULL, &m, &msg), 0);
	assert_false(m.required);
	assert_int_equal(m.mode, 0600);
	dockerfile_mount_done(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_csv_quoting_and_shell_words),
	    cmocka_unit_test(test_deferred_then_expanded),
	    cmocka_unit_test(test_sizes_and_numbers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
