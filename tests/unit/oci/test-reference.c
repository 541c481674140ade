// SPDX-License-Identifier: Apache-2.0
/* Unit tests for oci/reference: Docker's naming rules, defaults, hosts, tags and digests. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "oci/reference.h"
#include "util/error.h"

#define HEX "4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1"

static void
check(const char *s, const char *domain, const char *repo, const char *tag, bool has_digest)
{
	struct oci_reference ref;
	struct kl_error *err = NULL;

	if (oci_reference_parse(s, &ref, &err) < 0)
		fail_msg("'%s': %s", s, err->msg);
	assert_string_equal(ref.domain, domain);
	assert_string_equal(ref.repository, repo);
	if (tag)
		assert_string_equal(ref.tag, tag);
	else
		assert_null(ref.tag);
	assert_int_equal(ref.has_digest, has_digest);
	oci_reference_done(&ref);
}

static void
test_short_names_get_docker_hub_defaults(void **state)
{
	(void)state;
	check("busybox", "docker.io", "library/busybox", "latest", false);
	check("busybox:1.36", "docker.io", "library/busybox", "1.36", false);
	check("user/app", "docker.io", "user/app", "latest", false);
	check("docker.io/busybox", "docker.io", "library/busybox", "latest", false);
	check("index.docker.io/library/busybox", "docker.io", "library/busybox", "latest", false);
}

static void
test_hosts_are_told_by_dot_colon_or_localhost(void **state)
{
	(void)state;
	check("127.0.0.1:5000/busybox:tag", "127.0.0.1:5000", "busybox", "tag", false);
	check("localhost/a/b", "localhost", "a/b", "latest", false);
	check("quay.io/org/app", "quay.io", "org/app", "latest", false);
	check("[::1]:5000/x", "[::1]:5000", "x", "latest", false);
	check("localhost:5000/x:v1.2-rc_3", "localhost:5000", "x", "v1.2-rc_3", false);
}

static void
test_digest_alone_or_with_tag(void **state)
{
	struct oci_reference ref;
	char *m;

	(void)state;
	check("busybox@sha256:" HEX, "docker.io", "library/busybox", NULL, true);
	check("h:1/busybox:t@sha256:" HEX, "h:1", "busybox", "t", true);
	assert_int_equal(oci_reference_parse("busybox@sha256:" HEX, &ref, NULL), 0);
	m = oci_reference_manifest_ref(&ref);
	assert_string_equal(m, "sha256:" HEX);
	free(m);
	assert_string_equal(oci_reference_api_host(&ref), "registry-1.docker.io");
	oci_reference_done(&ref);
}

static void
test_bad_references_are_refused_with_a_message(void **state)
{
	static const char *bad[] = {
	    "",     "Busybox",    "busybox:",  "busybox@sha256:abc",
	    "a//b", "host:5000/", "x:bad tag", "x@md5:" HEX,
	    "-x",   "x/-y",       "x:.t",      "a..b",
	};
	struct oci_reference ref;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct kl_error *err = NULL;

		if (oci_reference_parse(bad[i], &ref, &err) == 0)
			fail_msg("'%s' was accepted", bad[i]);
		assert_non_null(err);
		assert_int_equal(err->code, EINVAL);
		kl_error_free(err);
	}
}

static void
test_loopback_hosts(void **state)
{
	(void)state;
	assert_true(oci_host_is_loopback("127.0.0.1:5000"));
	assert_true(oci_host_is_loopback("127.1.2.3"));
	assert_true(oci_host_is_loopback("localhost:80"));
	assert_true(oci_host_is_loopback("[::1]:5000"));
	assert_true(oci_host_is_loopback("::1"));
	assert_false(oci_host_is_loopback("127.0.0.1.example.com"));
	assert_false(oci_host_is_loopback("10.0.0.1:5000"));
	assert_false(oci_host_is_loopback("localhost.evil"));
	assert_false(oci_host_is_loopback("[::2]:5000"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_short_names_get_docker_hub_defaults),
	    cmocka_unit_test(test_hosts_are_told_by_dot_colon_or_localhost),
	    cmocka_unit_test(test_digest_alone_or_with_tag),
	    cmocka_unit_test(test_bad_references_are_refused_with_a_message),
	    cmocka_unit_test(test_loopback_hosts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
