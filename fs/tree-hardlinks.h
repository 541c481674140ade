/* tree-hardlinks — during a directory walk in tree order, the first path seen of each inode,
 * which becomes the TREE_REG every later path of that inode links to. Not thread-safe. */
#pragma once
#include <stddef.h>
#include <sys/stat.h>

struct tree_hardlinks;

struct tree_hardlinks *tree_hardlinks_new(void);
struct tree_hardlinks *tree_hardlinks_free(struct tree_hardlinks *h);
/* The leader path of st's inode when one was recorded (owned by h); otherwise records
 * path[0..len) as the leader and returns NULL. */
const char *tree_hardlinks_leader(struct tree_hardlinks *h, const struct stat *st, const char *path,
                                  size_t len);
