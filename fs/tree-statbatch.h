/* tree-statbatch — fstatat() of many names in one directory, spread over a few helper threads.
 * On a warm cache a context rescan is little else than one stat per file, each a couple of
 * microseconds of kernel path walk, so it scales with the cores that do them.
 * One batch runs at a time: a statbatch is used by one thread (its helpers aside). */
#pragma once
#include <stddef.h>
#include <sys/stat.h>

#include "util/cleanup.h"

struct tree_statbatch;

/* Starts up to max_helpers threads (fewer on fewer cores, none on one); never fails, as a
 * batch without helpers runs in the caller. */
struct tree_statbatch *tree_statbatch_new(unsigned max_helpers);
/* Stops and joins the helpers. NULL-safe. */
struct tree_statbatch *tree_statbatch_free(struct tree_statbatch *b);
KL_DEFINE_CLEANUP(struct tree_statbatch *, tree_statbatch_free)

/* For each i < n: fstatat(dir_fd, names[i], &ret_st[i], AT_SYMLINK_NOFOLLOW), with ret_errno[i]
 * set to 0 or the call's errno. Returns once all are done. */
void tree_statbatch_run(struct tree_statbatch *b, int dir_fd, char *const *names, size_t n,
                        struct stat *ret_st, int *ret_errno);
