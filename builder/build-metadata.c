// SPDX-License-Identifier: Apache-2.0
/* The --metadata-file and --iidfile of a build or a solve. */
#include "builder/build-metadata.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/build.h"
#include "exporters/export.h"
#include "sources/imgstore.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/io.h"
#include "util/strbuf.h"
#include "util/xalloc.h"

static int
write_file(const char *path, const char *text, struct kl_error **err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int r;

	if (fd < 0)
		return kl_error_set(err, errno, "creating '%s'", path);
	r = kl_io_write_all(fd, text, strlen(text));
	if (r < 0)
		return kl_error_set(err, -r, "writing '%s'", path);
	return 0;
}

int
build_iidfile_write(const char *path, const struct digest *id, struct kl_error **err)
{
	char s[DIGEST_STRING_SIZE];

	return write_file(path, digest_to_string(id, s), err);
}

static void
set_names(json_t *m, const char *const *tags, size_t n)
{
	struct kl_strbuf names = {0};

	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *norm = NULL;

		if (imgstore_normalize(tags[i], &norm, NULL) < 0)
			norm = xstrdup(tags[i]);
		kl_strbuf_printf(&names, "%s%s", i ? "," : "", norm);
	}
	json_object_set_new(m, "image.name", json_string(names.buf));
	kl_strbuf_done(&names);
}

int
build_metadata_write(const char *path, const struct build_metadata *md, struct kl_error **err)
{
	char id[DIGEST_STRING_SIZE];
	json_t *m = NULL, *stages;
	char *text;
	int r;

	if (md->export) {
		_cleanup_free_ char *em = export_result_metadata(md->export);

		m = json_loads(em, 0, NULL);
	}
	if (!m)
		m = json_object();
	if (md->image_id && !md->export) {
		json_object_set_new(m, "containerimage.config.digest",
		                    json_string(digest_to_string(md->image_id, id)));
		json_object_set_new(m, "containerimage.digest",
		                    json_string(digest_to_string(md->image_id, id)));
	}
	if (md->n_tags)
		set_names(m, md->tags, md->n_tags);
	json_object_set_new(m, "kiln.tree", json_string(digest_to_string(&md->tree, id)));
	json_object_set_new(m, "kiln.layers_made", json_integer((json_int_t)md->layers_made));
	json_object_set_new(m, "kiln.layers_reused", json_integer((json_int_t)md->layers_reused));
	if (md->stages) {
		stages = json_object();
		for (size_t i = 0; i < md->n_stages; i++)
			if (md->stages[i].built)
				json_object_set_new(
				    stages, md->stages[i].name,
				    json_string(digest_to_string(&md->stages[i].tree, id)));
		json_object_set_new(m, "kiln.stages", stages);
	}
	text = json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(m);
	if (!text)
		abort();
	r = write_file(path, text, err);
	free(text);
	return r;
}
