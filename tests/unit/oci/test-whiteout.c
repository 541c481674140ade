// SPDX-License-Identifier: Apache-2.0
/* Unit tests for oci/whiteout: Docker's name cleaning, the classification of tar names
 * (plain, whiteout, opaque marker, aufs bookkeeping) and the names made for an exporter. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "oci/whiteout.h"

static void
test_names_are_cleaned_like_docker(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"./a/b", "a/b"}, {"/a//b/", "a/b"},  {"a/./b", "a/b"}, {"a/c/../b", "a/b"},
	    {".", ""},        {"./", ""},         {"/", ""},        {"///", ""},
	    {"a/..", ""},     {"..a/b", "..a/b"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *c = oci_clean_name(cases[i].in);

		assert_non_null(c);
		assert_string_equal(c, cases[i].out);
		free(c);
	}
	assert_null(oci_clean_name(".."));
	assert_null(oci_clean_name("../etc/passwd"));
	assert_null(oci_clean_name("a/../../b"));
	assert_null(oci_clean_name("/../x"));
}

static void
expect_kind(const char *name, enum oci_name_kind kind, const char *path)
{
	enum oci_name_kind got;
	char *p = (char *)"unset";

	assert_int_equal(oci_name_classify(name, &got, &p), 0);
	if (got != kind)
		fail_msg("'%s': kind %d, wanted %d", name, got, kind);
	if (path) {
		assert_non_null(p);
		assert_string_equal(p, path);
	} else {
		assert_null(p);
	}
	free(p);
}

static void
test_names_are_classified(void **state)
{
	(void)state;
	expect_kind("etc/passwd", OCI_NAME_PLAIN, "etc/passwd");
	expect_kind("", OCI_NAME_PLAIN, "");
	expect_kind("etc/.wh.passwd", OCI_NAME_WHITEOUT, "etc/passwd");
	expect_kind(".wh.etc", OCI_NAME_WHITEOUT, "etc");
	expect_kind("a/.wh..hidden", OCI_NAME_WHITEOUT, "a/.hidden");
	expect_kind("var/.wh..wh..opq", OCI_NAME_OPAQUE, "var");
	expect_kind(".wh..wh..opq", OCI_NAME_OPAQUE, "");
	expect_kind(".wh..wh.plnk", OCI_NAME_AUFS, NULL);
	expect_kind(".wh..wh.plnk/123.456", OCI_NAME_AUFS, NULL);
	expect_kind("a/.wh..wh.aufs", OCI_NAME_AUFS, NULL);
	expect_kind("a.wh.b", OCI_NAME_PLAIN, "a.wh.b");
}

static void
test_bad_whiteouts_are_refused(void **state)
{
	enum oci_name_kind k;
	char *p = NULL;

	(void)state;
	assert_int_equal(oci_name_classify(".wh.", &k, &p), -EINVAL);
	assert_int_equal(oci_name_classify("a/.wh..", &k, &p), -EINVAL);
	assert_int_equal(oci_name_classify("a/.wh...", &k, &p), -EINVAL);
	assert_null(p);
}

static void
test_names_are_made_for_an_exporter(void **state)
{
	static const char *paths[] = {"a", "etc/passwd", "a/b/.hidden"};
	char *s;

	(void)state;
	s = oci_whiteout_name("etc/passwd", 10);
	assert_string_equal(s, "etc/.wh.passwd");
	free(s);
	s = oci_whiteout_name("a", 1);
	assert_string_equal(s, ".wh.a");
	free(s);
	s = oci_opaque_name("var/lib", 7);
	assert_string_equal(s, "var/lib/.wh..wh..opq");
	free(s);
	s = oci_opaque_name("", 0);
	assert_string_equal(s, ".wh..wh..opq");
	free(s);
	/* what is made classifies back to what it was made from */
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		enum oci_name_kind k;
		char *p;

		s = oci_whiteout_name(paths[i], strlen(paths[i]));
		assert_int_equal(oci_name_classify(s, &k, &p), 0);
		assert_int_equal(k, OCI_NAME_WHITEOUT);
		assert_string_equal(p, paths[i]);
		free(p);
		free(s);
		s = oci_opaque_name(paths[i], strlen(paths[i]));
		assert_int_equal(oci_name_classify(s, &k, &p), 0);
		assert_int_equal(k, OCI_NAME_OPAQUE);
		assert_string_equal(p, paths[i]);
		free(p);
		free(s);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names_are_cleaned_like_docker),
	    cmocka_unit_test(test_names_are_classified),
	    cmocka_unit_test(test_bad_whiteouts_are_refused),
	    cmocka_unit_test(test_names_are_made_for_an_exporter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
