// SPDX-License-Identifier: Apache-2.0
/* Loading, validating and reading serialized trees (the format is in fs/tree-internal.h). */
#include "fs/tree.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "fs/store.h"
#include "fs/tree-internal.h"
#include "util/error.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Byte order of paths: '/' first, then every other byte as unsigned (NUL never occurs). */
static inline unsigned
path_byte(char c)
{
	return c == '/' ? 0u : (unsigned)(unsigned char)c;
}

int
tree_path_compare(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	size_t i = 0;

	/* Shared prefixes are long ("usr/share/doc/…"): skip them a word at a time. */
	while (i + 8 <= n) {
		uint64_t x, y;
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			break;
		i += 8;
	}
	while (i < n && a[i] == b[i])
		i++;
	if (i == n)
		return alen < blen ? -1 : alen > blen;
	return (int)path_byte(a[i]) - (int)path_byte(b[i]);
}

/* Reading records. */

static inline uint32_t
rec_u32(const struct tree *t, uint32_t idx, size_t field)
{
	return tree_le32(tree_rec(t, idx) + field);
}

static inline uint16_t
rec_u16(const struct tree *t, uint32_t idx, size_t field)
{
	return tree_le16(tree_rec(t, idx) + field);
}

static inline enum tree_entry_type
rec_type(const struct tree *t, uint32_t idx)
{
	return (enum tree_entry_type)tree_rec(t, idx)[TREE_R_TYPE];
}

static inline const char *
rec_path(const struct tree *t, uint32_t idx, size_t *ret_len)
{
	return tree_path_at(t, idx, ret_len);
}

/* Validation. Every check runs before the field it guards is used, so a hostile blob can only
 * ever produce -EBADMSG. */

#define BAD(err, ...) kl_error_setf(err, EBADMSG, "malformed tree: " __VA_ARGS__)

/* Checks that a string of len bytes starts at *off, lies inside the table, has no NUL inside
 * (unless binary) and is NUL-terminated; advances *off past the NUL. */
static int
check_string(const struct tree *t, uint32_t idx, const char *what, uint64_t *off, uint64_t len,
             bool binary, struct kl_error **err)
{
	const char *s = t->strings + *off;

	if (*off + len >= t->strings_len)
		return BAD(err, "entry %u: %s runs past the string table", idx, what);
	if (s[len] != '\0')
		return BAD(err, "entry %u: %s is not NUL-terminated", idx, what);
	if (!binary && memchr(s, '\0', len))
		return BAD(err, "entry %u: %s holds a NUL byte", idx, what);
	*off += len + 1;
	return 0;
}

static int
check_fields(const struct tree *t, uint32_t i, struct kl_error **err)
{
	const uint8_t *r = tree_rec(t, i);
	enum tree_entry_type type = (enum tree_entry_type)r[TREE_R_TYPE];
	uint32_t flags = r[TREE_R_FLAGS];
	bool is_link = type == TREE_SYMLINK || type == TREE_HARDLINK;
	static const uint8_t zero[DIGEST_SIZE];

	if (type >= _TREE_TYPE_MAX)
		return BAD(err, "entry %u: unknown type %u", i, (unsigned)type);
	if (flags & ~TREE_KNOWN_FLAGS)
		return BAD(err, "entry %u: unknown flags 0x%x", i, flags);
	if ((flags & TREE_ENTRY_OPAQUE) && type != TREE_DIR)
		return BAD(err, "entry %u: opaque flag on a non-directory", i);
	if ((flags & TREE_ENTRY_IMPLICIT) && type != TREE_DIR)
		return BAD(err, "entry %u: implicit flag on a non-directory", i);
	if ((flags & TREE_ENTRY_HAS_DIGEST) && type != TREE_REG)
		return BAD(err, "entry %u: digest on a non-regular file", i);
	if (!(flags & TREE_ENTRY_HAS_DIGEST) && memcmp(r + TREE_R_DIGEST, zero, DIGEST_SIZE))
		return BAD(err, "entry %u: digest bytes without the digest flag", i);
	if (tree_le16(r + TREE_R_MODE) > TREE_MODE_MASK)
		return BAD(err, "entry %u: mode bits outside 07777", i);
	if (tree_le32(r + TREE_R_MTIME_NSEC) >= 1000000000u)
		return BAD(err, "entry %u: mtime nanoseconds out of range", i);
	if (tree_le16(r + TREE_R_RESERVED))
		return BAD(err, "entry %u: reserved field is not zero", i);
	if (is_link != (tree_le16(r + TREE_R_LINK_LEN) > 0))
		return BAD(err, "entry %u: link %s", i, is_link ? "missing" : "on a non-link");
	if (tree_le16(r + TREE_R_LOCATOR_LEN) && type != TREE_REG)
		return BAD(err, "entry %u: locator on a non-regular file", i);
	if (type != TREE_HARDLINK && tree_le32(r + TREE_R_LINK_TARGET) != i)
		return BAD(err, "entry %u: link target set on a non-hardlink", i);
	return 0;
}

static int
check_xattrs(const struct tree *t, uint32_t i, uint64_t *soff, uint32_t *xoff,
             struct kl_error **err)
{
	uint32_t first = rec_u32(t, i, TREE_R_XATTR_FIRST);
	uint32_t n = rec_u16(t, i, TREE_R_N_XATTRS);
	const char *prev = NULL;
	size_t prev_len = 0;
	int r;

	if (first != *xoff || (uint64_t)first + n > t->n_xattrs)
		return BAD(err, "entry %u: xattr records out of place", i);
	for (uint32_t k = first; k < first + n; k++) {
		const uint8_t *x = t->xattrs + (size_t)k * TREE_XATTR_REC_SIZE;
		uint32_t name_len = tree_le16(x + TREE_X_NAME_LEN);
		uint32_t value_len = tree_le32(x + TREE_X_VALUE_LEN);
		const char *name = t->strings + *soff;
		int c;

		if (tree_le32(x + TREE_X_NAME_OFF) != *soff || tree_le16(x + TREE_X_RESERVED))
			return BAD(err, "entry %u: xattr %u out of place", i, k - first);
		if (name_len == 0 || name_len > TREE_MAX_XATTR_NAME)
			return BAD(err, "entry %u: xattr %u name length %u", i, k - first,
			           name_len);
		r = check_string(t, i, "xattr name", soff, name_len, false, err);
		if (r < 0)
			return r;
		if (tree_le32(x + TREE_X_VALUE_OFF) != *soff || value_len > TREE_MAX_XATTR_VALUE)
			return BAD(err, "entry %u: xattr %u value out of place", i, k - first);
		r = check_string(t, i, "xattr value", soff, value_len, true, err);
		if (r < 0)
			return r;
		c = prev ? memcmp(prev, name, prev_len < name_len ? prev_len : name_len) : -1;
		if (c > 0 || (c == 0 && prev_len >= name_len))
			return BAD(err, "entry %u: xattrs not sorted by name", i);
		prev = name;
		prev_len = name_len;
	}
	*xoff = first + n;
	return 0;
}

static int
check_strings(const struct tree *t, uint32_t i, uint64_t *soff, uint32_t *xoff,
              struct kl_error **err)
{
	int r;

	if (rec_u32(t, i, TREE_R_STR_OFF) != *soff)
		return BAD(err, "entry %u: strings out of place", i);
	/* The path is its parent's plus a name check_structure() scans: no NUL scan here. */
	r = check_string(t, i, "path", soff, rec_u16(t, i, TREE_R_PATH_LEN), true, err);
	if (r < 0)
		return r;
	/* An absent link or locator has no string at all, not even its NUL. */
	if (rec_u16(t, i, TREE_R_LINK_LEN)) {
		r = check_string(t, i, "link", soff, rec_u16(t, i, TREE_R_LINK_LEN), false, err);
		if (r < 0)
			return r;
	}
	if (rec_u16(t, i, TREE_R_LOCATOR_LEN)) {
		r = check_string(t, i, "locator", soff, rec_u16(t, i, TREE_R_LOCATOR_LEN), false,
		                 err);
		if (r < 0)
			return r;
	}
	return check_xattrs(t, i, soff, xoff, err);
}

static int
check_root(const struct tree *t, struct kl_error **err)
{
	if (rec_type(t, 0) != TREE_DIR || rec_u16(t, 0, TREE_R_PATH_LEN) != 0)
		return BAD(err, "entry 0 is not the root directory");
	if (rec_u32(t, 0, TREE_R_PARENT) != TREE_NONE || rec_u16(t, 0, TREE_R_NAME_LEN) != 0 ||
	    rec_u32(t, 0, TREE_R_SUBTREE_END) != t->n)
		return BAD(err, "entry 0: bad root links");
	return 0;
}

static int
compare_names(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	return c ? c : (alen > blen) - (alen < blen);
}

static bool
name_is_clean(const char *name, size_t len)
{
	for (size_t k = 0; k < len; k++)
		if (name[k] == '/' || name[k] == '\0')
			return false;
	return !(len == 1 && name[0] == '.') && !(len == 2 && name[0] == '.' && name[1] == '.');
}

/* Checks entry i > 0 against its parent, which must be the innermost directory still open
 * (*cur), and keeps *cur up to date. The path must be the parent's plus one clean name, and
 * the name must sort after the previous sibling's: in a preorder that is exactly the strict
 * path order, so every index (parent, subtree end, hence children and siblings) is proven to
 * describe the paths. */
static int
check_structure(const struct tree *t, uint32_t i, uint32_t *cur, struct kl_error **err)
{
	size_t len, plen, slen, name_off, name_len;
	const char *path = rec_path(t, i, &len);
	const char *ppath, *name, *sname;
	uint32_t end = rec_u32(t, i, TREE_R_SUBTREE_END);
	uint32_t sibling = i - 1; /* i's previous sibling, or its parent when i comes first */

	while (*cur != TREE_ROOT && rec_u32(t, *cur, TREE_R_SUBTREE_END) == i) {
		sibling = *cur;
		*cur = rec_u32(t, *cur, TREE_R_PARENT);
	}
	if (rec_u32(t, i, TREE_R_PARENT) != *cur)
		return BAD(err, "entry %u: parent index is not %u", i, *cur);
	ppath = rec_path(t, *cur, &plen);
	name_off = *cur == TREE_ROOT ? 0 : plen + 1;
	if (len <= name_off || memcmp(path, ppath, plen) || (plen && path[plen] != '/'))
		return BAD(err, "entry %u: path is not inside its parent's", i);
	name = path + name_off;
	name_len = len - name_off;
	if (name_len > TREE_MAX_NAME || rec_u16(t, i, TREE_R_NAME_LEN) != name_len)
		return BAD(err, "entry %u: bad name length", i);
	if (!name_is_clean(name, name_len))
		return BAD(err, "entry %u: bad name", i);
	if (sibling != *cur) {
		sname = rec_path(t, sibling, &slen);
		sname += slen - rec_u16(t, sibling, TREE_R_NAME_LEN);
		if (compare_names(sname, rec_u16(t, sibling, TREE_R_NAME_LEN), name, name_len) >= 0)
			return BAD(err, "entry %u: not sorted after entry %u", i, sibling);
	}
	if (rec_type(t, i) != TREE_DIR) {
		if (end != i + 1)
			return BAD(err, "entry %u: subtree end %u of a non-directory", i, end);
		return 0;
	}
	if (end <= i || end > rec_u32(t, *cur, TREE_R_SUBTREE_END))
		return BAD(err, "entry %u: subtree end %u outside its parent's", i, end);
	*cur = i;
	return 0;
}

/* Hardlink targets may come later in the order, so hardlinks (listed during the main pass, so
 * the records need not be scanned again) are checked once all entries are; nlink counts are
 * finished here too. */
static int
check_hardlinks(struct tree *t, const uint32_t *links, size_t n, struct kl_error **err)
{
	for (size_t k = 0; k < n; k++) {
		uint32_t i = links[k], target = rec_u32(t, i, TREE_R_LINK_TARGET);
		size_t tlen, llen = rec_u16(t, i, TREE_R_LINK_LEN);
		const char *tpath, *link;

		if (target >= t->n || rec_type(t, target) != TREE_REG)
			return BAD(err, "entry %u: hardlink target %u is not a regular file", i,
			           target);
		tpath = rec_path(t, target, &tlen);
		link =
		    t->strings + rec_u32(t, i, TREE_R_STR_OFF) + rec_u16(t, i, TREE_R_PATH_LEN) + 1;
		if (tlen != llen || memcmp(tpath, link, llen))
			return BAD(err, "entry %u: hardlink path differs from its target's", i);
		t->nlink[target]++;
	}
	for (size_t k = 0; k < n; k++)
		t->nlink[links[k]] = t->nlink[rec_u32(t, links[k], TREE_R_LINK_TARGET)];
	return 0;
}

static int
check_entries(struct tree *t, struct kl_error **err)
{
	_cleanup_free_ uint32_t *links = NULL;
	size_t n_links = 0, links_cap = 0;
	uint64_t soff = 0;
	uint32_t xoff = 0, cur = TREE_ROOT;
	int r;

	for (uint32_t i = 0; i < t->n; i++) {
		enum tree_entry_type type = rec_type(t, i);

		r = check_fields(t, i, err);
		if (r >= 0)
			r = check_strings(t, i, &soff, &xoff, err);
		if (r >= 0)
			r = i == 0 ? check_root(t, err) : check_structure(t, i, &cur, err);
		if (r < 0)
			return r;
		t->nlink[i] += type == TREE_DIR ? 2 : 1;
		if (type == TREE_DIR && i > 0)
			t->nlink[rec_u32(t, i, TREE_R_PARENT)]++;
		if (type == TREE_HARDLINK) {
			links = xgrow(links, &links_cap, n_links + 1, sizeof(*links));
			links[n_links++] = i;
		}
	}
	if (soff != t->strings_len || xoff != t->n_xattrs)
		return BAD(err, "string table or xattrs hold unused bytes");
	/* Every directory still open must end where the tree does. */
	for (; cur != TREE_ROOT; cur = rec_u32(t, cur, TREE_R_PARENT))
		if (rec_u32(t, cur, TREE_R_SUBTREE_END) != t->n)
			return BAD(err, "entry %u: subtree end past the last entry", cur);
	return check_hardlinks(t, links, n_links, err);
}

static int
parse_header(struct tree *t, struct kl_error **err)
{
	const uint8_t *h = t->buf;
	uint64_t want;

	if (t->len < TREE_HEADER_SIZE)
		return BAD(err, "%zu bytes is shorter than the header", t->len);
	if (memcmp(h + TREE_H_MAGIC, TREE_MAGIC, 8))
		return BAD(err, "bad magic");
	if (tree_le32(h + TREE_H_VERSION) != TREE_FORMAT_VERSION)
		return BAD(err, "unsupported version %u", tree_le32(h + TREE_H_VERSION));
	if (tree_le32(h + TREE_H_RESERVED0) || tree_le32(h + TREE_H_RESERVED1))
		return BAD(err, "reserved header fields are not zero");
	t->n = tree_le32(h + TREE_H_N_ENTRIES);
	t->n_xattrs = tree_le32(h + TREE_H_N_XATTRS);
	t->strings_len = tree_le32(h + TREE_H_STRINGS_LEN);
	if (t->n == 0 || t->n > TREE_MAX_ENTRIES)
		return BAD(err, "%u entries", t->n);
	want = TREE_HEADER_SIZE + (uint64_t)t->n * TREE_REC_SIZE +
	       (uint64_t)t->n_xattrs * TREE_XATTR_REC_SIZE + t->strings_len;
	if (want != t->len)
		return BAD(err, "%zu bytes where the header describes %llu", t->len,
		           (unsigned long long)want);
	t->recs = t->buf + TREE_HEADER_SIZE;
	t->xattrs = t->recs + (size_t)t->n * TREE_REC_SIZE;
	t->strings = (const char *)(t->xattrs + (size_t)t->n_xattrs * TREE_XATTR_REC_SIZE);
	return 0;
}

static void
tree_free(struct tree *t)
{
	if (t->release)
		t->release((void *)t->buf, t->len);
	free(t->nlink);
	free(t);
}

/* On failure buf is left to the caller: release is not called. */
static int
parse(const void *buf, size_t len, tree_release_fn release, const struct digest *id,
      struct tree **ret, struct kl_error **err)
{
	struct tree *t = xcalloc(1, sizeof(*t));
	int r;

	atomic_init(&t->refs, 1);
	t->buf = buf;
	t->len = len;
	r = parse_header(t, err);
	if (r >= 0) {
		t->nlink = calloc(t->n, sizeof(*t->nlink));
		r = t->nlink ? check_entries(t, err) : kl_error_set(err, ENOMEM, "loading tree");
	}
	if (r < 0) {
		tree_free(t);
		return r;
	}
	if (id)
		t->id = *id;
	else
		digest_buffer(buf, len, &t->id);
	t->release = release;
	*ret = t;
	return 0;
}

int
tree_parse(const void *buf, size_t len, tree_release_fn free_fn, struct tree **ret,
           struct kl_error **err)
{
	return parse(buf, len, free_fn, /* id= */ NULL, ret, err);
}

static void
unmap(void *buf, size_t len)
{
	(void)munmap(buf, len);
}

/* Maps the blob and checks that the mapped bytes hash to its name: the bytes verified are the
 * bytes parsed, and the page cache is shared instead of copied into a private buffer. */
static int
map_verified(struct store *s, const struct digest *id, const char *name, void **ret,
             size_t *ret_len, struct kl_error **err)
{
	_cleanup_close_ int fd = -1;
	char got_s[DIGEST_STRING_SIZE];
	struct digest got;
	struct stat st;
	void *map;

	fd = store_open_blob(s, id, err);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return kl_error_set(err, errno, "reading tree %s in '%s'", name, store_root(s));
	if ((uint64_t)st.st_size < TREE_HEADER_SIZE || (uint64_t)st.st_size > SIZE_MAX)
		return BAD(err, "%lld bytes", (long long)st.st_size);
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	if (map == MAP_FAILED)
		return kl_error_set(err, errno, "mapping tree %s in '%s'", name, store_root(s));
	if (!store_blob_trusted(s, id, &st)) {
		digest_buffer(map, (size_t)st.st_size, &got);
		if (!digest_equal(&got, id)) {
			unmap(map, (size_t)st.st_size);
			return kl_error_setf(err, EBADMSG,
			                     "blob %s in '%s' is corrupt: its bytes hash to %s",
			                     name, store_root(s), digest_to_string(&got, got_s));
		}
		store_blob_trust(s, id, &st);
	}
	*ret = map;
	*ret_len = (size_t)st.st_size;
	return 0;
}

int
tree_load(struct store *s, const struct digest *id, struct tree **ret, struct kl_error **err)
{
	char name[DIGEST_STRING_SIZE];
	void *map = NULL;
	size_t len = 0;
	int r;

	digest_to_string(id, name);
	r = map_verified(s, id, name, &map, &len, err);
	if (r == -ENOENT)
		return r; /* an answer, not an error: err untouched */
	if (r >= 0) {
		r = parse(map, len, unmap, id, ret, err);
		if (r < 0)
			unmap(map, len);
	}
	if (r < 0)
		kl_error_prefix(err, "loading tree %s", name);
	return r;
}

struct tree *
tree_ref(struct tree *t)
{
	if (t)
		atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
	return t;
}

struct tree *
tree_unref(struct tree *t)
{
	if (t && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
		tree_free(t);
	return NULL;
}

/* The read API: indices are trusted (assert), everything else was checked at parse time. */

const struct digest *
tree_id(const struct tree *t)
{
	return &t->id;
}

uint32_t
tree_count(const struct tree *t)
{
	return t->n;
}

void
tree_entry_at(const struct tree *t, uint32_t idx, struct tree_entry *ret)
{
	const uint8_t *r;
	const char *s;

	assert(idx < t->n);
	r = tree_rec(t, idx);
	s = t->strings + tree_le32(r + TREE_R_STR_OFF);
	ret->index = idx;
	ret->path = s;
	ret->path_len = tree_le16(r + TREE_R_PATH_LEN);
	ret->name_len = tree_le16(r + TREE_R_NAME_LEN);
	ret->name = s + ret->path_len - ret->name_len;
	s += ret->path_len + 1;
	ret->type = (enum tree_entry_type)r[TREE_R_TYPE];
	ret->flags = r[TREE_R_FLAGS];
	ret->mode = tree_le16(r + TREE_R_MODE);
	ret->uid = tree_le32(r + TREE_R_UID);
	ret->gid = tree_le32(r + TREE_R_GID);
	ret->mtime_sec = (int64_t)tree_le64(r + TREE_R_MTIME_SEC);
	ret->mtime_nsec = tree_le32(r + TREE_R_MTIME_NSEC);
	ret->size = tree_le64(r + TREE_R_SIZE);
	ret->rdev = tree_le64(r + TREE_R_RDEV);
	ret->link_len = tree_le16(r + TREE_R_LINK_LEN);
	ret->link = ret->link_len ? s : NULL;
	if (ret->link_len)
		s += ret->link_len + 1;
	memcpy(ret->digest.bytes, r + TREE_R_DIGEST, DIGEST_SIZE);
	ret->locator_len = tree_le16(r + TREE_R_LOCATOR_LEN);
	ret->locator = ret->locator_len ? s : NULL;
	ret->n_xattrs = tree_le16(r + TREE_R_N_XATTRS);
	ret->xattr_first = tree_le32(r + TREE_R_XATTR_FIRST);
}

void
tree_entry_xattr(const struct tree *t, const struct tree_entry *e, uint32_t i,
                 struct tree_xattr *ret)
{
	const uint8_t *x;

	assert(i < e->n_xattrs && (uint64_t)e->xattr_first + i < t->n_xattrs);
	x = t->xattrs + ((size_t)e->xattr_first + i) * TREE_XATTR_REC_SIZE;
	ret->name = t->strings + tree_le32(x + TREE_X_NAME_OFF);
	ret->name_len = tree_le16(x + TREE_X_NAME_LEN);
	ret->value = t->strings + tree_le32(x + TREE_X_VALUE_OFF);
	ret->value_len = tree_le32(x + TREE_X_VALUE_LEN);
}

/* Binary search of [lo, hi) for the entry whose path, past its first skip bytes (a common
 * "dir/" prefix of the range), equals key. */
static int
search_range(const struct tree *t, uint32_t lo, uint32_t hi, size_t skip, const char *key,
             size_t key_len, uint32_t *ret_idx)
{
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		size_t mlen;
		const char *m = rec_path(t, mid, &mlen);
		int c;

		/* Random lookups miss the cache at every step: fetch both possible next records
		 * while this one's path is compared. */
		__builtin_prefetch(tree_rec(t, lo + (mid - lo) / 2));
		__builtin_prefetch(tree_rec(t, mid + 1 + (hi - mid - 1) / 2));
		c = tree_path_compare(m + skip, mlen - skip, key, key_len);
		if (c == 0) {
			*ret_idx = mid;
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -ENOENT;
}

int
tree_lookup(const struct tree *t, const char *path, size_t len, uint32_t *ret_idx)
{
	return search_range(t, 0, t->n, 0, path, len, ret_idx);
}

int
tree_lookup_child(const struct tree *t, uint32_t dir, const char *name, size_t name_len,
                  uint32_t *ret_idx)
{
	size_t skip;

	assert(dir < t->n);
	/* A '/' in name would let it match a deeper entry's tail. */
	if (rec_type(t, dir) != TREE_DIR || name_len == 0 || memchr(name, '/', name_len))
		return -ENOENT;
	/* Everything in the subtree starts with "dir/": compare only what follows it. */
	skip = dir == TREE_ROOT ? 0 : rec_u16(t, dir, TREE_R_PATH_LEN) + 1u;
	return search_range(t, dir + 1, rec_u32(t, dir, TREE_R_SUBTREE_END), skip, name, name_len,
	                    ret_idx);
}

uint32_t
tree_first_child(const struct tree *t, uint32_t dir)
{
	assert(dir < t->n);
	/* Children follow their directory directly: the first entry of a subtree is a child. */
	return dir + 1 < rec_u32(t, dir, TREE_R_SUBTREE_END) ? dir + 1 : TREE_NONE;
}

uint32_t
tree_next_sibling(const struct tree *t, uint32_t idx)
{
	uint32_t end, parent;

	assert(idx < t->n);
	if (idx == TREE_ROOT)
		return TREE_NONE;
	end = rec_u32(t, idx, TREE_R_SUBTREE_END);
	parent = rec_u32(t, idx, TREE_R_PARENT);
	return end < rec_u32(t, parent, TREE_R_SUBTREE_END) ? end : TREE_NONE;
}

uint32_t
tree_parent(const struct tree *t, uint32_t idx)
{
	assert(idx < t->n);
	return rec_u32(t, idx, TREE_R_PARENT);
}

uint32_t
tree_resolve_hardlink(const struct tree *t, uint32_t idx)
{
	assert(idx < t->n);
	return rec_u32(t, idx, TREE_R_LINK_TARGET);
}

uint32_t
tree_nlink(const struct tree *t, uint32_t idx)
{
	assert(idx < t->n);
	return t->nlink[idx];
}

uint32_t
tree_subtree_end(const struct tree *t, uint32_t idx)
{
	assert(idx < t->n);
	return rec_u32(t, idx, TREE_R_SUBTREE_END);
}

size_t
tree_trust_save(struct store *s, const struct tree *t)
{
	_cleanup_free_ struct digest *blobs = xcalloc(tree_count(t), sizeof(*blobs));
	size_t n = 0, saved;
	char hex[DIGEST_HEX_LEN + 1];
	struct tree_entry e;

	for (uint32_t i = 0; i < tree_count(t); i++) {
		tree_entry_at(t, i, &e);
		if (e.type != TREE_REG || !(e.flags & TREE_ENTRY_HAS_DIGEST) ||
		    e.size >= STORE_RECORD_MIN_SIZE)
			continue;
		blobs[n++] = e.digest;
	}
	saved = store_trust_set_save(s, tree_id(t), blobs, n);
	kl_debug("tree sha256:%.12s: a trust set of %zu of its %zu small files",
	         digest_to_hex(tree_id(t), hex), saved, n);
	return saved;
}

size_t
tree_trust_save_serialized(struct store *s, const void *buf, size_t len)
{
	_cleanup_(tree_unrefp) struct tree *t = NULL;

	if (tree_parse(buf, len, /* free_fn= */ NULL, &t, /* err= */ NULL) < 0)
		return 0;
	return tree_trust_save(s, t);
}
