// SPDX-License-Identifier: Apache-2.0
/* What the image commands share: an image of kiln's index by name, its export, and
 * --metadata-file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "exporters/export.h"
#include "fs/provider.h"
#include "sources/imgstore.h"
#include "sources/source.h"
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

int
cli_export_set(struct cli *c, const char *cmd, struct export_options *o, const char *key,
               const char *value, struct kl_error **err)
{
	struct kl_error *e = NULL;
	int r = export_options_set(o, key, value, &e);

	if (r < 0) {
		r = cli_usage_error(c, err, cmd, "%s", e->msg);
		kl_error_free(e);
	}
	return r;
}

int
cli_image_export(struct cli *c, const char *cmd, const char *name, struct export_options *o,
                 struct source_options *so, const char *metadata, struct export_result *res,
                 struct kl_error **err)
{
	_cleanup_(provider_set_freep) struct provider_set *ps = NULL;
	struct imgstore_image im = {0};
	struct store *s;
	int r;

	r = cli_image_load(c, name, &im, err);
	if (r >= 0)
		r = cli_store(c, &s, err);
	if (r < 0) {
		imgstore_image_done(&im);
		return r;
	}
	so->auth_file = c->auth_file;
	o->auth_file = c->auth_file;
	ps = provider_set_new_default(s, /* local_root= */ NULL);
	source_add_providers(ps, s, so);
	r = export_run(s, ps, &im, o, res, err);
	if (r < 0)
		kl_error_prefix(err, "%s", cmd);
	if (r >= 0 && metadata)
		r = cli_write_metadata(metadata, res, err);
	imgstore_image_done(&im);
	return r;
}
