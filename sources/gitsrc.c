// SPDX-License-Identifier: Apache-2.0
/* Git sources: a ref of a remote as a tree built from git tree objects, blobs read lazily.
 *
 * Layout in the store: <root>/git/<sha256 of the URL key>.git is a bare repository shared by
 * every build that names that remote, <root>/git/<same>.lock serializes fetches into it across
 * processes, and <root>/git/trees/<commit>-<key> caches the tree id built for a commit (+
 * subdir) so a commit is turned into a tree once. Refs land under refs/kiln/ in the bare repo:
 * they keep what was fetched reachable and give later fetches their "haves".
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
 * when the file is first read. Symlink targets are read at build time.
 * Every entry is owned by 0:0 and carries the commit's committer time as mtime, as `git
 * archive` does; files are 0644 or 0755, directories and submodules (gitlinks, shown as empty
 * directories) 0755.
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
#include "sources/gitsrc-spec.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/hex.h"
#include "util/io.h"
#include "util/log.h"
#include "util/path.h"
#include "util/xalloc.h"

#define REPO_NAME_LEN DIGEST_HEX_LEN
#define REPO_ID_LEN 16 /* a locator names the repository by this much of its name */
#define OID_HEX GIT_OID_HEXSZ
#define LOCATOR_LEN (4 + REPO_ID_LEN + 1 + OID_HEX)        /* git:<repo id>:<oid> */
#define LONG_LOCATOR_LEN (4 + REPO_NAME_LEN + 1 + OID_HEX) /* git:<repo>:<oid>, older trees */
#define SIZE_RECORD (GIT_OID_RAWSZ + 8)                    /* blob-size cache: oid, le64 size */
#define MAX_SIZE_CACHE (1ull << 30)
#define MAX_DEPTH 1024u
#define MAX_SYMLINK 4096u
#define TREE_CACHE_VERSION "kiln-git-tree-2"

/* Translates libgit2's last error (and its return code) into err: "what: libgit2's message". */
static int __attribute__((format(printf, 3, 4)))
error_from_git(struct kl_error **err, int gerr, const char *fmt, ...)
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
static void
tree_freep(git_tree **p)
{
	git_tree_free(*p);
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
		return error_from_git(err, r, "opening the repository '%s'", path);
	r = git_repository_odb(&rs->odb, rs->repo);
	if (r < 0)
		return error_from_git(err, r, "opening the objects of '%s'", path);
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
		return error_from_git(err, r, "'%s'", rs->fetch_url);
	r = git_remote_connect(rs->remote, GIT_DIRECTION_FETCH, &cb, NULL, NULL);
	if (r < 0)
		return error_from_git(err, r, "connecting to '%s'", rs->fetch_url);
	r = git_remote_ls(&rs->heads, &rs->n_heads, rs->remote);
	if (r < 0)
		return error_from_git(err, r, "listing the refs of '%s'", rs->fetch_url);
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
		return error_from_git(err, r, "fetching '%s' from '%s'", specs[0], rs->fetch_url);
	r = git_remote_update_tips(rs->remote, NULL, /* update_fetchhead= */ 0,
	                           GIT_REMOTE_DOWNLOAD_TAGS_NONE, NULL);
	if (r < 0)
		return error_from_git(err, r, "updating refs after fetching from '%s'",
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
		return error_from_git(err, r, "updating '%s'", name);
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
		return error_from_git(err, r, "looking up '%s'", hex);
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
		return error_from_git(err, r, "reading object %s", hex);
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

/* Blob-size cache: <root>/git/<repo>.sizes, records of SIZE_RECORD bytes sorted by blob id.
 * Read whole before a build; the sizes read from headers during the build are merged in and
 * the file replaced by rename after it. A missing, short or unsorted file is an empty cache. */

struct sizes {
	unsigned char *old; /* the file's records */
	size_t n_old;
	uint32_t *first; /* [b]: the first old record whose id starts with 16-bit b; [65536]: n */
	unsigned char *fresh; /* records read from headers during this build, unsorted */
	size_t n_fresh, cap;
};

static void
sizes_done(struct sizes *sz)
{
	free(sz->old);
	free(sz->first);
	free(sz->fresh);
}

static int
record_cmp(const void *a, const void *b)
{
	return memcmp(a, b, GIT_OID_RAWSZ);
}

static void
sizes_load(struct sizes *sz, const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size % SIZE_RECORD != 0 ||
	    (uint64_t)st.st_size > MAX_SIZE_CACHE || st.st_size == 0)
		return;
	sz->old = xmalloc((size_t)st.st_size);
	n = kl_io_read_full(fd, sz->old, (size_t)st.st_size);
	sz->n_old = n == st.st_size ? (size_t)n / SIZE_RECORD : 0;
	for (size_t i = 1; i < sz->n_old; i++)
		if (record_cmp(sz->old + (i - 1) * SIZE_RECORD, sz->old + i * SIZE_RECORD) >= 0) {
			sz->n_old = 0; /* not sorted: not ours */
			break;
		}
	if (sz->n_old == 0 || sz->n_old > UINT32_MAX)
		return;
	/* a bucket per leading 16 bits leaves a record or two to compare */
	sz->first = xmalloc((65536 + 1) * sizeof(*sz->first));
	for (size_t b = 0, i = 0; b <= 65536; b++) {
		while (i < sz->n_old &&
		       (size_t)(sz->old[i * SIZE_RECORD] << 8 | sz->old[i * SIZE_RECORD + 1]) < b)
			i++;
		sz->first[b] = (uint32_t)i;
	}
}

static bool
sizes_get(const struct sizes *sz, const git_oid *oid, size_t *ret)
{
	const unsigned char *rec = NULL;
	size_t b = (size_t)(oid->id[0] << 8 | oid->id[1]);
	uint64_t v = 0;

	if (!sz->first)
		return false;
	for (uint32_t i = sz->first[b]; i < sz->first[b + 1] && !rec; i++)
		if (memcmp(sz->old + (size_t)i * SIZE_RECORD, oid->id, GIT_OID_RAWSZ) == 0)
			rec = sz->old + (size_t)i * SIZE_RECORD;
	if (!rec)
		return false;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | rec[GIT_OID_RAWSZ + i];
	*ret = (size_t)v;
	return true;
}

static void
sizes_add(struct sizes *sz, const git_oid *oid, size_t size)
{
	unsigned char *rec;

	sz->fresh = xgrow(sz->fresh, &sz->cap, (sz->n_fresh + 1) * SIZE_RECORD, 1);
	rec = sz->fresh + sz->n_fresh++ * SIZE_RECORD;
	memcpy(rec, oid->id, GIT_OID_RAWSZ);
	for (int i = 0; i < 8; i++)
		rec[GIT_OID_RAWSZ + i] = (unsigned char)((uint64_t)size >> (8 * i));
}

/* Merges the fresh records into the file; a cache that cannot be written costs only headers. */
static void
sizes_save(struct sizes *sz, const char *path)
{
	_cleanup_free_ char *tmp = xasprintf("%s.XXXXXX", path);
	_cleanup_free_ unsigned char *out = NULL;
	_cleanup_close_ int fd = -1;
	size_t i = 0, k = 0, n = 0;

	if (sz->n_fresh == 0 || (sz->n_old + sz->n_fresh) * SIZE_RECORD > MAX_SIZE_CACHE)
		return;
	qsort(sz->fresh, sz->n_fresh, SIZE_RECORD, record_cmp);
	out = xmalloc((sz->n_old + sz->n_fresh) * SIZE_RECORD);
	while (i < sz->n_old || k < sz->n_fresh) {
		const unsigned char *a = i < sz->n_old ? sz->old + i * SIZE_RECORD : NULL;
		const unsigned char *b = k < sz->n_fresh ? sz->fresh + k * SIZE_RECORD : NULL;
		int c = !a ? 1 : !b ? -1 : record_cmp(a, b);
		const unsigned char *src = c <= 0 ? a : b;

		if (c <= 0)
			i++;
		if (c >= 0)
			k++;
		if (n > 0 && record_cmp(out + (n - 1) * SIZE_RECORD, src) == 0)
			continue; /* the same blob twice in one build */
		memcpy(out + n * SIZE_RECORD, src, SIZE_RECORD);
		n++;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return;
	if (kl_io_write_all(fd, out, n * SIZE_RECORD) < 0 || fchmod(fd, 0644) < 0 ||
	    rename(tmp, path) < 0) {
		kl_debug("git: cannot write the size cache '%s'", path);
		(void)unlink(tmp);
	}
}

/* Tree building */

struct walk {
	git_repository *repo;
	git_odb *odb;
	struct tree_builder *b;
	const char *repo_name;
	struct sizes *sizes;
	int64_t mtime;
	char *path; /* of the entry being added */
	size_t len, cap;
};

static int
add_simple(struct walk *w, enum tree_entry_type type, uint32_t mode, const char *link,
           size_t link_len, struct kl_error **err)
{
	struct tree_entry e = {
	    .path = w->path,
	    .path_len = w->len,
	    .type = type,
	    .mode = mode,
	    .mtime_sec = w->mtime,
	    .link = link,
	    .link_len = link_len,
	    .size = link_len,
	};

	return tree_builder_add(w->b, &e, NULL, 0, err);
}

static int
add_file(struct walk *w, const git_oid *oid, uint32_t mode, struct kl_error **err)
{
	char locator[LOCATOR_LEN + 1];
	git_object_t type;
	size_t size;
	int r;

	if (!sizes_get(w->sizes, oid, &size)) {
		r = git_odb_read_header(&size, &type, w->odb, oid);
		if (r < 0)
			return error_from_git(err, r, "reading the header of '%s'", w->path);
		if (type != GIT_OBJECT_BLOB)
			return kl_error_setf(err, EINVAL, "'%s' is a %s, not a blob", w->path,
			                     git_object_type2string(type));
		sizes_add(w->sizes, oid, size);
	}
	memcpy(locator, "git:", 4);
	memcpy(locator + 4, w->repo_name, REPO_ID_LEN);
	locator[4 + REPO_ID_LEN] = ':';
	git_oid_fmt(locator + 5 + REPO_ID_LEN, oid);
	struct tree_entry e = {
	    .path = w->path,
	    .path_len = w->len,
	    .type = TREE_REG,
	    .mode = mode,
	    .mtime_sec = w->mtime,
	    .size = size,
	    .locator = locator,
	    .locator_len = LOCATOR_LEN,
	};
	return tree_builder_add(w->b, &e, NULL, 0, err);
}

static int
add_symlink(struct walk *w, const git_oid *oid, struct kl_error **err)
{
	git_blob *blob = NULL;
	size_t n;
	int r;

	r = git_blob_lookup(&blob, w->repo, oid);
	if (r < 0)
		return error_from_git(err, r, "reading the target of '%s'", w->path);
	n = (size_t)git_blob_rawsize(blob);
	if (n == 0 || n > MAX_SYMLINK)
		r = kl_error_setf(err, EINVAL, "symlink '%s' has a target of %zu bytes", w->path,
		                  n);
	else
		r = add_simple(w, TREE_SYMLINK, 0777, git_blob_rawcontent(blob), n, err);
	git_blob_free(blob);
	return r;
}

static int walk_tree(struct walk *w, const git_tree *t, unsigned depth, struct kl_error **err);

static int
add_entry(struct walk *w, const git_tree_entry *te, unsigned depth, struct kl_error **err)
{
	_cleanup_(tree_freep) git_tree *sub = NULL;
	const git_oid *oid = git_tree_entry_id(te);
	git_filemode_t mode = git_tree_entry_filemode(te);
	int r;

	switch (mode) {
	case GIT_FILEMODE_TREE:
		r = add_simple(w, TREE_DIR, 0755, NULL, 0, err);
		if (r < 0)
			return r;
		r = git_tree_lookup(&sub, w->repo, oid);
		if (r < 0)
			return error_from_git(err, r, "reading the tree of '%s'", w->path);
		return walk_tree(w, sub, depth + 1, err);
	case GIT_FILEMODE_COMMIT: /* a submodule: an empty directory, as git archive has it */
		return add_simple(w, TREE_DIR, 0755, NULL, 0, err);
	case GIT_FILEMODE_BLOB: /* libgit2 reads the old 0100664 as this */
		return add_file(w, oid, 0644, err);
	case GIT_FILEMODE_BLOB_EXECUTABLE:
		return add_file(w, oid, 0755, err);
	case GIT_FILEMODE_LINK:
		return add_symlink(w, oid, err);
	default:
		return kl_error_setf(err, EINVAL, "'%s' has the unknown git mode 0%o", w->path,
		                     (unsigned)mode);
	}
}

static int
entry_name_cmp(const void *a, const void *b)
{
	return strcmp(git_tree_entry_name(*(const git_tree_entry *const *)a),
	              git_tree_entry_name(*(const git_tree_entry *const *)b));
}

/* The entries of t in the tree format's order (names bytewise) when git's differs ("a.b"
 * before the directory "a"), so the builder gets every entry in path order and skips its
 * sort; NULL when git's order is that order already. */
static const git_tree_entry **
sibling_order(const git_tree *t, size_t n)
{
	const git_tree_entry **v;
	size_t i;

	for (i = 1; i < n; i++)
		if (strcmp(git_tree_entry_name(git_tree_entry_byindex(t, i - 1)),
		           git_tree_entry_name(git_tree_entry_byindex(t, i))) > 0)
			break;
	if (i >= n)
		return NULL;
	v = xmalloc(n * sizeof(*v));
	for (i = 0; i < n; i++)
		v[i] = git_tree_entry_byindex(t, i);
	qsort(v, n, sizeof(*v), entry_name_cmp);
	return v;
}

static int
walk_tree(struct walk *w, const git_tree *t, unsigned depth, struct kl_error **err)
{
	size_t n = git_tree_entrycount(t), base = w->len;
	_cleanup_free_ const git_tree_entry **order = NULL;
	int r;

	if (depth > MAX_DEPTH)
		return kl_error_setf(err, EINVAL, "'%s' is nested more than %u directories deep",
		                     w->path, MAX_DEPTH);
	order = sibling_order(t, n);
	for (size_t i = 0; i < n; i++) {
		const git_tree_entry *te = order ? order[i] : git_tree_entry_byindex(t, i);
		const char *name = git_tree_entry_name(te);
		size_t nlen = strlen(name), want = base + (base > 0) + nlen;

		if (want > TREE_MAX_PATH)
			return kl_error_setf(err, EINVAL,
			                     "a path below '%s' is longer than %u bytes", w->path,
			                     TREE_MAX_PATH);
		if (want + 1 > w->cap)
			w->path = xgrow(w->path, &w->cap, want + 1, 1);
		if (base > 0)
			w->path[base] = '/';
		memcpy(w->path + base + (base > 0), name, nlen + 1);
		w->len = want;
		r = add_entry(w, te, depth, err);
		w->len = base;
		w->path[base] = '\0';
		if (r < 0)
			return r;
	}
	return 0;
}

/* The tree of commit (or of its subdir), written to the store. */
static int
build_tree(struct resolve *rs, const git_oid *commit_id, struct digest *ret, struct kl_error **err)
{
	_cleanup_(tree_builder_freep) struct tree_builder *b = NULL;
	_cleanup_(tree_freep) git_tree *root = NULL, *sub = NULL;
	_cleanup_(object_freep) git_object *commit = NULL;
	_cleanup_free_ char *sizes_path = xasprintf("%s/%s.sizes", rs->git_dir, rs->repo_name);
	git_tree_entry *te = NULL;
	char hex[OID_HEX + 1];
	struct sizes sz = {0};
	struct walk w = {
	    .repo = rs->repo, .odb = rs->odb, .repo_name = rs->repo_name, .sizes = &sz};
	int r;

	git_oid_tostr(hex, sizeof(hex), commit_id);
	r = git_object_lookup(&commit, rs->repo, commit_id, GIT_OBJECT_COMMIT);
	if (r == 0)
		r = git_commit_tree(&root, (git_commit *)commit);
	if (r < 0)
		return error_from_git(err, r, "reading commit %s", hex);
	w.mtime = (int64_t)git_commit_time((git_commit *)commit);
	if (rs->sp.subdir[0]) {
		r = git_tree_entry_bypath(&te, root, rs->sp.subdir);
		if (r == GIT_ENOTFOUND)
			return kl_error_setf(err, ENOENT, "no '%s' in commit %s", rs->sp.subdir,
			                     hex);
		if (r < 0)
			return error_from_git(err, r, "finding '%s' in commit %s", rs->sp.subdir,
			                      hex);
		if (git_tree_entry_type(te) != GIT_OBJECT_TREE) {
			git_tree_entry_free(te);
			return kl_error_setf(err, ENOTDIR, "'%s' is not a directory in commit %s",
			                     rs->sp.subdir, hex);
		}
		r = git_tree_lookup(&sub, rs->repo, git_tree_entry_id(te));
		git_tree_entry_free(te);
		if (r < 0)
			return error_from_git(err, r, "reading '%s' in commit %s", rs->sp.subdir,
			                      hex);
	}
	b = tree_builder_new();
	w.b = b;
	w.path = xstrdup("");
	w.cap = 1;
	sizes_load(&sz, sizes_path);
	r = add_simple(&w, TREE_DIR, 0755, NULL, 0, err);
	if (r >= 0)
		r = walk_tree(&w, sub ? sub : root, 0, err);
	free(w.path);
	if (r >= 0)
		r = tree_builder_write(b, rs->store, ret, err);
	if (r >= 0)
		sizes_save(&sz, sizes_path);
	sizes_done(&sz);
	return r;
}

/* Tree cache: <root>/git/trees/<commit>-<key> holds "sha256:<hex>\n", the tree built for that
 * commit from that repository (its locators name it) with that subdir. Written by rename only
 * once the tree is in the store, so a failed build never leaves an entry behind. */

static char *
tree_cache_path(const struct resolve *rs, const git_oid *commit)
{
	_cleanup_free_ char *in =
	    xasprintf("%s\n%s\n%s", TREE_CACHE_VERSION, rs->repo_name, rs->sp.subdir);
	char hex[OID_HEX + 1], key[DIGEST_HEX_LEN + 1];
	struct digest d;

	git_oid_tostr(hex, sizeof(hex), commit);
	digest_buffer(in, strlen(in), &d);
	digest_to_hex(&d, key);
	key[32] = '\0';
	return xasprintf("%s/trees/%s-%s", rs->git_dir, hex, key);
}

/* 0 with *ret on a hit; -ENOENT on a miss (a bad or dangling entry is a miss). */
static int
tree_cache_get(struct store *s, const char *path, struct digest *ret)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char buf[DIGEST_STRING_SIZE + 1];
	ssize_t n;

	if (fd < 0)
		return -ENOENT;
	n = kl_io_read_full(fd, buf, sizeof(buf));
	if (n != DIGEST_STRING_SIZE || buf[n - 1] != '\n')
		return -ENOENT;
	if (digest_parse(buf, (size_t)n - 1, ret, NULL) < 0 || store_has_blob(s, ret) != 1)
		return -ENOENT;
	return 0;
}

static int
tree_cache_put(const char *path, const struct digest *d, struct kl_error **err)
{
	_cleanup_free_ char *dir = xstrdup(path), *tmp = xasprintf("%s.XXXXXX", path);
	_cleanup_close_ int fd = -1;
	char line[DIGEST_STRING_SIZE + 1];
	int r;

	*strrchr(dir, '/') = '\0';
	r = kl_path_mkdir_p(dir, 0755);
	if (r < 0)
		return kl_error_set(err, -r, "creating '%s'", dir);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return kl_error_set(err, errno, "creating '%s'", tmp);
	digest_to_string(d, line);
	strcat(line, "\n");
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

static int
tree_for_commit(struct resolve *rs, const git_oid *commit, struct digest *ret,
                struct kl_error **err)
{
	_cleanup_free_ char *path = tree_cache_path(rs, commit);
	struct kl_error *e = NULL;
	int r;

	if (tree_cache_get(rs->store, path, ret) == 0) {
		kl_debug("git: tree of %s from the cache", path);
		return 0;
	}
	r = build_tree(rs, commit, ret, err);
	if (r < 0)
		return r;
	/* a cache that cannot be written only costs a rebuild next time */
	if (tree_cache_put(path, ret, &e) < 0)
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
	git_libgit2_init();
	r = resolve_commit(&rs, &commit, err);
	if (r >= 0)
		r = tree_for_commit(&rs, &commit, &id, err);
	resolve_done(&rs);
	git_libgit2_shutdown();
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
		return error_from_git(err, r, "reading blob %s of '%s'", hex, shown);
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
			return error_from_git(err, r, "opening '%s'", objects);
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
	git_libgit2_shutdown();
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

	git_libgit2_init();
	g->git_dir = kl_path_join(store_root(s), "git");
	pthread_mutex_init(&g->lock, NULL);
	provider_set_add(ps, &provider_git_ops, g);
}
