// SPDX-License-Identifier: Apache-2.0
/* Unit tests for oci/registry-credhelper: docker-credential-* programs (small shell scripts in a
 * temp dir put first on PATH) run with "get", asked on stdin, bounded in time and output, and
 * always reaped. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../test-helpers.h"
#include "oci/registry.h"
#include "util/error.h"
#include "util/io.h"

static char *dir;

/* Writes an executable docker-credential-<name> running body under /bin/sh. */
static void
helper(const char *name, const char *body)
{
	char *path = xasprintf("%s/docker-credential-%s", dir, name);
	char *text = xasprintf("#!/bin/sh\n%s\n", body);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);

	assert_true(fd >= 0);
	assert_int_equal(kl_io_write_all(fd, text, strlen(text)), 0);
	close(fd);
	free(text);
	free(path);
}

static int
setup(void **state)
{
	const char *path = getenv("PATH");
	char *p;

	(void)state;
	dir = test_tmpdir();
	p = xasprintf("%s:%s", dir, path ? path : "/usr/bin:/bin");
	setenv("PATH", p, 1);
	free(p);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	test_rmdir(dir);
	return 0;
}

/* The PID a helper wrote to <dir>/pid, to see it is gone (reaped, not a zombie). */
static void
assert_helper_gone(void)
{
	char *path = xasprintf("%s/pid", dir), *buf = NULL;
	size_t len;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(kl_io_read_all(fd, 64, &buf, &len), 0);
	close(fd);
	assert_int_equal(kill((pid_t)atoi(buf), 0), -1);
	assert_int_equal(errno, ESRCH);
	free(buf);
	free(path);
}

static double
seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_helper_gets_get_and_the_server_on_stdin(void **state)
{
	struct registry_auth a = {0};
	struct kl_error *err = NULL;

	(void)state;
	/* Username echoes argv[1] and stdin, which docker sends without a newline */
	helper("echo", "in=$(cat)\n"
	               "printf '{\"ServerURL\":\"%s\",\"Username\":\"%s %s\",\"Secret\":\"pw\"}' "
	               "\"$in\" \"$1\" \"$in\"");
	assert_int_equal(registry_credhelper_get("echo", "127.0.0.1:5000", 0, &a, &err), 0);
	assert_null(err);
	/* base64 of "get 127.0.0.1:5000:pw" */
	assert_string_equal(a.basic, "Z2V0IDEyNy4wLjAuMTo1MDAwOnB3");
	registry_auth_done(&a);
}

static void
test_helper_identity_token(void **state)
{
	struct registry_auth a = {0};

	(void)state;
	helper("tok", "cat >/dev/null; echo '{\"Username\":\"<token>\",\"Secret\":\"rt-1\"}'");
	assert_int_equal(registry_credhelper_get("tok", "quay.io", 0, &a, NULL), 0);
	assert_null(a.basic);
	assert_string_equal(a.identity_token, "rt-1");
	registry_auth_done(&a);
}

static void
test_helper_without_credentials_is_enoent(void **state)
{
	struct registry_auth a = {0};
	struct kl_error *err = NULL;

	(void)state;
	helper("none", "echo 'credentials not found in native keychain'; exit 1");
	assert_int_equal(registry_credhelper_get("none", "quay.io", 0, &a, &err), -ENOENT);
	assert_null(err);
	assert_null(a.basic);
}

static void
test_failing_helper_is_an_error_with_its_message(void **state)
{
	struct registry_auth a = {0};
	struct kl_error *err = NULL;

	(void)state;
	helper("fail", "echo 'the keychain is locked' >&2; exit 4");
	assert_int_equal(registry_credhelper_get("fail", "quay.io", 0, &a, &err), -EIO);
	assert_string_equal(err->msg, "credential helper 'docker-credential-fail' failed (exit "
	                              "status 4): the keychain is locked");
	kl_error_free(err);
}

static void
test_missing_helper_is_an_error_not_anonymous(void **state)
{
	struct registry_auth a = {0};
	struct kl_error *err = NULL;
	int r;

	(void)state;
	r = registry_credhelper_get("kiln-no-such-helper", "quay.io", 0, &a, &err);
	assert_true(r < 0 && r != -ENOENT);
	assert_string_equal(
	    err->msg, "credential helper 'docker-credential-kiln-no-such-helper' is not on PATH");
	kl_error_free(err);
	err = NULL;
	assert_int_equal(registry_credhelper_get("../x", "quay.io", 0, &a, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "not a credential helper name"));
	kl_error_free(err);
}

static void
test_slow_helper_is_killed_and_reaped(void **state)
{
	struct registry_auth a = {0};
	struct kl_error *err = NULL;
	double start = seconds();

	(void)state;
	helper("slow", "echo $$ >\"$(dirname \"$0\")/pid\"; exec sleep 30");
	assert_int_equal(registry_credhelper_get("slow", "quay.io", 300, &a, &err), -ETIMEDOUT);
	assert_true(seconds() - start < 10);
	assert_string_equal(
	    err->msg, "credential helper 'docker-credential-slow' did not answer within 300 ms");
	kl_error_free(err);
	assert_helper_gone();
}

static void
test_helper_saying_too_much_is_killed_and_reaped(void **state)
{
	struct registry_auth a = {0};
	struct kl_error *err = NULL;

	(void)state;
	helper("loud", "echo $$ >\"$(dirname \"$0\")/pid\"; exec yes '{\"Username\":\"u\"}'");
	assert_int_equal(registry_credhelper_get("loud", "quay.io", 0, &a, &err), -EFBIG);
	assert_non_null(strstr(err->msg, "'docker-credential-loud': an answer larger than"));
	kl_error_free(err);
	assert_helper_gone();
}

static void
test_helper_that_ignores_stdin(void **state)
{
	struct registry_auth a = {0};

	(void)state;
	/* exits before kiln writes: no SIGPIPE for kiln, the answer still counts */
	helper("deaf", "exec 0<&-; echo '{\"Username\":\"u\",\"Secret\":\"p\"}'");
	assert_int_equal(registry_credhelper_get("deaf", "quay.io", 0, &a, NULL), 0);
	assert_string_equal(a.basic, "dTpw");
	registry_auth_done(&a);
}

static void
test_lost_exit_status_is_an_error(void **state)
{
	struct registry_auth a = {0};
	struct kl_error *err = NULL;

	(void)state;
	/* with SIGCHLD ignored the kernel reaps the helper: its answer cannot be trusted */
	helper("reaped", "echo '{\"Username\":\"u\",\"Secret\":\"p\"}'");
	signal(SIGCHLD, SIG_IGN);
	assert_int_equal(registry_credhelper_get("reaped", "quay.io", 5000, &a, &err), -ECHILD);
	signal(SIGCHLD, SIG_DFL);
	assert_string_equal(
	    err->msg, "credential helper 'docker-credential-reaped': its exit status was lost");
	assert_null(a.basic);
	kl_error_free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_helper_gets_get_and_the_server_on_stdin),
	    cmocka_unit_test(test_helper_identity_token),
	    cmocka_unit_test(test_helper_without_credentials_is_enoent),
	    cmocka_unit_test(test_failing_helper_is_an_error_with_its_message),
	    cmocka_unit_test(test_missing_helper_is_an_error_not_anonymous),
	    cmocka_unit_test(test_slow_helper_is_killed_and_reaped),
	    cmocka_unit_test(test_helper_saying_too_much_is_killed_and_reaped),
	    cmocka_unit_test(test_helper_that_ignores_stdin),
	    cmocka_unit_test(test_lost_exit_status_is_an_error),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
