// SPDX-License-Identifier: Apache-2.0
/* Small records of the image source under <root>/imgsrc/: layer and image trees, blob origins. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/store.h"
#include "sources/imgsrc-internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/path.h"
#include "util/xalloc.h"

#define RECORD_MAX 4096u

static char *
record_path(struct store *s, const char *kind, const struct digest *key)
{
	char hex[DIGEST_HEX_LEN + 1];

	return xasprintf("%s/imgsrc/%s/%s", store_root(s), kind, digest_to_hex(key, hex));
}

int
imgsrc_record_read(struct store *s, const char *kind, const struct digest *key, char **ret)
{
	_cleanup_free_ char *p = record_path(s, kind, key);
	_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
	size_t len;

	if (fd < 0 || kl_io_read_all(fd, RECORD_MAX, ret, &len) < 0)
		return -ENOENT;
	return 0;
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
	_cleanup_free_ char *dir = xasprintf("%s/imgsrc/%s", store_root(s), kind);
	_cleanup_free_ char *p = record_path(s, kind, key);
	_cleanup_free_ char *tmp = xasprintf("%s.tmp.%d", p, (int)getpid());
	_cleanup_close_ int fd = -1;
	int r;

	r = kl_path_mkdir_p(dir, 0755);
	if (r < 0)
		return kl_error_set(err, -r, "creating '%s'", dir);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return kl_error_set(err, errno, "creating '%s'", tmp);
	r = kl_io_write_all(fd, value, strlen(value));
	if (r >= 0 && rename(tmp, p) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlink(tmp);
		return kl_error_set(err, -r, "writing '%s'", p);
	}
	return 0;
}
