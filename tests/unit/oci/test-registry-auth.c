// SPDX-License-Identifier: Apache-2.0
/* Unit tests for oci/registry-auth: which credentials a Docker config.json gives a host
 * (credHelpers, then credsStore, then auths) and what a credential helper's answer means. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "oci/registry.h"
#include "util/error.h"

#define HUB "registry-1.docker.io"

/* Every way to name credentials at once: the docker CLI's order decides. */
static const char full_config[] =
    "{\"auths\":{\"127.0.0.1:5000\":{\"auth\":\"dTpw\"},\"quay.io\":{\"auth\":\"cTpw\"},"
    "\"https://index.docker.io/v1/\":{\"auth\":\"aHViOnB3\"}},"
    "\"credHelpers\":{\"127.0.0.1:5000\":\"local\",\"https://index.docker.io/v1/\":\"hub\"},"
    "\"credsStore\":\"desktop\"}";

static void
assert_lookup_helper(const char *cfg, const char *host, const char *want)
{
	struct registry_auth a;

	assert_int_equal(registry_auth_lookup(cfg, strlen(cfg), host, &a, NULL), 0);
	assert_non_null(a.helper);
	assert_string_equal(a.helper, want);
	assert_null(a.basic);
	assert_null(a.identity_token);
	registry_auth_done(&a);
}

static void
test_cred_helpers_come_before_creds_store_and_auths(void **state)
{
	(void)state;
	assert_lookup_helper(full_config, "127.0.0.1:5000", "local");
	assert_lookup_helper(full_config, HUB, "hub");
	/* quay.io has no credHelpers entry: the default store wins over its auths entry */
	assert_lookup_helper(full_config, "quay.io", "desktop");
	assert_lookup_helper(full_config, "ghcr.io", "desktop");
}

static void
test_auths_when_no_helper_is_named(void **state)
{
	static const char cfg[] = "{\"credHelpers\":{\"gcr.io\":\"gcloud\"},"
	                          "\"auths\":{\"https://127.0.0.1:5000/v2/"
	                          "\":{\"auth\":\"dTpw\",\"identitytoken\":\"rt\"},"
	                          "\"tok.example\":{\"identitytoken\":\"only-token\"}}}";
	struct registry_auth a;

	(void)state;
	assert_lookup_helper(cfg, "gcr.io", "gcloud");
	assert_int_equal(registry_auth_lookup(cfg, strlen(cfg), "127.0.0.1:5000", &a, NULL), 0);
	assert_null(a.helper);
	assert_string_equal(a.basic, "dTpw");
	assert_string_equal(a.identity_token, "rt");
	registry_auth_done(&a);
	assert_int_equal(registry_auth_lookup(cfg, strlen(cfg), "tok.example", &a, NULL), 0);
	assert_null(a.basic);
	assert_string_equal(a.identity_token, "only-token");
	registry_auth_done(&a);
	assert_int_equal(registry_auth_lookup(cfg, strlen(cfg), "ghcr.io", &a, NULL), -ENOENT);
}

static void
test_empty_helper_name_means_the_auths_entry(void **state)
{
	/* docker: an empty credHelpers entry stops the search there and reads the file */
	static const char cfg[] = "{\"credHelpers\":{\"quay.io\":\"\"},\"credsStore\":\"desktop\","
	                          "\"auths\":{\"quay.io\":{\"auth\":\"cTpw\"}}}";
	static const char empty_store[] = "{\"credsStore\":\"\",\"auths\":{\"quay.io\":"
	                                  "{\"username\":\"q\",\"password\":\"p\"}}}";
	struct registry_auth a;

	(void)state;
	assert_int_equal(registry_auth_lookup(cfg, strlen(cfg), "quay.io", &a, NULL), 0);
	assert_null(a.helper);
	assert_string_equal(a.basic, "cTpw");
	registry_auth_done(&a);
	assert_lookup_helper(cfg, "ghcr.io", "desktop");
	assert_int_equal(
	    registry_auth_lookup(empty_store, strlen(empty_store), "quay.io", &a, NULL), 0);
	assert_null(a.helper);
	assert_string_equal(a.basic, "cTpw");
	registry_auth_done(&a);
}

static void
assert_lookup_error(const char *cfg, const char *host, const char *want)
{
	struct registry_auth a = {0};
	struct kl_error *err = NULL;

	assert_int_equal(registry_auth_lookup(cfg, strlen(cfg), host, &a, &err), -EBADMSG);
	assert_non_null(err);
	assert_non_null(strstr(err->msg, want));
	assert_null(a.helper);
	kl_error_free(err);
}

static void
test_bad_helper_names_are_errors_naming_the_key(void **state)
{
	(void)state;
	assert_lookup_error("{\"credsStore\":\"../../bin/sh\"}", "quay.io",
	                    "credsStore: '../../bin/sh' is not a credential helper name");
	assert_lookup_error("{\"credsStore\":7}", "quay.io", "credsStore is not a string");
	assert_lookup_error("{\"credHelpers\":{\"quay.io\":null}}", "quay.io",
	                    "credHelpers['quay.io'] is not a string");
	assert_lookup_error("[1]", "quay.io", "not a JSON object");
	assert_lookup_error("{\"auths\":", "quay.io", "malformed JSON");
}

static void
test_helper_is_asked_about_the_docker_server_address(void **state)
{
	(void)state;
	assert_string_equal(registry_credhelper_server(HUB), "https://index.docker.io/v1/");
	assert_string_equal(registry_credhelper_server("127.0.0.1:5000"), "127.0.0.1:5000");
	assert_string_equal(registry_credhelper_server("ghcr.io"), "ghcr.io");
}

static int
answer(int status, const char *out, const char *msg, struct registry_auth *a, struct kl_error **err)
{
	*a = (struct registry_auth){0};
	return registry_credhelper_answer("test", status, out, strlen(out), msg, a, err);
}

static void
test_helper_answer_gives_basic_credentials(void **state)
{
	struct registry_auth a;

	(void)state;
	assert_int_equal(answer(W_EXITCODE(0, 0),
	                        "{\"ServerURL\":\"quay.io\",\"Username\":\"user\","
	                        "\"Secret\":\"pass\"}\n",
	                        NULL, &a, NULL),
	                 0);
	assert_string_equal(a.basic, "dXNlcjpwYXNz"); /* user:pass */
	assert_null(a.identity_token);
	registry_auth_done(&a);
	/* ServerURL is not needed; fields docker does not know are ignored */
	assert_int_equal(answer(W_EXITCODE(0, 0), "{\"Username\":\"u\",\"Secret\":\"\",\"x\":1}",
	                        NULL, &a, NULL),
	                 0);
	assert_string_equal(a.basic, "dTo="); /* u: */
	registry_auth_done(&a);
}

static void
test_helper_token_username_gives_an_identity_token(void **state)
{
	struct kl_error *err = NULL;
	struct registry_auth a;

	(void)state;
	assert_int_equal(answer(W_EXITCODE(0, 0),
	                        "{\"ServerURL\":\"https://index.docker.io/v1/\","
	                        "\"Username\":\"<token>\",\"Secret\":\"refresh-me\"}",
	                        NULL, &a, NULL),
	                 0);
	assert_null(a.basic);
	assert_string_equal(a.identity_token, "refresh-me");
	registry_auth_done(&a);
	assert_int_equal(
	    answer(W_EXITCODE(0, 0), "{\"Username\":\"<token>\",\"Secret\":\"\"}", NULL, &a, &err),
	    -EBADMSG);
	assert_non_null(strstr(err->msg, "empty identity token"));
	kl_error_free(err);
}

static void
test_helper_without_credentials_means_anonymous(void **state)
{
	struct kl_error *err = NULL;
	struct registry_auth a;

	(void)state;
	assert_int_equal(
	    answer(W_EXITCODE(1, 0), "credentials not found in native keychain\n", NULL, &a, &err),
	    -ENOENT);
	assert_null(err);
	assert_int_equal(answer(W_EXITCODE(1, 0), "", "error: credentials not found\n", &a, &err),
	                 -ENOENT);
	assert_null(err);
	assert_null(a.basic);
	assert_null(a.identity_token);
}

static void
test_helper_failures_are_errors_naming_the_helper(void **state)
{
	struct kl_error *err = NULL;
	struct registry_auth a;

	(void)state;
	assert_int_equal(answer(W_EXITCODE(1, 0), "", "  keychain locked\n", &a, &err), -EIO);
	assert_string_equal(err->msg, "credential helper 'docker-credential-test' failed (exit "
	                              "status 1): keychain locked");
	kl_error_free(err);
	err = NULL;
	assert_int_equal(answer(W_EXITCODE(2, 0), "out\nwins\n", "not this", &a, &err), -EIO);
	assert_non_null(strstr(err->msg, "(exit status 2): out wins"));
	kl_error_free(err);
	err = NULL;
	assert_int_equal(answer(W_EXITCODE(3, 0), "", NULL, &a, &err), -EIO);
	assert_non_null(strstr(err->msg, "it said nothing"));
	kl_error_free(err);
	err = NULL;
	/* a signal is a failure even when the output looked like "not found" */
	assert_int_equal(answer(SIGKILL, "credentials not found", NULL, &a, &err), -EIO);
	assert_non_null(strstr(err->msg, "'docker-credential-test' was killed by signal 9"));
	kl_error_free(err);
}

static void
assert_bad_answer(const char *out, const char *want)
{
	struct kl_error *err = NULL;
	struct registry_auth a;

	assert_int_equal(answer(W_EXITCODE(0, 0), out, NULL, &a, &err), -EBADMSG);
	assert_non_null(err);
	assert_non_null(strstr(err->msg, "credential helper 'docker-credential-test'"));
	assert_non_null(strstr(err->msg, want));
	assert_null(a.basic);
	assert_null(a.identity_token);
	kl_error_free(err);
}

static void
test_malformed_helper_answers_are_errors(void **state)
{
	(void)state;
	assert_bad_answer("", "malformed JSON");
	assert_bad_answer("user:pass", "malformed JSON");
	assert_bad_answer("{\"Username\":\"u\"}", "no 'Secret' string");
	assert_bad_answer("{\"Secret\":\"s\"}", "no 'Username' string");
	assert_bad_answer("{\"Username\":1,\"Secret\":\"s\"}", "no 'Username' string");
	assert_bad_answer("[\"u\",\"s\"]", "no 'Username' string");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cred_helpers_come_before_creds_store_and_auths),
	    cmocka_unit_test(test_auths_when_no_helper_is_named),
	    cmocka_unit_test(test_empty_helper_name_means_the_auths_entry),
	    cmocka_unit_test(test_bad_helper_names_are_errors_naming_the_key),
	    cmocka_unit_test(test_helper_is_asked_about_the_docker_server_address),
	    cmocka_unit_test(test_helper_answer_gives_basic_credentials),
	    cmocka_unit_test(test_helper_token_username_gives_an_identity_token),
	    cmocka_unit_test(test_helper_without_credentials_means_anonymous),
	    cmocka_unit_test(test_helper_failures_are_errors_naming_the_helper),
	    cmocka_unit_test(test_malformed_helper_answers_are_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
