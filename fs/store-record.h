/* store-record — a module's small records under <root>/<dir>/<hex of key>: written whole (a
 * temporary file "<hex>.tmp.<pid>" renamed over the record, never synced), read whole.
 * Thread-safe as the filesystem is: a reader sees a record before or after a write, never half. */
#pragma once
#include <stddef.h>

struct digest;
struct kl_error;
struct store;

/* The path of dir's record for key (dir relative to the root, such as "imgsrc/layers"); a new
 * string. */
char *store_record_path(struct store *s, const char *dir, const struct digest *key);
/* The whole record, NUL-terminated, as a new string of *ret_len bytes; -ENOENT when it is
 * absent, unreadable or longer than max bytes (a record is only a cache). */
int store_record_read(struct store *s, const char *dir, const struct digest *key, size_t max,
                      char **ret, size_t *ret_len);
/* Replaces the record with the n bytes of text (making dir); errors name the path. */
int store_record_write(struct store *s, const char *dir, const struct digest *key, const void *text,
                       size_t n, struct kl_error **err);
