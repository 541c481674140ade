// SPDX-License-Identifier: Apache-2.0
/* Unit tests for solver/cachekey: a local context's key follows its content, never its mtimes,
 * inode numbers or location; proxy_env stays out of keys; inputs' keys and resolved source
 * identities go in; a copy from a context is keyed by what it selects. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/tree.h"
#include "solver/cachekey.h"
#include "solver/graph.h"
#include "util/error.h"
#include "util/xalloc.h"

struct file {
	const char *path;
	const char *content;
	uint32_t mode;
	int64_t mtime;
	const char *locator;
};

static void
release(void *buf, size_t len)
{
	(void)len;
	free(buf);
}

/* A context tree as a scan makes it: files with digests and "local:" locators. */
static struct tree *
make_tree(const struct file *files, size_t n)
{
	struct tree_builder *b = tree_builder_new();
	struct tree *t = NULL;
	char *buf;
	size_t len;

	assert_int_equal(
	    tree_builder_add(
	        b,
	        &(struct tree_entry){.path = "", .type = TREE_DIR, .mode = 0755, .mtime_sec = 99},
	        NULL, 0, NULL),
	    0);
	for (size_t i = 0; i < n; i++) {
		struct tree_entry e = {
		    .path = files[i].path,
		    .path_len = strlen(files[i].path),
		    .type = TREE_REG,
		    .flags = TREE_ENTRY_HAS_DIGEST,
		    .mode = files[i].mode,
		    .mtime_sec = files[i].mtime,
		    .size = strlen(files[i].content),
		    .locator = files[i].locator,
		    .locator_len = files[i].locator ? strlen(files[i].locator) : 0,
		};

		digest_buffer(files[i].content, e.size, &e.digest);
		assert_int_equal(tree_builder_add(b, &e, NULL, 0, NULL), 0);
	}
	assert_int_equal(tree_builder_serialize(b, &buf, &len, NULL), 0);
	assert_int_equal(tree_parse(buf, len, release, &t, NULL), 0);
	tree_builder_free(b);
	return t;
}

static struct graph *
parse(const char *json)
{
	struct graph *g = NULL;
	struct kl_error *err = NULL;

	if (graph_parse(json, strlen(json), "t", &g, &err) < 0)
		fail_msg("%s", err->msg);
	return g;
}

static const char local_graph[] =
    "{\"version\":1,\"vertices\":[{\"id\":\"c\",\"source\":{\"type\":\"local\",\"name\":\"ctx\"}}],"
    "\"result\":\"c\"}";

static void
local_key(const struct tree *t, struct digest *ret)
{
	struct graph *g = parse(local_graph);
	const struct tree *locals[1] = {t};
	struct digest keys[1];
	struct cachekey_ctx c = {g, keys, locals, NULL};

	assert_int_equal(cachekey_vertex(&c, 0, NULL, ret, NULL), 0);
	graph_free(g);
}

static void
test_local_key_ignores_mtimes_inodes_and_place(void **state)
{
	const struct file a[] = {{"a.txt", "one\n", 0644, 100, "local:1:2:3:4:/home/u/ctx/a.txt"},
	                         {"b.txt", "two\n", 0755, 200, "local:1:2:3:4:/home/u/ctx/b.txt"}};
	/* a fresh clone elsewhere: new mtimes, inode numbers and paths */
	const struct file b[] = {{"a.txt", "one\n", 0644, 5000, "local:9:9:3:7:/tmp/clone/a.txt"},
	                         {"b.txt", "two\n", 0755, 6000, "local:9:8:3:7:/tmp/clone/b.txt"}};
	const struct file mode[] = {{"a.txt", "one\n", 0600, 100, NULL},
	                            {"b.txt", "two\n", 0755, 200, NULL}};
	const struct file data[] = {{"a.txt", "ONE\n", 0644, 100, NULL},
	                            {"b.txt", "two\n", 0755, 200, NULL}};
	struct tree *ta = make_tree(a, 2), *tb = make_tree(b, 2), *tm = make_tree(mode, 2),
	            *td = make_tree(data, 2);
	struct digest ka, kb, km, kd, ca, cb;

	(void)state;
	assert_memory_not_equal(tree_id(ta), tree_id(tb), sizeof(struct digest));
	local_key(ta, &ka);
	local_key(tb, &kb);
	local_key(tm, &km);
	local_key(td, &kd);
	assert_memory_equal(&ka, &kb, sizeof(ka));
	assert_memory_not_equal(&ka, &km, sizeof(ka));
	assert_memory_not_equal(&ka, &kd, sizeof(ka));
	assert_int_equal(cachekey_tree_content(ta, &ca, NULL), 0);
	assert_int_equal(cachekey_tree_content(tb, &cb, NULL), 0);
	assert_memory_equal(&ca, &cb, sizeof(ca));
	tree_unref(ta);
	tree_unref(tb);
	tree_unref(tm);
	tree_unref(td);
}

#define EXEC_GRAPH                                                                                 \
	"{\"version\":1,\"vertices\":[{\"id\":\"i\",\"source\":{\"type\":\"image\",\"ref\":\"a\"}" \
	"},"                                                                                       \
	"{\"id\":\"x\",\"inputs\":[\"i\"],\"exec\":{\"args\":[\"make\"]%s}}],\"result\":\"x\"}"

/* The key of the exec vertex over an image resolved to manifest. */
static void
exec_key(const char *extra, const char *manifest, struct digest *ret)
{
	char *j = xasprintf(EXEC_GRAPH, extra);
	struct graph *g = parse(j);
	const struct tree *locals[2] = {NULL, NULL};
	struct digest keys[2];
	struct cachekey_ctx c = {g, keys, locals, NULL};

	assert_int_equal(cachekey_vertex(&c, 0, manifest, &keys[0], NULL), 0);
	assert_int_equal(cachekey_vertex(&c, 1, NULL, ret, NULL), 0);
	graph_free(g);
	free(j);
}

static void
test_proxy_env_stays_out_of_keys(void **state)
{
	const char *m = "sha256:00000000000000000000000000000000000000000000000000000000000000aa";
	struct digest plain, proxy, env;

	(void)state;
	exec_key("", m, &plain);
	exec_key(",\"proxy_env\":[\"HTTP_PROXY=http://proxy:3128\"]", m, &proxy);
	exec_key(",\"env\":[\"HTTP_PROXY=http://proxy:3128\"]", m, &env);
	assert_memory_equal(&plain, &proxy, sizeof(plain));
	assert_memory_not_equal(&plain, &env, sizeof(plain));
}

static void
test_input_identity_enters_keys(void **state)
{
	const char *m1 = "sha256:00000000000000000000000000000000000000000000000000000000000000aa";
	const char *m2 = "sha256:00000000000000000000000000000000000000000000000000000000000000bb";
	struct digest k1, k1b, k2;

	(void)state;
	exec_key("", m1, &k1);
	exec_key("", m1, &k1b);
	exec_key("", m2, &k2);
	assert_memory_equal(&k1, &k1b, sizeof(k1));
	assert_memory_not_equal(&k1, &k2, sizeof(k1));
}

/* The key of a git source (resolved to commit) with extra in its source object. */
static void
git_key(const char *extra, const char *commit, struct digest *ret)
{
	char *j = xasprintf("{\"version\":1,\"vertices\":[{\"id\":\"g\",\"source\":{\"type\":"
	                    "\"git\",\"ref\":\"https://example.com/r.git#main\"%s}}],"
	                    "\"result\":\"g\"}",
	                    extra);
	struct graph *g = parse(j);
	const struct tree *locals[1] = {NULL};
	struct digest keys[1];
	struct cachekey_ctx c = {g, keys, locals, NULL};

	assert_int_equal(cachekey_vertex(&c, 0, commit, ret, NULL), 0);
	graph_free(g);
	free(j);
}

static void
test_keep_git_dir_enters_git_keys(void **state)
{
	const char *c1 = "1111111111111111111111111111111111111111";
	const char *c2 = "2222222222222222222222222222222222222222";
	struct digest plain, off, kept, other;

	(void)state;
	git_key("", c1, &plain);
	git_key(",\"keep_git_dir\":false", c1, &off);
	git_key(",\"keep_git_dir\":true", c1, &kept);
	git_key(",\"keep_git_dir\":true", c2, &other);
	assert_memory_equal(&plain, &off, sizeof(plain)); /* a default written out */
	assert_memory_not_equal(&plain, &kept, sizeof(plain));
	assert_memory_not_equal(&kept, &other, sizeof(kept));
}

static void
test_unresolved_source_is_an_error(void **state)
{
	char *j = xasprintf(EXEC_GRAPH, "");
	struct graph *g = parse(j);
	const struct tree *locals[2] = {NULL, NULL};
	struct digest keys[2], k;
	struct cachekey_ctx c = {g, keys, locals, NULL};
	struct kl_error *err = NULL;

	(void)state;
	assert_int_equal(cachekey_vertex(&c, 0, NULL, &k, &err), -EINVAL);
	assert_non_null(strstr(err->msg, "not resolved"));
	kl_error_free(err);
	graph_free(g);
	free(j);
}

struct memo_log {
	int gets, puts;
	struct digest tree, what, key;
	bool known;
};

static int
memo_get(void *userdata, const struct digest *tree, const struct digest *what, struct digest *ret)
{
	struct memo_log *m = userdata;

	m->gets++;
	if (!m->known || !digest_equal(tree, &m->tree) || !digest_equal(what, &m->what))
		return -ENOENT;
	*ret = m->key;
	return 0;
}

static void
memo_put(void *userdata, const struct digest *tree, const struct digest *what,
         const struct digest *key)
{
	struct memo_log *m = userdata;

	m->puts++;
	m->tree = *tree;
	m->what = *what;
	m->key = *key;
	m->known = true;
}

static void
test_memo_spares_the_walk(void **state)
{
	const struct file a[] = {{"a.txt", "one\n", 0644, 100, NULL}};
	struct tree *t = make_tree(a, 1);
	struct graph *g = parse(local_graph);
	const struct tree *locals[1] = {t};
	struct memo_log log = {0};
	const struct cachekey_memo memo = {memo_get, memo_put, &log};
	struct digest keys[1], k1, k2, plain;
	struct cachekey_ctx c = {g, keys, locals, &memo}, bare = {g, keys, locals, NULL};

	(void)state;
	assert_int_equal(cachekey_vertex(&c, 0, NULL, &k1, NULL), 0);
	assert_int_equal(log.gets, 1);
	assert_int_equal(log.puts, 1);
	assert_memory_equal(&log.tree, tree_id(t), sizeof(struct digest));
	/* the second time the memo answers: nothing is put, the key is the same */
	assert_int_equal(cachekey_vertex(&c, 0, NULL, &k2, NULL), 0);
	assert_int_equal(log.gets, 2);
	assert_int_equal(log.puts, 1);
	assert_memory_equal(&k1, &k2, sizeof(k1));
	assert_int_equal(cachekey_vertex(&bare, 0, NULL, &plain, NULL), 0);
	assert_memory_equal(&k1, &plain, sizeof(k1));
	graph_free(g);
	tree_unref(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_local_key_ignores_mtimes_inodes_and_place),
	    cmocka_unit_test(test_proxy_env_stays_out_of_keys),
	    cmocka_unit_test(test_input_identity_enters_keys),
	    cmocka_unit_test(test_keep_git_dir_enters_git_keys),
	    cmocka_unit_test(test_unresolved_source_is_an_error),
	    cmocka_unit_test(test_memo_spares_the_walk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
