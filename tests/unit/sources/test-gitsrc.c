// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the git source against a repository made with git in a temp dir: resolving and
 * fetching (gitsrc.c), trees (gitsrc-tree.c) and their cache in use, the "git:" provider
 * (gitsrc-provider.c). The cache's own rules are in test-gitsrc-cache.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/provider.h"
#include "fs/store.h"
#include "fs/tree.h"
#include "sources/gitsrc.h"
#include "util/error.h"
#include "util/io.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "tests/unit/test-helpers.h"

#define T1 1600000000
#define T2 1600000100

/* main (= HEAD, tags v1 and light): sub/a.txt, sub/deep/b, run.sh (0755), link -> sub/a.txt,
 * a submodule entry "mod"; dev: one more commit changing sub/a.txt; wide: one more on dev
 * adding new/x/f, removing sub/deep, making run.sh 0644, link -> run.sh and moving mod. */
static const char make_repo[] =
    "set -e\n"
    "export GIT_CONFIG_NOSYSTEM=1 HOME=\"$PWD\" GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@e\n"
    "export GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@e\n"
    "export GIT_AUTHOR_DATE='@1600000000 +0000' GIT_COMMITTER_DATE='@1600000000 +0000'\n"
    "git init -q -b main origin && cd origin\n"
    "mkdir -p sub/deep && printf 'hello\\n' >sub/a.txt && printf deep >sub/deep/b\n"
    "printf '#!/bin/sh\\necho hi\\n' >run.sh && chmod 755 run.sh && ln -s sub/a.txt link\n"
    "git add -A\n"
    "git update-index --add --cacheinfo 160000,1111111111111111111111111111111111111111,mod\n"
    "git commit -q -m one && git tag -a -m t v1 && git tag light\n"
    "git checkout -q -b dev && printf 'two\\n' >sub/a.txt\n"
    "GIT_COMMITTER_DATE='@1600000100 +0000' git commit -q -am two\n"
    "git checkout -q -b wide && mkdir -p new/x && printf n >new/x/f && git rm -q -r sub/deep\n"
    "chmod 644 run.sh && ln -sf run.sh link && git add new run.sh link\n"
    "git update-index --add --cacheinfo 160000,2222222222222222222222222222222222222222,mod\n"
    "GIT_COMMITTER_DATE='@1600000200 +0000' git commit -q -m three && git checkout -q main\n"
    "git rev-parse main >../c1 && git rev-parse dev >../c2 && git rev-parse wide >../c3\n";

struct fixture {
	char *dir;
	char *origin;
	char c1[41], c2[41], c3[41];
	struct store *store;
	char *root;
};

static void
read_line(const char *dir, const char *name, char out[41])
{
	char *p = kl_path_join(dir, name);
	int fd = open(p, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(kl_io_read_full(fd, out, 41), 41);
	out[40] = '\0';
	close(fd);
	free(p);
}

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	char *cmd;

	f->dir = test_tmpdir();
	setenv("KILN_TEST_SCRIPT", make_repo, 1);
	cmd = xasprintf("cd '%s' && sh -c \"$KILN_TEST_SCRIPT\"", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(cmd);
	f->origin = kl_path_join(f->dir, "origin");
	read_line(f->dir, "c1", f->c1);
	read_line(f->dir, "c2", f->c2);
	read_line(f->dir, "c3", f->c3);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	free(f->origin);
	test_rmdir(f->dir);
	free(f);
	return 0;
}

/* Each test gets its own store. */
static int
store_setup(void **state)
{
	struct fixture *f = *state;
	static unsigned n;

	f->root = xasprintf("%s/store%u", f->dir, n++);
	return store_open(f->root, &(struct store_options){.flags = STORE_NO_SYNC}, &f->store,
	                  NULL) < 0
	           ? -1
	           : 0;
}

static int
store_teardown(void **state)
{
	struct fixture *f = *state;

	f->store = store_unref(f->store);
	free(f->root);
	return 0;
}

static int
resolve(struct fixture *f, const char *fragment, struct digest *ret, char *commit,
        struct kl_error **err)
{
	char *spec = xasprintf("%s%s", f->origin, fragment);
	int r = gitsrc_resolve(f->store, spec, /* opts= */ NULL, ret, commit, err);

	free(spec);
	return r;
}

static void
resolve_ok(struct fixture *f, const char *fragment, const char *want_commit, struct digest *ret)
{
	struct kl_error *err = NULL;
	char commit[41];
	struct digest d;

	if (resolve(f, fragment, &d, commit, &err) < 0)
		fail_msg("'%s': %s", fragment, err->msg);
	assert_string_equal(commit, want_commit);
	if (ret)
		*ret = d;
}

static struct tree *
load(struct fixture *f, const struct digest *d)
{
	struct tree *t = NULL;

	assert_int_equal(tree_load(f->store, d, &t, NULL), 0);
	return t;
}

static void
entry(const struct tree *t, const char *path, struct tree_entry *e)
{
	uint32_t idx;

	if (tree_lookup(t, path, strlen(path), &idx) < 0)
		fail_msg("no '%s' in the tree", path);
	tree_entry_at(t, idx, e);
}

static void
test_branch_tree_has_git_modes_and_commit_time(void **state)
{
	struct fixture *f = *state;
	struct tree_entry e;
	struct digest d;
	struct tree *t;

	resolve_ok(f, "#main", f->c1, &d);
	t = load(f, &d);
	assert_int_equal(tree_count(t), 8); /* "", link, mod, run.sh, sub, sub/a.txt, deep, b */
	entry(t, "", &e);
	assert_int_equal(e.type, TREE_DIR);
	assert_int_equal(e.mode, 0755);
	assert_int_equal(e.mtime_sec, T1);
	entry(t, "run.sh", &e);
	assert_int_equal(e.type, TREE_REG);
	assert_int_equal(e.mode, 0755);
	assert_int_equal(e.size, 18);
	assert_int_equal(e.uid, 0);
	assert_int_equal(e.mtime_sec, T1);
	entry(t, "sub/a.txt", &e);
	assert_int_equal(e.type, TREE_REG);
	assert_int_equal(e.mode, 0644);
	assert_int_equal(e.size, 6);
	assert_false(e.flags & TREE_ENTRY_HAS_DIGEST);
	assert_non_null(e.locator);
	assert_int_equal(e.locator_len, 4 + 16 + 1 + 40); /* a short repository id */
	assert_memory_equal(e.locator, "git:", 4);
	entry(t, "link", &e);
	assert_int_equal(e.type, TREE_SYMLINK);
	assert_int_equal(e.link_len, 9);
	assert_memory_equal(e.link, "sub/a.txt", 9);
	entry(t, "mod", &e);
	assert_int_equal(e.type, TREE_DIR);
	assert_int_equal(e.mode, 0755);
	assert_int_equal(tree_first_child(t, e.index), TREE_NONE);
	entry(t, "sub/deep/b", &e);
	assert_int_equal(e.size, 4);
	tree_unref(t);
}

static void
test_tags_branches_and_commit_ids_resolve(void **state)
{
	struct fixture *f = *state;
	struct digest head, v1, c2;
	char frag[64];

	resolve_ok(f, "", f->c1, &head);
	resolve_ok(f, "#v1", f->c1, &v1); /* annotated: peeled */
	assert_true(digest_equal(&head, &v1));
	resolve_ok(f, "#light", f->c1, NULL);
	resolve_ok(f, "#HEAD", f->c1, NULL);
	resolve_ok(f, "#refs/heads/dev", f->c2, &c2);
	assert_false(digest_equal(&head, &c2));
	resolve_ok(f, "#dev", f->c2, NULL);
	snprintf(frag, sizeof(frag), "#%s", f->c2);
	resolve_ok(f, frag, f->c2, NULL);
	snprintf(frag, sizeof(frag), "#%.7s", f->c2);
	resolve_ok(f, frag, f->c2, NULL);
}

static void
test_file_url_shares_the_bare_repository(void **state)
{
	struct fixture *f = *state;
	struct kl_error *err = NULL;
	char *spec = xasprintf("file://%s#v1", f->origin);
	struct digest a, b;
	char commit[41];

	resolve_ok(f, "#v1", f->c1, &a);
	if (gitsrc_resolve(f->store, spec, /* opts= */ NULL, &b, commit, &err) < 0)
		fail_msg("%s", err->msg);
	assert_true(digest_equal(&a, &b)); /* same locators: the same repository */
	free(spec);
}

static void
test_subdir_is_the_tree_below(void **state)
{
	struct fixture *f = *state;
	struct kl_error *err = NULL;
	struct tree_entry e;
	struct digest d;
	struct tree *t;

	resolve_ok(f, "#dev:sub", f->c2, &d);
	t = load(f, &d);
	assert_int_equal(tree_count(t), 4); /* "", a.txt, deep, deep/b */
	entry(t, "", &e);
	assert_int_equal(e.mtime_sec, T2);
	entry(t, "a.txt", &e);
	assert_int_equal(e.size, 4);
	tree_unref(t);

	assert_int_equal(resolve(f, "#main:nope", &d, NULL, &err), -ENOENT);
	assert_non_null(strstr(err->msg, "no 'nope' in commit"));
	kl_error_freep(&err);
	assert_int_equal(resolve(f, "#main:run.sh", &d, NULL, &err), -ENOTDIR);
	kl_error_freep(&err);
}

static size_t
count_dir(const char *root, const char *name)
{
	char *p = kl_path_join(root, name);
	DIR *d = opendir(p);
	struct dirent *de;
	size_t n = 0;

	free(p);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void
test_unknown_ref_fails_cleanly(void **state)
{
	struct fixture *f = *state;
	struct kl_error *err = NULL;
	struct digest d;
	char frag[64];
	size_t before;

	resolve_ok(f, "#main", f->c1, NULL);
	before = count_dir(f->root, "git/trees");
	assert_int_equal(before, 2); /* the tree, and the record of the commit built last */

	assert_int_equal(resolve(f, "#nope", &d, NULL, &err), -ENOENT);
	assert_non_null(strstr(err->msg, "git source '"));
	assert_non_null(strstr(err->msg, "': ref 'nope' not found"));
	kl_error_freep(&err);
	snprintf(frag, sizeof(frag), "#%s", "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
	assert_int_equal(resolve(f, frag, &d, NULL, &err), -ENOENT);
	assert_non_null(strstr(err->msg, "not found"));
	kl_error_freep(&err);
	assert_int_equal(resolve(f, "#abcdef0", &d, NULL, &err), -ENOENT);
	kl_error_freep(&err);
	assert_int_equal(resolve(f, "#a..b", &d, NULL, &err), -EINVAL);
	kl_error_freep(&err);
	assert_int_equal(count_dir(f->root, "git/trees"), before);
	/* only the one bare repository (its lock, its blob-size cache) beside the tree cache */
	assert_int_equal(count_dir(f->root, "git"), 4);
}

/* Empties git/trees and writes bytes over the one *.sizes file in git/. */
static void
reset_caches(struct fixture *f, const void *bytes, size_t n)
{
	char *git = kl_path_join(f->root, "git"), *trees = kl_path_join(git, "trees");
	DIR *d = opendir(trees);
	struct dirent *de;
	size_t found = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			assert_int_equal(unlinkat(dirfd(d), de->d_name, 0), 0);
	closedir(d);
	d = opendir(git);
	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len > 6 && strcmp(de->d_name + len - 6, ".sizes") == 0) {
			int fd = openat(dirfd(d), de->d_name, O_WRONLY | O_TRUNC | O_CLOEXEC);
			assert_true(fd >= 0);
			assert_int_equal(kl_io_write_all(fd, bytes, n), 0);
			close(fd);
			found++;
		}
	}
	closedir(d);
	assert_int_equal(found, 1);
	free(trees);
	free(git);
}

static void
test_blob_size_cache_is_shared_and_checked(void **state)
{
	struct fixture *f = *state;
	unsigned char junk[2 * (20 + 8)];
	struct digest one, two, again;
	struct tree_entry e;
	struct tree *t;

	resolve_ok(f, "#main", f->c1, &one);
	resolve_ok(f, "#dev", f->c2, &two); /* sizes of main's blobs from the cache */
	t = load(f, &two);
	entry(t, "sub/a.txt", &e);
	assert_int_equal(e.size, 4);
	entry(t, "run.sh", &e);
	assert_int_equal(e.size, 18);
	tree_unref(t);
	/* a cache of the wrong length, or unsorted, is ignored: the same trees again */
	memset(junk, 0xff, sizeof(junk));
	reset_caches(f, junk, 30);
	resolve_ok(f, "#main", f->c1, &again);
	assert_true(digest_equal(&one, &again));
	memset(junk + 20, 0x01, 8); /* two equal ids: not sorted, so not ours */
	reset_caches(f, junk, sizeof(junk));
	resolve_ok(f, "#dev", f->c2, &again);
	assert_true(digest_equal(&two, &again));
}

static void
test_provider_fetch_gives_blob_bytes(void **state)
{
	struct fixture *f = *state;
	struct provider_set *ps = provider_set_new(f->store);
	struct kl_error *err = NULL;
	struct tree_entry e;
	struct digest d, got;
	struct tree *t;
	char buf[16];
	int fd;

	gitsrc_add_provider(ps, f->store);
	resolve_ok(f, "#dev", f->c2, &d);
	t = load(f, &d);
	entry(t, "sub/a.txt", &e);
	struct provider_request req = {
	    .path = e.path,
	    .locator = e.locator,
	    .locator_len = e.locator_len,
	    .size = e.size,
	};
	fd = provider_set_open(ps, NULL, &req, &got, &err);
	if (fd < 0)
		fail_msg("%s", err->msg);
	assert_int_equal(kl_io_read_full(fd, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "two\n", 4);
	close(fd);

	/* a locator naming a repository outside the store's is refused */
	char bad[4 + 64 + 1 + 40 + 1];
	memcpy(bad, e.locator, e.locator_len);
	memcpy(bad + 4, "../../../../../../../../../../../../../../../../../../../../../etc", 64);
	req.locator = bad;
	assert_int_equal(provider_set_open(ps, NULL, &req, &got, &err), -EINVAL);
	kl_error_freep(&err);
	memcpy(bad, e.locator, e.locator_len);
	bad[4] = bad[4] == 'f' ? '0' : 'f'; /* an id naming no repository */
	assert_int_equal(provider_set_open(ps, NULL, &req, &got, &err), -ENOENT);
	kl_error_freep(&err);
	req.locator_len = 4 + 64 + 1 + 40; /* the full-name form of older trees */
	memcpy(bad + 4, "../../../../../../../../../../../../../../../../../../../../../etc", 64);
	assert_int_equal(provider_set_open(ps, NULL, &req, &got, &err), -EINVAL);
	kl_error_freep(&err);
	tree_unref(t);
	provider_set_free(ps);
}

/* Writes every entry of t below .git into dir, file bytes through ps as a mount reads them. */
static void
materialize_git_dir(struct fixture *f, struct provider_set *ps, const struct tree *t,
                    const char *dir)
{
	uint32_t at;

	(void)f;
	assert_int_equal(tree_lookup(t, ".git", 4, &at), 0);
	for (uint32_t i = at, end = tree_subtree_end(t, at); i < end; i++) {
		struct kl_error *err = NULL;
		struct tree_entry e;
		char *path, *buf = NULL;
		struct digest got;
		size_t len;
		int fd, out;

		tree_entry_at(t, i, &e);
		path = kl_path_join(dir, e.path);
		if (e.type == TREE_DIR) {
			assert_int_equal(mkdir(path, 0755), 0);
			free(path);
			continue;
		}
		assert_int_equal(e.type, TREE_REG);
		struct provider_request req = {
		    .path = e.path,
		    .locator = e.locator,
		    .locator_len = e.locator_len,
		    .digest = e.flags & TREE_ENTRY_HAS_DIGEST ? &e.digest : NULL,
		    .size = e.size,
		};
		fd = provider_set_open(ps, NULL, &req, &got, &err);
		if (fd < 0)
			fail_msg("%s: %s", e.path, err->msg);
		assert_int_equal(kl_io_read_all(fd, 1 << 24, &buf, &len), 0);
		assert_int_equal(len, e.size);
		out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		assert_true(out >= 0);
		assert_int_equal(kl_io_write_all(out, buf, len), 0);
		close(out);
		close(fd);
		free(buf);
		free(path);
	}
}

static void
test_keep_git_dir_gives_a_repository_at_the_commit(void **state)
{
	struct fixture *f = *state;
	struct provider_set *ps = provider_set_new(f->store);
	const struct gitsrc_options keep = {.keep_git_dir = true};
	struct kl_error *err = NULL;
	char *spec = xasprintf("%s#v1", f->origin), *dir = test_tmpdir(), *gd;
	struct digest plain, kept;
	struct tree_entry e, pe;
	struct tree *t, *pt;
	git_repository *repo;
	git_reference *ref;
	git_object *obj, *peeled;
	git_oid head, c1;
	git_config *cfg;
	int bare = 1;
	char commit[41];

	gitsrc_add_provider(ps, f->store);
	resolve_ok(f, "#v1", f->c1, &plain);
	if (gitsrc_resolve(f->store, spec, &keep, &kept, commit, &err) < 0)
		fail_msg("%s", err->msg);
	assert_string_equal(commit, f->c1);
	assert_false(digest_equal(&plain, &kept));
	t = load(f, &kept);
	pt = load(f, &plain);
	/* the commit's own entries are the plain tree's */
	entry(t, "sub/a.txt", &e);
	entry(pt, "sub/a.txt", &pe);
	assert_int_equal(e.locator_len, pe.locator_len);
	assert_memory_equal(e.locator, pe.locator, e.locator_len);
	entry(t, ".git/objects", &e);
	assert_int_equal(e.mode, 0755);
	assert_int_equal(e.mtime_sec, T1);

	materialize_git_dir(f, ps, t, dir);
	gd = kl_path_join(dir, ".git");
	assert_int_equal(git_repository_open(&repo, gd), 0);
	assert_int_equal(git_repository_head_detached(repo), 1);
	assert_int_equal(git_reference_name_to_id(&head, repo, "HEAD"), 0);
	assert_int_equal(git_oid_fromstr(&c1, f->c1), 0);
	assert_true(git_oid_equal(&head, &c1));
	assert_int_equal(git_repository_is_shallow(repo), 0); /* the root commit */
	/* the annotated tag, at its tag object */
	assert_int_equal(git_reference_lookup(&ref, repo, "refs/tags/v1"), 0);
	assert_int_equal(git_reference_peel(&obj, ref, GIT_OBJECT_ANY), 0);
	assert_int_equal(
	    git_object_lookup(&peeled, repo, git_reference_target(ref), GIT_OBJECT_ANY), 0);
	assert_int_equal(git_object_type(peeled), GIT_OBJECT_TAG);
	assert_true(git_oid_equal(git_object_id(obj), &c1));
	git_object_free(obj);
	git_object_free(peeled);
	git_reference_free(ref);
	assert_int_equal(git_reference_lookup(&ref, repo, "refs/heads/main"), GIT_ENOTFOUND);
	/* every blob of the commit reads, through the loose files */
	assert_int_equal(git_revparse_single(&obj, repo, "HEAD:sub/deep/b"), 0);
	assert_int_equal(git_object_type(obj), GIT_OBJECT_BLOB);
	assert_int_equal(git_blob_rawsize((git_blob *)obj), 4);
	assert_memory_equal(git_blob_rawcontent((git_blob *)obj), "deep", 4);
	git_object_free(obj);
	assert_int_equal(git_repository_config_snapshot(&cfg, repo), 0);
	assert_int_equal(git_config_get_bool(&bare, cfg, "core.bare"), 0);
	assert_int_equal(bare, 0);
	git_config_free(cfg);
	git_repository_free(repo);
	/* the index lists the commit's files */
	{
		git_index *idx;
		char *ip = kl_path_join(gd, "index");

		assert_int_equal(git_index_open(&idx, ip), 0);
		assert_non_null(git_index_get_bypath(idx, "sub/deep/b", 0));
		assert_non_null(git_index_get_bypath(idx, "run.sh", 0));
		git_index_free(idx);
		free(ip);
	}
	free(gd);
	test_rmdir(dir);
	tree_unref(t);
	tree_unref(pt);
	free(spec);
	provider_set_free(ps);
}

static void
test_keep_git_dir_on_a_branch_is_shallow_and_names_it(void **state)
{
	struct fixture *f = *state;
	struct provider_set *ps = provider_set_new(f->store);
	const struct gitsrc_options keep = {.keep_git_dir = true};
	struct kl_error *err = NULL;
	char *spec = xasprintf("%s#dev", f->origin), *sub = xasprintf("%s#dev:sub", f->origin);
	char *dir = test_tmpdir(), *gd;
	struct digest kept, again, subtree;
	git_repository *repo;
	git_oid id, c2;
	git_commit *c;
	char commit[41];
	uint32_t idx;
	struct tree *t;

	gitsrc_add_provider(ps, f->store);
	if (gitsrc_resolve(f->store, spec, &keep, &kept, commit, &err) < 0)
		fail_msg("%s", err->msg);
	/* from the cache the second time, the same tree */
	assert_int_equal(gitsrc_resolve(f->store, spec, &keep, &again, commit, &err), 0);
	assert_true(digest_equal(&kept, &again));
	t = load(f, &kept);
	materialize_git_dir(f, ps, t, dir);
	gd = kl_path_join(dir, ".git");
	assert_int_equal(git_repository_open(&repo, gd), 0);
	assert_int_equal(git_repository_is_shallow(repo), 1);
	assert_int_equal(git_reference_name_to_id(&id, repo, "refs/heads/dev"), 0);
	assert_int_equal(git_oid_fromstr(&c2, f->c2), 0);
	assert_true(git_oid_equal(&id, &c2));
	assert_int_equal(git_commit_lookup(&c, repo, &c2), 0);
	assert_int_equal(git_commit_parentcount(c), 1);
	git_commit_free(c);
	git_repository_free(repo);
	tree_unref(t);
	/* a subdir has no .git, as in BuildKit */
	assert_int_equal(gitsrc_resolve(f->store, sub, &keep, &subtree, commit, &err), 0);
	t = load(f, &subtree);
	assert_int_equal(tree_lookup(t, ".git", 4, &idx), -ENOENT);
	tree_unref(t);
	free(gd);
	test_rmdir(dir);
	free(spec);
	free(sub);
	provider_set_free(ps);
}

static void
test_full_commit_id_present_needs_no_fetch(void **state)
{
	struct fixture *f = *state;
	struct kl_error *err = NULL;
	char frag[64], *moved = xasprintf("%s.away", f->origin);
	struct digest a, b;

	snprintf(frag, sizeof(frag), "#%s:sub", f->c1);
	resolve_ok(f, frag, f->c1, &a);
	/* the remote becomes an empty directory: any fetch would fail */
	assert_int_equal(rename(f->origin, moved), 0);
	assert_int_equal(mkdir(f->origin, 0755), 0);
	resolve_ok(f, frag, f->c1, &b);
	assert_true(digest_equal(&a, &b));
	snprintf(frag, sizeof(frag), "#%s", f->c1);
	resolve_ok(f, frag, f->c1, NULL); /* no tree cached for the root yet: built offline */
	assert_true(resolve(f, "#main", &a, NULL, &err) < 0);
	kl_error_freep(&err);
	assert_int_equal(rmdir(f->origin), 0);
	assert_int_equal(rename(moved, f->origin), 0);
	free(moved);
}

/* Collects how many entries the last build copied from the previous tree (-1: none said). */
static long last_copied = -1;

static void
copied_sink(enum kl_log_level level, const char *line, void *userdata)
{
	const char *p = strstr(line, " of the tree's entries copied from the previous tree");

	(void)level;
	(void)userdata;
	if (p) {
		while (p > line && p[-1] >= '0' && p[-1] <= '9')
			p--;
		last_copied = strtol(p, NULL, 10);
	}
}

/* Resolves fragment in a store of its own: the tree built from nothing but git objects. */
static void
resolve_alone(struct fixture *f, const char *fragment, const char *commit, struct digest *ret)
{
	struct store *keep = f->store;
	char *root = xasprintf("%s-alone", f->root);

	assert_int_equal(
	    store_open(root, &(struct store_options){.flags = STORE_NO_SYNC}, &f->store, NULL), 0);
	resolve_ok(f, fragment, commit, ret);
	f->store = store_unref(f->store);
	f->store = keep;
	test_rmdir(root); /* frees it */
}

/* Building from the tree of the commit built before copies what did not change and gives the
 * very tree a build from scratch gives: forwards, backwards, with files added, removed,
 * re-moded, relinked, and a moved submodule, whole or below a subdir. */
static void
test_tree_from_the_previous_commit_is_the_same(void **state)
{
	struct fixture *f = *state;
	const char *commits[] = {f->c1, f->c2, f->c3, f->c1, f->c3, f->c2};
	const char *subdirs[] = {"", ":sub"};
	char frag[64];

	kl_log_setup(KL_LOG_DEBUG, copied_sink, NULL);
	for (size_t s = 0; s < 2; s++) {
		for (size_t i = 0; i < sizeof(commits) / sizeof(commits[0]); i++) {
			struct digest got, want;

			snprintf(frag, sizeof(frag), "#%s%s", commits[i], subdirs[s]);
			last_copied = -1;
			resolve_ok(f, frag, commits[i], &got);
			if (i > 0 && i < 3) /* built from the tree before it */
				assert_true(last_copied > 0);
			if (i >= 3) /* those three were built already: from the cache */
				assert_int_equal(last_copied, -1);
			resolve_alone(f, frag, commits[i], &want);
			assert_true(digest_equal(&got, &want));
		}
	}
	kl_log_setup(KL_LOG_WARN, NULL, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_branch_tree_has_git_modes_and_commit_time,
	                                    store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_tags_branches_and_commit_ids_resolve, store_setup,
	                                    store_teardown),
	    cmocka_unit_test_setup_teardown(test_file_url_shares_the_bare_repository, store_setup,
	                                    store_teardown),
	    cmocka_unit_test_setup_teardown(test_subdir_is_the_tree_below, store_setup,
	                                    store_teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_ref_fails_cleanly, store_setup,
	                                    store_teardown),
	    cmocka_unit_test_setup_teardown(test_blob_size_cache_is_shared_and_checked, store_setup,
	                                    store_teardown),
	    cmocka_unit_test_setup_teardown(test_keep_git_dir_gives_a_repository_at_the_commit,
	                                    store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_keep_git_dir_on_a_branch_is_shallow_and_names_it,
	                                    store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_provider_fetch_gives_blob_bytes, store_setup,
	                                    store_teardown),
	    cmocka_unit_test_setup_teardown(test_tree_from_the_previous_commit_is_the_same,
	                                    store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_full_commit_id_present_needs_no_fetch, store_setup,
	                                    store_teardown),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
