// SPDX-License-Identifier: Apache-2.0
/* Git sources: a ref of a remote resolved to a commit (fetched when needed) and turned into a
 * tree built from git tree objects, blobs read lazily.
 *
 * Layout in the store: <root>/git/<sha256 of the URL key>.git is a bare repository shared by
 * every build that names that remote, <root>/git/<same>.lock serializes fetches into it across
 * processes, and <root>/git/trees/ caches the tree built for a commit (+ subdir) so a commit is
 * turned into a tree once, and the commit built last, whose tree the next build copies unchanged
 * subtrees from (gitsrc-cache.c). Refs land under refs/kiln/ in the bare repo: they keep what was
 * fetched reachable and give later fetches their "haves".
 *
 * A ref is resolved against the remote every time (branches move), with one exception: a full
 * commit id whose commit is already in the bare repository is used without any network. Only
 * the requested ref is fetched (a "+src:refs/kiln/…" refspec); a short commit id makes us
 * fetch every branch and tag and look the prefix up; a full commit id that no ref advertises is
 * fetched with the branches and tags, then by id (servers that allow it).
 *
 * Files get no digest, only a locator "git:<repo id>:<blob id>" (repo id: the first 16 hex
 * of the bare repository's 64-hex name, which keeps the tree blob small) and their size from the
 * object header. Sizes are cached per repository in <root>/git/<same>.sizes (sorted records of a
 * raw blob id and a little-endian 64-bit size), so a blob's header is read once ever, not once
 * per commit. The "git" provider (gitsrc-provider.c) reads the blob from the object database
 * when the file is first read. gitsrc-tree.c has the rest of the tree's rules; with
 * keep_git_dir, gitsrc-gitdir.c adds a working .git over that tree.
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
#include <fcntl.h>
#include <git2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/store.h"
#include "fs/tree.h"
#include "sources/gitsrc-internal.h"
#include "sources/gitsrc-spec.h"
#include "util/cleanup.h"
#include "util/dl-git2.h"
#include "util/error.h"
#include "util/log.h"
#include "util/path.h"
#include "util/xalloc.h"

#define REPO_NAME_LEN GITSRC_REPO_NAME_LEN
#define OID_HEX GIT_OID_HEXSZ

static void
init_once(void)
{
	kl_git2()->libgit2_init();
}

/* libgit2 is loaded (util/dl-git2.h) and set up once per process and kept: its setup reads the
 * whole CA bundle (~5 ms), and a mount resolves, then forks the server, which reads blobs. */
int
gitsrc_init_libgit2(struct kl_error **err)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	int r;

	r = kl_git2_load(err);
	if (r < 0)
		return r;
	pthread_once(&once, init_once);
	return 0;
}

int
gitsrc_error_from_git(struct kl_error **err, int gerr, const char *fmt, ...)
{
	const git_error *ge = kl_git2()->error_last();
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
	const struct gitsrc_options *opts; /* may be NULL */
	int attempts;                      /* ssh-agent offers made */
	uint64_t received;                 /* bytes of the fetch under way */
	/* The remote ref spec's ref named, and the object it points at (an annotated tag's own),
	 * when it named one (not a commit id): what a kept .git shows under refs/. */
	char *ref_name;
	git_oid ref_oid;
};

static void
resolve_done(struct resolve *rs)
{
	if (rs->remote) {
		(void)kl_git2()->remote_disconnect(rs->remote);
		kl_git2()->remote_free(rs->remote);
	}
	kl_git2()->odb_free(rs->odb);
	kl_git2()->repository_free(rs->repo);
	gitsrc_spec_done(&rs->sp);
	free(rs->ref_name);
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
	r = kl_git2()->repository_open_bare(&rs->repo, path);
	if (r == GIT_ENOTFOUND)
		r = kl_git2()->repository_init(&rs->repo, path, /* is_bare= */ 1);
	if (r < 0)
		return gitsrc_error_from_git(err, r, "opening the repository '%s'", path);
	r = kl_git2()->repository_odb(&rs->odb, rs->repo);
	if (r < 0)
		return gitsrc_error_from_git(err, r, "opening the objects of '%s'", path);
	*ret_lock = TAKE_FD(fd);
	return 0;
}

static int
credentials_cb(git_credential **out, const char *url, const char *user, unsigned int allowed,
               void *payload)
{
	struct resolve *rs = payload;

	(void)url;
	/* ssh-agent once; anything else has no credentials to offer */
	if (!(allowed & GIT_CREDENTIAL_SSH_KEY) || rs->attempts++ > 0)
		return GIT_PASSTHROUGH;
	return kl_git2()->credential_ssh_key_from_agent(out, user ? user : "git");
}

static int
connect_remote(struct resolve *rs, struct kl_error **err)
{
	git_remote_callbacks cb = GIT_REMOTE_CALLBACKS_INIT;
	git_remote_create_options opts;
	int r;

	if (rs->remote)
		return 0;
	cb.credentials = credentials_cb;
	cb.payload = rs;
	kl_git2()->remote_create_options_init(&opts, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	opts.repository = rs->repo;
	/* anonymous; url.*.insteadOf is not applied: its lookup leaks in libgit2 1.5, and a
	 * build should not depend on the user's git config anyway */
	opts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	r = kl_git2()->remote_create_with_opts(&rs->remote, rs->fetch_url, &opts);
	if (r < 0)
		return gitsrc_error_from_git(err, r, "'%s'", rs->fetch_url);
	r = kl_git2()->remote_connect(rs->remote, GIT_DIRECTION_FETCH, &cb, NULL, NULL);
	if (r < 0)
		return gitsrc_error_from_git(err, r, "connecting to '%s'", rs->fetch_url);
	r = kl_git2()->remote_ls(&rs->heads, &rs->n_heads, rs->remote);
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

		if (kl_git2()->oid_equal(&rs->heads[i]->oid, commit)) {
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

static int
transfer_progress_cb(const git_indexer_progress *stats, void *payload)
{
	struct resolve *rs = payload;

	rs->received = stats->received_bytes;
	rs->opts->progress(rs->opts->progress_userdata, rs->fetch_url, rs->received, 0);
	return 0;
}

static void
fetch_options_init(git_fetch_options *opts, struct resolve *rs)
{
	kl_git2()->fetch_options_init(opts, GIT_FETCH_OPTIONS_VERSION);
	opts->callbacks.credentials = credentials_cb;
	opts->callbacks.payload = rs;
	if (rs->opts && rs->opts->progress)
		opts->callbacks.transfer_progress = transfer_progress_cb;
	opts->download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	opts->update_fetchhead = 0;
	opts->prune = GIT_FETCH_NO_PRUNE;
}

/* Downloads with the given refspecs over the open connection and updates refs/kiln/. */
static int
download(struct resolve *rs, char **specs, size_t n, struct kl_error **err)
{
	git_strarray arr = {.strings = specs, .count = n};
	git_fetch_options opts;
	int r;

	kl_debug("git: fetching %s from '%s'", specs[0], rs->fetch_url);
	fetch_options_init(&opts, rs);
	rs->received = 0;
	r = kl_git2()->remote_download(rs->remote, &arr, &opts);
	if (r < 0)
		return gitsrc_error_from_git(err, r, "fetching '%s' from '%s'", specs[0],
		                             rs->fetch_url);
	if (rs->opts && rs->opts->progress) /* the end: what came is the total */
		rs->opts->progress(rs->opts->progress_userdata, rs->fetch_url, rs->received,
		                   rs->received);
	r = kl_git2()->remote_update_tips(rs->remote, NULL, /* update_fetchhead= */ 0,
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

	if (kl_git2()->reference_name_to_id(&cur, rs->repo, name) == 0 &&
	    kl_git2()->oid_equal(&cur, oid))
		return 0;
	r = kl_git2()->reference_create(&ref, rs->repo, name, oid, /* force= */ 1, "kiln: fetch");
	kl_git2()->reference_free(ref);
	if (r < 0)
		return gitsrc_error_from_git(err, r, "updating '%s'", name);
	return 0;
}

/* Makes the object an advertised ref points at present, fetching that ref alone if needed. */
static int
fetch_head(struct resolve *rs, const git_remote_head *h, struct kl_error **err)
{
	_cleanup_free_ char *dst = kiln_ref_for(h->name);
	_cleanup_free_ char *spec = NULL;
	char *specs[1];

	if (kl_git2()->odb_exists(rs->odb, &h->oid))
		return set_ref(rs, dst, &h->oid, err);
	spec = xasprintf("+%s:%s", h->name, dst);
	specs[0] = spec;
	return download(rs, specs, 1, err);
}

static int
fetch_branches_and_tags(struct resolve *rs, struct kl_error **err)
{
	char heads[] = "+refs/heads/*:refs/kiln/heads/*", tags[] = "+refs/tags/*:refs/kiln/tags/*";
	char *specs[] = {heads, tags};

	return download(rs, specs, 2, err);
}

/* By id, for servers that allow unadvertised wants; a refusal is "not found". */
static bool
fetch_by_id(struct resolve *rs, const char *hex)
{
	_cleanup_free_ char *spec = xasprintf("+%s:refs/kiln/commits/%s", hex, hex);
	struct kl_error *e = NULL;
	char *specs[] = {spec};
	int r;

	r = download(rs, specs, 1, &e);
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
	_cleanup_(gitsrc_object_freep) git_object *obj = NULL;
	size_t n = strlen(hex);
	git_oid prefix;
	int r;

	if (kl_git2()->oid_fromstrn(&prefix, hex, n) < 0)
		return -ENOENT;
	r = kl_git2()->object_lookup_prefix(&obj, rs->repo, &prefix, n, GIT_OBJECT_ANY);
	if (r == GIT_ENOTFOUND)
		return -ENOENT;
	if (r == GIT_EAMBIGUOUS)
		return kl_error_setf(err, EINVAL, "commit id '%s' is ambiguous", hex);
	if (r < 0)
		return gitsrc_error_from_git(err, r, "looking up '%s'", hex);
	*ret = *kl_git2()->object_id(obj);
	return 0;
}

/* Keeps the ref h, which spec's ref named, for a kept .git: the branch HEAD points at for
 * HEAD (when the remote says), as BuildKit checks out the default branch by name. */
static void
note_ref(struct resolve *rs, const git_remote_head *h)
{
	const char *name = h->name;

	if (strcmp(name, "HEAD") == 0)
		name = h->symref_target;
	if (!name || strncmp(name, "refs/", 5) != 0 || !kl_git2()->reference_is_valid_name(name))
		return;
	rs->ref_name = xstrdup(name);
	rs->ref_oid = h->oid;
}

/* Finds the object spec's ref names on the remote and makes it present; ret gets its id. */
static int
resolve_remote(struct resolve *rs, git_oid *ret, struct kl_error **err)
{
	const char *ref = rs->sp.ref_kind == GITSRC_REF_HEAD ? "HEAD" : rs->sp.ref;
	const git_remote_head *h;
	git_oid want;
	int r;

	r = connect_remote(rs, err);
	if (r < 0)
		return r;
	if (rs->sp.ref_kind == GITSRC_REF_COMMIT) {
		if (kl_git2()->oid_fromstr(&want, ref) < 0)
			return not_found(rs, err);
		h = find_head_for(rs, &want);
	} else {
		h = find_named(rs, ref);
	}
	if (h) {
		r = fetch_head(rs, h, err);
		if (r < 0)
			return r;
		*ret = rs->sp.ref_kind == GITSRC_REF_COMMIT ? want : h->oid;
		if (rs->sp.ref_kind != GITSRC_REF_COMMIT)
			note_ref(rs, h);
		return 0;
	}
	switch (rs->sp.ref_kind) {
	case GITSRC_REF_SHORT:
		r = fetch_branches_and_tags(rs, err);
		if (r < 0)
			return r;
		r = lookup_prefix(rs, ref, ret, err);
		return r == -ENOENT ? not_found(rs, err) : r;
	case GITSRC_REF_COMMIT:
		r = fetch_branches_and_tags(rs, err);
		if (r < 0)
			return r;
		if (!kl_git2()->odb_exists(rs->odb, &want) && !fetch_by_id(rs, ref))
			return not_found(rs, err);
		if (!kl_git2()->odb_exists(rs->odb, &want))
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
	_cleanup_(gitsrc_object_freep) git_object *obj = NULL, *commit = NULL;
	char hex[OID_HEX + 1];
	int r;

	kl_git2()->oid_tostr(hex, sizeof(hex), oid);
	r = kl_git2()->object_lookup(&obj, rs->repo, oid, GIT_OBJECT_ANY);
	if (r < 0)
		return gitsrc_error_from_git(err, r, "reading object %s", hex);
	r = kl_git2()->object_peel(&commit, obj, GIT_OBJECT_COMMIT);
	if (r < 0)
		return kl_error_setf(err, EINVAL, "ref '%s' names a %s (%s), not a commit",
		                     rs->sp.ref_kind == GITSRC_REF_HEAD ? "HEAD" : rs->sp.ref,
		                     kl_git2()->object_type2string(kl_git2()->object_type(obj)),
		                     hex);
	*ret = *kl_git2()->object_id(commit);
	return 0;
}

/* A full commit id already present needs no network at all. */
static bool
commit_present(struct resolve *rs, git_oid *ret)
{
	git_oid oid;

	if (rs->sp.ref_kind != GITSRC_REF_COMMIT || kl_git2()->oid_fromstr(&oid, rs->sp.ref) < 0)
		return false;
	_cleanup_(gitsrc_object_freep) git_object *obj = NULL;
	if (kl_git2()->object_lookup(&obj, rs->repo, &oid, GIT_OBJECT_COMMIT) < 0)
		return false;
	*ret = oid;
	return true;
}

static int
resolve_commit(struct resolve *rs, git_oid *ret, struct kl_error **err)
{
	_cleanup_close_ int lock = -1;
	git_oid oid;
	int r;

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
	r = resolve_remote(rs, &oid, err);
	if (r < 0)
		return r;
	return peel_commit(rs, &oid, ret, err);
}

/* The tree of commit: from the tree cache, else built (from the tree built last as its base)
 * and recorded. */
static int
tree_for_commit(struct resolve *rs, const git_oid *commit, struct digest *ret,
                struct kl_error **err)
{
	_cleanup_free_ char *sizes = xasprintf("%s/%s.sizes", rs->git_dir, rs->repo_name);
	_cleanup_(tree_unrefp) struct tree *base = NULL;
	const struct gitsrc_tree_source src = {
	    .store = rs->store,
	    .repo = rs->repo,
	    .odb = rs->odb,
	    .repo_name = rs->repo_name,
	    .sizes_path = sizes,
	    .subdir = rs->sp.subdir,
	};
	struct gitsrc_cache cache;
	struct kl_error *e = NULL;
	char hex[OID_HEX + 1];
	git_oid base_commit;
	bool have_base;
	int r;

	gitsrc_cache_init(&cache, rs->store, rs->git_dir, rs->repo_name, rs->sp.subdir,
	                  /* variant= */ "");
	if (gitsrc_cache_get(&cache, commit, ret) == 0) {
		kl_git2()->oid_tostr(hex, sizeof(hex), commit);
		kl_debug("git: tree of %s from the cache", hex);
		gitsrc_cache_done(&cache);
		return 0;
	}
	have_base = gitsrc_cache_get_base(&cache, &base_commit, &base);
	r = gitsrc_tree_build(&src, commit, have_base ? &base_commit : NULL, base, ret, err);
	/* a cache that cannot be written only costs a rebuild next time */
	if (r >= 0 && gitsrc_cache_put(&cache, commit, ret, &e) < 0)
		kl_debug("git: %s", e->msg);
	kl_error_free(e);
	gitsrc_cache_done(&cache);
	return r < 0 ? r : 0;
}

/* The tree of commit with a .git (gitsrc-gitdir.c) over its plain tree: from the tree cache
 * under a key that names the ref and origin's url too, else built and recorded. */
static int
kept_tree_for_commit(struct resolve *rs, const git_oid *commit, const struct digest *plain,
                     struct digest *ret, struct kl_error **err)
{
	_cleanup_free_ char *origin = gitsrc_gitdir_origin_url(
	    rs->sp.url_kind == GITSRC_URL_LOCAL || rs->sp.url_kind == GITSRC_URL_FILE
	        ? rs->fetch_url
	        : rs->sp.url);
	_cleanup_free_ char *variant =
	    xasprintf(".git\n%s\n%s", rs->ref_name ? rs->ref_name : "", origin);
	const struct gitsrc_tree_source src = {
	    .store = rs->store, .repo = rs->repo, .odb = rs->odb, .repo_name = rs->repo_name};
	const struct gitsrc_gitdir g = {
	    .src = &src,
	    .commit = commit,
	    .ref_name = rs->ref_name,
	    .ref_oid = rs->ref_name ? &rs->ref_oid : NULL,
	    .origin_url = origin,
	    .tmp_dir = rs->git_dir,
	};
	struct gitsrc_cache cache;
	struct kl_error *e = NULL;
	int r;

	gitsrc_cache_init(&cache, rs->store, rs->git_dir, rs->repo_name, "", variant);
	if (gitsrc_cache_get(&cache, commit, ret) == 0) {
		gitsrc_cache_done(&cache);
		return 0;
	}
	r = gitsrc_gitdir_build(&g, plain, ret, err);
	if (r >= 0 && gitsrc_cache_put(&cache, commit, ret, &e) < 0)
		kl_debug("git: %s", e->msg);
	kl_error_free(e);
	gitsrc_cache_done(&cache);
	return r < 0 ? r : 0;
}

int
gitsrc_resolve(struct store *s, const char *spec, const struct gitsrc_options *opts,
               struct digest *ret, char *ret_commit, struct kl_error **err)
{
	struct resolve rs = {.store = s, .opts = opts};
	struct digest id;
	git_oid commit;
	int r;

	r = gitsrc_spec_parse(spec, &rs.sp, err);
	if (r < 0)
		return r;
	r = gitsrc_init_libgit2(err);
	if (r >= 0)
		r = resolve_commit(&rs, &commit, err);
	if (r >= 0)
		r = tree_for_commit(&rs, &commit, &id, err);
	/* as BuildKit: a subdir's tree has no .git */
	if (r >= 0 && opts && opts->keep_git_dir && !rs.sp.subdir[0])
		r = kept_tree_for_commit(&rs, &commit, &id, &id, err);
	resolve_done(&rs);
	if (r < 0) {
		kl_error_prefix(err, "git source '%s'", spec);
		return r;
	}
	*ret = id;
	if (ret_commit)
		kl_git2()->oid_tostr(ret_commit, OID_HEX + 1, &commit);
	return 0;
}
