// SPDX-License-Identifier: Apache-2.0
/* Unit tests for solver/exec-seccomp: the profile refuses what Docker's default refuses, and
 * the personality blocks cover exactly the values Docker does not allow. */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sched.h>
#include <string.h>

#include "solver/exec-internal.h"

/* Evaluates the profile for syscall name with argument 0 = a0 as a runtime's filter does:
 * the errno of the first matching rule (rules with conditions match when every condition
 * holds), 0 for allowed. */
static int
evaluate(json_t *profile, const char *name, uint64_t a0)
{
	json_t *rules = json_object_get(profile, "syscalls"), *r;
	size_t i;

	json_array_foreach(rules, i, r)
	{
		json_t *names = json_object_get(r, "names"), *n, *args = json_object_get(r, "args"),
		       *c;
		bool named = false, all = true;
		size_t j;

		json_array_foreach(names, j, n) named |= !strcmp(json_string_value(n), name);
		if (!named)
			continue;
		json_array_foreach(args, j, c)
		{
			const char *op = json_string_value(json_object_get(c, "op"));
			uint64_t v = (uint64_t)json_integer_value(json_object_get(c, "value"));
			uint64_t v2 = (uint64_t)json_integer_value(json_object_get(c, "valueTwo"));

			assert_int_equal(json_integer_value(json_object_get(c, "index")), 0);
			if (!strcmp(op, "SCMP_CMP_MASKED_EQ"))
				all &= (a0 & v) == v2;
			else if (!strcmp(op, "SCMP_CMP_EQ"))
				all &= a0 == v;
			else if (!strcmp(op, "SCMP_CMP_GT"))
				all &= a0 > v;
			else
				fail_msg("unexpected op %s", op);
		}
		if (all)
			return (int)json_integer_value(json_object_get(r, "errnoRet"));
	}
	return 0;
}

static void
test_docker_refusals_are_eperm(void **state)
{
	json_t *p = exec_seccomp_profile();
	static const char *const refused[] = {
	    "keyctl",          "add_key",           "request_key", "bpf",    "kexec_load",
	    "mount",           "umount2",           "unshare",     "setns",  "userfaultfd",
	    "perf_event_open", "pivot_root",        "init_module", "reboot", "swapon",
	    "settimeofday",    "open_by_handle_at", "iopl",        "acct",   "quotactl"};
	(void)state;
	assert_string_equal(json_string_value(json_object_get(p, "defaultAction")),
	                    "SCMP_ACT_ALLOW");
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		assert_int_equal(evaluate(p, refused[i], 0), EPERM);
	assert_int_equal(evaluate(p, "read", 0), 0);
	assert_int_equal(evaluate(p, "ptrace", 0), 0);
	assert_int_equal(evaluate(p, "clone3", 0), ENOSYS);
	json_decref(p);
}

static void
test_clone_with_namespace_flags_is_refused(void **state)
{
	json_t *p = exec_seccomp_profile();

	(void)state;
	assert_int_equal(evaluate(p, "clone", 0x11 /* SIGCHLD */ | CLONE_VM), 0);
	assert_int_equal(evaluate(p, "clone", CLONE_NEWUSER), EPERM);
	assert_int_equal(evaluate(p, "clone", CLONE_NEWNS | CLONE_VM), EPERM);
	assert_int_equal(evaluate(p, "clone", CLONE_NEWNET), EPERM);
	json_decref(p);
}

static void
test_personality_allows_exactly_dockers_values(void **state)
{
	json_t *p = exec_seccomp_profile();
	static const uint64_t allowed[] = {0, 8, 0x20000, 0x20008, 0xffffffff};
	static const uint64_t refused[] = {1,          3,          7,           9,
	                                   0x10,       0x1ffff,    0x20001,     0x20007,
	                                   0x20009,    0x400000,   0x0400008,   0x7fffffff,
	                                   0x80000000, 0xfffffffe, 0x100000000, 0x100000008};

	(void)state;
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(evaluate(p, "personality", allowed[i]), 0);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		assert_int_equal(evaluate(p, "personality", refused[i]), EPERM);
	/* every value below 2^18 */
	for (uint64_t v = 0; v < (1u << 18); v++)
		assert_int_equal(evaluate(p, "personality", v),
		                 v == 0 || v == 8 || v == 0x20000 || v == 0x20008 ? 0 : EPERM);
	json_decref(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_docker_refusals_are_eperm),
	    cmocka_unit_test(test_clone_with_namespace_flags_is_refused),
	    cmocka_unit_test(test_personality_allows_exactly_dockers_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
