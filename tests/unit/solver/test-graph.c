// SPDX-License-Identifier: Apache-2.0
/* Unit tests for solver/graph: the JSON form read and written back, the canonical form and
 * digests (names, ids, ignore_cache and written-out defaults leave them unchanged), the build
 * API, and errors that name the JSON path. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "solver/graph-internal.h"
#include "solver/graph.h"
#include "util/error.h"
#include "util/xalloc.h"

/* Every op and nearly every field. */
static const char full[] =
    "{\"version\": 1, \"vertices\": ["
    " {\"id\": \"ctx\", \"name\": \"ctx\", \"source\": {\"type\": \"local\", \"name\": \"context\","
    "   \"include\": [\"src\"], \"exclude\": [\"*.log\"], \"followpaths\": [\"src/a\"]}},"
    " {\"id\": \"img\", \"source\": {\"type\": \"image\", \"ref\": \"docker-image://x/y:1\","
    "   \"platform\": \"linux/arm64\"}},"
    " {\"id\": \"git\", \"source\": {\"type\": \"git\", \"ref\": \"https://h/r.git#main:d\"}},"
    " {\"id\": \"dl\", \"source\": {\"type\": \"http\", \"url\": \"https://h/f.tgz\","
    "   \"checksum\": \"sha256:" /* 64 hex */
    "0000000000000000000000000000000000000000000000000000000000000001\","
    "   \"filename\": \"f.tgz\", \"mode\": \"0644\", \"uid\": 5, \"gid\": 6}},"
    " {\"id\": \"s\", \"source\": {\"type\": \"scratch\"}},"
    " {\"id\": \"f\", \"ignore_cache\": true, \"inputs\": [\"img\", \"ctx\", null], \"file\": "
    "{\"actions\": ["
    "   {\"action\": \"copy\", \"from\": 1, \"src\": \"src/*.c\", \"dest\": \"/app/\", \"cwd\": "
    "\"/w\","
    "    \"mode\": 420, \"owner\": {\"user\": \"app\", \"group\": \"staff\"}, \"timestamp\": 7,"
    "    \"follow_symlinks\": true, \"dir_contents\": true, \"create_parents\": true,"
    "    \"allow_wildcard\": true, \"allow_empty_wildcard\": true, \"unpack\": true,"
    "    \"include\": [\"a\"], \"exclude\": [\"b\"]},"
    "   {\"action\": \"mkdir\", \"path\": \"/d\", \"mode\": \"0700\", \"create_parents\": true},"
    "   {\"action\": \"mkfile\", \"path\": \"/d/t\", \"data\": \"text\\n\"},"
    "   {\"action\": \"mkfile\", \"path\": \"/d/b\", \"data_base64\": \"AAEC/w==\"},"
    "   {\"action\": \"rm\", \"path\": \"/x*\", \"allow_not_found\": true, \"allow_wildcard\": "
    "true},"
    "   {\"action\": \"symlink\", \"path\": \"/l\", \"target\": \"/d\", \"owner\": {\"user\": "
    "\"1\"}}]}},"
    " {\"id\": \"r\", \"inputs\": [\"f\", \"ctx\"], \"exec\": {\"args\": [\"/bin/sh\", \"-c\", "
    "\"make\"],"
    "   \"env\": [\"A=1\"], \"proxy_env\": [\"HTTP_PROXY=http://p\"], \"cwd\": \"/app\","
    "   \"user\": \"app:staff\", \"hostname\": \"h\", \"extra_hosts\": [\"db=10.0.0.1\"],"
    "   \"network\": \"none\", \"security\": \"insecure\", \"mounts\": ["
    "   {\"type\": \"bind\", \"input\": 1, \"target\": \"/src\", \"source\": \"/s\", \"readonly\": "
    "true},"
    "   {\"type\": \"cache\", \"target\": \"/c\", \"id\": \"c1\", \"sharing\": \"locked\", "
    "\"input\": 0,"
    "    \"source\": \"/seed\", \"mode\": \"0700\", \"uid\": 1, \"gid\": 2},"
    "   {\"type\": \"tmpfs\", \"target\": \"/tmp\", \"size\": 1048576},"
    "   {\"type\": \"secret\", \"id\": \"tok\", \"env\": \"TOK\", \"required\": true},"
    "   {\"type\": \"ssh\", \"required\": true}]}},"
    " {\"id\": \"m\", \"inputs\": [\"r\", \"s\"], \"merge\": {}},"
    " {\"id\": \"d\", \"inputs\": [\"img\", \"m\"], \"diff\": {}}"
    "], \"result\": \"d\"}";

static struct graph *
parse_ok(const char *json)
{
	struct kl_error *err = NULL;
	struct graph *g = NULL;
	int r = graph_parse(json, strlen(json), "t.json", &g, &err);

	if (r < 0)
		fail_msg("parse failed: %s", err ? err->msg : "?");
	return g;
}

static void
expect_error(const char *json, const char *want)
{
	struct kl_error *err = NULL;
	struct graph *g = NULL;
	int r = graph_parse(json, strlen(json), "t.json", &g, &err);

	assert_true(r < 0);
	assert_null(g);
	assert_non_null(err);
	if (!strstr(err->msg, want))
		fail_msg("message '%s' lacks '%s'", err->msg, want);
	kl_error_free(err);
}

static const struct digest *
digest_of(const struct graph *g, const char *id)
{
	uint32_t i;

	assert_int_equal(graph_find(g, id, &i), 0);
	return &graph_vertex(g, i)->digest;
}

static void
test_full_graph_round_trips(void **state)
{
	struct graph *g = parse_ok(full), *g2;
	char *j1, *j2;

	(void)state;
	assert_int_equal(graph_count(g), 9);
	j1 = graph_to_json(g);
	g2 = parse_ok(j1);
	j2 = graph_to_json(g2);
	assert_string_equal(j1, j2);
	for (uint32_t i = 0; i < graph_count(g); i++)
		assert_memory_equal(&graph_vertex(g, i)->digest, &graph_vertex(g2, i)->digest,
		                    sizeof(struct digest));
	assert_int_equal(graph_result(g2), 8);
	free(j1);
	free(j2);
	graph_free(g);
	graph_free(g2);
}

static void
test_fields_are_read(void **state)
{
	struct graph *g = parse_ok(full);
	const struct graph_vertex *f, *r;
	uint32_t i;

	(void)state;
	assert_int_equal(graph_find(g, "f", &i), 0);
	f = graph_vertex(g, i);
	assert_true(f->ignore_cache);
	assert_int_equal(f->n_inputs, 3);
	assert_int_equal(f->inputs[2], GRAPH_NO_INPUT);
	assert_int_equal(f->file.n_actions, 6);
	assert_int_equal(f->file.actions[0].from, 1);
	assert_true(f->file.actions[0].has_mode);
	assert_int_equal(f->file.actions[0].mode, 0644);
	assert_string_equal(f->file.actions[0].owner.group, "staff");
	assert_int_equal(f->file.actions[1].mode, 0700);
	assert_int_equal(f->file.actions[3].data_len, 4);
	assert_memory_equal(f->file.actions[3].data, "\x00\x01\x02\xff", 4);
	assert_int_equal(graph_find(g, "r", &i), 0);
	r = graph_vertex(g, i);
	assert_int_equal(r->exec.network, GRAPH_NET_NONE);
	assert_int_equal(r->exec.security, GRAPH_SECURITY_INSECURE);
	assert_int_equal(r->exec.n_mounts, 5);
	assert_int_equal(r->exec.mounts[1].sharing, GRAPH_CACHE_LOCKED);
	assert_int_equal(r->exec.mounts[1].input, 0);
	assert_int_equal(r->exec.mounts[2].input, GRAPH_NO_INPUT);
	assert_int_equal(r->exec.mounts[2].size, 1048576);
	/* defaults filled: a secret given as env only has no target, ssh gets id and target */
	assert_null(r->exec.mounts[3].target);
	assert_string_equal(r->exec.mounts[4].id, "default");
	assert_string_equal(r->exec.mounts[4].target, "/run/buildkit/ssh_agent.0");
	assert_string_equal(graph_vertex_display_name(r), "exec /bin/sh -c make");
	assert_string_equal(graph_vertex_display_name(graph_vertex(g, 0)), "ctx");
	graph_free(g);
}

static void
test_canonical_form_is_documented(void **state)
{
	struct graph *g = parse_ok("{\"version\":1,\"vertices\":[{\"id\":\"s\",\"name\":\"empty\","
	                           "\"source\":{\"type\":\"scratch\"}}],\"result\":\"s\"}");
	char *c = graph_canonical_json(graph_vertex(g, 0), NULL);
	struct digest d;

	(void)state;
	assert_string_equal(c, "{\"source\":{\"type\":\"scratch\"}}");
	digest_buffer(c, strlen(c), &d);
	assert_memory_equal(&d, &graph_vertex(g, 0)->digest, sizeof(d));
	free(c);
	graph_free(g);
}

#define BASE_EXEC                                                                                  \
	"{\"version\":1,\"vertices\":[{\"id\":\"s\",\"source\":{\"type\":\"scratch\"}},"           \
	"{\"id\":\"%s\",%s\"inputs\":[\"s\"],\"exec\":{\"args\":[\"true\"]%s}}],\"result\":\"%"    \
	"s\"}"

static struct graph *
exec_graph(const char *id, const char *vertex_extra, const char *exec_extra)
{
	char *j = xasprintf(BASE_EXEC, id, vertex_extra, exec_extra, id);
	struct graph *g = parse_ok(j);

	free(j);
	return g;
}

static void
test_digest_ignores_names_ids_and_written_defaults(void **state)
{
	struct graph *a = exec_graph("x", "", "");
	struct graph *b =
	    exec_graph("other", "\"name\":\"[s 1/1] RUN true\",\"ignore_cache\":true,",
	               ",\"network\":\"host\",\"security\":\"sandbox\",\"env\":[],"
	               "\"mounts\":[]");
	struct graph *c = exec_graph("x", "", ",\"env\":[\"A=1\"]");

	(void)state;
	assert_memory_equal(digest_of(a, "x"), digest_of(b, "other"), sizeof(struct digest));
	assert_memory_not_equal(digest_of(a, "x"), digest_of(c, "x"), sizeof(struct digest));
	graph_free(a);
	graph_free(b);
	graph_free(c);
}

static void
test_digest_follows_inputs(void **state)
{
#define FMT                                                                                        \
	"{\"version\":1,\"vertices\":[{\"id\":\"i\",\"source\":{\"type\":\"image\",\"ref\":\"%"    \
	"s\"}},"                                                                                   \
	"{\"id\":\"x\",\"inputs\":[\"i\"],\"exec\":{\"args\":[\"t\"]}}],\"result\":\"x\"}"
	char *j1 = xasprintf(FMT, "a:1"), *j2 = xasprintf(FMT, "a:2");
#undef FMT
	struct graph *g1 = parse_ok(j1), *g2 = parse_ok(j2);

	(void)state;
	assert_memory_not_equal(digest_of(g1, "x"), digest_of(g2, "x"), sizeof(struct digest));
	free(j1);
	free(j2);
	graph_free(g1);
	graph_free(g2);
}

static void
test_build_api(void **state)
{
	struct graph *g = graph_new();
	struct kl_error *err = NULL;
	char *args[] = {"/bin/true"};
	struct graph_mount m = {.kind = GRAPH_MOUNT_SECRET, .id = "tok"};
	uint32_t in0 = 0, bad = 5;
	struct graph_vertex src = {.kind = GRAPH_OP_SOURCE},
	                    ex = {
	                        .kind = GRAPH_OP_EXEC,
	                        .inputs = &in0,
	                        .n_inputs = 1,
	                        .exec = {.args = {args, 1}, .mounts = &m, .n_mounts = 1},
	                    };
	int r;

	(void)state;
	assert_int_equal(graph_add(g, &src, &err), 0);
	ex.inputs = &bad;
	assert_int_equal(graph_add(g, &ex, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "not an earlier vertex"));
	kl_error_free(err);
	err = NULL;
	ex.inputs = &in0;
	r = graph_add(g, &ex, &err);
	assert_int_equal(r, 1);
	assert_string_equal(graph_vertex(g, 1)->id, "v1");
	assert_string_equal(graph_vertex(g, 1)->exec.mounts[0].target, "/run/secrets/tok");
	assert_int_equal(graph_finish(g, 1, &err), 0);
	assert_int_equal(graph_add(g, &src, &err), -EINVAL);
	kl_error_free(err);
	graph_free(g);
}

static void
test_errors_name_the_json_path(void **state)
{
	(void)state;
	expect_error("{\"version\":1,\"vertices\":[", "t.json:1:");
	expect_error("{\"vertices\":[]}", "missing field 'version'");
	expect_error("{\"version\":2,\"vertices\":[],\"result\":\"x\"}", "version 2 is not known");
	expect_error("{\"version\":1,\"vertices\":[],\"result\":\"x\"}",
	             "vertices: expected a non-empty array");
	expect_error(
	    "{\"version\":1,\"vertices\":[{\"id\":\"a\",\"source\":{\"type\":\"scratch\"}}],"
	    "\"result\":\"b\"}",
	    "result: 'b' is not the id of a vertex");
	expect_error(
	    "{\"version\":1,\"vertices\":[{\"id\":\"a\",\"source\":{\"type\":\"scratch\"}}]}",
	    "missing field 'result'");
	expect_error("{\"version\":1,\"vertices\":[{\"id\":\"a\",\"inputs\":[\"b\"],\"merge\":{}},"
	             "{\"id\":\"b\",\"source\":{\"type\":\"scratch\"}}],\"result\":\"a\"}",
	             "vertices[0].inputs[0]: 'b' is not the id of an earlier vertex");
	expect_error(
	    "{\"version\":1,\"vertices\":[{\"id\":\"a\",\"source\":{\"type\":\"scratch\"}},"
	    "{\"id\":\"a\",\"source\":{\"type\":\"scratch\"}}],\"result\":\"a\"}",
	    "vertices[1].id: 'a' is the id of an earlier vertex");
	expect_error("{\"version\":1,\"vertices\":[{\"id\":\"a\",\"source\":{\"type\":\"scratch\","
	             "\"x\":1}}],\"result\":\"a\"}",
	             "vertices[0].source: unknown field 'x'");
	expect_error("{\"version\":1,\"vertices\":[{\"id\":\"a\",\"source\":{\"type\":\"local\"}}],"
	             "\"result\":\"a\"}",
	             "vertices[0].source: missing field 'name'");
	expect_error("{\"version\":1,\"vertices\":[{\"id\":\"a\",\"source\":{\"type\":\"cvs\"}}],"
	             "\"result\":\"a\"}",
	             "vertices[0].source.type: expected scratch, local, git, image or http");
	expect_error("{\"version\":1,\"vertices\":[{\"id\":\"a\",\"source\":{\"type\":\"scratch\"},"
	             "\"merge\":{}}],\"result\":\"a\"}",
	             "exclude each other");
	expect_error(
	    "{\"version\":1,\"vertices\":[{\"id\":\"a\",\"source\":{\"type\":\"scratch\"}},"
	    "{\"id\":\"b\",\"inputs\":[\"a\"],\"exec\":{\"args\":[\"t\"],\"mounts\":[{\"type\":"
	    "\"cache\",\"target\":\"/c\",\"sharing\":\"all\"}]}}],\"result\":\"b\"}",
	    "vertices[1].exec.mounts[0].sharing: expected shared, private or locked");
	expect_error(
	    "{\"version\":1,\"vertices\":[{\"id\":\"a\",\"source\":{\"type\":\"scratch\"}},"
	    "{\"id\":\"b\",\"inputs\":[\"a\"],\"exec\":{\"args\":[\"t\"],\"mounts\":[{\"type\":"
	    "\"bind\",\"target\":\"/c\",\"input\":3}]}}],\"result\":\"b\"}",
	    "vertices[1].exec.mounts[0].input: 3 is not the index of one of the vertex's 1 "
	    "inputs");
	expect_error(
	    "{\"version\":1,\"vertices\":[{\"id\":\"a\",\"source\":{\"type\":\"scratch\"}},"
	    "{\"id\":\"b\",\"inputs\":[\"a\"],\"file\":{\"actions\":[{\"action\":\"mkdir\","
	    "\"path\":\"/d\",\"mode\":\"0999\"}]}}],\"result\":\"b\"}",
	    "vertices[1].file.actions[0].mode: '0999' is not an octal mode");
	expect_error(
	    "{\"version\":1,\"vertices\":[{\"id\":\"a\",\"source\":{\"type\":\"scratch\"}},"
	    "{\"id\":\"b\",\"inputs\":[\"a\"],\"file\":{\"actions\":[{\"action\":\"copy\","
	    "\"src\":\"/d\",\"dest\":\"/e\"}]}}],\"result\":\"b\"}",
	    "vertices[1].file.actions[0]: missing field 'from'");
	expect_error(
	    "{\"version\":1,\"vertices\":[{\"id\":\"a\",\"source\":{\"type\":\"scratch\"}},"
	    "{\"id\":\"b\",\"inputs\":[\"a\"],\"exec\":{\"args\":\"sh\"}}],\"result\":\"b\"}",
	    "vertices[1].exec.args: expected an array of strings");
	expect_error(
	    "{\"version\":1,\"vertices\":[{\"id\":\"a\",\"source\":{\"type\":\"scratch\"}},"
	    "{\"id\":\"b\",\"inputs\":[\"a\"],\"exec\":{\"args\":[\"t\"],\"env\":[\"NOEQ\"]}}],"
	    "\"result\":\"b\"}",
	    "env 'NOEQ' is not NAME=VALUE");
	expect_error(
	    "{\"version\":1,\"vertices\":[{\"id\":\"a\",\"source\":{\"type\":\"scratch\"}},"
	    "{\"id\":\"b\",\"inputs\":[\"a\"],\"diff\":{}}],\"result\":\"b\"}",
	    "vertices[1].diff: a diff takes two inputs");
	expect_error("{\"version\":1,\"vertices\":[{\"id\":\"a\",\"source\":{\"type\":\"http\","
	             "\"url\":\"http://h/f\",\"checksum\":\"md5:1\"}}],\"result\":\"a\"}",
	             "checksum 'md5:1' is not sha256");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_graph_round_trips),
	    cmocka_unit_test(test_fields_are_read),
	    cmocka_unit_test(test_canonical_form_is_documented),
	    cmocka_unit_test(test_digest_ignores_names_ids_and_written_defaults),
	    cmocka_unit_test(test_digest_follows_inputs),
	    cmocka_unit_test(test_build_api),
	    cmocka_unit_test(test_errors_name_the_json_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
