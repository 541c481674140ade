/* mountpoint — the mount table, and taking mounts away, without libfuse.
 *
 * Reads /proc/self/mountinfo (proc(5)) with its octal escapes undone, tells a dead mount (a FUSE
 * mount whose server exited, or an overlay stacked on one) from a live one, and unmounts:
 * umount2(2), falling back to fusermount3(1) where an unprivileged user unmounts the FUSE mount
 * they own. kiln mount/umount use it, and so does a build that mounts a lazy filesystem and
 * overlays of its own, and cleans up the mounts a crashed build left.
 *
 * Paths are compared byte for byte with the mount points the kernel reports, which are
 * canonical: pass realpath()s. Thread-safe: no state; the mount table may change between any
 * two calls, so a table is a snapshot. */
#pragma once
#include <stddef.h>

#include "util/cleanup.h"

struct kl_error;
struct mountpoint_table;

/* The type lazyfs mounts have in the mount table (lazyfs_mount: subtype=kiln). */
#define MOUNTPOINT_FSTYPE_LAZYFS "fuse.kiln"
/* Bytes a mount table may hold before mountpoint_table_load() refuses it. */
#define MOUNTPOINT_MAX_TABLE (64u << 20)

/* One line of a mount table; the strings point into the line (or the table) they came from. */
struct mountpoint_entry {
	unsigned id, parent_id;        /* mount ids; a mount's parent is the one it sits on */
	unsigned dev_major, dev_minor; /* st_dev of files in the mount */
	const char *root;              /* the directory of the filesystem shown here ("/" mostly) */
	const char *path;              /* the mount point */
	const char *options;           /* per-mount options: "ro,nosuid,relatime" */
	const char *fstype;            /* "fuse.kiln", "overlay", "ext4" */
	const char *source;            /* "kiln", "/dev/sda1", "none" */
	/* Per-filesystem options as the kernel wrote them: values may keep escapes (\054 for a
	 * ',' in an overlay's lowerdir); read them with mountpoint_entry_option(). */
	const char *super_options;
};

/* Parses one mountinfo line (its final '\n' optional) in place: fields are cut and unescaped
 * (\040 space, \011 tab, \012 newline, \134 backslash, any \ooo) inside line, and ret's strings
 * point into it. -EINVAL with a message saying what is wrong for a malformed line (too few
 * fields, a bad number, no " - " separator, an escape that decodes to NUL). */
int mountpoint_parse_line(char *line, struct mountpoint_entry *ret, struct kl_error **err);

/* Reads a mount table in the format of /proc/self/mountinfo; path NULL reads that one (the
 * calling process's mount namespace). A malformed line fails with -EINVAL naming path:line.
 * Returns a new table; free it with mountpoint_table_free(). */
int mountpoint_table_load(const char *path, struct mountpoint_table **ret, struct kl_error **err);
/* NULL-safe; returns NULL. */
struct mountpoint_table *mountpoint_table_free(struct mountpoint_table *t);
KL_DEFINE_CLEANUP(struct mountpoint_table *, mountpoint_table_free)
/* The number of mounts, and mount i of them, in table order: a mount comes after the one it
 * is mounted on, so the last of several mounts at one path is the visible one. Entries are
 * lent: valid until t is freed. */
size_t mountpoint_table_count(const struct mountpoint_table *t);
const struct mountpoint_entry *mountpoint_table_entry(const struct mountpoint_table *t, size_t i);
/* The topmost (visible) mount at path, or NULL when nothing is mounted there. Lent. */
const struct mountpoint_entry *mountpoint_table_find(const struct mountpoint_table *t,
                                                     const char *path);

/* The value of option key among e->super_options, unescaped, as a new string; "" for a flag
 * given without '=', NULL when e does not have it. */
char *mountpoint_entry_option(const struct mountpoint_entry *e, const char *key);
/* The directories an overlay mount (fstype "overlay") is made of: its lowerdirs, topmost first,
 * then its upperdir when it has one, with overlayfs's own escapes ("\:", "\,") undone. Returns
 * their number (0 for any other filesystem) and a NULL-terminated array in *ret that is one
 * allocation: free(*ret) frees the strings too. */
int mountpoint_overlay_dirs(const struct mountpoint_entry *e, char ***ret);

/* 1 when a mount of type fstype (NULL: of any type) is the topmost one at path, 0 when not,
 * -errno (err set) when the mount table cannot be read. */
int mountpoint_is_mounted(const char *path, const char *fstype, struct kl_error **err);
/* Whether the mount at path is dead: a FUSE mount whose server exited (every request fails
 * with ENOTCONN; statfs tells, since it always reaches the server where stat may be answered
 * from the kernel's cache), or an overlay whose lower or upper directory is such a mount.
 * Returns 1 when dead, 0 when alive, when nothing is mounted there or path does not exist. */
int mountpoint_is_stale(const char *path);
/* Detaches a dead mount at path (see mountpoint_is_stale), as mountpoint_unmount() with
 * MOUNTPOINT_DETACH. Returns 1 when one was removed, 0 when nothing dead is mounted there,
 * -errno (err names path) when it could not be removed. */
int mountpoint_clear_stale(const char *path, struct kl_error **err);

enum mountpoint_unmount_flags {
	/* MNT_DETACH: gone from the namespace at once; users that still hold files in it keep
	 * them until they let go. Without it, a mount in use fails with -EBUSY. */
	MOUNTPOINT_DETACH = 1 << 0,
};
/* Unmounts the topmost mount at path. Where umount2(2) is not permitted (an unprivileged user)
 * it runs fusermount3 -u, which unmounts a FUSE mount of that user; what fusermount3 said goes
 * into the message. -EINVAL when nothing is mounted at path, -EBUSY when in use (without
 * MOUNTPOINT_DETACH), -EPERM when neither way was allowed. */
int mountpoint_unmount(const char *path, enum mountpoint_unmount_flags flags,
                       struct kl_error **err);
