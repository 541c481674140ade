/* tar-entry — what a tar header read by libarchive says of a tree entry: the one reading of
 * headers for every tar kiln takes in (image layers, archives that ADD and --unpack extract).
 * Names, hardlink targets and file data stay with the callers, whose rules differ. */
#pragma once
#include <stddef.h>

struct archive_entry;
struct tree_entry;
struct tree_xattr;

/* Fills e's mode (permission bits), owner, mtime (a sub-second part out of range dropped),
 * device numbers, and its type unless ae is a hardlink (left to the caller); a symlink's
 * target points into ae. -EPROTONOSUPPORT for a type a tree cannot hold (sockets, unknown). */
int oci_tar_entry(struct archive_entry *ae, struct tree_entry *e);

/* ae's xattrs, each name once (pax archives may carry one under both LIBARCHIVE.xattr. and
 * SCHILY.xattr.), names and values pointing into ae; *ret (caller frees) NULL when none.
 * -E2BIG past max names, -EMSGSIZE for a value over TREE_MAX_XATTR_VALUE. */
int oci_tar_xattrs(struct archive_entry *ae, size_t max, struct tree_xattr **ret, size_t *ret_n);
