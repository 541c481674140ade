// SPDX-License-Identifier: Apache-2.0
/* Unit tests for util/dl.c and the loaders: a library resolved into a table, and the errors a
 * missing library or function gives. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "util/dl-archive.h"
#include "util/dl-curl.h"
#include "util/dl-git2.h"
#include "util/dl-seccomp.h"
#include "util/dl.h"
#include "util/error.h"

/* libm: a library surely there, with known functions */
struct math {
	double (*cbrt)(double);
	double (*fabs)(double);
};

static void
test_load_resolves_every_symbol_into_the_table(void **state)
{
	static const struct kl_dl_symbol symbols[] = {
	    {"cbrt", offsetof(struct math, cbrt)},
	    {"fabs", offsetof(struct math, fabs)},
	};
	static struct math m;
	static struct kl_dl_library lib = KL_DL_LIBRARY("libm", "libm.so.6", symbols, &m);
	struct kl_error *err = NULL;

	(void)state;
	assert_int_equal(kl_dl_load(&lib, &err), 0);
	assert_null(err);
	assert_true(m.cbrt(27.0) > 2.999 && m.cbrt(27.0) < 3.001);
	assert_true(m.fabs(-2.5) == 2.5);
	assert_int_equal(kl_dl_load(&lib, &err), 0); /* once: the second call only checks */
}

static void
test_missing_library_is_an_error_naming_it(void **state)
{
	static const struct kl_dl_symbol symbols[] = {{"cbrt", offsetof(struct math, cbrt)}};
	static struct math m;
	static struct kl_dl_library lib =
	    KL_DL_LIBRARY("libkiln-absent", "libkiln-absent.so.0", symbols, &m);
	struct kl_error *err = NULL;

	(void)state;
	assert_int_equal(kl_dl_load(&lib, &err), -ELIBACC);
	assert_non_null(err);
	assert_non_null(strstr(err->msg, "loading libkiln-absent: "));
	assert_non_null(strstr(err->msg, "libkiln-absent.so.0"));
	assert_null(m.cbrt);
	kl_error_free(err);
	err = NULL;
	/* not cached as loaded: a second call fails the same way */
	assert_int_equal(kl_dl_load(&lib, &err), -ELIBACC);
	kl_error_free(err);
}

static void
test_missing_function_is_an_error_naming_it(void **state)
{
	static const struct kl_dl_symbol symbols[] = {
	    {"cbrt", offsetof(struct math, cbrt)},
	    {"kiln_no_such_function", offsetof(struct math, fabs)},
	};
	static struct math m;
	static struct kl_dl_library lib = KL_DL_LIBRARY("libm", "libm.so.6", symbols, &m);
	struct kl_error *err = NULL;

	(void)state;
	assert_int_equal(kl_dl_load(&lib, &err), -ELIBACC);
	assert_string_equal(err->msg,
	                    "loading libm: no function 'kiln_no_such_function' in libm.so.6");
	kl_error_free(err);
}

/* kiln's loaders find every function they list in the libraries the build found */
static void
test_kiln_loaders_load_their_libraries(void **state)
{
	struct kl_error *err = NULL;
	struct archive_entry *e;

	(void)state;
	assert_int_equal(kl_curl_load(&err), 0);
	assert_int_equal(kl_git2_load(&err), 0);
	assert_int_equal(kl_archive_load(&err), 0);
	assert_int_equal(kl_seccomp_load(&err), 0);
	assert_null(err);
	assert_int_equal(kl_seccomp()->version()->major, 2);
	assert_true(kl_seccomp()->syscall_resolve_name("getpid") >= 0);
	assert_string_equal(kl_curl()->easy_strerror(CURLE_OK), "No error");
	assert_string_equal(kl_git2()->object_type2string(GIT_OBJECT_BLOB), "blob");
	e = kl_archive()->entry_new();
	assert_non_null(e);
	kl_archive()->entry_set_pathname(e, "a/b");
	assert_string_equal(kl_archive()->entry_pathname(e), "a/b");
	kl_archive()->entry_free(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_load_resolves_every_symbol_into_the_table),
	    cmocka_unit_test(test_missing_library_is_an_error_naming_it),
	    cmocka_unit_test(test_missing_function_is_an_error_naming_it),
	    cmocka_unit_test(test_kiln_loaders_load_their_libraries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
