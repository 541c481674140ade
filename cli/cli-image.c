// SPDX-License-Identifier: Apache-2.0
/* What the image commands share: an image of kiln's index by name, and --metadata-file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "exporters/export.h"
#include "sources/imgstore.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/xalloc.h"

int
cli_image_load(struct cli *c, const char *name, struct imgstore_image *ret, struct kl_error **err)
{
	struct digest record;
	struct store *s;
	int r;

	r = cli_store(c, &s, err);
	if (r < 0)
		return r;
	r = imgstore_lookup(s, name, &record, err);
	if (r == -ENOENT && !(err && *err))
		return kl_error_setf(
		    err, ENOENT,
		    "no image '%s' in kiln's index (kiln pull or kiln build -t make "
		    "one)",
		    name);
	if (r >= 0)
		r = imgstore_get(s, &record, ret, err);
	if (r < 0)
		kl_error_prefix(err, "image '%s'", name);
	return r;
}

int
cli_write_metadata(const char *path, const struct export_result *res, struct kl_error **err)
{
	_cleanup_free_ char *text = export_result_metadata(res);
	_cleanup_free_ char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int r;

	if (fd < 0)
		return kl_error_set(err, errno, "creating '%s'", tmp);
	r = kl_io_write_all(fd, text, strlen(text));
	if (r >= 0)
		r = kl_io_write_all(fd, "\n", 1);
	if (r >= 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlink(tmp);
		return kl_error_set(err, -r, "writing the metadata file '%s'", path);
	}
	return 0;
}
