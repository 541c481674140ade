// SPDX-License-Identifier: Apache-2.0
/* The git tree cache: which tree was built for a commit of a repository (+ subdir), and which
 * commit was built last, so a commit is turned into a tree once.
 *
 * <root>/git/trees/<commit>-<key> holds "sha256:<hex>\n", the tree built for that commit from
 * that repository (its locators name it) with that subdir (and variant: a kept .git's ref and
 * origin), and <root>/git/trees/last-<key>
 * "<commit>\n", the commit whose tree was built last: the base the next build copies unchanged
 * subtrees from. <key> is 32 hex of a hash over the record version, the repository's name and
 * the subdir (and the variant, when there is one). Records are written by rename, and only once the
 * tree is in the store, so a failed build never leaves one behind; a record that cannot be read, or
 * whose tree the store lacks, is a miss. */
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/store.h"
#include "fs/tree.h"
#include "sources/gitsrc-internal.h"
#include "util/cleanup.h"
#include "util/dl-git2.h"
#include "util/error.h"
#include "util/io.h"
#include "util/path.h"
#include "util/xalloc.h"

#define OID_HEX GIT_OID_HEXSZ
#define TREE_CACHE_VERSION "kiln-git-tree-2"

void
gitsrc_cache_init(struct gitsrc_cache *c, struct store *s, const char *git_dir,
                  const char *repo_name, const char *subdir, const char *variant)
{
	_cleanup_free_ char *in =
	    *variant ? xasprintf("%s\n%s\n%s\n%s", TREE_CACHE_VERSION, repo_name, subdir, variant)
	             : xasprintf("%s\n%s\n%s", TREE_CACHE_VERSION, repo_name, subdir);
	char hex[DIGEST_HEX_LEN + 1];
	struct digest d;

	digest_buffer(in, strlen(in), &d);
	digest_to_hex(&d, hex);
	memcpy(c->key, hex, GITSRC_CACHE_KEY_LEN);
	c->key[GITSRC_CACHE_KEY_LEN] = '\0';
	c->store = s;
	c->dir = xasprintf("%s/trees", git_dir);
}

void
gitsrc_cache_done(struct gitsrc_cache *c)
{
	free(c->dir);
	c->dir = NULL;
}

/* <dir>/<what>-<key>: what is a commit's hex or "last". */
static char *
record_path(const struct gitsrc_cache *c, const char *what)
{
	return xasprintf("%s/%s-%s", c->dir, what, c->key);
}

static char *
commit_path(const struct gitsrc_cache *c, const git_oid *commit)
{
	char hex[OID_HEX + 1];

	kl_git2()->oid_tostr(hex, sizeof(hex), commit);
	return record_path(c, hex);
}

/* Reads a record of exactly len bytes ending in '\n' into buf (NUL-terminated there). */
static int
record_read(const char *path, char *buf, size_t len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -ENOENT;
	n = kl_io_read_full(fd, buf, len + 1);
	if (n != (ssize_t)len || buf[len - 1] != '\n')
		return -ENOENT;
	buf[len - 1] = '\0';
	return 0;
}

/* Replaces path's content with line, by rename. */
static int
record_put(const char *path, const char *line, struct kl_error **err)
{
	_cleanup_free_ char *dir = xstrdup(path), *tmp = xasprintf("%s.XXXXXX", path);
	_cleanup_close_ int fd = -1;
	int r;

	*strrchr(dir, '/') = '\0';
	r = kl_path_mkdir_p(dir, 0755);
	if (r < 0)
		return kl_error_set(err, -r, "creating '%s'", dir);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return kl_error_set(err, errno, "creating '%s'", tmp);
	r = kl_io_write_all(fd, line, strlen(line));
	if (r >= 0 && fchmod(fd, 0644) < 0)
		r = -errno;
	if (r >= 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlink(tmp);
		return kl_error_set(err, -r, "writing '%s'", path);
	}
	return 0;
}

int
gitsrc_cache_get(const struct gitsrc_cache *c, const git_oid *commit, struct digest *ret)
{
	_cleanup_free_ char *path = commit_path(c, commit);
	char buf[DIGEST_STRING_SIZE + 2];

	if (record_read(path, buf, DIGEST_STRING_SIZE) < 0 ||
	    digest_parse(buf, DIGEST_STRING_SIZE - 1, ret, NULL) < 0 ||
	    store_has_blob(c->store, ret) != 1)
		return -ENOENT;
	return 0;
}

bool
gitsrc_cache_get_base(const struct gitsrc_cache *c, git_oid *ret_commit, struct tree **ret_tree)
{
	_cleanup_free_ char *last = record_path(c, "last");
	char hex[OID_HEX + 2];
	struct digest id;
	git_oid commit;

	if (record_read(last, hex, OID_HEX + 1) < 0 ||
	    kl_git2()->oid_fromstrn(&commit, hex, OID_HEX) < 0)
		return false;
	if (gitsrc_cache_get(c, &commit, &id) < 0 || tree_load(c->store, &id, ret_tree, NULL) < 0)
		return false;
	*ret_commit = commit;
	return true;
}

int
gitsrc_cache_put(const struct gitsrc_cache *c, const git_oid *commit, const struct digest *tree,
                 struct kl_error **err)
{
	_cleanup_free_ char *path = commit_path(c, commit), *last = record_path(c, "last");
	char line[DIGEST_STRING_SIZE + 1], hex[OID_HEX + 2];
	int r;

	digest_to_string(tree, line);
	strcat(line, "\n");
	kl_git2()->oid_tostr(hex, sizeof(hex), commit);
	strcat(hex, "\n");
	r = record_put(path, line, err);
	if (r < 0)
		return r;
	return record_put(last, hex, err);
}
