// SPDX-License-Identifier: Apache-2.0
/* A kept .git: the commit's tree with a working .git directory added, as BuildKit's keepGitDir
 * leaves one (`git init`, `git fetch --depth=1 origin REF:REF`, `git checkout FETCH_HEAD`):
 *
 *   .git/HEAD          the commit, detached
 *   .git/config        core.bare = false, remote "origin" with the source's url (no password)
 *   .git/<ref>         the branch or tag the source named (refs/heads/main, refs/tags/v1),
 *                      pointing where the remote's does (an annotated tag at its tag object)
 *   .git/shallow       the commit, when it has parents: they are not there (depth 1)
 *   .git/index         the commit's tree, without stat data (git refreshes it on first use)
 *   .git/objects/xx/…  every object the commit reaches, the commit itself and the tags on the
 *                      way from the ref, as loose object files
 *
 * Object files carry no digest, only a locator "git:<repo id>:<oid>:loose" and the size their
 * stored-deflate form has (gitsrc-loose.c): nothing is read from the object database until a
 * file is, and the tree depends on the commit, the ref and the url alone, not on what else the
 * store's bare repository holds. The small files go into the store; the .git subtree is applied
 * over the plain tree as a diff, so the commit's own entries are copied as records. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/store.h"
#include "fs/tree-writer.h"
#include "fs/tree.h"
#include "sources/gitsrc-internal.h"
#include "util/cleanup.h"
#include "util/dl-git2.h"
#include "util/error.h"
#include "util/path.h"
#include "util/xalloc.h"

#define OID_HEX GIT_OID_HEXSZ
#define MAX_TAG_DEPTH 16 /* tags of tags followed */

static void
index_freep(git_index **p)
{
	kl_git2()->index_free(*p);
}

char *
gitsrc_gitdir_origin_url(const char *url)
{
	const char *scheme = strstr(url, "://");
	const char *host, *at, *colon;
	char *out;

	if (!scheme)
		return xstrdup(url);
	host = scheme + 3;
	at = strchr(host, '@');
	colon = strchr(host, ':');
	if (!at || strcspn(host, "/") < (size_t)(at - host) || !colon || colon > at)
		return xstrdup(url);
	out = xmalloc(strlen(url) + 1);
	memcpy(out, url, (size_t)(colon - url));
	strcpy(out + (colon - url), at);
	return out;
}

/* The objects a kept .git holds, by id (sorted, unique once sealed). */
struct objects {
	git_oid *v;
	size_t n, cap;
};

static void
objects_add(struct objects *o, const git_oid *id)
{
	o->v = xgrow(o->v, &o->cap, o->n + 1, sizeof(*o->v));
	o->v[o->n++] = *id;
}

static int
oid_cmp(const void *a, const void *b)
{
	return kl_git2()->oid_cmp(a, b);
}

static void
objects_seal(struct objects *o)
{
	size_t w = 0;

	qsort(o->v, o->n, sizeof(*o->v), oid_cmp);
	for (size_t i = 0; i < o->n; i++)
		if (w == 0 || kl_git2()->oid_cmp(&o->v[w - 1], &o->v[i]) != 0)
			o->v[w++] = o->v[i];
	o->n = w;
}

static int
walk_cb(const char *root, const git_tree_entry *te, void *payload)
{
	git_object_t t = kl_git2()->tree_entry_type(te);

	(void)root;
	/* a submodule's commit is another repository's */
	if (t == GIT_OBJECT_TREE || t == GIT_OBJECT_BLOB)
		objects_add(payload, kl_git2()->tree_entry_id(te));
	return 0;
}

/* Everything commit reaches, and the tags from ref_oid down to it. */
static int
collect_objects(const struct gitsrc_gitdir *g, git_commit *commit, struct objects *o,
                struct kl_error **err)
{
	_cleanup_(gitsrc_tree_freep) git_tree *root = NULL;
	git_oid at = g->ref_oid ? *g->ref_oid : *g->commit;
	int r;

	objects_add(o, g->commit);
	for (unsigned depth = 0; g->ref_oid && depth < MAX_TAG_DEPTH; depth++) {
		_cleanup_(gitsrc_object_freep) git_object *tag = NULL;

		r = kl_git2()->object_lookup(&tag, g->src->repo, &at, GIT_OBJECT_ANY);
		if (r < 0 || kl_git2()->object_type(tag) != GIT_OBJECT_TAG)
			break;
		objects_add(o, &at);
		at = *kl_git2()->tag_target_id((git_tag *)tag);
	}
	r = kl_git2()->commit_tree(&root, commit);
	if (r < 0)
		return gitsrc_error_from_git(err, r, "reading the tree of the commit");
	objects_add(o, kl_git2()->tree_id(root));
	r = kl_git2()->tree_walk(root, GIT_TREEWALK_PRE, walk_cb, o);
	if (r < 0)
		return gitsrc_error_from_git(err, r, "walking the tree of the commit");
	objects_seal(o);
	return 0;
}

/* The entries of the .git diff, gathered in a builder (which sorts them). */
struct gitdir {
	const struct gitsrc_gitdir *g;
	struct tree_builder *b;
	int64_t mtime;
};

static int
add_dir(struct gitdir *d, const char *path, struct kl_error **err)
{
	struct tree_entry e = {
	    .path = path,
	    .path_len = strlen(path),
	    .type = TREE_DIR,
	    .mode = 0755,
	    .mtime_sec = d->mtime,
	};

	return tree_builder_add(d->b, &e, NULL, 0, err);
}

/* A file whose bytes go into the store now. */
static int
add_file(struct gitdir *d, const char *path, const void *data, size_t len, struct kl_error **err)
{
	struct tree_entry e = {
	    .path = path,
	    .path_len = strlen(path),
	    .type = TREE_REG,
	    .flags = TREE_ENTRY_HAS_DIGEST,
	    .mode = 0644,
	    .mtime_sec = d->mtime,
	    .size = len,
	};
	int r;

	r = store_ingest_buffer(d->g->src->store, data, len, &e.digest, err);
	if (r < 0)
		return r;
	return tree_builder_add(d->b, &e, NULL, 0, err);
}

static int
add_text(struct gitdir *d, const char *path, const char *text, struct kl_error **err)
{
	return add_file(d, path, text, strlen(text), err);
}

/* Each object as .git/objects/xx/<38 hex>, read when first read. */
static int
add_objects(struct gitdir *d, const struct objects *o, struct kl_error **err)
{
	char path[] = ".git/objects/xx/" /* 38 hex */ "00000000000000000000000000000000000000";
	char locator[GITSRC_LOOSE_LOCATOR_LEN + 1];
	char hex[OID_HEX + 1], last_dir[3] = "";
	git_object_t type;
	size_t size;
	int r;

	memcpy(locator, "git:", 4);
	memcpy(locator + 4, d->g->src->repo_name, GITSRC_REPO_ID_LEN);
	locator[4 + GITSRC_REPO_ID_LEN] = ':';
	memcpy(locator + GITSRC_LOCATOR_LEN, GITSRC_LOOSE_SUFFIX, sizeof(GITSRC_LOOSE_SUFFIX));
	for (size_t i = 0; i < o->n; i++) {
		kl_git2()->oid_tostr(hex, sizeof(hex), &o->v[i]);
		r = kl_git2()->odb_read_header(&size, &type, d->g->src->odb, &o->v[i]);
		if (r < 0)
			return gitsrc_error_from_git(err, r, "reading the header of object %s",
			                             hex);
		memcpy(path + 13, hex, 2);
		memcpy(path + 16, hex + 2, OID_HEX - 2);
		if (memcmp(last_dir, hex, 2) != 0) {
			memcpy(last_dir, hex, 2);
			path[15] = '\0';
			r = add_dir(d, path, err);
			path[15] = '/';
			if (r < 0)
				return r;
		}
		memcpy(locator + 5 + GITSRC_REPO_ID_LEN, hex, OID_HEX);
		struct tree_entry e = {
		    .path = path,
		    .path_len = sizeof(path) - 1,
		    .type = TREE_REG,
		    .mode = 0444, /* as git leaves loose objects */
		    .mtime_sec = d->mtime,
		    .size = gitsrc_loose_size(type, size),
		    .locator = locator,
		    .locator_len = GITSRC_LOOSE_LOCATOR_LEN,
		};
		r = tree_builder_add(d->b, &e, NULL, 0, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* A config value in double quotes, '"' and '\' escaped (the url has no control characters). */
static char *
config_quoted(const char *v)
{
	char *out = xmalloc(2 * strlen(v) + 3), *w = out;

	*w++ = '"';
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			*w++ = '\\';
		*w++ = *v;
	}
	*w++ = '"';
	*w = '\0';
	return out;
}

static int
add_config(struct gitdir *d, struct kl_error **err)
{
	_cleanup_free_ char *url = config_quoted(d->g->origin_url);
	_cleanup_free_ char *text = xasprintf("[core]\n"
	                                      "\trepositoryformatversion = 0\n"
	                                      "\tfilemode = true\n"
	                                      "\tbare = false\n"
	                                      "\tlogallrefupdates = true\n"
	                                      "[remote \"origin\"]\n"
	                                      "\turl = %s\n"
	                                      "\tfetch = +refs/heads/*:refs/remotes/origin/*\n",
	                                      url);

	return add_text(d, ".git/config", text, err);
}

/* .git/<ref>, with its directories past refs/heads and refs/tags (made by the caller). */
static int
add_ref(struct gitdir *d, struct kl_error **err)
{
	_cleanup_free_ char *path = xasprintf(".git/%s", d->g->ref_name);
	char line[OID_HEX + 2];
	int r = 0;

	for (char *s = path + strlen(".git/refs/"); (s = strchr(s, '/')) && r >= 0; s++) {
		*s = '\0';
		if (strcmp(path, ".git/refs/heads") != 0 && strcmp(path, ".git/refs/tags") != 0)
			r = add_dir(d, path, err);
		*s = '/';
	}
	if (r < 0)
		return r;
	kl_git2()->oid_tostr(line, OID_HEX + 1, d->g->ref_oid);
	strcat(line, "\n");
	return add_text(d, path, line, err);
}

/* .git/index: the commit's tree as `git read-tree` gives it, written by libgit2 to a temp file
 * and taken into the store. */
static int
add_index(struct gitdir *d, git_commit *commit, struct kl_error **err)
{
	_cleanup_free_ char *dir = xasprintf("%s/index.XXXXXX", d->g->tmp_dir);
	_cleanup_free_ char *path = NULL;
	_cleanup_(index_freep) git_index *idx = NULL;
	_cleanup_(gitsrc_tree_freep) git_tree *root = NULL;
	_cleanup_close_ int fd = -1;
	struct tree_entry e = {
	    .path = ".git/index",
	    .path_len = strlen(".git/index"),
	    .type = TREE_REG,
	    .flags = TREE_ENTRY_HAS_DIGEST,
	    .mode = 0644,
	    .mtime_sec = d->mtime,
	};
	struct stat st;
	int r;

	if (!mkdtemp(dir))
		return kl_error_set(err, errno, "creating '%s'", dir);
	path = kl_path_join(dir, "index");
	r = kl_git2()->commit_tree(&root, commit);
	if (r >= 0)
		r = kl_git2()->index_open(&idx, path);
	if (r >= 0)
		r = kl_git2()->index_read_tree(idx, root);
	if (r >= 0)
		r = kl_git2()->index_write(idx);
	if (r < 0) {
		r = gitsrc_error_from_git(err, r, "writing the index of the commit");
	} else {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0)
			r = kl_error_set(err, errno, "reading '%s'", path);
		else
			r = store_ingest_fd(d->g->src->store, fd, NULL, &e.digest, err);
	}
	(void)unlink(path);
	(void)rmdir(dir);
	if (r < 0)
		return r;
	e.size = (uint64_t)st.st_size;
	return tree_builder_add(d->b, &e, NULL, 0, err);
}

static int
add_all(struct gitdir *d, git_commit *commit, const struct objects *o, struct kl_error **err)
{
	static const char *const dirs[] = {
	    ".git",      ".git/objects",    ".git/objects/info", ".git/objects/pack",
	    ".git/refs", ".git/refs/heads", ".git/refs/tags"};
	char head[OID_HEX + 2];
	int r = 0;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && r >= 0; i++)
		r = add_dir(d, dirs[i], err);
	kl_git2()->oid_tostr(head, OID_HEX + 1, d->g->commit);
	strcat(head, "\n");
	if (r >= 0)
		r = add_text(d, ".git/HEAD", head, err);
	if (r >= 0 && kl_git2()->commit_parentcount(commit) > 0)
		r = add_text(d, ".git/shallow", head, err);
	if (r >= 0)
		r = add_config(d, err);
	if (r >= 0 && d->g->ref_name)
		r = add_ref(d, err);
	if (r >= 0)
		r = add_index(d, commit, err);
	if (r >= 0)
		r = add_objects(d, o, err);
	return r;
}

static void
release_buffer(void *buf, size_t len)
{
	(void)len;
	free(buf);
}

int
gitsrc_gitdir_build(const struct gitsrc_gitdir *g, const struct digest *plain, struct digest *ret,
                    struct kl_error **err)
{
	_cleanup_(tree_builder_freep) struct tree_builder *b = tree_builder_new();
	_cleanup_(gitsrc_object_freep) git_object *commit = NULL;
	_cleanup_(tree_unrefp) struct tree *base = NULL, *diff = NULL;
	_cleanup_(tree_writer_freep) struct tree_writer *w = NULL;
	struct objects o = {0};
	struct gitdir d = {.g = g, .b = b};
	char hex[OID_HEX + 1];
	char *buf = NULL;
	size_t len;
	int r;

	kl_git2()->oid_tostr(hex, sizeof(hex), g->commit);
	r = kl_git2()->object_lookup(&commit, g->src->repo, g->commit, GIT_OBJECT_COMMIT);
	if (r < 0)
		return gitsrc_error_from_git(err, r, "reading commit %s", hex);
	d.mtime = (int64_t)kl_git2()->commit_time((git_commit *)commit);
	r = collect_objects(g, (git_commit *)commit, &o, err);
	if (r >= 0)
		r = add_all(&d, (git_commit *)commit, &o, err);
	free(o.v);
	if (r >= 0)
		r = tree_builder_serialize(b, &buf, &len, err);
	if (r >= 0) {
		r = tree_parse(buf, len, release_buffer, &diff, err);
		if (r < 0)
			free(buf);
	}
	if (r >= 0)
		r = tree_load(g->src->store, plain, &base, err);
	if (r >= 0)
		r = tree_apply(base, diff, &w, err);
	if (r >= 0)
		r = tree_writer_write(w, g->src->store, ret, err);
	if (r < 0)
		kl_error_prefix(err, "the .git of commit %s", hex);
	return r;
}
