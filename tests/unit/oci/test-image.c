// SPDX-License-Identifier: Apache-2.0
/* Unit tests for oci/image and the auth helpers of oci/registry: manifests, indexes and configs
 * of both media type families, platform selection, malformed input, challenges, credentials. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci/image.h"
#include "oci/registry.h"
#include "util/error.h"
#include "util/xalloc.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"

static const char docker_manifest[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_DOCKER_MANIFEST "\","
    "\"config\":{\"mediaType\":\"" OCI_MT_DOCKER_CONFIG "\",\"size\":7023,\"digest\":\"" D1 "\"},"
    "\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\","
    "\"size\":32654,\"digest\":\"" D2 "\"},{\"mediaType\":"
    "\"application/vnd.oci.image.layer.v1.tar+zstd\",\"size\":16724,\"digest\":\"" D3 "\","
    "\"annotations\":{\"" OCI_ANN_ZSTD_CHUNKED_POS "\":\"100:20:300:1\"}}]}";

static const char oci_index[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_INDEX "\",\"manifests\":["
    "{\"mediaType\":\"" OCI_MT_MANIFEST "\",\"size\":1,\"digest\":\"" D1 "\","
    "\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v7\"}},"
    "{\"mediaType\":\"" OCI_MT_MANIFEST "\",\"size\":2,\"digest\":\"" D2 "\","
    "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
    "{\"mediaType\":\"" OCI_MT_MANIFEST "\",\"size\":3,\"digest\":\"" D3 "\","
    "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}}]}";

static void
test_docker_manifest_parses(void **state)
{
	struct oci_manifest m;
	enum oci_doc_kind kind;
	struct digest d;

	(void)state;
	assert_int_equal(oci_doc_kind(docker_manifest, strlen(docker_manifest), NULL, &kind, NULL),
	                 0);
	assert_int_equal(kind, OCI_DOC_MANIFEST);
	assert_int_equal(oci_manifest_parse(docker_manifest, strlen(docker_manifest), &m, NULL), 0);
	assert_int_equal(m.n_layers, 2);
	assert_int_equal(m.config.size, 7023);
	assert_int_equal(digest_parse(D2, strlen(D2), &d, NULL), 0);
	assert_true(digest_equal(&m.layers[0].digest, &d));
	assert_int_equal(oci_layer_compression(m.layers[0].media_type), OCI_LAYER_GZIP);
	assert_int_equal(oci_layer_compression(m.layers[1].media_type), OCI_LAYER_ZSTD);
	assert_string_equal(m.layers[1].chunked_position, "100:20:300:1");
	assert_null(m.layers[0].chunked_position);
	oci_manifest_done(&m);
}

static int
select_for(const char *platform)
{
	struct oci_platform p;
	struct oci_index idx;
	int i;

	assert_int_equal(oci_index_parse(oci_index, strlen(oci_index), &idx, NULL), 0);
	assert_int_equal(oci_platform_parse(platform, &p, NULL), 0);
	i = oci_index_select(&idx, &p, NULL);
	oci_platform_done(&p);
	oci_index_done(&idx);
	return i;
}

static void
test_index_selects_linux_amd64_by_default(void **state)
{
	enum oci_doc_kind kind;

	(void)state;
	assert_int_equal(oci_doc_kind(oci_index, strlen(oci_index), NULL, &kind, NULL), 0);
	assert_int_equal(kind, OCI_DOC_INDEX);
	assert_int_equal(select_for(NULL), 1);
	assert_int_equal(select_for("linux/arm/v7"), 0);
	assert_int_equal(select_for("linux/arm64"), 2);
	assert_int_equal(select_for("linux/arm"), 0);
}

static void
test_missing_platform_lists_what_the_index_has(void **state)
{
	struct kl_error *err = NULL;
	struct oci_platform p;
	struct oci_index idx;

	(void)state;
	assert_int_equal(oci_index_parse(oci_index, strlen(oci_index), &idx, NULL), 0);
	assert_int_equal(oci_platform_parse("windows/amd64", &p, NULL), 0);
	assert_int_equal(oci_index_select(&idx, &p, &err), -ENOENT);
	assert_non_null(strstr(err->msg, "linux/arm/v7"));
	kl_error_free(err);
	oci_platform_done(&p);
	oci_index_done(&idx);
	assert_int_equal(oci_platform_parse("linux", &p, NULL), -EINVAL);
	assert_int_equal(oci_platform_parse("linux/", &p, NULL), -EINVAL);
	assert_int_equal(oci_platform_parse("/amd64", &p, NULL), -EINVAL);
}

static void
test_docker_list_is_an_index_by_content_type(void **state)
{
	static const char list[] = "{\"schemaVersion\":2,\"manifests\":[]}";
	enum oci_doc_kind kind;

	(void)state;
	assert_int_equal(oci_doc_kind(list, strlen(list), OCI_MT_DOCKER_LIST, &kind, NULL), 0);
	assert_int_equal(kind, OCI_DOC_INDEX);
}

static void
test_config_diff_ids(void **state)
{
	static const char cfg[] = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":"
	                          "{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\",\"" D2 "\"]}}";
	struct oci_config c;

	(void)state;
	assert_int_equal(oci_config_parse(cfg, strlen(cfg), &c, NULL), 0);
	assert_int_equal(c.n_diff_ids, 2);
	assert_string_equal(c.platform.architecture, "amd64");
	oci_config_done(&c);
}

static void
test_malformed_documents_are_errors(void **state)
{
	static const char *bad[] = {
	    "",
	    "{",
	    "[]",
	    "null",
	    "{\"schemaVersion\":1,\"layers\":[],\"config\":{}}",
	    "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\"},\"layers\":[]}",
	    "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:12\",\"size\":1},\"layers\":[]}",
	    "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\",\"size\":-1},\"layers\":[]}",
	    "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\",\"size\":1},\"layers\":{}}",
	    "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\",\"size\":1},\"layers\":[1]}",
	    "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\",\"size\":1,\"mediaType\":7},"
	    "\"layers\":[]}",
	    "{\"schemaVersion\":2,\"schemaVersion\":2}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct kl_error *err = NULL;
		struct oci_manifest m;

		if (oci_manifest_parse(bad[i], strlen(bad[i]), &m, &err) == 0)
			fail_msg("'%s' was accepted", bad[i]);
		assert_non_null(err);
		kl_error_free(err);
	}
}

static void
test_oversized_json_is_refused_before_parsing(void **state)
{
	size_t n = OCI_MAX_MANIFEST_SIZE + 1;
	char *big = xmalloc(n);
	struct kl_error *err = NULL;
	struct oci_index idx;

	(void)state;
	memset(big, ' ', n);
	assert_int_equal(oci_index_parse(big, n, &idx, &err), -EFBIG);
	kl_error_free(err);
	free(big);
}

static void
test_too_many_layers_is_an_error(void **state)
{
	size_t cap = 256 * (OCI_MAX_LAYERS + 2);
	char *buf = xmalloc(cap), *p = buf;
	struct kl_error *err = NULL;
	struct oci_manifest m;

	(void)state;
	p += sprintf(p, "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\",\"size\":1},"
	                "\"layers\":[");
	for (unsigned i = 0; i <= OCI_MAX_LAYERS; i++)
		p += sprintf(p, "%s{\"digest\":\"" D2 "\",\"size\":1}", i ? "," : "");
	p += sprintf(p, "]}");
	assert_int_equal(oci_manifest_parse(buf, (size_t)(p - buf), &m, &err), -EBADMSG);
	assert_non_null(strstr(err->msg, "limit"));
	kl_error_free(err);
	free(buf);
}

static void
test_bearer_and_basic_challenges(void **state)
{
	struct registry_challenge c;

	(void)state;
	assert_int_equal(
	    registry_parse_challenge(
	        "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
	        "scope=\"repository:library/busybox:pull\"",
	        &c),
	    0);
	assert_int_equal(c.scheme, REGISTRY_AUTH_BEARER);
	assert_string_equal(c.realm, "https://auth.docker.io/token");
	assert_string_equal(c.service, "registry.docker.io");
	assert_string_equal(c.scope, "repository:library/busybox:pull");
	registry_challenge_done(&c);
	assert_int_equal(registry_parse_challenge("basic realm=\"Registry Realm\"", &c), 0);
	assert_int_equal(c.scheme, REGISTRY_AUTH_BASIC);
	assert_string_equal(c.realm, "Registry Realm");
	registry_challenge_done(&c);
	assert_int_equal(registry_parse_challenge("Bearer realm=\"a\\\"b\", error=x", &c), 0);
	assert_string_equal(c.realm, "a\"b");
	registry_challenge_done(&c);
	assert_int_equal(registry_parse_challenge("Bearer service=\"x\"", &c), -EINVAL);
	assert_int_equal(registry_parse_challenge("Negotiate abc", &c), -EINVAL);
	assert_int_equal(registry_parse_challenge("", &c), -EINVAL);
}

static void
test_credentials_from_docker_config(void **state)
{
	static const char cfg[] =
	    "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"aHViOnB3\"},"
	    "\"127.0.0.1:5000\":{\"username\":\"user\",\"password\":\"pass\"},"
	    "\"http://quay.io\":{\"auth\":\"cTpw\"}}}";
	struct registry_auth a;

	(void)state;
	assert_int_equal(registry_auth_lookup(cfg, strlen(cfg), "registry-1.docker.io", &a, NULL),
	                 0);
	assert_string_equal(a.basic, "aHViOnB3");
	registry_auth_done(&a);
	assert_int_equal(registry_auth_lookup(cfg, strlen(cfg), "127.0.0.1:5000", &a, NULL), 0);
	assert_string_equal(a.basic, "dXNlcjpwYXNz"); /* user:pass */
	registry_auth_done(&a);
	assert_int_equal(registry_auth_lookup(cfg, strlen(cfg), "quay.io", &a, NULL), 0);
	assert_string_equal(a.basic, "cTpw");
	registry_auth_done(&a);
	assert_int_equal(registry_auth_lookup(cfg, strlen(cfg), "ghcr.io", &a, NULL), -ENOENT);
	assert_int_equal(registry_auth_lookup("{", 1, "ghcr.io", &a, NULL), -EBADMSG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_docker_manifest_parses),
	    cmocka_unit_test(test_index_selects_linux_amd64_by_default),
	    cmocka_unit_test(test_missing_platform_lists_what_the_index_has),
	    cmocka_unit_test(test_docker_list_is_an_index_by_content_type),
	    cmocka_unit_test(test_config_diff_ids),
	    cmocka_unit_test(test_malformed_documents_are_errors),
	    cmocka_unit_test(test_oversized_json_is_refused_before_parsing),
	    cmocka_unit_test(test_too_many_layers_is_an_error),
	    cmocka_unit_test(test_bearer_and_basic_challenges),
	    cmocka_unit_test(test_credentials_from_docker_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
