/* path — joining, creating, removing and checking slash-separated paths. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

/* "a" + "b" → "a/b"; an empty side yields the other; returns a new string. */
char *kl_path_join(const char *a, const char *b);
/* Creates dir and its missing parents with mode; existing dirs are fine. 0 or -errno. */
int kl_path_mkdir_p(const char *dir, unsigned mode);
/* Removes dir_fd/name and, for a directory, everything below it (symlinks are removed, not
 * followed). 0, also when name does not exist; else the first -errno, after removing what it
 * could. */
int kl_path_rm_rf_at(int dir_fd, const char *name);
/* Asks the filesystem to place dir_fd's new subdirectories, and so the files made in them, in
 * groups of their own, as it places top-level directories (ext4's TOPDIR flag; other
 * filesystems lack it and nothing changes). For directories each process or build makes anew:
 * ext4 without a journal never reuses an inode freed in the last 1–5 minutes and scans past
 * each one on every create, so files made next to thousands just removed cost ~0.5 ms each. */
void kl_path_spread_subdirs(int dir_fd);
/* True when p[0..len) is a non-empty relative path of non-empty components, none "." or "..",
 * with no trailing slash and no NUL byte. */
bool kl_path_is_clean_relative(const char *p, size_t len);
