// SPDX-License-Identifier: Apache-2.0
/* type=docker: a Docker archive at dest, or without dest loaded into the Docker daemon. */
#include <errno.h>
#include <unistd.h>

#include "exporters/export-internal.h"
#include "util/cleanup.h"
#include "util/error.h"

int
export_output_docker(struct export_ctx *c, struct kl_error **err)
{
	_cleanup_close_ int fd = -1;
	int r;

	if (c->o->dest)
		return export_write_dest(c, EXPORT_ARCHIVE_DOCKER, err);
	fd = export_archive_tmpfile(c, EXPORT_ARCHIVE_DOCKER, err);
	if (fd < 0)
		return fd;
	r = export_dockerd_load(c->o->docker_host, fd, err);
	if (r < 0)
		kl_error_prefix(err, "loading into the Docker daemon");
	return r;
}
