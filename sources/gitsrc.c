// SPDX-License-Identifier: Apache-2.0
/* Git sources: a ref of a remote as a tree built from git tree objects, blobs read lazily.
 *
 * Layout in the store: <root>/git/<sha256 of the URL key>.git is a bare repository shared by
 * every build that names that remote, <root>/git/<same>.lock serializes fetches into it across
 * processes, and <root>/git/trees/<commit>-<key> caches the tree id built for a commit (+
 * subdir) so a commit is turned into a tree once; <root>/git/trees/last-<key> names the commit
 * built last, whose tree the next build copies unchanged subtrees from (gitsrc-tree.c). Refs
 * land under refs/kiln/ in the bare repo: they keep what was fetched reachable and give later
 * fetches their "haves".
 *
 * A ref is resolved against the remote every time (branches move), with one exception: a full
 * commit id whose commit is already in the bare repository is used without any network. Only
 * the requested ref is fetched (a "+src:refs/kiln/…" refspec); a short commit id makes us
 * fetch every branch and tag and look the prefix up; a full commit id that no ref advertises is
 * fetched with the branches and tags, then by id (servers that allow it).
 *
 * Files get no digest, only a locator "git:<repo id>:<blob id>" (repo id: the first 16 hex
 * of the bare repository's 64-hex name, which keeps the tree blob small; the provider finds the
 * one repository whose name starts with it, and still reads the full name of older trees) and
 * their size from the object header. Sizes are cached per repository in <root>/git/<same>.sizes
 * (sorted records of a raw blob id and a little-endian 64-bit size), so a blob's header is read
 * once ever, not once per commit. The "git" provider reads the blob from the object database
 * when the file is first read. gitsrc-tree.c has the rest of the tree's rules.
 *
 * What libgit2 1.5 (Debian 12) cannot do, and what it costs:
 * - no shallow fetch (depth arrived in 1.7) and no partial clone (no filters): the first fetch
 *   of a ref downloads its whole history, blobs included;
 * - no protocol v2: the remote advertises every ref on each connect, no server-side filtering;
 * - no pack bitmaps or multi-threaded indexing: indexing a large pack is slower than git's;
 * - fetching an unadvertised commit by id works only when the server allows it
 *   (uploadpack.allowReachableSHA1InWant / allowAnySHA1InWant);
 * - SHA-1 repositories only; no sparse checkout or LFS (LFS pointers stay pointer files);
 * - ssh uses libssh2 and is offered ssh-agent keys only; repositories owned by another user
 *   are refused unless safe.directory allows them (libgit2's owner validation);
 * - url.<base>.insteadOf is not applied: its config lookup leaks memory in 1.5. */
#include "sources/gitsrc.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <git2.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/provider.h"
#include "fs/store.h"
#include "fs/tree.h"
#include "sources/gitsrc-internal.h"
#include "sources/gitsrc-spec.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/hex.h"
#include "util/io.h"
#include "util/log.h"
#include "util/path.h"
#include "util/xalloc.h"

#define REPO_NAME_LEN GITSRC_REPO_NAME_LEN
#define REPO_ID_LEN GITSRC_REPO_ID_LEN
#define OID_HEX GIT_OID_HEXSZ
#define LOCATOR_LEN GITSRC_LOCATOR_LEN
#define LONG_LOCATOR_LEN (4 + REPO_NAME_LEN + 1 + OID_HEX) /* git:<repo>:<oid>, older trees */
#define TREE_CACHE_VERSION "kiln-git-tree-2"

static void
init_once(void)
{
	git_libgit2_init();
}

/* libgit2 is set up once per process and kept: its setup reads the whole CA bundle (~5 ms),
 * and a mount resolves, then forks the server, which reads blobs. */
static void
init_libgit2(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, init_once);
}

int
gitsrc_error_from_git(struct kl_error **err, int gerr, const char *fmt, ...)
{
	const git_error *ge = git_error_last();
	_cleanup_free_ char *what = NULL, *msg = NULL;
	va_list ap;
	int code;

	switch (gerr) {
	case GIT_ENOTFOUND:
		code = ENOENT;
		break;
	case GIT_EEXISTS:
		code = EEXIST;
		break;
	case GIT_EAUTH:
	case GIT_ECERTIFICATE:
		code = EACCES;
		break;
	case GIT_ELOCKED:
		code = EBUSY;
		break;
	case GIT_EAMBIGUOUS:
	case GIT_EINVALIDSPEC:
	case GIT_EINVALID:
		code = EINVAL;
		break;
	default:
		code = ge && ge->klass == GIT_ERROR_NOMEMORY ? ENOMEM : EIO;
	}
	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		what = NULL;
	va_end(ap);
	msg = xstrdup(ge && ge->message ? ge->message : "unknown libgit2 error");
	/* one line, no final period */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	for (size_t n = strlen(msg); n > 0 && (msg[n - 1] == ' ' || msg[n - 1] == '.'); n--)
		msg[n - 1] = '\0';
	return kl_error_setf(err, code, "%s: %s", what ? what : "libgit2", msg);
}

static void
object_freep(git_object **p)
{
	git_object_free(*p);
}

/* Sources */

static bool
is_dir_at(const char *dir, const char *name)
{
	_cleanup_free_ char *p = kl_path_join(dir, name);
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool
is_bare_repo(const char *dir)
{
	_cleanup_free_ char *head = kl_path_join(dir, "HEAD");
	struct stat st;

	return stat(head, &st) == 0 && S_ISREG(st.st_mode) && is_dir_at(dir, "objects") &&
	       is_dir_at(dir, "refs");
}

bool
gitsrc_matches(const char *spec)
{
	const char *hash;
	struct stat st;

	if (gitsrc_spec_url_kind(spec, strlen(spec)) != GITSRC_URL_LOCAL)
		return true;
	/* A local path: a directory that exists whole is a build context unless it is a bare
	 * repository; with a fragment, the part before '#' must be a directory. */
	if (stat(spec, &st) == 0)
		return S_ISDIR(st.st_mode) && is_bare_repo(spec);
	hash = strchr(spec, '#');
	if (!hash || hash == spec)
		return false;
	_cleanup_free_ char *dir = xstrndup(spec, (size_t)(hash - spec));
	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

/* One resolution: the parsed spec, the bare repository, the remote while connected. */
struct resolve {
	struct store *store;
	struct gitsrc_spec sp;
	char *fetch_url; /* what libgit2 connects to */
	char repo_name[REPO_NAME_LEN + 1];
	char *git_dir; /* <root>/git */
	git_repository *repo;
	git_odb *odb;                  /* repo's */
	git_remote *remote;            /* NULL until connected */
	const git_remote_head **heads; /* owned by remote */
	size_t n_heads;
};

static void
resolve_done(struct resolve *rs)
{
	if (rs->remote) {
		(void)git_remote_disconnect(rs->remote);
		git_remote_free(rs->remote);
	}
	git_odb_free(rs->odb);
	git_repository_free(rs->repo);
	gitsrc_spec_done(&rs->sp);
	free(rs->fetch_url);
	free(rs->git_dir);
}

static int
locate_repo(struct resolve *rs, struct kl_error **err)
{
	_cleanup_free_ char *key = NULL, *real = NULL;
	struct digest d;
	struct stat st;

	if (rs->sp.url_kind == GITSRC_URL_LOCAL || rs->sp.url_kind == GITSRC_URL_FILE) {
		real = realpath(rs->sp.url, NULL);
		if (!real)
			return kl_error_set(err, errno, "repository '%s'", rs->sp.url);
		if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode))
			return kl_error_setf(err, ENOTDIR, "repository '%s' is not a directory",
			                     rs->sp.url);
		rs->fetch_url = xstrdup(real);
	} else {
		rs->fetch_url = xstrdup(rs->sp.url);
	}
	key = gitsrc_spec_url_key(&rs->sp, real);
	digest_buffer(key, strlen(key), &d);
	digest_to_hex(&d, rs->repo_name);
	rs->git_dir = kl_path_join(store_root(rs->store), "git");
	return 0;
}

/* Takes the repository's lock (held until fd is closed) and opens or creates it. */
static int
open_repo(struct resolve *rs, int *ret_lock, struct kl_error **err)
{
	_cleanup_free_ char *lock_path = xasprintf("%s/%s.lock", rs->git_dir, rs->repo_name);
	_cleanup_free_ char *path = xasprintf("%s/%s.git", rs->git_dir, rs->repo_name);
	_cleanup_close_ int fd = -1;
	int r;

	r = kl_path_mkdir_p(rs->git_dir, 0755);
	if (r < 0)
		return kl_error_set(err, -r, "creating '%s'", rs->git_dir);
	fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return kl_error_set(err, errno, "opening '%s'", lock_path);
	while ((r = flock(fd, LOCK_EX)) < 0 && errno == EINTR)
		;
	if (r < 0)
		return kl_error_set(err, errno, "locking '%s'", lock_path);
	r = git_repository_open_bare(&rs->repo, path);
	if (r == GIT_ENOTFOUND)
		r = git_repository_init(&rs->repo, path, /* is_bare= */ 1);
	if (r < 0)
		return gitsrc_error_from_git(err, r, "opening the repository '%s'", path);
	r = git_repository_odb(&rs->odb, rs->repo);
	if (r < 0)
		return gitsrc_error_from_git(err, r, "opening the objects of '%s'", path);
	*ret_lock = TAKE_FD(fd);
	return 0;
}

static int
credentials_cb(git_credential **out, const char *url, const char *user, unsigned int allowed,
               void *payload)
{
	int *attempts = payload;

	(void)url;
	/* ssh-agent once; anything else has no credentials to offer */
	if (!(allowed & GIT_CREDENTIAL_SSH_KEY) || (*attempts)++ > 0)
		return GIT_PASSTHROUGH;
	return git_credential_ssh_key_from_agent(out, user ? user : "git");
}

static int
connect_remote(struct resolve *rs, int *attempts, struct kl_error **err)
{
	git_remote_callbacks cb = GIT_REMOTE_CALLBACKS_INIT;
	git_remote_create_options opts;
	int r;

	if (rs->remote)
		return 0;
	cb.credentials = credentials_cb;
	cb.payload = attempts;
	git_remote_create_options_init(&opts, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	opts.repository = rs->repo;
	/* anonymous; url.*.insteadOf is not applied: its lookup leaks in libgit2 1.5, and a
	 * build should not depend on the user's git config anyway */
	opts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	r = git_remote_create_with_opts(&rs->remote, rs->fetch_url, &opts);
	if (r < 0)
		return gitsrc_error_from_git(err, r, "'%s'", rs->fetch_url);
	r = git_remote_connect(rs->remote, GIT_DIRECTION_FETCH, &cb, NULL, NULL);
	if (r < 0)
		return gitsrc_error_from_git(err, r, "connecting to '%s'", rs->fetch_url);
	r = git_remote_ls(&rs->heads, &rs->n_heads, rs->remote);
	if (r < 0)
		return gitsrc_error_from_git(err, r, "listing the refs of '%s'", rs->fetch_url);
	return 0;
}

static const git_remote_head *
find_head(const struct resolve *rs, const char *name)
{
	for (size_t i = 0; i < rs->n_heads; i++)
		if (strcmp(rs->heads[i]->name, name) == 0)
			return rs->heads[i];
	return NULL;
}

/* The advertised ref pointing (directly or once peeled) at commit, if any. */
static const git_remote_head *
find_head_for(const struct resolve *rs, const git_oid *commit)
{
	for (size_t i = 0; i < rs->n_heads; i++) {
		const char *name = rs->heads[i]->name;
		size_t n = strlen(name);

		if (git_oid_equal(&rs->heads[i]->oid, commit)) {
			if (n > 3 && strcmp(name + n - 3, "^{}") == 0) {
				_cleanup_free_ char *tag = xstrndup(name, n - 3);
				return find_head(rs, tag);
			}
			return rs->heads[i];
		}
	}
	return NULL;
}

static char *
kiln_ref_for(const char *remote_ref)
{
	if (strcmp(remote_ref, "HEAD") == 0)
		return xstrdup("refs/kiln/HEAD");
	return xasprintf("refs/kiln/%s", remote_ref + strlen("refs/"));
}

static void
fetch_options_init(git_fetch_options *opts, int *attempts)
{
	git_fetch_options_init(opts, GIT_FETCH_OPTIONS_VERSION);
	opts->callbacks.credentials = credentials_cb;
	opts->callbacks.payload = attempts;
	opts->download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	opts->update_fetchhead = 0;
	opts->prune = GIT_FETCH_NO_PRUNE;
}

/* Downloads with the given refspecs over the open connection and updates refs/kiln/. */
static int
download(struct resolve *rs, char **specs, size_t n, int *attempts, struct kl_error **err)
{
	git_strarray arr = {.strings = specs, .count = n};
	git_fetch_options opts;
	int r;

	kl_debug("git: fetching %s from '%s'", specs[0], rs->fetch_url);
	fetch_options_init(&opts, attempts);
	r = git_remote_download(rs->remote, &arr, &opts);
	if (r < 0)
		return gitsrc_error_from_git(err, r, "fetching '%s' from '%s'", specs[0],
		                             rs->fetch_url);
	r = git_remote_update_tips(rs->remote, NULL, /* update_fetchhead= */ 0,
	                           GIT_REMOTE_DOWNLOAD_TAGS_NONE, NULL);
	if (r < 0)
		return gitsrc_error_from_git(err, r, "updating refs after fetching from '%s'",
		                             rs->fetch_url);
	return 0;
}

/* Points refs/kiln/… at oid unless it already does. */
static int
set_ref(struct resolve *rs, const char *name, const git_oid *oid, struct kl_error **err)
{
	git_reference *ref = NULL;
	git_oid cur;
	int r;

	if (git_reference_name_to_id(&cur, rs->repo, name) == 0 && git_oid_equal(&cur, oid))
		return 0;
	r = git_reference_create(&ref, rs->repo, name, oid, /* force= */ 1, "kiln: fetch");
	git_reference_free(ref);
	if (r < 0)
		return gitsrc_error_from_git(err, r, "updating '%s'", name);
	return 0;
}

/* Makes the object an advertised ref points at present, fetching that ref alone if needed. */
static int
fetch_head(struct resolve *rs, const git_remote_head *h, int *attempts, struct kl_error **err)
{
	_cleanup_free_ char *dst = kiln_ref_for(h->name);
	_cleanup_free_ char *spec = NULL;
	char *specs[1];

	if (git_odb_exists(rs->odb, &h->oid))
		return set_ref(rs, dst, &h->oid, err);
	spec = xasprintf("+%s:%s", h->name, dst);
	specs[0] = spec;
	return download(rs, specs, 1, attempts, err);
}

static int
fetch_branches_and_tags(struct resolve *rs, int *attempts, struct kl_error **err)
{
	char heads[] = "+refs/heads/*:refs/kiln/heads/*", tags[] = "+refs/tags/*:refs/kiln/tags/*";
	char *specs[] = {heads, tags};

	return download(rs, specs, 2, attempts, err);
}

/* By id, for servers that allow unadvertised wants; a refusal is "not found". */
static bool
fetch_by_id(struct resolve *rs, const char *hex, int *attempts)
{
	_cleanup_free_ char *spec = xasprintf("+%s:refs/kiln/commits/%s", hex, hex);
	struct kl_error *e = NULL;
	char *specs[] = {spec};
	int r;

	r = download(rs, specs, 1, attempts, &e);
	if (r < 0)
		kl_debug("git: fetching %s by id: %s", hex, e ? e->msg : "failed");
	kl_error_free(e);
	return r >= 0;
}

static int
not_found(const struct resolve *rs, struct kl_error **err)
{
	if (rs->sp.ref_kind == GITSRC_REF_HEAD)
		return kl_error_setf(err, ENOENT, "'%s' has no HEAD", rs->fetch_url);
	return kl_error_setf(err, ENOENT, "ref '%s' not found at '%s'", rs->sp.ref, rs->fetch_url);
}

/* A name as git's dwim reads it: the ref itself, refs/<name>, then tags, then branches. */
static const git_remote_head *
find_named(const struct resolve *rs, const char *ref)
{
	static const char *const prefixes[] = {"refs/", "refs/tags/", "refs/heads/"};
	const git_remote_head *h;

	if (strcmp(ref, "HEAD") == 0 || strncmp(ref, "refs/", 5) == 0)
		return find_head(rs, ref);
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		_cleanup_free_ char *name = xasprintf("%s%s", prefixes[i], ref);
		h = find_head(rs, name);
		if (h)
			return h;
	}
	return NULL;
}

/* Resolves a hex prefix among the objects present: -ENOENT (err untouched) when absent. */
static int
lookup_prefix(struct resolve *rs, const char *hex, git_oid *ret, struct kl_error **err)
{
	_cleanup_(object_freep) git_object *obj = NULL;
	size_t n = strlen(hex);
	git_oid prefix;
	int r;

	if (git_oid_fromstrn(&prefix, hex, n) < 0)
		return -ENOENT;
	r = git_object_lookup_prefix(&obj, rs->repo, &prefix, n, GIT_OBJECT_ANY);
	if (r == GIT_ENOTFOUND)
		return -ENOENT;
	if (r == GIT_EAMBIGUOUS)
		return kl_error_setf(err, EINVAL, "commit id '%s' is ambiguous", hex);
	if (r < 0)
		return gitsrc_error_from_git(err, r, "looking up '%s'", hex);
	*ret = *git_object_id(obj);
	return 0;
}

/* Finds the object spec's ref names on the remote and makes it present; ret gets its id. */
static int
resolve_remote(struct resolve *rs, int *attempts, git_oid *ret, struct kl_error **err)
{
	const char *ref = rs->sp.ref_kind == GITSRC_REF_HEAD ? "HEAD" : rs->sp.ref;
	const git_remote_head *h;
	git_oid want;
	int r;

	r = connect_remote(rs, attempts, err);
	if (r < 0)
		return r;
	if (rs->sp.ref_kind == GITSRC_REF_COMMIT) {
		if (git_oid_fromstr(&want, ref) < 0)
			return not_found(rs, err);
		h = find_head_for(rs, &want);
	} else {
		h = find_named(rs, ref);
	}
	if (h) {
		r = fetch_head(rs, h, attempts, err);
		if (r < 0)
			return r;
		*ret = rs->sp.ref_kind == GITSRC_REF_COMMIT ? want : h->oid;
		return 0;
	}
	switch (rs->sp.ref_kind) {
	case GITSRC_REF_SHORT:
		r = fetch_branches_and_tags(rs, attempts, err);
		if (r < 0)
			return r;
		r = lookup_prefix(rs, ref, ret, err);
		return r == -ENOENT ? not_found(rs, err) : r;
	case GITSRC_REF_COMMIT:
		r = fetch_branches_and_tags(rs, attempts, err);
		if (r < 0)
			return r;
		if (!git_odb_exists(rs->odb, &want) && !fetch_by_id(rs, ref, attempts))
			return not_found(rs, err);
		if (!git_odb_exists(rs->odb, &want))
			return not_found(rs, err);
		*ret = want;
		return 0;
	default:
		return not_found(rs, err);
	}
}

static int
peel_commit(struct resolve *rs, const git_oid *oid, git_oid *ret, struct kl_error **err)
{
	_cleanup_(object_freep) git_object *obj = NULL, *commit = NULL;
	char hex[OID_HEX + 1];
	int r;

	git_oid_tostr(hex, sizeof(hex), oid);
	r = git_object_lookup(&obj, rs->repo, oid, GIT_OBJECT_ANY);
	if (r < 0)
		return gitsrc_error_from_git(err, r, "reading object %s", hex);
	r = git_object_peel(&commit, obj, GIT_OBJECT_COMMIT);
	if (r < 0)
		return kl_error_setf(err, EINVAL, "ref '%s' names a %s (%s), not a commit",
		                     rs->sp.ref_kind == GITSRC_REF_HEAD ? "HEAD" : rs->sp.ref,
		                     git_object_type2string(git_object_type(obj)), hex);
	*ret = *git_object_id(commit);
	return 0;
}

/* A full commit id already present needs no network at all. */
static bool
commit_present(struct resolve *rs, git_oid *ret)
{
	git_oid oid;

	if (rs->sp.ref_kind != GITSRC_REF_COMMIT || git_oid_fromstr(&oid, rs->sp.ref) < 0)
		return false;
	_cleanup_(object_freep) git_object *obj = NULL;
	if (git_object_lookup(&obj, rs->repo, &oid, GIT_OBJECT_COMMIT) < 0)
		return false;
	*ret = oid;
	return true;
}

static int
resolve_commit(struct resolve *rs, git_oid *ret, struct kl_error **err)
{
	_cleanup_close_ int lock = -1;
	int attempts = 0, r;
	git_oid oid;

	r = locate_repo(rs, err);
	if (r < 0)
		return r;
	r = open_repo(rs, &lock, err);
	if (r < 0)
		return r;
	if (commit_present(rs, ret)) {
		kl_debug("git: commit %s present, no fetch", rs->sp.ref);
		return 0;
	}
	r = resolve_remote(rs, &attempts, &oid, err);
	if (r < 0)
		return r;
	return peel_commit(rs, &oid, ret, err);
}

/* Tree cache: <root>/git/trees/<commit>-<key> holds "sha256:<hex>\n", the tree built for that
 * commit from that repository (its locators name it) with that subdir, and
 * <root>/git/trees/last-<key> "<commit>\n", the commit whose tree was built last: the base the
 * next build copies unchanged subtrees from. Written by rename only once the tree is in the
 * store, so a failed build never leaves an entry behind. */

static char *
tree_cache_path(const struct resolve *rs, const char *what)
{
	_cleanup_free_ char *in =
	    xasprintf("%s\n%s\n%s", TREE_CACHE_VERSION, rs->repo_name, rs->sp.subdir);
	char key[DIGEST_HEX_LEN + 1];
	struct digest d;

	digest_buffer(in, strlen(in), &d);
	digest_to_hex(&d, key);
	key[32] = '\0';
	return xasprintf("%s/trees/%s-%s", rs->git_dir, what, key);
}

static char *
tree_cache_commit_path(const struct resolve *rs, const git_oid *commit)
{
	char hex[OID_HEX + 1];

	git_oid_tostr(hex, sizeof(hex), commit);
	return tree_cache_path(rs, hex);
}

/* Reads a cache file of exactly len bytes ending in '\n' into buf (NUL-terminated there). */
static int
cache_read(const char *path, char *buf, size_t len)
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

/* 0 with *ret on a hit; -ENOENT on a miss (a bad or dangling entry is a miss). */
static int
tree_cache_get(struct store *s, const char *path, struct digest *ret)
{
	char buf[DIGEST_STRING_SIZE + 2];

	if (cache_read(path, buf, DIGEST_STRING_SIZE) < 0 ||
	    digest_parse(buf, DIGEST_STRING_SIZE - 1, ret, NULL) < 0 || store_has_blob(s, ret) != 1)
		return -ENOENT;
	return 0;
}

/* Replaces path's content with line, by rename. */
static int
cache_put(const char *path, const char *line, struct kl_error **err)
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

/* The commit built last from this repository and subdir, and its tree; false when there is
 * none or it cannot be read (then every subtree is walked). */
static bool
base_get(const struct resolve *rs, git_oid *ret_commit, struct tree **ret_tree)
{
	_cleanup_free_ char *last = tree_cache_path(rs, "last"), *path = NULL;
	char hex[OID_HEX + 2];
	struct digest id;

	if (cache_read(last, hex, OID_HEX + 1) < 0 ||
	    git_oid_fromstrn(ret_commit, hex, OID_HEX) < 0)
		return false;
	path = tree_cache_commit_path(rs, ret_commit);
	return tree_cache_get(rs->store, path, &id) == 0 &&
	       tree_load(rs->store, &id, ret_tree, NULL) == 0;
}

static int
tree_for_commit(struct resolve *rs, const git_oid *commit, struct digest *ret,
                struct kl_error **err)
{
	_cleanup_free_ char *path = tree_cache_commit_path(rs, commit);
	_cleanup_free_ char *sizes = xasprintf("%s/%s.sizes", rs->git_dir, rs->repo_name);
	_cleanup_free_ char *last = NULL;
	_cleanup_(tree_unrefp) struct tree *base = NULL;
	const struct gitsrc_tree_source src = {
	    .store = rs->store,
	    .repo = rs->repo,
	    .odb = rs->odb,
	    .repo_name = rs->repo_name,
	    .sizes_path = sizes,
	    .subdir = rs->sp.subdir,
	};
	char line[DIGEST_STRING_SIZE + 1], hex[OID_HEX + 2];
	struct kl_error *e = NULL;
	git_oid base_commit;
	bool have_base;
	int r;

	if (tree_cache_get(rs->store, path, ret) == 0) {
		kl_debug("git: tree of %s from the cache", path);
		return 0;
	}
	have_base = base_get(rs, &base_commit, &base);
	r = gitsrc_tree_build(&src, commit, have_base ? &base_commit : NULL, base, ret, err);
	if (r < 0)
		return r;
	/* a cache that cannot be written only costs a rebuild next time */
	digest_to_string(ret, line);
	strcat(line, "\n");
	git_oid_tostr(hex, sizeof(hex), commit);
	strcat(hex, "\n");
	last = tree_cache_path(rs, "last");
	if (cache_put(path, line, &e) < 0 || cache_put(last, hex, &e) < 0)
		kl_debug("git: %s", e->msg);
	kl_error_free(e);
	return 0;
}

int
gitsrc_resolve(struct store *s, const char *spec, struct digest *ret, char *ret_commit,
               struct kl_error **err)
{
	struct resolve rs = {.store = s};
	struct digest id;
	git_oid commit;
	int r;

	r = gitsrc_spec_parse(spec, &rs.sp, err);
	if (r < 0)
		return r;
	init_libgit2();
	r = resolve_commit(&rs, &commit, err);
	if (r >= 0)
		r = tree_for_commit(&rs, &commit, &id, err);
	resolve_done(&rs);
	if (r < 0) {
		kl_error_prefix(err, "git source '%s'", spec);
		return r;
	}
	*ret = id;
	if (ret_commit)
		git_oid_tostr(ret_commit, OID_HEX + 1, &commit);
	return 0;
}

/* The "git" provider: blobs read from the store's bare repositories. A git_odb is used by
 * one thread at a time, so each repository keeps a pool of opened ones. */

struct odb_pool {
	char name[REPO_NAME_LEN + 1];
	git_odb **idle;
	size_t n_idle, cap;
};

struct provider_git {
	char *git_dir;
	pthread_mutex_t lock;
	struct odb_pool *pools; /* protected by lock */
	size_t n_pools, cap;    /* protected by lock */
};

static struct odb_pool *
pool_for(struct provider_git *g, const char *name)
{
	struct odb_pool *p;

	for (size_t i = 0; i < g->n_pools; i++)
		if (strcmp(g->pools[i].name, name) == 0)
			return &g->pools[i];
	g->pools = xgrow(g->pools, &g->cap, g->n_pools + 1, sizeof(*g->pools));
	p = &g->pools[g->n_pools++];
	*p = (struct odb_pool){0};
	memcpy(p->name, name, REPO_NAME_LEN + 1);
	return p;
}

static git_odb *
odb_take(struct provider_git *g, const char *name)
{
	git_odb *odb = NULL;
	struct odb_pool *p;

	pthread_mutex_lock(&g->lock);
	p = pool_for(g, name);
	if (p->n_idle > 0)
		odb = p->idle[--p->n_idle];
	pthread_mutex_unlock(&g->lock);
	return odb;
}

static void
odb_give(struct provider_git *g, const char *name, git_odb *odb)
{
	struct odb_pool *p;

	pthread_mutex_lock(&g->lock);
	p = pool_for(g, name);
	p->idle = xgrow(p->idle, &p->cap, p->n_idle + 1, sizeof(*p->idle));
	p->idle[p->n_idle++] = odb;
	pthread_mutex_unlock(&g->lock);
}

static bool
is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* "git:<16 or 64 hex>:<40 hex>"; the repository id is checked so it can only name a store
 * dir. ret_name gets the id as written (16 or 64 hex). */
static int
parse_locator(const struct provider_request *req, char *ret_name, git_oid *ret_oid,
              struct kl_error **err)
{
	const char *l = req->locator;
	size_t id = req->locator_len == LOCATOR_LEN ? REPO_ID_LEN : REPO_NAME_LEN;

	if (!l || (req->locator_len != LOCATOR_LEN && req->locator_len != LONG_LOCATOR_LEN) ||
	    memcmp(l, "git:", 4) != 0 || l[4 + id] != ':' || !is_lower_hex(l + 4, id) ||
	    !is_lower_hex(l + 5 + id, OID_HEX) ||
	    git_oid_fromstrn(ret_oid, l + 5 + id, OID_HEX) < 0)
		return kl_error_setf(err, EINVAL, "malformed git locator for '%s'",
		                     req->path ? req->path : "(unnamed)");
	memcpy(ret_name, l + 4, id);
	ret_name[id] = '\0';
	return 0;
}

/* The objects directory of the one repository whose name starts with id. */
static int
find_objects(const struct provider_git *g, const char *id, const struct provider_request *req,
             char **ret, struct kl_error **err)
{
	const char *shown = req->path ? req->path : "(unnamed)";
	size_t idlen = strlen(id);
	char found[REPO_NAME_LEN + 1] = "";
	struct dirent *de;
	DIR *d;

	if (idlen == REPO_NAME_LEN) {
		memcpy(found, id, REPO_NAME_LEN + 1);
	} else {
		d = opendir(g->git_dir);
		if (!d)
			return kl_error_set(err, errno, "repository of '%s' ('%s')", shown,
			                    g->git_dir);
		while ((de = readdir(d))) {
			if (strlen(de->d_name) != REPO_NAME_LEN + 4 ||
			    strcmp(de->d_name + REPO_NAME_LEN, ".git") != 0 ||
			    strncmp(de->d_name, id, idlen) != 0 ||
			    !is_lower_hex(de->d_name, REPO_NAME_LEN))
				continue;
			if (found[0]) {
				closedir(d);
				return kl_error_setf(
				    err, EIO, "repository id '%s' of '%s' is ambiguous", id, shown);
			}
			memcpy(found, de->d_name, REPO_NAME_LEN);
			found[REPO_NAME_LEN] = '\0';
		}
		closedir(d);
		if (!found[0])
			return kl_error_setf(err, ENOENT, "no repository '%s' for '%s' in '%s'", id,
			                     shown, g->git_dir);
	}
	*ret = xasprintf("%s/%s.git/objects", g->git_dir, found);
	return 0;
}

static int
write_blob(git_odb *odb, const git_oid *oid, const struct provider_request *req,
           struct store_writer *w, struct kl_error **err)
{
	const char *shown = req->path ? req->path : "(unnamed)";
	git_odb_object *obj = NULL;
	char hex[OID_HEX + 1];
	int r;

	git_oid_tostr(hex, sizeof(hex), oid);
	r = git_odb_read(&obj, odb, oid);
	if (r < 0)
		return gitsrc_error_from_git(err, r, "reading blob %s of '%s'", hex, shown);
	if (git_odb_object_type(obj) != GIT_OBJECT_BLOB)
		r = kl_error_setf(err, EIO, "object %s of '%s' is not a blob", hex, shown);
	else if (git_odb_object_size(obj) != req->size)
		r = kl_error_setf(err, EIO, "blob %s of '%s' has %zu bytes, not %llu", hex, shown,
		                  git_odb_object_size(obj), (unsigned long long)req->size);
	else
		r = store_writer_write(w, git_odb_object_data(obj), git_odb_object_size(obj), err);
	git_odb_object_free(obj);
	return r;
}

static int
provider_git_fetch(void *data, const struct provider_request *req, struct store_writer *w,
                   struct kl_error **err)
{
	struct provider_git *g = data;
	char name[REPO_NAME_LEN + 1];
	_cleanup_free_ char *objects = NULL;
	git_odb *odb;
	git_oid oid;
	int r;

	r = parse_locator(req, name, &oid, err);
	if (r < 0)
		return r;
	odb = odb_take(g, name);
	if (!odb) {
		r = find_objects(g, name, req, &objects, err);
		if (r < 0)
			return r;
		if (access(objects, F_OK) < 0)
			return kl_error_set(err, errno, "repository of '%s' ('%s')",
			                    req->path ? req->path : "(unnamed)", objects);
		r = git_odb_open(&odb, objects);
		if (r < 0)
			return gitsrc_error_from_git(err, r, "opening '%s'", objects);
	}
	r = write_blob(odb, &oid, req, w, err);
	odb_give(g, name, odb);
	return r;
}

static void
provider_git_free(void *data)
{
	struct provider_git *g = data;

	if (!g)
		return;
	for (size_t i = 0; i < g->n_pools; i++) {
		for (size_t k = 0; k < g->pools[i].n_idle; k++)
			git_odb_free(g->pools[i].idle[k]);
		free(g->pools[i].idle);
	}
	free(g->pools);
	pthread_mutex_destroy(&g->lock);
	free(g->git_dir);
	free(g);
}

static const struct provider_ops provider_git_ops = {
    .scheme = "git",
    .fetch = provider_git_fetch,
    .free = provider_git_free,
};

void
gitsrc_add_provider(struct provider_set *ps, struct store *s)
{
	struct provider_git *g = xcalloc(1, sizeof(*g));

	init_libgit2();
	g->git_dir = kl_path_join(store_root(s), "git");
	pthread_mutex_init(&g->lock, NULL);
	provider_set_add(ps, &provider_git_ops, g);
}
