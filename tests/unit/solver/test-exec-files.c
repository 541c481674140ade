// SPDX-License-Identifier: Apache-2.0
/* Unit tests for what a step is given and how it is described: /etc/hosts, resolv.conf, the
 * OCI config, container paths resolved in a tree, and the tail of a step's output. */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "fs/tree.h"
#include "solver/exec-internal.h"
#include "util/error.h"

static void
test_hosts_has_localhost_hostname_and_extra_hosts(void **state)
{
	char *v[] = {"db=10.0.0.2", "v6=fd00::1"};
	struct graph_strv extra = {v, 2};
	struct kl_error *err = NULL;
	char *hosts;

	(void)state;
	assert_int_equal(exec_hosts_file("kiln", &extra, &hosts, &err), 0);
	assert_string_equal(hosts, "127.0.0.1\tlocalhost kiln\n"
	                           "::1\tlocalhost ip6-localhost ip6-loopback\n"
	                           "10.0.0.2\tdb\n"
	                           "fd00::1\tv6\n");
	free(hosts);
	v[0] = "db=not-an-ip";
	assert_int_equal(exec_hosts_file("kiln", &extra, &hosts, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "'db=not-an-ip'"));
	kl_error_freep(&err);
}

static void
test_resolv_conf_drops_loopback_nameservers_off_the_host_network(void **state)
{
	const char host[] = "# generated\nnameserver 127.0.0.53\nnameserver 10.1.1.1\n"
	                    "nameserver ::1\noptions edns0\nsearch example.com\n";
	const char local[] = "nameserver 127.0.0.53\n";
	char *r;

	(void)state;
	r = exec_resolv_conf(host, strlen(host), true);
	assert_string_equal(r, host);
	free(r);
	r = exec_resolv_conf(host, strlen(host), false);
	assert_string_equal(r, "# generated\nnameserver 10.1.1.1\noptions edns0\n"
	                       "search example.com\n");
	free(r);
	r = exec_resolv_conf(local, strlen(local), false);
	assert_string_equal(r, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
	free(r);
	r = exec_resolv_conf(NULL, 0, false);
	assert_string_equal(r, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
	free(r);
}

static json_t *
spec(bool none, bool insecure)
{
	struct exec_user u = {.uid = 1000,
	                      .gid = 1000,
	                      .groups = (uint32_t[]){10, 50},
	                      .n_groups = 2,
	                      .home = "/home/a"};
	char *args[] = {"/bin/sh", "-c", "true"}, *env[] = {"PATH=/bin"};
	struct exec_spec_mount m = {.dest = "/cache",
	                            .type = "bind",
	                            .source = "/s",
	                            .options = {"rbind", "ro"},
	                            .n_options = 2};
	struct exec_spec s = {.rootfs = "/r",
	                      .args = args,
	                      .n_args = 3,
	                      .env = env,
	                      .n_env = 1,
	                      .cwd = "/",
	                      .user = &u,
	                      .hostname = "kiln",
	                      .network_none = none,
	                      .insecure = insecure,
	                      .mounts = &m,
	                      .n_mounts = 1,
	                      .seccomp_bpf = "AAAAAAAAAAA="};
	char *text = exec_spec_json(&s);
	json_t *j = json_loads(text, 0, NULL);

	free(text);
	assert_non_null(j);
	return j;
}

static bool
has_namespace(json_t *j, const char *type)
{
	json_t *ns = json_object_get(json_object_get(j, "linux"), "namespaces"), *n;
	size_t i;

	json_array_foreach(
	    ns, i, n) if (!strcmp(json_string_value(json_object_get(n, "type")), type)) return true;
	return false;
}

static void
test_config_is_sandboxed_by_default(void **state)
{
	json_t *j = spec(true, false), *proc = json_object_get(j, "process"), *caps, *mounts, *m;
	size_t i, n_sys = 0;

	(void)state;
	caps = json_object_get(json_object_get(proc, "capabilities"), "bounding");
	assert_int_equal(json_array_size(caps), 14);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(proc, "user"), "uid")),
	                 1000);
	assert_int_equal(
	    json_array_size(json_object_get(json_object_get(proc, "user"), "additionalGids")), 2);
	assert_false(json_is_true(json_object_get(proc, "terminal")));
	assert_true(has_namespace(j, "network"));
	assert_true(has_namespace(j, "pid"));
	assert_non_null(json_object_get(json_object_get(j, "linux"), "seccomp"));
	/* the compiled profile goes to crun as its annotation */
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "annotations"),
	                                                      "run.oci.seccomp_bpf_data")),
	                    "AAAAAAAAAAA=");
	assert_true(json_array_size(json_object_get(json_object_get(j, "linux"), "maskedPaths")) >
	            5);
	mounts = json_object_get(j, "mounts");
	json_array_foreach(mounts, i, m)
	{
		const char *d = json_string_value(json_object_get(m, "destination"));
		json_t *o = json_object_get(m, "options"), *x;
		size_t k;
		bool ro = false;

		json_array_foreach(o, k, x) ro |= !strcmp(json_string_value(x), "ro");
		if (!strcmp(d, "/sys") || !strcmp(d, "/sys/fs/cgroup")) {
			assert_true(ro);
			n_sys++;
		}
	}
	assert_int_equal(n_sys, 2);
	/* the step's own mount comes last */
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(mounts, json_array_size(mounts) - 1),
	                                      "destination")),
	    "/cache");
	json_decref(j);
}

static void
test_insecure_config_has_no_seccomp_and_more_caps(void **state)
{
	json_t *j = spec(false, true), *lin = json_object_get(j, "linux");

	(void)state;
	assert_false(has_namespace(j, "network"));
	assert_null(json_object_get(lin, "seccomp"));
	assert_null(json_object_get(j, "annotations"));
	assert_null(json_object_get(lin, "maskedPaths"));
	assert_true(
	    json_array_size(json_object_get(
	        json_object_get(json_object_get(j, "process"), "capabilities"), "bounding")) > 14);
	json_decref(j);
}

static void
test_paths_clean_lexically(void **state)
{
	char *p;

	(void)state;
	p = exec_path_clean("/a/../b//c/./");
	assert_string_equal(p, "/b/c");
	free(p);
	p = exec_path_clean("/../..");
	assert_string_equal(p, "/");
	free(p);
}

static void
release(void *buf, size_t len)
{
	(void)len;
	free(buf);
}

static struct tree *
make_tree(void)
{
	struct tree_builder *b = tree_builder_new();
	struct tree *t;
	char *buf;
	size_t len;
	struct tree_entry dirs[] = {
	    {.path = "etc", .path_len = 3, .type = TREE_DIR, .mode = 0755},
	    {.path = "run", .path_len = 3, .type = TREE_DIR, .mode = 0755},
	    {.path = "var", .path_len = 3, .type = TREE_DIR, .mode = 0755},
	};
	struct tree_entry links[] = {
	    {.path = "var/run", .path_len = 7, .type = TREE_SYMLINK, .link = "/run", .link_len = 4},
	    {.path = "etc/up",
	     .path_len = 6,
	     .type = TREE_SYMLINK,
	     .link = "../../..",
	     .link_len = 8},
	    {.path = "loop", .path_len = 4, .type = TREE_SYMLINK, .link = "loop", .link_len = 4},
	};

	for (size_t i = 0; i < 3; i++)
		assert_int_equal(tree_builder_add(b, &dirs[i], NULL, 0, NULL), 0);
	for (size_t i = 0; i < 3; i++) {
		links[i].mode = 0777;
		links[i].size = links[i].link_len;
		assert_int_equal(tree_builder_add(b, &links[i], NULL, 0, NULL), 0);
	}
	assert_int_equal(tree_builder_serialize(b, &buf, &len, NULL), 0);
	tree_builder_free(b);
	assert_int_equal(tree_parse(buf, len, release, &t, NULL), 0);
	return t;
}

static void
test_container_paths_resolve_in_the_tree(void **state)
{
	struct tree *t = make_tree();
	bool exists;
	char *p;

	(void)state;
	assert_int_equal(exec_tree_resolve(t, "/var/run/secrets/x", &p, &exists), 0);
	assert_string_equal(p, "run/secrets/x");
	assert_false(exists);
	free(p);
	assert_int_equal(exec_tree_resolve(t, "/etc/up/var/run", &p, &exists), 0);
	assert_string_equal(p, "run"); /* ".." stops at the root */
	assert_true(exists);
	free(p);
	assert_int_equal(exec_tree_resolve(t, "/etc/../etc/hosts", &p, &exists), 0);
	assert_string_equal(p, "etc/hosts");
	free(p);
	assert_int_equal(exec_tree_resolve(t, "/loop/x", &p, &exists), -ELOOP);
	assert_int_equal(exec_tree_resolve(NULL, "/a/./b/../c", &p, &exists), 0);
	assert_string_equal(p, "a/c");
	assert_false(exists);
	free(p);
	tree_unref(t);
}

static void
test_tail_keeps_the_last_lines(void **state)
{
	struct exec_tail t = {0};
	char *s;

	(void)state;
	for (int i = 0; i < 3000; i++) {
		char line[32];
		int n = snprintf(line, sizeof(line), "line %d\n", i);
		exec_tail_append(&t, line, (size_t)n);
	}
	s = exec_tail_lines(&t, 3);
	assert_string_equal(s, "  line 2997\n  line 2998\n  line 2999");
	free(s);
	memset(&t, 0, sizeof(t));
	exec_tail_append(&t, "only\n", 5);
	s = exec_tail_lines(&t, 10);
	assert_string_equal(s, "  only");
	free(s);
	memset(&t, 0, sizeof(t));
	s = exec_tail_lines(&t, 10);
	assert_string_equal(s, "");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hosts_has_localhost_hostname_and_extra_hosts),
	    cmocka_unit_test(test_resolv_conf_drops_loopback_nameservers_off_the_host_network),
	    cmocka_unit_test(test_config_is_sandboxed_by_default),
	    cmocka_unit_test(test_insecure_config_has_no_seccomp_and_more_caps),
	    cmocka_unit_test(test_paths_clean_lexically),
	    cmocka_unit_test(test_container_paths_resolve_in_the_tree),
	    cmocka_unit_test(test_tail_keeps_the_last_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
