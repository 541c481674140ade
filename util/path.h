/* path — joining and checking slash-separated paths. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

/* "a" + "b" → "a/b"; an empty side yields the other; returns a new string. */
char *kl_path_join(const char *a, const char *b);
/* Creates dir and its missing parents with mode; existing dirs are fine. */
int kl_path_mkdir_p(const char *dir, unsigned mode);
/* Removes a tree of files and directories under dir_fd/name (not following symlinks). */
int kl_path_rm_rf_at(int dir_fd, const char *name);
/* True when p is relative, non-empty-component and has no "." or ".." component. */
bool kl_path_is_clean_relative(const char *p, size_t len);
