/* ctxsrc-fingerprint — what a context scan saw, as one digest over every entry it put in the
 * tree (path and stat: type, mode, owner, size, times, inode, device, link count), kept per
 * context directory and scan options in <root>/ctxsrc/scans/ with the tree it gave. A rescan
 * that walks the same entries with the same stats gives the same tree, so an unchanged context
 * is recognized by a stat walk alone: no stat cache, no tree built, hashed or written.
 *
 * A scan in which some entry changed in the tick the scan began keeps no fingerprint (the
 * entry may change again unseen by its stat, as for the stat cache). One object per scan. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "fs/digest.h"

struct ctxsrc_fingerprint;
struct kl_error;
struct store;

struct ctxsrc_fingerprint *ctxsrc_fingerprint_new(void);
struct ctxsrc_fingerprint *ctxsrc_fingerprint_free(struct ctxsrc_fingerprint *f);
/* Starts over (a new walk). */
void ctxsrc_fingerprint_reset(struct ctxsrc_fingerprint *f);
/* Adds one entry, in walk order. */
void ctxsrc_fingerprint_add(struct ctxsrc_fingerprint *f, const char *path, size_t len,
                            const struct stat *st);
/* The digest of what was added. */
void ctxsrc_fingerprint_final(struct ctxsrc_fingerprint *f, struct digest *ret);

/* The record of key (a digest of the directory and the options): 0 with the fingerprint and
 * the tree, -ENOENT when there is none or it is unreadable. */
int ctxsrc_fingerprint_load(struct store *s, const struct digest *key, struct digest *ret_fp,
                            struct digest *ret_tree);
/* Replaces the record of key; a failure only costs the next scan its shortcut. */
void ctxsrc_fingerprint_save(struct store *s, const struct digest *key, const struct digest *fp,
                             const struct digest *tree);
