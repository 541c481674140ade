/* tree-import — scanning a directory on disk into a tree, and writing a tree back out.
 *
 * Import walks the directory without following symlinks and records every entry the tree
 * format knows (sockets are skipped). Content is either ingested into the store now
 * (TREE_IMPORT_INGEST: entries carry their sha256) or only located (TREE_IMPORT_LOCATE:
 * entries carry a "local:" locator with the file's path and the stat it had, read later by the
 * local provider; no file content is read at scan time). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "fs/digest.h"

struct kl_error;
struct store;
struct tree;

enum tree_import_mode { TREE_IMPORT_INGEST, TREE_IMPORT_LOCATE, _TREE_IMPORT_MAX };

struct tree_import_options {
	enum tree_import_mode mode;
};

/* Scans dir into a tree written to the store; the id goes to ret. Errors name the path. */
int tree_import_dir(struct store *s, const char *dir, const struct tree_import_options *opts,
                    struct digest *ret, struct kl_error **err);

/* Writes tree t under dir (created if missing, else must be empty): files, links, devices,
 * fifos, ownership, modes, xattrs and mtimes, hardlinks as links. Content comes from the store
 * (verified); entries with only a locator fail with -ENOTSUP unless fetched first. */
int tree_export_dir(struct store *s, const struct tree *t, const char *dir, struct kl_error **err);

/* A directory's entry names but "." and "..", sorted bytewise, so a walk that visits them in
 * this order visits paths in tree order (hardlink leaders are then the smallest path), and,
 * with ret_types, each one's dirent d_type (DT_UNKNOWN where the filesystem does not say). The
 * caller frees each name and both arrays; -errno on failure. */
int tree_import_read_names(int dir_fd, char ***ret, unsigned char **ret_types, size_t *ret_n);

/* The "local:" locator of a scanned file: the absolute path and the stat fields that must
 * still match when the file is read later. */
struct tree_local_locator {
	uint64_t dev, ino, size;
	int64_t mtime_sec, ctime_sec;
	uint32_t mtime_nsec, ctime_nsec;
	const char *path; /* points into the parsed locator text */
	size_t path_len;
};
/* Formats a locator for path with st into a new string ("local:<fields>:<path>"). */
char *tree_local_locator_format(const char *path, const struct stat *st);
/* Parses a locator made by tree_local_locator_format; -EINVAL when malformed. */
int tree_local_locator_parse(const char *loc, size_t len, struct tree_local_locator *ret);
/* True when st still describes the same, unchanged file. */
bool tree_local_locator_matches(const struct tree_local_locator *l, const struct stat *st);
