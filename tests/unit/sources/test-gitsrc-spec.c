// SPDX-License-Identifier: Apache-2.0
/* Unit tests for sources/gitsrc-spec.c: URL kinds, fragments, refs, subdirs, URL keys. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sources/gitsrc-spec.h"
#include "util/error.h"

static void
parse_ok(const char *spec, enum gitsrc_url_kind kind, const char *url, const char *ref,
         enum gitsrc_ref_kind ref_kind, const char *subdir)
{
	struct gitsrc_spec sp;
	struct kl_error *err = NULL;

	if (gitsrc_spec_parse(spec, &sp, &err) < 0)
		fail_msg("'%s': %s", spec, err->msg);
	assert_int_equal(sp.url_kind, kind);
	assert_string_equal(sp.url, url);
	assert_string_equal(sp.ref, ref);
	assert_int_equal(sp.ref_kind, ref_kind);
	assert_string_equal(sp.subdir, subdir);
	gitsrc_spec_done(&sp);
}

static void
parse_bad(const char *spec, const char *msg_part)
{
	struct gitsrc_spec sp;
	struct kl_error *err = NULL;

	assert_int_equal(gitsrc_spec_parse(spec, &sp, &err), -EINVAL);
	assert_non_null(err);
	if (!strstr(err->msg, msg_part))
		fail_msg("'%s': message '%s' lacks '%s'", spec, err->msg, msg_part);
	kl_error_freep(&err);
}

static void
test_url_kinds(void **state)
{
	(void)state;
	assert_int_equal(gitsrc_spec_url_kind("git://h/r.git", 13), GITSRC_URL_REMOTE);
	assert_int_equal(gitsrc_spec_url_kind("HTTPS://h/r", 11), GITSRC_URL_REMOTE);
	assert_int_equal(gitsrc_spec_url_kind("ssh://git@h/r", 13), GITSRC_URL_REMOTE);
	assert_int_equal(gitsrc_spec_url_kind("http://h/r#x", 12), GITSRC_URL_REMOTE);
	assert_int_equal(gitsrc_spec_url_kind("file:///srv/r", 13), GITSRC_URL_FILE);
	assert_int_equal(gitsrc_spec_url_kind("git@github.com:o/r.git", 22), GITSRC_URL_SCP);
	assert_int_equal(gitsrc_spec_url_kind("dir/a:b", 7), GITSRC_URL_LOCAL);
	assert_int_equal(gitsrc_spec_url_kind("a/x@h:p", 7), GITSRC_URL_LOCAL);
	assert_int_equal(gitsrc_spec_url_kind("h:p", 3), GITSRC_URL_LOCAL);
	assert_int_equal(gitsrc_spec_url_kind("./repo#main", 11), GITSRC_URL_LOCAL);
	/* a scheme-like text after the '#' does not count */
	assert_int_equal(gitsrc_spec_url_kind("repo#git://x", 12), GITSRC_URL_LOCAL);
}

static void
test_fragments_split_ref_and_subdir(void **state)
{
	const char *c = "0123456789ABCDEF0123456789abcdef01234567";

	(void)state;
	parse_ok("git://127.0.0.1:9418/repo.git", GITSRC_URL_REMOTE,
	         "git://127.0.0.1:9418/repo.git", "", GITSRC_REF_HEAD, "");
	parse_ok("git://h/r.git#v1.2:sub", GITSRC_URL_REMOTE, "git://h/r.git", "v1.2",
	         GITSRC_REF_NAME, "sub");
	parse_ok("https://h/r.git#main", GITSRC_URL_REMOTE, "https://h/r.git", "main",
	         GITSRC_REF_NAME, "");
	parse_ok("https://h/r.git#:docs/api/", GITSRC_URL_REMOTE, "https://h/r.git", "",
	         GITSRC_REF_HEAD, "docs/api");
	parse_ok("https://h/r.git#HEAD:./a", GITSRC_URL_REMOTE, "https://h/r.git", "",
	         GITSRC_REF_HEAD, "a");
	parse_ok("https://h/r.git#main:.", GITSRC_URL_REMOTE, "https://h/r.git", "main",
	         GITSRC_REF_NAME, "");
	parse_ok("https://h/r.git#main:/", GITSRC_URL_REMOTE, "https://h/r.git", "main",
	         GITSRC_REF_NAME, "");
	parse_ok("https://h/r.git#", GITSRC_URL_REMOTE, "https://h/r.git", "", GITSRC_REF_HEAD, "");
	parse_ok("ssh://git@h/r#refs/pull/1/head", GITSRC_URL_REMOTE, "ssh://git@h/r",
	         "refs/pull/1/head", GITSRC_REF_FULL, "");
	parse_ok("git@h:o/r.git#dev:x/y", GITSRC_URL_SCP, "git@h:o/r.git", "dev", GITSRC_REF_NAME,
	         "x/y");
	parse_ok("file:///srv/r#abc1234", GITSRC_URL_FILE, "/srv/r", "abc1234", GITSRC_REF_SHORT,
	         "");
	parse_ok("/srv/r#deadbeef:s", GITSRC_URL_LOCAL, "/srv/r", "deadbeef", GITSRC_REF_SHORT,
	         "s");
	parse_ok("r#abc", GITSRC_URL_LOCAL, "r", "abc", GITSRC_REF_NAME, "");
	/* a full id is lowercased; a short one keeps its case, as it may be a name */
	{
		char spec[64], want[41];
		snprintf(spec, sizeof(spec), "r#%s", c);
		for (int i = 0; i < 40; i++)
			want[i] = (char)(c[i] >= 'A' && c[i] <= 'F' ? c[i] + 32 : c[i]);
		want[40] = '\0';
		parse_ok(spec, GITSRC_URL_LOCAL, "r", want, GITSRC_REF_COMMIT, "");
	}
	parse_ok("r#ABCD", GITSRC_URL_LOCAL, "r", "ABCD", GITSRC_REF_SHORT, "");
}

static void
test_bad_specs_are_rejected_with_a_message(void **state)
{
	(void)state;
	parse_bad("", "empty");
	parse_bad("#main", "bad repository URL");
	parse_bad("git://", "bad repository URL");
	parse_bad("git:///path", "bad repository URL");
	parse_bad("file://host/path", "bad repository URL");
	parse_bad("git@h:", "bad repository URL");
	parse_bad("git://h/r#main:../etc", "bad subdirectory '../etc'");
	parse_bad("git://h/r#main:a/../../b", "bad subdirectory");
	parse_bad("git://h/r#main:a//b", "bad subdirectory");
	parse_bad("git://h/r#-upload-pack=x", "not a valid ref");
	parse_bad("git://h/r#a..b", "not a valid ref");
	parse_bad("git://h/r#a b", "not a valid ref");
	parse_bad("git://h/r#a\tb", "control character");
	parse_bad("git://h/r#x.lock", "not a valid ref");
	parse_bad("git://h/r#a/.b", "not a valid ref");
	parse_bad("git://h/r#a@{1}", "not a valid ref");
	parse_bad("git://h/r#a^", "not a valid ref");
}

static void
test_ref_validity(void **state)
{
	(void)state;
	assert_true(gitsrc_ref_is_valid("main", 4));
	assert_true(gitsrc_ref_is_valid("feature/x-1", 11));
	assert_true(gitsrc_ref_is_valid("refs/pull/1/head", 16));
	assert_false(gitsrc_ref_is_valid("", 0));
	assert_false(gitsrc_ref_is_valid("@", 1));
	assert_false(gitsrc_ref_is_valid("a/", 2));
	assert_false(gitsrc_ref_is_valid("/a", 2));
	assert_false(gitsrc_ref_is_valid("a.", 2));
	assert_false(gitsrc_ref_is_valid("a//b", 4));
	assert_false(gitsrc_ref_is_valid("a.lock/b", 8));
	assert_false(gitsrc_ref_is_valid("a*", 2));
	assert_false(gitsrc_ref_is_valid("a\\b", 3));
}

static void
test_url_keys_merge_spellings_of_one_remote(void **state)
{
	struct gitsrc_spec a, b;
	char *ka, *kb;

	(void)state;
	assert_int_equal(gitsrc_spec_parse("HTTPS://Example.COM/Org/Repo.git/#main", &a, NULL), 0);
	assert_int_equal(gitsrc_spec_parse("https://example.com/Org/Repo.git#v1", &b, NULL), 0);
	ka = gitsrc_spec_url_key(&a, NULL);
	kb = gitsrc_spec_url_key(&b, NULL);
	assert_string_equal(ka, "https://example.com/Org/Repo.git");
	assert_string_equal(ka, kb);
	free(ka);
	free(kb);
	gitsrc_spec_done(&a);
	gitsrc_spec_done(&b);

	assert_int_equal(gitsrc_spec_parse("Git@GitHub.com:Org/R.git", &a, NULL), 0);
	ka = gitsrc_spec_url_key(&a, NULL);
	assert_string_equal(ka, "Git@github.com:Org/R.git");
	free(ka);
	gitsrc_spec_done(&a);

	assert_int_equal(gitsrc_spec_parse("file:///srv/r#x", &a, NULL), 0);
	ka = gitsrc_spec_url_key(&a, "/srv/r");
	assert_string_equal(ka, "file:///srv/r");
	free(ka);
	gitsrc_spec_done(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_url_kinds),
	    cmocka_unit_test(test_fragments_split_ref_and_subdir),
	    cmocka_unit_test(test_bad_specs_are_rejected_with_a_message),
	    cmocka_unit_test(test_ref_validity),
	    cmocka_unit_test(test_url_keys_merge_spellings_of_one_remote),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
