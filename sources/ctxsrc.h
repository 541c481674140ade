/* ctxsrc — a local build context as a tree: .dockerignore applied, symlinks kept as links, and a
 * persistent stat cache in the store so a rescan hashes only the files that changed. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/digest.h"

struct kl_error;
struct store;
struct tree;

/* What a scan did, for callers that report it and for tests. */
struct ctxsrc_stats {
	uint64_t entries;      /* entries in the tree, the root included */
	uint64_t files;        /* regular files (hardlinks to them aside) */
	uint64_t hashed_files; /* files whose content was read: stat cache misses */
	uint64_t hashed_bytes;
	uint64_t cached_files; /* files whose digest came from the stat cache (or, unchanged, from
	                        * the last scan's tree) */
	bool unchanged;   /* the walk saw what the last scan saw: its tree was taken as it is */
	uint64_t scan_ns; /* the scan's wall-clock time, stat cache and tree write included */
};

struct ctxsrc_options {
	const char *ignore_file;        /* NULL: <dir>/.dockerignore when present */
	const char *const *followpaths; /* NULL: the whole directory; else only these paths */
	size_t n_followpaths;
	/* .dockerignore-syntax patterns read as if they were the ignore file's last lines */
	const char *const *exclude_patterns;
	size_t n_exclude_patterns;
	/* when set, only paths matching one of these (or below a match) are included, with their
	 * parent directories; .dockerignore syntax */
	const char *const *include_patterns;
	size_t n_include_patterns;
	bool locate_only;           /* record "local:" locators without hashing (kiln mount DIR) */
	struct ctxsrc_stats *stats; /* out, optional: filled when the scan succeeds */
	/* out, optional: the tree itself (a new reference), so a caller need not load it again */
	struct tree **ret_tree;
};

/* Scans dir into a tree whose regular files carry their sha256 (unless locate_only) and a
 * "local:" locator (the bytes stay in the directory until read); writes the tree to the store
 * and its id to ret. A rescan whose walk sees every entry with the stat the last scan of dir
 * with these options saw takes that scan's tree without building one (ctxsrc-fingerprint.h).
 *
 * Entries excluded by the ignore file (and exclude_patterns) or not matched by include_patterns
 * are absent; an excluded directory is still walked when an
 * exception may include something below it, and parent directories of included entries are
 * kept. Followpaths ("a/b", "/a/b", "./a/b" alike) select those paths with their subtrees and
 * their parent directories, and the targets of symlinks among them; absent ones are skipped.
 * Symlinks are recorded as links, never followed; hardlinks as links to their first path;
 * sockets are skipped; xattrs are recorded (hardlinks share their leader's), as BuildKit sends
 * them with a context. Hashing reuses the stat cache of the store
 * (ctxsrc-statcache.h) and reads the misses over io_uring, many files at a time.
 *
 * Errors name the file: the ignore file with its line ("exclude patterns:N" and "include
 * patterns:N" for the options'), or the entry's path in the context. */
int ctxsrc_scan(struct store *s, const char *dir, const struct ctxsrc_options *opts,
                struct digest *ret, struct kl_error **err);
