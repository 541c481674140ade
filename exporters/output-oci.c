// SPDX-License-Identifier: Apache-2.0
/* type=oci: an OCI image layout as a tar (a file or stdout) or as a directory (tar=false). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exporters/export-internal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/xalloc.h"

int
export_write_dest(struct export_ctx *c, enum export_archive_kind kind, struct kl_error **err)
{
	const char *dest = c->o->dest;
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	if (!strcmp(dest, "-"))
		return export_archive_write(
		    c, kind, c->o->stdout_fd > 0 ? c->o->stdout_fd : STDOUT_FILENO, err);
	/* A file named for the final one until it is complete: no partial archive is left. */
	tmp = xasprintf("%s.kiln-tmp.%d", dest, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return kl_error_set(err, errno, "creating '%s'", tmp);
	r = export_archive_write(c, kind, fd, err);
	if (r >= 0 && fsync(fd) < 0)
		r = kl_error_set(err, errno, "writing '%s'", dest);
	if (r >= 0 && rename(tmp, dest) < 0)
		r = kl_error_set(err, errno, "renaming '%s' to '%s'", tmp, dest);
	if (r < 0)
		(void)unlink(tmp);
	return r;
}

int
export_output_oci(struct export_ctx *c, struct kl_error **err)
{
	if (!c->o->tar)
		return export_layout_write(c, c->o->dest, err);
	return export_write_dest(c, EXPORT_ARCHIVE_OCI, err);
}
