// SPDX-License-Identifier: Apache-2.0
/* Small records of the image source under <root>/imgsrc/: layer and image trees, blob origins. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/store-record.h"
#include "fs/store.h"
#include "sources/imgsrc-internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

#define RECORD_MAX 4096u

int
imgsrc_record_read(struct store *s, const char *kind, const struct digest *key, char **ret)
{
	_cleanup_free_ char *dir = xasprintf("imgsrc/%s", kind);
	size_t len;

	return store_record_read(s, dir, key, RECORD_MAX, ret, &len);
}

int
imgsrc_record_get(struct store *s, const char *kind, const struct digest *key, struct digest *ret)
{
	_cleanup_free_ char *text = NULL;
	size_t n;

	if (imgsrc_record_read(s, kind, key, &text) < 0)
		return -ENOENT;
	n = strcspn(text, "\n");
	if (digest_parse(text, n, ret, NULL) < 0)
		return -ENOENT;
	/* A record is only as good as the tree it names. */
	return store_has_blob(s, ret) > 0 ? 0 : -ENOENT;
}

int
imgsrc_record_put(struct store *s, const char *kind, const struct digest *key, const char *value,
                  struct kl_error **err)
{
	_cleanup_free_ char *dir = xasprintf("imgsrc/%s", kind);

	return store_record_write(s, dir, key, value, strlen(value), err);
}
