/* tree-internal — the serialized tree format, shared by the parser (tree.c), the builder
 * (tree-builder.c) and the diff code (tree-diff.c).
 *
 * A serialized tree is four sections back to back, every integer little-endian:
 *
 *   header   32 bytes
 *     0  u8[8] magic "KILNTREE"
 *     8  u32   version (1)
 *    12  u32   reserved, 0
 *    16  u32   n_entries (>= 1: entry 0 is the root directory "")
 *    20  u32   n_xattrs (all entries together)
 *    24  u32   strings_len (bytes in the string table)
 *    28  u32   reserved, 0
 *   entries  n_entries fixed-size records of TREE_REC_SIZE (104) bytes, sorted strictly by
 *            tree_path_compare(); a directory's subtree follows it directly
 *     0  u32   str_off       start of this entry's strings in the string table
 *     4  u16   path_len
 *     6  u16   link_len      symlink target or hardlink target path; 0 for other types
 *     8  u16   locator_len   0: no locator (regular files only)
 *    10  u8    type          enum tree_entry_type
 *    11  u8    flags         enum tree_entry_flags: OPAQUE and IMPLICIT on dirs only,
 *                            HAS_DIGEST on regular files only, no other bit
 *    12  u16   mode          07777 at most
 *    14  u16   n_xattrs
 *    16  u32   xattr_first   xattrs of all earlier entries, counted
 *    20  u32   uid
 *    24  u32   gid
 *    28  u32   mtime_nsec    < 1e9
 *    32  i64   mtime_sec
 *    40  u64   size
 *    48  u64   rdev
 *    56  u32   parent        index of the parent directory; TREE_NONE for the root
 *    60  u32   subtree_end   one past the last index of the subtree; index + 1 for non-dirs
 *    64  u32   link_target   a hardlink's target index; the entry's own index otherwise
 *    68  u16   name_len      the last component: path + path_len - name_len
 *    70  u16   reserved, 0
 *    72  u8[32] digest       all zero without TREE_ENTRY_HAS_DIGEST
 *   xattrs   n_xattrs records of TREE_XATTR_REC_SIZE (16) bytes, each entry's sorted by name
 *     0  u32   name_off      in the string table
 *     4  u32   value_off
 *     8  u32   value_len     TREE_MAX_XATTR_VALUE at most
 *    12  u16   name_len      1..255
 *    14  u16   reserved, 0
 *   strings  strings_len bytes: for each entry in order, its path, link, locator (those that
 *            are present), then each xattr's name and value, every one followed by a NUL
 *
 * Both record sizes are multiples of 8 and the header is 32 bytes, so every record is 8-byte
 * aligned relative to the start of the blob. The format is canonical: every offset must equal
 * the running position (strings and xattrs are laid out in entry order, without gaps or
 * sharing), reserved fields and unused digests are zero and the derived indices (parent,
 * subtree_end, link_target, name_len) must be exactly right, so one set of entries has exactly
 * one serialization and therefore one id. The parser checks all of it. */
#pragma once
#include <endian.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fs/tree.h"

#define TREE_MAGIC "KILNTREE"
#define TREE_FORMAT_VERSION 1u

#define TREE_HEADER_SIZE 32u
#define TREE_H_MAGIC 0
#define TREE_H_VERSION 8
#define TREE_H_RESERVED0 12
#define TREE_H_N_ENTRIES 16
#define TREE_H_N_XATTRS 20
#define TREE_H_STRINGS_LEN 24
#define TREE_H_RESERVED1 28

#define TREE_REC_SIZE 104u
#define TREE_R_STR_OFF 0
#define TREE_R_PATH_LEN 4
#define TREE_R_LINK_LEN 6
#define TREE_R_LOCATOR_LEN 8
#define TREE_R_TYPE 10
#define TREE_R_FLAGS 11
#define TREE_R_MODE 12
#define TREE_R_N_XATTRS 14
#define TREE_R_XATTR_FIRST 16
#define TREE_R_UID 20
#define TREE_R_GID 24
#define TREE_R_MTIME_NSEC 28
#define TREE_R_MTIME_SEC 32
#define TREE_R_SIZE 40
#define TREE_R_RDEV 48
#define TREE_R_PARENT 56
#define TREE_R_SUBTREE_END 60
#define TREE_R_LINK_TARGET 64
#define TREE_R_NAME_LEN 68
#define TREE_R_RESERVED 70
#define TREE_R_DIGEST 72

#define TREE_XATTR_REC_SIZE 16u
#define TREE_X_NAME_OFF 0
#define TREE_X_VALUE_OFF 4
#define TREE_X_VALUE_LEN 8
#define TREE_X_NAME_LEN 12
#define TREE_X_RESERVED 14

/* Limits the 16-bit record fields impose beyond those of tree.h. */
#define TREE_MAX_LINK 65535u
#define TREE_MAX_LOCATOR 65535u
#define TREE_MAX_XATTRS 65535u /* per entry */
#define TREE_MAX_XATTR_NAME 255u
#define TREE_MAX_STRINGS UINT32_MAX

#define TREE_MODE_MASK 07777u
#define TREE_KNOWN_FLAGS                                                                           \
	((uint32_t)(TREE_ENTRY_OPAQUE | TREE_ENTRY_HAS_DIGEST | TREE_ENTRY_IMPLICIT))

struct tree {
	atomic_uint refs;
	const uint8_t *buf;
	size_t len;
	tree_release_fn release;
	const uint8_t *recs;   /* n records */
	const uint8_t *xattrs; /* n_xattrs records */
	const char *strings;   /* strings_len bytes */
	uint32_t n;
	uint32_t n_xattrs;
	uint32_t strings_len;
	uint32_t *nlink; /* per entry, computed at parse time */
	struct digest id;
};

/* Little-endian loads and stores that need no alignment (fuzzers hand us odd addresses). */
static inline uint16_t
tree_le16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static inline uint32_t
tree_le32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t
tree_le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static inline void
tree_put16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

static inline void
tree_put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void
tree_put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

static inline const uint8_t *
tree_rec(const struct tree *t, uint32_t idx)
{
	return t->recs + (size_t)idx * TREE_REC_SIZE;
}

/* The path of entry idx, without decoding the rest of it. */
static inline const char *
tree_path_at(const struct tree *t, uint32_t idx, size_t *ret_len)
{
	*ret_len = tree_le16(tree_rec(t, idx) + TREE_R_PATH_LEN);
	return t->strings + tree_le32(tree_rec(t, idx) + TREE_R_STR_OFF);
}

/* A fast hash of a path for the builder's and the layer collector's tables (not stored). */
static inline uint64_t
tree_hash_bytes(const char *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	w = 0;
	if (n)
		memcpy(&w, p, n);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 29);
}

/* The checks tree_builder_add() makes of an entry and its xattrs, shared with the writer. */
int tree_entry_check(const struct tree_entry *e, const struct tree_xattr *xattrs, size_t n_xattrs,
                     struct kl_error **err);

/* Adds view e (possibly altered by the caller: path, type, flags…) with the xattrs that
 * e->xattr_first and e->n_xattrs name in t. For tree-diff.c, which rewrites entries. The entry
 * is not checked again (only for a duplicate path): the caller keeps it valid. */
int tree_builder_add_view(struct tree_builder *b, const struct tree *t, const struct tree_entry *e,
                          struct kl_error **err);
