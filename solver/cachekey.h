/* cachekey — the cache key of a vertex: the sha256 of its op's definition (its canonical form
 * without proxy_env), its inputs' keys, and for ops whose result depends on content the
 * identity of exactly that content — never mtimes, inode numbers, locators or where a context
 * lives, so a fresh clone of the same sources anywhere gets the same keys.
 *
 *   source local    the definition and the content key of the scanned tree (every entry's path,
 *                   type, mode, owner, link target, rdev, content digest and xattrs)
 *   source git      the definition and the commit id
 *   source image    the definition and the manifest digest
 *   source http     the definition (its checksum) and, without a checksum, the content digest
 *   source scratch  the definition
 *   file            the definition, the base input's key, and for each copy from a local
 *                   source the selection key of what it copies (fileop_selection_key), in
 *                   place of the source's key: files the copy does not select never matter;
 *                   copies from other inputs take the input's key
 *   exec, merge, diff  the definition and the inputs' keys (secret values and cache-mount
 *                   contents are never part of a definition)
 *
 * docs/graph.md documents the same. Pure functions; thread-safe. */
#pragma once
#include <stddef.h>

#include "fs/digest.h"

struct graph;
struct kl_error;
struct tree;

#define CACHEKEY_VERSION 1

/* A memory of keys that depend on a tree alone (the content key of a context, the selection
 * of one copy), so they are not computed from the tree again: get returns 0 with ret when it
 * knows the key of (tree, what), put is told each key computed. */
struct cachekey_memo {
	int (*get)(void *userdata, const struct digest *tree, const struct digest *what,
	           struct digest *ret);
	void (*put)(void *userdata, const struct digest *tree, const struct digest *what,
	            const struct digest *key);
	void *userdata;
};

/* What the keys of earlier vertices and the resolved sources are, for one graph. */
struct cachekey_ctx {
	const struct graph *g;
	const struct digest *keys; /* per vertex: its key, set for every input of the vertex */
	/* per vertex: the scanned tree of a local source (NULL for other vertices) */
	const struct tree *const *local_trees;
	const struct cachekey_memo *memo; /* may be NULL */
};

/* The key of vertex idx. content is what a source resolved to: "<40 hex>" for git, the
 * manifest's "sha256:…" for an image, the content's "sha256:…" for http without a checksum;
 * NULL otherwise. -EINVAL (err set) when a source's content is missing; fileop_selection_key's
 * errors (a copy selecting nothing, -ENOENT) are passed on. */
int cachekey_vertex(const struct cachekey_ctx *c, uint32_t idx, const char *content,
                    struct digest *ret, struct kl_error **err);

/* The content key of a whole tree: every entry's path, type, mode, owner, link target, rdev,
 * content digest and xattrs, in tree order; -EINVAL (err set) for a regular file without a
 * digest. */
int cachekey_tree_content(const struct tree *t, struct digest *ret, struct kl_error **err);
