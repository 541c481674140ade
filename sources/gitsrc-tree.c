// SPDX-License-Identifier: Apache-2.0
/* The tree of a git commit from tree objects alone, in the tree format's order, straight into
 * a tree writer; with the tree of an earlier commit to copy unchanged subtrees from.
 *
 * Files get no digest, only a locator "git:<repo id>:<blob id>" and their size from the
 * object header (or the size cache below). Symlink targets are read at build time. Every entry
 * is owned by 0:0 and carries the commit's committer time as mtime, as `git archive` does;
 * files are 0644 or 0755, directories and submodules (gitlinks, shown as empty directories)
 * 0755. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/tree-writer.h"
#include "fs/tree.h"
#include "sources/gitsrc-internal.h"
#include "util/cleanup.h"
#include "util/dl-git2.h"
#include "util/error.h"
#include "util/io.h"
#include "util/log.h"
#include "util/xalloc.h"

#define SIZE_RECORD (GIT_OID_RAWSZ + 8) /* blob-size cache: oid, le64 size */
#define MAX_SIZE_CACHE (1ull << 30)
#define MAX_DEPTH 1024u
#define MAX_SYMLINK 4096u
#define DEFERRED_HEADER_READS 256u

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
	const struct gitsrc_tree_source *src;
	struct tree_writer *tw;
	struct sizes *sizes;
	const struct tree *base; /* NULL: none */
	int64_t mtime;
	char *path; /* of the entry being added */
	size_t len, cap;
	uint64_t copied; /* entries copied from the base */
	/* With a base, few headers are read: the size cache is loaded (and rewritten) only
	 * once DEFERRED_HEADER_READS have been, not for one changed file. */
	bool sizes_deferred;
	unsigned header_reads;
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

	return tree_writer_add(w->tw, &e, err);
}

static int
add_file(struct walk *w, const git_oid *oid, uint32_t mode, struct kl_error **err)
{
	char locator[GITSRC_LOCATOR_LEN + 1];
	git_object_t type;
	size_t size;
	int r;

	if (w->sizes_deferred && ++w->header_reads > DEFERRED_HEADER_READS) {
		w->sizes_deferred = false;
		sizes_load(w->sizes, w->src->sizes_path);
	}
	if (!sizes_get(w->sizes, oid, &size)) {
		r = kl_git2()->odb_read_header(&size, &type, w->src->odb, oid);
		if (r < 0)
			return gitsrc_error_from_git(err, r, "reading the header of '%s'", w->path);
		if (type != GIT_OBJECT_BLOB)
			return kl_error_setf(err, EINVAL, "'%s' is a %s, not a blob", w->path,
			                     kl_git2()->object_type2string(type));
		sizes_add(w->sizes, oid, size);
	}
	memcpy(locator, "git:", 4);
	memcpy(locator + 4, w->src->repo_name, GITSRC_REPO_ID_LEN);
	locator[4 + GITSRC_REPO_ID_LEN] = ':';
	kl_git2()->oid_fmt(locator + 5 + GITSRC_REPO_ID_LEN, oid);
	struct tree_entry e = {
	    .path = w->path,
	    .path_len = w->len,
	    .type = TREE_REG,
	    .mode = mode,
	    .mtime_sec = w->mtime,
	    .size = size,
	    .locator = locator,
	    .locator_len = GITSRC_LOCATOR_LEN,
	};
	return tree_writer_add(w->tw, &e, err);
}

static int
add_symlink(struct walk *w, const git_oid *oid, struct kl_error **err)
{
	git_blob *blob = NULL;
	size_t n;
	int r;

	r = kl_git2()->blob_lookup(&blob, w->src->repo, oid);
	if (r < 0)
		return gitsrc_error_from_git(err, r, "reading the target of '%s'", w->path);
	n = (size_t)kl_git2()->blob_rawsize(blob);
	if (n == 0 || n > MAX_SYMLINK)
		r = kl_error_setf(err, EINVAL, "symlink '%s' has a target of %zu bytes", w->path,
		                  n);
	else
		r = add_simple(w, TREE_SYMLINK, 0777, kl_git2()->blob_rawcontent(blob), n, err);
	kl_git2()->blob_free(blob);
	return r;
}

/* The base's counterpart of a walked directory: its git tree in the base commit and its
 * index in the base tree; both unset when the base has no directory there. */
struct counterpart {
	git_tree *git; /* owned */
	uint32_t idx;
};

static void
counterpart_done(struct counterpart *c)
{
	kl_git2()->tree_free(c->git);
}

/* The kiln type a git mode gives. */
static enum tree_entry_type
type_of_mode(git_filemode_t mode)
{
	switch (mode) {
	case GIT_FILEMODE_TREE:
	case GIT_FILEMODE_COMMIT:
		return TREE_DIR;
	case GIT_FILEMODE_LINK:
		return TREE_SYMLINK;
	default:
		return TREE_REG;
	}
}

/* What the base had at te's name in parent: its git entry and, when its kiln entry there is
 * of type want, that entry's index; NULL otherwise. */
static const git_tree_entry *
old_entry(const struct walk *w, const git_tree_entry *te, const struct counterpart *parent,
          enum tree_entry_type want, uint32_t *ret_idx)
{
	const char *name = kl_git2()->tree_entry_name(te);
	const git_tree_entry *old;
	struct tree_entry e;

	if (!parent->git || !(old = kl_git2()->tree_entry_byname(parent->git, name)) ||
	    tree_lookup_child(w->base, parent->idx, name, strlen(name), ret_idx) < 0)
		return NULL;
	tree_entry_at(w->base, *ret_idx, &e);
	return e.type == want ? old : NULL;
}

/* The base's entry for te at w->path when the base commit had the same object with the same
 * mode there: it and everything below it are what te would give, but for the mtime. */
static bool
base_entry(const struct walk *w, const git_tree_entry *te, const struct counterpart *parent,
           uint32_t *ret_idx)
{
	const git_tree_entry *old =
	    old_entry(w, te, parent, type_of_mode(kl_git2()->tree_entry_filemode(te)), ret_idx);

	return old && kl_git2()->tree_entry_filemode(old) == kl_git2()->tree_entry_filemode(te) &&
	       kl_git2()->oid_equal(kl_git2()->tree_entry_id(old), kl_git2()->tree_entry_id(te));
}

/* The base's counterpart of subdirectory te of parent. */
static void
sub_counterpart(const struct walk *w, const git_tree_entry *te, const struct counterpart *parent,
                struct counterpart *ret)
{
	const git_tree_entry *old = old_entry(w, te, parent, TREE_DIR, &ret->idx);

	if (!old || kl_git2()->tree_entry_filemode(old) != GIT_FILEMODE_TREE ||
	    kl_git2()->tree_lookup(&ret->git, w->src->repo, kl_git2()->tree_entry_id(old)) < 0)
		*ret = (struct counterpart){NULL, TREE_NONE};
}

static int walk_tree(struct walk *w, const git_tree *t, const struct counterpart *cp,
                     unsigned depth, struct kl_error **err);

static int
add_entry(struct walk *w, const git_tree_entry *te, const struct counterpart *cp, unsigned depth,
          struct kl_error **err)
{
	_cleanup_(gitsrc_tree_freep) git_tree *sub = NULL;
	_cleanup_(counterpart_done) struct counterpart sub_cp = {NULL, TREE_NONE};
	const git_oid *oid = kl_git2()->tree_entry_id(te);
	git_filemode_t mode = kl_git2()->tree_entry_filemode(te);
	uint32_t idx;
	int r;

	if (w->base && base_entry(w, te, cp, &idx)) {
		r = tree_writer_copy(w->tw, w->base, idx, w->mtime, 0, err);
		if (r != -ENOTSUP) {
			w->copied += tree_subtree_end(w->base, idx) - idx;
			return r;
		}
	}
	switch (mode) {
	case GIT_FILEMODE_TREE:
		r = add_simple(w, TREE_DIR, 0755, NULL, 0, err);
		if (r < 0)
			return r;
		r = kl_git2()->tree_lookup(&sub, w->src->repo, oid);
		if (r < 0)
			return gitsrc_error_from_git(err, r, "reading the tree of '%s'", w->path);
		if (w->base)
			sub_counterpart(w, te, cp, &sub_cp);
		return walk_tree(w, sub, &sub_cp, depth + 1, err);
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
	return strcmp(kl_git2()->tree_entry_name(*(const git_tree_entry *const *)a),
	              kl_git2()->tree_entry_name(*(const git_tree_entry *const *)b));
}

/* The entries of t in the tree format's order (names bytewise) when git's differs ("a.b"
 * before the directory "a"), as the writer takes them; NULL when git's order is that order
 * already. */
static const git_tree_entry **
sibling_order(const git_tree *t, size_t n)
{
	const git_tree_entry **v;
	size_t i;

	for (i = 1; i < n; i++)
		if (strcmp(kl_git2()->tree_entry_name(kl_git2()->tree_entry_byindex(t, i - 1)),
		           kl_git2()->tree_entry_name(kl_git2()->tree_entry_byindex(t, i))) > 0)
			break;
	if (i >= n)
		return NULL;
	v = xmalloc(n * sizeof(*v));
	for (i = 0; i < n; i++)
		v[i] = kl_git2()->tree_entry_byindex(t, i);
	qsort(v, n, sizeof(*v), entry_name_cmp);
	return v;
}

static int
walk_tree(struct walk *w, const git_tree *t, const struct counterpart *cp, unsigned depth,
          struct kl_error **err)
{
	size_t n = kl_git2()->tree_entrycount(t), base = w->len;
	_cleanup_free_ const git_tree_entry **order = NULL;
	int r;

	if (depth > MAX_DEPTH)
		return kl_error_setf(err, EINVAL, "'%s' is nested more than %u directories deep",
		                     w->path, MAX_DEPTH);
	order = sibling_order(t, n);
	for (size_t i = 0; i < n; i++) {
		const git_tree_entry *te = order ? order[i] : kl_git2()->tree_entry_byindex(t, i);
		const char *name = kl_git2()->tree_entry_name(te);
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
		r = add_entry(w, te, cp, depth, err);
		w->len = base;
		w->path[base] = '\0';
		if (r < 0)
			return r;
	}
	return 0;
}

/* The git tree of commit (of subdir when not ""), and the commit's time. */
static int
commit_tree(const struct gitsrc_tree_source *src, const git_oid *commit_id, git_tree **ret,
            int64_t *ret_time, struct kl_error **err)
{
	_cleanup_(gitsrc_tree_freep) git_tree *root = NULL;
	_cleanup_(gitsrc_object_freep) git_object *commit = NULL;
	git_tree_entry *te = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	int r;

	kl_git2()->oid_tostr(hex, sizeof(hex), commit_id);
	r = kl_git2()->object_lookup(&commit, src->repo, commit_id, GIT_OBJECT_COMMIT);
	if (r == 0)
		r = kl_git2()->commit_tree(&root, (git_commit *)commit);
	if (r < 0)
		return gitsrc_error_from_git(err, r, "reading commit %s", hex);
	*ret_time = (int64_t)kl_git2()->commit_time((git_commit *)commit);
	if (!src->subdir[0]) {
		*ret = root;
		root = NULL;
		return 0;
	}
	r = kl_git2()->tree_entry_bypath(&te, root, src->subdir);
	if (r == GIT_ENOTFOUND)
		return kl_error_setf(err, ENOENT, "no '%s' in commit %s", src->subdir, hex);
	if (r < 0)
		return gitsrc_error_from_git(err, r, "finding '%s' in commit %s", src->subdir, hex);
	if (kl_git2()->tree_entry_type(te) != GIT_OBJECT_TREE) {
		kl_git2()->tree_entry_free(te);
		return kl_error_setf(err, ENOTDIR, "'%s' is not a directory in commit %s",
		                     src->subdir, hex);
	}
	r = kl_git2()->tree_lookup(ret, src->repo, kl_git2()->tree_entry_id(te));
	kl_git2()->tree_entry_free(te);
	if (r < 0)
		return gitsrc_error_from_git(err, r, "reading '%s' in commit %s", src->subdir, hex);
	return 0;
}

int
gitsrc_tree_build(const struct gitsrc_tree_source *src, const git_oid *commit,
                  const git_oid *base_commit, const struct tree *base, struct digest *ret,
                  struct kl_error **err)
{
	_cleanup_(tree_writer_freep) struct tree_writer *tw = tree_writer_new();
	_cleanup_(gitsrc_tree_freep) git_tree *root = NULL;
	_cleanup_(counterpart_done) struct counterpart cp = {NULL, TREE_NONE};
	struct sizes sz = {0};
	struct walk w = {.src = src, .tw = tw, .sizes = &sz};
	int64_t base_time;
	int r;

	r = commit_tree(src, commit, &root, &w.mtime, err);
	if (r < 0)
		return r;
	if (base && base_commit) {
		struct kl_error *e = NULL;

		if (commit_tree(src, base_commit, &cp.git, &base_time, &e) == 0) {
			w.base = base;
			w.sizes_deferred = true;
			cp.idx = 0;
		} else {
			kl_debug("git: not building from the previous tree: %s", e->msg);
			kl_error_free(e);
		}
	}
	w.path = xstrdup("");
	w.cap = 1;
	if (!w.sizes_deferred)
		sizes_load(&sz, src->sizes_path);
	r = add_simple(&w, TREE_DIR, 0755, NULL, 0, err);
	if (r >= 0)
		r = walk_tree(&w, root, &cp, 0, err);
	free(w.path);
	if (r >= 0)
		r = tree_writer_write(tw, src->store, ret, err);
	if (r >= 0 && !w.sizes_deferred)
		sizes_save(&sz, src->sizes_path);
	sizes_done(&sz);
	if (r >= 0 && w.base)
		kl_debug("git: %" PRIu64 " of the tree's entries copied from the previous tree",
		         w.copied);
	return r;
}
